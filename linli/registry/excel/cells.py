"""Turning one cell into a checked value, with a Chinese reason when it cannot be used.

Reasons name the column and never repeat the rejected value: ID and phone numbers are personal
data, and reasons are written to error files, job messages and logs.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from linli.registry.excel.columns import ETHNICITIES, Column
from linli.utilities.validators import (
    CodeError,
    normalize_mobile,
    parse_credit_code,
    parse_id_number,
)

_PLATE_RE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领]"
    r"[A-HJ-NP-Z][A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]"
)
_TRUE = {"是", "有", "y", "yes", "true", "1", "√", "✓"}
_FALSE = {"否", "无", "n", "no", "false", "0", "×", "✗"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_SUFFIXES = ("号楼", "单元", "栋", "幢", "号", "室")


class CellError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def text_of(value: Any) -> str:
    """A cell as text: whole numbers lose Excel's ``.0``, dates become ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\u3000", " ").strip()


def number_key(value: str) -> str:
    """Building, unit and house numbers compared loosely: "1号楼" = "1栋" = "1", "1单元" = "1"."""
    key = value.strip().replace(" ", "")
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key.upper()


def name_key(value: str) -> str:
    return value.strip().replace(" ", "").replace("\u3000", "")


def _choice(column: Column, text: str) -> str:
    assert column.choices is not None
    if text in column.choices:
        return column.choices[text]
    if text in set(column.choices.values()):
        return text
    raise CellError(
        _("%(column)s must be one of: %(allowed)s")
        % {"column": column.header, "allowed": column.allowed()}
    )


def _date(column: Column, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = text_of(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(
        _("%(column)s is not a date; write it as 2024-03-01") % {"column": column.header}
    )


def parse_cell(column: Column, value: Any) -> Any:
    """The checked value of a cell, or None when it is empty; raises CellError."""
    if (
        column.kind == "id_number"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        # Excel keeps 15 significant digits: a number typed into a numeric cell is already wrong.
        raise CellError(
            _(
                "%(column)s was stored as a number and lost its last digits; "
                "format the column as text"
            )
            % {"column": column.header}
        )
    text = text_of(value)
    if not text:
        if column.required:
            raise CellError(_("%(column)s is required") % {"column": column.header})
        return None
    kind = column.kind
    if kind == "text":
        if len(text) > column.max_length:
            raise CellError(
                _("%(column)s is longer than %(max)s characters")
                % {"column": column.header, "max": column.max_length}
            )
        if column.key == "ethnicity":
            if not text.endswith("族") and text + "族" in ETHNICITIES:
                text += "族"
            if text not in ETHNICITIES:
                raise CellError(
                    _("%(column)s is not one of the 56 ethnic groups") % {"column": column.header}
                )
        return text
    if kind == "int":
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise CellError(
                _("%(column)s must be a whole number") % {"column": column.header}
            ) from exc
        if number != number.to_integral_value() or abs(number) > 300:
            raise CellError(_("%(column)s must be a whole number") % {"column": column.header})
        return int(number)
    if kind == "decimal":
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise CellError(_("%(column)s must be a number") % {"column": column.header}) from exc
        if not number.is_finite() or number < 0 or number >= Decimal("1000000"):
            raise CellError(_("%(column)s must be a number") % {"column": column.header})
        return number.quantize(Decimal("0.01"))
    if kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise CellError(_("%(column)s must be 是 or 否") % {"column": column.header})
    if kind == "date":
        return _date(column, value)
    if kind == "choice":
        return _choice(column, text)
    if kind == "id_number":
        try:
            return parse_id_number(text)
        except CodeError as exc:
            raise CellError(f"{column.header}：{exc.message}") from exc
    if kind == "mobile":
        try:
            return normalize_mobile(text)
        except CodeError as exc:
            raise CellError(f"{column.header}：{exc.message}") from exc
    if kind == "credit_code":
        try:
            return parse_credit_code(text).code
        except CodeError as exc:
            raise CellError(f"{column.header}：{exc.message}") from exc
    if kind == "plate":
        plate = text.upper().replace(" ", "").replace("·", "")
        if not _PLATE_RE.fullmatch(plate):
            raise CellError(_("%(column)s is not a valid plate number") % {"column": column.header})
        return plate
    raise AssertionError(kind)
