"""Verdicts follow the numbers: each comparison form, conditions both ways, evidence, the tier
reached and the gap to the next tier."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

import pytest

from assessment.helpers import figure_set
from linli.assessment.choices import Verdict
from linli.assessment.engine import AssessmentResult, evaluate
from linli.assessment.figures import BadFigures, assemble, read_figures
from linli.assessment.standard import Standard

DAY = date(2024, 9, 18)


def _evaluate(standard: Standard, raw: dict[str, Any], tier: str = "basic") -> AssessmentResult:
    return evaluate(standard, figure_set(standard, raw), tier, on=DAY)


def _indicator(result: AssessmentResult, number: int) -> Any:
    return result.tier.indicators[number - 1]


# ------------------------------------------------------------------ comparisons


@pytest.mark.parametrize(
    ("tv", "households", "verdict"),
    [
        (3430, 4900, Verdict.MET),  # exactly 70.0 %
        (3429, 4900, Verdict.NOT_MET),  # 69.98 %
        (4900, 4900, Verdict.MET),
    ],
)
def test_reaching_70_percent_means_at_least_70_exactly(
    standard: Standard, tv: int, households: int, verdict: Verdict
) -> None:
    result = _evaluate(standard, {"tv_households": tv, "households_total": households})
    assert _indicator(result, 3).verdict == verdict


def test_the_reason_states_the_numbers_and_the_comparison(standard: Standard) -> None:
    result = _evaluate(standard, {"tv_households": 2820, "households_total": 4900})
    tv = _indicator(result, 3)
    assert tv.verdict == Verdict.NOT_MET
    assert tv.reason == "广播电视覆盖率 57.6%（2820/4900） < 70%"
    assert tv.checks[0].needed == (
        "具备有线广播电视或交互式网络电视（IPTV）接入能力的家庭数还需增加 610 户"
    )
    assert tv.completion_text.startswith("未达标。社区家庭总数 4900 户，")


@pytest.mark.parametrize(
    ("rate", "verdict"), [("70.0", Verdict.MET), ("70", Verdict.MET), ("69.99", Verdict.NOT_MET)]
)
def test_a_directly_reported_rate_is_compared_exactly(
    standard: Standard, rate: str, verdict: Verdict
) -> None:
    result = _evaluate(standard, {"gigabit_coverage": rate})
    assert _indicator(result, 1).verdict == verdict
    if verdict == Verdict.NOT_MET:
        assert _indicator(result, 1).reason == "家庭千兆光纤网络覆盖率 69.99% < 70%"


def test_a_rate_just_under_the_threshold_is_not_rounded_up(standard: Standard) -> None:
    result = _evaluate(standard, {"gigabit_households": 69996, "households_total": 100000})
    gigabit = _indicator(result, 1)
    assert gigabit.verdict == Verdict.NOT_MET
    assert gigabit.reason == "家庭千兆光纤网络覆盖率 69.996%（69996/100000） < 70%"


def test_at_least_n_counts(standard: Standard) -> None:
    assert (
        _indicator(_evaluate(standard, {"publicity_activities_per_year": 1}), 20).verdict
        == Verdict.MET
    )
    growth = _evaluate(standard, {"publicity_activities_per_year": 1}, "growth")
    assert _indicator(growth, 25).verdict == Verdict.NOT_MET
    assert _indicator(growth, 25).reason == "每年智慧社区宣传普及活动次数 1 次 < 2 次"
    assert _indicator(growth, 25).checks[0].needed == "每年智慧社区宣传普及活动次数还需增加 1 次"


def test_full_coverage_means_100_percent(standard: Standard) -> None:
    met = _evaluate(
        standard, {"residential_buildings": 12, "residential_buildings_with_fire_alarm": 12}
    )
    assert _indicator(met, 16).verdict == Verdict.MET
    short = _evaluate(
        standard, {"residential_buildings": 12, "residential_buildings_with_fire_alarm": 11}
    )
    assert _indicator(short, 16).verdict == Verdict.NOT_MET
    assert "91.7%（11/12） < 100%" in _indicator(short, 16).reason


# ------------------------------------------------------------------ conditions


def test_elderly_services_are_required_only_above_30_percent(standard: Standard) -> None:
    exempt = _evaluate(standard, {"elderly_share": 30})  # "超过30%": 30 % is not above
    assert _indicator(exempt, 8).verdict == Verdict.NOT_APPLICABLE
    assert "不适用：60岁及以上常住老年人占比 30%" in _indicator(exempt, 8).reason
    required = _evaluate(standard, {"elderly_share": "30.1%", "elderly_services_count": 1})
    assert _indicator(required, 8).verdict == Verdict.NOT_MET
    served = _evaluate(
        standard, {"elderly_residents": 400, "residents_total": 1000, "elderly_services_count": 2}
    )
    assert _indicator(served, 8).verdict == Verdict.MET


def test_a_condition_nobody_reported_leaves_the_requirement_in_force(standard: Standard) -> None:
    result = _evaluate(standard, {})
    elderly = _indicator(result, 8)
    assert elderly.verdict == Verdict.EVIDENCE_MISSING
    assert "60岁及以上常住老年人占比未提供，本项要求适用" in elderly.reason


@pytest.mark.parametrize(
    ("figures", "verdict"),
    [
        ({"residents_total": 1999, "book_corners": 1}, Verdict.MET),
        # 2000 people is "2000 人以上": a share-book corner is not enough, and when the library
        # and cabinets are not reported the verdict is that evidence is missing, not met.
        ({"residents_total": 2000, "book_corners": 1}, Verdict.EVIDENCE_MISSING),
        (
            {
                "residents_total": 2000,
                "book_corners": 1,
                "smart_libraries": 0,
                "smart_book_cabinets": 1,
            },
            Verdict.NOT_MET,
        ),
        ({"residents_total": 2000, "smart_book_cabinets": 2}, Verdict.MET),
        ({"residents_total": 5000, "smart_libraries": 1}, Verdict.MET),
        (
            {"residents_total": 5000, "smart_libraries": 0, "smart_book_cabinets": 1},
            Verdict.NOT_MET,
        ),
        # The population is at least the number of households.
        (
            {
                "households_total": 4515,
                "book_corners": 1,
                "smart_libraries": 0,
                "smart_book_cabinets": 0,
            },
            Verdict.NOT_MET,
        ),
    ],
)
def test_book_facilities_depend_on_2000_people(
    standard: Standard, figures: dict[str, Any], verdict: Verdict
) -> None:
    figures = {
        **figures,
        "sports_venue_15_min": {"value": True, "evidence": "体育公园"},
        "smart_fitness_equipment": {"value": True, "evidence": "智能健身路径"},
    }
    result = _evaluate(standard, figures, "benchmark")
    assert _indicator(result, 13).verdict == verdict


def test_closed_compound_items_do_not_apply_without_closed_compounds(standard: Standard) -> None:
    none = _evaluate(standard, {"closed_compounds": 0, "compounds_total": 3})
    assert _indicator(none, 12).verdict == Verdict.NOT_APPLICABLE
    some = _evaluate(
        standard,
        {"closed_compounds": 2, "closed_compounds_with_smart_access": 1, "compounds_total": 3},
    )
    assert _indicator(some, 12).verdict == Verdict.NOT_MET


def test_high_rise_monitoring_follows_the_tiers_floor_counts(standard: Standard) -> None:
    figures = {
        "residential_buildings_19f": 0,
        "residential_buildings_12f": 3,
        "residential_buildings_12f_monitored": 3,
    }
    assert _indicator(_evaluate(standard, figures), 14).verdict == Verdict.NOT_APPLICABLE
    assert _indicator(_evaluate(standard, figures, "growth"), 17).verdict == Verdict.MET
    assert (
        _indicator(_evaluate(standard, figures, "benchmark"), 19).verdict
        == Verdict.EVIDENCE_MISSING
    )


# ------------------------------------------------------------------ qualitative items


def test_a_qualitative_item_needs_evidence(standard: Standard) -> None:
    claimed = _evaluate(standard, {"gov_one_stop_service": True})
    assert _indicator(claimed, 7).verdict == Verdict.EVIDENCE_MISSING
    assert (
        _indicator(claimed, 7).reason == "线下或线上“一站式”政务服务：填报为已实现，但缺少证明材料"
    )
    evidenced = _evaluate(
        standard, {"gov_one_stop_service": {"value": True, "evidence": "便民服务中心设人工窗口"}}
    )
    assert _indicator(evidenced, 7).verdict == Verdict.MET
    assert _indicator(evidenced, 7).completion_text == "达标。便民服务中心设人工窗口。"
    absent = _evaluate(standard, {"gov_one_stop_service": {"value": False, "evidence": "尚未开设"}})
    assert _indicator(absent, 7).verdict == Verdict.NOT_MET


def test_not_met_outranks_evidence_missing_within_an_indicator(standard: Standard) -> None:
    result = _evaluate(standard, {"smart_scenarios_count": 2})
    assert _indicator(result, 6).verdict == Verdict.NOT_MET


# ------------------------------------------------------------------ bad input


def test_a_part_larger_than_its_whole_is_refused(standard: Standard) -> None:
    problems: list[str] = []
    given = read_figures(
        standard,
        {
            "community_area_km2": 1,
            "mobile_5g_area_km2": "1.2平方公里",
            "tv_households": 5000,
            "households_total": 4900,
        },
        "file",
        problems,
    )
    with pytest.raises(BadFigures) as caught:
        assemble(standard, given=given)
    assert caught.value.problems == [
        "5G信号覆盖的区域面积 1.2 平方公里 大于社区总面积 1 平方公里。",
        "具备有线广播电视或交互式网络电视（IPTV）接入能力的家庭数 5000 户 "
        "大于社区家庭总数 4900 户。",
    ]


def test_unknown_metrics_get_the_closest_name(standard: Standard) -> None:
    problems: list[str] = []
    read_figures(standard, {"tv_coverge": 80, "广播电视覆盖率": 80, "zzz": 1}, "file", problems)
    assert problems[0] == "未知指标数据项“tv_coverge”，是否应为“tv_coverage”（广播电视覆盖率）？"
    assert (
        problems[1] == "未知指标数据项“广播电视覆盖率”，是否应为“tv_coverage”（广播电视覆盖率）？"
    )
    assert "--figures-template" in problems[2]


def test_a_reported_rate_that_contradicts_its_counts_is_decided_by_the_counts(
    standard: Standard,
) -> None:
    result = _evaluate(
        standard,
        {"gigabit_coverage": "100%", "gigabit_households": 4000, "households_total": 4515},
        "benchmark",
    )
    assert _indicator(result, 1).verdict == Verdict.NOT_MET
    assert "88.6%（4000/4515） < 90%" in _indicator(result, 1).reason
    assert any(
        "所填 100% 与其分子分母 4000/4515 = 88.6% 不符" in w for w in result.figures.warnings
    )


# ------------------------------------------------------------------ tiers and the gap


def _everything_basic() -> dict[str, Any]:
    yes = {"value": True, "evidence": "见台账"}
    return {
        "households_total": 1000,
        "gigabit_households": 800,
        "tv_households": 900,
        "community_area_km2": 1,
        "mobile_5g_area_km2": "0.9",
        "video_key_coverage_rate": 95,
        "video_networking_rate": 95,
        "video_camera_intact_rate": 95,
        "video_image_rate": 85,
        "video_compliance_rate": 95,
        "compounds_total": 4,
        "compounds_with_ebikes": 4,
        "compounds_with_ebike_parking": 4,
        "ebike_charging_auto_cutoff": yes,
        "platform_data_aggregation": yes,
        "property_platform_interconnection": yes,
        "smart_scenarios_count": 3,
        "gov_one_stop_service": yes,
        "elderly_share": 25,
        "smart_convenience_facilities": yes,
        "online_utility_payment": yes,
        "police_info_release": yes,
        "closed_compounds": 4,
        "closed_compounds_with_smart_access": 4,
        "closed_compounds_with_perimeter_protection": 4,
        "residential_buildings_19f": 0,
        "compounds_with_ebike_elevator_detection": 2,
        "residential_buildings": 20,
        "residential_buildings_with_fire_alarm": 20,
        "digital_governance": yes,
        "party_worker_info_collected": yes,
        "online_voter_registration": yes,
        "online_deliberation": yes,
        "affairs_disclosure": yes,
        "epidemic_info_management": yes,
        "epidemic_policy_release": yes,
        "publicity_activities_per_year": 1,
        "personal_data_encrypted": yes,
        "administrators_separated": yes,
        "audit_trail_tamper_evident": yes,
        "innovation_scenarios": 1,
    }


def test_the_tier_reached_is_the_highest_whose_every_indicator_is_met(standard: Standard) -> None:
    result = _evaluate(standard, _everything_basic(), "growth")
    assert [r.met for r in result.tiers] == [True, False, False]
    assert result.reached is not None and result.reached.key == "basic"
    assert result.next_tier is not None and result.next_tier.key == "growth"
    assert result.tier.met is False


def test_the_gap_is_ordered_by_what_it_would_take(standard: Standard) -> None:
    result = _evaluate(standard, _everything_basic(), "growth")
    gap = result.gap()
    kinds = [item.kind for item in gap]
    assert kinds == sorted(kinds, key=["shortfall", "evidence", "absent"].index)
    shortfalls = [item for item in gap if item.kind == "shortfall"]
    # 5G 90 % of 90 % → met; TV 90 % ≥ 80 %; gigabit 80 % ≥ 80 %; publicity 1 of 2 (50 % short),
    # scenarios 3 of 5 (40 %), ebike-elevator 50 % of 80 % (37.5 %): smallest shortfall first.
    assert [(i.indicator.number, i.check.shortfall) for i in shortfalls] == [
        (19, Fraction(3, 8)),
        (8, Fraction(2, 5)),
        (25, Fraction(1, 2)),
    ]
    assert shortfalls[0].check.needed == "实现电动车进电梯智能识别、自动报警的小区数还需增加 2 个"
    assert result.as_dict()["gap"]["tier"] == "成长型"


def test_a_stated_met_is_not_taken_on_trust(standard: Standard) -> None:
    """Figures decide: whatever a publication writes next to them, 69 % is not 70 %."""
    result = _evaluate(standard, {**_everything_basic(), "gigabit_households": 690})
    assert result.tiers[0].met is False
    assert _indicator(result, 1).verdict == Verdict.NOT_MET


def test_the_completion_text_reads_like_the_publications(standard: Standard) -> None:
    result = _evaluate(
        standard,
        {"gigabit_households": 2419, "households_total": 2456, "elderly_share": "20%"},
        "benchmark",
    )
    assert _indicator(result, 1).completion_text == (
        "达标。社区家庭总数 2456 户，具备千兆接入能力的家庭数 2419 户，"
        "家庭千兆光纤网络覆盖率为 98.5%。"
    )
    elderly = _indicator(result, 11)
    assert elderly.checks[1].statement == (
        "60岁及以上常住老年人占比 20%，不满足“占比超过 30%”，本项不适用"
    )


# ------------------------------------------------------------------ stronger figures settle weaker


def test_a_stronger_yes_settles_the_weaker_item_with_its_evidence(standard: Standard) -> None:
    result = _evaluate(
        standard,
        {
            "online_election": {"value": True, "evidence": "2024年网上选民登记和网络投票记录"},
            "online_deliberations_per_year": {"value": 3, "evidence": "议事记录3次"},
            "affairs_disclosure": {"value": True, "evidence": "公开栏截图"},
        },
    )
    participation = _indicator(result, 18)
    assert participation.verdict == Verdict.MET
    voter = result.figures.get("online_voter_registration")
    assert voter is not None and voter.value is True and voter.source == "file"
    assert voter.evidence == "2024年网上选民登记和网络投票记录"
    assert "（由“采用网上选民登记、网络投票等方式开展民主选举”推出）" in participation.reason
    assert "2024年网上选民登记和网络投票记录" in participation.completion_text


def test_a_stronger_yes_without_evidence_settles_nothing_more_than_it_has(
    standard: Standard,
) -> None:
    result = _evaluate(standard, {"online_election": True})
    assert _indicator(result, 18).checks[0].verdict == Verdict.EVIDENCE_MISSING


def test_a_reported_figure_that_says_less_than_a_stronger_one_is_a_contradiction(
    standard: Standard,
) -> None:
    raw = {
        "online_election": {"value": True, "evidence": "网络投票记录"},
        "online_voter_registration": {"value": False},
        "residential_buildings_7f": 10,
        "residential_buildings_7f_monitored": 10,
        "residential_buildings_19f": 2,
        "residential_buildings_19f_monitored": 1,
    }
    problems: list[str] = []
    given = read_figures(standard, raw, "file", problems)
    with pytest.raises(BadFigures) as caught:
        assemble(standard, given=given)
    assert caught.value.problems == [
        "采用网上选民登记等方式开展民主选举填报为否，但“采用网上选民登记、网络投票等方式开展民主选举”"
        "意味着应为是。",
        "19层及以上住宅高空抛物监控覆盖率填报为50%，但12层及以上住宅高空抛物监控覆盖率 100%"
        "意味着应为100%。",
    ]


def test_a_bound_that_meets_the_threshold_meets_it_and_one_that_does_not_decides_nothing(
    standard: Standard,
) -> None:
    met = _evaluate(standard, {"innovation_scenarios_province": 2})
    scenario = _indicator(met, 22)
    assert scenario.verdict == Verdict.MET
    assert scenario.reason == (
        "创新应用场景数未提供，但不少于 2 项（在省级层面推广的创新应用场景数 2 项） ≥ 1 项"
    )
    undecided = _evaluate(standard, {"innovation_scenarios_province": 0})
    assert _indicator(undecided, 22).verdict == Verdict.EVIDENCE_MISSING
