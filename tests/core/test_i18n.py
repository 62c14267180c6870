"""The Chinese catalogue is merged from the fragments and covers every msgid in the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]


def test_catalogue_is_current_and_every_msgid_is_translated() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_speak_simplified_chinese() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Workbench") == "工作台"
