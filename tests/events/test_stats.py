"""Statistics within scope: exact figures on a small known set, the scope of each persona, the
page (filters, bad input, permission) and the audited Excel export."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from linli.audit.models import AuditEntry
from linli.core.errors import PermissionDeniedError
from linli.events import export, services
from linli.events.choices import EventSource, EventStatus
from linli.events.models import Event
from linli.events.stats import StatsQuery, event_stats

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 2)  # a Monday


def at(hour: float, day: date = DAY) -> datetime:
    """Local time on ``day``; hours past 24 run into the next days."""
    start = timezone.make_aware(datetime(day.year, day.month, day.day))
    return start + timedelta(hours=hour)


@dataclass
class KnownSet:
    a1: Event
    a2: Event
    a3: Event
    b1: Event
    c1: Event
    old: Event


def _set(event: Event, **fields: Any) -> Event:
    Event.objects.filter(pk=event.pk).update(**fields)
    event.refresh_from_db()
    return event


@pytest.fixture
def known(tree: Any, personas: Any, hub: Any, report_event: Any) -> KnownSet:
    """Five events reported on DAY, one 40 days before:

    a1 garbage, grid A1, grid worker;    police, closed; signed 09:00 → handled 11:00 (2 h),
       reported 08:00 → closed 18:00 (10 h); rated satisfied
    a2 garbage, grid A2, resident;       police, closed; 10:00 → 14:00 (4 h), 09:00 → 05:00 next
       day (20 h); rated unsatisfied; was overdue
    a3 noise (auto-dispatched to police by the rule, then moved to committee A), grid A1,
       12345 hotline; being handled since 12:00; overdue now
    b1 dispute, grid B1, grid source; reported, with nobody
    c1 garbage, grid C1 (subdistrict 2), patrol; urban, closed; 13:00 → 19:00 (6 h),
       12:00 → 12:00 next day (24 h); rated basically satisfied
    old garbage, grid A1, 40 days before; closed
    """
    p, h = personas, hub
    a1 = report_event(p.grid_worker, h.garbage)
    a2 = report_event(
        p.community_worker_a,
        h.garbage,
        source=EventSource.RESIDENT,
        place=services.Place(region=tree.grid_a2, address="锦源小区5号楼"),
    )
    a3 = report_event(p.community_worker_a, h.noise, source=EventSource.HOTLINE)
    b1 = report_event(
        p.community_worker_b,
        h.dispute,
        place=services.Place(region=tree.grid_b1, address="锦东小区2号楼"),
        extra={"parties": "张某、李某"},
    )
    c1 = report_event(
        p.county_operator,
        h.garbage,
        source=EventSource.PATROL,
        place=services.Place(region=tree.grid_c1, address="玫瑰苑东门"),
    )
    old = report_event(p.grid_worker, h.garbage)
    closed = EventStatus.CLOSED
    return KnownSet(
        a1=_set(
            a1,
            created_at=at(8),
            department=h.police,
            status=closed,
            signed_at=at(9),
            handled_at=at(11),
            closed_at=at(18),
            rating="satisfied",
        ),
        a2=_set(
            a2,
            created_at=at(9),
            department=h.police,
            status=closed,
            signed_at=at(10),
            handled_at=at(14),
            closed_at=at(29),
            rating="unsatisfied",
            ever_overdue=True,
        ),
        a3=_set(
            a3,
            created_at=at(10),
            department=h.committee_a,
            status=EventStatus.SIGNED_FOR,
            signed_at=at(12),
            overdue=True,
            ever_overdue=True,
        ),
        b1=_set(b1, created_at=at(11)),
        c1=_set(
            c1,
            created_at=at(12),
            department=h.urban,
            status=closed,
            signed_at=at(13),
            handled_at=at(19),
            closed_at=at(36),
            rating="basically_satisfied",
        ),
        old=_set(
            old,
            created_at=at(8, DAY - timedelta(days=40)),
            department=h.police,
            status=closed,
            signed_at=at(9, DAY - timedelta(days=40)),
            handled_at=at(10, DAY - timedelta(days=40)),
            closed_at=at(12, DAY - timedelta(days=40)),
        ),
    )


def counts(tallies: list[Any]) -> dict[str, int]:
    return {t.key: t.count for t in tallies if t.count}


def test_county_figures_on_a_known_set_are_exact(tree: Any, personas: Any, known: KnownSet) -> None:
    stats = event_stats(personas.county_operator, StatsQuery(DAY, DAY, tree.county))

    assert stats.total == 5  # the event 40 days before is outside the range
    assert (stats.open, stats.closed) == (2, 3)
    assert counts(stats.by_source) == {"grid": 2, "resident": 1, "hotline": 1, "patrol": 1}
    assert counts(stats.by_status) == {"closed": 3, "signed_for": 1, "reported": 1}
    assert counts(stats.by_category) == {"environment": 4, "dispute": 1}
    assert counts(stats.by_leaf) == {"garbage": 3, "noise": 1, "dispute": 1}
    # Most reported first; a leaf is labelled with its top level.
    labels = [t.label for t in stats.by_leaf]
    assert labels == ["市容环境 / 暴露垃圾", "矛盾纠纷", "市容环境 / 噪声扰民"]
    # Overdue share: ever overdue among all; a3 is also overdue right now.
    assert (stats.overdue, stats.overdue_share, stats.overdue_now) == (2, 0.4, 1)
    # Handling (sign-for → handled): 2, 4 and 6 hours; report → close: 10, 20 and 24 hours.
    assert (stats.handled, stats.average_handling) == (3, timedelta(hours=4))
    assert (stats.closed_timed, stats.average_to_close) == (3, timedelta(hours=18))
    # Satisfaction: satisfied + basically satisfied among the rated.
    assert (stats.rated, stats.satisfied) == (3, 2)
    assert stats.shown["satisfaction_share"] == "66.7%"
    assert stats.per_day == [(DAY, 5)]


def test_per_department_and_per_area_lines(
    tree: Any, personas: Any, hub: Any, known: KnownSet
) -> None:
    stats = event_stats(personas.county_operator, StatsQuery(DAY, DAY, tree.county))

    lines = {row.label: row for row in stats.departments}
    assert set(lines) == {hub.police.name, hub.committee_a.name, hub.urban.name}
    police = lines[hub.police.name]
    assert (police.received, police.closed, police.open, police.overdue) == (2, 2, 0, 1)
    assert police.average_handling == timedelta(hours=3)
    assert (police.rated, police.satisfied, police.satisfaction_share) == (2, 1, 0.5)
    committee = lines[hub.committee_a.name]
    assert (committee.received, committee.open, committee.overdue) == (1, 1, 1)
    assert committee.average_handling is None and committee.satisfaction_share is None
    urban = lines[hub.urban.name]
    assert (urban.received, urban.average_handling) == (1, timedelta(hours=6))
    # One level below the county: the subdistricts.
    assert stats.area_level == "街道"
    areas = {row.key: row.received for row in stats.areas}
    assert areas == {tree.subdistrict_1.code: 4, tree.subdistrict_2.code: 1}


def test_a_community_is_broken_down_by_grid(tree: Any, personas: Any, known: KnownSet) -> None:
    stats = event_stats(personas.county_operator, StatsQuery(DAY, DAY, tree.community_a))

    assert stats.total == 3
    assert {row.key: row.received for row in stats.areas} == {
        tree.grid_a1.code: 2,
        tree.grid_a2.code: 1,
    }
    grid = event_stats(personas.county_operator, StatsQuery(DAY, DAY, tree.grid_a2))
    assert grid.total == 1 and grid.areas == [] and grid.area_level == ""


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("county_operator", {"a1", "a2", "a3", "b1", "c1"}),
        ("subdistrict_manager", {"a1", "a2", "a3", "b1"}),
        ("community_worker_a", {"a1", "a2", "a3"}),
        ("community_worker_b", {"b1"}),
        # A department's member counts its events, now or before: a3 went to the police
        # first (automatic dispatch), then to the committee.
        ("department_handler", {"a1", "a2", "a3"}),
        ("resident", set()),
        ("nobody", set()),
    ],
)
def test_everyone_counts_only_what_they_may_see(
    personas: Any, known: KnownSet, persona: str, expected: set[str]
) -> None:
    user = getattr(personas, persona)

    stats = event_stats(user, StatsQuery(DAY, DAY, None))

    assert stats.total == len(expected)
    titles = {name: getattr(known, name).pk for name in ("a1", "a2", "a3", "b1", "c1")}
    seen = set(
        services.Event.objects.filter(pk__in=titles.values())
        .filter(pk__in=_counted_pks(user))
        .values_list("pk", flat=True)
    )
    assert {name for name, pk in titles.items() if pk in seen} == expected


def _counted_pks(user: Any) -> list[int]:
    from linli.events.stats import events_in

    return list(events_in(user, StatsQuery(DAY, DAY, None)).values_list("pk", flat=True))


def test_worker_b_does_not_count_community_a_even_when_asking_for_it(
    tree: Any, personas: Any, known: KnownSet
) -> None:
    stats = event_stats(personas.community_worker_b, StatsQuery(DAY, DAY, tree.community_a))
    assert stats.total == 0 and stats.departments == [] and stats.areas == []


def test_the_range_counts_local_days_with_both_ends_included(
    tree: Any, personas: Any, known: KnownSet
) -> None:
    # 23:59 local time on the day before DAY is outside; 00:00 on DAY is inside.
    _set(known.b1, created_at=at(-0.01))
    _set(known.c1, created_at=at(0))
    stats = event_stats(personas.county_operator, StatsQuery(DAY, DAY, tree.county))
    assert stats.total == 4
    wider = event_stats(
        personas.county_operator, StatsQuery(DAY - timedelta(days=40), DAY, tree.county)
    )
    assert wider.total == 6 and len(wider.per_day) == 41
    assert wider.per_day[0] == (DAY - timedelta(days=40), 1)
    assert wider.per_day[-2] == (DAY - timedelta(days=1), 1)


def test_statistics_take_a_fixed_number_of_queries(
    tree: Any, personas: Any, known: KnownSet
) -> None:
    with CaptureQueriesContext(connection) as queries:
        event_stats(personas.county_operator, StatsQuery(DAY, DAY, tree.county))
    small = len(queries)
    for _ in range(5):
        services.report(
            personas.county_operator,
            category=known.a1.category,
            place=services.Place(region=tree.grid_c1, address="玫瑰苑西门"),
            description="路边垃圾",
            source=EventSource.PATROL,
        )
    with CaptureQueriesContext(connection) as queries:
        event_stats(personas.county_operator, StatsQuery(DAY, timezone.localdate(), tree.county))
    assert len(queries) == small <= 8


def test_a_countys_figures_are_kept_for_a_while_and_a_communitys_counted_live(
    tree: Any, personas: Any, hub: Any, known: KnownSet, report_event: Any
) -> None:
    from linli.events.stats import cached_event_stats

    user = personas.county_operator
    county = StatsQuery(DAY - timedelta(days=1), timezone.localdate(), tree.county)
    community = StatsQuery(DAY - timedelta(days=1), timezone.localdate(), tree.community_a)
    first = cached_event_stats(user, county)
    live = cached_event_stats(user, community)
    report_event(personas.grid_worker, hub.garbage)

    with CaptureQueriesContext(connection) as queries:
        again = cached_event_stats(user, county)
    assert not [q for q in queries.captured_queries if "events_event" in q["sql"]]
    assert (again.total, again.computed_at) == (first.total, first.computed_at)
    assert cached_event_stats(user, community).total == live.total + 1
    # Another viewer never gets someone else's figures: counted for them (now, with the new
    # report), within their own reach.
    manager = cached_event_stats(personas.subdistrict_manager, county)
    assert manager.computed_at > first.computed_at
    assert manager.total == 5  # a1, a2, a3, b1 and the new report; not c1
    assert cached_event_stats(personas.community_worker_b, county).total == 1


# ---------------------------------------------------------------- the page


def test_the_page_shows_the_figures_for_the_chosen_range(
    tree: Any, personas: Any, known: KnownSet, login: Any
) -> None:
    client = login(personas.county_operator)
    response = client.get(
        "/events/stats/", {"start": DAY.isoformat(), "end": DAY.isoformat(), "region": "370124"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="stat-total">5<' in page
    assert 'id="stat-overdue-share">40.0%<' in page
    assert 'id="stat-handling">4.0' in page
    assert "平阴县综合行政执法局" in page and "锦水街道" in page
    assert 'id="stats-data"' in page
    assert 'action="/events/stats/export/"' in page  # the county operator may export


def test_the_page_defaults_to_the_last_30_days_of_the_own_area(
    tree: Any, personas: Any, hub: Any, report_event: Any, login: Any
) -> None:
    report_event(personas.grid_worker, hub.garbage)
    client = login(personas.community_worker_a)
    response = client.get("/events/stats/")
    assert response.status_code == 200
    query = response.context["query"]
    assert query.region == tree.community_a
    assert query.end == timezone.localdate() and (query.end - query.start).days == 29
    assert response.context["stats"].total == 1
    # A community worker may not export: no export button.
    assert "/events/stats/export/" not in response.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-13-01"}, "有效的日期"),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "开始日期晚于结束日期"),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "366"),
        ({"region": "370124002"}, "区划不存在或不在您的范围内"),
    ],
)
def test_bad_filters_are_refused_in_chinese(
    personas: Any, login: Any, params: dict[str, str], message: str
) -> None:
    response = login(personas.community_worker_a).get("/events/stats/", params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "stats" not in response.context


@pytest.mark.parametrize("persona", ["resident", "nobody", "system_admin", "audit_admin"])
def test_people_without_events_get_403(personas: Any, login: Any, persona: str) -> None:
    assert login(getattr(personas, persona)).get("/events/stats/").status_code == 403


def test_a_department_member_sees_the_page_of_their_department(
    personas: Any, known: KnownSet, login: Any
) -> None:
    response = login(personas.department_handler).get(
        "/events/stats/", {"start": DAY.isoformat(), "end": DAY.isoformat()}
    )
    assert response.status_code == 200
    assert response.context["stats"].total == 3


# ---------------------------------------------------------------- the export


def _workbook(content: bytes) -> Any:
    return load_workbook(io.BytesIO(content), read_only=True)


def test_the_export_holds_the_figures_and_the_events_and_is_audited(
    tree: Any, personas: Any, known: KnownSet, login: Any
) -> None:
    client = login(personas.county_operator)
    before = AuditEntry.objects.filter(action="export").count()

    response = client.post(
        "/events/stats/export/",
        {"start": DAY.isoformat(), "end": DAY.isoformat(), "region": tree.county.code},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == export.XLSX_CONTENT_TYPE
    book = _workbook(b"".join(response.streaming_content))
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(values_only=True)}
    assert summary["事件数"] == 5 and summary["超时率（%）"] == 40.0
    assert summary["平均处置时长（签收至处置，小时）"] == 4.0
    assert [sheet.title for sheet in book.worksheets] == [
        "概况", "按来源", "按状态", "按类别", "按小类", "按部门", "按区域", "按日", "事件明细",
    ]  # fmt: skip
    events_sheet = book.worksheets[-1]
    rows = list(events_sheet.iter_rows(values_only=True))
    numbers = {row[0] for row in rows[1:]}
    assert numbers == {e.number for e in (known.a1, known.a2, known.a3, known.b1, known.c1)}
    # No reporter's personal data in the list.
    assert not any("reporter" in str(cell) for cell in rows[0])
    entry = AuditEntry.objects.filter(action="export").order_by("-seq").first()
    assert AuditEntry.objects.filter(action="export").count() == before + 1
    assert entry is not None and entry.actor_id == personas.county_operator.pk
    assert entry.object_type == "events.event" and entry.region_code == tree.county.code
    assert "5 events, 5 listed" in entry.note


def test_the_export_lists_only_the_exporters_scope(
    tree: Any, personas: Any, known: KnownSet
) -> None:
    handle, _name, listed = export.export_statistics(
        personas.subdistrict_manager, StatsQuery(DAY, DAY, None)
    )
    assert listed == 4
    rows = list(_workbook(handle.read()).worksheets[-1].iter_rows(values_only=True))
    assert known.c1.number not in {row[0] for row in rows[1:]}


@pytest.mark.parametrize("persona", ["community_worker_a", "department_handler", "grid_worker"])
def test_export_without_the_permission_is_refused_and_not_audited(
    personas: Any, known: KnownSet, login: Any, persona: str
) -> None:
    user = getattr(personas, persona)
    before = AuditEntry.objects.filter(action="export").count()

    response = login(user).post("/events/stats/export/", {"start": DAY.isoformat()})

    assert response.status_code == 403
    assert "没有导出事件的权限" in response.content.decode()
    with pytest.raises(PermissionDeniedError):
        export.export_statistics(user, StatsQuery(DAY, DAY, None))
    assert AuditEntry.objects.filter(action="export").count() == before


def test_export_is_a_post(personas: Any, login: Any) -> None:
    assert login(personas.county_operator).get("/events/stats/export/").status_code == 405


def test_export_with_bad_filters_is_refused_without_a_file(personas: Any, login: Any) -> None:
    before = AuditEntry.objects.filter(action="export").count()
    response = login(personas.county_operator).post(
        "/events/stats/export/", {"start": "2026-03-05", "end": "2026-03-01"}
    )
    assert response.status_code == 400
    assert "开始日期晚于结束日期" in response.content.decode()
    assert AuditEntry.objects.filter(action="export").count() == before
