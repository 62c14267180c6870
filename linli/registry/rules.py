"""The register's rules as pure functions over plain values: no queries, no models.

The service functions (one record at a time), the Excel importer (a batch at a time) and the
synthetic county loader (a community at a time) read the register in different ways, but they
must reach the same answers; each of them gathers the plain values in its own way and asks
here. A rule changed here changes for all three.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from typing import Final

from linli.registry.choices import HouseUse, ResidenceRelation
from linli.utilities import crypto

# How many characters of the standard address the House model keeps.
ADDRESS_LENGTH: Final = 200
_LIVES_IN: Final = frozenset({ResidenceRelation.OWNER.value, ResidenceRelation.FAMILY.value})


# --- standard address and its code ---------------------------------------------------------


def numbered(number: str, suffix: str) -> str:
    """1 → 1号楼; 1号楼 stays 1号楼: workers write numbers both ways."""
    return f"{number}{suffix}" if number.isdigit() else number


def standard_address(
    community_path: str, compound: str, building: str, unit: str, house: str
) -> str:
    """The standard address: region path (province to community) + compound + building +
    unit + number + 室."""
    return "".join(
        [
            community_path,
            compound,
            numbered(building, "号楼"),
            numbered(unit, "单元"),
            house if house.endswith("室") else f"{house}室",
        ]
    )[:ADDRESS_LENGTH]


def address_code_base(region_code: str, address: str) -> str:
    """The code printed on a house's QR label: its community's 12-digit code and the first 16
    hex digits of the SM3 digest of the standard address, so the same address in the same
    community always gives the same code."""
    return region_code[:12] + crypto.sm3_hex(address.encode("utf-8"))[:16].upper()


def free_address_code(base: str, is_taken: Callable[[str], bool] | Container[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… when a house (a retired one at the same address)
    holds it already; ``is_taken`` is a set of codes or a test for one code."""
    taken = is_taken if callable(is_taken) else is_taken.__contains__
    code, n = base, 1
    while taken(code):
        n += 1
        code = f"{base}-{n}"
    return code


def address_code(
    region_code: str, address: str, is_taken: Callable[[str], bool] | Container[str] = ()
) -> str:
    """The unique address code of a new house (see ``address_code_base``)."""
    return free_address_code(address_code_base(region_code, address), is_taken)


# --- house use ------------------------------------------------------------------------------


def use_from_residences(relations: Iterable[str]) -> str:
    """What the current residences say: a tenant makes a house rented, an owner or family
    member owner-occupied, other residents "other use", nobody vacant."""
    found = set(relations)
    if ResidenceRelation.TENANT.value in found:
        return HouseUse.RENTED.value
    if found & _LIVES_IN:
        return HouseUse.OWNER_OCCUPIED.value
    if found:
        return HouseUse.OTHER.value
    return HouseUse.VACANT.value


def house_use(use: str, use_is_explicit: bool, relations: Iterable[str]) -> str:
    """A house's use: the one set by hand when it is fixed (e.g. commercial), otherwise what its
    current residences say (``use_from_residences``)."""
    if use_is_explicit:
        return use
    return use_from_residences(relations)
