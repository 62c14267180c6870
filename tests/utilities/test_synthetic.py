"""Synthetic identities pass the real check rules and are reproducible from a seed."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from linli.utilities.synthetic import (
    GIVEN_NAME_CHARACTERS,
    MOBILE_PREFIXES,
    SURNAMES,
    make_chinese_name,
    make_credit_code,
    make_device_code,
    make_id_number,
    make_mobile,
)
from linli.utilities.validators import (
    CodeError,
    normalize_mobile,
    parse_credit_code,
    parse_device_code,
    parse_id_number,
)

# Keep Hypothesis's example database out of the working tree.
property_test = hypothesis_settings(database=None, deadline=None, max_examples=300)

TODAY = date(2025, 6, 1)

GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "id_number": make_id_number,
    "credit_code": make_credit_code,
    "mobile": make_mobile,
    "device_code": make_device_code,
    "chinese_name": make_chinese_name,
}


@pytest.mark.parametrize("make", GENERATORS.values(), ids=GENERATORS.keys())
def test_same_seed_gives_the_same_values(make: Callable[[random.Random], str]) -> None:
    first = [make(random.Random(seed)) for seed in range(50)]
    second = [make(random.Random(seed)) for seed in range(50)]

    assert first == second


@pytest.mark.parametrize("make", GENERATORS.values(), ids=GENERATORS.keys())
def test_different_seeds_give_varied_values(make: Callable[[random.Random], str]) -> None:
    values = {make(random.Random(seed)) for seed in range(50)}

    assert len(values) > 40


def test_id_number_uses_the_requested_region_birth_date_and_gender() -> None:
    number = make_id_number(
        random.Random(1), region_code="110105", birth_date=date(1990, 2, 28), gender="F"
    )

    info = parse_id_number(number, today=TODAY)

    assert (info.region_code, info.birth_date, info.gender) == ("110105", date(1990, 2, 28), "F")


def test_id_number_defaults_to_the_demo_county_and_a_past_birth_date() -> None:
    for seed in range(200):
        info = parse_id_number(make_id_number(random.Random(seed)), today=TODAY)

        assert info.region_code == "370124"
        assert date(1935, 1, 1) <= info.birth_date <= date(2020, 12, 31)


def test_id_number_genders_are_both_drawn() -> None:
    genders = {
        parse_id_number(make_id_number(random.Random(seed)), today=TODAY).gender
        for seed in range(50)
    }

    assert genders == {"M", "F"}


def test_id_number_with_unknown_gender_is_refused() -> None:
    with pytest.raises(ValueError):
        make_id_number(random.Random(1), gender="X")


@pytest.mark.parametrize("region_code", ["37", "3701", "370124001", "370000"])
def test_id_number_needs_a_county_region_code(region_code: str) -> None:
    with pytest.raises(ValueError):
        make_id_number(random.Random(1), region_code=region_code)


def test_id_number_with_birth_date_before_1900_is_refused() -> None:
    with pytest.raises(CodeError) as caught:
        make_id_number(random.Random(1), birth_date=date(1899, 12, 31))
    assert caught.value.code == "id_number.birth_date"


def test_credit_code_uses_the_requested_region_authority_and_category() -> None:
    code = make_credit_code(random.Random(1), region_code="350100", authority="5", category="3")

    info = parse_credit_code(code)

    assert (info.region_code, info.authority, info.category) == ("350100", "5", "3")


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ({"authority": "B"}, "credit_code.authority"),
        ({"authority": "9", "category": "9"}, "credit_code.category"),
        ({"region_code": "37012A"}, "credit_code.region"),
        ({"region_code": "37012"}, "credit_code.length"),
    ],
)
def test_credit_code_with_wrong_parameters_is_refused_with_the_validator_code(
    parameters: dict[str, str], error: str
) -> None:
    with pytest.raises(CodeError) as caught:
        make_credit_code(random.Random(1), **parameters)
    assert caught.value.code == error


def test_mobile_uses_a_carrier_prefix() -> None:
    for seed in range(200):
        number = make_mobile(random.Random(seed))

        assert number[:3] in MOBILE_PREFIXES
        assert normalize_mobile(number) == number


def test_mobile_prefixes_are_unique_and_all_valid() -> None:
    assert len(set(MOBILE_PREFIXES)) == len(MOBILE_PREFIXES)
    assert "154" not in MOBILE_PREFIXES
    for prefix in MOBILE_PREFIXES:
        assert normalize_mobile(prefix + "00000000") == prefix + "00000000"


def test_device_code_defaults_to_a_network_camera_in_the_demo_county() -> None:
    info = parse_device_code(make_device_code(random.Random(1)))

    assert info.region_code == "370124"
    assert info.type_code == "132"
    assert info.network == "0"
    assert info.is_camera


def test_device_code_uses_the_requested_type_network_and_industry() -> None:
    code = make_device_code(
        random.Random(1), region_code="110105", type_code="200", network="5", industry="08"
    )

    info = parse_device_code(code)

    assert (info.region_code, info.type_code, info.network, info.industry) == (
        "110105",
        "200",
        "5",
        "08",
    )
    assert info.is_platform


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ({"type_code": "100"}, "device_code.type"),
        ({"network": "9"}, "device_code.network"),
        ({"type_code": "1320"}, "device_code.length"),
        ({"industry": "0A"}, "device_code.format"),
        ({"region_code": "370000"}, "region.segment"),
    ],
)
def test_device_code_with_wrong_parameters_is_refused_with_the_validator_code(
    parameters: dict[str, str], error: str
) -> None:
    with pytest.raises(CodeError) as caught:
        make_device_code(random.Random(1), **parameters)
    assert caught.value.code == error


def test_chinese_name_is_a_common_surname_and_one_or_two_given_characters() -> None:
    lengths = set()
    for seed in range(300):
        name = make_chinese_name(random.Random(seed))

        assert name[0] in SURNAMES
        assert all(char in GIVEN_NAME_CHARACTERS for char in name[1:])
        lengths.add(len(name))

    assert lengths == {2, 3}


def test_name_lists_have_no_repeats_and_the_intended_size() -> None:
    assert len(set(SURNAMES)) == len(SURNAMES) == 60
    assert len(set(GIVEN_NAME_CHARACTERS)) == len(GIVEN_NAME_CHARACTERS) == 150


@property_test
@given(seed=st.integers())
def test_every_synthetic_value_passes_its_validator(seed: int) -> None:
    rng = random.Random(seed)

    parse_id_number(make_id_number(rng), today=TODAY)
    parse_credit_code(make_credit_code(rng))
    normalize_mobile(make_mobile(rng))
    parse_device_code(make_device_code(rng))
    assert 2 <= len(make_chinese_name(rng)) <= 3


@property_test
@given(
    seed=st.integers(),
    authority_and_category=st.sampled_from(
        [("1", "1"), ("3", "4"), ("5", "2"), ("9", "1"), ("9", "2"), ("9", "3"), ("Y", "1")]
    ),
    region_code=st.sampled_from(["370124", "350100", "100000", "110105"]),
)
def test_every_synthetic_credit_code_validates(
    seed: int, authority_and_category: tuple[str, str], region_code: str
) -> None:
    authority, category = authority_and_category

    code = make_credit_code(
        random.Random(seed), region_code=region_code, authority=authority, category=category
    )

    info = parse_credit_code(code)
    assert (info.authority, info.category, info.region_code) == (
        authority,
        category,
        region_code,
    )
