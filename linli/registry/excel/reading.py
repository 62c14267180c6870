"""Reading an uploaded sheet: calamine first (fast, Rust), openpyxl read-only as the fallback.

Only the first row is taken as the header; header cells are matched after trimming spaces and a
trailing required-marker ``*``, so the template, its error file and an export all read back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from linli.core.errors import ServiceError
from linli.registry.excel.columns import ERROR_HEADER, Sheet

logger = logging.getLogger("linli.registry.import")

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}


def clean_header(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\u3000", " ").strip().rstrip("*＊").strip()


def looks_like_excel(name: str, head: bytes) -> bool:
    """The file's name and first bytes say Excel (a zip package or an OLE compound file)."""
    suffix = Path(name).suffix.lower()
    if suffix not in EXCEL_SUFFIXES:
        return False
    return head.startswith(XLSX_MAGIC) or head.startswith(XLS_MAGIC)


@dataclass
class SheetData:
    headers: list[str]
    # (Excel row number, values in the order of ``headers``)
    rows: Iterator[tuple[int, list[Any]]]
    total: int


def _rows_calamine(path: Path, sheet_name: str) -> tuple[list[list[Any]], str]:
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    try:
        names = workbook.sheet_names
        sheet = workbook.get_sheet_by_name(sheet_name if sheet_name in names else names[0])
        # skip_empty_area=False keeps Excel's row numbers: row 1 is the header even when the
        # sheet starts with blank rows or columns.
        return sheet.to_python(skip_empty_area=False), "calamine"
    finally:
        workbook.close()


def _rows_openpyxl(path: Path, sheet_name: str) -> tuple[list[list[Any]], str]:
    import openpyxl

    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        worksheet = (
            workbook[sheet_name] if sheet_name in workbook.sheetnames else workbook.worksheets[0]
        )
        return [list(row) for row in worksheet.iter_rows(values_only=True)], "openpyxl"
    finally:
        workbook.close()


def read_rows(path: Path, sheet_name: str) -> list[list[Any]]:
    """Every row of the sheet as lists of cell values; raises ServiceError for a non-Excel file."""
    try:
        return _rows_calamine(path, sheet_name)[0]
    except Exception:  # calamine refuses some files openpyxl reads (and vice versa)
        logger.info("calamine could not read %s; trying openpyxl", path.name)
    try:
        return _rows_openpyxl(path, sheet_name)[0]
    except Exception as exc:
        raise ServiceError(
            "import.not_excel",
            _("The file cannot be read as an Excel workbook; save it as .xlsx and try again."),
        ) from exc


EXPORT_ONLY_HEADERS = frozenset({"性别", "年龄", "标准地址", "地址编码"})


def check_headers(sheet: Sheet, headers: list[str]) -> None:
    """Refuse a sheet whose header row lacks required columns or has columns we do not know."""
    # Exports add read-only columns (derived gender and age, the standard address); an
    # exported sheet imports back as it is, those columns ignored.
    known = set(sheet.headers) | {ERROR_HEADER} | EXPORT_ONLY_HEADERS
    present = [header for header in headers if header]
    missing = [c.header for c in sheet.columns if c.required and c.header not in present]
    unknown = [header for header in present if header not in known]
    duplicated = sorted({header for header in present if present.count(header) > 1})
    problems = []
    if missing:
        problems.append(_("missing columns: %(names)s") % {"names": "、".join(missing)})
    if unknown:
        problems.append(_("unknown columns: %(names)s") % {"names": "、".join(unknown)})
    if duplicated:
        problems.append(_("repeated columns: %(names)s") % {"names": "、".join(duplicated)})
    if problems:
        raise ServiceError(
            "import.headers",
            _(
                "The first row of sheet “%(sheet)s” does not match the template (%(problems)s). "
                "Download the template and keep its header row."
            )
            # The parts are Chinese (缺少列：…), so they are joined with the Chinese semicolon.
            % {"sheet": sheet.name, "problems": "；".join(problems)},
        )


def open_sheet(path: Path, sheet: Sheet) -> SheetData:
    """Read and check the header row, then hand out the data rows with their row numbers."""
    rows = read_rows(path, sheet.name)
    if not rows:
        raise ServiceError("import.empty", _("The sheet is empty: it has no header row."))
    headers = [clean_header(value) for value in rows[0]]
    check_headers(sheet, headers)
    positions = {header: index for index, header in enumerate(headers) if header}
    order = [positions.get(column.header) for column in sheet.columns]
    body = rows[1:]

    data: list[tuple[int, list[Any]]] = []
    for offset, row in enumerate(body):
        values = [row[i] if i is not None and i < len(row) else None for i in order]
        if any(not _blank(value) for value in values):
            data.append((offset + 2, values))
    return SheetData(headers=sheet.headers, rows=iter(data), total=len(data))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
