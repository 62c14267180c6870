"""Helpers of the self-assessment tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linli.assessment.figures import FigureSet, assemble, read_figures
from linli.assessment.standard import Standard

PUBLICATIONS = Path(__file__).resolve().parent / "publications"


def figure_set(standard: Standard, raw: dict[str, Any]) -> FigureSet:
    """Figures as a figures file would give them (source "file"), assembled and checked."""
    problems: list[str] = []
    given = read_figures(standard, raw, "file", problems)
    assert problems == []
    return assemble(standard, given=given)
