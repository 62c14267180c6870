"""Kinds of the self-assessment (指标自评): verdicts, figure sources and units, with their
Chinese labels (through gettext)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Verdict(models.TextChoices):
    MET = "met", _("Met")
    NOT_MET = "not_met", _("Not met")
    EVIDENCE_MISSING = "evidence_missing", _("Evidence missing")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


# An indicator counts towards its tier when it is met or does not apply to the community.
SATISFIED = frozenset({Verdict.MET, Verdict.NOT_APPLICABLE})


class FigureSource(models.TextChoices):
    """Where a figure came from. A rate computed from parts takes the least trusted part's."""

    PLATFORM = "platform", _("Platform records")
    MANUAL = "manual", _("Manual figure")
    OVERRIDE = "override", _("Override of a platform figure")
    FILE = "file", _("Figures file")


class Unit(models.TextChoices):
    PERCENT = "percent", _("Percent")
    COUNT = "count", _("Count")
    BOOLEAN = "boolean", _("Yes or no")
    AREA_KM2 = "area_km2", _("Area (km²)")


TIER_KEYS = ("basic", "growth", "benchmark")
