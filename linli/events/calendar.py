"""Time limits: deadlines in hours or in working days.

Working days skip Saturdays, Sundays and the configured public holidays (``Holiday``), and count
the weekend days that are worked in their place (调休上班). A limit of N working days ends at the
same time of day N working days later; if the clock starts on a day off, counting starts at the
beginning of the next working day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.utils import timezone

from linli.events.choices import TIMED_STATUSES, LimitUnit

_CACHE_KEY = "events:holidays:v1"
_HORIZON_DAYS = 3660


def _days_off() -> tuple[frozenset[date], frozenset[date]]:
    cached = cache.get(_CACHE_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    from linli.events.models import Holiday

    holidays: set[date] = set()
    workdays: set[date] = set()
    for day, is_workday in Holiday.objects.values_list("date", "is_workday"):
        (workdays if is_workday else holidays).add(day)
    value = (frozenset(holidays), frozenset(workdays))
    cache.set(_CACHE_KEY, value, 3600)
    return value


def holidays_changed() -> None:
    cache.delete(_CACHE_KEY)


def is_workday(day: date) -> bool:
    holidays, workdays = _days_off()
    if day in workdays:
        return True
    if day in holidays:
        return False
    return day.weekday() < 5


def add_limit(start: datetime, amount: float, unit: str) -> datetime:
    """The deadline of a state entered at ``start`` that is allowed ``amount`` of ``unit``."""
    if amount <= 0:
        return start
    if unit == LimitUnit.HOURS:
        return start + timedelta(hours=amount)
    local = timezone.localtime(start)
    day = local.date()
    clock = local.timetz().replace(tzinfo=None)
    guard = 0
    if not is_workday(day):
        # The clock starts at the beginning of the next working day: counting from there,
        # N working days end when the Nth working day after it begins.
        while not is_workday(day):
            day += timedelta(days=1)
            guard += 1
            if guard > _HORIZON_DAYS:
                raise ValueError("no working day within ten years")
        clock = time(0, 0)
    whole = int(amount)
    counted = 0
    while counted < whole:
        day += timedelta(days=1)
        guard += 1
        if guard > _HORIZON_DAYS:
            raise ValueError("no working day within ten years")
        if is_workday(day):
            counted += 1
    deadline = timezone.make_aware(datetime.combine(day, clock), timezone.get_current_timezone())
    fraction = amount - whole
    if fraction:
        # A fraction of a working day is that share of 24 hours more; landing on a day off,
        # it moves on to the same time of the next working day.
        deadline += timedelta(hours=24 * fraction)
        while not is_workday(timezone.localtime(deadline).date()):
            deadline += timedelta(days=1)
            guard += 1
            if guard > _HORIZON_DAYS:
                raise ValueError("no working day within ten years")
    return deadline


def limit_seconds(start: datetime, amount: float, unit: str) -> int:
    return int((add_limit(start, amount, unit) - start).total_seconds())


def expected_completion(
    start: datetime, status: str, unit: str, limits: Mapping[str, float]
) -> datetime | None:
    """When the event should be done if every remaining state takes its full time: the
    ``expected_datetime`` of Open311. ``None`` when no remaining state has a limit."""
    if status not in TIMED_STATUSES:
        return None
    moment = start
    limited = False
    for state in TIMED_STATUSES[TIMED_STATUSES.index(status) :]:
        amount = limits.get(state)
        if amount:
            moment = add_limit(moment, amount, unit)
            limited = True
    return moment if limited else None
