"""The synthetic event history: deterministic for a seed, loaded once, timelines consistent
with the rules the services apply, and open events spread so the sweep has work."""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.events import calendar, services
from linli.events.choices import FINAL_STATUSES, OPEN_STATUSES, LimitUnit, StepAction
from linli.events.defaults import load_default_categories
from linli.events.models import Department, Event, EventStep, Holiday
from linli.events.synthetic import MARKER_TYPE, _Deadlines, load_event_history

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime(2026, 3, 4, 10, 30))  # a Wednesday


@pytest.fixture
def county(tree: Any) -> Any:
    load_default_categories(record=False)
    return tree


def snapshot() -> list[tuple[Any, ...]]:
    """What the loader wrote, with ids counted from the first event (a second load gets
    other ids)."""
    events = list(
        Event.objects.order_by("pk").values_list(
            "pk",
            "merged_into",
            "category__code",
            "region_code",
            "source",
            "status",
            "department__name",
            "created_at",
            "state_deadline",
            "overdue",
            "ever_overdue",
            "escalation_level",
            "rating",
            "closed_at",
            "extra",
        )
    )
    first = events[0][0]
    steps = EventStep.objects.order_by("event_id", "created_at", "action").values_list(
        "event_id", "action", "from_status", "to_status", "elapsed_seconds", "created_at", "note"
    )
    # Event numbers in notes carry the database's ids.
    return [(e[0] - first, e[1] and e[1] - first, *e[2:]) for e in events] + [
        (s[0] - first, *s[1:6], re.sub(r"\d{15}", "#", s[6])) for s in steps
    ]


def wipe() -> None:
    Event.objects.filter(merged_into__isnull=False).delete()
    Event.objects.all().delete()


def test_a_seed_gives_the_same_history_and_another_seed_another(county: Any) -> None:
    load_event_history(400, 100, seed=7, now=NOW, days=60)
    first = snapshot()
    assert len([row for row in first if len(row) == 15]) == 500
    wipe()

    load_event_history(400, 100, seed=7, now=NOW, days=60)
    assert snapshot() == first
    wipe()

    load_event_history(400, 100, seed=8, now=NOW, days=60)
    assert snapshot() != first


def test_a_second_load_adds_nothing_and_is_recorded_once(county: Any) -> None:
    loaded = load_event_history(200, 50, seed=3, now=NOW, days=30)
    assert loaded.loaded and loaded.events == 250 and loaded.steps > 250 * 2
    assert (Event.objects.count(), EventStep.objects.count()) == (250, loaded.steps)

    again = load_event_history(200, 50, seed=3, now=NOW, days=30)

    assert not again.loaded
    assert Event.objects.count() == 250
    assert AuditEntry.objects.filter(object_type=MARKER_TYPE).count() == 1


def test_history_timelines_follow_the_rules_of_the_services(county: Any) -> None:
    load_event_history(600, 0, seed=5, now=NOW, days=90)
    events = {e.pk: e for e in Event.objects.select_related("category")}
    steps: dict[int, list[EventStep]] = {}
    for step in EventStep.objects.order_by("created_at", "pk"):
        steps.setdefault(step.event_id, []).append(step)
    assert len(events) == 600
    assert {e.status for e in events.values()} <= set(FINAL_STATUSES)
    assert all(NOW - timedelta(days=90) <= e.created_at < NOW for e in events.values())
    late_events = 0
    for event in events.values():
        timeline = steps[event.pk]
        assert timeline[0].action == StepAction.REPORT
        assert timeline[0].created_at == event.created_at
        assert all(a.created_at <= b.created_at for a, b in pairwise(timeline))
        unit, limits = event.category.effective_limits()
        started, state = event.created_at, "reported"
        overdue_at = {s.created_at for s in timeline if s.action == StepAction.OVERDUE}
        for step in timeline[1:]:
            if step.elapsed_seconds is None:
                continue
            # Each state's elapsed and allowed time, as the services compute them.
            assert step.from_status == state
            assert step.elapsed_seconds == int((step.created_at - started).total_seconds())
            amount = limits.get(state)
            deadline = calendar.add_limit(started, amount, unit) if amount else None
            if deadline is not None:
                assert step.allowed_seconds == max(0, int((deadline - started).total_seconds()))
                if step.created_at > deadline:
                    # The step the sweep would have written (at once for a deadline that
                    # fell before the state began: a half working day from a day off).
                    assert max(deadline, started) in overdue_at
            started, state = step.created_at, step.to_status
        assert event.ever_overdue == bool(overdue_at)
        late_events += event.ever_overdue
        if event.status == "closed":
            assert event.closed_at == started and event.state_deadline is None
            assert event.signed_at <= event.handled_at <= event.closed_at  # type: ignore[operator]
        if event.status == "merged":
            target = events[event.merged_into_id]  # type: ignore[index]
            assert target.pk < event.pk and target.category_id == event.category_id
            assert any(s.action == StepAction.MERGED_IN for s in steps[target.pk])
    # About one event in ten ran late somewhere.
    assert 0.03 < late_events / len(events) < 0.2
    statuses = [e.status for e in events.values()]
    assert statuses.count("closed") > 500 and "rejected" in statuses and "merged" in statuses


def test_open_events_give_the_sweep_what_it_would_find(county: Any) -> None:
    loaded = load_event_history(50, 1500, seed=9, now=NOW, days=30)
    open_events = Event.objects.filter(status__in=OPEN_STATUSES).select_related("category")
    assert open_events.count() == 1500
    for event in open_events:
        unit, limits = event.category.effective_limits()
        amount = limits.get(event.status)
        assert event.state_deadline == calendar.add_limit(event.status_changed_at, amount, unit)
        if event.overdue:
            assert event.overdue_since == event.state_deadline < NOW  # type: ignore[operator]
    marked = open_events.filter(overdue=True).count()
    assert marked == loaded.overdue_marked and 0.05 < marked / 1500 < 0.12
    assert loaded.overdue_unmarked > 0 and loaded.escalation_due > 0
    assert open_events.filter(needs_ruling=True, return_count=2).exists()

    result = services.sweep(NOW)

    assert result.overdue == loaded.overdue_unmarked
    assert result.escalated >= loaded.escalation_due
    # The county was otherwise as a running sweep leaves it: nothing more to do.
    again = services.sweep(NOW)
    assert (again.overdue, again.escalated) == (0, 0)


def test_existing_community_committees_are_used_and_missing_ones_made(
    county: Any,
) -> None:
    mine = Department.objects.create(
        region=county.community_a, name="锦源社区居委会", kind="community"
    )
    load_event_history(300, 0, seed=4, now=NOW, days=30)
    committees = Department.objects.filter(kind="community")
    assert set(committees.values_list("region__code", flat=True)) == {
        county.community_a.code,
        county.community_b.code,
        county.community_c.code,
    }
    assert committees.filter(region=county.community_a).get() == mine
    community_events = Event.objects.filter(
        category__parent__code__in=["livelihood", "property", "disputes"],
        region_code__startswith=county.community_a.code,
    ).exclude(status__in=["merged", "rejected"])
    assert community_events.exists()
    assert set(community_events.values_list("department", flat=True)) <= {mine.pk}


@pytest.mark.parametrize("unit", [LimitUnit.WORKDAYS, LimitUnit.HOURS])
def test_the_fast_deadlines_equal_the_calendar(db: Any, unit: str) -> None:
    # Spring Festival off-days and a worked Sunday.
    for day in range(16, 23):
        Holiday.objects.create(date=date(2026, 2, day), name="春节")
    Holiday.objects.create(date=date(2026, 2, 15), is_workday=True, name="调休")
    calendar.holidays_changed()
    fast = _Deadlines()
    rng = random.Random(1)
    start = timezone.make_aware(datetime(2026, 2, 1))
    for _ in range(2000):
        moment = start + timedelta(minutes=rng.randint(0, 60 * 24 * 45))
        amount = rng.choice([0.25, 0.5, 1, 1.5, 2, 3, 5, 20, 60])
        assert fast(moment, amount, unit) == calendar.add_limit(moment, amount, unit), (
            moment,
            amount,
        )
