"""The real check rules of the identifiers Linli stores (SPEC §4.1).

Each rule comes twice: a pure function that returns what the identifier says (or raises a
``CodeError`` with a stable machine ``code``), for services, importers and the API; and a Django
validator that raises ``ValidationError`` with the same code, for model and form fields.

Error messages are English gettext msgids, translated to Chinese by the locale files. They never
contain the rejected value: ID numbers and phone numbers are personal data, and exceptions end
up in logs (STYLE.md, "personal data in logs, exceptions ...").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import TYPE_CHECKING, Final

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from collections.abc import Callable

    from django_stubs_ext import StrOrPromise, StrPromise

__all__ = [
    "CITY",
    "COMMUNITY",
    "COUNTY",
    "CREDIT_CODE_ALPHABET",
    "CREDIT_CODE_AUTHORITY",
    "CREDIT_CODE_CATEGORIES",
    "CREDIT_CODE_CATEGORY",
    "CREDIT_CODE_CHARSET",
    "CREDIT_CODE_CHECKSUM",
    "CREDIT_CODE_LENGTH",
    "CREDIT_CODE_ORGANIZATION_CODE",
    "CREDIT_CODE_REGION",
    "DEVICE_CODE_FORMAT",
    "DEVICE_CODE_LENGTH",
    "DEVICE_CODE_NETWORK",
    "DEVICE_CODE_REGION",
    "DEVICE_CODE_TYPE",
    "DEVICE_INDUSTRY_LABELS",
    "DEVICE_NETWORK_LABELS",
    "DEVICE_TYPE_LABELS",
    "GENDER_FEMALE",
    "GENDER_MALE",
    "GRID",
    "ID_NUMBER_BIRTH_DATE",
    "ID_NUMBER_CHECKSUM",
    "ID_NUMBER_FORMAT",
    "ID_NUMBER_LENGTH",
    "ID_NUMBER_REGION",
    "MOBILE_FORMAT",
    "PROVINCE",
    "PROVINCE_CODES",
    "REGION_CODE_LENGTHS",
    "REGION_FORMAT",
    "REGION_LENGTH",
    "REGION_LEVELS",
    "REGION_PROVINCE",
    "REGION_SEGMENT",
    "SUBDISTRICT",
    "CodeError",
    "CreditCodeError",
    "CreditCodeInfo",
    "DeviceCodeError",
    "DeviceCodeInfo",
    "IdNumberError",
    "IdNumberInfo",
    "MobileError",
    "RegionCodeError",
    "RegionCodeInfo",
    "credit_code_check_char",
    "id_number_check_char",
    "normalize_mobile",
    "organization_code_check_char",
    "parent_region_code",
    "parse_credit_code",
    "parse_device_code",
    "parse_id_number",
    "parse_region_code",
    "validate_credit_code",
    "validate_device_code",
    "validate_id_number",
    "validate_mobile",
    "validate_region_code",
]


# --- errors -------------------------------------------------------------------------------


class CodeError(ValueError):
    """An identifier failed a check rule; ``code`` names the rule for machines and tests."""

    def __init__(self, code: str, message: StrOrPromise) -> None:
        # The code, not the message, is the exception's text: it is stable, carries no personal
        # data, and rendering the lazy message would need Django settings.
        super().__init__(code)
        self.code = code
        self.message = message


class IdNumberError(CodeError):
    pass


class CreditCodeError(CodeError):
    pass


class MobileError(CodeError):
    pass


class DeviceCodeError(CodeError):
    pass


class RegionCodeError(CodeError):
    pass


def _check_for_django(parse: Callable[[str], object], value: str) -> None:
    try:
        parse(value)
    except CodeError as error:
        raise ValidationError(error.message, code=error.code) from error


# --- shared helpers -----------------------------------------------------------------------

# Chinese input methods and spreadsheets often produce full-width digits and letters ("１１０１"),
# which look right on screen but would fail every check; fold them to ASCII first.
_FULL_WIDTH_TO_ASCII: Final[dict[int, int]] = {
    **{codepoint: codepoint - 0xFEE0 for codepoint in range(0xFF01, 0xFF5F)},
    0x3000: 0x20,  # ideographic space
}


def _clean(value: str) -> str:
    return value.translate(_FULL_WIDTH_TO_ASCII).strip()


_DIGITS_RE: Final = re.compile(r"[0-9]+")

# First two digits of GB/T 2260 codes. 71 is Taiwan; 81, 82 and 83 are the prefixes of the
# residence permits of Hong Kong, Macao and Taiwan residents (810000, 820000, 830000).
PROVINCE_CODES: Final[frozenset[str]] = frozenset(
    {
        *("11", "12", "13", "14", "15"),
        *("21", "22", "23"),
        *("31", "32", "33", "34", "35", "36", "37"),
        *("41", "42", "43", "44", "45", "46"),
        *("50", "51", "52", "53", "54"),
        *("61", "62", "63", "64", "65"),
        *("71", "81", "82", "83"),
    }
)


# --- resident ID number (GB 11643-1999) ---------------------------------------------------

ID_NUMBER_LENGTH: Final = "id_number.length"
ID_NUMBER_FORMAT: Final = "id_number.format"
ID_NUMBER_REGION: Final = "id_number.region"
ID_NUMBER_BIRTH_DATE: Final = "id_number.birth_date"
ID_NUMBER_CHECKSUM: Final = "id_number.checksum"

GENDER_MALE: Final = "M"
GENDER_FEMALE: Final = "F"

# ISO 7064 MOD 11-2: weight of position i is 2**(17 - i) mod 11.
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_ID_NUMBER_RE: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_BODY_RE: Final = re.compile(r"[0-9]{17}")
_OLD_ID_NUMBER_RE: Final = re.compile(r"[0-9]{15}")
_EARLIEST_BIRTH_YEAR: Final = 1900


@dataclass(frozen=True, slots=True)
class IdNumberInfo:
    number: str
    region_code: str
    birth_date: date
    gender: str


def id_number_check_char(first17: str) -> str:
    """The GB 11643 check character (0-9 or X) of the first 17 digits of an ID number."""
    if len(first17) != 17:
        raise IdNumberError(
            ID_NUMBER_LENGTH, _("The check digit is computed from exactly 17 digits.")
        )
    if _ID_BODY_RE.fullmatch(first17) is None:
        raise IdNumberError(
            ID_NUMBER_FORMAT, _("The first 17 characters of an ID number must be digits.")
        )
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _birth_date(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return None


def parse_id_number(value: str, today: date | None = None) -> IdNumberInfo:
    """Check a resident ID number and return its region, birth date and gender.

    ``today`` bounds the birth date; it defaults to the process's local date, which Django sets
    to ``TIME_ZONE`` on start-up.
    """
    number = _clean(value).upper()
    if len(number) != 18:
        if _OLD_ID_NUMBER_RE.fullmatch(number):
            # First-generation cards carried 15 digits; they were replaced by 2013 and their
            # numbers cannot be checked, so the holder's current 18-character number is needed.
            raise IdNumberError(
                ID_NUMBER_LENGTH,
                _("Old 15-digit ID numbers are not accepted; enter the 18-character number."),
            )
        raise IdNumberError(ID_NUMBER_LENGTH, _("An ID number must have 18 characters."))
    if _ID_NUMBER_RE.fullmatch(number) is None:
        raise IdNumberError(
            ID_NUMBER_FORMAT, _("An ID number is 17 digits followed by a digit or the letter X.")
        )
    if number[:2] not in PROVINCE_CODES:
        raise IdNumberError(
            ID_NUMBER_REGION, _("The ID number does not start with a valid province code.")
        )
    birth_date = _birth_date(number[6:14])
    if birth_date is None or birth_date.year < _EARLIEST_BIRTH_YEAR:
        raise IdNumberError(
            ID_NUMBER_BIRTH_DATE, _("The birth date in the ID number is not a possible date.")
        )
    if birth_date > (date.today() if today is None else today):
        raise IdNumberError(
            ID_NUMBER_BIRTH_DATE, _("The birth date in the ID number is in the future.")
        )
    if id_number_check_char(number[:17]) != number[17]:
        raise IdNumberError(ID_NUMBER_CHECKSUM, _("The check digit of the ID number is wrong."))
    return IdNumberInfo(
        number=number,
        region_code=number[:6],
        birth_date=birth_date,
        gender=GENDER_MALE if int(number[16]) % 2 else GENDER_FEMALE,
    )


# Field validators are plain module-level functions because migrations refer to them by path.
def validate_id_number(value: str) -> None:
    """Django validator for resident ID numbers (GB 11643-1999)."""
    _check_for_django(parse_id_number, value)


# --- unified social credit code (GB 32100-2015) -------------------------------------------

CREDIT_CODE_LENGTH: Final = "credit_code.length"
CREDIT_CODE_CHARSET: Final = "credit_code.charset"
CREDIT_CODE_AUTHORITY: Final = "credit_code.authority"
CREDIT_CODE_CATEGORY: Final = "credit_code.category"
CREDIT_CODE_REGION: Final = "credit_code.region"
CREDIT_CODE_ORGANIZATION_CODE: Final = "credit_code.organization_code"
CREDIT_CODE_CHECKSUM: Final = "credit_code.checksum"

# I, O, Z, S and V are left out because they are easily misread as 1, 0, 2, 5 and U.
CREDIT_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_VALUES: Final = {char: value for value, char in enumerate(CREDIT_CODE_ALPHABET)}
_CREDIT_CODE_RE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_CREDIT_BODY_RE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{17}")
# Weight of position i is 3**i mod 31.
_CREDIT_CODE_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# Registration authority (position 1) -> organisation categories (position 2) it may assign,
# from the table of GB 32100-2015 and its amendments: 1 机构编制, 2 外交, 3 司法行政, 4 文化,
# 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商 (市场监管), A 中央军委改革和编制办公室, N 农业, Y 其他.
CREDIT_CODE_CATEGORIES: Final[Mapping[str, frozenset[str]]] = {
    "1": frozenset("1239"),
    "2": frozenset("19"),
    "3": frozenset("123459"),
    "4": frozenset("19"),
    "5": frozenset("1239"),
    "6": frozenset("129"),
    "7": frozenset("129"),
    "8": frozenset("19"),
    "9": frozenset("123"),
    "A": frozenset("19"),
    "N": frozenset("1239"),
    "Y": frozenset("1"),
}

# GB 11714 organisation codes use every capital letter, valued A=10 ... Z=35.
_ORGANIZATION_BODY_RE: Final = re.compile(r"[0-9A-Z]{8}")
_ORGANIZATION_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True, slots=True)
class CreditCodeInfo:
    code: str
    authority: str
    category: str
    region_code: str
    organization_code: str


def organization_code_check_char(first8: str) -> str:
    """The GB 11714 check character (0-9 or X) of an 8-character organisation code body."""
    if _ORGANIZATION_BODY_RE.fullmatch(first8) is None:
        raise CreditCodeError(
            CREDIT_CODE_ORGANIZATION_CODE,
            _("An organization code starts with 8 digits or capital letters."),
        )
    total = sum(
        int(char, 36) * weight for char, weight in zip(first8, _ORGANIZATION_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return "X" if check == 10 else str(check % 11)


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters of a credit code."""
    if len(first17) != 17:
        raise CreditCodeError(
            CREDIT_CODE_LENGTH, _("The check character is computed from exactly 17 characters.")
        )
    if _CREDIT_BODY_RE.fullmatch(first17) is None:
        raise CreditCodeError(
            CREDIT_CODE_CHARSET,
            _("A credit code may contain only digits and capital letters except I, O, S, V, Z."),
        )
    total = sum(
        _CREDIT_CODE_VALUES[char] * weight
        for char, weight in zip(first17, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def parse_credit_code(value: str) -> CreditCodeInfo:
    """Check a unified social credit code, including the organisation code embedded in it."""
    code = _clean(value).upper()
    if len(code) != 18:
        raise CreditCodeError(
            CREDIT_CODE_LENGTH, _("A unified social credit code must have 18 characters.")
        )
    if _CREDIT_CODE_RE.fullmatch(code) is None:
        raise CreditCodeError(
            CREDIT_CODE_CHARSET,
            _("A credit code may contain only digits and capital letters except I, O, S, V, Z."),
        )
    authority, category = code[0], code[1]
    categories = CREDIT_CODE_CATEGORIES.get(authority)
    if categories is None:
        raise CreditCodeError(
            CREDIT_CODE_AUTHORITY,
            _("The first character of the credit code is not a registration authority."),
        )
    if category not in categories:
        raise CreditCodeError(
            CREDIT_CODE_CATEGORY,
            _("The second character of the credit code is not a category of its authority."),
        )
    # Only six digits are required here: national registrations use 100000, which is not a
    # province, and a county's code may have been retired since the organisation registered.
    region_code = code[2:8]
    if _DIGITS_RE.fullmatch(region_code) is None:
        raise CreditCodeError(
            CREDIT_CODE_REGION, _("Characters 3 to 8 of the credit code must be digits.")
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise CreditCodeError(
            CREDIT_CODE_CHECKSUM, _("The check character of the credit code is wrong.")
        )
    # Checked after the outer check character so that a plain typo reports the simpler error;
    # a code made up with a recomputed outer check character is still caught here.
    if organization_code_check_char(code[8:16]) != code[16]:
        raise CreditCodeError(
            CREDIT_CODE_ORGANIZATION_CODE,
            _("The organization code inside the credit code has a wrong check character."),
        )
    return CreditCodeInfo(
        code=code,
        authority=authority,
        category=category,
        region_code=region_code,
        organization_code=code[8:17],
    )


def validate_credit_code(value: str) -> None:
    """Django validator for unified social credit codes (GB 32100-2015)."""
    _check_for_django(parse_credit_code, value)


# --- mainland mobile number -----------------------------------------------------------------

MOBILE_FORMAT: Final = "mobile.format"

_MOBILE_SEPARATORS_RE: Final = re.compile(r"[\s\-()]+")
_MOBILE_RE: Final = re.compile(r"1[3-9][0-9]{9}")
# Area codes are 10, 2x or three digits from 3; local numbers have 7 or 8 digits from 2. The
# trunk 0 is dropped after a country code. Mistyped mobiles never match: they begin 1[3-9].
_AREA_CODE: Final = r"(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE_RE: Final = re.compile(rf"0{_AREA_CODE}[2-9][0-9]{{6,7}}|[2-9][0-9]{{6,7}}")
_INTERNATIONAL_LANDLINE_RE: Final = re.compile(rf"{_AREA_CODE}[2-9][0-9]{{6,7}}")


def normalize_mobile(value: str) -> str:
    """Return the 11 digits of a mainland mobile number written with +86, spaces or hyphens."""
    number = _MOBILE_SEPARATORS_RE.sub("", _clean(value))
    landline_re = _LANDLINE_RE
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix) :]
            landline_re = _INTERNATIONAL_LANDLINE_RE
            break
    else:
        # A bare 86 is only a country code when eleven digits follow it.
        if len(number) == 13 and number.startswith("86"):
            number = number[2:]
    if _MOBILE_RE.fullmatch(number):
        return number
    if landline_re.fullmatch(number):
        raise MobileError(
            MOBILE_FORMAT, _("This looks like a landline number; enter a mobile number.")
        )
    raise MobileError(MOBILE_FORMAT, _("Enter an 11-digit mobile number starting with 1."))


def validate_mobile(value: str) -> None:
    """Django validator for mainland mobile numbers."""
    _check_for_django(normalize_mobile, value)


# --- GB/T 28181 device code ---------------------------------------------------------------

DEVICE_CODE_LENGTH: Final = "device_code.length"
DEVICE_CODE_FORMAT: Final = "device_code.format"
DEVICE_CODE_REGION: Final = "device_code.region"
DEVICE_CODE_TYPE: Final = "device_code.type"
DEVICE_CODE_NETWORK: Final = "device_code.network"

# 000-110 are reserved; 111-130 front-end main devices, 131-199 front-end peripherals,
# 200-299 platform devices, 300-399 central users, 400-499 terminal users, 500-999 extensions.
_FIRST_DEVICE_TYPE: Final = 111
_CAMERA_TYPES: Final = frozenset({"131", "132"})
_PLATFORM_TYPE: Final = "200"
_RESERVED_NETWORK: Final = "9"

DEVICE_TYPE_LABELS: Final[Mapping[str, StrPromise]] = {
    "111": _("DVR"),
    "112": _("Video server"),
    "113": _("Encoder"),
    "114": _("Decoder"),
    "115": _("Video switching matrix"),
    "116": _("Audio switching matrix"),
    "117": _("Alarm controller"),
    "118": _("NVR"),
    "131": _("Camera"),
    "132": _("Network camera (IPC)"),
    "133": _("Display"),
    "134": _("Alarm input device"),
    "135": _("Alarm output device"),
    "136": _("Voice input device"),
    "137": _("Voice output device"),
    "138": _("Mobile transmission device"),
    "139": _("Other peripheral device"),
    "200": _("Central signalling control server"),
    "201": _("Web application server"),
    "202": _("Media distribution server"),
    "203": _("Proxy server"),
    "204": _("Security server"),
    "205": _("Alarm server"),
    "206": _("Database server"),
    "207": _("GIS server"),
    "208": _("Management server"),
    "209": _("Access gateway"),
    "210": _("Media storage server"),
    "211": _("Signalling security routing gateway"),
    "215": _("Business group"),
    "216": _("Virtual organization"),
    "300": _("Central user"),
    "400": _("Terminal user"),
}

# Industry codes (positions 9-10) are open-ended; these are the ones the standard names first.
DEVICE_INDUSTRY_LABELS: Final[Mapping[str, StrPromise]] = {
    "00": _("Public security, street access"),
    "01": _("Public security, community access"),
    "02": _("Public security, internal access"),
    "03": _("Public security, other access"),
    "04": _("Traffic, street access"),
    "05": _("Traffic, checkpoint access"),
    "06": _("Traffic, internal access"),
    "07": _("Traffic, other access"),
    "08": _("City management access"),
    "09": _("Health and environment access"),
    "10": _("Inspection and customs access"),
    "11": _("Education access"),
}

DEVICE_NETWORK_LABELS: Final[Mapping[str, StrPromise]] = {
    **dict.fromkeys("01234", _("Video surveillance private network")),
    "5": _("Public security network"),
    "6": _("Government network"),
    "7": _("Internet"),
    "8": _("Social resource access network"),
}


@dataclass(frozen=True, slots=True)
class DeviceCodeInfo:
    code: str
    center_code: str
    region_code: str
    industry: str
    type_code: str
    network: str
    serial: str
    is_camera: bool
    is_platform: bool


def parse_device_code(value: str) -> DeviceCodeInfo:
    """Check a GB/T 28181 device code; camera codes feed the code-compliance rate indicator."""
    code = _clean(value)
    if len(code) != 20:
        raise DeviceCodeError(DEVICE_CODE_LENGTH, _("A GB/T 28181 device code has 20 digits."))
    if _DIGITS_RE.fullmatch(code) is None:
        raise DeviceCodeError(
            DEVICE_CODE_FORMAT, _("A GB/T 28181 device code consists of digits only.")
        )
    if code[:2] not in PROVINCE_CODES:
        raise DeviceCodeError(
            DEVICE_CODE_REGION, _("The device code does not start with a valid province code.")
        )
    type_code = code[10:13]
    if int(type_code) < _FIRST_DEVICE_TYPE:
        raise DeviceCodeError(
            DEVICE_CODE_TYPE, _("Digits 11 to 13 of the device code are not a device type.")
        )
    network = code[13]
    if network == _RESERVED_NETWORK:
        raise DeviceCodeError(
            DEVICE_CODE_NETWORK, _("Digit 14 of the device code is not a network type.")
        )
    return DeviceCodeInfo(
        code=code,
        center_code=code[:8],
        region_code=code[:6],
        industry=code[8:10],
        type_code=type_code,
        network=network,
        serial=code[14:],
        is_camera=type_code in _CAMERA_TYPES,
        is_platform=type_code == _PLATFORM_TYPE,
    )


def validate_device_code(value: str) -> None:
    """Django validator for GB/T 28181 device codes."""
    _check_for_django(parse_device_code, value)


# --- region codes (GB/T 2260 and the statistical division codes) ---------------------------

REGION_FORMAT: Final = "region.format"
REGION_LENGTH: Final = "region.length"
REGION_PROVINCE: Final = "region.province"
REGION_SEGMENT: Final = "region.segment"

PROVINCE: Final = "province"
CITY: Final = "city"
COUNTY: Final = "county"
SUBDISTRICT: Final = "subdistrict"
COMMUNITY: Final = "community"
GRID: Final = "grid"

REGION_LEVELS: Final = (PROVINCE, CITY, COUNTY, SUBDISTRICT, COMMUNITY, GRID)
REGION_CODE_LENGTHS: Final[Mapping[str, int]] = {
    PROVINCE: 2,
    CITY: 4,
    COUNTY: 6,
    SUBDISTRICT: 9,
    COMMUNITY: 12,
    GRID: 15,
}
_LEVEL_BY_LENGTH: Final = {length: level for level, length in REGION_CODE_LENGTHS.items()}
_REGION_BOUNDARIES: Final = tuple(REGION_CODE_LENGTHS.values())


@dataclass(frozen=True, slots=True)
class RegionCodeInfo:
    code: str
    level: str


def parse_region_code(value: str) -> RegionCodeInfo:
    """Check a region code and name its level from its length (2, 4, 6, 9, 12 or 15 digits)."""
    code = _clean(value)
    level = _LEVEL_BY_LENGTH.get(len(code))
    if level is None:
        raise RegionCodeError(
            REGION_LENGTH, _("A region code must have 2, 4, 6, 9, 12 or 15 digits.")
        )
    if _DIGITS_RE.fullmatch(code) is None:
        raise RegionCodeError(REGION_FORMAT, _("A region code consists of digits only."))
    if code[:2] not in PROVINCE_CODES:
        raise RegionCodeError(
            REGION_PROVINCE, _("The region code does not start with a valid province code.")
        )
    # Zeros in a level's own segment mean "this is really the level above": 370000 is the
    # province 37 written long, not a county, and 370124001000 is a subdistrict, not a community.
    for start, end in pairwise(_REGION_BOUNDARIES):
        if end > len(code):
            break
        if int(code[start:end]) == 0:
            raise RegionCodeError(
                REGION_SEGMENT,
                _(
                    "A part of the region code is all zeros; write a higher-level region"
                    " with its short code, such as 37 rather than 370000."
                ),
            )
    return RegionCodeInfo(code=code, level=level)


def parent_region_code(value: str) -> str | None:
    """The code of the region one level up, or None for a province."""
    code = parse_region_code(value).code
    index = _REGION_BOUNDARIES.index(len(code))
    return code[: _REGION_BOUNDARIES[index - 1]] if index else None


def validate_region_code(value: str) -> None:
    """Django validator for region codes of any level."""
    _check_for_django(parse_region_code, value)
