"""Reading reported figures in their unit: what is accepted and what is refused, and why."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from linli.assessment.standard import Standard
from linli.assessment.values import ValueProblem, parse_value, percent_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (57.6, Fraction("57.6")),
        ("57.6%", Fraction("57.6")),
        ("57.6％", Fraction("57.6")),
        ("0.5%", Fraction("0.5")),  # with the sign a small percentage is unambiguous
        (0, Fraction(0)),
        (100, Fraction(100)),
        (Decimal("69.99"), Fraction("69.99")),
        ("70", Fraction(70)),
    ],
)
def test_percentages_are_read_as_percentages(
    standard: Standard, raw: object, expected: Fraction
) -> None:
    assert parse_value(standard.quantity("tv_coverage"), raw) == expected


@pytest.mark.parametrize("raw", [0.576, 1, "0.576", 0.7])
def test_a_bare_ratio_is_refused_with_the_accepted_form(standard: Standard, raw: object) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_value(standard.quantity("tv_coverage"), raw)
    message = str(caught.value)
    assert "广播电视覆盖率（tv_coverage）" in message
    assert "小数比例" in message and "57.6" in message


@pytest.mark.parametrize(
    ("metric", "raw", "fragment"),
    [
        ("tv_coverage", 120, "百分数应在 0 到 100 之间"),
        ("tv_coverage", "-5%", "不能为负数"),
        ("households_total", -3, "不能为负数"),
        ("households_total", 12.5, "数量必须是整数"),
        ("households_total", "98%", "本项是数量（户），不是百分数"),
        ("households_total", "很多", "不是数字"),
        ("households_total", True, "应填写数字"),
        ("gov_one_stop_service", "达标", "请填写 true 或 false"),
        ("gov_one_stop_service", 1, "请填写 true 或 false"),
        ("community_area_km2", "3亩", "面积单位无法识别"),
        ("community_area_km2", "80%", "本项是面积，不是百分数"),
    ],
)
def test_wrong_values_are_refused_in_chinese(
    standard: Standard, metric: str, raw: object, fragment: str
) -> None:
    with pytest.raises(ValueProblem, match=fragment):
        parse_value(standard.quantity(metric), raw)


def test_counts_accept_separators_and_their_own_measure_word(standard: Standard) -> None:
    households = standard.quantity("households_total")
    assert parse_value(households, "4,515") == 4515
    assert parse_value(households, "4515户") == 4515
    assert parse_value(households, 4515.0) == 4515


def test_areas_are_square_kilometres_or_carry_their_unit(standard: Standard) -> None:
    area = standard.quantity("community_area_km2")
    assert parse_value(area, 0.21) == Fraction("0.21")
    assert parse_value(area, "1.1平方公里") == Fraction("1.1")
    assert parse_value(area, "210000平方米") == Fraction("0.21")
    assert parse_value(area, "21公顷") == Fraction("0.21")


def test_yes_no_items(standard: Standard) -> None:
    item = standard.quantity("gov_one_stop_service")
    assert parse_value(item, True) is True
    assert parse_value(item, "是") is True
    assert parse_value(item, "否") is False


def test_a_rate_is_never_shown_on_the_wrong_side_of_its_threshold() -> None:
    assert percent_text(Fraction(2419 * 100, 2456)) == "98.5%"
    assert percent_text(Fraction(100)) == "100%"
    # 69.996 % rounds to 70.0 %: shown with the digits that keep it below 70.
    assert percent_text(Fraction("69.996"), Fraction(70)) == "69.996%"
    assert percent_text(Fraction(2, 3) * 100, Fraction(70)) == "66.7%"


def test_a_rate_is_never_rounded_onto_a_whole_number_it_is_not() -> None:
    # 423 of 529 households: one decimal would write "80%", which is 成长型's threshold and
    # which the rate does not reach — whether or not the threshold is in view.
    tv = Fraction(423 * 100, 529)
    assert percent_text(tv) == "79.96%"
    assert percent_text(tv, Fraction(70)) == "79.96%"
    assert percent_text(tv, Fraction(80)) == "79.96%"
    assert percent_text(Fraction("80.04")) == "80.04%"
    assert percent_text(Fraction("99.999999")) == "99.999999%"
    assert percent_text(Fraction(80)) == "80%"
