"""One source of truth for the rules the register applies in bulk (``linli/registry/rules.py``):
the service functions (one record at a time), the Excel importer (a batch at a time) and the
synthetic county loader (a community at a time) give a house the same use for the same
residences, and an address the same code."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from linli.registry import rules, services, synthetic
from linli.registry.choices import HouseUse
from linli.registry.excel import importer
from linli.registry.excel.columns import PEOPLE, PLACES, Sheet
from linli.registry.models import House, ImportJob, Residence
from linli.utilities.synthetic import make_id_number
from tests.conftest import Tree
from tests.registry.conftest import Register
from tests.registry.test_excel import workbook_bytes

RELATION_LABELS = {"owner": "业主", "tenant": "租户", "family": "家庭成员", "other": "其他"}
RELATION_SETS = [
    (),
    ("owner",),
    ("owner", "family"),
    ("tenant",),
    ("owner", "tenant"),
    ("other",),
    ("family", "other"),
    ("other", "tenant", "tenant"),
]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def sheet_row(sheet: Sheet, **values: Any) -> list[Any]:
    """A row of ``sheet`` from column keys (columns not named are left empty)."""
    return [values.get(column.key, "") for column in sheet.columns]


def run_import(actor: Any, kind: str, sheet: Sheet, rows: list[list[Any]], region: Any) -> Any:
    upload = SimpleUploadedFile(
        f"{kind}.xlsx", workbook_bytes(sheet.headers, rows, sheet=sheet.name)
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = importer.start_import(actor, kind=kind, region=region, upload=upload)
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == "done", job.message
    return job


def id_number(seed: str) -> str:
    return make_id_number(random.Random(seed), "370124", date(1980, 6, 1))


# --- the rules themselves ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("relations", "use"),
    [
        ((), HouseUse.VACANT),
        (("owner",), HouseUse.OWNER_OCCUPIED),
        (("family",), HouseUse.OWNER_OCCUPIED),
        (("tenant",), HouseUse.RENTED),
        (("owner", "tenant"), HouseUse.RENTED),
        (("other",), HouseUse.OTHER),
        (("other", "family"), HouseUse.OWNER_OCCUPIED),
    ],
)
def test_use_follows_the_current_residences(relations: tuple[str, ...], use: str) -> None:
    assert rules.use_from_residences(relations) == use
    assert rules.house_use(HouseUse.VACANT, False, relations) == use


def test_a_use_set_by_hand_stays_whatever_the_residences_say() -> None:
    assert rules.house_use(HouseUse.COMMERCIAL, True, ["tenant"]) == HouseUse.COMMERCIAL
    assert rules.house_use(HouseUse.COMMERCIAL, True, []) == HouseUse.COMMERCIAL
    assert rules.house_use(HouseUse.COMMERCIAL, False, ["tenant"]) == HouseUse.RENTED


def test_address_code_is_the_community_code_and_a_digest_of_the_address() -> None:
    address = "山东省济南市平阴县榆山街道锦源社区锦源小区1号楼1单元101室"
    code = rules.address_code("370124001022", address)
    assert code.startswith("370124001022") and len(code) == 12 + 16
    # A grid's code names its community; the same address always gives the same code.
    assert rules.address_code("370124001022001", address) == code
    assert rules.address_code("370124001022", address + " ") != code
    # A code held by another (retired) house gets the next free suffix.
    assert rules.address_code("370124001022", address, {code}) == f"{code}-2"
    assert rules.address_code("370124001022", address, {code, f"{code}-2"}) == f"{code}-3"
    assert rules.address_code("370124001022", address, lambda c: c == code) == f"{code}-2"


def test_standard_address_writes_numbers_both_ways_alike() -> None:
    path = "山东省济南市平阴县榆山街道锦源社区"
    expected = f"{path}锦源小区1号楼2单元301室"
    assert rules.standard_address(path, "锦源小区", "1", "2", "301") == expected
    assert rules.standard_address(path, "锦源小区", "1号楼", "2单元", "301室") == expected


# --- the three paths agree --------------------------------------------------------------


def use_by_the_service(worker: Any, tree: Tree, house: House, relations: tuple[str, ...]) -> str:
    for n, relation in enumerate(relations):
        person = services.create_person(
            worker, region=tree.community_a, name=f"服务{n}", id_number=id_number(f"svc{n}")
        )
        services.move_in(
            worker, person=person, house=house, relation=relation, moved_in=date(2020, 5, 1)
        )
    house.refresh_from_db()
    return house.use


def use_by_an_import(worker: Any, tree: Tree, house: House, relations: tuple[str, ...]) -> str:
    if not relations:
        return house.use  # nobody to import: the house keeps the use it has (vacant)
    rows = [
        sheet_row(
            PEOPLE,
            name=f"导入{n}",
            id_number=id_number(f"imp{n}"),
            registration_type="常住人口",
            community_code=tree.community_a.code,
            compound=house.building.compound.name,
            building=house.building.number,
            unit=house.unit.number,
            house=house.number,
            relation=RELATION_LABELS[relation],
            moved_in="2020-05-01",
        )
        for n, relation in enumerate(relations)
    ]
    job = run_import(worker, "people", PEOPLE, rows, tree.community_a)
    assert job.created_count == len(relations)
    house.refresh_from_db()
    return house.use


def use_by_the_synthetic_loader(relations: tuple[str, ...]) -> str:
    house = House(use=HouseUse.VACANT, use_is_explicit=False)
    residences = [
        Residence(house=house, relation=relation, moved_in=date(2020, 5, 1))
        for relation in relations
    ]
    synthetic.derive_uses([house], residences)
    return house.use


@pytest.mark.parametrize("relations", RELATION_SETS)
def test_service_import_and_synthetic_loader_give_the_same_use_for_the_same_residences(
    relations: tuple[str, ...], register: Register, personas: Any, tree: Tree
) -> None:
    worker = personas.community_worker_a
    by_service = use_by_the_service(worker, tree, register.house_a201, relations)
    by_import = use_by_an_import(worker, tree, register.house_a2_601, relations)
    by_loader = use_by_the_synthetic_loader(relations)

    assert by_service == by_import == by_loader == rules.use_from_residences(relations)
    # And each house's stored use is what the service derives from the stored residences.
    for house in (register.house_a201, register.house_a2_601):
        assert house.use == services.derived_house_use(house)


def test_synthetic_loader_keeps_a_use_set_by_hand_and_counts_only_current_residences() -> None:
    shop = House(use=HouseUse.COMMERCIAL, use_is_explicit=True)
    left = House(use=HouseUse.VACANT, use_is_explicit=False)
    residences = [
        Residence(house=shop, relation="tenant", moved_in=date(2020, 1, 1)),
        Residence(
            house=left, relation="tenant", moved_in=date(2019, 1, 1), moved_out=date(2020, 1, 1)
        ),
    ]
    synthetic.derive_uses([shop, left], residences, on=date(2021, 1, 1))
    assert (shop.use, left.use) == (HouseUse.COMMERCIAL, HouseUse.VACANT)


def test_service_and_import_give_the_same_address_the_same_code(
    register: Register, personas: Any, tree: Tree
) -> None:
    worker = personas.community_worker_a
    # The service's house: the community code and the digest of its standard address.
    by_service = services.create_house(worker, unit=register.unit_a1, number="301", floor=3)
    base = rules.address_code_base(tree.community_a.code, by_service.address)
    assert by_service.address_code == base
    # Retired, the same address imported again: the importer takes the next suffix of the
    # same base, as the service would.
    services.retire_record(worker, by_service)
    row = sheet_row(
        PLACES,
        community_code=tree.community_a.code,
        compound=register.compound_a.name,
        building="1",
        unit="1",
        house="301",
        floor=3,
    )
    run_import(worker, "places", PLACES, [row], tree.community_a)
    by_import = House.objects.active().get(unit=register.unit_a1, number="301")
    assert by_import.address == by_service.address
    assert by_import.address_code == f"{base}-2"
    # And the other way round: retired again, the service gives the third.
    services.retire_record(worker, by_import)
    again = services.create_house(worker, unit=register.unit_a1, number="301", floor=3)
    assert again.address_code == f"{base}-3"


def test_synthetic_houses_carry_the_address_and_code_the_service_gives(tree: Tree, db: Any) -> None:
    spec = synthetic.community_specs([tree.community_a])[0]
    load = synthetic.build_community(spec, 60, 20260101, synthetic.Taken())
    synthetic.write_community(load, {}, "test")

    houses = House.objects.filter(region__code__startswith=tree.community_a.code)
    assert houses.count() == len(load.houses) > 0
    for house in houses.select_related("unit__building__compound", "unit__region__parent")[:50]:
        assert house.address == services.house_address(house.unit, house.number)
        assert house.address_code == rules.address_code(tree.community_a.code, house.address)
        assert house.use == services.derived_house_use(house)
