"""The demo county's events (``linli.events.demo``): departments, rules and events in every
state, made through the services, re-timed onto a plausible history, loaded once."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from django.utils import timezone

from linli.events import calendar, services
from linli.events.choices import OPEN_STATUSES, StepAction
from linli.events.defaults import read_default_categories
from linli.events.demo import KEY_PREFIX, load_demo_events, read_demo_data
from linli.events.lifecycle import TRANSITIONS
from linli.events.models import Department, DispatchRule, Event, EventCategory, EventStep

pytestmark = pytest.mark.django_db


def test_the_demo_data_file_is_consistent(db: Any) -> None:
    data = read_demo_data()
    departments = {d.key for d in data.departments}
    keys = [e.key for e in data.events]
    assert len(keys) == len(set(keys)) >= 30
    codes = {spec.code for spec in read_default_categories()}
    for _area, category, department in data.rules:
        assert category in codes and department in departments
    for event in data.events:
        assert event.category in codes
        # Every scenario ends before the demo's "now".
        assert event.hours < event.days_ago * 24, event.key
        for step in event.steps:
            assert step.action in TRANSITIONS
            assert not step.department or step.department in departments
            assert not step.into or keys.index(step.into) < keys.index(event.key)
    assert {key for key, _actor, _note in data.urge} <= set(keys)


@pytest.fixture
def demo(db: Any) -> dict[str, Any]:
    from linli.core.management.commands.demo import load_demo

    users = load_demo()["users"]
    return {"users": users, "summary": load_demo_events(users)}


def by_key() -> dict[str, Event]:
    found = {
        e.idempotency_key.removeprefix(KEY_PREFIX): e
        for e in Event.objects.filter(idempotency_key__startswith=KEY_PREFIX)
    }
    found.update(
        {
            e.external_id.removeprefix("DEMO-"): e
            for e in Event.objects.filter(external_id__startswith="DEMO-")
        }
    )
    return found


def test_the_demo_shows_every_state_and_a_second_run_adds_nothing(demo: dict[str, Any]) -> None:
    summary = demo["summary"]
    data = read_demo_data()
    assert summary.events_created == len(data.events) == len(by_key())
    assert summary.departments_created == len(data.departments)
    assert summary.rules_created == len(data.rules)
    assert summary.marked_overdue > 0 and summary.escalated > 0 and summary.urged == 2
    assert {
        "closed",
        "signed_for",
        "dispatched",
        "reported",
        "reviewed",
        "merged",
        "rejected",
    } <= set(summary.by_status)
    counts = (
        Event.objects.count(),
        EventStep.objects.count(),
        Department.objects.count(),
        DispatchRule.objects.count(),
    )

    again = load_demo_events(demo["users"])

    assert (again.events_created, again.departments_created, again.rules_created) == (0, 0, 0)
    assert again.scenarios_skipped == len(data.events)
    assert counts == (
        Event.objects.count(),
        EventStep.objects.count(),
        Department.objects.count(),
        DispatchRule.objects.count(),
    )


def test_the_demo_events_tell_their_stories(demo: dict[str, Any]) -> None:
    events = by_key()
    users = demo["users"]
    # A merged duplicate, pointing at the open report it repeats.
    duplicate = events["litter-duplicate"]
    assert duplicate.status == "merged" and duplicate.merged_into == events["litter-new"]
    assert events["litter-new"].steps.filter(action=StepAction.MERGED_IN).exists()
    # The mediation case went through its stages and was followed up.
    mediation = events["mediation-closed"]
    assert mediation.status == "closed" and mediation.rating == "satisfied"
    stages = list(mediation.steps.filter(action="progress").values_list("data", flat=True))
    assert [d["stage"] for d in stages] == ["分类", "调解"]
    assert mediation.category.effective("kind") == "mediation"
    # Rated, reopened after an unsatisfied rating, then satisfied.
    repair = events["repair-reopened"]
    assert repair.reopen_count == 1 and repair.rating == "satisfied"
    assert repair.steps.filter(action=StepAction.REOPEN).count() == 1
    # Overdue, escalated and urged by the subdistrict.
    shack = events["shack-overdue"]
    assert shack.overdue and shack.escalation_level >= 1 and shack.supervised
    assert shack.steps.filter(action=StepAction.URGE, actor=users["yushan_mgr"]).exists()
    assert shack in services.supervision_list(users["yushan_mgr"])
    # Returned twice: the level above must rule.
    hanging = events["hanging-needs-ruling"]
    assert hanging.needs_ruling and hanging.return_count == 2 and hanging.status == "accepted"
    # An extension approved by the subdistrict, ending three days after the old deadline.
    fitness = events["fitness-extended"]
    approved = fitness.steps.get(action=StepAction.APPROVE_EXTENSION)
    assert (
        fitness.state_deadline is not None
        and fitness.state_deadline.isoformat() == (approved.data["until"])
    )
    assert fitness.extension_count == 1 and fitness.state_deadline > timezone.now()
    # Device alarms came from the system and were dispatched by the rules.
    smoke = events["alarm-smoke"]
    assert smoke.reporter is None and smoke.department.name == "平阴县消防救援大队"  # type: ignore[union-attr]
    # The demo department handler handles the enforcement bureau's events.
    urban = Department.objects.get(name="平阴县综合行政执法局")
    assert urban.members.filter(username="dept_handler").exists()
    seen = set(Event.objects.visible_to(users["dept_handler"]).values_list("pk", flat=True))
    assert events["enforcement-in-progress"].pk in seen and events["gas-escalated"].pk not in seen


def test_demo_timelines_are_re_timed_consistently(demo: dict[str, Any]) -> None:
    now = timezone.now()
    data = {spec.key: spec for spec in read_demo_data().events}
    for key, event in by_key().items():
        steps = list(event.steps.order_by("created_at", "pk"))
        assert steps[0].action == StepAction.REPORT and steps[0].created_at == event.created_at
        assert all(a.created_at <= b.created_at for a, b in pairwise(steps))
        assert steps[-1].created_at <= now
        assert abs((now - event.created_at).total_seconds() / 86400 - data[key].days_ago) < 0.01
        started = event.created_at
        for step in steps[1:]:
            if step.elapsed_seconds is not None:
                assert step.elapsed_seconds == int((step.created_at - started).total_seconds())
                started = step.created_at
        assert event.status_changed_at == started
        if event.status in OPEN_STATUSES and not event.extension_count:
            unit, limits = event.category.effective_limits()
            expected = calendar.add_limit(started, limits[event.status], unit)
            assert event.state_deadline == expected, key
            if abs((expected - now).total_seconds()) > 300:  # not just passing now
                assert event.overdue == (expected < now), key
    # Every event's category is a shipped one.
    assert set(Event.objects.values_list("category__code", flat=True)) <= set(
        EventCategory.objects.values_list("code", flat=True)
    )
