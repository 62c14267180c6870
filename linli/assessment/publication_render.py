"""The acceptance publication as Word (python-docx) and as a printable web page.

Both follow the real publications (shared/seeds): the title, the opening paragraph, the heading
"山东省智慧社区建设指标（X型）", the six-column table whose 一级指标 cells are merged over their
indicators, then the notice period, the contact lines and the closing (organiser and date).

Word: A4 portrait, 2 cm side margins, fixed column widths; Chinese fonts set for East Asian
text (``w:eastAsia``: 黑体 for the title and the table's header, 仿宋 for the text, 宋体 in the
table), the table's header row repeated on every page, page numbers "— 1 —" in the footer.
A draft carries "草稿（未发布）" in the page header; a tier not met carries its self-check notice
under the title. The web page is the same document, standalone, with print styles for A4.

Registers the ``docx`` and ``html`` formats of ``linli assess``: from a live result the document
gets the default texts of a new draft (see ``publication.default_texts``).
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from linli.assessment.engine import AssessmentResult
from linli.assessment.publication import PublicationDocument, compose, default_texts
from linli.assessment.render import renderer
from linli.regions.models import RegionNode

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LATIN = "Times New Roman"
TITLE_FONT = "黑体"
TEXT_FONT = "仿宋"
TABLE_FONT = "宋体"
# 一级指标, 序号, 二级指标, 指标释义, 标准要求, 本社区完成情况: 17 cm, the A4 width less margins.
COLUMN_WIDTHS_CM = (1.6, 1.0, 1.9, 4.3, 3.9, 4.3)
MUTED = RGBColor(0x59, 0x59, 0x59)
ALERT = RGBColor(0xC0, 0x00, 0x00)


def _fonts(run: Any, east_asia: str, size: float, *, bold: bool = False) -> None:
    run.font.name = LATIN
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asia)


def _paragraph(
    container: Any,
    text: str,
    *,
    font: str = TEXT_FONT,
    size: float = 14,
    bold: bool = False,
    align: Any = None,
    indent: bool = False,
    color: RGBColor | None = None,
    after: float = 6,
) -> Any:
    paragraph = container.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    fmt = paragraph.paragraph_format
    fmt.space_after = Pt(after)
    fmt.space_before = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(size * 2)  # two characters, as Chinese text is set
    run = paragraph.add_run(text)
    _fonts(run, font, size, bold=bold)
    if color is not None:
        run.font.color.rgb = color
    return paragraph


def _cell_text(cell: Any, text: str, *, bold: bool = False, center: bool = False) -> None:
    lines = text.splitlines() or [""]
    for index, line in enumerate(lines):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.paragraph_format.space_before = Pt(0)
        if center:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _fonts(paragraph.add_run(line), TITLE_FONT if bold else TABLE_FONT, 9, bold=bold)


def _repeat_as_header(row: Any) -> None:
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(marker)


def _shade(cell: Any, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def _page_number(paragraph: Any) -> None:
    """ "— n —" with a PAGE field (Word fills in the number)."""
    _fonts(paragraph.add_run("— "), TEXT_FONT, 10.5)
    parts: list[tuple[str, str]] = [
        ("fldChar", "begin"),
        ("instrText", " PAGE "),
        ("fldChar", "separate"),
        ("t", "1"),
        ("fldChar", "end"),
    ]
    for tag, value in parts:
        run = paragraph.add_run()
        _fonts(run, TEXT_FONT, 10.5)
        element = OxmlElement(f"w:{tag}")
        if tag == "fldChar":
            element.set(qn("w:fldCharType"), value)
        else:
            if tag == "instrText":
                element.set(qn("xml:space"), "preserve")
            element.text = value
        run._element.append(element)
    _fonts(paragraph.add_run(" —"), TEXT_FONT, 10.5)


def _table(document: Any, doc: PublicationDocument) -> Any:
    table = document.add_table(rows=1 + len(doc.rows), cols=len(COLUMN_WIDTHS_CM))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = [Cm(width) for width in COLUMN_WIDTHS_CM]
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    header = table.rows[0]
    _repeat_as_header(header)
    for cell, width, label in zip(header.cells, widths, doc.columns, strict=True):
        cell.width = width
        _shade(cell, "F2F2F2")  # before vAlign: the schema orders tcW, shd, vAlign
        cell.vertical_alignment = WD_ALIGN_VERTICAL.CENTER
        _cell_text(cell, label, bold=True, center=True)
    for row, item in zip(table.rows[1:], doc.rows, strict=True):
        cells = row.cells
        for cell, width in zip(cells, widths, strict=True):
            cell.width = width
        if item.category_span:
            _cell_text(cells[0], item.category, center=True)
        _cell_text(cells[1], str(item.number), center=True)
        _cell_text(cells[2], item.name)
        _cell_text(cells[3], item.definition)
        _cell_text(cells[4], item.requirement)
        _cell_text(cells[5], item.completion_text)
        for index in (0, 1, 2):
            cells[index].vertical_alignment = WD_ALIGN_VERTICAL.CENTER
    # Merge each 一级指标 over its indicators, as the seeds do (the cells below are empty, so
    # merging adds nothing to the text).
    for index, item in enumerate(doc.rows, start=1):
        if item.category_span > 1:
            merged = table.cell(index, 0).merge(table.cell(index + item.category_span - 1, 0))
            merged.vertical_alignment = WD_ALIGN_VERTICAL.CENTER
    return table


def publication_docx(doc: PublicationDocument) -> bytes:
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2.5), Cm(2.2)
    section.left_margin, section.right_margin = Cm(2), Cm(2)
    normal = document.styles["Normal"]
    normal.font.name = LATIN
    normal.font.size = Pt(14)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), TEXT_FONT)
    document.core_properties.title = doc.title
    document.core_properties.subject = doc.heading
    document.core_properties.author = doc.closing[0] if doc.closing else ""

    if doc.draft_note:
        header = section.header.paragraphs[0]
        header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        run = header.add_run(doc.draft_note)
        _fonts(run, TITLE_FONT, 10.5)
        run.font.color.rgb = MUTED
    _page_number(section.footer.paragraphs[0])
    section.footer.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER

    body = document
    # The default document starts with no paragraph; everything is added in order.
    _paragraph(body, doc.title, font=TITLE_FONT, size=22, align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    if doc.self_check_note:
        _paragraph(body, doc.self_check_note, size=12, bold=True, color=ALERT, after=8)
    for line in doc.opening.splitlines():
        if line.strip():
            _paragraph(body, line.strip(), indent=True)
    _paragraph(
        body,
        doc.heading,
        font=TITLE_FONT,
        size=15,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        after=6,
    )
    _table(body, doc)
    _paragraph(body, "", after=0)
    if doc.notice:
        _paragraph(body, doc.notice, indent=True)
    for line in doc.contact:
        _paragraph(body, line, indent=True, after=0)
    if doc.closing:
        _paragraph(body, "", after=0)
        for line in doc.closing:
            _paragraph(body, line, align=WD_ALIGN_PARAGRAPH.RIGHT, after=0)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def publication_html(doc: PublicationDocument) -> str:
    """The standalone printable page (also what the preview page embeds)."""
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string("assessment/publication_document.html", {"doc": doc})


# ------------------------------------------------------------------ linli assess --format


def document_from_result(result: AssessmentResult) -> PublicationDocument:
    """A live result as a new draft would show it: default texts; the community's name from the
    register, or from the figures file for a community not in it."""
    region = None
    if result.in_register and result.community_code:
        region = (
            RegionNode.objects.select_related("parent").filter(code=result.community_code).first()
        )
    with translation.override(settings.LANGUAGE_CODE):
        data = result.as_dict()
        texts = default_texts(data, region)
    return compose(data, texts, region=region)


@renderer("docx")
def render_docx(result: AssessmentResult) -> bytes:
    return publication_docx(document_from_result(result))


@renderer("html")
def render_html(result: AssessmentResult) -> str:
    return publication_html(document_from_result(result))
