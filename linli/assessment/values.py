"""Reading a reported figure in its metric's unit, and writing figures back as text.

The unit rule (docs/assessment.md): a percentage is written as a percentage — ``57.6`` or
``"57.6%"``. A bare number greater than 0 and at most 1 (``0.576``, ``1``) is refused as
ambiguous, because it looks like a ratio; ``"0.5%"`` (with the sign) is accepted as half a per
cent. Counts are whole, non-negative numbers (``4515``, ``"4,515"``, ``"4515户"`` with the
metric's own measure word). Areas are square kilometres (``0.21``, ``"0.21平方公里"``) or carry
their unit (``"210000平方米"``, ``"21公顷"``). Yes/no items are ``true``/``false`` or 是/否; a
claimed "达标" is not an answer. Numbers are exact (``Fraction``), never binary floats.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.utils.translation import gettext as _

from linli.assessment.choices import Unit
from linli.assessment.standard import Quantity

_PERCENT_SIGNS = ("%", "％")
_TRUE = {"true", "yes", "y", "是", "有", "已实现"}
_FALSE = {"false", "no", "n", "否", "无", "未实现"}
# Area units → factor to square kilometres.
_AREA_UNITS = {
    "平方公里": Fraction(1),
    "平方千米": Fraction(1),
    "km2": Fraction(1),
    "km²": Fraction(1),
    "平方米": Fraction(1, 1_000_000),
    "m2": Fraction(1, 1_000_000),
    "m²": Fraction(1, 1_000_000),
    "公顷": Fraction(1, 100),
    "ha": Fraction(1, 100),
}
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")

Value = Fraction | bool


class ValueProblem(ValueError):
    """A reported value that cannot be read in its metric's unit (message in Chinese)."""


def _describe(quantity: Quantity) -> str:
    return f"{quantity.label}（{quantity.name}）"


def _number(text: str, quantity: Quantity, raw: Any) -> Fraction:
    cleaned = text.replace(",", "").replace("，", "").strip()
    if not _NUMBER_RE.fullmatch(cleaned):
        raise ValueProblem(
            _("%(metric)s: %(value)s is not a number.")
            % {"metric": _describe(quantity), "value": _shown(raw)}
        )
    try:
        return Fraction(Decimal(cleaned))
    except (InvalidOperation, ValueError) as exc:
        raise ValueProblem(
            _("%(metric)s: %(value)s is not a number.")
            % {"metric": _describe(quantity), "value": _shown(raw)}
        ) from exc


def _shown(raw: Any) -> str:
    return f"“{raw}”" if isinstance(raw, str) else str(raw)


def _exact(raw: int | float | Decimal) -> Fraction:
    # str() first: 0.1 is the decimal the person wrote, not the binary float nearest to it.
    return Fraction(Decimal(str(raw)))


def parse_value(quantity: Quantity, raw: Any) -> Value:
    """The value of ``raw`` in ``quantity``'s unit, or ``ValueProblem`` saying what is wrong."""
    unit = quantity.unit
    if unit == Unit.BOOLEAN:
        return _parse_boolean(quantity, raw)
    if isinstance(raw, bool) or raw is None or not isinstance(raw, int | float | Decimal | str):
        raise ValueProblem(
            _("%(metric)s: expected a number, got %(value)s.")
            % {"metric": _describe(quantity), "value": _shown(raw)}
        )
    if unit == Unit.PERCENT:
        value = _parse_percent(quantity, raw)
    elif unit == Unit.COUNT:
        value = _parse_count(quantity, raw)
    else:
        value = _parse_area(quantity, raw)
    if value < 0:
        raise ValueProblem(
            _("%(metric)s: cannot be negative, got %(value)s.")
            % {"metric": _describe(quantity), "value": _shown(raw)}
        )
    return value


def _parse_boolean(quantity: Quantity, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE:
        return True
    if isinstance(raw, str) and raw.strip().lower() in _FALSE:
        return False
    raise ValueProblem(
        _("%(metric)s: answer true or false (是/否), got %(value)s.")
        % {"metric": _describe(quantity), "value": _shown(raw)}
    )


def _parse_percent(quantity: Quantity, raw: int | float | Decimal | str) -> Fraction:
    if isinstance(raw, str) and raw.strip().endswith(_PERCENT_SIGNS):
        value = _number(raw.strip()[:-1], quantity, raw)
    else:
        value = _number(raw, quantity, raw) if isinstance(raw, str) else _exact(raw)
        if 0 < value <= 1:
            raise ValueProblem(
                _(
                    "%(metric)s: %(value)s looks like a ratio, but this figure is a percentage: "
                    "write 57.6 or “57.6%%” for 57.6 %%, not 0.576 (a value up to 1 counts as "
                    "a percentage only when written with the %% sign)."
                )
                % {"metric": _describe(quantity), "value": _shown(raw)}
            )
    if value > 100:
        raise ValueProblem(
            _("%(metric)s: a percentage lies between 0 and 100, got %(value)s.")
            % {"metric": _describe(quantity), "value": _shown(raw)}
        )
    return value


def _parse_count(quantity: Quantity, raw: int | float | Decimal | str) -> Fraction:
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith(_PERCENT_SIGNS):
            raise ValueProblem(
                _(
                    "%(metric)s: this figure is a count (%(counter)s), not a percentage: "
                    "got %(value)s."
                )
                % {"metric": _describe(quantity), "counter": quantity.counter, "value": _shown(raw)}
            )
        if quantity.counter and text.endswith(quantity.counter):
            text = text[: -len(quantity.counter)]
        value = _number(text, quantity, raw)
    else:
        value = _exact(raw)
    if value.denominator != 1:
        raise ValueProblem(
            _("%(metric)s: a count is a whole number, got %(value)s.")
            % {"metric": _describe(quantity), "value": _shown(raw)}
        )
    return value


def _parse_area(quantity: Quantity, raw: int | float | Decimal | str) -> Fraction:
    if not isinstance(raw, str):
        return _exact(raw)
    text = raw.strip().replace(" ", "")
    if text.endswith(_PERCENT_SIGNS):
        raise ValueProblem(
            _("%(metric)s: this figure is an area, not a percentage: got %(value)s.")
            % {"metric": _describe(quantity), "value": _shown(raw)}
        )
    for suffix, factor in _AREA_UNITS.items():
        if text.lower().endswith(suffix):
            return _number(text[: -len(suffix)], quantity, raw) * factor
    if _NUMBER_RE.fullmatch(text.replace(",", "")):
        return _number(text, quantity, raw)
    raise ValueProblem(
        _(
            "%(metric)s: unknown area unit in %(value)s; write square kilometres (1.2 or "
            "“1.2平方公里”) or give the unit (“1200000平方米”, “120公顷”)."
        )
        % {"metric": _describe(quantity), "value": _shown(raw)}
    )


# ------------------------------------------------------------------ writing figures


def to_decimal(value: Fraction, places: int | None = None) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    if places is None:
        return exact
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def plain(value: Fraction, places: int = 6) -> str:
    """A number as people write it: 4515, 0.21, 98.49 — no trailing zeros."""
    text = format(to_decimal(value, places).normalize(), "f")
    return text


def percent_text(value: Fraction, against: Fraction | None = None, op: str = ">=") -> str:
    """A rate with one decimal ("98.5%", "100%"), more when one decimal would hide which side
    of the threshold it lies on (69.996 % is shown so, never as 70.0 %) or round it onto a
    whole number it is not (79.96 %, never "80%")."""
    for places in range(1, 7):
        shown = Fraction(to_decimal(value, places))
        # Never round onto a whole number the value is not: the standard's thresholds are whole
        # numbers, and 79.96 % written "80%" (next to a verdict of 未达标 against 80 %, or in a
        # publication read against another tier) would say what the figures do not.
        if shown.denominator == 1 and shown != value:
            continue
        if against is None or _side(shown, against, op) == _side(value, against, op):
            return plain(shown, places) + "%"
    return plain(value, 6) + "%"


def _side(value: Fraction, against: Fraction, op: str) -> bool:
    return {
        ">=": value >= against,
        ">": value > against,
        "<": value < against,
        "<=": value <= against,
    }[op]


def value_text(
    quantity: Quantity, value: Value, against: Fraction | None = None, op: str = ">="
) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if quantity.unit == Unit.PERCENT:
        return percent_text(value, against, op)
    if quantity.unit == Unit.AREA_KM2:
        return f"{plain(value)} {_('km²')}"
    return f"{plain(value)} {quantity.counter}".strip()


def threshold_text(quantity: Quantity, value: Fraction) -> str:
    if quantity.unit == Unit.PERCENT:
        return plain(value) + "%"
    return value_text(quantity, value)
