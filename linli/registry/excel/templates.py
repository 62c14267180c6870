"""Workbooks written with openpyxl: the import templates, error files and exports.

Templates carry the data sheet (its header row is what the importer checks), an instructions
sheet (meaning, required, allowed values, an example for every column) and a sheet of examples
with synthetic but valid values. Every data column is formatted as text, so an 18-digit ID number
typed into it is not rounded by Excel.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from linli.registry.excel.columns import (
    ERROR_HEADER,
    EXAMPLES_SHEET,
    INSTRUCTIONS_SHEET,
    SHEETS,
    Column,
    Sheet,
    label_of,
)

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQUIRED_FONT = Font(bold=True, color="C00000")
_BOLD = Font(bold=True)
_ERROR_FILL = PatternFill("solid", fgColor="FDE9E7")
# Enough rows for a community's register; data validation ranges are only advisory.
_VALIDATION_ROWS = 20000


def _choice_labels(column: Column) -> list[str]:
    if column.kind == "bool":
        return ["是", "否"]
    if not column.choices:
        return []
    return [
        label for label, value in column.choices.items() if label_of(column.choices, value) == label
    ]


def _data_sheet(workbook: Workbook, sheet: Sheet) -> None:
    worksheet = workbook.active
    worksheet.title = sheet.name
    for index, column in enumerate(sheet.columns, start=1):
        cell = worksheet.cell(row=1, column=index, value=column.header)
        cell.fill = _HEADER_FILL
        cell.font = _REQUIRED_FONT if column.required else _BOLD
        note = ("必填。" if column.required else "选填。") + (column.help or "")
        allowed = column.allowed()
        if allowed:
            note += f" 可选值：{allowed}"
        cell.comment = Comment(note, "邻里")
        letter = get_column_letter(index)
        worksheet.column_dimensions[letter].width = max(12, len(column.header) * 2 + 4)
        if column.kind in {"text", "id_number", "mobile", "credit_code", "plate", "choice"}:
            worksheet.column_dimensions[letter].number_format = "@"
        labels = _choice_labels(column)
        if labels and len(",".join(labels)) < 250:
            validation = DataValidation(
                type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True
            )
            validation.error = "请从下拉列表中选择"
            validation.showErrorMessage = False  # accepted spellings beyond the list still import
            worksheet.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{_VALIDATION_ROWS}")
    worksheet.freeze_panes = "A2"


def _instructions(workbook: Workbook, sheet: Sheet) -> None:
    worksheet = workbook.create_sheet(INSTRUCTIONS_SHEET)
    worksheet.append([f"{sheet.name}导入模板填写说明"])
    worksheet["A1"].font = Font(bold=True, size=14)
    for note in (
        f"在“{sheet.name}”工作表中从第 2 行起每行填写一条记录，不要修改第 1 行表头。",
        *sheet.notes,
        "导入后被拒绝的行会写入错误文件（多一列“错误原因”），改正后可直接重新导入该文件。",
        "同一文件重复导入不会产生重复记录：没有变化的记录保持不变。",
    ):
        worksheet.append([note])
    worksheet.append([])
    header_row = worksheet.max_row + 1
    worksheet.append(["列名", "是否必填", "说明", "可选值 / 格式", "示例"])
    for cell in worksheet[header_row]:
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
    for column in sheet.columns:
        worksheet.append(
            [
                column.header,
                "必填" if column.required else "选填",
                column.help,
                column.allowed(),
                column.example,
            ]
        )
    for letter, width in zip("ABCDE", (16, 10, 60, 40, 24), strict=True):
        worksheet.column_dimensions[letter].width = width
    for row in worksheet.iter_rows(min_row=header_row):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _examples(workbook: Workbook, sheet: Sheet) -> None:
    worksheet = workbook.create_sheet(EXAMPLES_SHEET)
    worksheet.append(sheet.headers)
    for cell in worksheet[1]:
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
    for example in sheet.examples:
        worksheet.append(list(example))
    for index in range(1, len(sheet.columns) + 1):
        worksheet.column_dimensions[get_column_letter(index)].width = 14


def template_workbook(kind: str) -> bytes:
    """The import template of ``kind`` as .xlsx bytes (a few kilobytes)."""
    sheet = SHEETS[kind]
    workbook = Workbook()
    _data_sheet(workbook, sheet)
    _instructions(workbook, sheet)
    _examples(workbook, sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_filename(kind: str) -> str:
    return f"{SHEETS[kind].name}导入模板.xlsx"


def write_rows(
    path: Path | IO[bytes],
    sheet_name: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    highlight_last: bool = False,
) -> int:
    """Stream rows into a write-only workbook at ``path``; returns the number of rows written.

    Write-only mode keeps memory flat for exports of a whole county's register.
    """
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet_name)
    for index in range(1, len(headers) + 1):
        worksheet.column_dimensions[get_column_letter(index)].width = 16
    worksheet.freeze_panes = "A2"
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(worksheet, value=header)
        cell.font = _BOLD
        cell.fill = _ERROR_FILL if highlight_last and header == ERROR_HEADER else _HEADER_FILL
        header_cells.append(cell)
    worksheet.append(header_cells)
    count = 0
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(worksheet, value=value)
            # Text cells stay text when the file is opened and saved again (ID numbers).
            if isinstance(value, str):
                cell.number_format = "@"
            cells.append(cell)
        worksheet.append(cells)
        count += 1
    workbook.save(str(path) if isinstance(path, Path) else path)
    return count
