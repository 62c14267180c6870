"""Event hub at county scale: a county with ``--history`` events behind it and ``--open`` open
(``linli.events.synthetic``), measured on

1. the overdue **sweep** (``services.sweep``): the county as the loader left it (the deadlines
   passed since, escalations due), then — after one real sweep — a minute later (the steady
   state of the job that runs every minute), an hour later, and after ``--outage`` hours
   without a sweep; each with the bare UPDATE that marks the same rows as the baseline, and
   the marking phase alone to separate the escalations;
2. the **supervision list** (``services.supervision_list``: overdue, urged or awaiting a
   ruling) for the county operator and the 榆山街道 manager: first page and capped count as the
   list page builds them, the same SQL bare, and the real page ``/events/list/?queue=
   supervision`` through URL, middleware, view and template;
3. **event creation** through the API (``POST /api/events/`` as the grid worker, one client,
   then ``--clients`` at once on PostgreSQL), through ``services.report`` alone, and the bare
   INSERTs of the event and its first step;
4. the **statistics** of the county (``linli.events.stats``) for 30 and 366 days (no target).

Prints p50/p95 and the ratios measured in the same run; never asserts a time. Targets from the
issue: sweep ≤ 5 s, supervision list p95 ≤ 200 ms, creation ≥ 200 events/s.

    python bench/bench_events.py --history 20000 --open 2000          # SQLite, temporary dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linli_bench_events \\
        python bench/bench_events.py --history 1000000 --open 20000

A database already loaded with the same arguments is reused (the loader is idempotent). The
measurements that write run in transactions that are rolled back, or delete what they made;
the one real sweep leaves the county as the running job would.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SWEEP_S = 5.0
TARGET_LIST_P95_MS = 200.0
TARGET_CREATE_PER_S = 200.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=20_000, help="events in the history")
    parser.add_argument("--open", type=int, default=2_000, help="open events")
    parser.add_argument("--seed", type=int, default=370124)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per list measurement")
    parser.add_argument("--sweeps", type=int, default=5, help="timed runs of each sweep")
    parser.add_argument("--outage", type=float, default=6.0, help="hours the sweep was down")
    parser.add_argument("--creations", type=int, default=300, help="events created per path")
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent API clients (PostgreSQL only)"
    )
    parser.add_argument("--no-plans", action="store_true", help="print only the plans' indexes")
    return parser.parse_args()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """p50 and p95 in milliseconds over ``runs`` runs, after one warm-up run."""
    result = fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), percentile(samples, 0.95), result


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


class Rollback(Exception):
    """Raised to leave an atomic block with everything it wrote undone."""


def main() -> None:
    args = parse_args()
    os.environ.setdefault("LINLI_DATA_DIR", tempfile.mkdtemp(prefix="linli-bench-events-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    import django

    django.setup()
    Bench(args).run()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results: list[tuple[str, str, str]] = []

    def say(self, line: str) -> None:
        print(line, flush=True)

    def record(self, name: str, value: str, verdict: str = "") -> None:
        self.results.append((name, value, verdict))
        self.say(f"  {name:<58} {value:<28} {verdict}")

    # ---------------------------------------------------------------- set-up

    def build(self) -> None:
        from django.core.management import call_command
        from django.db import connection

        from linli.core.management.commands.demo import load_demo
        from linli.events.demo import load_demo_events
        from linli.events.models import Event, EventStep
        from linli.events.synthetic import load_event_history

        call_command("migrate", verbosity=0)
        start = time.perf_counter()
        users = load_demo()["users"]
        load_demo_events(users)
        self.say(f"demo county and demo events: {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        loaded = load_event_history(
            self.args.history,
            self.args.open,
            seed=self.args.seed,
            progress=lambda line: self.say("  load: " + line),
        )
        if loaded.loaded:
            self.say(
                f"synthetic history loaded: {loaded.events:,} events, {loaded.steps:,} steps in "
                f"{loaded.seconds:.0f} s, loader CPU {loaded.cpu_seconds:.0f} s "
                f"({loaded.events / loaded.seconds:,.0f} events/s; "
                f"load average {load_average()}); open: {loaded.overdue_marked} marked overdue, "
                f"{loaded.overdue_unmarked} past the deadline unmarked, "
                f"{loaded.escalation_due} due for escalation"
            )
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE events_event")
                    cursor.execute("VACUUM ANALYZE events_eventstep")
        self.events = Event.objects.count()
        self.steps = EventStep.objects.count()
        self.say(
            f"database: {connection.vendor} {connection.settings_dict['NAME']}; "
            f"{self.events:,} events, {self.steps:,} steps, "
            f"{Event.objects.open().count():,} open (set-up {time.perf_counter() - start:.0f} s)"
        )

    def users(self) -> dict[str, Any]:
        from linli.accounts.models import User

        return {u.username: u for u in User.objects.filter(username__in=self.names)}

    names = ("county_op", "yushan_mgr", "jinyuan_grid1")

    # ---------------------------------------------------------------- helpers

    def capture(self, fn: Callable[[], Any]) -> list[str]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            fn()
        return [q["sql"] for q in queries.captured_queries]

    def bare(self, statements: list[str]) -> Callable[[], int]:
        from django.db import connection

        def run() -> int:
            rows = 0
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
                    rows += len(cursor.fetchall())
            return rows

        return run

    def explain(self, title: str, sql: str) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = "\n".join(" | ".join(str(c) for c in row) for row in cursor.fetchall())
        indexes = sorted(
            set(re.findall(r"(?:Index(?: Only)? Scan using|Bitmap Index Scan on) (\S+)", plan))
            | set(re.findall(r"USING (?:COVERING )?INDEX (\S+)", plan))
        )
        scans = sorted(
            set(re.findall(r"Seq Scan on (events_\w+)", plan))
            | set(re.findall(r"\bSCAN (events_\w+)", plan))
        )
        verdict = f"indexes {', '.join(indexes) or 'none'}"
        if scans:
            verdict += f"; FULL SCANS of {', '.join(scans)}"
        self.say(f"  plan of {title}: {verdict}")
        if not self.args.no_plans:
            self.say("    " + plan.replace("\n", "\n    "))

    def rolled_back(self, fn: Callable[[], Any]) -> tuple[float, Any]:
        """Seconds ``fn`` took inside a transaction that is then rolled back."""
        from django.db import transaction

        box: list[Any] = []
        try:
            with transaction.atomic():
                start = time.perf_counter()
                box.append(fn())
                box.append(time.perf_counter() - start)
                raise Rollback
        except Rollback:
            pass
        return box[1], box[0]

    # ---------------------------------------------------------------- (1) the sweep

    def sweep(self) -> None:
        from django.utils import timezone

        from linli.events import services
        from linli.events.choices import OPEN_STATUSES

        self.say("\n(1) overdue sweep")
        open_list = ", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES))
        age = self._age_of_load()
        cases = [
            (f"the county as left {age} (not swept since)", 0.0),
            ("one minute after a sweep (steady state)", 1 / 60),
            ("one hour after the last sweep", 1.0),
            (f"after a {self.args.outage:g} h outage", self.args.outage),
        ]
        for index, (label, hours) in enumerate(cases):
            moment = timezone.now() + timedelta(hours=hours)
            self._sweep_case(label, moment, open_list, services)
            if index == 0:
                # Bring the county up to date, as the running job would, and measure from there.
                done = services.sweep(moment)
                self.say(
                    f"  (swept for real: {done.overdue} marked, {done.escalated} escalated; the "
                    "cases below start from here)"
                )

    def _age_of_load(self) -> str:
        from django.utils import timezone

        from linli.audit.models import AuditEntry
        from linli.events.synthetic import MARKER_TYPE

        entry = AuditEntry.objects.filter(object_type=MARKER_TYPE).order_by("-seq").first()
        if entry is None:
            return "by the demo"
        minutes = (timezone.now() - entry.at).total_seconds() / 60
        return f"by the load {minutes:,.0f} min ago"

    def _sweep_case(self, label: str, moment: Any, open_list: str, services: Any) -> None:
        from django.db import connection

        def bare_update() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE events_event SET overdue = %s, ever_overdue = %s, "  # noqa: S608
                    "overdue_since = state_deadline, updated_at = %s "
                    f"WHERE status IN ({open_list}) AND overdue = %s AND state_deadline < %s",
                    [True, True, moment, False, moment],
                )
                return int(cursor.rowcount)

        bare_times, sweep_times = [], []
        rows, result = 0, None
        for _ in range(self.args.sweeps):
            seconds, rows = self.rolled_back(bare_update)
            bare_times.append(seconds)
        for _ in range(self.args.sweeps):
            seconds, result = self.rolled_back(lambda: services.sweep(moment))
            sweep_times.append(seconds)
        bare_s, sweep_s = statistics.median(bare_times), statistics.median(sweep_times)
        assert result is not None
        verdict = "meets" if max(sweep_times) <= TARGET_SWEEP_S else "MISSES"
        self.record(
            f"sweep, {label}: marked {result.overdue}, escalated {result.escalated}",
            f"p50 {sweep_s:.2f} s, max {max(sweep_times):.2f} s",
            f"{verdict} the {TARGET_SWEEP_S:.0f} s target; bare UPDATE of the {rows} rows "
            f"{bare_s * 1000:.1f} ms (ratio {sweep_s / max(bare_s, 1e-6):.0f}×)",
        )
        if result.escalated:
            mark_only = self._mark_only(moment)
            self.record(
                f"  of which marking {result.overdue} (the first phase alone)",
                f"p50 {mark_only:.2f} s",
                f"ratio to the bare UPDATE {mark_only / max(bare_s, 1e-6):.0f}×; "
                f"escalations {(sweep_s - mark_only) / result.escalated * 1000:.1f} ms each",
            )

    def _mark_only(self, moment: Any) -> float:
        """The sweep's first phase (mark overdue) without the escalations: the grace set so
        long that nothing is due."""
        from django.test import override_settings

        from linli.events import services

        times = []
        with override_settings(LINLI_EVENT_ESCALATION_GRACE_HOURS=24 * 3650):
            for _ in range(self.args.sweeps):
                seconds, _result = self.rolled_back(lambda: services.sweep(moment))
                times.append(seconds)
        return statistics.median(times)

    # ---------------------------------------------------------------- (2) supervision list

    def supervision(self) -> None:
        from django.test import Client

        from linli.events import services

        self.say("\n(2) supervision list")
        users = self.users()
        for username in ("county_op", "yushan_mgr"):
            user = users[username]

            def page(user: Any = user) -> int:
                rows = services.supervision_list(user)
                list(rows[:50])
                counted: int = rows.order_by()[:2001].count()
                return counted

            p50, p95, total = timed(page, self.args.runs)
            statements = self.capture(page)
            sql_p50, sql_p95, _rows = timed(self.bare(statements), self.args.runs)
            shown = "2,000+" if total > 2000 else f"{total:,}"
            verdict = "meets" if p95 <= TARGET_LIST_P95_MS else "MISSES"
            self.record(
                f"supervision list, {username} (first page + capped count)",
                f"p50 {p50:.1f} ms, p95 {p95:.1f} ms",
                f"{verdict} the {TARGET_LIST_P95_MS:.0f} ms target; {shown} rows; "
                f"{len(statements)} queries",
            )
            self.record(
                f"supervision list, {username} (bare SQL)",
                f"p50 {sql_p50:.1f} ms, p95 {sql_p95:.1f} ms",
                f"ORM / SQL p50 ratio {p50 / max(sql_p50, 1e-6):.2f}",
            )
            for sql in statements:
                if "events_event" in sql and "LIMIT" in sql.upper():
                    kind = "count" if "COUNT(" in sql.upper() else "page"
                    self.explain(f"supervision {kind} ({username})", sql)
            client = Client()
            client.force_login(user)
            url = "/events/list/"
            query = {"queue": "supervision"}
            try:
                response = client.get(url, query)
                if response.status_code != 200:
                    self.say(f"  supervision page ({username}): HTTP {response.status_code}")
                    continue
                p50_page, p95_page, _r = timed(
                    lambda c=client, u=url, q=query: c.get(u, q), self.args.runs
                )
            except Exception as exc:  # a page still being built must not stop the bench
                self.say(f"  supervision page ({username}): not measured ({exc!r})")
                continue
            verdict = "meets" if p95_page <= TARGET_LIST_P95_MS else "MISSES"
            self.record(
                f"supervision page {url}?queue=supervision, {username}",
                f"p50 {p50_page:.1f} ms, p95 {p95_page:.1f} ms",
                f"{verdict} the {TARGET_LIST_P95_MS:.0f} ms target; ratio to bare SQL p95 "
                f"{p95_page / max(sql_p95, 1e-6):.1f}×",
            )

    # ---------------------------------------------------------------- (3) creation

    def creation(self) -> None:
        from django.db import connection, transaction
        from rest_framework.test import APIClient

        from linli.events import services
        from linli.events.models import Event, EventCategory
        from linli.regions.models import RegionNode

        self.say("\n(3) event creation")
        grid_worker = self.users()["jinyuan_grid1"]
        grid = grid_worker.home_region
        category = EventCategory.objects.get(code="public-order-noise")  # no photo needed
        n = self.args.creations
        api = APIClient()
        api.force_authenticate(grid_worker)
        body = {
            "category": category.code,
            "region": grid.code,
            "address": "锦源小区9号楼",
            "latitude": 36.2891,
            "longitude": 116.4472,
            "description": "楼上装修噪声扰民（基准测试）",
        }
        made: list[int] = []
        before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        try:
            response = api.post("/api/events/", body, format="json")
            if response.status_code != 201:
                raise RuntimeError(f"HTTP {response.status_code}: {response.content[:300]!r}")
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                api.post("/api/events/", body, format="json")
            api_s, api_cpu = time.perf_counter() - start, time.process_time() - cpu
            self.record(
                f"POST /api/events/ ({n} events, one after the other)",
                f"{n / api_s:,.0f} events/s",
                f"{'meets' if n / api_s >= TARGET_CREATE_PER_S else 'MISSES'} the "
                f"{TARGET_CREATE_PER_S:.0f}/s target; {api_s / n * 1000:.1f} ms each "
                f"(CPU of this process {api_cpu / n * 1000:.1f} ms)",
            )
            if self.args.clients > 1 and connection.vendor == "postgresql":
                rate = self._concurrent(grid_worker, body, n, self.args.clients)
                self.record(
                    f"POST /api/events/ ({n} events from {self.args.clients} clients at once)",
                    f"{rate:,.0f} events/s",
                    f"{'meets' if rate >= TARGET_CREATE_PER_S else 'MISSES'} the "
                    f"{TARGET_CREATE_PER_S:.0f}/s target",
                )
        except Exception as exc:
            api_s = 0.0
            self.say(f"  API creation not measured ({exc!r})")
        place = services.Place(region=RegionNode.objects.get(pk=grid.pk), address="锦源小区9号楼")
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            services.report(
                grid_worker,
                category=category,
                place=place,
                description="楼上装修噪声扰民（基准测试）",
                source="grid",
            )
        service_s, service_cpu = time.perf_counter() - start, time.process_time() - cpu
        self.record(
            f"services.report ({n} events)",
            f"{n / service_s:,.0f} events/s",
            f"{service_s / n * 1000:.1f} ms each (CPU {service_cpu / n * 1000:.1f} ms)",
        )
        sample = Event.objects.filter(pk__gt=before).order_by("pk").first()
        bare_s = self._bare_inserts(sample, n) if sample is not None else 0.0
        if bare_s:
            self.record(
                f"bare INSERTs of the event and its first step ({n}, a commit each)",
                f"{n / bare_s:,.0f} events/s",
                f"service / bare {service_s / bare_s:.1f}×"
                + (f"; API / bare {api_s / bare_s:.1f}×" if api_s else ""),
            )
        made = list(Event.objects.filter(pk__gt=before).values_list("pk", flat=True))
        with transaction.atomic():
            Event.objects.filter(pk__in=made).delete()
        self.say(f"  (deleted the {len(made)} events made; load average {load_average()})")

    def _concurrent(self, user: Any, body: dict[str, Any], n: int, clients: int) -> float:
        """Events per second with ``clients`` threads posting at once, each on its own
        database connection (PostgreSQL: the server's worker processes in miniature)."""
        from concurrent.futures import ThreadPoolExecutor

        from django.db import connection
        from rest_framework.test import APIClient

        def work(count: int) -> int:
            api = APIClient()
            api.force_authenticate(user)
            done = 0
            try:
                for _ in range(count):
                    done += api.post("/api/events/", body, format="json").status_code == 201
            finally:
                connection.close()
            return done

        share = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            made = sum(pool.map(work, share))
        return made / (time.perf_counter() - start)

    def _bare_inserts(self, sample: Any, n: int) -> float:
        """The two rows a report is at heart — the event and its first step — as bare INSERTs
        copied from a report just made, one transaction each; deleted afterwards."""
        from django.db import connection, transaction

        def row_of(table: str, where: str, value: Any) -> tuple[list[str], list[Any]]:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT * FROM {table} WHERE {where} = %s LIMIT 1", [value])  # noqa: S608
                names = [d[0] for d in cursor.description]
                return names, list(cursor.fetchone())

        event_cols, event_row = row_of("events_event", "id", sample.pk)
        step_cols, step_row = row_of("events_eventstep", "event_id", sample.pk)
        keep_e = [i for i, c in enumerate(event_cols) if c not in ("id", "token")]
        keep_s = [i for i, c in enumerate(step_cols) if c not in ("id", "event_id")]
        # Column names read from the tables themselves.
        e_columns = ", ".join(event_cols[i] for i in keep_e)
        s_columns = ", ".join(step_cols[i] for i in keep_s)
        e_values = ", ".join(["%s"] * (len(keep_e) + 1))
        s_values = ", ".join(["%s"] * (len(keep_s) + 1))
        e_sql = f"INSERT INTO events_event ({e_columns}, token) VALUES ({e_values}) RETURNING id"  # noqa: S608
        s_sql = f"INSERT INTO events_eventstep ({s_columns}, event_id) VALUES ({s_values})"  # noqa: S608
        made: list[int] = []
        start = time.perf_counter()
        for _ in range(n):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(e_sql, [event_row[i] for i in keep_e] + [str(uuid.uuid4())])
                pk = cursor.fetchone()[0]
                cursor.execute(s_sql, [step_row[i] for i in keep_s] + [pk])
                made.append(pk)
        seconds = time.perf_counter() - start
        from linli.events.models import Event

        Event.objects.filter(pk__in=made).delete()
        return seconds

    # ---------------------------------------------------------------- (4) statistics

    def statistics(self) -> None:
        from django.utils import timezone

        from linli.events.stats import StatsQuery, event_stats, home_region

        self.say("\n(4) statistics (no target)")
        county_op = self.users()["county_op"]
        today = timezone.localdate()
        for days in (30, 366):
            query = StatsQuery(today - timedelta(days=days - 1), today, home_region(county_op))
            runs = max(3, self.args.runs // 5)
            p50, p95, stats = timed(lambda q=query: event_stats(county_op, q), runs)
            statements = self.capture(lambda q=query: event_stats(county_op, q))
            sql_p50, _sql_p95, _r = timed(self.bare(statements), runs)
            self.record(
                f"county statistics, {days} days ({stats.total:,} events)",
                f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
                f"{len(statements)} queries; bare SQL p50 {sql_p50:.0f} ms "
                f"(ratio {p50 / max(sql_p50, 1e-6):.2f})",
            )
            if days == 30:
                grouped = next((s for s in statements if "GROUP BY" in s.upper()), None)
                if grouped:
                    self.explain("statistics counts (30 days)", grouped)

    # ---------------------------------------------------------------- run

    def run(self) -> None:
        self.say(f"load average at start: {load_average()}")
        self.build()
        self.sweep()
        self.supervision()
        self.creation()
        self.statistics()
        self.say(f"\nload average at end: {load_average()}")
        self.say("\nsummary")
        for name, value, verdict in self.results:
            self.say(f"  {name:<58} {value:<28} {verdict}")


if __name__ == "__main__":
    main()
