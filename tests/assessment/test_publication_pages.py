"""The acceptance publication's pages and API as an operator uses them: list in scope, draft
from a stored assessment, edit the text, preview, download, issue — with the refusals (issued →
409, bad period, unknown tier, another community's assessment → 404) leaving data whole."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from docx import Document

from assessment.publication_fixtures import make_publication, stored_assessment
from linli.assessment import publication as services
from linli.assessment.models import Publication, PublicationStatus
from linli.audit.models import AuditEntry

CONTACT = (
    "联系单位：平阴县大数据中心\n联系人：王某\n联系电话：0531-87881234\n"
    "监督电话：0531-87885678\n地址：平阴县榆山街道府前街1号"
)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _form(publication: Publication, **changes: Any) -> dict[str, Any]:
    values = {name: getattr(publication, name) for name in services.TEXT_FIELDS}
    values.update(changes)
    return {
        name: (value.isoformat() if isinstance(value, date) else value or "")
        for name, value in values.items()
    }


def _state(publication: Publication) -> dict[str, Any]:
    publication.refresh_from_db()
    return {name: getattr(publication, name) for name in (*services.TEXT_FIELDS, "status")}


@pytest.fixture
def draft(personas: Any, tree: Any) -> Publication:
    return services.draft_publication(
        personas.county_operator, stored_assessment(tree.community_a), "basic"
    )


@pytest.fixture
def complete(personas: Any, draft: Publication) -> Publication:
    return services.edit_publication(
        personas.county_operator,
        draft,
        notice_start=date(2024, 9, 26),
        notice_end=date(2024, 9, 30),
        contact=CONTACT,
    )


# ------------------------------------------------------------------ pages


def test_list_shows_the_publications_in_scope(
    personas: Any, tree: Any, login: Any, django_assert_max_num_queries: Any
) -> None:
    for index in range(4):
        make_publication(tree.community_a, f"锦源公示{index}")
    make_publication(tree.community_a, "锦源自评", tier="growth")
    make_publication(tree.community_b, "锦东公示")
    client = login(personas.community_worker_a)
    # 12 for the page and its list, one for the navigation's unread-notifications badge.
    with django_assert_max_num_queries(13):
        response = client.get(reverse("assessment:publication_list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "锦源公示3" in body and "锦源自评" in body and "锦东公示" not in body
    assert body.count("自评，未达标") == 1
    drafts = client.get(reverse("assessment:publication_list"), {"status": "issued"})
    assert "锦源公示3" not in drafts.content.decode()


def test_list_needs_the_permission(personas: Any, login: Any) -> None:
    assert login(personas.grid_worker).get(reverse("assessment:publication_list")).status_code == (
        403
    )


def test_create_page_drafts_from_a_stored_assessment(personas: Any, tree: Any, login: Any) -> None:
    assessment = stored_assessment(tree.community_a)
    client = login(personas.community_worker_a)
    page = client.get(reverse("assessment:publication_create"), {"assessment": assessment.pk})
    assert page.status_code == 200
    assert f'<option value="{assessment.pk}" selected>锦源社区，2024-09-18（已达到：基础型）' in (
        page.content.decode()
    )

    response = client.post(
        reverse("assessment:publication_create"), {"assessment": assessment.pk, "tier": "basic"}
    )
    [publication] = Publication.objects.all()
    assert response.status_code == 302
    assert response["Location"] == reverse("assessment:publication_edit", args=[publication.pk])
    assert publication.created_by == personas.community_worker_a


def test_create_page_refuses_an_unknown_tier(personas: Any, tree: Any, login: Any) -> None:
    assessment = stored_assessment(tree.community_a)
    response = login(personas.county_operator).post(
        reverse("assessment:publication_create"), {"assessment": assessment.pk, "tier": "金牌型"}
    )
    assert response.status_code == 400
    assert "未知类型“金牌型”，可选：基础型、成长型、标杆型。" in response.content.decode()
    assert Publication.objects.count() == 0


def test_create_page_answers_404_for_another_communitys_assessment(
    personas: Any, tree: Any, login: Any
) -> None:
    other = stored_assessment(tree.community_b)
    response = login(personas.community_worker_a).post(
        reverse("assessment:publication_create"), {"assessment": other.pk, "tier": "basic"}
    )
    assert response.status_code == 404
    assert Publication.objects.count() == 0


def test_preview_shows_the_document_and_the_self_check_mark(
    personas: Any, tree: Any, login: Any
) -> None:
    publication = services.draft_publication(
        personas.community_worker_a, stored_assessment(tree.community_a), "growth"
    )
    body = (
        login(personas.community_worker_a)
        .get(reverse("assessment:publication_detail", args=[publication.pk]))
        .content.decode()
    )
    assert "智慧社区建设指标自评结果（未达标）" in body
    assert "本文件为指标自评材料，不作为验收结果公示" in body
    assert "本社区完成情况" in body and "山东省智慧社区建设指标（成长型）" in body
    stored = reverse("assessment:stored", args=[publication.assessment_id]) + "?tier=growth"
    assert f'href="{stored}"' in body
    assert body.count("<tr data-verdict=") == 28
    # A community worker may edit but not issue; a self-check document offers no issue at all.
    assert reverse("assessment:publication_edit", args=[publication.pk]) in body
    assert reverse("assessment:publication_issue", args=[publication.pk]) not in body


def test_printable_page_and_word_download(personas: Any, draft: Publication, login: Any) -> None:
    client = login(personas.subdistrict_manager)
    page = client.get(reverse("assessment:publication_document", args=[draft.pk]))
    assert page.status_code == 200
    assert page.content.decode().startswith("<!DOCTYPE html>")
    assert "智慧社区建设验收结果公示" in page.content.decode()

    download = client.get(reverse("assessment:publication_docx", args=[draft.pk]))
    assert download.status_code == 200 and download["Content-Type"] == DOCX
    assert "attachment;" in download["Content-Disposition"]
    assert "filename*=UTF-8''%E9%94%A6%E6%BA%90" in download["Content-Disposition"]
    document = Document(io.BytesIO(download.content))
    assert len(document.tables[0].rows) == 23


def test_edit_page_saves_the_text(personas: Any, draft: Publication, login: Any) -> None:
    response = login(personas.community_worker_a).post(
        reverse("assessment:publication_edit", args=[draft.pk]),
        _form(
            draft, organiser="平阴县大数据局", notice_start="2024-09-26", notice_end="2024-09-30"
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("assessment:publication_detail", args=[draft.pk])
    state = _state(draft)
    assert state["organiser"] == "平阴县大数据局"
    assert (state["notice_start"], state["notice_end"]) == (date(2024, 9, 26), date(2024, 9, 30))


def test_edit_page_refuses_a_period_ending_before_it_starts(
    personas: Any, draft: Publication, login: Any
) -> None:
    before = _state(draft)
    response = login(personas.community_worker_a).post(
        reverse("assessment:publication_edit", args=[draft.pk]),
        _form(draft, title="新标题", notice_start="2024-09-30", notice_end="2024-09-26"),
    )
    assert response.status_code == 400
    assert "公示结束日期不能早于开始日期。" in response.content.decode()
    assert _state(draft) == before


def test_an_issued_publication_cannot_be_edited(
    personas: Any, complete: Publication, login: Any
) -> None:
    services.issue_publication(personas.county_operator, complete)
    frozen = _state(complete)
    client = login(personas.county_operator)
    url = reverse("assessment:publication_edit", args=[complete.pk])

    page = client.get(url)
    response = client.post(url, _form(complete, title="改标题"))

    for answer in (page, response):
        assert answer.status_code == 409
        assert "发布，不能再修改" in answer.content.decode()
    assert _state(complete) == frozen


def test_issue_page_asks_for_confirmation(personas: Any, complete: Publication, login: Any) -> None:
    client = login(personas.subdistrict_manager)
    url = reverse("assessment:publication_issue", args=[complete.pk])
    assert client.get(url).status_code == 200
    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 400
    assert _state(complete)["status"] == PublicationStatus.DRAFT

    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302
    assert _state(complete)["status"] == PublicationStatus.ISSUED
    detail = client.get(reverse("assessment:publication_detail", args=[complete.pk]))
    assert "已发布" in detail.content.decode()
    assert reverse("assessment:publication_edit", args=[complete.pk]) not in (
        detail.content.decode()
    )


def test_issue_page_lists_what_is_missing(personas: Any, draft: Publication, login: Any) -> None:
    client = login(personas.county_operator)
    url = reverse("assessment:publication_issue", args=[draft.pk])
    page = client.get(url).content.decode()
    assert "请设定公示期（开始和结束日期）。" in page
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 400
    assert "【联系人】" in response.content.decode()
    assert _state(draft)["status"] == PublicationStatus.DRAFT


def test_issuing_needs_the_permission(personas: Any, complete: Publication, login: Any) -> None:
    response = login(personas.community_worker_a).post(
        reverse("assessment:publication_issue", args=[complete.pk]), {"confirm": "on"}
    )
    assert response.status_code == 403
    assert _state(complete)["status"] == PublicationStatus.DRAFT


# ------------------------------------------------------------------ API


def test_api_drafts_edits_issues_and_downloads(personas: Any, tree: Any, api: Any) -> None:
    assessment = stored_assessment(tree.community_a)
    client = api(personas.county_operator)
    created = client.post(
        reverse("api:assessment-publication-list"),
        {"assessment": assessment.pk, "tier": "基础型", "contact": CONTACT},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["tier"] == "basic" and body["tier_name"] == "基础型" and body["tier_met"] is True
    assert body["status"] == "draft" and body["region"] == "370124001022"
    rows = body["document"]["rows"]
    assert len(rows) == 22 and rows[0]["completion_text"].startswith("达标。")
    url = reverse("api:assessment-publication-detail", args=[body["id"]])

    patched = client.patch(
        url, {"notice_start": "2024-09-26", "notice_end": "2024-09-30"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["notice_end"] == "2024-09-30"
    assert patched.json()["document"]["notice"].startswith("公示期5天")

    issue_url = reverse("api:assessment-publication-issue", args=[body["id"]])
    issued = client.post(issue_url)
    assert issued.status_code == 200 and issued.json()["status"] == "issued"

    download = client.get(reverse("api:assessment-publication-docx", args=[body["id"]]))
    assert download.status_code == 200 and download["Content-Type"] == DOCX
    assert len(Document(io.BytesIO(download.content)).tables[0].rows) == 23
    assert [
        e.action
        for e in AuditEntry.objects.filter(object_type="assessment.publication").order_by("seq")
    ] == [
        "create",
        "update",
        "update",
    ]


def test_api_refuses_editing_an_issued_publication(
    personas: Any, complete: Publication, api: Any
) -> None:
    services.issue_publication(personas.county_operator, complete)
    frozen = _state(complete)
    response = api(personas.county_operator).patch(
        reverse("api:assessment-publication-detail", args=[complete.pk]),
        {"title": "改标题"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "assessment.publication_issued"
    assert _state(complete) == frozen


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"notice_start": "2024-09-30", "notice_end": "2024-09-26"},
            "notice_end",
            "公示结束日期不能早于开始日期。",
        ),
        ({"status": "issued"}, "status", "此处不能设置该字段。"),
        ({"notice_start": "九月"}, "notice_start", None),
    ],
)
def test_api_refuses_bad_edits_and_leaves_the_draft_whole(
    personas: Any, draft: Publication, api: Any, body: dict[str, Any], field: str, message: Any
) -> None:
    before = _state(draft)
    response = api(personas.county_operator).patch(
        reverse("api:assessment-publication-detail", args=[draft.pk]), body, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert field in fields
    if message:
        assert message in str(fields[field])
    assert _state(draft) == before


def test_api_create_refusals(personas: Any, tree: Any, api: Any) -> None:
    client = api(personas.community_worker_a)
    url = reverse("api:assessment-publication-list")
    mine, other = stored_assessment(tree.community_a), stored_assessment(tree.community_b)

    unknown = client.post(url, {"assessment": mine.pk, "tier": "gold"}, format="json")
    assert unknown.status_code == 400
    assert (
        unknown.json()["error"]["fields"]["tier"]
        == "未知类型“gold”，可选：基础型、成长型、标杆型。"
    )
    elsewhere = client.post(url, {"assessment": other.pk, "tier": "basic"}, format="json")
    assert elsewhere.status_code == 404
    forbidden = api(personas.subdistrict_manager).post(
        url, {"assessment": mine.pk, "tier": "basic"}, format="json"
    )
    assert forbidden.status_code == 403
    assert Publication.objects.count() == 0


def test_api_issue_of_a_self_check_document_is_refused(personas: Any, tree: Any, api: Any) -> None:
    publication = services.draft_publication(
        personas.county_operator,
        stored_assessment(tree.community_a),
        "benchmark",
        notice_start=date(2024, 9, 26),
        notice_end=date(2024, 9, 30),
        contact=CONTACT,
    )
    response = api(personas.county_operator).post(
        reverse("api:assessment-publication-issue", args=[publication.pk])
    )
    assert response.status_code == 400
    assert "不能作为验收结果公示发布" in response.json()["error"]["message"]
    assert _state(publication)["status"] == PublicationStatus.DRAFT


def test_api_list_is_scoped_and_its_queries_bounded(
    personas: Any, tree: Any, api: Any, django_assert_max_num_queries: Any
) -> None:
    for index in range(5):
        make_publication(tree.community_a, f"锦源公示{index}")
    make_publication(tree.community_c, "玫瑰苑公示")
    client = api(personas.subdistrict_manager)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("api:assessment-publication-list"))
    titles = {row["title"] for row in response.json()["results"]}
    assert titles == {f"锦源公示{index}" for index in range(5)}
    assert all(row["tier_met"] is True for row in response.json()["results"])
