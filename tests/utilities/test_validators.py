"""The check rules of linli.utilities.validators against published examples and broken input.

Only error codes are compared, never messages: rendering a lazy message needs Django settings,
and these tests run without them (``-p no:django``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from linli.utilities.synthetic import make_id_number
from linli.utilities.validators import (
    CREDIT_CODE_ALPHABET,
    CodeError,
    CreditCodeError,
    DeviceCodeError,
    IdNumberError,
    MobileError,
    RegionCodeError,
    credit_code_check_char,
    id_number_check_char,
    normalize_mobile,
    organization_code_check_char,
    parent_region_code,
    parse_credit_code,
    parse_device_code,
    parse_id_number,
    parse_region_code,
    validate_credit_code,
    validate_device_code,
    validate_id_number,
    validate_mobile,
    validate_region_code,
)

# Keep Hypothesis's example database out of the working tree.
property_test = hypothesis_settings(database=None, deadline=None, max_examples=300)

TODAY = date(2025, 6, 1)


def error_code(parse: Callable[[str], object], value: str) -> str:
    with pytest.raises(CodeError) as caught:
        parse(value)
    return caught.value.code


def with_id_check_char(first17: str) -> str:
    return first17 + id_number_check_char(first17)


def with_credit_check_chars(first16: str) -> str:
    """Complete positions 1-16 with a correct organisation check and outer check character."""
    organization_body = first16[8:16]
    first17 = first16 + organization_code_check_char(organization_body)
    return first17 + credit_code_check_char(first17)


# --- resident ID number -------------------------------------------------------------------

# The example printed in GB 11643-1999 itself. By hand, digits x weights (7 9 10 5 8 4 2 1 6 3
# 7 9 10 5 8 4 2): 1*7 + 1*9 + 0 + 1*5 + 0 + 5*4 + 1*2 + 9*1 + 4*6 + 9*3 + 1*7 + 2*9 + 3*10
# + 1*5 + 0 + 0 + 2*2 = 167; 167 mod 11 = 2; "10X98765432"[2] = "X".
STANDARD_ID_NUMBER = "11010519491231002X"


def test_id_number_example_from_the_standard_is_valid() -> None:
    info = parse_id_number(STANDARD_ID_NUMBER, today=TODAY)

    assert info.number == STANDARD_ID_NUMBER
    assert info.region_code == "110105"
    assert info.birth_date == date(1949, 12, 31)
    assert info.gender == "F"  # 17th digit 2 is even


def test_id_number_check_char_matches_hand_calculations() -> None:
    # Each body's weighted sum is worked out in the comment; the check is "10X98765432"[sum % 11].
    assert id_number_check_char("00000000000000000") == "1"  # sum 0
    assert id_number_check_char("00000001000000000") == "0"  # 8th weight 1: sum 1
    assert id_number_check_char("00000000000000001") == "X"  # 17th weight 2: sum 2
    assert id_number_check_char("00000000000000010") == "8"  # 16th weight 4: sum 4
    # 3*7 + 7*9 + 1*5 + 2*8 + 4*4 + 1*2 + 9*1 + 8*6 + 1*9 + 1*5 + 1*2 = 196; 196 mod 11 = 9.
    assert id_number_check_char("37012419800101001") == "3"
    assert id_number_check_char(STANDARD_ID_NUMBER[:17]) == "X"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", "id_number.length"),
        ("1234567890123456", "id_number.length"),
        ("123456789012345678", "id_number.length"),
        ("0000000000000000X", "id_number.format"),
        ("1234567890123456 ", "id_number.format"),
    ],
)
def test_id_number_check_char_refuses_a_body_that_is_not_17_digits(body: str, error: str) -> None:
    assert error_code(id_number_check_char, body) == error


def test_id_number_with_lowercase_x_is_accepted_and_normalised() -> None:
    info = parse_id_number(" 11010519491231002x\t", today=TODAY)

    assert info.number == STANDARD_ID_NUMBER


def test_id_number_written_in_full_width_digits_is_accepted() -> None:
    full_width = "".join(chr(ord(char) + 0xFEE0) for char in STANDARD_ID_NUMBER)

    assert parse_id_number(full_width, today=TODAY).number == STANDARD_ID_NUMBER


def test_male_id_number_has_odd_17th_digit() -> None:
    number = with_id_check_char("11010519491231001")

    assert parse_id_number(number, today=TODAY).gender == "M"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "11010519491231002",
        "11010519491231002X0",
        "110105 19491231002X",
        "110105491231002",  # an old 15-digit number
    ],
)
def test_id_number_with_wrong_length_is_rejected(value: str) -> None:
    assert error_code(parse_id_number, value) == "id_number.length"


@pytest.mark.parametrize(
    "value",
    [
        "X1010519491231002X",
        "1101051949123100XX",
        "11010519491231002Y",
        "1101051949-231002X",
        "11010519491231002/",
    ],
)
def test_id_number_with_bad_characters_is_rejected(value: str) -> None:
    assert error_code(parse_id_number, value) == "id_number.format"


@pytest.mark.parametrize("check_char", [c for c in "0123456789X" if c != "X"])
def test_id_number_with_wrong_check_char_is_rejected(check_char: str) -> None:
    value = STANDARD_ID_NUMBER[:17] + check_char

    assert error_code(lambda v: parse_id_number(v, today=TODAY), value) == "id_number.checksum"


@pytest.mark.parametrize("position", range(18))
def test_id_number_with_any_single_character_changed_is_rejected(position: int) -> None:
    for replacement in "0123456789X":
        if replacement == STANDARD_ID_NUMBER[position]:
            continue
        mutated = STANDARD_ID_NUMBER[:position] + replacement + STANDARD_ID_NUMBER[position + 1 :]
        with pytest.raises(IdNumberError):
            parse_id_number(mutated, today=TODAY)


def test_id_number_with_adjacent_characters_swapped_is_rejected() -> None:
    for position in range(17):
        a, b = STANDARD_ID_NUMBER[position], STANDARD_ID_NUMBER[position + 1]
        if a == b:
            continue
        swapped = STANDARD_ID_NUMBER[:position] + b + a + STANDARD_ID_NUMBER[position + 2 :]
        with pytest.raises(IdNumberError):
            parse_id_number(swapped, today=TODAY)


@pytest.mark.parametrize(
    "birth",
    [
        "19490230",  # 30 February
        "19990229",  # 1999 is not a leap year
        "19000229",  # 1900 is not a leap year either (divisible by 100, not by 400)
        "19491301",  # month 13
        "19490001",  # month 0
        "19491200",  # day 0
        "19490431",  # 31 April
        "18991231",  # before 1900
    ],
)
def test_id_number_with_impossible_birth_date_is_rejected(birth: str) -> None:
    # The check character is made correct so that only the date can be at fault.
    value = with_id_check_char(f"110105{birth}002")

    assert error_code(lambda v: parse_id_number(v, today=TODAY), value) == "id_number.birth_date"


def test_id_number_born_on_a_real_leap_day_is_accepted() -> None:
    value = with_id_check_char("11010520000229002")

    assert parse_id_number(value, today=TODAY).birth_date == date(2000, 2, 29)


def test_id_number_with_future_birth_date_is_rejected() -> None:
    value = with_id_check_char("11010520250602002")

    assert error_code(lambda v: parse_id_number(v, today=TODAY), value) == "id_number.birth_date"


def test_id_number_of_a_baby_born_today_is_accepted() -> None:
    value = with_id_check_char("11010520250601002")

    assert parse_id_number(value, today=TODAY).birth_date == TODAY


def test_id_number_future_check_defaults_to_the_real_today() -> None:
    value = with_id_check_char("11010599991231002")

    assert error_code(parse_id_number, value) == "id_number.birth_date"


@pytest.mark.parametrize(
    "province", ["00", "10", "16", "20", "24", "38", "47", "55", "66", "72", "84", "99"]
)
def test_id_number_with_bad_province_is_rejected(province: str) -> None:
    value = with_id_check_char(f"{province}010519491231002")

    assert error_code(lambda v: parse_id_number(v, today=TODAY), value) == "id_number.region"


@pytest.mark.parametrize("prefix", ["810000", "820000", "830000", "710000", "650102", "460100"])
def test_id_number_with_residence_permit_and_border_province_prefixes_is_accepted(
    prefix: str,
) -> None:
    value = with_id_check_char(f"{prefix}19491231002")

    assert parse_id_number(value, today=TODAY).region_code == prefix


def test_django_id_number_validator_raises_validation_error_with_the_same_code() -> None:
    validate_id_number(STANDARD_ID_NUMBER)

    with pytest.raises(ValidationError) as caught:
        validate_id_number(STANDARD_ID_NUMBER[:17] + "1")
    assert caught.value.code == "id_number.checksum"


def test_code_error_text_is_the_code_and_never_the_rejected_value() -> None:
    value = STANDARD_ID_NUMBER[:17] + "1"

    with pytest.raises(IdNumberError) as caught:
        parse_id_number(value, today=TODAY)

    assert str(caught.value) == "id_number.checksum"
    assert value not in repr(caught.value)
    assert isinstance(caught.value, ValueError)


@property_test
@given(
    seed=st.integers(),
    birth_date=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    gender=st.sampled_from(["M", "F"]),
)
def test_every_synthetic_id_number_validates(seed: int, birth_date: date, gender: str) -> None:
    number = make_id_number(random.Random(seed), birth_date=birth_date, gender=gender)

    info = parse_id_number(number, today=TODAY)

    assert (info.birth_date, info.gender, info.region_code) == (birth_date, gender, "370124")


@property_test
@given(
    seed=st.integers(),
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from("0123456789X"),
)
def test_every_single_substitution_in_a_valid_id_number_is_rejected(
    seed: int, position: int, replacement: str
) -> None:
    # MOD 11-2 catches every single substitution because 11 is prime and no weight is 0 mod 11.
    number = make_id_number(random.Random(seed))
    mutated = number[:position] + replacement + number[position + 1 :]
    if mutated == number:
        return

    with pytest.raises(IdNumberError):
        parse_id_number(mutated, today=TODAY)


# --- unified social credit code -----------------------------------------------------------

# The example widely quoted for GB 32100. By hand, values from "0123456789ABCDEFGHJKLMNPQRTUWXY"
# (M = 21, Y = 30) x weights (1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28):
# 9*1 + 1*3 + 3*9 + 5*27 + 1*26 + 21*20 + 1*8 + 30*30 + 4*28 = 1640; 1640 mod 31 = 28;
# 31 - 28 = 3 -> "3". Embedded organisation code M000100Y4 (GB 11714, M = 22, Y = 34, weights
# 3 7 9 10 5 8 4 2): 22*3 + 1*5 + 34*2 = 139; 139 mod 11 = 7; 11 - 7 = 4 -> "4".
STANDARD_CREDIT_CODE = "91350100M000100Y43"


def test_credit_code_widely_quoted_example_is_valid() -> None:
    info = parse_credit_code(STANDARD_CREDIT_CODE)

    assert info.code == STANDARD_CREDIT_CODE
    assert info.authority == "9"
    assert info.category == "1"
    assert info.region_code == "350100"
    assert info.organization_code == "M000100Y4"


def test_credit_code_alphabet_has_31_characters_without_i_o_s_v_z() -> None:
    assert len(CREDIT_CODE_ALPHABET) == 31
    assert len(set(CREDIT_CODE_ALPHABET)) == 31
    assert not set("IOSVZ") & set(CREDIT_CODE_ALPHABET)


def test_credit_code_check_char_matches_hand_calculations() -> None:
    assert credit_code_check_char("00000000000000000") == "0"  # sum 0: 31 - 0 = 31 -> 0
    assert credit_code_check_char("10000000000000000") == "Y"  # sum 1: 30 -> Y
    assert credit_code_check_char("20000000000000000") == "X"  # sum 2: 29 -> X
    assert credit_code_check_char("01000000000000000") == "W"  # 1*3 = 3: 28 -> W
    assert credit_code_check_char(STANDARD_CREDIT_CODE[:17]) == "3"


def test_organization_code_check_char_matches_hand_calculations() -> None:
    assert organization_code_check_char("00000000") == "0"  # sum 0: 11 - 0 = 11 -> 0
    assert organization_code_check_char("00000001") == "9"  # 1*2 = 2: 11 - 2 = 9
    assert organization_code_check_char("A0000000") == "3"  # 10*3 = 30, mod 11 = 8: 3
    assert organization_code_check_char("00000030") == "X"  # 3*4 = 12, mod 11 = 1: 10 -> X
    assert organization_code_check_char("M000100Y") == "4"


@pytest.mark.parametrize("body", ["", "0000000", "000000000", "0000000a", "0000-000"])
def test_organization_code_check_char_refuses_a_malformed_body(body: str) -> None:
    assert error_code(organization_code_check_char, body) == "credit_code.organization_code"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", "credit_code.length"),
        ("0" * 16, "credit_code.length"),
        ("0" * 18, "credit_code.length"),
        ("I" + "0" * 16, "credit_code.charset"),
        ("0" * 16 + "z", "credit_code.charset"),
    ],
)
def test_credit_code_check_char_refuses_a_malformed_body(body: str, error: str) -> None:
    assert error_code(credit_code_check_char, body) == error


def test_credit_code_in_lowercase_with_spaces_is_accepted_and_normalised() -> None:
    assert parse_credit_code("  91350100m000100y43 ").code == STANDARD_CREDIT_CODE


@pytest.mark.parametrize("value", ["", "91350100M000100Y4", "91350100M000100Y433", "9135010"])
def test_credit_code_with_wrong_length_is_rejected(value: str) -> None:
    assert error_code(parse_credit_code, value) == "credit_code.length"


@pytest.mark.parametrize("letter", "IOZSV")
@pytest.mark.parametrize("position", [0, 1, 5, 8, 12, 17])
def test_credit_code_with_i_o_z_s_or_v_is_rejected(letter: str, position: int) -> None:
    value = STANDARD_CREDIT_CODE[:position] + letter + STANDARD_CREDIT_CODE[position + 1 :]

    assert error_code(parse_credit_code, value) == "credit_code.charset"


@pytest.mark.parametrize(
    "value", ["91350100M000100Y4-", "91350100M000100Y4*", "9135 100M000100Y43"]
)
def test_credit_code_with_punctuation_is_rejected(value: str) -> None:
    assert error_code(parse_credit_code, value) == "credit_code.charset"


@pytest.mark.parametrize("authority", ["0", "B", "C", "M", "X"])
def test_credit_code_with_unknown_registration_authority_is_rejected(authority: str) -> None:
    value = with_credit_check_chars(f"{authority}1350100M000100Y")

    assert error_code(parse_credit_code, value) == "credit_code.authority"


@pytest.mark.parametrize(
    ("authority", "category"),
    [
        *[("1", "1"), ("1", "9"), ("3", "4"), ("3", "5"), ("5", "3"), ("9", "2"), ("9", "3")],
        *[("A", "1"), ("N", "2"), ("Y", "1"), ("8", "9"), ("7", "2")],
    ],
)
def test_credit_code_with_category_of_its_authority_is_accepted(
    authority: str, category: str
) -> None:
    value = with_credit_check_chars(f"{authority}{category}350100M000100Y")

    info = parse_credit_code(value)

    assert (info.authority, info.category) == (authority, category)


@pytest.mark.parametrize(
    ("authority", "category"),
    [
        *[("9", "9"), ("9", "4"), ("9", "A"), ("Y", "2"), ("Y", "9"), ("1", "4"), ("5", "4")],
        *[("2", "2"), ("8", "3"), ("1", "0")],
    ],
)
def test_credit_code_with_category_foreign_to_its_authority_is_rejected(
    authority: str, category: str
) -> None:
    value = with_credit_check_chars(f"{authority}{category}350100M000100Y")

    assert error_code(parse_credit_code, value) == "credit_code.category"


@pytest.mark.parametrize("region", ["35010A", "A50100", "3501X0"])
def test_credit_code_with_letters_in_the_region_is_rejected(region: str) -> None:
    value = with_credit_check_chars(f"91{region}M000100Y")

    assert error_code(parse_credit_code, value) == "credit_code.region"


def test_credit_code_registered_at_national_level_is_accepted() -> None:
    # Central registrations carry 100000, which is a six-digit code but not a province.
    value = with_credit_check_chars("11100000M000100Y")

    assert parse_credit_code(value).region_code == "100000"


@pytest.mark.parametrize("check_char", [c for c in CREDIT_CODE_ALPHABET if c != "3"])
def test_credit_code_with_wrong_check_char_is_rejected(check_char: str) -> None:
    value = STANDARD_CREDIT_CODE[:17] + check_char

    assert error_code(parse_credit_code, value) == "credit_code.checksum"


@pytest.mark.parametrize("position", range(18))
def test_credit_code_with_any_single_character_changed_is_rejected(position: int) -> None:
    for replacement in CREDIT_CODE_ALPHABET:
        if replacement == STANDARD_CREDIT_CODE[position]:
            continue
        mutated = (
            STANDARD_CREDIT_CODE[:position] + replacement + STANDARD_CREDIT_CODE[position + 1 :]
        )
        with pytest.raises(CreditCodeError):
            parse_credit_code(mutated)


def test_credit_code_with_bad_organization_code_but_fitting_outer_check_is_rejected() -> None:
    # Change the organisation code body but keep its old check character "4", then recompute
    # the outer check character so that only the embedded GB 11714 check is wrong. By hand,
    # M000100A: 22*3 + 1*5 + 10*2 = 91; 91 mod 11 = 3; 11 - 3 = 8, not 4.
    first17 = "91350100" + "M000100A" + "4"
    assert organization_code_check_char("M000100A") != "4"
    value = first17 + credit_code_check_char(first17)

    assert error_code(parse_credit_code, value) == "credit_code.organization_code"


def test_django_credit_code_validator_raises_validation_error_with_the_same_code() -> None:
    validate_credit_code(STANDARD_CREDIT_CODE)

    with pytest.raises(ValidationError) as caught:
        validate_credit_code("91350100M000100Y44")
    assert caught.value.code == "credit_code.checksum"


# --- mobile number ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "13800138000",
        " 13800138000 ",
        "138-0013-8000",
        "138 0013 8000",
        "+86 138 0013 8000",
        "+86-13800138000",
        "+8613800138000",
        "8613800138000",
        "0086 138 0013 8000",
        "(+86) 138 0013 8000",
        "１３８００１３８０００",
    ],
)
def test_mobile_with_country_code_spaces_or_hyphens_is_normalised(value: str) -> None:
    assert normalize_mobile(value) == "13800138000"


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_mobile_with_second_digit_3_to_9_is_accepted(prefix: str) -> None:
    assert normalize_mobile(prefix + "912345678") == prefix + "912345678"


@pytest.mark.parametrize(
    "value",
    ["0531-88888888", "010-62345678", "0531 8888888", "88888888", "+86 531 8888 8888"],
)
def test_mobile_field_rejects_landline_numbers(value: str) -> None:
    assert error_code(normalize_mobile, value) == "mobile.format"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1380013800",  # ten digits
        "138001380001",  # twelve digits
        "12800138000",  # second digit 2
        "10800138000",  # second digit 0
        "23800138000",  # does not start with 1
        "1380013800a",
        "+1 13800138000",
        "86 1380013800",  # country code followed by only ten digits
        "138.0013.8000",
    ],
)
def test_mobile_with_wrong_digits_is_rejected(value: str) -> None:
    assert error_code(normalize_mobile, value) == "mobile.format"


def test_mobile_error_is_a_value_error_for_callers_that_fall_back() -> None:
    with pytest.raises(ValueError):
        normalize_mobile("0531-88888888")


def test_django_mobile_validator_raises_validation_error_with_the_same_code() -> None:
    validate_mobile("+86 138 0013 8000")

    with pytest.raises(ValidationError) as caught:
        validate_mobile("0531-88888888")
    assert caught.value.code == "mobile.format"


# --- GB/T 28181 device code ---------------------------------------------------------------


def device_code(
    center: str = "37012400",
    industry: str = "01",
    type_code: str = "132",
    network: str = "0",
    serial: str = "000001",
) -> str:
    return center + industry + type_code + network + serial


def test_device_code_fields_are_split_by_position() -> None:
    info = parse_device_code("37012400011320000001")

    assert info.code == "37012400011320000001"
    assert info.center_code == "37012400"
    assert info.region_code == "370124"
    assert info.industry == "01"
    assert info.type_code == "132"
    assert info.network == "0"
    assert info.serial == "000001"
    assert info.is_camera
    assert not info.is_platform


@pytest.mark.parametrize(
    ("type_code", "is_camera", "is_platform"),
    [
        *[("131", True, False), ("132", True, False), ("118", False, False)],
        *[("200", False, True), ("111", False, False), ("216", False, False)],
        *[("300", False, False), ("999", False, False)],
    ],
)
def test_device_code_type_says_whether_it_is_a_camera_or_platform(
    type_code: str, is_camera: bool, is_platform: bool
) -> None:
    info = parse_device_code(device_code(type_code=type_code))

    assert (info.is_camera, info.is_platform) == (is_camera, is_platform)


@pytest.mark.parametrize("value", ["", device_code()[:19], device_code() + "0", "3701240001"])
def test_device_code_with_wrong_length_is_rejected(value: str) -> None:
    assert error_code(parse_device_code, value) == "device_code.length"


@pytest.mark.parametrize(
    "value", [device_code(serial="00000A"), "3701240001132-000001", "37" * 9 + "x1"]
)
def test_device_code_with_non_digits_is_rejected(value: str) -> None:
    assert error_code(parse_device_code, value) == "device_code.format"


@pytest.mark.parametrize("center", ["00012400", "99012400", "10000000", "38012400"])
def test_device_code_with_bad_province_is_rejected(center: str) -> None:
    assert error_code(parse_device_code, device_code(center=center)) == "device_code.region"


@pytest.mark.parametrize("type_code", ["000", "001", "100", "110"])
def test_device_code_with_reserved_type_is_rejected(type_code: str) -> None:
    assert error_code(parse_device_code, device_code(type_code=type_code)) == "device_code.type"


def test_device_code_with_reserved_network_9_is_rejected() -> None:
    assert error_code(parse_device_code, device_code(network="9")) == "device_code.network"


@pytest.mark.parametrize("network", "012345678")
def test_device_code_with_defined_network_is_accepted(network: str) -> None:
    assert parse_device_code(device_code(network=network)).network == network


def test_device_code_with_any_industry_is_accepted() -> None:
    for industry in range(100):
        assert (
            parse_device_code(device_code(industry=f"{industry:02d}")).industry == f"{industry:02d}"
        )


def test_django_device_code_validator_raises_validation_error_with_the_same_code() -> None:
    validate_device_code(device_code())

    with pytest.raises(ValidationError) as caught:
        validate_device_code(device_code(network="9"))
    assert caught.value.code == "device_code.network"


# --- region codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("37", "province", None),
        ("3701", "city", "37"),
        ("370124", "county", "3701"),
        ("370124001", "subdistrict", "370124"),
        ("370124001022", "community", "370124001"),
        ("370124001022001", "grid", "370124001022"),
        ("110105", "county", "1101"),
        ("469001", "county", "4690"),  # a county administered directly by Hainan province
    ],
)
def test_region_code_of_each_level_is_accepted_with_its_parent(
    code: str, level: str, parent: str | None
) -> None:
    info = parse_region_code(code)

    assert (info.code, info.level) == (code, level)
    assert parent_region_code(code) == parent


def test_region_code_with_surrounding_spaces_is_accepted() -> None:
    assert parse_region_code(" 370124 ").code == "370124"


@pytest.mark.parametrize(
    "value", ["", "3", "370", "37012", "3701240", "37012400", "3701240010", "3701240010220011"]
)
def test_region_code_with_wrong_length_is_rejected(value: str) -> None:
    assert error_code(parse_region_code, value) == "region.length"


@pytest.mark.parametrize(
    "value", ["3a", "37a1", "37012x", "370124 01", "3701240010-2", "37012400102A", "-370"]
)
def test_region_code_with_non_digits_is_rejected(value: str) -> None:
    assert error_code(parse_region_code, value) == "region.format"


@pytest.mark.parametrize("value", ["00", "10", "99", "3801", "990124", "720124001"])
def test_region_code_with_bad_province_is_rejected(value: str) -> None:
    assert error_code(parse_region_code, value) == "region.province"


@pytest.mark.parametrize(
    "value",
    [
        "3700",  # the province written as a city
        "370000",  # the province written as a county
        "370100",  # the city written as a county
        "370024",  # a county under no city
        "370124000",  # the county written as a subdistrict
        "370124001000",  # the subdistrict written as a community (12-digit statistical form)
        "370124001022000",  # the community written as a grid
        "370000001022001",  # zeros in a middle segment
    ],
)
def test_region_code_with_an_all_zero_segment_is_rejected(value: str) -> None:
    assert error_code(parse_region_code, value) == "region.segment"


def test_parent_region_code_of_an_invalid_code_is_refused() -> None:
    with pytest.raises(RegionCodeError) as caught:
        parent_region_code("370000")
    assert caught.value.code == "region.segment"


def test_django_region_code_validator_raises_validation_error_with_the_same_code() -> None:
    validate_region_code("370124001022")

    with pytest.raises(ValidationError) as caught:
        validate_region_code("370124001000")
    assert caught.value.code == "region.segment"


def test_every_error_class_is_a_value_error_with_a_code() -> None:
    for error_class in (IdNumberError, CreditCodeError, MobileError, DeviceCodeError):
        assert issubclass(error_class, CodeError)
    assert issubclass(RegionCodeError, CodeError)
    assert issubclass(CodeError, ValueError)
