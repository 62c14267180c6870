"""The acceptance publication's lifecycle through its services: drafting from a stored
assessment with the seeds' default texts, editing the free text while a draft, issuing (which
freezes it), the self-check document of a tier not met, permissions, scope and the audit trail."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from assessment.publication_fixtures import mayishan_results, stored_assessment
from linli.assessment import publication as services
from linli.assessment.models import Publication, PublicationStatus
from linli.audit.models import AuditEntry
from linli.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ServiceError

COMPLETE = {
    "notice_start": date(2024, 9, 26),
    "notice_end": date(2024, 9, 30),
    "contact": "联系单位：平阴县大数据中心\n联系人：王某\n联系电话：0531-87881234\n"
    "监督电话：0531-87885678\n地址：平阴县榆山街道府前街1号",
}


@pytest.fixture
def assessment_a(tree: Any) -> Any:
    return stored_assessment(tree.community_a)


def _entries(publication: Publication) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            object_type="assessment.publication", object_id=str(publication.pk)
        ).order_by("seq")
    )


def _snapshot(publication: Publication) -> dict[str, Any]:
    publication.refresh_from_db()
    return {name: getattr(publication, name) for name in (*services.TEXT_FIELDS, "status")}


# ------------------------------------------------------------------ drafting


def test_draft_of_a_met_tier_reads_like_the_seeds(personas: Any, assessment_a: Any) -> None:
    """Given a stored assessment meeting 基础型, when drafting its publication, then the default
    texts follow the real publications, naming subdistrict, community, organiser and date."""
    publication = services.draft_publication(personas.county_operator, assessment_a, "基础型")

    assert publication.tier == "basic" and publication.status == PublicationStatus.DRAFT
    assert publication.region_id == assessment_a.region_id
    assert publication.title == "智慧社区建设验收结果公示"
    assert publication.organiser == "平阴县大数据中心"
    assert publication.opening == (
        "根据《关于加快推进智慧社区建设工作的实施意见》（鲁数发〔2022〕16号），经榆山街道锦源社区"
        "申请，平阴县大数据中心于2024年9月18日组织成立了居民代表验收工作组并开展智慧社区建设验收"
        "工作，经工作组成员一致认定，锦源社区已满足《山东省智慧社区建设指标》中“基础型智慧社区”的"
        "建设要求。相关内容公示如下："
    )
    assert publication.contact.splitlines() == [
        "联系单位：平阴县大数据中心",
        "联系人：【联系人】",
        "联系电话：【联系电话】",
        "监督电话：【监督电话】",
        "地址：【地址】",
    ]
    assert publication.closing.splitlines()[0] == "平阴县大数据中心"
    assert publication.created_by == personas.county_operator
    [entry] = _entries(publication)
    assert entry.action == "create" and entry.region_code == "370124001022"
    assert entry.changes["tier"] == [None, "basic"] and entry.changes["tier_met"] == [None, True]


def test_the_table_is_the_stored_figures_whatever_the_tier_claims(
    personas: Any, assessment_a: Any
) -> None:
    """马驿山 declared 标杆型; its own figures fall short, and so does the table of its benchmark
    publication: every completion text is the engine's, and the document is marked 未达标."""
    publication = services.draft_publication(personas.county_operator, assessment_a, "benchmark")
    document = services.document_for(publication)
    expected = mayishan_results()["benchmark"]["indicators"]

    assert [row.completion_text for row in document.rows] == [
        indicator["completion_text"] for indicator in expected
    ]
    books = document.rows[12]
    assert (books.number, books.name) == (13, "文体服务")
    assert books.completion_text.startswith("未达标。")
    assert "社区智慧图书馆数 0 个 < 1 个" in books.completion_text
    assert not any(row.completion_text.startswith("达标。") for row in document.rows[12:13])
    assert document.title == "智慧社区建设指标自评结果（未达标）"
    assert document.self_check_note == (
        "本文件为指标自评材料，不作为验收结果公示：按自评数据，锦源社区未达到“标杆型智慧社区”"
        "建设要求（1项未达标，8项待补充证明材料）。"
    )
    assert "尚未满足建设要求" in publication.opening
    assert "已满足" not in publication.opening
    assert document.notice == ""  # a self-check document is not put on notice


def test_the_self_check_marking_cannot_be_edited_away(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(personas.county_operator, assessment_a, "growth")
    edited = services.edit_publication(
        personas.county_operator, publication, title="锦源社区智慧社区建设"
    )

    document = services.document_for(edited)
    assert document.title == "锦源社区智慧社区建设（未达标）"
    assert document.self_check_note.startswith("本文件为指标自评材料")


def test_a_self_check_text_may_not_claim_the_tier_is_met(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(personas.county_operator, assessment_a, "growth")
    before = _snapshot(publication)
    claim = (
        "经工作组成员一致认定，锦源社区已满足《山东省智慧社区建设指标》中"
        "“成长型智慧社区”的建设要求。"
    )

    with pytest.raises(ServiceError) as refused:
        services.edit_publication(personas.county_operator, publication, opening=claim)

    assert "评估结果未达到该类型，文字中不能声称已达到" in str(refused.value.message)
    assert "opening" in refused.value.details
    assert _snapshot(publication) == before
    with pytest.raises(ServiceError):
        services.draft_publication(
            personas.county_operator, assessment_a, "growth", title="成长型智慧社区验收合格公示"
        )


def test_an_unknown_tier_is_refused_and_nothing_is_written(
    personas: Any, assessment_a: Any
) -> None:
    audit_before = AuditEntry.objects.count()
    with pytest.raises(ServiceError) as refused:
        services.draft_publication(personas.county_operator, assessment_a, "金牌型")

    assert refused.value.code == "assessment.tier"
    assert str(refused.value.message) == "未知类型“金牌型”，可选：基础型、成长型、标杆型。"
    assert Publication.objects.count() == 0
    assert AuditEntry.objects.count() == audit_before


def test_an_assessment_outside_the_scope_does_not_exist(personas: Any, tree: Any) -> None:
    other = stored_assessment(tree.community_b)
    with pytest.raises(NotFoundError):
        services.draft_publication(personas.community_worker_a, other, "basic")
    with pytest.raises(NotFoundError):
        services.draft_publication(personas.community_worker_a, 999999, "basic")
    assert Publication.objects.count() == 0


@pytest.mark.parametrize("persona", ["subdistrict_manager", "grid_worker", "resident", "nobody"])
def test_drafting_needs_the_permission(personas: Any, assessment_a: Any, persona: str) -> None:
    with pytest.raises(PermissionDeniedError):
        services.draft_publication(getattr(personas, persona), assessment_a, "basic")
    assert Publication.objects.count() == 0


def test_the_table_is_not_a_free_text_part(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(personas.community_worker_a, assessment_a, "growth")
    before = _snapshot(publication)
    with pytest.raises(ServiceError) as refused:
        services.edit_publication(
            personas.community_worker_a, publication, completion_text="达标。", status="issued"
        )
    assert str(refused.value.message) == "以下字段不能修改：completion_text、status。"
    assert _snapshot(publication) == before


# ------------------------------------------------------------------ editing


def test_editing_a_draft_records_what_changed(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(personas.community_worker_a, assessment_a, "basic")
    services.edit_publication(
        personas.community_worker_a,
        publication,
        title="锦源社区智慧社区建设验收结果公示",
        notice_start=date(2024, 9, 26),
        notice_end=date(2024, 9, 30),
    )
    publication.refresh_from_db()
    assert publication.title == "锦源社区智慧社区建设验收结果公示"
    update = _entries(publication)[-1]
    assert update.action == "update"
    assert update.changes == {
        "title": ["智慧社区建设验收结果公示", "锦源社区智慧社区建设验收结果公示"],
        "notice_start": [None, "2024-09-26"],
        "notice_end": [None, "2024-09-30"],
    }
    assert services.document_for(publication).notice == (
        "公示期5天（自9月26日始—9月30日止）。如有异议，请在公示期内向平阴县大数据中心反馈。"
    )


def test_an_unchanged_edit_writes_nothing(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(personas.community_worker_a, assessment_a, "basic")
    count = AuditEntry.objects.count()
    services.edit_publication(personas.community_worker_a, publication, title=publication.title)
    assert AuditEntry.objects.count() == count


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"notice_start": date(2024, 9, 30), "notice_end": date(2024, 9, 26)},
            "notice_end",
            "公示结束日期不能早于开始日期。",
        ),
        ({"title": "   "}, "title", "标题不能为空。"),
        ({"organiser": "局" * 201}, "organiser", "最多 200 个字符（现有 201 个）。"),
    ],
)
def test_bad_text_is_refused_and_the_draft_left_whole(
    personas: Any, assessment_a: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    publication = services.draft_publication(personas.community_worker_a, assessment_a, "basic")
    before, count = _snapshot(publication), AuditEntry.objects.count()
    with pytest.raises(ServiceError) as refused:
        services.edit_publication(personas.community_worker_a, publication, **changes)
    assert refused.value.details == {field: message}
    assert _snapshot(publication) == before
    assert AuditEntry.objects.count() == count


def test_a_notice_start_after_the_stored_end_is_refused(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(
        personas.community_worker_a, assessment_a, "basic", **COMPLETE
    )
    with pytest.raises(ServiceError) as refused:
        services.edit_publication(
            personas.community_worker_a, publication, notice_start=date(2024, 10, 8)
        )
    assert "notice_end" in refused.value.details
    assert _snapshot(publication)["notice_start"] == date(2024, 9, 26)


def test_editing_is_scoped_and_needs_the_permission(personas: Any, tree: Any) -> None:
    publication = services.draft_publication(
        personas.county_operator, stored_assessment(tree.community_b), "basic"
    )
    before = _snapshot(publication)
    with pytest.raises(NotFoundError):
        services.edit_publication(personas.community_worker_a, publication, title="改")
    with pytest.raises(PermissionDeniedError):
        services.edit_publication(personas.subdistrict_manager, publication, title="改")
    assert _snapshot(publication) == before


# ------------------------------------------------------------------ issuing


def test_issuing_needs_every_part_filled_in(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(personas.county_operator, assessment_a, "basic")
    with pytest.raises(ServiceError) as refused:
        services.issue_publication(personas.subdistrict_manager, publication)
    message = str(refused.value.message)
    assert "请设定公示期（开始和结束日期）。" in message
    assert (
        "以下内容尚未填写，请填写或删去：【地址】、【监督电话】、【联系人】、【联系电话】。"
        in message
    )
    assert _snapshot(publication)["status"] == PublicationStatus.DRAFT


def test_issue_freezes_the_publication(personas: Any, assessment_a: Any) -> None:
    """Given a complete draft of a met tier, when the subdistrict manager issues it, then it is
    issued, audited, and every later change answers 409 and leaves it whole."""
    publication = services.draft_publication(
        personas.county_operator, assessment_a, "basic", **COMPLETE
    )
    issued = services.issue_publication(personas.subdistrict_manager, publication)

    assert issued.status == PublicationStatus.ISSUED
    assert issued.issued_by == personas.subdistrict_manager and issued.issued_at is not None
    last = _entries(publication)[-1]
    assert (last.action, last.note, last.changes) == (
        "update",
        "issued",
        {"status": ["draft", "issued"]},
    )
    assert services.document_for(issued).draft_note == ""

    frozen = _snapshot(publication)
    count = AuditEntry.objects.count()
    with pytest.raises(ConflictError) as refused:
        services.edit_publication(personas.county_operator, publication, title="改标题")
    assert refused.value.status_code == 409
    assert "已于" in str(refused.value.message) and "发布，不能再修改" in str(refused.value.message)
    with pytest.raises(ConflictError):
        services.issue_publication(personas.county_operator, publication)
    assert _snapshot(publication) == frozen
    assert AuditEntry.objects.count() == count


def test_a_self_check_document_cannot_be_issued(personas: Any, assessment_a: Any) -> None:
    publication = services.draft_publication(
        personas.county_operator, assessment_a, "growth", **COMPLETE
    )
    with pytest.raises(ServiceError) as refused:
        services.issue_publication(personas.county_operator, publication)
    assert "评估结果未达到成长型：本文件为自评材料，不能作为验收结果公示发布。" in str(
        refused.value.message
    )
    assert _snapshot(publication)["status"] == PublicationStatus.DRAFT


def test_issuing_needs_its_permission_and_scope(personas: Any, tree: Any) -> None:
    mine = services.draft_publication(
        personas.community_worker_a, stored_assessment(tree.community_a), "basic", **COMPLETE
    )
    with pytest.raises(PermissionDeniedError):
        services.issue_publication(personas.community_worker_a, mine)
    elsewhere = services.draft_publication(
        personas.county_operator, stored_assessment(tree.community_c), "basic", **COMPLETE
    )
    with pytest.raises(NotFoundError):
        services.issue_publication(personas.subdistrict_manager, elsewhere)
    assert {p.status for p in Publication.objects.all()} == {PublicationStatus.DRAFT}
