"""The county view: every community's latest stored assessment, the subdistrict and county
tables, the trend across assessment dates, the audited Excel export, and the run that assesses
every community in scope in the background (claimed once, resumable, permission-checked)."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from assessment.publication_fixtures import stored_assessment
from linli.assessment import county
from linli.assessment.models import Assessment
from linli.audit.models import AuditEntry

D1, D2, D3 = date(2024, 3, 1), date(2024, 6, 1), date(2024, 9, 1)


def _stored(region: Any, on: date, tier: str) -> Assessment:
    """A stored assessment whose tier reached is ``tier`` ("" for none)."""
    assessment = stored_assessment(region, on=on)
    Assessment.objects.filter(pk=assessment.pk).update(tier_reached=tier)
    assessment.refresh_from_db()
    return assessment


@pytest.fixture
def history(tree: Any) -> dict[str, Assessment]:
    """A: none reached on D1, basic on D3; B: none on D2; C: never assessed."""
    return {
        "a1": _stored(tree.community_a, D1, ""),
        "b2": _stored(tree.community_b, D2, ""),
        "a3": _stored(tree.community_a, D3, "basic"),
    }


def test_the_tables_count_each_communitys_latest_assessment(
    personas: Any, tree: Any, history: dict[str, Assessment]
) -> None:
    view = county.county_view(personas.county_operator)
    rows = {row.code: row for row in view.rows}
    assert rows[tree.community_a.code].assessment.pk == history["a3"].pk
    assert rows[tree.community_a.code].level == "basic"
    assert rows[tree.community_b.code].level == "none"
    assert rows[tree.community_c.code].level == "unassessed"
    subdistricts = {group.code: group.counts for group in view.subdistricts}
    assert subdistricts[tree.subdistrict_1.code] == {
        "unassessed": 0,
        "none": 1,
        "basic": 1,
        "growth": 0,
        "benchmark": 0,
    }
    assert subdistricts[tree.subdistrict_2.code]["unassessed"] == 1
    assert [(g.code, g.communities, g.counts["basic"]) for g in view.counties] == [
        (tree.county.code, 3, 1)
    ]


def test_the_trend_counts_communities_per_tier_on_each_assessment_date(
    personas: Any, tree: Any, history: dict[str, Assessment]
) -> None:
    trend = county.county_view(personas.county_operator).trend
    assert trend["dates"] == ["2024-03-01", "2024-06-01", "2024-09-01"]
    assert trend["series"]["unassessed"] == [2, 1, 1]
    assert trend["series"]["none"] == [1, 2, 1]
    assert trend["series"]["basic"] == [0, 0, 1]
    assert trend["series"]["growth"] == [0, 0, 0]


def test_the_view_is_limited_to_the_scope(
    personas: Any, tree: Any, history: dict[str, Assessment]
) -> None:
    worker = county.county_view(personas.community_worker_a)
    assert [row.code for row in worker.rows] == [tree.community_a.code]
    # B's assessment (D2) is not theirs to see.
    assert worker.trend["dates"] == ["2024-03-01", "2024-09-01"]
    assert (worker.trend["series"]["none"], worker.trend["series"]["basic"]) == ([1, 0], [0, 1])
    manager = county.county_view(personas.subdistrict_manager)
    assert {row.code for row in manager.rows} == {tree.community_a.code, tree.community_b.code}
    narrowed = county.county_view(personas.county_operator, tree.subdistrict_2.code)
    assert [row.code for row in narrowed.rows] == [tree.community_c.code]


def test_the_county_page_shows_the_tables_and_the_trend_data(
    login: Any,
    personas: Any,
    tree: Any,
    history: dict[str, Assessment],
    django_assert_max_num_queries: Any,
) -> None:
    client = login(personas.county_operator)
    client.get(reverse("assessment:county"))  # loads the standard once
    with django_assert_max_num_queries(20):
        response = client.get(reverse("assessment:county"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "区县汇总表" in text and "街道汇总表" in text
    assert reverse("assessment:stored", args=[history["a3"].pk]) in text
    assert reverse("assessment:stored", args=[history["a1"].pk]) not in text  # not the latest
    start = text.index('<script id="county-trend" type="application/json">') + len(
        '<script id="county-trend" type="application/json">'
    )
    chart = json.loads(text[start : text.index("</script>", start)])
    assert chart["dates"] == ["2024-03-01", "2024-06-01", "2024-09-01"]
    basic = next(series for series in chart["series"] if series["key"] == "basic")
    assert basic["name"] == "基础型" and basic["values"] == [0, 0, 1]
    filtered = client.get(reverse("assessment:county"), {"tier": "unassessed"}).content.decode()
    assert tree.community_c.name in filtered and ">锦源社区</a>" not in filtered


def test_the_county_page_needs_the_view_permission(login: Any, personas: Any) -> None:
    for persona in (personas.resident, personas.property_staff, personas.nobody):
        assert login(persona).get(reverse("assessment:county")).status_code == 403


def test_the_export_needs_its_permission_and_is_audited(
    login: Any, personas: Any, tree: Any, history: dict[str, Assessment]
) -> None:
    export = reverse("assessment:county_export")
    assert login(personas.community_worker_a).get(export).status_code == 403
    assert (
        "导出 Excel"
        not in login(personas.community_worker_a).get(reverse("assessment:county")).content.decode()
    )
    assert not AuditEntry.objects.filter(action="export").exists()
    response = login(personas.subdistrict_manager).get(export, {"tier": "none"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == (
        "区县",
        "街道",
        "街道代码",
        "社区",
        "社区代码",
        "评估日期",
        "达到等级",
        "下一等级",
        "距下一等级差距项数",
        "标准",
        "计算时间",
        "计算人",
    )
    assert [row[3:7] for row in rows[1:]] == [
        (tree.community_b.name, tree.community_b.code, "2024-06-01", "未达到任何等级")
    ]
    entry = AuditEntry.objects.get(action="export")
    assert (
        entry.object_type == "assessment.assessment" and entry.actor == personas.subdistrict_manager
    )
    assert "1 rows" in entry.note and "tier=none" in entry.note


# ------------------------------------------------------------------ assessing every community


def test_assessing_every_community_in_scope_runs_in_the_background_and_stores_each(
    login: Any,
    personas: Any,
    tree: Any,
    audit_protected: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = login(personas.subdistrict_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("assessment:county_run_start"), {"date": "2024-10-01"})
    assert response.status_code == 302
    run_id = response.url.rstrip("/").split("/")[-1]
    stored = Assessment.objects.order_by("region__code")
    assert [a.region.code for a in stored] == [tree.community_b.code, tree.community_a.code]
    assert {a.on for a in stored} == {date(2024, 10, 1)}
    assert {a.computed_by for a in stored} == {personas.subdistrict_manager}
    page = client.get(response.url)
    assert page.status_code == 200 and "已完成" in page.content.decode()
    assert (
        "已保存 2 份自评"
        in client.get(reverse("assessment:county_run_status", args=[run_id])).content.decode()
    )
    # Someone else's run does not exist for them.
    other = login(personas.county_operator).get(reverse("assessment:county_run", args=[run_id]))
    assert other.status_code == 404


def test_a_run_is_claimed_once_and_a_resumed_run_stores_nothing_twice(
    personas: Any, tree: Any, audit_protected: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        state = county.start_run(personas.subdistrict_manager, on=date(2024, 10, 1))
    assert Assessment.objects.count() == 2
    county.assess_communities(state["id"])  # delivered again after it finished: nothing to do
    assert Assessment.objects.count() == 2
    # A worker died after storing community B only: the run is "running" and its claim held.
    state_key = f"linli:assessment:run:{state['id']}"
    claim_key = f"{state_key}:claimed"
    crashed = {**cache.get(state_key), "status": "running", "done": 1, "stored": 1}
    cache.set(state_key, crashed)
    Assessment.objects.filter(region=tree.community_a).delete()
    cache.set(claim_key, "1")
    county.assess_communities(state["id"])  # another worker while the claim holds: refused
    assert Assessment.objects.count() == 1
    cache.delete(claim_key)  # the dead worker's claim lapses; the message comes again
    county.assess_communities(state["id"])
    assert sorted(Assessment.objects.values_list("region__code", flat=True)) == sorted(
        [tree.community_a.code, tree.community_b.code]
    )
    assert county.run_state(personas.subdistrict_manager, state["id"])["status"] == "done"


def test_a_run_under_way_is_shown_instead_of_starting_a_second_one(
    personas: Any, tree: Any
) -> None:
    first = county.start_run(personas.subdistrict_manager, on=date(2024, 10, 1))  # not committed
    assert county.active_run(personas.subdistrict_manager)["id"] == first["id"]
    assert county.start_run(personas.subdistrict_manager)["id"] == first["id"]
    # Without progress for ten minutes it no longer blocks a new run.
    state_key = f"linli:assessment:run:{first['id']}"
    stale = (timezone.now() - timedelta(minutes=11)).isoformat()
    cache.set(state_key, {**cache.get(state_key), "updated_at": stale})
    assert county.active_run(personas.subdistrict_manager) is None
    assert county.start_run(personas.subdistrict_manager)["id"] != first["id"]


def test_assessing_every_community_needs_the_permission_and_a_past_date(
    login: Any, personas: Any, tree: Any
) -> None:
    start = reverse("assessment:county_run_start")
    assert login(personas.resident).post(start).status_code == 403
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = login(personas.county_operator).post(start, {"date": tomorrow}, follow=True)
    assert "晚于今天" in response.content.decode()
    assert not Assessment.objects.exists()
    assert county.active_run(personas.county_operator) is None
