"""The event lists: the workbench queues and the filters of the event list page.

Both only narrow rows that already came through the gate (``Event.objects.visible_to``); a
queue is a named filter, so the workbench's "see all" link opens the list with exactly the
rows the queue counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce
from operator import or_
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from linli.events import services
from linli.events.choices import (
    OPEN_STATUSES,
    EscalationLevel,
    EventPriority,
    EventSource,
    EventStatus,
)
from linli.events.models import Department, Event, EventCategory
from linli.utilities.scope import subtree_q

# How long after closing an event without a rating it waits in the follow-up queue.
FOLLOW_UP_DAYS = 30


# ---------------------------------------------------------------- who stands where


def department_ids(user: Any) -> list[int]:
    """The active departments the user handles events for (empty without handle_event)."""
    if not user.has_perm("events.handle_event"):
        return []
    cached: list[int] | None = getattr(user, "_event_department_ids", None)
    if cached is None:
        cached = list(user.departments.filter(retired_at__isnull=True).values_list("pk", flat=True))
        user._event_department_ids = cached
    return cached


def level_above_q(user: Any) -> Q | None:
    """Events the user rules on as the level above (``services.is_level_above`` as a query):
    a subdistrict for escalation levels 0 and 1 of its communities, the county for all."""
    parts: list[Q] = []
    for code in user.scope_codes():
        if len(code) <= 6:
            parts.append(subtree_q("region_code", code))
        elif len(code) <= 9:
            parts.append(
                subtree_q("region_code", code)
                & Q(escalation_level__lte=EscalationLevel.SUBDISTRICT)
            )
    return reduce(or_, parts) if parts else None


def in_scope(user: Any, rows: QuerySet[Event]) -> QuerySet[Event]:
    """Rows in the user's own area (a department member also sees others through the gate)."""
    return rows.within(user.scope_codes())  # type: ignore[attr-defined, no-any-return]


# ---------------------------------------------------------------- the queues


@dataclass(frozen=True)
class Queue:
    key: str
    title: Promise
    # Whether the user has this queue at all.
    offered: Callable[[Any], bool]
    # The queue's rows out of the rows the user may see.
    rows: Callable[[Any, QuerySet[Event]], QuerySet[Event]]
    # Shown in red when the queue holds anything (work that is late or waits on a ruling).
    alarm: bool = False


def _perm(code: str) -> Callable[[Any], bool]:
    return lambda user: bool(user.has_perm(code))


def _above(user: Any, rows: QuerySet[Event]) -> QuerySet[Event]:
    condition = level_above_q(user)
    return rows.filter(condition) if condition is not None else rows.none()


def _ruling(user: Any, rows: QuerySet[Event]) -> QuerySet[Event]:
    return _above(user, rows.filter(needs_ruling=True)).filter(
        status__in=[EventStatus.ACCEPTED, EventStatus.CLOSED]
    )


def _may_rule(user: Any) -> bool:
    return (
        user.has_perm("events.supervise_event") or user.has_perm("events.dispatch_event")
    ) and level_above_q(user) is not None


def _mine(status: str) -> Callable[[Any, QuerySet[Event]], QuerySet[Event]]:
    def rows(user: Any, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(department__in=department_ids(user), status=status)

    return rows


def _follow_up(user: Any, rows: QuerySet[Event]) -> QuerySet[Event]:
    since = timezone.now() - timedelta(days=FOLLOW_UP_DAYS)
    return in_scope(user, rows).filter(
        status=EventStatus.CLOSED, rated_at__isnull=True, closed_at__gte=since
    )


def _supervision(user: Any, rows: QuerySet[Event]) -> QuerySet[Event]:
    return rows & services.supervision_list(user)


QUEUES: tuple[Queue, ...] = (
    Queue(
        "accept",
        _("To accept"),
        _perm("events.accept_event"),
        lambda user, rows: in_scope(user, rows).filter(status=EventStatus.REPORTED),
    ),
    Queue(
        "dispatch",
        _("To dispatch"),
        _perm("events.dispatch_event"),
        lambda user, rows: in_scope(user, rows).filter(
            status=EventStatus.ACCEPTED, needs_ruling=False
        ),
    ),
    Queue("ruling", _("Awaiting your ruling"), _may_rule, _ruling, alarm=True),
    Queue(
        "extension",
        _("Extension requests"),
        lambda user: user.has_perm("events.supervise_event") and level_above_q(user) is not None,
        lambda user, rows: _above(
            user,
            rows.filter(status=EventStatus.SIGNED_FOR, extension_requested_until__isnull=False),
        ),
    ),
    Queue(
        "sign",
        _("My department: to sign for"),
        lambda user: bool(department_ids(user)),
        _mine(EventStatus.DISPATCHED),
    ),
    Queue(
        "handle",
        _("My department: being handled"),
        lambda user: bool(department_ids(user)),
        _mine(EventStatus.SIGNED_FOR),
    ),
    Queue(
        "review",
        _("To review"),
        _perm("events.review_event"),
        lambda user, rows: in_scope(user, rows).filter(status=EventStatus.HANDLED),
    ),
    Queue(
        "close",
        _("To close"),
        _perm("events.review_event"),
        lambda user, rows: in_scope(user, rows).filter(status=EventStatus.REVIEWED),
    ),
    Queue(
        "follow_up",
        _("To follow up"),
        _perm("events.followup_event"),
        _follow_up,
    ),
    Queue(
        "supervision",
        _("Supervision: overdue, urged or awaiting a ruling"),
        _perm("events.supervise_event"),
        _supervision,
        alarm=True,
    ),
)
QUEUE_BY_KEY = {queue.key: queue for queue in QUEUES}


def queues_for(user: Any) -> list[Queue]:
    return [queue for queue in QUEUES if queue.offered(user)]


def queue_rows(user: Any, key: str, rows: QuerySet[Event]) -> QuerySet[Event]:
    queue = QUEUE_BY_KEY.get(key)
    if queue is None or not queue.offered(user):
        return rows.none()
    return queue.rows(user, rows)


# ---------------------------------------------------------------- the list's filters

OPEN = "open"
STATUS_CHOICES = [(OPEN, _("Open (not finished)")), *EventStatus.choices]


def category_choices() -> list[tuple[int, str]]:
    """Every category in tree order, children indented under their parent."""
    categories = list(EventCategory.objects.all())
    children: dict[int | None, list[EventCategory]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    ordered: list[tuple[int, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for category in children.get(parent, []):
            ordered.append((category.pk, "\u3000" * depth + category.name))
            walk(category.pk, depth + 1)

    walk(None, 0)
    return ordered


def descendant_ids(category_id: int) -> set[int]:
    parents = dict(EventCategory.objects.values_list("pk", "parent_id"))
    found = {category_id}
    changed = True
    while changed:
        changed = False
        for pk, parent in parents.items():
            if parent in found and pk not in found:
                found.add(pk)
                changed = True
    return found


def departments_seen_by(user: Any) -> QuerySet[Department]:
    """Departments a list may be filtered by: those in the user's area and the user's own."""
    seen = Q(pk__in=department_ids(user))
    codes = user.scope_codes()
    if codes and (user.has_perm("events.view_event") or user.has_perm("events.view_department")):
        seen |= reduce(or_, (subtree_q("region__code", code) for code in codes))
        # Departments serving the whole area from above (a county department for a community).
        seen |= Q(region__code__in={code[:n] for code in codes for n in (2, 4, 6, 9, 12)})
    return Department.objects.filter(seen).order_by("region__code", "name")


ALL = _("All")
DATE_INPUT = forms.DateInput(attrs={"type": "date"})
FLAG = forms.CheckboxInput


class EventFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Number or title"), method="filter_q")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=STATUS_CHOICES, method="filter_status", empty_label=ALL
    )
    source = django_filters.ChoiceFilter(
        label=_("Source"), choices=EventSource.choices, empty_label=ALL
    )
    category = django_filters.ChoiceFilter(
        label=_("Event category"), choices=[], method="filter_category", empty_label=ALL
    )
    priority = django_filters.ChoiceFilter(
        label=_("Priority"), choices=EventPriority.choices, empty_label=ALL
    )
    department = django_filters.ModelChoiceFilter(
        label=_("Department"), queryset=Department.objects.none(), empty_label=ALL
    )
    region = django_filters.CharFilter(label=_("Region code"), method="filter_region")
    reported_from = django_filters.DateFilter(
        label=_("Reported from"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=DATE_INPUT,
    )
    reported_to = django_filters.DateFilter(
        label=_("Reported until"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=DATE_INPUT,
    )
    overdue = django_filters.BooleanFilter(label=_("Overdue"), method="filter_flag", widget=FLAG)
    supervised = django_filters.BooleanFilter(label=_("Urged"), method="filter_flag", widget=FLAG)
    escalated = django_filters.BooleanFilter(
        label=_("Escalated"), method="filter_flag", widget=FLAG
    )
    needs_ruling = django_filters.BooleanFilter(
        label=_("Awaiting a ruling"), method="filter_flag", widget=FLAG
    )
    queue = django_filters.ChoiceFilter(
        label=_("Queue"),
        choices=[(queue.key, queue.title) for queue in QUEUES],
        method="filter_queue",
        widget=forms.HiddenInput,
    )

    class Meta:
        model = Event
        fields = [
            "q",
            "status",
            "source",
            "category",
            "priority",
            "department",
            "region",
            "reported_from",
            "reported_to",
            "overdue",
            "supervised",
            "escalated",
            "needs_ruling",
            "queue",
        ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # Set on this instance's copies, dropping a form field a copied filter may already carry
        # (the schema generator builds the class-level fields once, with other choices).
        category, department = self.filters["category"], self.filters["department"]
        category.extra["choices"] = category_choices()
        department.queryset = departments_seen_by(user)
        for each in (category, department):
            each.__dict__.pop("_field", None)

    def filter_q(self, queryset: QuerySet[Event], name: str, value: str) -> QuerySet[Event]:
        value = value.strip()
        if not value:
            return queryset
        if value.isdigit() and len(value) >= 9:
            pk = Event.pk_from_number(value)
            return queryset.filter(Q(pk=pk) | Q(external_id=value))
        return queryset.filter(Q(title__icontains=value) | Q(external_id=value))

    def filter_status(self, queryset: QuerySet[Event], name: str, value: str) -> QuerySet[Event]:
        if value == OPEN:
            return queryset.filter(status__in=OPEN_STATUSES)
        return queryset.filter(status=value) if value else queryset

    def filter_category(self, queryset: QuerySet[Event], name: str, value: Any) -> Any:
        if not str(value or "").isdigit():
            return queryset
        return queryset.filter(category__in=descendant_ids(int(value)))

    def filter_region(self, queryset: QuerySet[Event], name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(subtree_q("region_code", value))

    def filter_flag(self, queryset: QuerySet[Event], name: str, value: bool | None) -> Any:
        if not value:
            return queryset
        if name == "escalated":
            return queryset.filter(escalation_level__gt=EscalationLevel.COMMUNITY)
        return queryset.filter(**{name: True})

    def filter_queue(self, queryset: QuerySet[Event], name: str, value: str) -> Any:
        return queue_rows(self.user, value, queryset) if value else queryset
