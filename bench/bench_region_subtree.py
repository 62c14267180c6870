"""Subtree queries at county scale: 1 county, 20 subdistricts, 300 communities, 15,000 grids.

Prints, for a community's, a subdistrict's and the county's subtree, the time of the gate's
index-backed range query and of a baseline that scans the whole table (the same predicate
written so no index can serve it), measured in the same run, as a ratio. Also prints the
query plan so a lost index shows up.

    python bench/bench_region_subtree.py                 # SQLite in a temporary directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/linli_bench python bench/bench_region_subtree.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LINLI_DATA_DIR", tempfile.mkdtemp(prefix="linli-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models.functions import Substr  # noqa: E402

from linli.regions.models import RegionNode  # noqa: E402


def build() -> None:
    call_command("migrate", verbosity=0)
    if RegionNode.objects.filter(code="370124").exists():
        return
    province = RegionNode.objects.create(code="37", name="山东省", level="province")
    city = RegionNode.objects.create(code="3701", name="济南市", level="city", parent=province)
    county = RegionNode.objects.create(code="370124", name="平阴县", level="county", parent=city)
    rows = []
    for s in range(1, 21):
        rows.append(
            RegionNode(code=f"370124{s:03d}", name=f"街道{s}", level="subdistrict", parent=county)
        )
    RegionNode.objects.bulk_create(rows)
    subs = {n.code: n for n in RegionNode.objects.filter(level="subdistrict")}
    rows = []
    for s in range(1, 21):
        for c in range(1, 16):
            rows.append(
                RegionNode(
                    code=f"370124{s:03d}{c:03d}",
                    name=f"社区{s}-{c}",
                    level="community",
                    parent=subs[f"370124{s:03d}"],
                )
            )
    RegionNode.objects.bulk_create(rows)
    communities = {n.code: n for n in RegionNode.objects.filter(level="community")}
    rows = []
    for code, community in communities.items():
        for g in range(1, 51):
            rows.append(
                RegionNode(code=f"{code}{g:03d}", name=f"网格{g}", level="grid", parent=community)
            )
    RegionNode.objects.bulk_create(rows, batch_size=2000)


def timed(fn: Callable[[], int], repeat: int = 30) -> tuple[float, int]:
    fn()
    best = float("inf")
    result = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    build()
    total = RegionNode.objects.count()
    print(f"database: {connection.vendor}; regions: {total}")
    for label, code in [
        ("community", "370124007008"),
        ("subdistrict", "370124007"),
        ("county", "370124"),
    ]:
        gate, n_gate = timed(lambda c=code: RegionNode.objects.within([c]).count())
        # Baseline: the same subtree computed with a function on the column, which no index serves.
        base, n_base = timed(
            lambda c=code: (
                RegionNode.objects.annotate(prefix=Substr("code", 1, len(c)))
                .filter(prefix=c)
                .count()
            )
        )
        assert n_gate == n_base, (n_gate, n_base)
        timing = f"gate={gate * 1e3:8.3f} ms full-scan={base * 1e3:8.3f} ms"
        print(f"{label:12s} rows={n_gate:6d} {timing} speed-up={base / gate:6.1f}x")
    sql, params = RegionNode.objects.within(["370124007008"]).query.sql_with_params()
    with connection.cursor() as cursor:
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(prefix + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    print("plan:", plan)


if __name__ == "__main__":
    main()
