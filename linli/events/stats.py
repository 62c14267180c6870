"""Statistics of the event hub, within the viewer's scope.

Everything is counted over ``Event.objects.visible_to(actor)``: a community worker counts their
community's events, a department's member the events of their department, the county operator
the county's. The events counted are those **reported** in the chosen date range (local days,
both ends included), optionally in one region's subtree. Over them:

- counts by source, status, category (top level and leaf);
- average handling time, from signing for the event (签收, when the handling clock starts) to
  handling it, over the events that have both; average time from the report to the close,
  over the events closed;
- overdue share: the events that were overdue in any state (``ever_overdue``) among all;
- satisfaction: satisfied and basically satisfied ratings among the rated events;
- per handling department (the department the event is with now, or ended with) and per area
  one level below the chosen region (subdistricts of a county, communities of a subdistrict,
  grids of a community): received, closed, open, overdue, average handling time, satisfaction;
- reports per day.

A fixed handful of queries whatever the size (seven at most): the sums are grouped in the
database, the labels added here. The date range uses the index on ``created_at``. The page
keeps a county's or subdistrict's figures for a few minutes (``cached_event_stats``); the
export always counts afresh.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Count, DurationField, F, Q, QuerySet, Sum
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.events.choices import (
    OPEN_STATUSES,
    EventSource,
    EventStatus,
    Rating,
)
from linli.events.models import Department, Event, EventCategory
from linli.regions.choices import LEVEL_BY_LENGTH
from linli.regions.models import RegionNode
from linli.utilities.scope import normalise_codes, subtree_q

# The next level's code length below a region's (county → subdistricts → communities → grids).
CHILD_CODE_LENGTH = {6: 9, 9: 12, 12: 15}
MAX_RANGE_DAYS = 366
SATISFIED = (Rating.SATISFIED, Rating.BASICALLY)
_HANDLED = Q(signed_at__isnull=False, handled_at__isnull=False)
_CLOSED = Q(closed_at__isnull=False)
_RATED = ~Q(rating="")
_SPAN = DurationField()


@dataclass(frozen=True)
class StatsQuery:
    """What to count: events reported from ``start`` to ``end`` (local days, inclusive), in
    ``region``'s subtree (None: everything the viewer sees)."""

    start: date
    end: date
    region: RegionNode | None = None

    @property
    def since(self) -> datetime:
        return _local_midnight(self.start)

    @property
    def until(self) -> datetime:
        return _local_midnight(self.end + timedelta(days=1))


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def home_region(actor: Any) -> RegionNode | None:
    """The one region at the top of the viewer's area; None when it has several tops."""
    codes = normalise_codes(actor.scope_codes())
    if len(codes) != 1:
        return None
    return RegionNode.objects.filter(code=codes[0]).first()


@dataclass
class Tally:
    key: str
    label: str
    count: int
    share: float = 0.0

    @property
    def share_text(self) -> str:
        return percent(self.share)


@dataclass
class GroupRow:
    """One department's or one area's line."""

    key: str
    label: str
    received: int = 0
    closed: int = 0
    open: int = 0
    overdue: int = 0
    rated: int = 0
    satisfied: int = 0
    average_handling: timedelta | None = None

    @property
    def overdue_share(self) -> float | None:
        return self.overdue / self.received if self.received else None

    @property
    def satisfaction_share(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    @property
    def shown(self) -> dict[str, str]:
        return {
            "overdue_share": percent(self.overdue_share),
            "satisfaction_share": percent(self.satisfaction_share),
            "average_handling": hours_text(self.average_handling),
        }


@dataclass
class EventStats:
    query: StatsQuery
    computed_at: datetime
    total: int = 0
    open: int = 0
    closed: int = 0
    overdue: int = 0  # ever overdue
    overdue_now: int = 0  # open and overdue at this moment
    handled: int = 0  # with both sign-for and handling times
    average_handling: timedelta | None = None
    closed_timed: int = 0
    average_to_close: timedelta | None = None
    rated: int = 0
    satisfied: int = 0
    by_source: list[Tally] = field(default_factory=list)
    by_status: list[Tally] = field(default_factory=list)
    by_category: list[Tally] = field(default_factory=list)  # top level
    by_leaf: list[Tally] = field(default_factory=list)  # as reported, with the top level
    departments: list[GroupRow] = field(default_factory=list)
    areas: list[GroupRow] = field(default_factory=list)
    area_level: str = ""
    per_day: list[tuple[date, int]] = field(default_factory=list)

    @property
    def overdue_share(self) -> float | None:
        return self.overdue / self.total if self.total else None

    @property
    def satisfaction_share(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    @property
    def shown(self) -> dict[str, str]:
        return {
            "overdue_share": percent(self.overdue_share),
            "satisfaction_share": percent(self.satisfaction_share),
            "average_handling": hours_text(self.average_handling),
            "average_to_close": hours_text(self.average_to_close),
        }


def events_in(actor: Any, query: StatsQuery) -> QuerySet[Event]:
    """The events the statistics count: through the gate, reported in the range, in the
    region's subtree."""
    events = Event.objects.visible_to(actor).filter(
        created_at__gte=query.since, created_at__lt=query.until
    )
    if query.region is not None:
        events = events.filter(subtree_q("region_code", query.region.code))
    return events


def _group_figures() -> dict[str, Any]:
    """The figures of a department's or an area's line, as aggregates."""
    return {
        "received": Count("pk"),
        "closed_n": Count("pk", filter=Q(status=EventStatus.CLOSED)),
        "open_n": Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        "overdue_n": Count("pk", filter=Q(ever_overdue=True)),
        "rated_n": Count("pk", filter=_RATED),
        "satisfied_n": Count("pk", filter=Q(rating__in=SATISFIED)),
        "handling": Avg(F("handled_at") - F("signed_at"), filter=_HANDLED),
    }


def _row(key: str, label: str, values: Mapping[str, Any]) -> GroupRow:
    return GroupRow(
        key=key,
        label=label,
        received=values["received"],
        closed=values["closed_n"],
        open=values["open_n"],
        overdue=values["overdue_n"],
        rated=values["rated_n"],
        satisfied=values["satisfied_n"],
        average_handling=_duration(values["handling"]),
    )


def _duration(value: Any) -> timedelta | None:
    """An average of durations as the database returns it (a timedelta; a number of
    microseconds on some backends)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return timedelta(seconds=round(value.total_seconds()))
    return timedelta(seconds=round(float(value) / 1_000_000))


def event_stats(actor: Any, query: StatsQuery) -> EventStats:
    """The figures counted now."""
    events = events_in(actor, query)
    stats = EventStats(query=query, computed_at=timezone.now())
    _counts(stats, events)
    stats.departments = _departments(events)
    stats.areas, stats.area_level = _areas(events, query.region)
    stats.per_day = _per_day(events, query)
    return stats


def cached_event_stats(actor: Any, query: StatsQuery) -> EventStats:
    """The figures of a county, a subdistrict or a whole area, kept for
    ``LINLI_OVERVIEW_CACHE_SECONDS`` (300, as the register's overview) per viewer's reach and
    query: they take a second or more at county scale (bench/README.md). A community's or a
    grid's are counted live. The page shows when they were counted."""
    seconds = int(getattr(settings, "LINLI_OVERVIEW_CACHE_SECONDS", 300))
    region = query.region
    if seconds <= 0 or (region is not None and len(region.code) > 9):
        return event_stats(actor, query)
    key = "events:stats:v1:" + _reach(actor) + f":{query.start}:{query.end}:"
    key += region.code if region is not None else "-"
    found = cache.get(key)
    if found is None:
        found = event_stats(actor, query)
        cache.set(key, found, seconds)
    return found  # type: ignore[no-any-return]


def _reach(actor: Any) -> str:
    """What decides which events the viewer counts: scope, permissions, departments."""
    departments = sorted(
        actor.departments.filter(retired_at__isnull=True).values_list("pk", flat=True)
    )
    perms = [p for p in ("events.view_event", "events.handle_event") if actor.has_perm(p)]
    parts = (
        str(actor.pk),
        ",".join(normalise_codes(actor.scope_codes())),
        ",".join(perms),
        ",".join(map(str, departments)),
    )
    text = "|".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _counts(stats: EventStats, events: QuerySet[Event]) -> None:
    """One grouped query gives every count by source, status and category, and the sums the
    averages are made of."""
    grouped = (
        events.order_by()
        .values("category_id", "source", "status")
        .annotate(
            n=Count("pk"),
            late=Count("pk", filter=Q(ever_overdue=True)),
            late_now=Count("pk", filter=Q(overdue=True)),
            handled=Count("pk", filter=_HANDLED),
            handling=Sum(F("handled_at") - F("signed_at"), filter=_HANDLED, output_field=_SPAN),
            closed_timed=Count("pk", filter=_CLOSED),
            to_close=Sum(F("closed_at") - F("created_at"), filter=_CLOSED, output_field=_SPAN),
            rated=Count("pk", filter=_RATED),
            satisfied=Count("pk", filter=Q(rating__in=SATISFIED)),
        )
    )
    sources: dict[str, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    categories: dict[int, int] = defaultdict(int)
    handling = to_close = 0.0
    for row in grouped:
        n = row["n"]
        stats.total += n
        stats.overdue += row["late"]
        if row["status"] in OPEN_STATUSES:
            stats.open += n
            stats.overdue_now += row["late_now"]
        elif row["status"] == EventStatus.CLOSED:
            stats.closed += n
        sources[row["source"]] += n
        statuses[row["status"]] += n
        categories[row["category_id"]] += n
        stats.handled += row["handled"]
        handling += _seconds(row["handling"])
        stats.closed_timed += row["closed_timed"]
        to_close += _seconds(row["to_close"])
        stats.rated += row["rated"]
        stats.satisfied += row["satisfied"]
    if stats.handled:
        stats.average_handling = timedelta(seconds=round(handling / stats.handled))
    if stats.closed_timed:
        stats.average_to_close = timedelta(seconds=round(to_close / stats.closed_timed))
    total = stats.total
    stats.by_source = _ordered(EventSource.choices, sources, total)
    stats.by_status = _ordered(EventStatus.choices, statuses, total)
    stats.by_category, stats.by_leaf = _category_counts(categories, total)


def _seconds(value: Any) -> float:
    """A sum of durations as the database returns it (a timedelta, or microseconds)."""
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000


def _ordered(choices: Iterable[tuple[str, Any]], counts: dict[str, int], total: int) -> list[Tally]:
    """Every value of the vocabulary, in its own order, zeros included."""
    return [
        Tally(value, str(label), counts.get(value, 0), _share(counts.get(value, 0), total))
        for value, label in choices
    ]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _category_counts(counts: dict[int, int], total: int) -> tuple[list[Tally], list[Tally]]:
    """Leaf counts rolled up to their top-level category (the tree is small: read it once)."""
    nodes = {c.pk: c for c in EventCategory.objects.only("pk", "code", "name", "parent_id")}

    def top(pk: int) -> EventCategory:
        node = nodes[pk]
        seen = {pk}
        while node.parent_id is not None and node.parent_id in nodes:
            if node.parent_id in seen:
                break
            seen.add(node.parent_id)
            node = nodes[node.parent_id]
        return node

    tops: dict[int, int] = defaultdict(int)
    leaves = []
    for pk, n in counts.items():
        root = top(pk)
        tops[root.pk] += n
        node = nodes[pk]
        label = node.name if root.pk == pk else f"{root.name} / {node.name}"
        leaves.append(Tally(node.code, label, n, _share(n, total)))
    by_top = [Tally(nodes[pk].code, nodes[pk].name, n, _share(n, total)) for pk, n in tops.items()]
    by_top.sort(key=lambda c: (-c.count, c.key))
    leaves.sort(key=lambda c: (-c.count, c.key))
    return by_top, leaves


def _departments(events: QuerySet[Event]) -> list[GroupRow]:
    grouped = list(
        events.filter(department__isnull=False)
        .order_by()
        .values("department_id")
        .annotate(**_group_figures())
    )
    names = dict(
        Department.objects.filter(pk__in=[row["department_id"] for row in grouped]).values_list(
            "pk", "name"
        )
    )
    rows = [
        _row(str(row["department_id"]), names.get(row["department_id"], "?"), row)
        for row in grouped
    ]
    rows.sort(key=lambda r: (-r.received, r.label))
    return rows


def _areas(events: QuerySet[Event], region: RegionNode | None) -> tuple[list[GroupRow], str]:
    """Lines one level below the chosen region; communities when no region is chosen."""
    length = CHILD_CODE_LENGTH.get(len(region.code)) if region is not None else 12
    if length is None:
        return [], ""
    grouped = list(
        events.order_by()
        .annotate(area=Substr("region_code", 1, length))
        .values("area")
        .annotate(**_group_figures())
    )
    codes = [row["area"] for row in grouped]
    names = dict(RegionNode.objects.filter(code__in=codes).values_list("code", "name"))
    rows = []
    for row in grouped:
        code = row["area"]
        label = names.get(code, code)
        if len(code) < length:
            # Reported on the region itself (a community's event placed on no grid).
            label = _("%(name)s (not in a grid)") % {"name": label}
        rows.append(_row(code, label, row))
    rows.sort(key=lambda r: r.key)
    return rows, str(LEVEL_BY_LENGTH[length].label)


def _per_day(events: QuerySet[Event], query: StatsQuery) -> list[tuple[date, int]]:
    counted = {
        row["day"]: row["n"]
        for row in events.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("pk"))
    }
    days = (query.end - query.start).days + 1
    return [
        (query.start + timedelta(days=i), counted.get(query.start + timedelta(days=i), 0))
        for i in range(days)
    ]


def hours(value: timedelta | None) -> float | None:
    """A duration in hours, one decimal (what the page and the workbook show)."""
    if value is None:
        return None
    return round(value.total_seconds() / 3600, 1)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def hours_text(value: timedelta | None) -> str:
    shown = hours(value)
    return "—" if shown is None else _("%(hours).1f h") % {"hours": shown}
