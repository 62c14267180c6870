"""``linli demo`` seeds the self-assessment: evidenced manual figures entered by demo accounts
through the services (audited), a spread of tiers that follows the figures — one community at
成长型, the showcase at what its live register allows, one short of evidence — a stored
assessment and a draft publication for the showcase; and a second run changes nothing."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command

from linli.assessment import demo
from linli.assessment.choices import Verdict
from linli.assessment.models import Assessment, ManualFigure, Publication
from linli.assessment.services import evaluate_community
from linli.assessment.standard import load_standard
from linli.audit.models import AuditEntry
from linli.regions.models import RegionNode

SCALE = "300"
JINCHUAN, WENCHANG = "370124001024", "370124001016"


def _demo() -> str:
    out = io.StringIO()
    call_command("demo", "--scale", SCALE, stdout=out)
    return out.getvalue()


def _state() -> tuple[int, ...]:
    return (
        ManualFigure.objects.count(),
        Assessment.objects.count(),
        Publication.objects.count(),
        AuditEntry.objects.filter(object_type__startswith="assessment.").count(),
    )


def test_the_demo_shows_a_spread_of_tiers_from_evidenced_audited_figures(db: Any) -> None:
    output = _demo()
    standard = load_standard()
    # Every figure has its evidence, was entered by a demo account and is audited.
    figures = list(ManualFigure.objects.select_related("region", "entered_by"))
    assert figures and all(figure.evidence.strip() for figure in figures)
    accounts = {figure.region.code: figure.entered_by.username for figure in figures}
    assert accounts == {
        demo.SHOWCASE: "jinyuan_worker",
        JINCHUAN: "county_op",
        WENCHANG: "county_op",
    }
    audited = set(
        AuditEntry.objects.filter(object_type="assessment.manualfigure").values_list(
            "object_id", flat=True
        )
    )
    assert audited == {str(figure.pk) for figure in figures}
    # The showcase has a register: what the platform computes was not entered by hand.
    showcase_metrics = {f.metric for f in figures if f.region.code == demo.SHOWCASE}
    assert not showcase_metrics & {"households_total", "gigabit_households", "tv_households"}
    assert "mobile_5g_area_km2" in showcase_metrics

    def evaluated(code: str, tier: str = "basic") -> Any:
        return evaluate_community(RegionNode.objects.get(code=code), tier=tier, standard=standard)

    jinchuan = evaluated(JINCHUAN, "growth")
    assert jinchuan.reached is not None and jinchuan.reached.key == "growth"
    assert all(i.verdict in (Verdict.MET, Verdict.NOT_APPLICABLE) for i in jinchuan.tier.indicators)
    # 文昌社区 lacks exactly the three pieces of evidence it has not documented.
    wenchang = evaluated(WENCHANG)
    assert wenchang.reached is None
    short = {
        i.indicator.number: i.verdict
        for i in wenchang.tier.indicators
        if i.verdict not in (Verdict.MET, Verdict.NOT_APPLICABLE)
    }
    assert short == {
        4: Verdict.EVIDENCE_MISSING,
        19: Verdict.EVIDENCE_MISSING,
        20: Verdict.EVIDENCE_MISSING,
    }
    assert [item.kind for item in wenchang.gap()] == ["evidence"] * 3
    # The showcase's stored assessment says what its figures say, and its draft publication
    # shows the tier it reached.
    showcase = evaluated(demo.SHOWCASE)
    assessment = Assessment.objects.get(region__code=demo.SHOWCASE)
    assert assessment.tier_reached == (showcase.reached.key if showcase.reached else "")
    assert assessment.computed_by.username == "jinyuan_worker"
    publication = Publication.objects.get(region__code=demo.SHOWCASE)
    assert publication.assessment_id == assessment.pk and publication.status == "draft"
    assert publication.tier == (assessment.tier_reached or assessment.next_tier)
    assert (
        "锦川社区 370124001024: 62 figures entered with evidence; tier reached today: 成长型"
        in (output)
    )
    assert (
        "文昌社区 370124001016: 38 figures entered with evidence; tier reached today: no tier"
        in (output)
    )


def test_a_second_demo_run_changes_nothing_in_the_assessment(db: Any) -> None:
    _demo()
    before = _state()
    output = _demo()
    assert _state() == before
    assert output.count("already entered, left as they are") == 3
    assert "(already stored)" in output and "(already drafted)" in output
