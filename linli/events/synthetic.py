"""A synthetic event history for a county, for the benchmarks: ``history`` events that ran
their course over the last ``days`` days and ``open_events`` still open, with timelines as the
services write them.

What it contains: events of the shipped categories (weighted as a county's grid system sees
them: 市容环境 most), spread over the county's communities (towns' residential communities
three times as many as villages; a community's grids where it has them), from every source
(device alarms for the 设备告警 categories, the hotline for 12345 转办). Closed events went
report → accept → dispatch → sign → handle → review → close, most rated afterwards; some were
returned and dispatched again, extended, reopened after an unsatisfied rating, rejected, or
merged into the event before them; mediation and enforcement cases record their stages. Each
state lasts a share of its time limit (from the category, in hours or working days); a few run
past it and get the overdue step the sweep writes, escalations after the grace period and, for
some, an urging note (which leaves them ``supervised``, as the service does).

Open events are in every state. Their deadlines are spread so that the county looks like one
whose sweep has been running: about 8 % are marked overdue already (escalated as far as their
age says), 1 % passed their deadline within the last hour and are not marked yet, and 0.25 %
are overdue and due for escalation now — what a sweep run finds.

Deterministic: one ``random.Random`` stream per (seed, county) and a fixed ``now`` give the same
rows. Written in bulk (PostgreSQL ``COPY``, SQLite multi-row inserts), in chunks of
``CHUNK`` events, one transaction each; one summarising audit entry at the end, which also
marks the load as done: running it again with the same arguments adds nothing while the events
are there. No service runs per event and no notification is sent: this is history.
"""

from __future__ import annotations

import json
import random
import time
from bisect import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from functools import cache, partial
from itertools import accumulate
from types import SimpleNamespace
from typing import Any, Final

from django.db import connection, models, transaction
from django.utils import timezone

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.events import calendar, services
from linli.events.choices import (
    CategoryKind,
    DepartmentKind,
    EscalationLevel,
    EventSource,
    EventStatus,
    LimitUnit,
    Rating,
    StepAction,
)
from linli.events.defaults import load_default_categories
from linli.events.models import Department, Event, EventCategory, EventStep
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode

DEFAULT_SEED: Final = 370124
DEFAULT_DAYS: Final = 730
CHUNK: Final = 5000
# The share of states that run past their time limit (about 10 % of events, once or more).
LATE_SHARE: Final = 0.015
MARKER_TYPE: Final = "events.synthetic"
# The vocabularies as plain strings: enum members cost on every comparison and format.
S: Any = SimpleNamespace(**{member.name: str(member.value) for member in EventStatus})
A: Any = SimpleNamespace(**{member.name: str(member.value) for member in StepAction})
SUBDISTRICT: Final = int(EscalationLevel.SUBDISTRICT)
COUNTY_LEVEL: Final = int(EscalationLevel.COUNTY)

# Shares of top-level categories among a county's events.
TOP_WEIGHTS: Final = {
    "cityscape": 30,
    "facilities": 12,
    "safety": 10,
    "public-order": 6,
    "disputes": 5,
    "enforcement": 3,
    "livelihood": 10,
    "property": 12,
    "alarms": 7,
    "hotline": 4,
    "other": 1,
}
SOURCES: Final = (
    (EventSource.GRID, 45),
    (EventSource.RESIDENT, 20),
    (EventSource.HOTLINE, 15),
    (EventSource.PATROL, 8),
    (EventSource.INSPECTION, 6),
    (EventSource.WINDOW, 4),
    (EventSource.OPEN311, 2),
)
OPEN_STATES: Final = (
    (S.REPORTED, 6),
    (S.ACCEPTED, 6),
    (S.DISPATCHED, 16),
    (S.SIGNED_FOR, 52),
    (S.HANDLED, 10),
    (S.REVIEWED, 10),
)
RATINGS: Final = ((Rating.SATISFIED, 78), (Rating.BASICALLY, 17), (Rating.UNSATISFIED, 5))
SECOND_RATINGS: Final = ((Rating.SATISFIED, 40), (Rating.BASICALLY, 35), (Rating.UNSATISFIED, 25))
# County departments by top-level category: (name, kind, share).
COUNTY_DEPARTMENTS: Final = {
    "cityscape": (("平阴县综合行政执法局", 1.0),),
    "enforcement": (("平阴县综合行政执法局", 0.8), ("平阴县市场监督管理局", 0.2)),
    "facilities": (("平阴县住房和城乡建设局", 0.7), ("平阴县水务局", 0.3)),
    "safety": (
        ("平阴县消防救援大队", 0.6),
        ("平阴县燃气公司", 0.2),
        ("平阴县市场监督管理局", 0.2),
    ),
    "public-order": (("平阴县公安局", 1.0),),
    "alarms": (("平阴县消防救援大队", 0.7), ("平阴县住房和城乡建设局", 0.3)),
}
UTILITIES: Final = {"平阴县燃气公司"}
# The rest go to the community's committee.
NOTES: Final = {
    A.HANDLE: ("已处置完毕，现场恢复正常。", "已安排人员处理，复查无问题。", "已整改到位。"),
    A.REJECT: ("经核实不属于受理范围，已向反映人说明。", "信息不全，无法核实。"),
    A.RETURN: ("不属于本部门职责范围。",),
    A.REQUEST_EXTENSION: ("需协调多个部门，申请延期。",),
    A.URGE: ("已超时，请尽快办理并反馈。",),
}
DISPUTE_TYPES: Final = ("邻里纠纷", "婚姻家庭纠纷", "物业纠纷", "劳资纠纷", "土地宅基地纠纷")
SURNAMES: Final = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
COUNTY_CENTRE: Final = (36.29, 116.45)


@dataclass
class SyntheticHistory:
    history: int
    open_events: int
    seed: int
    loaded: bool = False
    events: int = 0
    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process: the database's own work is the difference
    overdue_marked: int = 0
    overdue_unmarked: int = 0
    escalation_due: int = 0


@dataclass
class _Leaf:
    pk: int
    code: str
    name: str
    top: str
    unit: str
    limits: dict[str, float]
    priority: str
    kind: str
    stages: list[str]


@dataclass
class _Area:
    region_id: int
    code: str
    community: str  # the community's name, for addresses
    committee: int  # its committee's department


@dataclass
class _Made:
    """One generated event: its row values and its timeline."""

    pk: int
    values: dict[str, Any]
    steps: list[tuple[Any, ...]] = field(default_factory=list)


class _Deadlines:
    """``calendar.add_limit`` for a million starts. A whole number of working days ends at the
    start's clock time on a later day (at midnight for a start on a day off), so the calendar
    is asked once per (day, amount) and the answer kept as an offset from the day's clock base
    (the county's time zone has no daylight saving); fractions go to the calendar."""

    def __init__(self) -> None:
        self.memo: dict[tuple[date, float], tuple[timedelta, bool]] = {}
        self.zone = timezone.get_current_timezone()

    def __call__(self, start: datetime, amount: float | None, unit: str) -> datetime | None:
        if not amount:
            return None
        if unit == LimitUnit.HOURS:
            return start + timedelta(hours=amount)
        if amount != int(amount):
            # A fraction of a working day may land on a day off and move on from there, which
            # depends on the start's clock time: ask the calendar itself.
            return calendar.add_limit(start, amount, unit)
        local = start.astimezone(self.zone)
        day = local.date()
        hit = self.memo.get((day, amount))
        if hit is None:
            workday = calendar.is_workday(day)
            base = datetime.combine(day, clock_time(12 if workday else 0), self.zone)
            hit = self.memo[(day, amount)] = (
                calendar.add_limit(base, amount, unit) - base,
                workday,
            )
        offset, workday = hit
        if workday:
            return start + offset
        return datetime.combine(day, clock_time(0), self.zone) + offset


def load_event_history(
    history: int,
    open_events: int,
    *,
    seed: int = DEFAULT_SEED,
    county: str = "370124",
    now: datetime | None = None,
    days: int = DEFAULT_DAYS,
    progress: Callable[[str], None] | None = None,
) -> SyntheticHistory:
    """Write the history (see the module's docstring); returns what was written."""
    summary = SyntheticHistory(history, open_events, seed)
    marker = f"{county}:{seed}:{history}:{open_events}:{days}"
    from linli.audit.models import AuditEntry

    done = AuditEntry.objects.filter(object_type=MARKER_TYPE, object_id=marker).exists()
    if done and Event.objects.filter(region_code__startswith=county).count() >= history:
        return summary  # loaded before, and still there
    started, cpu = time.perf_counter(), time.process_time()
    now = now or timezone.now()
    load_default_categories()
    generator = _Generator(random.Random(f"events:{seed}:{county}"), county, now)
    step_writer = _Writer(EventStep, STEP_COLUMNS, with_pk=False)
    event_writer = _Writer(Event, EVENT_COLUMNS, with_pk=True)
    span = timedelta(days=days)
    total = history + open_events
    for first in range(0, total, CHUNK):
        count = min(CHUNK, total - first)
        with transaction.atomic():
            ids = _reserve_ids(count)
            made: list[_Made] = []
            for offset, pk in enumerate(ids):
                index = first + offset
                if index < history:
                    # Chronological: the record ids grow with the report time, as in real use.
                    created = now - span + span * (index / max(1, history))
                    created += timedelta(seconds=generator.rng.uniform(0, 60))
                    made.append(generator.history_event(pk, created, made[-1] if made else None))
                else:
                    made.append(generator.open_event(pk))
            event_writer.write([_Writer.row(m.values, EVENT_COLUMNS) for m in made])
            steps = [step for m in made for step in m.steps]
            step_writer.write(steps)
        summary.events += count
        summary.steps += len(steps)
        if progress is not None and (first // CHUNK) % 20 == 19:
            progress(
                f"{summary.events:,} events, {summary.steps:,} steps "
                f"({time.perf_counter() - started:.0f} s)"
            )
    summary.overdue_marked = generator.marked
    summary.overdue_unmarked = generator.unmarked
    summary.escalation_due = generator.due
    summary.seconds = time.perf_counter() - started
    summary.cpu_seconds = time.process_time() - cpu
    summary.loaded = True
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Event._meta.db_table}")
            cursor.execute(f"ANALYZE {EventStep._meta.db_table}")
    audit.record(
        AuditAction.CREATE,
        object_type=MARKER_TYPE,
        object_id=marker,
        object_repr="synthetic event history",
        actor_name="system",
        region_code=county,
        note=(
            f"{summary.events} synthetic events ({history} history, {open_events} open), "
            f"{summary.steps} steps, seed {seed}"
        ),
    )
    return summary


def _reserve_ids(count: int) -> list[int]:
    """Primary keys for the next events: from the sequence (PostgreSQL), or after the largest
    (SQLite, whose write lock the transaction holds)."""
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [int(row[0]) for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        last = int(cursor.fetchone()[0])
    return list(range(last + 1, last + count + 1))


# ---------------------------------------------------------------- the rows

EVENT_COLUMNS: Final = (
    "id",
    "source",
    "category_id",
    "title",
    "description",
    "region_id",
    "region_code",
    "address",
    "latitude",
    "longitude",
    "priority",
    "status",
    "department_id",
    "status_changed_at",
    "state_deadline",
    "expected_at",
    "overdue",
    "overdue_since",
    "ever_overdue",
    "escalation_level",
    "escalated_at",
    "supervised",
    "needs_ruling",
    "return_count",
    "reopen_count",
    "extension_count",
    "merged_into_id",
    "stage",
    "extra",
    "rating",
    "rating_comment",
    "rated_at",
    "signed_at",
    "handled_at",
    "closed_at",
    "created_at",
    "updated_at",
    "version",
)
STEP_COLUMNS: Final = (
    "event_id",
    "action",
    "actor_name",
    "department_id",
    "from_status",
    "to_status",
    "note",
    "public",
    "elapsed_seconds",
    "allowed_seconds",
    "data",
    "created_at",
)


class _Writer:
    """Bulk insert of plain tuples: PostgreSQL ``COPY`` (text format, built here), SQLite
    multi-row ``INSERT``. Columns not supplied take the field's default."""

    def __init__(self, model: type[models.Model], supplied: Sequence[str], *, with_pk: bool):
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        unknown = set(supplied) - {f.attname for f in fields}
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        position = {name: i for i, name in enumerate(supplied)}
        self.table = model._meta.db_table
        self.columns = [str(f.column) for f in fields]
        self.fields = fields
        # For every column: the index in the supplied tuple, or a fixed default.
        self.plan: list[tuple[int | None, Any]] = []
        for f in fields:
            if f.attname in position:
                self.plan.append((position[f.attname], None))
            else:
                default = f.get_default()
                if default is None and not f.null:
                    raise ValueError(f"{model.__name__}.{f.attname} needs a value")
                self.plan.append((None, default))
        self.kinds = [_kind(f) for f in fields]

    @staticmethod
    def row(values: dict[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
        return tuple(values[name] for name in columns)

    def _full(self, rows: Iterable[Sequence[Any]]) -> Iterable[list[Any]]:
        plan = self.plan
        for row in rows:
            yield [row[i] if i is not None else default for i, default in plan]

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if connection.vendor == "postgresql":
            self._copy(rows)
        else:
            self._insert(rows)

    def _copy(self, rows: Sequence[Sequence[Any]]) -> None:
        formats = [_COPY_FORMAT[kind] for kind in self.kinds]
        columns = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        sql = f"COPY {connection.ops.quote_name(self.table)} ({columns}) FROM STDIN"
        lines = []
        for full in self._full(rows):
            lines.append(
                "\t".join(
                    "\\N" if value is None else fmt(value)
                    for value, fmt in zip(full, formats, strict=True)
                )
            )
        payload = ("\n".join(lines) + "\n").encode()
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for start in range(0, len(payload), 1 << 20):
                copy.write(payload[start : start + (1 << 20)])

    def _insert(self, rows: Sequence[Sequence[Any]]) -> None:
        ops = connection.ops
        converters: list[Callable[[Any], Any] | None] = []
        for f, kind in zip(self.fields, self.kinds, strict=True):
            if kind == "datetime":
                converters.append(ops.adapt_datetimefield_value)
            elif kind == "decimal":
                converters.append(partial(_decimal, field=f))
            elif kind == "json":
                converters.append(_json)
            else:
                converters.append(None)
        columns = ", ".join(ops.quote_name(c) for c in self.columns)
        placeholder = "(" + ", ".join(["%s"] * len(self.columns)) + ")"
        step = max(1, min(500, 30_000 // len(self.columns)))
        with connection.cursor() as cursor:
            batch: list[Any] = []
            count = 0
            for full in self._full(rows):
                batch.extend(
                    value if convert is None or value is None else convert(value)
                    for value, convert in zip(full, converters, strict=True)
                )
                count += 1
                if count == step:
                    self._flush(cursor, columns, placeholder, batch, count)
                    batch, count = [], 0
            if count:
                self._flush(cursor, columns, placeholder, batch, count)

    def _flush(
        self, cursor: Any, columns: str, placeholder: str, params: list[Any], n: int
    ) -> None:
        values = ", ".join([placeholder] * n)
        table = connection.ops.quote_name(self.table)
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608


def _kind(f: models.Field[Any, Any]) -> str:
    if isinstance(f, models.DateTimeField):
        return "datetime"
    if isinstance(f, models.DecimalField):
        return "decimal"
    if isinstance(f, models.JSONField):
        return "json"
    if isinstance(f, models.BooleanField):
        return "bool"
    if isinstance(f, (models.IntegerField, models.ForeignKey)):
        return "int"
    return "text"


def _decimal(value: Any, field: Any) -> Any:
    return connection.ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)


def _json(value: Any) -> str:
    if not value:
        return "{}"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _text(value: Any) -> str:
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


_COPY_FORMAT: Final[dict[str, Callable[[Any], str]]] = {
    "datetime": lambda v: v.isoformat(),
    "decimal": str,
    "json": lambda v: _text(_json(v)),
    "bool": lambda v: "t" if v else "f",
    "int": str,
    "text": _text,
}


# ---------------------------------------------------------------- the generator


class _Generator:
    def __init__(self, rng: random.Random, county: str, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.deadline = _Deadlines()
        self.marked = self.unmarked = self.due = 0
        # Escalation after the sweep's grace period (LINLI_EVENT_ESCALATION_GRACE_HOURS).
        self.grace = services.escalation_grace()
        self.tables: dict[int, tuple[list[Any], list[float]]] = {}
        self.leaves = _leaves()
        if not self.leaves:
            raise ValueError("no event categories: load the default categories first")
        by_top: dict[str, list[_Leaf]] = {}
        for leaf in self.leaves:
            by_top.setdefault(leaf.top, []).append(leaf)
        self.tops = sorted(by_top)
        self.by_top = by_top
        self.top_weights = list(accumulate(TOP_WEIGHTS.get(top, 1) for top in self.tops))
        self.hourly = [leaf for leaf in self.leaves if leaf.unit == LimitUnit.HOURS]
        self.areas, weights = _areas(county)
        # Cumulative weights: a draw is a bisection, not a pass over every area.
        self.area_weights = list(accumulate(weights))
        self.departments = _county_departments(county)
        self.names = [f"{s}{g}" for s in SURNAMES for g in ("工", "师傅", "主任", "科长")]

    # -- drawing

    def pick(self, pairs: Sequence[tuple[Any, float]]) -> Any:
        """A weighted draw; the cumulative weights of each table are computed once."""
        table = self.tables.get(id(pairs))
        if table is None:
            values = [str(p[0]) if isinstance(p[0], str) else p[0] for p in pairs]
            table = self.tables[id(pairs)] = (values, list(accumulate(p[1] for p in pairs)))
        return self.draw(table[0], table[1])

    def leaf(self, hourly_only: bool = False) -> _Leaf:
        if hourly_only and self.hourly:
            return self.rng.choice(self.hourly)
        top = self.draw(self.tops, self.top_weights)
        return self.rng.choice(self.by_top[top])

    def area(self) -> _Area:
        return self.draw(self.areas, self.area_weights)

    def source(self, leaf: _Leaf) -> str:
        if leaf.top == "alarms":
            return str(EventSource.DEVICE)
        if leaf.top == "hotline":
            return str(EventSource.HOTLINE)
        return str(self.pick(SOURCES))

    def department(self, leaf: _Leaf, area: _Area) -> int:
        choices = COUNTY_DEPARTMENTS.get(leaf.top)
        if not choices:
            return area.committee
        return int(self.departments[self.pick(choices)])

    def base(self, pk: int, leaf: _Leaf, area: _Area, created: datetime) -> dict[str, Any]:
        rng = self.rng
        building = rng.randint(1, 30)
        address = f"{area.community}{building}号楼{rng.choice('东西南北')}侧"
        values: dict[str, Any] = {
            "id": pk,
            "source": self.source(leaf),
            "category_id": leaf.pk,
            "title": f"{leaf.name}（{area.community}）"[:100],
            "description": f"{address}发现{leaf.name}问题，请尽快处理。",
            "region_id": area.region_id,
            "region_code": area.code,
            "address": address,
            "latitude": None,
            "longitude": None,
            "priority": leaf.priority,
            "department_id": None,
            "overdue": False,
            "overdue_since": None,
            "ever_overdue": False,
            "escalation_level": 0,
            "escalated_at": None,
            "supervised": False,
            "needs_ruling": False,
            "return_count": 0,
            "reopen_count": 0,
            "extension_count": 0,
            "merged_into_id": None,
            "stage": leaf.stages[0] if leaf.stages else "",
            "extra": self.extra_fields(leaf),
            "rating": "",
            "rating_comment": "",
            "rated_at": None,
            "signed_at": None,
            "handled_at": None,
            "closed_at": None,
            "created_at": created,
        }
        if rng.random() < 0.6:
            lat = COUNTY_CENTRE[0] + rng.uniform(-0.05, 0.05)
            lng = COUNTY_CENTRE[1] + rng.uniform(-0.06, 0.06)
            values["latitude"] = Decimal(f"{lat:.6f}")
            values["longitude"] = Decimal(f"{lng:.6f}")
        return values

    def extra_fields(self, leaf: _Leaf) -> dict[str, Any]:
        rng = self.rng
        if leaf.kind == CategoryKind.MEDIATION:
            return {
                "parties": f"{rng.choice(SURNAMES)}某、{rng.choice(SURNAMES)}某",
                "dispute_type": rng.choice(DISPUTE_TYPES),
            }
        if leaf.kind == CategoryKind.ENFORCEMENT:
            return {"party_name": f"{rng.choice(SURNAMES)}某", "party_kind": "自然人"}
        return {}

    def stay(
        self, leaf: _Leaf, status: str, start: datetime, late_share: float = LATE_SHARE
    ) -> tuple[float, datetime | None]:
        """Seconds spent in a state (a share of its limit, or past it for ``late_share``)
        and the state's deadline."""
        rng = self.rng
        deadline = self.deadline(start, leaf.limits.get(status), leaf.unit)
        allowed = (deadline - start).total_seconds() if deadline else 8 * 3600
        if allowed <= 0:
            # A state without time allowed (a limit of zero) gets an hour.
            allowed = 3600.0
        if rng.random() < late_share:
            return allowed * rng.uniform(1.05, 2.5), deadline
        return allowed * rng.uniform(0.05, 0.85), deadline

    def draw(self, values: Sequence[Any], cumulative: Sequence[float]) -> Any:
        """A weighted draw by bisection over cumulative weights."""
        return values[bisect(cumulative, self.rng.random() * cumulative[-1])]

    # -- one history event

    def history_event(self, pk: int, created: datetime, previous: _Made | None) -> _Made:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03 and previous is not None and previous.values["status"] != S.MERGED:
            return self._merged(pk, created, previous)
        leaf = self.leaf()
        area = self.area()
        values = self.base(pk, leaf, area, created)
        line = _Line(self, pk, leaf, values)
        if roll < 0.08:
            if rng.random() < 0.5:  # rejected on sight, or after a look on the spot
                line.wait_and(A.ACCEPT, S.ACCEPTED, public=True)
            line.wait_and(A.REJECT, S.REJECTED, public=True)
            return line.finish(S.REJECTED)
        line.through_handling(self.department(leaf, area), area)
        line.wait_and(A.REVIEW, S.REVIEWED)
        line.wait_and(A.CLOSE, S.CLOSED, public=True)
        if rng.random() < 0.55:
            rating = self.pick(RATINGS)
            line.rate(rating)
            if rating == Rating.UNSATISFIED:
                # Reopened once; if the second result is rated unsatisfied too, the level
                # above confirms the closure.
                line.reopen_and_close(area)
                again = self.pick(SECOND_RATINGS)
                line.rate(again)
                if again == Rating.UNSATISFIED:
                    line.t += timedelta(hours=rng.uniform(2, 48))
                    line.note(A.CONFIRM_CLOSE, "经核实已按规定办理，确认办结。")
        return line.finish(S.CLOSED)

    def _merged(self, pk: int, created: datetime, previous: _Made) -> _Made:
        """A second report of the previous event's problem, merged into it."""
        leaf = next(lf for lf in self.leaves if lf.pk == previous.values["category_id"])
        area = _Area(previous.values["region_id"], previous.values["region_code"], "", 0)
        values = self.base(pk, leaf, area, created)
        values.update(
            address=previous.values["address"],
            title=previous.values["title"],
            description=previous.values["description"],
            latitude=previous.values["latitude"],
            longitude=previous.values["longitude"],
            extra=previous.values["extra"],
        )
        line = _Line(self, pk, leaf, values)
        line.t += timedelta(minutes=self.rng.uniform(5, 90))
        number = _number(previous.pk, previous.values["created_at"])
        line.move(A.MERGE, S.MERGED, public=True, data={"into": number})
        values["merged_into_id"] = previous.pk
        then = _status_at(previous.steps, line.t)
        previous.steps.append(
            _step(
                previous.pk,
                A.MERGED_IN,
                "系统",
                previous.values["department_id"],
                then,
                then,
                f"重复上报的事件 {_number(pk, created)} 已并入本事件。",
                False,
                None,
                None,
                {"duplicate": _number(pk, created)},
                line.t,
            )
        )
        return line.finish(S.MERGED)

    # -- one open event

    def open_event(self, pk: int) -> _Made:
        """An open event whose current state's deadline falls in one of the classes of the
        module's docstring."""
        rng = self.rng
        now = self.now
        kind = rng.random()
        if kind < 0.01:
            klass = "unmarked"
        elif kind < 0.0125:
            klass = "due"
        elif kind < 0.0925:
            klass = "marked"
        elif kind < 0.0975:
            klass = "ruling"
        else:
            klass = "current"
        leaf = self.leaf(hourly_only=klass in ("unmarked", "due"))
        area = self.area()
        status = S.ACCEPTED if klass == "ruling" else self.pick(OPEN_STATES)
        # Walk the lifecycle up to ``status`` from a provisional start, then move the whole
        # timeline so the current state began when its class needs it to.
        values = self.base(pk, leaf, area, now - timedelta(days=30))
        line = _Line(self, pk, leaf, values, late_share=0.0)
        department = self.department(leaf, area)
        line.up_to(status, department, area, ruling=klass == "ruling")
        limit = leaf.limits.get(status)
        allowed = self.deadline(now, limit, leaf.unit) - now if limit else timedelta(hours=8)  # type: ignore[operator]
        if klass == "unmarked":
            deadline = now - timedelta(seconds=rng.uniform(60, 3600))
        elif klass == "due":
            deadline = now - self.grace - timedelta(seconds=rng.uniform(60, 3600))
        elif klass == "marked":
            deadline = now - timedelta(hours=rng.uniform(1, 240))
        elif klass == "ruling":
            deadline = now + allowed * rng.uniform(0.05, 0.9)
        else:
            deadline = now + allowed * rng.uniform(0.05, 0.95)
        line.shift_to(deadline - allowed)
        made = line.finish(status)
        values = made.values
        real = values["state_deadline"]
        if real is None or real >= now:
            return made
        if klass in ("marked", "due"):
            self._mark_overdue(made, escalate=klass == "marked")
        else:
            # Past its deadline, not marked yet: what the next sweep finds (a working-day
            # limit over a weekend can land a "current" event here too).
            self.unmarked += 1
        return made

    def _mark_overdue(self, made: _Made, *, escalate: bool) -> None:
        """As the sweep left it: overdue since the deadline, escalated once per grace period
        passed (up to the county), urged for a quarter."""
        values, now = made.values, self.now
        deadline = values["state_deadline"]
        status, department = values["status"], values["department_id"]
        values.update(overdue=True, overdue_since=deadline, ever_overdue=True)
        found = max(deadline, values["status_changed_at"])
        made.steps.append(_overdue(made.pk, status, department, deadline, found))
        self.marked += 1
        if not escalate:
            self.due += 1
            return
        moment = found + self.grace
        while moment < now and values["escalation_level"] < COUNTY_LEVEL:
            values["escalation_level"] += 1
            values["escalated_at"] = moment
            made.steps.append(_escalate(made.pk, status, department, values, moment))
            moment += self.grace
        if self.rng.random() < 0.25:
            at = deadline + (now - deadline) * self.rng.uniform(0.1, 0.9)
            made.steps.append(_urge(made.pk, status, department, at, self.rng))
            values["supervised"] = True
        made.steps.sort(key=lambda step: step[-1])
        values["version"] = len(made.steps)


@cache
def _zone() -> Any:
    return timezone.get_current_timezone()


def _status_at(steps: Sequence[tuple[Any, ...]], moment: datetime) -> str:
    """The state an event was in at ``moment``, from its steps."""
    status = str(steps[0][5])
    for step in steps:
        if step[-1] <= moment:
            status = str(step[5])
    return status


def _number(pk: int, created: datetime) -> str:
    return f"{created.astimezone(_zone()):%Y%m%d}{pk:07d}"


def _step(*values: Any) -> tuple[Any, ...]:
    """A step row in STEP_COLUMNS order."""
    return values


def _overdue(
    pk: int,
    status: str,
    department: int | None,
    deadline: datetime,
    moment: datetime | None = None,
) -> tuple[Any, ...]:
    """The sweep's step: written when the deadline has passed (at ``moment``, the deadline
    itself unless the state began after it)."""
    local = f"{deadline.astimezone(_zone()):%Y-%m-%d %H:%M}"
    return _step(
        pk,
        A.OVERDUE,
        "系统",
        department,
        status,
        status,
        f"本环节办理时限已于 {local} 到期。",
        False,
        None,
        None,
        {},
        moment or deadline,
    )


def _escalate(
    pk: int, status: str, department: int | None, values: dict[str, Any], moment: datetime
) -> tuple[Any, ...]:
    level = values["escalation_level"]
    where = "街道" if level == SUBDISTRICT else "区县"
    return _step(
        pk,
        A.ESCALATE,
        "系统",
        department,
        status,
        status,
        f"超时且超过宽限期，已升级至{where}。",
        False,
        None,
        None,
        {"level": level},
        moment,
    )


def _urge(
    pk: int, status: str, department: int | None, moment: datetime, rng: random.Random
) -> tuple[Any, ...]:
    return _step(
        pk,
        A.URGE,
        f"{rng.choice(SURNAMES)}主任",
        department,
        status,
        status,
        NOTES[A.URGE][0],
        False,
        None,
        None,
        {},
        moment,
    )


class _Line:
    """One event's timeline as it is drawn: the clock of the current state, its deadline, and
    the steps so far."""

    def __init__(
        self,
        gen: _Generator,
        pk: int,
        leaf: _Leaf,
        values: dict[str, Any],
        *,
        late_share: float = LATE_SHARE,
    ) -> None:
        self.gen, self.pk, self.leaf, self.values = gen, pk, leaf, values
        self.late_share = late_share
        # Who acts on it: one member of staff per event keeps the draw cheap.
        self.staff = gen.rng.choice(gen.names)
        self.t: datetime = values["created_at"]
        self.status: str = S.REPORTED
        self.department: int | None = None
        self.steps: list[tuple[Any, ...]] = [
            _step(
                pk,
                A.REPORT,
                gen.rng.choice(gen.names),
                None,
                S.REPORTED,
                S.REPORTED,
                values["description"],
                True,
                None,
                None,
                {},
                self.t,
            )
        ]
        # (index of the step that ended a state, the state, its start, its deadline if known)
        self.clocks: list[tuple[int, str, datetime, datetime | None]] = []
        self.clock_start = self.t
        self.clock_deadline: datetime | None = None

    # -- drawing the path

    def wait(self) -> None:
        seconds, deadline = self.gen.stay(self.leaf, self.status, self.clock_start, self.late_share)
        self.clock_deadline = deadline
        self.t += timedelta(seconds=seconds)

    def move(
        self,
        action: str,
        target: str,
        *,
        public: bool = False,
        note: str = "",
        data: dict[str, Any] | None = None,
        department: int | None = None,
    ) -> None:
        if department is not None:
            self.department = department
        self.steps.append(
            _step(
                self.pk,
                action,
                self.staff,
                self.department,
                self.status,
                target,
                note,
                public,
                0,  # elapsed and allowed: set by ``finish`` from the final times
                None,
                data or {},
                self.t,
            )
        )
        self.clocks.append(
            (len(self.steps) - 1, self.status, self.clock_start, self.clock_deadline)
        )
        self.status = target
        self.clock_start = self.t
        self.clock_deadline = None

    def note(self, action: str, note: str, data: dict[str, Any] | None = None) -> None:
        self.steps.append(
            _step(
                self.pk,
                action,
                self.staff,
                self.department,
                self.status,
                self.status,
                note,
                False,
                None,
                None,
                data or {},
                self.t,
            )
        )

    def wait_and(self, action: str, target: str, *, public: bool = False, **kw: Any) -> None:
        self.wait()
        if action == A.REJECT:
            kw.setdefault("note", self.gen.rng.choice(NOTES[A.REJECT]))
        self.move(action, target, public=public, **kw)

    def through_handling(self, department: int, area: _Area) -> None:
        """accept → dispatch (→ return → dispatch) → sign → stages → handle."""
        rng = self.gen.rng
        self.wait_and(A.ACCEPT, S.ACCEPTED, public=True)
        self.wait_and(A.DISPATCH, S.DISPATCHED, public=True, department=department)
        if rng.random() < 0.04:
            self.wait_and(A.RETURN, S.ACCEPTED, note=NOTES[A.RETURN][0])
            self.values["return_count"] += 1
            self.department = None
            other = area.committee if department != area.committee else department
            self.wait_and(A.DISPATCH, S.DISPATCHED, public=True, department=other)
        self.wait_and(A.SIGN, S.SIGNED_FOR, public=True)
        self.values["signed_at"] = self.t
        self.handle()

    def handle(self) -> None:
        rng = self.gen.rng
        stages = self.leaf.stages
        if len(stages) > 1:
            for stage in stages[1:-1]:
                share, _deadline = self.gen.stay(self.leaf, self.status, self.clock_start, 0)
                self.t += timedelta(seconds=share / 4)
                self.note(A.PROGRESS, f"进入{stage}阶段。", {"stage": stage})
            self.values["stage"] = stages[-1]
        if rng.random() < 0.03:
            self.t += timedelta(hours=rng.uniform(1, 12))
            self.note(A.REQUEST_EXTENSION, NOTES[A.REQUEST_EXTENSION][0])
            self.t += timedelta(hours=rng.uniform(1, 8))
            self.note(A.APPROVE_EXTENSION, "")
            self.values["extension_count"] += 1
        self.wait_and(A.HANDLE, S.HANDLED, public=True, note=rng.choice(NOTES[A.HANDLE]))
        self.values["handled_at"] = self.t

    def rate(self, rating: str) -> None:
        self.t += timedelta(hours=self.gen.rng.uniform(1, 72))
        self.steps.append(
            _step(
                self.pk,
                A.RATE,
                self.staff,
                self.department,
                self.status,
                self.status,
                "",
                True,
                None,
                None,
                {"rating": rating},
                self.t,
            )
        )
        self.values.update(rating=rating, rated_at=self.t)

    def reopen_and_close(self, area: _Area) -> None:
        """Unsatisfied: reopened once, handled again."""
        self.t += timedelta(minutes=1)
        self.move(A.REOPEN, S.DISPATCHED, public=True, note="因评价不满意，事件重新办理。")
        self.values["reopen_count"] += 1
        self.wait_and(A.SIGN, S.SIGNED_FOR, public=True)
        self.values["signed_at"] = self.t
        self.handle()
        self.wait_and(A.REVIEW, S.REVIEWED)
        self.wait_and(A.CLOSE, S.CLOSED, public=True)

    def up_to(self, status: str, department: int, area: _Area, *, ruling: bool) -> None:
        """An open event's path to ``status`` (entered last)."""
        order = (S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.SIGNED_FOR, S.HANDLED, S.REVIEWED)
        goal = order.index(status)
        if goal >= 1:
            self.wait_and(A.ACCEPT, S.ACCEPTED, public=True)
        if ruling:
            for _ in range(2):  # returned twice: the level above must rule
                self.wait_and(A.DISPATCH, S.DISPATCHED, public=True, department=department)
                self.wait_and(A.RETURN, S.ACCEPTED, note=NOTES[A.RETURN][0])
                self.values["return_count"] += 1
                self.department = None
            self.values.update(
                needs_ruling=True,
                escalation_level=SUBDISTRICT,
                escalated_at=self.t,
            )
            return
        if goal >= 2:
            self.wait_and(A.DISPATCH, S.DISPATCHED, public=True, department=department)
        if goal >= 3:
            self.wait_and(A.SIGN, S.SIGNED_FOR, public=True)
            self.values["signed_at"] = self.t
        if goal >= 4:
            self.handle()
        if goal >= 5:
            self.wait_and(A.REVIEW, S.REVIEWED)

    def shift_to(self, start: datetime) -> None:
        """Move the whole timeline so the current state starts at ``start``."""
        delta = start - self.clock_start
        self.steps = [(*step[:-1], step[-1] + delta) for step in self.steps]
        # Deadlines are computed again from the moved starts (working days shift).
        self.clocks = [(i, s, t + delta, None) for i, s, t, _d in self.clocks]
        self.clock_start += delta
        self.t += delta
        for name in ("created_at", "signed_at", "handled_at", "escalated_at"):
            if self.values.get(name) is not None:
                self.values[name] += delta

    # -- the clock, from the final times

    def finish(self, status: str) -> _Made:
        """Elapsed and allowed time of every step that ended a state, an overdue step (and
        escalations, an urging note) where a state ran past its limit; the event's times."""
        gen, leaf, values = self.gen, self.leaf, self.values
        steps = self.steps
        extra: list[tuple[Any, ...]] = []
        for index, state, start, known in self.clocks:
            step = steps[index]
            end = step[-1]
            deadline = known or gen.deadline(start, leaf.limits.get(state), leaf.unit)
            allowed = max(0, int((deadline - start).total_seconds())) if deadline else None
            steps[index] = (*step[:8], int((end - start).total_seconds()), allowed, *step[10:])
            if deadline is not None and end > deadline:
                values["ever_overdue"] = True
                # A deadline before the state began (see ``stay``) is found at once.
                extra.append(_overdue(self.pk, state, step[3], deadline, max(deadline, start)))
                moment = max(deadline, start) + gen.grace
                level = values["escalation_level"]
                while moment < end and level < COUNTY_LEVEL:
                    level += 1
                    values.update(escalation_level=level, escalated_at=moment)
                    extra.append(_escalate(self.pk, state, step[3], values, moment))
                    moment += gen.grace
                if gen.rng.random() < 0.2:
                    at = deadline + (end - deadline) * gen.rng.uniform(0.1, 0.9)
                    extra.append(_urge(self.pk, state, step[3], at, gen.rng))
                    values["supervised"] = True
        if extra:
            steps = sorted(steps + extra, key=lambda s: s[-1])
        values["status"] = status
        values["department_id"] = self.department
        values["status_changed_at"] = self.clock_start
        open_now = status not in (S.CLOSED, S.REJECTED, S.MERGED)
        if open_now:
            unit, limits = leaf.unit, leaf.limits
            values["state_deadline"] = gen.deadline(self.clock_start, limits.get(status), unit)
            values["expected_at"] = calendar.expected_completion(
                self.clock_start, status, unit, limits
            )
        else:
            values["state_deadline"] = values["expected_at"] = None
        if status == S.CLOSED:
            values["closed_at"] = self.clock_start
        values["updated_at"] = steps[-1][-1]
        values["version"] = len(steps) - 1
        return _Made(self.pk, values, steps)


# ---------------------------------------------------------------- what exists


def _leaves() -> list[_Leaf]:
    """Reportable categories (active leaves) with their effective settings."""
    categories = list(EventCategory.objects.filter(is_active=True).order_by("code"))
    parents = {c.parent_id for c in categories if c.parent_id is not None}
    by_pk = {c.pk: c for c in categories}
    leaves = []
    for category in categories:
        if category.pk in parents:
            continue
        top = category
        while top.parent_id is not None and top.parent_id in by_pk:
            top = by_pk[top.parent_id]
        unit, limits = category.effective_limits()
        leaves.append(
            _Leaf(
                pk=category.pk,
                code=category.code,
                name=category.name,
                top=top.code,
                unit=unit,
                limits=limits,
                priority=str(category.effective("priority")),
                kind=str(category.effective("kind")),
                stages=[str(s) for s in category.effective("stages") or []],
            )
        )
    return leaves


def _areas(county: str) -> tuple[list[_Area], list[float]]:
    """Where events happen: every community of the county (its grids where it has them),
    residential communities weighing three times a village. Each with its committee."""
    communities = list(
        RegionNode.objects.filter(
            code__startswith=county, level=RegionLevel.COMMUNITY, retired_at__isnull=True
        ).order_by("code")
    )
    if not communities:
        raise ValueError(f"county {county} has no communities: load the regions first")
    grids: dict[int, list[RegionNode]] = {}
    for grid in RegionNode.objects.filter(
        code__startswith=county, level=RegionLevel.GRID, retired_at__isnull=True
    ).order_by("code"):
        grids.setdefault(grid.parent_id, []).append(grid)  # type: ignore[arg-type]
    committees = _committees(communities)
    areas: list[_Area] = []
    weights: list[float] = []
    for community in communities:
        short = community.name.removesuffix("居民委员会").removesuffix("村民委员会")
        weight = 3.0 if "社区" in community.name else 1.0
        places = grids.get(community.pk) or [community]
        for place in places:
            areas.append(_Area(place.pk, place.code, short, committees[community.pk]))
            weights.append(weight / len(places))
    return areas, weights


def _committees(communities: list[RegionNode]) -> dict[int, int]:
    """Each community's committee department: an existing one, else made here."""
    existing: dict[int, int] = {}
    for department in Department.objects.filter(
        region__in=communities, kind=DepartmentKind.COMMUNITY, retired_at__isnull=True
    ).order_by("pk"):
        existing.setdefault(department.region_id, department.pk)
    missing = [c for c in communities if c.pk not in existing]
    if missing:
        names = {
            c.pk: c.name if c.name.endswith("委员会") else f"{c.name}{_committee(c.name)}"
            for c in missing
        }
        taken = set(Department.objects.filter(region__in=missing).values_list("region_id", "name"))
        Department.objects.bulk_create(
            Department(region=c, name=names[c.pk], kind=DepartmentKind.COMMUNITY)
            for c in missing
            if (c.pk, names[c.pk]) not in taken
        )
        for department in Department.objects.filter(
            region__in=missing, kind=DepartmentKind.COMMUNITY
        ).order_by("pk"):
            existing.setdefault(department.region_id, department.pk)
    return existing


def _committee(name: str) -> str:
    """A residential community's committee, or a village's."""
    return "居民委员会" if "社区" in name else "村民委员会"


def _county_departments(county: str) -> dict[str, int]:
    region = RegionNode.objects.get(code=county)
    names = sorted({name for choices in COUNTY_DEPARTMENTS.values() for name, _share in choices})
    found = dict(Department.objects.filter(region=region, name__in=names).values_list("name", "pk"))
    for name in names:
        if name not in found:
            kind = DepartmentKind.UTILITY if name in UTILITIES else DepartmentKind.FUNCTIONAL
            found[name] = Department.objects.create(region=region, name=name, kind=kind).pk
    return found
