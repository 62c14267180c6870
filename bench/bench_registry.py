"""Registry at county scale: the people list, ID-number search, a 33-floor floor plan and the
community overview against a synthetic county of ``--scale`` people (``linli demo --scale``).

Prints p50/p95 over repeated runs and, measured in the same run, the ratio of the ORM path to
the bare SQL it sends (the captured SQL text replayed on a cursor, no model instances, no
decryption), plus the query plans, so a lost index or an N+1 shows up. It never asserts a time:
the targets (list page and API p95 ≤ 150 ms at 1,000,000 people on PostgreSQL, ID search
p95 ≤ 20 ms) are printed next to the measurements.

    python bench/bench_registry.py --scale 3000                      # SQLite, temporary dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linli_bench_registry \\
        python bench/bench_registry.py --scale 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linli_bench_registry \\
        python bench/bench_registry.py --scales 100000,1000000    # databases <name>_<scale>

A database already filled to the scale is reused (the load is idempotent), so a second run
only measures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIST_FILTERS = {"registration_type": "registered", "age_band": "60-79", "tag": "elderly_empty_nest"}
TARGET_LIST_P95_MS = 150.0
TARGET_ID_SEARCH_P95_MS = 20.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=100_000, help="people in the county")
    parser.add_argument(
        "--scales", default="", help="two or more scales, e.g. 100000,1000000: a growth table"
    )
    parser.add_argument("--seed", type=int, default=370124)
    parser.add_argument("--runs", type=int, default=50, help="timed runs per measurement")
    parser.add_argument(
        "--count-cap",
        type=int,
        default=2000,
        help="cap of the capped-count variant (the lists' own cap, linli.utilities.paging)",
    )
    parser.add_argument("--json-out", default="", help=argparse.SUPPRESS)
    parser.add_argument("--no-plans", action="store_true", help="do not print query plans")
    return parser.parse_args()


# ---------------------------------------------------------------- several scales


def database_url_for(scale: int) -> tuple[dict[str, str], str]:
    """Environment of the child run for one scale: PostgreSQL database <name>_<scale>, or a
    SQLite file in a directory of its own."""
    env = dict(os.environ)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        name = f"{parts.path.lstrip('/') or 'linli_bench_registry'}_{scale}"
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))
        create_postgres_database(url, name)
        return env, env["DATABASE_URL"]
    directory = Path(tempfile.gettempdir()) / f"linli-bench-registry-{scale}"
    directory.mkdir(parents=True, exist_ok=True)
    env["LINLI_DATA_DIR"] = str(directory)
    env.pop("DATABASE_URL", None)
    return env, f"sqlite in {directory}"


def create_postgres_database(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def run_scales(args: argparse.Namespace) -> None:
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    results: list[dict[str, Any]] = []
    for scale in scales:
        env, where = database_url_for(scale)
        print(f"\n=== scale {scale:,} ({where}) ===", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        command = [
            sys.executable,
            __file__,
            "--scale",
            str(scale),
            "--seed",
            str(args.seed),
            "--runs",
            str(args.runs),
            "--count-cap",
            str(args.count_cap),
            "--json-out",
            out,
        ]
        if args.no_plans:
            command.append("--no-plans")
        subprocess.run(command, env=env, check=True)  # noqa: S603 - our own script
        results.append(json.loads(Path(out).read_text()))
        Path(out).unlink()
    print_growth(results)


def print_growth(results: list[dict[str, Any]]) -> None:
    if len(results) < 2:
        return
    first, last = results[0], results[-1]
    growth = last["people"] / max(1, first["people"])
    print(f"\n=== growth from {first['people']:,} to {last['people']:,} people (×{growth:.0f}) ===")
    header = f"{'measurement':<44}" + "".join(f"{r['people']:>14,}" for r in results)
    print(header + f"{'ratio':>9}")
    for name in first["p95_ms"]:
        values = [r["p95_ms"].get(name) for r in results]
        cells = "".join(f"{v:>11.1f} ms" if v is not None else f"{'—':>14}" for v in values)
        ratio = f"{values[-1] / values[0]:>8.2f}×" if values[0] and values[-1] is not None else ""
        print(f"{name:<44}{cells}{ratio}")
    print("p95 of each measurement; the ratio is the last scale's p95 over the first's.")


# ---------------------------------------------------------------- one scale


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


def main() -> None:
    args = parse_args()
    if args.scales:
        run_scales(args)
        return
    os.environ.setdefault("LINLI_DATA_DIR", tempfile.mkdtemp(prefix="linli-bench-registry-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    import django

    django.setup()
    Bench(args).run()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.runs = args.runs
        self.p95: dict[str, float] = {}
        self.p50: dict[str, float] = {}
        self.notes: list[str] = []

    # -- set-up

    def build(self) -> None:
        from django.core.management import call_command
        from django.db import connection

        from linli.core.management.commands.demo import load_demo
        from linli.registry import synthetic
        from linli.registry.models import Person

        call_command("migrate", verbosity=0)
        load_demo()
        start = time.perf_counter()
        summary = synthetic.load_county(
            self.args.scale, self.args.seed, progress=lambda line: print("  load: " + line)
        )
        if summary.loaded:
            print(f"loaded {summary.loaded} communities in {summary.seconds:.0f} s")
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE")
        elif connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.people = Person.objects.count()
        print(
            f"database: {connection.vendor} {connection.settings_dict['NAME']}; "
            f"{self.people:,} people (set-up {time.perf_counter() - start:.0f} s)"
        )
        if self.people != self.args.scale:
            self.notes.append(
                f"the database holds {self.people:,} people, not the {self.args.scale:,} asked "
                "for (it was filled at another scale before)"
            )

    def users(self) -> tuple[Any, Any]:
        from linli.accounts.models import User

        return (
            User.objects.get(username="jinyuan_worker"),
            User.objects.get(username="county_op"),
        )

    # -- helpers

    def record(self, name: str, p50: float, p95: float, extra: str = "") -> None:
        self.p50[name], self.p95[name] = p50, p95
        print(f"  {name:<42} p50 {p50:8.2f} ms  p95 {p95:8.2f} ms  {extra}")

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
        """Print the plan and the indexes it uses; flag full scans of the big tables."""
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
            set(re.findall(r"Seq Scan on (registry_\w+|regions_\w+)", plan))
            | set(re.findall(r"\bSCAN (registry_\w+|regions_\w+)", plan))
        )
        verdict = f"indexes {', '.join(indexes) or 'none'}"
        if scans:
            verdict += f"; FULL SCANS of {', '.join(scans)}"
        print(f"  plan of {title}: {verdict}")
        if not self.args.no_plans:
            print("    " + plan.replace("\n", "\n    "))

    # -- (1) the people list

    def people_rows(self, user: Any, data: dict[str, str]) -> Any:
        """The people list's queryset as the list page builds it (views.person_list)."""
        from linli.registry import views
        from linli.registry.filters import PersonFilter
        from linli.registry.models import Person

        rows = (
            Person.objects.visible_to(user)
            .select_related("region")
            .prefetch_related(views._current_residences_prefetch(), views._current_tags_prefetch())
        )
        return PersonFilter(data, queryset=rows, request=None).qs

    def people_list(self, label: str, user: Any, data: dict[str, str]) -> None:
        def page() -> int:
            # As the list page and the API do (linli.utilities.paging.CappedPaginator): the
            # first page and a count that stops at the cap ("2000+"). Ordering cleared: the
            # count subquery can stop at the cap on any index.
            queryset = self.people_rows(user, data)
            list(queryset[:50])
            capped: int = queryset.order_by()[: self.args.count_cap + 1].count()
            return capped

        p50, p95, total = timed(page, self.runs)
        statements = self.capture(page)
        sql_p50, sql_p95, _ = timed(self.bare(statements), self.runs)
        shown = f"{self.args.count_cap:,}+" if total > self.args.count_cap else f"{total:,}"
        self.record(
            f"list {label} (query)",
            p50,
            p95,
            f"{shown} rows match (count capped at {self.args.count_cap:,}); "
            f"{len(statements)} queries",
        )
        self.record(
            f"list {label} (bare SQL)",
            sql_p50,
            sql_p95,
            f"ORM / SQL p50 ratio {p50 / max(sql_p50, 1e-6):.2f}",
        )

        def exact_page() -> int:
            # What an exact total would cost: why the lists cap their count.
            queryset = self.people_rows(user, data)
            list(queryset[:50])
            exact: int = queryset.count()
            return exact

        exact_p50, exact_p95, exact = timed(exact_page, self.runs)
        self.record(
            f"list {label} (exact count)",
            exact_p50,
            exact_p95,
            f"the same page with an exact count of {exact:,} rows",
        )
        person_queries = [s for s in statements if 'FROM "registry_person"' in s]
        select = next((s for s in person_queries if "LIMIT" in s.upper()), None)
        count = next((s for s in person_queries if "COUNT(" in s.upper()), None)
        if select:
            self.explain(f"list {label} page", select)
        if count:
            self.explain(f"list {label} count", count)

    def people_http(self, label: str, user: Any, data: dict[str, str]) -> None:
        """The real page and API list, through the URL, middleware, view and template."""
        from django.test import Client
        from rest_framework.test import APIClient

        client = Client()
        client.force_login(user)
        api = APIClient()
        api.force_authenticate(user)
        for kind, fetch in (
            ("page", lambda: client.get("/registry/people/", data)),
            ("API", lambda: api.get("/api/registry/people/", data)),
        ):
            try:
                response = fetch()
                if response.status_code != 200:
                    print(f"  list {label} ({kind}): HTTP {response.status_code}, not measured")
                    continue
                p50, p95, _ = timed(fetch, self.runs)
            except Exception as exc:
                print(f"  list {label} ({kind}): not measured ({exc.__class__.__name__}: {exc})")
                continue
            target = "meets" if p95 <= TARGET_LIST_P95_MS else "MISSES"
            self.record(
                f"list {label} ({kind})",
                p50,
                p95,
                f"{target} the {TARGET_LIST_P95_MS:.0f} ms p95 target",
            )

    # -- (2) ID-number search

    def id_search(self, user: Any) -> None:
        from linli.registry import services
        from linli.registry.models import Person
        from linli.utilities.fields import blind_index_for

        sample = list(Person.objects.order_by("?").only("id_number")[: self.runs])
        numbers = [person.id_number for person in sample]
        position = iter(range(10**9))

        def search() -> Any:
            number = numbers[next(position) % len(numbers)]
            found = services.find_person_by_id_number(user, number)
            assert found is not None, "an ID number of the register was not found"
            return found

        p50, p95, _ = timed(search, self.runs)
        target = "meets" if p95 <= TARGET_ID_SEARCH_P95_MS else "MISSES"
        self.record(
            "ID-number search (service)",
            p50,
            p95,
            f"{target} the {TARGET_ID_SEARCH_P95_MS:.0f} ms p95 target",
        )
        statements = self.capture(search)
        sql_p50, sql_p95, _ = timed(self.bare(statements), self.runs)
        self.record(
            "ID-number search (bare SQL)",
            sql_p50,
            sql_p95,
            f"ORM / SQL p50 ratio {p50 / max(sql_p50, 1e-6):.2f}; {len(statements)} queries",
        )
        index = blind_index_for(Person, "id_number_index", numbers[0])
        lookup = next((s for s in statements if index in s), statements[-1])
        self.explain("ID-number search", lookup)

    # -- (3) floor plan, (4) overview

    def floor_plan(self, user: Any) -> None:
        from linli.registry import services
        from linli.registry.models import Building

        building = (
            Building.objects.visible_to(user)
            .filter(floors_above__gte=33)
            .order_by("-floors_above", "pk")
            .first()
        )
        if building is None:
            print("  floor plan: no building of 33 floors in the worker's community")
            return
        houses = building.houses.count()
        p50, p95, _ = timed(lambda: services.floor_plan(user, building), self.runs)
        statements = self.capture(lambda: services.floor_plan(user, building))
        sql_p50, _sql_p95, _ = timed(self.bare(statements), self.runs)
        self.record(
            f"floor plan, {building.floors_above} floors",
            p50,
            p95,
            f"{houses} houses; {len(statements)} queries; ORM / SQL p50 ratio "
            f"{p50 / max(sql_p50, 1e-6):.2f}",
        )

    def overview(self, label: str, user: Any, code: str) -> None:
        from django.core.cache import cache

        from linli.regions.models import RegionNode
        from linli.registry import services

        region = RegionNode.objects.get(code=code)

        def counted() -> Any:
            cache.clear()  # counted every run: the cold cost, whatever the level
            return services.community_overview(user, region)

        p50, p95, _ = timed(counted, self.runs)
        statements = self.capture(counted)
        sql_p50, _sql_p95, _ = timed(self.bare(statements), self.runs)
        self.record(
            f"overview {label}",
            p50,
            p95,
            f"{len(statements)} queries; ORM / SQL p50 ratio {p50 / max(sql_p50, 1e-6):.2f}",
        )
        counted()
        warm_p50, warm_p95, _ = timed(lambda: services.community_overview(user, region), self.runs)
        cached = len(self.capture(lambda: services.community_overview(user, region))) == 0
        self.record(
            f"overview {label}, repeated",
            warm_p50,
            warm_p95,
            ("served from the cache" if cached else "counted again (not a cached level)")
            + f"; ratio to counting {warm_p50 / max(p50, 1e-6):.3f}",
        )

    def run(self) -> None:
        from django.db import connection

        self.build()
        worker, operator = self.users()
        print(f"\nruns per measurement: {self.runs}; filters {LIST_FILTERS}")
        print("\n(1) people list, first page of 50 and the total count")
        for label, user in (("community worker", worker), ("county operator", operator)):
            self.people_list(f"{label}, filtered", user, LIST_FILTERS)
            self.people_list(f"{label}, unfiltered", user, {})
            self.people_http(f"{label}, filtered", user, LIST_FILTERS)
        print("\n(2) exact ID-number search through the blind index (county operator)")
        self.id_search(operator)
        print("\n(3) floor plan of the 33-floor tower (community worker)")
        self.floor_plan(worker)
        print("\n(4) community overview")
        self.overview("of 锦源社区 (community worker)", worker, "370124001022")
        self.overview("of 平阴县 (county operator)", operator, "370124")
        for note in self.notes:
            print("note: " + note)
        if self.args.json_out:
            Path(self.args.json_out).write_text(
                json.dumps(
                    {
                        "people": self.people,
                        "vendor": connection.vendor,
                        "p50_ms": self.p50,
                        "p95_ms": self.p95,
                    }
                )
            )


if __name__ == "__main__":
    main()
