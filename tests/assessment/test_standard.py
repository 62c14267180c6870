"""The standard as data: the shipped file's tiers and texts, and the loader's strictness."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from linli.assessment.standard import (
    STANDARDS_DIR,
    StandardFileError,
    available_versions,
    load_standard,
    load_standard_file,
    parse_standard,
    requirement_items,
)

SHIPPED = STANDARDS_DIR / "DB37T3890.3-2020.yaml"
INDICATORS_MD = Path(__file__).resolve().parents[3] / "shared" / "standard" / "indicators.md"


def _data() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def _problems(data: Any) -> list[str]:
    with pytest.raises(StandardFileError) as caught:
        parse_standard(data, "test.yaml")
    return caught.value.problems


def test_the_2020_standard_has_the_three_tiers_with_22_28_32_indicators() -> None:
    standard = load_standard("DB37T3890.3-2020")
    assert standard.code == "DB37/T 3890.3-2020"
    assert [(t.key, t.name, len(t.indicators)) for t in standard.tiers] == [
        ("basic", "基础型", 22),
        ("growth", "成长型", 28),
        ("benchmark", "标杆型", 32),
    ]
    assert [i.number for i in standard.tier("标杆型").indicators] == list(range(1, 33))


def test_available_versions_lists_the_files_beside_each_other() -> None:
    assert available_versions() == sorted(p.stem for p in STANDARDS_DIR.glob("*.yaml"))
    assert "DB37T3890.3-2020" in available_versions()
    with pytest.raises(StandardFileError, match="no such standard version"):
        load_standard("DB37T3890.3-2099")


def test_a_second_version_is_a_second_file_with_the_same_schema(tmp_path: Path) -> None:
    data = _data()
    data["standard"]["id"] = "DB37T3890.3-2030"
    data["standard"]["code"] = "DB37/T 3890.3-2030"
    path = tmp_path / "DB37T3890.3-2030.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    revised = load_standard_file(path)
    assert revised.code == "DB37/T 3890.3-2030"
    # The id inside must be the file's name, so two files can never claim one version.
    path.rename(tmp_path / "other.yaml")
    with pytest.raises(StandardFileError, match="differs from the file name"):
        load_standard_file(tmp_path / "other.yaml")


@pytest.mark.skipif(
    not INDICATORS_MD.exists(), reason="shared/standard/indicators.md not beside the repository"
)
def test_texts_are_verbatim_from_indicators_md() -> None:
    """Category, number, name, definition, requirement and variants, exactly as transcribed."""
    text = INDICATORS_MD.read_text(encoding="utf-8")
    standard = load_standard()
    expected: dict[str, list[dict[str, Any]]] = {}
    current: dict[str, Any] | None = None
    section = ""
    for line in text.splitlines():
        if match := re.match(r"^## (\S+) \((\d+) indicators\)", line):
            expected[match.group(1)] = []
            tier_name, count = match.group(1), int(match.group(2))
            assert len(standard.tier(tier_name).indicators) == count
        elif match := re.match(r"^### (\S+) (\d+)\. (.+?) / (.+)$", line):
            current = {
                "number": int(match.group(2)),
                "category": match.group(3),
                "name": match.group(4),
                "definition": [],
                "requirement": [],
                "variants": [],
            }
            expected[match.group(1)].append(current)
        elif line.startswith("指标释义:"):
            section = "definition"
        elif line.startswith("标准要求 (variant wording):"):
            assert current is not None
            current["variants"].append([])
            section = "variant"
        elif line.startswith("标准要求:"):
            section = "requirement"
        elif line.startswith("    ") and current is not None:
            target = current["variants"][-1] if section == "variant" else current[section]
            target.append(line[4:])
    assert set(expected) == {"基础型", "成长型", "标杆型"}
    for tier_name, indicators in expected.items():
        shipped = standard.tier(tier_name).indicators
        assert len(shipped) == len(indicators)
        for want, got in zip(indicators, shipped, strict=True):
            assert (got.number, got.category, got.name) == (
                want["number"],
                want["category"],
                want["name"],
            )
            assert got.definition == "\n".join(want["definition"])
            assert got.requirement == "\n".join(want["requirement"])
            assert list(got.requirement_variants) == ["\n".join(v) for v in want["variants"]]


def test_every_numbered_requirement_item_has_a_check() -> None:
    for tier in load_standard().tiers:
        for indicator in tier.indicators:
            items = requirement_items(indicator.requirement)
            covered = {check.item for check in indicator.checks}
            assert covered == (set(items) or {None}), indicator.key


def test_requirement_items_follow_the_numbering_not_digits_in_the_text() -> None:
    assert requirement_items("1.5G 网络覆盖率达到 100%;\n2.社区电梯、地下车库实现 5G 深度覆盖") == {
        1: "5G 网络覆盖率达到 100%;",
        2: "社区电梯、地下车库实现 5G 深度覆盖",
    }
    assert requirement_items("家庭千兆光纤网络覆盖率达到 70%") == {}
    assert requirement_items("1.a；\n2.b\n续行\n3.c") == {1: "a；", 2: "b\n续行", 3: "c"}


def test_thresholds_are_declared_as_written() -> None:
    standard = load_standard()
    basic = standard.tier("basic")
    gigabit = basic.indicators[0].checks[0].threshold
    assert gigabit is not None and (gigabit.op, gigabit.value, gigabit.wording) == (
        ">=",
        70,
        "达到 70%",
    )
    elderly = basic.indicators[7].checks[0]
    assert elderly.when is not None and (elderly.when.op, elderly.when.value) == (">", 30)
    books = standard.tier("benchmark").indicators[12].checks
    assert [(c.when.op, c.when.value) for c in books[:2] if c.when] == [("<", 2000), (">=", 2000)]


# ------------------------------------------------------------------ strictness


def _indicator(data: dict[str, Any], tier: int = 0, number: int = 1) -> dict[str, Any]:
    return data["tiers"][tier]["indicators"][number - 1]  # type: ignore[no-any-return]


def test_unknown_keys_are_refused_everywhere() -> None:
    data = _data()
    data["extra"] = 1
    data["metrics"]["households_total"]["colour"] = "red"
    _indicator(data)["checks"][0]["threshold"]["strict"] = True
    problems = _problems(data)
    assert "file: unknown key 'extra'" in problems
    assert "metrics.households_total: unknown key 'colour'" in problems
    assert any("threshold: unknown key 'strict'" in p for p in problems)


def test_missing_fields_are_named() -> None:
    data = _data()
    del data["metrics"]["households_total"]["unit"]
    del _indicator(data, 1, 3)["requirement"]
    problems = _problems(data)
    assert "metrics.households_total: missing field 'unit'" in problems
    assert "tiers[1].indicators[2]: missing field 'requirement'" in problems


def test_a_metric_referenced_but_not_defined_is_an_error() -> None:
    data = _data()
    _indicator(data)["checks"][0]["threshold"]["subject"] = "gigabit_coverge"
    data["formulas"]["tv_coverage"]["denominator"] = "households"
    _indicator(data, 0, 7)["checks"][0]["evidence"] = "one_stop"
    problems = _problems(data)
    assert any(
        "subject: 'gigabit_coverge' is not a defined metric or formula" in p for p in problems
    )
    assert "formulas.tv_coverage.denominator: 'households' is not a defined metric" in problems
    assert any("evidence: 'one_stop' is not a defined metric" in p for p in problems)


def test_wording_must_be_the_requirements_own_words_and_agree_with_the_comparison() -> None:
    data = _data()
    _indicator(data, 0, 1)["checks"][0]["threshold"]["wording"] = "达到 75%"
    _indicator(data, 0, 3)["checks"][0]["threshold"]["value"] = 75
    _indicator(data, 0, 8)["checks"][0]["when"]["op"] = ">="  # "超过30%" is strict
    problems = _problems(data)
    assert any("'达到 75%' is not the requirement's own words" in p for p in problems)
    assert any("75 is not stated in '达到 70%'" in p for p in problems)
    assert any("'>=' does not match the wording '占比超过30%'" in p for p in problems)


def test_a_requirement_item_without_a_check_is_an_error() -> None:
    data = _data()
    checks = _indicator(data, 2, 2)["checks"]
    _indicator(data, 2, 2)["checks"] = [c for c in checks if c.get("item") != 2]
    data["metrics"].pop("deep_5g_coverage")
    assert "tiers[2].indicators[1].checks: requirement item 2 has no check" in _problems(data)


def test_unknown_units_platform_sources_and_unused_metrics_are_errors() -> None:
    data = _data()
    data["metrics"]["households_total"]["unit"] = "households"
    data["metrics"]["tv_households"]["platform"] = "registry.televisions"
    data["metrics"]["spare"] = {"label": "备用", "unit": "boolean", "meaning": "未使用"}
    problems = _problems(data)
    assert any("unit 'households' is not one of" in p for p in problems)
    assert (
        "metrics.tv_households: platform source 'registry.televisions' does not exist" in problems
    )
    assert "metrics.spare: defined but used by no check, formula or bound" in problems


def test_counts_and_percentages_are_compared_with_sensible_values() -> None:
    data = copy.deepcopy(_data())
    _indicator(data, 0, 20)["checks"][0]["threshold"]["value"] = 1.5
    _indicator(data, 0, 1)["checks"][0]["threshold"]["value"] = 170
    problems = _problems(data)
    assert any("a count is compared with a whole number" in p for p in problems)
    assert any("a percentage lies between 0 and 100" in p for p in problems)


def test_implications_are_checked_like_everything_else() -> None:
    data = copy.deepcopy(_data())
    metrics, formulas = data["metrics"], data["formulas"]
    metrics["online_voter_registration"]["implied_by"] = [
        {"subject": "online_elections", "reading": "…"}
    ]
    metrics["online_deliberation"]["implied_by"] = [
        {"subject": "online_election", "op": ">=", "value": 1, "reading": "…"}
    ]
    formulas["falling_object_coverage_19f"]["implied_by"] = [
        {"subject": "falling_object_coverage_12f", "op": ">=", "value": 100, "reading": "…"}
    ]
    formulas["falling_object_coverage_12f"]["implied_by"] = [
        {
            "subject": "falling_object_coverage_12f",
            "op": ">=",
            "value": 100,
            "gives": 100,
            "reading": "…",
        }
    ]
    metrics["smart_convenience_facilities"]["implied_by"] = [
        {"subject": "convenience_facility_coverage", "op": "≥", "value": 100, "reading": "…"}
    ]
    problems = _problems(data)
    assert (
        "metrics.online_voter_registration.implied_by[0].subject: 'online_elections' is not a "
        "defined metric or formula" in problems
    )
    assert any(
        "online_deliberation.implied_by[0]: 'online_election' is yes/no" in p for p in problems
    )
    assert any(
        "falling_object_coverage_19f.implied_by[0].gives: the value the implied figure takes" in p
        for p in problems
    )
    assert any("a figure cannot imply itself" in p for p in problems)
    assert any("smart_convenience_facilities.implied_by[0].op" in p for p in problems)


def test_the_shipped_implications_go_from_the_stronger_figure_to_the_weaker(
    standard: Any,
) -> None:
    implied = {
        name: [(i.subject, i.op, i.value, i.gives) for i in standard.quantity(name).implied_by]
        for name in standard.names()
        if standard.quantity(name).implied_by
    }
    assert implied == {
        "smart_convenience_facilities": [("convenience_facility_coverage", ">=", 100, None)],
        "online_voter_registration": [("online_election", "", None, None)],
        "online_deliberation": [("online_deliberations_per_year", ">=", 1, None)],
        "falling_object_coverage_19f": [("falling_object_coverage_12f", ">=", 100, 100)],
        "falling_object_coverage_12f": [("falling_object_coverage_7f", ">=", 100, 100)],
    }
