"""Importing a people sheet: the full import (validation, SM4 encryption, blind indexes,
residences, house use, per-record audit) against a bare read of the same file.

Writes an N-row people sheet of synthetic identities (valid check digits; half of them living in
houses of a generated compound) into a temporary directory, then times in the same run:
  (a) a bare calamine read of the file, (b) a bare openpyxl read-only read,
  (c) the full import into a fresh SQLite database, and into PostgreSQL when DATABASE_URL is set
      (a scratch database created next to the one named, dropped afterwards).
It prints rows/s, the ratios to (a) and (b), and whether the ≥ 2,000 rows/s target is met.

    python bench/bench_import.py --rows 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linli_bench python bench/bench_import.py
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
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_ROWS_PER_SECOND = 2000
COMMUNITY = "370124001022"
HOUSES_PER_UNIT = 60  # 30 floors × 2 houses
UNITS = 4


def house_numbers() -> list[tuple[str, str, str, int]]:
    """(building, unit, house number, floor) of the generated compound's houses."""
    houses = []
    for building in range(1, 11):
        for unit in range(1, UNITS + 1):
            for floor in range(1, HOUSES_PER_UNIT // 2 + 1):
                for n in (1, 2):
                    houses.append((str(building), str(unit), f"{floor}{n:02d}", floor))
    return houses


def write_sheet(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    from linli.registry.excel.columns import PEOPLE
    from linli.utilities.synthetic import make_chinese_name, make_id_number, make_mobile

    rng = random.Random(20260101)
    houses = house_numbers()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(PEOPLE.name)
    sheet.append(PEOPLE.headers)
    seen: set[str] = set()
    written = 0
    while written < rows:
        birth = date(1935, 1, 1) + timedelta(days=rng.randrange(365 * 85))
        id_number = make_id_number(rng, "370124", birth)
        if id_number in seen:
            continue
        seen.add(id_number)
        housed = written % 2 == 0
        building, unit, number, _floor = (
            houses[written % len(houses)] if housed else ("", "", "", 0)
        )
        moved_in = max(birth, date(2000, 1, 1)) + timedelta(days=rng.randrange(3000))
        moved_in = min(moved_in, date(2025, 1, 1))
        sheet.append(
            [
                make_chinese_name(rng),
                id_number,
                make_mobile(rng) if rng.random() < 0.7 else "",
                rng.choice(["户籍人口", "常住人口", "流动人口"]),
                "汉族",
                rng.choice(["小学", "初中", "高中/中专", "大专", "本科"]),
                rng.choice(["在业", "退休", "学生", "不详"]),
                rng.choice(["群众", "中共党员", "共青团员"]),
                COMMUNITY,
                "锦源小区" if housed else "",
                building,
                unit,
                number,
                rng.choice(["业主", "家庭成员", "租户"]) if housed else "",
                rng.choice(["户主", "配偶", "子女"]) if housed else "",
                moved_in.isoformat() if housed else "",
            ]
        )
        written += 1
    workbook.save(str(path))


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


def run_import(path: Path) -> dict[str, object]:
    """In a child process with its own database: migrate, seed the tree and houses, import."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection

    from linli.accounts.models import Role, RoleAssignment, User
    from linli.accounts.services import sync_builtin_roles
    from linli.regions.models import RegionNode
    from linli.registry.excel.importer import run_import_job, start_import
    from linli.registry.models import Building, Compound, House, ImportJob, Unit

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
    community = parent
    assert community is not None
    worker = User.objects.create_user(
        username="bench", password="Bench-2026-!", display_name="bench", home_region=community
    )
    RoleAssignment.objects.create(
        user=worker, role=Role.objects.get(code="community_worker"), region=community
    )
    compound = Compound.objects.create(region=community, name="锦源小区")
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
            address=f"锦源小区{b}号楼{u}单元{number}室",
            address_code=f"{COMMUNITY}B{b}U{u}H{number}",
        )
        for b, u, number, floor in house_numbers()
    )
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    start = time.perf_counter()
    cpu_start = time.process_time()
    job = start_import(worker, kind="people", region=community, upload=upload)
    accepted = time.perf_counter() - start
    run_import_job(job.pk)  # a no-op when the job already ran on commit
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    job = ImportJob.objects.get(pk=job.pk)
    return {
        "vendor": connection.vendor,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "upload_check_seconds": accepted,
        "created": job.created_count,
        "rejected": job.rejected_count,
        "status": job.status,
        "message": job.message[:300],
    }


def _child(path: Path, env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(  # noqa: S603 - this very script, with our own arguments
        [sys.executable, __file__, "--child", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _postgres_scratch(url: str) -> tuple[str, str] | None:
    """A fresh scratch database beside the one DATABASE_URL names: (url, name)."""
    import psycopg

    base, _slash, _name = url.rpartition("/")
    scratch = f"linli_bench_import_{os.getpid()}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    return f"{base}/{scratch}", scratch


def _drop_postgres(url: str, name: str) -> None:
    import psycopg

    base = url.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    if args.child:
        print(json.dumps(run_import(Path(args.child))))
        return

    import django

    os.environ.setdefault("LINLI_DATA_DIR", tempfile.mkdtemp(prefix="linli-bench-"))
    django.setup()
    workdir = Path(tempfile.mkdtemp(prefix="linli-bench-import-"))
    path = workdir / "people.xlsx"
    started = time.perf_counter()
    write_sheet(path, args.rows)
    print(
        f"sheet: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB, "
        f"written in {time.perf_counter() - started:.1f} s ({path})"
    )
    calamine_s, calamine_rows = time_calamine(path)
    openpyxl_s, openpyxl_rows = time_openpyxl(path)
    assert calamine_rows == openpyxl_rows == args.rows, (calamine_rows, openpyxl_rows)
    print(
        f"(a) bare calamine read:      {calamine_s:7.2f} s {args.rows / calamine_s:10,.0f} rows/s"
    )
    print(
        f"(b) bare openpyxl read-only: {openpyxl_s:7.2f} s {args.rows / openpyxl_s:10,.0f} rows/s"
    )

    targets: list[tuple[str, dict[str, str], str | None]] = []
    sqlite_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    sqlite_env["LINLI_DATA_DIR"] = str(workdir / "sqlite")
    (workdir / "sqlite").mkdir()
    targets.append(("SQLite", sqlite_env, None))
    scratch: tuple[str, str] | None = None
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        scratch = _postgres_scratch(os.environ["DATABASE_URL"])
        if scratch:
            targets.append(("PostgreSQL", {**os.environ, "DATABASE_URL": scratch[0]}, scratch[1]))
    try:
        for label, env, _name in targets:
            # LINLI_TESTING runs the queued job inline when start_import commits, so the time
            # measured is the import alone, not a thread racing the measurement.
            result = _child(path, {**env, "LINLI_LOG_LEVEL": "WARNING", "LINLI_TESTING": "1"})
            seconds = float(result["seconds"])  # type: ignore[arg-type]
            rate = args.rows / seconds
            verdict = "MET" if rate >= TARGET_ROWS_PER_SECOND else "NOT MET"
            print(
                f"(c) full import, {label:10s}:   {seconds:8.2f} s  {rate:10,.0f} rows/s  "
                f"({result['created']} created, {result['rejected']} rejected, "
                f"status {result['status']})"
            )
            cpu = float(result["cpu_seconds"])  # type: ignore[arg-type]
            print(
                f"    CPU time of the importing process: {cpu:.2f} s "
                f"({args.rows / cpu:,.0f} rows per CPU second; wall time above includes "
                "waiting for the database and for a busy machine)"
            )
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
