"""Stored assessments for the acceptance publication's tests (and the access matrix).

The figures are the transcribed 马驿山社区 publication (``publications/mayishan_2024.yaml``), whose
own figures reach 基础型 and fall short of 成长型 and 标杆型; the stored result is renamed to the
community it is stored for, as ``services.store_assessment`` would have named it.
"""

from __future__ import annotations

import copy
from datetime import date
from functools import cache
from typing import Any

from django.utils import translation

from assessment.helpers import PUBLICATIONS
from linli.assessment.figures import load_figures_file
from linli.assessment.models import Assessment, Publication
from linli.assessment.services import evaluate_figures
from linli.assessment.standard import load_standard
from linli.regions.models import RegionNode

MAYISHAN = PUBLICATIONS / "mayishan_2024.yaml"
ON = date(2024, 9, 18)


@cache
def mayishan_results() -> dict[str, dict[str, Any]]:
    """Every tier of the 马驿山 figures, as ``AssessmentResult.as_dict()`` (in Chinese)."""
    standard = load_standard()
    document = load_figures_file(standard, MAYISHAN)
    with translation.override("zh-hans"):
        return {
            tier.key: evaluate_figures(document, tier=tier.key, standard=standard).as_dict()
            for tier in standard.tiers
        }


def stored_assessment(region: RegionNode, *, on: date = ON) -> Assessment:
    results = copy.deepcopy(mayishan_results())
    for result in results.values():
        result["community"] = {"code": region.code, "name": region.name, "in_register": True}
    top = results["benchmark"]
    return Assessment.objects.create(
        region=region,
        on=on,
        standard=top["standard"]["id"],
        tier_reached=top["tier_reached_key"] or "",
        next_tier=top["gap"]["tier_key"] or "",
        gap_count=len(top["gap"]["items"]),
        result=results,
    )


def make_publication(region: RegionNode, title: str, tier: str = "basic") -> Publication:
    """A draft made directly (the services are tested on their own)."""
    return Publication.objects.create(
        region=region, assessment=stored_assessment(region), tier=tier, title=title
    )
