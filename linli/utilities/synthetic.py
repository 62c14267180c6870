"""Synthetic identities for demo data and tests, which pass the real check rules.

Everything is drawn from the ``random.Random`` passed in, so a seed reproduces the same county.
The values are random, not taken from any record of real people. A random but well-formed ID
number or mobile number may still happen to belong to someone, so synthetic data must stay in
demo and test databases and never be sent messages through a real SMS gateway.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Final

from linli.utilities.validators import (
    COUNTY,
    CREDIT_CODE_ALPHABET,
    DEVICE_INDUSTRY_LABELS,
    GENDER_FEMALE,
    GENDER_MALE,
    credit_code_check_char,
    id_number_check_char,
    organization_code_check_char,
    parse_credit_code,
    parse_device_code,
    parse_id_number,
    parse_region_code,
)

__all__ = [
    "GIVEN_NAME_CHARACTERS",
    "MOBILE_PREFIXES",
    "SURNAMES",
    "make_chinese_name",
    "make_credit_code",
    "make_device_code",
    "make_id_number",
    "make_mobile",
]

# Defaults span the ages a community registry holds, from the very old to young children; they
# are fixed dates rather than relative to today so that a seed always gives the same numbers.
_EARLIEST_BIRTH: Final = date(1935, 1, 1)
_LATEST_BIRTH: Final = date(2020, 12, 31)

# Number blocks the three carriers have issued to subscribers (154 was never issued).
MOBILE_PREFIXES: Final = (
    *(str(prefix) for prefix in range(130, 140)),
    *("150", "151", "152", "153", "155", "156", "157", "158", "159"),
    *("166", "175", "176", "177", "178"),
    *(str(prefix) for prefix in range(180, 190)),
    *("198", "199"),
)

# Tuples, never sets: set order of strings changes between processes, which would break seeds.
SURNAMES: Final = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金"
)
GIVEN_NAME_CHARACTERS: Final = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建"
    "文斌宇浩凯健俊帆帅旭宁龙林欣佳雪琳晨阳婷倩颖慧莉梅兰凤云海亮"
    "飞波鑫峰博铭轩涵睿泽子梓诺然怡可心悦思雨嘉豪宏志成国庆春燕晓"
    "东立新永忠德祥福安康乐诗雅琪璐蕾丹彤妍萱瑶琦航哲昊天翔毅坤鸿"
    "振雷胜利荣贵兵亚清秋月冬梦晴露茜薇菲婉淑蓉晶瑞祺铮琴玲松柏鹤"
)
# About a third of given names have one character.
_SINGLE_CHARACTER_SHARE: Final = 0.3

_CREDIT_CODE_BODY_PREFIX: Final = "MA"  # the prefix of bodies assigned since the 2015 reform


def _county_code(region_code: str) -> str:
    info = parse_region_code(region_code)
    if info.level != COUNTY:
        raise ValueError("A synthetic identity needs a 6-digit county code.")
    return info.code


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def make_id_number(
    rng: random.Random,
    region_code: str = "370124",
    birth_date: date | None = None,
    gender: str | None = None,
) -> str:
    """A resident ID number with a valid check character; ``gender`` is "M" or "F"."""
    county = _county_code(region_code)
    if birth_date is None:
        birth_date = date.fromordinal(
            rng.randint(_EARLIEST_BIRTH.toordinal(), _LATEST_BIRTH.toordinal())
        )
    if gender is None:
        gender = rng.choice((GENDER_MALE, GENDER_FEMALE))
    if gender not in (GENDER_MALE, GENDER_FEMALE):
        raise ValueError('gender must be "M", "F" or None.')
    # The 17th digit carries the gender: odd for men, even for women.
    gender_digit = rng.choice("13579" if gender == GENDER_MALE else "02468")
    first17 = f"{county}{birth_date:%Y%m%d}{_digits(rng, 2)}{gender_digit}"
    number = first17 + id_number_check_char(first17)
    # Rejects a birth date before 1900; a future one is allowed, for tests that need it.
    parse_id_number(number, today=date.max)
    return number


def make_credit_code(
    rng: random.Random,
    region_code: str = "370124",
    authority: str = "9",
    category: str = "1",
) -> str:
    """A unified social credit code whose outer and embedded check characters are both valid."""
    body = _CREDIT_CODE_BODY_PREFIX + "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(6))
    organization_code = body + organization_code_check_char(body)
    first17 = f"{authority}{category}{region_code}{organization_code}"
    code = first17 + credit_code_check_char(first17)
    # Rejects an authority, category or region the caller got wrong, with the validator's code.
    parse_credit_code(code)
    return code


def make_mobile(rng: random.Random) -> str:
    """An 11-digit mainland mobile number in a block the carriers really issue."""
    return rng.choice(MOBILE_PREFIXES) + _digits(rng, 8)


def make_device_code(
    rng: random.Random,
    region_code: str = "370124",
    type_code: str = "132",
    network: str = "0",
    industry: str | None = None,
) -> str:
    """A GB/T 28181 device code; the default type 132 is a network camera on the private network."""
    county = _county_code(region_code)
    if industry is None:
        industry = rng.choice(tuple(DEVICE_INDUSTRY_LABELS))
    code = f"{county}{_digits(rng, 2)}{industry}{type_code}{network}{_digits(rng, 6)}"
    # Rejects a type, network or industry the caller got wrong, with the validator's code.
    parse_device_code(code)
    return code


def make_chinese_name(rng: random.Random) -> str:
    """A two- or three-character name from common surnames and given-name characters."""
    length = 1 if rng.random() < _SINGLE_CHARACTER_SHARE else 2
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_NAME_CHARACTERS) for _ in range(length))
