#!/usr/bin/env python3
"""Merge the translation fragments into the Simplified Chinese catalogue and compile it.

Each engineer keeps the translations of their area in ``linli/locale/zh_Hans/fragments/*.json``,
a flat JSON object ``{"English msgid": "中文"}``. A plural msgid is written as
``{"singular msgid": {"plural": "plural msgid", "translation": "中文"}}`` (Chinese has one form).

    python scripts/i18n.py           writes django.po and django.mo from the fragments
    python scripts/i18n.py --check   exits 1 when django.po/.mo are stale or a msgid used in the
                                     templates or the Python code has no translation
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "linli"
LOCALE = PACKAGE / "locale" / "zh_Hans"
FRAGMENTS = LOCALE / "fragments"
PO_PATH = LOCALE / "LC_MESSAGES" / "django.po"
MO_PATH = LOCALE / "LC_MESSAGES" / "django.mo"

HEADER = {
    "Project-Id-Version": "linli",
    "Language": "zh_Hans",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}

_STRING = r"""(?P<lit>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')"""
PYTHON_CALL = re.compile(
    r"(?<![\w.])(?:_|gettext|gettext_lazy|gettext_noop|ngettext|ngettext_lazy)\(\s*"
    + _STRING
    + r"\s*[,)]"
)
TEMPLATE_TAG = re.compile(r"\{%\s*(?:translate|trans)\s+" + _STRING + r"[^%]*%\}")
BLOCK_TAG = re.compile(
    r"\{%\s*blocktrans(?:late)?(?P<opts>[^%]*)%\}(?P<body>.*?)\{%\s*endblocktrans(?:late)?\s*%\}",
    re.DOTALL,
)
BLOCK_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def load_fragments() -> dict[str, tuple[str | None, str]]:
    """msgid -> (msgid_plural, translation); a msgid translated two ways stops the merge."""
    merged: dict[str, tuple[str | None, str]] = {}
    origin: dict[str, str] = {}
    problems = []
    for path in sorted(FRAGMENTS.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}: not valid JSON ({exc})")
            continue
        for msgid, value in data.items():
            if isinstance(value, dict):
                entry = (value.get("plural"), str(value.get("translation", "")))
            else:
                entry = (None, str(value))
            if not entry[1].strip():
                problems.append(f"{path.name}: {msgid!r} has an empty translation")
                continue
            if msgid in merged and merged[msgid] != entry:
                problems.append(
                    f"{msgid!r} is translated differently in {origin[msgid]} and {path.name}"
                )
                continue
            merged[msgid] = entry
            origin[msgid] = path.name
    if problems:
        for problem in problems:
            print(f"i18n: {problem}", file=sys.stderr)
        raise SystemExit(1)
    return merged


def build_catalogue(entries: dict[str, tuple[str | None, str]]) -> polib.POFile:
    po = polib.POFile(wrapwidth=0)
    po.metadata = dict(HEADER)
    for msgid in sorted(entries):
        plural, translation = entries[msgid]
        if plural:
            po.append(
                polib.POEntry(msgid=msgid, msgid_plural=plural, msgstr_plural={0: translation})
            )
        else:
            po.append(polib.POEntry(msgid=msgid, msgstr=translation))
    return po


def _literal(text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _block_msgid(options: str, body: str) -> str | None:
    if "count" in options.split() or "{%" in body:
        return None  # plural and nested-tag blocks are checked by hand
    msgid = BLOCK_VAR.sub(lambda m: f"%({m.group(1)})s", body)
    if "trimmed" in options.split():
        msgid = " ".join(line.strip() for line in msgid.strip().splitlines() if line.strip())
    return msgid


def used_msgids() -> dict[str, str]:
    """msgid -> first place it is used, from the templates and the Python code of ``linli``."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in {".py", ".html", ".txt"} or "migrations" in path.parts:
            continue
        if "static" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(ROOT))
        candidates: list[str | None] = []
        if path.suffix == ".py":
            candidates += [_literal(m.group("lit")) for m in PYTHON_CALL.finditer(text)]
        else:
            candidates += [_literal(m.group("lit")) for m in TEMPLATE_TAG.finditer(text)]
            candidates += [
                _block_msgid(m.group("opts"), m.group("body")) for m in BLOCK_TAG.finditer(text)
            ]
            candidates += [_literal(m.group("lit")) for m in PYTHON_CALL.finditer(text)]
        for msgid in candidates:
            if msgid:
                found.setdefault(msgid, where)
    return found


def framework_msgids() -> set[str]:
    """Msgids that the installed apps of Django and DRF translate themselves.

    Only the catalogues of apps in INSTALLED_APPS count: a msgid that, say, the admin translates
    would still show in English here, because the admin is not installed."""
    import importlib

    sys.path.insert(0, str(ROOT))
    from linli import settings

    modules = ["django", *settings.INSTALLED_APPS]
    known: set[str] = set()
    for name in modules:
        if not name.startswith(("django", "rest_framework")):
            continue
        base = Path(importlib.import_module(name).__file__ or "").resolve().parent
        locale = "conf/locale" if name == "django" else "locale"
        po_path = base / locale / "zh_Hans" / "LC_MESSAGES" / "django.po"
        if po_path.exists():
            known.update(entry.msgid for entry in polib.pofile(str(po_path)) if entry.msgstr)
    return known


def _mo_bytes(po: polib.POFile) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "django.mo"
        po.save_as_mofile(str(target))
        return target.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; write nothing")
    options = parser.parse_args(argv)

    entries = load_fragments()
    po = build_catalogue(entries)
    po_text = str(po) + "\n"
    mo_bytes = _mo_bytes(po)

    if not options.check:
        PO_PATH.parent.mkdir(parents=True, exist_ok=True)
        PO_PATH.write_text(po_text, encoding="utf-8")
        MO_PATH.write_bytes(mo_bytes)
        print(f"i18n: wrote {len(entries)} translations to {PO_PATH.relative_to(ROOT)} and .mo")
        return 0

    failed = False
    if not PO_PATH.exists() or PO_PATH.read_text(encoding="utf-8") != po_text:
        print("i18n: django.po is out of date with the fragments; run python scripts/i18n.py")
        failed = True
    if not MO_PATH.exists() or MO_PATH.read_bytes() != mo_bytes:
        print("i18n: django.mo is out of date with the fragments; run python scripts/i18n.py")
        failed = True
    translated = set(entries) | framework_msgids()
    missing = {msgid: where for msgid, where in used_msgids().items() if msgid not in translated}
    if missing:
        failed = True
        print(f"i18n: {len(missing)} msgids have no Chinese translation:")
        for msgid, where in sorted(missing.items(), key=lambda item: (item[1], item[0])):
            print(f"  {where}: {msgid!r}")
    if not failed:
        print(f"i18n: {len(entries)} translations, catalogue up to date, nothing missing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
