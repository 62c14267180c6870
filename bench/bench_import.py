"""Importing a people sheet: the full import (validation, SM4 encryption, blind indexes,
residences, house use, per-record audit) against a bare read of the same file.

Writes an N-row people sheet of synthetic identities (valid check digits; half of them living in
houses of the target community) into a temporary directory, then times in the same run:
  (a) a bare calamine read of the file, (b) a bare openpyxl read-only read,
  (c) the full import.

Where the import goes:
  default      a fresh SQLite database, and a fresh PostgreSQL database when DATABASE_URL is set
               (a scratch database named after the one given, created and dropped by the run;
               ``--only sqlite|postgres`` picks one), each seeded with a compound of 2,400
               houses in 锦源社区.
  --existing   the database the environment names (DATABASE_URL, or the SQLite database in
               LINLI_DATA_DIR) as it is, e.g. a synthetic county loaded with
               ``linli demo --scale N``: the target is ``--community`` or 锦源社区 (else the first
               community with houses), the housed rows go to its houses, and no ID number of the
               sheet is already in the register. It prints how many people the register held
               before the import, so runs at 100,000 and 1,000,000 people compare. The imported
               people stay: the register grows by ``--rows``.

It prints rows/s, the ratios to (a) and (b), and whether the ≥ 2,000 rows/s target is met.

    python bench/bench_import.py --rows 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linli_benchimp python bench/bench_import.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linli_demo_1m \\
        python bench/bench_import.py --rows 100000 --existing
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_ROWS_PER_SECOND = 2000
COMMUNITY = "370124001022"  # 锦源社区
COMPOUND = "锦源小区"
BENCH_COMPOUND = "导入基准小区"  # seeded in an existing register whose community has no houses
BENCH_USER = "bench_import"
HOUSES_PER_UNIT = 60  # 30 floors × 2 houses
UNITS = 4

# (compound, building, unit, house number) as a sheet names a house
HouseRef = tuple[str, str, str, str]


def house_numbers() -> list[tuple[str, str, str, int]]:
    """(building, unit, house number, floor) of the seeded compound's houses."""
    houses = []
    for building in range(1, 11):
        for unit in range(1, UNITS + 1):
            for floor in range(1, HOUSES_PER_UNIT // 2 + 1):
                for n in (1, 2):
                    houses.append((str(building), str(unit), f"{floor}{n:02d}", floor))
    return houses


def seeded_houses(compound: str) -> list[HouseRef]:
    return [(compound, building, unit, number) for building, unit, number, _f in house_numbers()]


def write_sheet(
    path: Path,
    rows: int,
    *,
    community: str = COMMUNITY,
    houses: list[HouseRef] | None = None,
    seed: str = "20260101",
    registered: Callable[[list[str]], set[str]] | None = None,
) -> int:
    """The sheet; ``registered`` names the ID numbers of a batch that the register holds
    already, which are drawn again. Returns how many drawn numbers were in the register."""
    from openpyxl import Workbook

    from linli.registry.excel.columns import PEOPLE
    from linli.utilities.synthetic import make_chinese_name, make_id_number, make_mobile

    rng = random.Random(seed)
    houses = houses or seeded_houses(COMPOUND)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(PEOPLE.name)
    sheet.append(PEOPLE.headers)
    seen: set[str] = set()
    collisions = 0
    written = 0
    while written < rows:
        births: dict[str, date] = {}
        while len(births) < min(1000, rows - written):
            birth = date(1935, 1, 1) + timedelta(days=rng.randrange(365 * 85))
            number = make_id_number(rng, "370124", birth)
            if number not in seen and number not in births:
                births[number] = birth
        taken = registered(list(births)) if registered is not None else set()
        collisions += len(taken)
        for id_number, birth in births.items():
            seen.add(id_number)
            if id_number in taken:
                continue
            housed = written % 2 == 0
            compound, building, unit, number = (
                houses[written % len(houses)] if housed else ("", "", "", "")
            )
            moved_in = max(birth, date(2000, 1, 1)) + timedelta(days=rng.randrange(3000))
            moved_in = min(moved_in, date(2025, 1, 1))
            values = {
                "name": make_chinese_name(rng),
                "id_number": id_number,
                "phone": make_mobile(rng) if rng.random() < 0.7 else "",
                "registration_type": rng.choice(["户籍人口", "常住人口", "流动人口"]),
                "ethnicity": "汉族",
                "education": rng.choice(["小学", "初中", "高中/中专", "大专", "本科"]),
                "employment": rng.choice(["在业", "退休", "学生", "不详"]),
                "political_status": rng.choice(["群众", "中共党员", "共青团员"]),
                "community_code": community,
                "compound": compound,
                "building": building,
                "unit": unit,
                "house": number,
                "relation": rng.choice(["业主", "家庭成员", "租户"]) if housed else "",
                "head_relation": rng.choice(["户主", "配偶", "子女"]) if housed else "",
                "moved_in": moved_in.isoformat() if housed else "",
            }
            sheet.append([values.get(column.key, "") for column in PEOPLE.columns])
            written += 1
    workbook.save(str(path))
    return collisions


def time_calamine(path: Path) -> tuple[float, int]:
    from python_calamine import CalamineWorkbook

    start = time.perf_counter()
    workbook = CalamineWorkbook.from_path(str(path))
    rows = workbook.get_sheet_by_index(0).to_python()
    return time.perf_counter() - start, len(rows) - 1


def time_openpyxl(path: Path) -> tuple[float, int]:
    import openpyxl

    start = time.perf_counter()
    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return time.perf_counter() - start, count - 1


# ---------------------------------------------------------------- the register to import into


def seed_fresh_register() -> tuple[Any, Any]:
    """A new database: the region path to 锦源社区, a community worker and 2,400 houses."""
    from django.core.management import call_command

    from linli.accounts.services import sync_builtin_roles
    from linli.regions.models import RegionNode

    call_command("migrate", verbosity=0)
    sync_builtin_roles()
    nodes = [
        ("37", "山东省", "province"),
        ("3701", "济南市", "city"),
        ("370124", "平阴县", "county"),
        ("370124001", "榆山街道", "subdistrict"),
        (COMMUNITY, "锦源社区", "community"),
    ]
    parent = None
    for code, name, level in nodes:
        parent = RegionNode.objects.create(code=code, name=name, level=level, parent=parent)
    assert parent is not None
    seed_houses(parent, COMPOUND)
    return parent, bench_worker(parent)


def seed_houses(community: Any, compound_name: str) -> None:
    from linli.registry.models import Building, Compound, House, Unit

    compound = Compound.objects.create(region=community, name=compound_name)
    units = {}
    for b in range(1, 11):
        building = Building.objects.create(
            region=community, compound=compound, number=f"{b}号楼", floors_above=30
        )
        for u in range(1, UNITS + 1):
            units[(str(b), str(u))] = Unit.objects.create(
                region=community, building=building, number=f"{u}单元"
            )
    House.objects.bulk_create(
        House(
            region=community,
            building=units[(b, u)].building,
            unit=units[(b, u)],
            number=number,
            floor=floor,
            address=f"{compound_name}{b}号楼{u}单元{number}室",
            address_code=f"{community.code}B{b}U{u}H{number}",
        )
        for b, u, number, floor in house_numbers()
    )


def bench_worker(community: Any) -> Any:
    """A community worker of ``community``: the demo's (``linli demo``) when there is one."""
    from linli.accounts.models import Role, RoleAssignment, User

    assignment = (
        RoleAssignment.objects.filter(
            role__code="community_worker", region=community, user__is_active=True
        )
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    if assignment is not None:
        return assignment.user
    worker = User.objects.filter(username=BENCH_USER).first()
    if worker is None:
        worker = User.objects.create_user(
            username=BENCH_USER,
            password="Bench-2026-!",
            display_name="bench",
            home_region=community,
        )
    RoleAssignment.objects.get_or_create(
        user=worker, role=Role.objects.get(code="community_worker"), region=community
    )
    return worker


def existing_target(code: str | None) -> tuple[Any, list[HouseRef]]:
    """The community to import into, and the houses the sheet's rows move into."""
    from linli.regions.models import RegionNode
    from linli.registry.models import House

    communities = RegionNode.objects.filter(level="community", retired_at__isnull=True)
    if code:
        community = communities.filter(code=code).first()
        if community is None:
            raise SystemExit(f"no active community {code} in this database")
    else:
        community = communities.filter(code=COMMUNITY).first()
        if community is None:
            with_houses = (
                House.objects.filter(
                    retired_at__isnull=True, region__level__in=["community", "grid"]
                )
                .order_by("region__code")
                .values_list("region__code", flat=True)
                .first()
            )
            community = communities.filter(code=(with_houses or "")[:12]).first() or (
                communities.order_by("code").first()
            )
        if community is None:
            raise SystemExit("no active community in this database: load one with linli demo")
    houses = list(
        House.objects.filter(
            region__code__startswith=community.code,
            retired_at__isnull=True,
            use_is_explicit=False,
            building__retired_at__isnull=True,
        )
        .order_by("pk")
        .values_list("building__compound__name", "building__number", "unit__number", "number")[
            :5000
        ]
    )
    return community, houses


def registered_in(numbers: list[str]) -> set[str]:
    """Those of ``numbers`` the register holds (by blind index, as the import matches)."""
    from linli.registry.models import Person
    from linli.utilities.fields import blind_index_for

    by_index = {blind_index_for(Person, "id_number_index", n): n for n in numbers}
    found = Person.objects.filter(id_number_index__in=list(by_index)).values_list(
        "id_number_index", flat=True
    )
    return {by_index[index] for index in found}


# ---------------------------------------------------------------- the timed import (child)


def backend_cpu_seconds() -> tuple[int, float] | None:
    """PostgreSQL on this machine: (pid, CPU seconds so far) of this connection's backend
    process, read from /proc; None for SQLite or a server elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        # Fields after the command name: state is field 3, utime 14 and stime 15.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(pid), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_import(path: Path, existing: str | None, profile: str | None = None) -> dict[str, object]:
    """In a child process: the import alone, into a fresh or the existing register."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from linli.regions.models import RegionNode
    from linli.registry.excel.importer import run_import_job, start_import
    from linli.registry.models import House, ImportJob, Person

    if existing is None:
        community, worker = seed_fresh_register()
    else:
        community = RegionNode.objects.get(code=existing)
        if not House.objects.filter(
            region__code__startswith=community.code, retired_at__isnull=True
        ).exists():
            seed_houses(community, BENCH_COMPOUND)
        worker = bench_worker(community)
    people_before = Person.objects.count()
    in_community = Person.objects.filter(region__code__startswith=community.code).count()
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    backend_start = backend_cpu_seconds()
    start = time.perf_counter()
    cpu_start = time.process_time()
    if profiler is not None:
        profiler.enable()
    job = start_import(worker, kind="people", region=community, upload=upload)
    accepted = time.perf_counter() - start
    run_import_job(job.pk)  # a no-op when the job already ran on commit
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    backend_end = backend_cpu_seconds()
    backend_cpu = None
    if backend_start and backend_end and backend_start[0] == backend_end[0]:
        backend_cpu = backend_end[1] - backend_start[1]
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    job = ImportJob.objects.get(pk=job.pk)
    return {
        "vendor": connection.vendor,
        "database": str(connection.settings_dict["NAME"]),
        "community": f"{community.name} {community.code}",
        "worker": worker.username,
        "people_before": people_before,
        "community_people_before": in_community,
        "people_after": Person.objects.count(),
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "backend_cpu_seconds": backend_cpu,
        "upload_check_seconds": accepted,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "rejected": job.rejected_count,
        "status": job.status,
        "message": job.message[:300],
    }


def _child(
    path: Path, env: dict[str, str], existing: str | None, profile: str | None = None
) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", str(path)]
    if existing is not None:
        command += ["--child-existing", existing]
    if profile:
        command += ["--child-profile", profile]
    result = subprocess.run(  # noqa: S603 - this very script, with our own arguments
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _postgres_scratch(url: str) -> tuple[str, str]:
    """A fresh scratch database beside the one DATABASE_URL names: (url, name)."""
    import psycopg

    base, _slash, name = url.rpartition("/")
    # Named after the database given, so a run never lands on another benchmark's database.
    scratch = f"{name.partition('?')[0]}_import_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    return f"{base}/{scratch}", scratch


def _drop_postgres(url: str, name: str) -> None:
    import psycopg

    base = url.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--only",
        choices=["sqlite", "postgres"],
        help="fresh databases: import into this one only (default: SQLite, and PostgreSQL "
        "when DATABASE_URL is set)",
    )
    parser.add_argument(
        "--existing",
        action="store_true",
        help="import into the database the environment names, as it is (see above)",
    )
    parser.add_argument(
        "--community", help="with --existing: the 12-digit code of the community to import into"
    )
    parser.add_argument(
        "--sheet",
        help="fresh databases: the sheet to import, written there when it does not exist yet "
        "and reused as it is when it does (so runs of two versions import the same file)",
    )
    parser.add_argument(
        "--profile",
        help="write a cProfile of the timed import to this file (with a .sqlite or .postgresql "
        "suffix per database); the profiler slows the import, so its times are not the results",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-existing", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    if args.child:
        print(json.dumps(run_import(Path(args.child), args.child_existing, args.child_profile)))
        return
    if args.sheet and args.existing:
        parser.error("--sheet is for fresh databases (--existing draws ID numbers it lacks)")

    import django

    if not args.existing:
        # Only the sheet's columns are needed here: a throwaway data directory.
        os.environ.setdefault("LINLI_DATA_DIR", tempfile.mkdtemp(prefix="linli-bench-"))
    django.setup()
    workdir = Path(tempfile.mkdtemp(prefix="linli-bench-import-"))
    path = Path(args.sheet) if args.sheet else workdir / "people.xlsx"
    reused = bool(args.sheet) and path.exists()
    started = time.perf_counter()
    existing: str | None = None
    if args.existing:
        from django.db import connection

        from linli.registry.models import Person

        community, houses = existing_target(args.community)
        existing = community.code
        people_before = Person.objects.count()
        print(
            f"register: {connection.vendor} database {connection.settings_dict['NAME']}, "
            f"{people_before:,} people before the import; target {community.name} "
            f"{community.code} ({len(houses):,} houses the rows move into"
            f"{'' if houses else '; a compound is seeded'})"
        )
        collisions = write_sheet(
            path,
            args.rows,
            community=community.code,
            houses=houses or seeded_houses(BENCH_COMPOUND),
            seed=f"20260101:{people_before}",
            registered=registered_in,
        )
        connection.close()
        print(f"ID numbers drawn again because the register holds them: {collisions:,}")
    elif not reused:
        write_sheet(path, args.rows)
    written = "reused" if reused else f"written in {time.perf_counter() - started:.1f} s"
    print(f"sheet: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB, {written} ({path})")
    calamine_s, calamine_rows = time_calamine(path)
    openpyxl_s, openpyxl_rows = time_openpyxl(path)
    assert calamine_rows == openpyxl_rows == args.rows, (calamine_rows, openpyxl_rows)
    print(
        f"(a) bare calamine read:      {calamine_s:7.2f} s {args.rows / calamine_s:10,.0f} rows/s"
    )
    print(
        f"(b) bare openpyxl read-only: {openpyxl_s:7.2f} s {args.rows / openpyxl_s:10,.0f} rows/s"
    )

    targets: list[tuple[str, dict[str, str]]] = []
    scratch: tuple[str, str] | None = None
    if args.existing:
        targets.append(("existing", dict(os.environ)))
    else:
        sqlite_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        sqlite_env["LINLI_DATA_DIR"] = str(workdir / "sqlite")
        (workdir / "sqlite").mkdir()
        if args.only != "postgres":
            targets.append(("SQLite", sqlite_env))
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith("postgres") and args.only != "sqlite":
            scratch = _postgres_scratch(url)
            targets.append(("PostgreSQL", {**os.environ, "DATABASE_URL": scratch[0]}))
    try:
        for label, env in targets:
            # LINLI_TESTING runs the queued job inline when start_import commits, so the time
            # measured is the import alone, not a thread racing the measurement.
            profile = None
            if args.profile:
                profile = f"{args.profile}.{'sqlite' if label == 'SQLite' else 'postgresql'}"
            result = _child(
                path,
                {**env, "LINLI_LOG_LEVEL": "WARNING", "LINLI_TESTING": "1"},
                existing,
                profile,
            )
            if label == "existing":
                label = "PostgreSQL" if result["vendor"] == "postgresql" else "SQLite"
                print(
                    f"    register before: {result['people_before']:,} people "
                    f"({result['community_people_before']:,} in {result['community']}); "
                    f"after: {result['people_after']:,}; imported as {result['worker']}"
                )
            seconds = float(result["seconds"])  # type: ignore[arg-type]
            rate = args.rows / seconds
            verdict = "MET" if rate >= TARGET_ROWS_PER_SECOND else "NOT MET"
            print(
                f"(c) full import, {label:10s}:   {seconds:8.2f} s  {rate:10,.0f} rows/s  "
                f"({result['created']} created, {result['updated']} updated, "
                f"{result['rejected']} rejected, status {result['status']})"
            )
            cpu = float(result["cpu_seconds"])  # type: ignore[arg-type]
            print(
                f"    CPU time of the importing process: {cpu:.2f} s "
                f"({args.rows / cpu:,.0f} rows per CPU second; wall time above includes "
                "waiting for the database and for a busy machine)"
            )
            backend = result.get("backend_cpu_seconds")
            if backend is not None:
                print(
                    f"    CPU time of the PostgreSQL backend serving the import: "
                    f"{float(backend):.2f} s (the server's background writers not counted)"  # type: ignore[arg-type]
                )
            print(f"    load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(
                f"    ratio to (a) calamine: {seconds / calamine_s:6.1f}×   "
                f"ratio to (b) openpyxl: {seconds / openpyxl_s:6.1f}×   "
                f"target ≥ {TARGET_ROWS_PER_SECOND:,} rows/s: {verdict}"
            )
    finally:
        if scratch is not None:
            _drop_postgres(os.environ["DATABASE_URL"], scratch[1])


if __name__ == "__main__":
    main()
