"""The acceptance publication as Word and as a web page, from a stored publication and from
``linli assess --format docx|html``: the seeds' layout (title, opening, the six-column table with
merged 一级指标 cells, notice, contacts, closing), completion texts that are the figures', A4 and
Chinese fonts set for East Asian text."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from django.core.management import call_command
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm

from assessment.publication_fixtures import MAYISHAN, mayishan_results, stored_assessment
from linli.assessment import publication as services
from linli.assessment.publication_render import publication_docx, publication_html
from linli.registry.models import House

COLUMNS = ["一级指标", "序号", "二级指标", "指标释义", "标准要求", "本社区完成情况"]
CONTACT = (
    "联系单位：平阴县大数据中心\n联系人：王某\n联系电话：0531-87881234\n"
    "监督电话：0531-87885678\n地址：平阴县榆山街道府前街1号"
)


def _run(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    try:
        call_command("assess", *args, stdout=io.StringIO(), stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, err.getvalue()


def _category_groups(indicators: list[dict[str, Any]]) -> list[tuple[str, int]]:
    groups: list[tuple[str, int]] = []
    for indicator in indicators:
        if groups and groups[-1][0] == indicator["category"]:
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((indicator["category"], 1))
    return groups


def assert_docx_table(content: bytes, indicators: list[dict[str, Any]]) -> Any:
    """The Word file opens, and its table is the indicators' in the seeds' six columns."""
    document = Document(io.BytesIO(content))
    [table] = document.tables
    assert len(table.rows) == 1 + len(indicators)
    assert [cell.text for cell in table.rows[0].cells] == COLUMNS
    for row, indicator in zip(table.rows[1:], indicators, strict=True):
        cells = row.cells
        assert cells[1].text == str(indicator["number"])
        assert cells[2].text == indicator["name"]
        assert cells[4].text == indicator["requirement"]
        assert cells[5].text == indicator["completion_text"]
    # 一级指标: one merged cell per run of indicators of the same category.
    row_index = 1
    for category, span in _category_groups(indicators):
        first = table.cell(row_index, 0)
        assert first.text == category
        for offset in range(1, span):
            assert table.cell(row_index + offset, 0)._tc is first._tc
        if row_index + span <= len(indicators):
            assert table.cell(row_index + span, 0)._tc is not first._tc
        row_index += span
    merged = table._tbl.xpath(".//w:tc/w:tcPr/w:vMerge")
    restarts = [m for m in merged if m.get(qn("w:val")) == "restart"]
    assert len(restarts) == sum(1 for _c, span in _category_groups(indicators) if span > 1)
    return document


def _texts(document: Any) -> list[str]:
    return [paragraph.text for paragraph in document.paragraphs if paragraph.text]


@pytest.fixture
def issued_ready(personas: Any, tree: Any) -> Any:
    return services.draft_publication(
        personas.county_operator,
        stored_assessment(tree.community_a),
        "basic",
        notice_start=date(2024, 9, 26),
        notice_end=date(2024, 9, 30),
        contact=CONTACT,
    )


# ------------------------------------------------------------------ from a stored publication


def test_word_document_of_a_stored_publication(issued_ready: Any) -> None:
    content = publication_docx(services.document_for(issued_ready))
    indicators = mayishan_results()["basic"]["indicators"]
    document = assert_docx_table(content, indicators)

    texts = _texts(document)
    assert texts[0] == "智慧社区建设验收结果公示"
    assert texts[1].startswith("根据《关于加快推进智慧社区建设工作的实施意见》")
    assert "锦源社区已满足《山东省智慧社区建设指标》中“基础型智慧社区”的建设要求" in texts[1]
    assert texts[2] == "山东省智慧社区建设指标（基础型）"
    assert (
        "公示期5天（自9月26日始—9月30日止）。如有异议，请在公示期内向平阴县大数据中心反馈。"
        in texts
    )
    assert texts[-7:-2] == CONTACT.splitlines()
    assert texts[-2] == "平阴县大数据中心"
    # A4 portrait, the header row repeated on every page, page numbers, East Asian fonts.
    section = document.sections[0]
    assert (round(section.page_width / Cm(1), 1), round(section.page_height / Cm(1), 1)) == (
        21.0,
        29.7,
    )
    header_row = document.tables[0].rows[0]._tr
    assert header_row.xpath("./w:trPr/w:tblHeader")
    assert "PAGE" in "".join(section.footer._element.xpath(".//w:instrText/text()"))
    title_fonts = document.paragraphs[0].runs[0]._element.rPr.rFonts
    assert title_fonts.get(qn("w:eastAsia")) == "黑体"
    cell_run = document.tables[0].cell(1, 5).paragraphs[0].runs[0]._element
    assert cell_run.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
    normal = document.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "仿宋"
    # A draft says so in the page header; the issued publication does not.
    assert "草稿（未发布）" in section.header.paragraphs[0].text


def test_issued_word_document_has_no_draft_mark(personas: Any, issued_ready: Any) -> None:
    issued = services.issue_publication(personas.county_operator, issued_ready)
    document = Document(io.BytesIO(publication_docx(services.document_for(issued))))
    assert "草稿" not in "".join(p.text for p in document.sections[0].header.paragraphs)


def test_web_page_is_the_same_document(issued_ready: Any) -> None:
    page = lxml.html.fromstring(publication_html(services.document_for(issued_ready)))
    indicators = mayishan_results()["basic"]["indicators"]

    assert page.findtext(".//h1") == "智慧社区建设验收结果公示"
    assert page.findtext(".//h2") == "山东省智慧社区建设指标（基础型）"
    assert [th.text_content() for th in page.iterfind(".//thead//th")] == COLUMNS
    rows = page.findall(".//tbody/tr")
    assert len(rows) == len(indicators)
    assert [row.find("td[@class='completion']").text_content() for row in rows] == [
        indicator["completion_text"] for indicator in indicators
    ]
    spans = [
        (cell.text_content(), int(cell.get("rowspan")))
        for cell in page.iterfind(".//tbody//td[@class='category']")
    ]
    assert spans == _category_groups(indicators)
    notice = page.find(".//p[@class='text notice']").text_content()
    assert notice.startswith("公示期5天（自9月26日始—9月30日止）")
    assert [p.text_content() for p in page.iterfind(".//p[@class='line contact']")] == (
        CONTACT.splitlines()
    )
    assert page.find(".//*[@class='draft-note']").text_content() == "草稿（未发布）"


def test_operator_text_is_escaped_in_the_web_page(personas: Any, issued_ready: Any) -> None:
    edited = services.edit_publication(
        personas.county_operator, issued_ready, organiser="<script>alert(1)</script>"
    )
    html = publication_html(services.document_for(edited))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


# ------------------------------------------------------------------ linli assess --format


def test_cli_word_and_web_page_for_a_registered_community(
    register: Any, tree: Any, audit_protected: None, tmp_path: Path
) -> None:
    House.objects.filter(pk=register.house_a101.pk).update(has_gigabit=True, has_cable_tv=True)
    common = [tree.community_a.code, "--tier", "基础型", "--date", "2024-10-01"]
    assert _run(*common, "--format", "json", "--output", str(tmp_path / "r.json")) == (0, "")
    assert _run(*common, "--format", "docx", "--output", str(tmp_path / "r.docx")) == (0, "")
    assert _run(*common, "--format", "html", "--output", str(tmp_path / "r.html")) == (0, "")
    indicators = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["indicators"]

    document = assert_docx_table((tmp_path / "r.docx").read_bytes(), indicators)
    texts = _texts(document)
    # The register's few houses do not meet 基础型: a self-check document, 未达标 throughout.
    assert texts[0] == "智慧社区建设指标自评结果（未达标）"
    assert texts[1].startswith("本文件为指标自评材料，不作为验收结果公示：按自评数据，锦源社区")
    assert "平阴县大数据中心于2024年10月1日" in texts[2]
    assert "对榆山街道锦源社区开展“基础型智慧社区”指标自评" in texts[2]
    first = document.tables[0].cell(1, 5).text
    assert first.startswith("未达标。") and "1 户" in first

    page = lxml.html.fromstring((tmp_path / "r.html").read_text(encoding="utf-8"))
    cells = [td.text_content() for td in page.iterfind(".//td[@class='completion']")]
    assert cells == [indicator["completion_text"] for indicator in indicators]


def test_cli_with_a_figures_file_alone_names_the_community_from_it(tmp_path: Path) -> None:
    """马驿山社区 is not in the register: the opening takes its name from the figures file; its
    figures meet 基础型 (a publication) and not 标杆型 (a self-check document)."""
    basic, benchmark = tmp_path / "basic.docx", tmp_path / "benchmark.html"
    figures = ["--figures", str(MAYISHAN)]
    assert _run(*figures, "--tier", "基础型", "--format", "docx", "--output", str(basic)) == (0, "")
    assert _run(*figures, "--tier", "标杆型", "--format", "html", "--output", str(benchmark)) == (
        0,
        "",
    )

    document = assert_docx_table(basic.read_bytes(), mayishan_results()["basic"]["indicators"])
    texts = _texts(document)
    assert texts[0] == "智慧社区建设验收结果公示"
    assert "经马驿山社区申请，【组织单位】于2024年9月18日" in texts[1]
    assert "马驿山社区已满足《山东省智慧社区建设指标》中“基础型智慧社区”的建设要求" in texts[1]

    page = lxml.html.fromstring(benchmark.read_text(encoding="utf-8"))
    assert page.findtext(".//h1") == "智慧社区建设指标自评结果（未达标）"
    assert page.find(".//p[@class='self-check']").text_content() == (
        "本文件为指标自评材料，不作为验收结果公示：按自评数据，马驿山社区未达到“标杆型智慧社区”"
        "建设要求（1项未达标，8项待补充证明材料）。"
    )
    rows = page.findall(".//tbody/tr")
    assert len(rows) == 32
    books = rows[12]
    assert books.find("td[@class='name']").text_content() == "文体服务"
    assert books.get("data-verdict") == "not_met"
    assert books.find("td[@class='completion']").text_content().startswith("未达标。")
    assert page.find(".//p[@class='text notice']") is None


def test_cli_still_refuses_an_unknown_format(tmp_path: Path) -> None:
    code, err = _run("--figures", str(MAYISHAN), "--tier", "基础型", "--format", "pdf")
    assert code == 2 and "未知格式“pdf”" in err
