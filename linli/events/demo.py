"""The event hub's part of ``linli demo``: the demo county's departments, its dispatch rules and
a few dozen events in 锦源社区 and 锦东社区 in every state — closed and rated, being handled,
waiting to be signed for, overdue and escalated, returned until the level above must rule,
extended, rejected, a merged duplicate, a reopened one, a mediation case, enforcement cases,
hotline tickets and device alarms.

Everything goes through the services (``config`` for departments, members and rules;
``services.report`` and ``services.transition`` for the events), so every timeline, audit entry
and notification is real. Only the clock is not: the steps of each event are made one after the
other in a second, then **re-timed** onto a plausible history (reported ``days_ago``, each step
``gap`` hours after the previous one), and the event's times, deadlines and the elapsed/allowed
time of each step are recomputed from the category's limits, as the services would have set
them on those days; a state that ran past its limit gets the overdue step the sweep would have
written. The audit entries keep the moment they were really written. Then the sweep runs, so
what is overdue now is marked and escalated, and the subdistrict urges two of them.

Idempotent: departments and rules are matched by name and by (area, category); each demo event
carries the idempotency key ``demo-<key>`` (device alarms the external number ``DEMO-<key>``),
and an event already there is skipped with its whole scenario.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.events import calendar, config, services
from linli.events.choices import (
    DepartmentKind,
    EventSource,
    EventStatus,
    StepAction,
)
from linli.events.defaults import load_default_categories
from linli.events.lifecycle import TRANSITIONS
from linli.events.models import Department, DispatchRule, Event, EventCategory, EventStep
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode

JINYUAN = "370124001022"  # 锦源社区
JINDONG = "370124001018"  # 锦东社区
COMMUNITIES = {"jinyuan": JINYUAN, "jindong": JINDONG}
DATA_FILE = Path(__file__).resolve().parent / "data" / "demo_events.yaml"
KEY_PREFIX = "demo-"
OPERATOR = "county_op"
# Near 锦源社区 in the county town (synthetic positions).
CENTRE = (Decimal("36.289000"), Decimal("116.447000"))


@dataclass(frozen=True)
class DemoDepartment:
    key: str
    name: str
    region: str
    kind: str = DepartmentKind.FUNCTIONAL
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One transition, ``gap`` hours after the previous step, by a demo account.
    ``department`` and ``into`` name a demo department and a demo event by key."""

    gap: float
    actor: str
    action: str
    note: str = ""
    department: str = ""
    rating: str = ""
    stage: str = ""
    into: str = ""


@dataclass(frozen=True)
class DemoEvent:
    key: str
    category: str
    place: str  # "jinyuan/1": the first grid of 锦源社区; "jindong": the community itself
    reporter: str | None  # a demo account; None: the system (device alarms)
    source: str
    description: str
    address: str
    days_ago: float
    position: tuple[int, int] | None = None  # metres north and east of CENTRE
    extra: dict[str, Any] = field(default_factory=dict)
    photo: bool = False
    house: bool = False
    caller: tuple[str, str] = ("", "")  # a hotline caller's name and phone
    steps: tuple[Step, ...] = ()

    @property
    def hours(self) -> float:
        """How long its steps take, reported to last."""
        return sum(step.gap for step in self.steps)


@dataclass(frozen=True)
class DemoData:
    departments: tuple[DemoDepartment, ...]
    rules: tuple[tuple[str, str, str], ...]
    events: tuple[DemoEvent, ...]
    urge: tuple[tuple[str, str, str], ...]

    def accounts(self) -> set[str]:
        """Every demo account the data names."""
        names = {name for department in self.departments for name in department.members}
        names |= {event.reporter for event in self.events if event.reporter}
        names |= {step.actor for event in self.events for step in event.steps}
        return names | {actor for _key, actor, _note in self.urge}


_STEP_OPTIONS = frozenset({"department", "rating", "stage", "into", "note"})


def read_demo_data(path: Path | None = None) -> DemoData:
    """The demo's departments, rules and events from the data file (strict: a typo fails
    the demo's tests, not a demo)."""
    data = yaml.safe_load((path or DATA_FILE).read_text(encoding="utf-8"))
    departments = tuple(
        DemoDepartment(
            key=str(item["key"]),
            name=str(item["name"]),
            region=str(item["region"]),
            kind=DepartmentKind(item.get("kind", DepartmentKind.FUNCTIONAL)).value,
            members=tuple(item.get("members") or ()),
        )
        for item in data["departments"]
    )
    rules = tuple((str(a), str(c), str(d)) for a, c, d in data["rules"])
    events = tuple(_read_event(item) for item in data["events"])
    urge = tuple((str(k), str(a), str(n)) for k, a, n in data.get("urge") or ())
    return DemoData(departments, rules, events, urge)


def _read_event(item: dict[str, Any]) -> DemoEvent:
    steps = []
    for raw in item.get("steps") or ():
        gap, actor, action, *rest = raw
        options = rest[0] if rest else {}
        unknown = set(options) - _STEP_OPTIONS
        if unknown or action not in TRANSITIONS:
            raise ValueError(f"demo event {item['key']}: bad step {raw!r}")
        steps.append(Step(float(gap), str(actor), str(action), **options))
    position = item.get("position")
    caller = item.get("caller") or ("", "")
    return DemoEvent(
        key=str(item["key"]),
        category=str(item["category"]),
        place=str(item["place"]),
        reporter=item.get("reporter"),
        source=EventSource(item["source"]).value,
        description=str(item["description"]),
        address=str(item["address"]),
        days_ago=float(item["days_ago"]),
        position=(int(position[0]), int(position[1])) if position else None,
        extra=dict(item.get("extra") or {}),
        photo=bool(item.get("photo", False)),
        house=bool(item.get("house", False)),
        caller=(str(caller[0]), str(caller[1])),
        steps=tuple(steps),
    )


@dataclass
class DemoEventsSummary:
    departments_created: int = 0
    members_added: int = 0
    rules_created: int = 0
    categories_created: int = 0
    events_created: int = 0
    scenarios_skipped: int = 0
    marked_overdue: int = 0
    escalated: int = 0
    urged: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def load_demo_events(
    users: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
    data: DemoData | None = None,
) -> DemoEventsSummary:
    """Departments, rules and demo events for the demo county (idempotent). ``users`` maps
    the demo usernames to accounts (``load_demo()["users"]``); missing ones are looked up.
    The county operator (``county_op``) creates the departments and the rules."""
    from linli.accounts.models import User

    now = now or timezone.now()
    data = data or read_demo_data()
    summary = DemoEventsSummary()
    accounts = dict(users or {})
    for username in (data.accounts() | {OPERATOR}) - set(accounts):
        accounts[username] = User.objects.get(username=username)
    summary.categories_created = load_default_categories()
    departments = _departments(accounts[OPERATOR], accounts, data, summary)
    _rules(accounts[OPERATOR], departments, data, summary)
    made: dict[str, Event] = {
        event.idempotency_key.removeprefix(KEY_PREFIX): event
        for event in Event.objects.filter(idempotency_key__startswith=KEY_PREFIX)
    }
    made.update(
        {
            event.external_id.removeprefix("DEMO-"): event
            for event in Event.objects.filter(
                source=EventSource.DEVICE, external_id__startswith="DEMO-"
            )
        }
    )
    created: list[str] = []
    for spec in data.events:
        if spec.key in made:
            summary.scenarios_skipped += 1
            continue
        with transaction.atomic():
            made[spec.key] = _play(spec, accounts, departments, made, now)
        created.append(spec.key)
    summary.events_created = len(created)
    if created:
        swept = services.sweep(now)
        summary.marked_overdue, summary.escalated = swept.overdue, swept.escalated
        for key, username, note in data.urge:
            if key in created and made[key].is_open:
                made[key] = services.transition(accounts[username], made[key].pk, "urge", note=note)
                summary.urged += 1
    for event in Event.objects.filter(pk__in=[e.pk for e in made.values()]):
        summary.by_status[event.status] = summary.by_status.get(event.status, 0) + 1
    return summary


def _departments(
    actor: Any, accounts: Mapping[str, Any], data: DemoData, summary: DemoEventsSummary
) -> dict[str, Department]:
    found: dict[str, Department] = {}
    with transaction.atomic():
        for spec in data.departments:
            region = RegionNode.objects.get(code=spec.region)
            department = Department.objects.filter(region=region, name=spec.name).first()
            if department is None:
                department = config.create_department(
                    actor, region=region, name=spec.name, kind=spec.kind
                )
                summary.departments_created += 1
            for username in spec.members:
                user = accounts[username]
                if not department.members.filter(pk=user.pk).exists():
                    config.add_member(actor, department, user)
                    summary.members_added += 1
            found[spec.key] = department
    return found


def _rules(
    actor: Any,
    departments: Mapping[str, Department],
    data: DemoData,
    summary: DemoEventsSummary,
) -> None:
    categories = {c.code: c for c in EventCategory.objects.all()}
    with transaction.atomic():
        for code, category_code, key in data.rules:
            category = categories.get(category_code)
            if category is None:
                continue  # the county removed that category
            region = RegionNode.objects.get(code=code)
            if DispatchRule.objects.filter(region=region, category=category).exists():
                continue
            config.save_rule(actor, region=region, category=category, department=departments[key])
            summary.rules_created += 1


# ---------------------------------------------------------------- one scenario


def _place(spec: DemoEvent) -> services.Place:
    community, _sep, grid = spec.place.partition("/")
    code = COMMUNITIES[community]
    region = RegionNode.objects.get(code=code)
    if grid:
        grids = list(
            RegionNode.objects.filter(
                parent=region, level=RegionLevel.GRID, retired_at__isnull=True
            ).order_by("code")
        )
        if grids:
            region = grids[min(int(grid), len(grids)) - 1]
    house = None
    if spec.house:
        from linli.registry.models import House

        house = (
            House.objects.filter(region__code__startswith=code, retired_at__isnull=True)
            .select_related("region")
            .order_by("pk")
            .first()
        )
        if house is not None:
            region = house.region
    latitude = longitude = None
    if spec.position is not None:
        north, east = spec.position
        latitude = (CENTRE[0] + Decimal(north) / Decimal(111_320)).quantize(Decimal("0.000001"))
        longitude = (CENTRE[1] + Decimal(east) / Decimal(89_700)).quantize(Decimal("0.000001"))
    return services.Place(
        region=region,
        house=house,
        address=spec.address,
        latitude=latitude,
        longitude=longitude,
    )


def _photo(seed: str) -> SimpleUploadedFile:
    """A small synthetic picture (coloured blocks), standing in for a phone photo."""
    from PIL import Image, ImageDraw

    colour = sum(seed.encode()) % 200
    image = Image.new("RGB", (320, 240), (90 + colour // 4, 110, 80 + colour // 3))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 120, 280, 220), fill=(160, 150, 130))
    draw.rectangle((120, 60, 200, 140), fill=(60 + colour // 2, 70, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    return SimpleUploadedFile(f"{seed}.jpg", buffer.getvalue(), content_type="image/jpeg")


def _play(
    spec: DemoEvent,
    accounts: Mapping[str, Any],
    departments: Mapping[str, Department],
    made: Mapping[str, Event],
    now: datetime,
) -> Event:
    """Report the event and make its steps through the services, then re-time them."""
    moment = now - timedelta(days=spec.days_ago)
    timeline: list[tuple[datetime, int]] = []  # (simulated time, last step pk before the call)

    def call(fn: Callable[..., Event], *args: Any, **kwargs: Any) -> Event:
        before = EventStep.objects.aggregate(last=Max("pk"))["last"] or 0
        timeline.append((moment, before))
        return fn(*args, **kwargs)

    category = EventCategory.objects.get(code=spec.category)
    reporter = accounts[spec.reporter] if spec.reporter else None
    place = _place(spec)
    if spec.house and place.house is None:
        # A demo without a register (--scale 0) has no house to repair in: a common repair.
        category = EventCategory.objects.get(code="property-common-repair")
    event = call(
        services.report,
        reporter,
        category=category,
        place=place,
        description=spec.description,
        source=spec.source,
        photos=[_photo(spec.key)] if spec.photo else [],
        extra=dict(spec.extra),
        reporter_name=spec.caller[0],
        reporter_phone=spec.caller[1],
        idempotency_key=KEY_PREFIX + spec.key if reporter is not None else "",
        external_id="DEMO-" + spec.key if reporter is None else "",
    )
    for step in spec.steps:
        moment += timedelta(hours=step.gap)
        actor = accounts[step.actor]
        options: dict[str, Any] = {"note": step.note}
        if step.department:
            options["department"] = departments[step.department]
        if step.rating:
            options["rating"] = step.rating
        if step.stage:
            options["stage"] = step.stage
        if step.into:
            options["into"] = made[step.into]
        if step.action == "request_extension":
            # Any later moment will do here: the re-timing sets the real one.
            options["until"] = timezone.now() + timedelta(days=60)
        event = call(services.transition, actor, event.pk, step.action, **options)
    if moment >= now:
        raise ValueError(f"demo event {spec.key} ends in the future")
    touched = _place_on_timeline(timeline)
    for pk in touched:
        retime(Event.objects.select_related("category").get(pk=pk))
    event.refresh_from_db()
    return event


def _place_on_timeline(timeline: list[tuple[datetime, int]]) -> set[int]:
    """Give the steps each call made its simulated time (a second apart within one call, so
    their order stays); returns the events they belong to."""
    touched: set[int] = set()
    bounds = [before for _moment, before in timeline[1:]] + [None]
    for (moment, before), until in zip(timeline, bounds, strict=True):
        steps = EventStep.objects.filter(pk__gt=before)
        if until is not None:
            steps = steps.filter(pk__lte=until)
        for index, step in enumerate(steps.order_by("pk")):
            step.created_at = moment + timedelta(seconds=index)
            step.save(update_fields=["created_at"])
            touched.add(step.event_id)
    return touched


# ---------------------------------------------------------------- re-timing


def retime(event: Event) -> None:
    """Recompute an event's times from its timeline as the services would have set them had
    each step happened at its step's time: the clock of each state, its deadline from the
    category's limits (or an approved extension: three days past the deadline), the elapsed
    and allowed time of each step, and an overdue step where a state ran past its limit."""
    steps = list(event.steps.order_by("created_at", "pk"))
    unit, limits = event.category.effective_limits()

    def deadline_of(start: datetime, status: str) -> datetime | None:
        amount = limits.get(status)
        return calendar.add_limit(start, amount, unit) if amount else None

    report = steps[0]
    clock = report.created_at
    clock_department = report.department_id
    deadline = deadline_of(clock, EventStatus.REPORTED)
    expected = calendar.expected_completion(clock, EventStatus.REPORTED, unit, limits)
    times: dict[str, datetime | None] = dict.fromkeys(
        ("signed_at", "handled_at", "closed_at", "rated_at", "escalated_at")
    )
    requested: datetime | None = None
    late = False
    last_return: datetime | None = None
    # Overdue steps written by an earlier re-timing of this event (a merge re-times its target).
    written = {(s.from_status, s.created_at) for s in steps if s.action == StepAction.OVERDUE}
    overdue_steps: list[EventStep] = []
    for step in steps[1:]:
        moment = step.created_at
        if step.action == StepAction.OVERDUE:
            continue
        if step.action == StepAction.RETURN:
            last_return = moment
        if step.action == StepAction.REQUEST_EXTENSION and deadline is not None:
            requested = deadline + timedelta(days=3)
            step.data = {**step.data, "until": requested.isoformat()}
        elif step.action == StepAction.APPROVE_EXTENSION and requested is not None:
            step.data = {**step.data, "until": requested.isoformat()}
            deadline, requested = requested, None
            expected = calendar.expected_completion(deadline, EventStatus.HANDLED, unit, limits)
        if step.elapsed_seconds is not None:  # this step ended a state (or restarted its clock)
            step.elapsed_seconds = int((moment - clock).total_seconds())
            step.allowed_seconds = int((deadline - clock).total_seconds()) if deadline else None
            if deadline is not None and moment > deadline:
                late = True
                if (step.from_status, deadline) not in written:
                    overdue_steps.append(
                        _overdue_step(event, step.from_status, deadline, clock_department)
                    )
            clock, clock_department = moment, step.department_id
            deadline = deadline_of(moment, step.to_status)
            expected = calendar.expected_completion(moment, step.to_status, unit, limits)
        _note_time(times, step, moment)
    if event.status in (EventStatus.CLOSED, EventStatus.REJECTED, EventStatus.MERGED):
        deadline = expected = None
    if times["escalated_at"] is None and event.escalated_at is not None:
        times["escalated_at"] = last_return  # escalated by the last return allowed
    EventStep.objects.bulk_update(steps, ["elapsed_seconds", "allowed_seconds", "data"])
    EventStep.objects.bulk_create(overdue_steps)
    Event.objects.filter(pk=event.pk).update(
        created_at=report.created_at,
        status_changed_at=clock,
        state_deadline=deadline,
        expected_at=expected,
        extension_requested_until=requested if event.extension_requested_until else None,
        overdue=False,
        overdue_since=None,
        ever_overdue=late,
        **times,
    )


def _note_time(times: dict[str, datetime | None], step: EventStep, moment: datetime) -> None:
    action = step.action
    if action == StepAction.SIGN:
        times["signed_at"] = moment
    elif action == StepAction.HANDLE:
        times["handled_at"] = moment
    elif action == StepAction.SEND_BACK:
        times["handled_at"] = None
    elif action == StepAction.CLOSE and step.from_status == EventStatus.REVIEWED:
        times["closed_at"] = moment
    elif action == StepAction.REOPEN:
        times["closed_at"] = times["signed_at"] = None
    elif action in (StepAction.RATE, StepAction.FOLLOW_UP):
        times["rated_at"] = moment
    elif action == StepAction.ESCALATE:
        times["escalated_at"] = moment


def _overdue_step(
    event: Event, status: str, deadline: datetime, department_id: int | None
) -> EventStep:
    """The step the sweep writes when a state's time limit passes."""
    return EventStep(
        event_id=event.pk,
        action=StepAction.OVERDUE,
        actor_name=_("System"),
        department_id=department_id,
        from_status=status,
        to_status=status,
        note=_("The time limit of this step passed at %(deadline)s.")
        % {"deadline": f"{timezone.localtime(deadline):%Y-%m-%d %H:%M}"},
        created_at=deadline,
    )
