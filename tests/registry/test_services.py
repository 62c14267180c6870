"""The register's service functions: creating records with the real check rules, the gate
(permission and scope), history in the audit trail with personal fields masked, search through
the blind index, revealing, tags, the community overview and the floor plan."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from linli.audit.models import AuditEntry
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.registry import services
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    Organisation,
    Person,
    PersonTag,
    Rental,
    Tag,
    TagCategory,
    Unit,
    Vehicle,
)
from linli.utilities.synthetic import make_credit_code
from tests.conftest import make_user
from tests.registry.conftest import Register, synthetic_id_number

TODAY = date.today()


def audit_text(entries: Any = None) -> str:
    """Everything the audit trail says about changes, as one string to search for leaks."""
    rows = entries if entries is not None else AuditEntry.objects.all()
    return " ".join(f"{e.changes} {e.note} {e.object_repr}" for e in rows)


def counts() -> tuple[int, ...]:
    models = (Organisation, Compound, Building, Unit, House, Household, Person, Vehicle)
    return (*(model.objects.count() for model in models), AuditEntry.objects.count())


# --- places -------------------------------------------------------------------------------


def test_building_gets_numbered_units_and_its_compounds_region(
    register: Register, personas: Any, tree: Any
) -> None:
    building = services.create_building(
        personas.community_worker_a,
        compound=register.compound_a,
        number="2号楼",
        floors_above=18,
        floors_below=2,
        units=3,
        has_elevator=True,
    )
    assert building.region == tree.community_a
    assert list(building.units.order_by("number").values_list("number", flat=True)) == [
        "1单元",
        "2单元",
        "3单元",
    ]
    assert set(building.units.values_list("region", flat=True)) == {tree.community_a.pk}
    unit_entries = AuditEntry.objects.filter(object_type="registry.unit", action="create")
    assert unit_entries.filter(object_id__in=[str(u.pk) for u in building.units.all()]).count() == 3


def test_house_has_standard_address_unique_code_and_derived_vacant_use(
    register: Register, personas: Any
) -> None:
    house = services.create_house(
        personas.community_worker_a, unit=register.unit_a2, number="302", floor=3
    )
    assert house.address == "山东省济南市平阴县榆山街道锦源社区锦源小区1号楼2单元302室"
    assert house.address_code.startswith("370124001022")
    assert house.address_code != register.house_a101.address_code
    assert (house.use, house.use_is_explicit) == ("vacant", False)
    assert house.building == register.building_a and house.region == register.unit_a2.region


def test_house_created_with_a_use_keeps_it_as_set_by_hand(
    register: Register, personas: Any
) -> None:
    house = services.create_house(
        personas.community_worker_a, unit=register.unit_a2, number="101", floor=1, use="commercial"
    )
    assert (house.use, house.use_is_explicit) == ("commercial", True)


@pytest.mark.parametrize(
    ("floor", "reason"),
    [(0, "no floor 0"), (7, "above the top floor"), (-2, "below the lowest basement")],
)
def test_house_on_a_floor_the_building_does_not_have_is_refused(
    register: Register, personas: Any, floor: int, reason: str
) -> None:
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_house(
            personas.community_worker_a, unit=register.unit_a1, number="X1", floor=floor
        )
    assert error.value.code == "house.floor", reason
    assert "floor" in error.value.details
    assert counts() == before


def test_duplicate_house_number_in_a_unit_is_refused(register: Register, personas: Any) -> None:
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_house(
            personas.community_worker_a, unit=register.unit_a1, number="101", floor=1
        )
    assert error.value.code == "house.number"
    assert counts() == before


def test_compound_region_must_be_a_community_or_grid_in_scope(
    tree: Any, personas: Any, register: Register
) -> None:
    worker_s1 = make_user("worker_s1", tree.subdistrict_1, "community_worker")
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_compound(worker_s1, region=tree.subdistrict_1, name="街道小区")
    assert error.value.code == "registry.region_level"
    # A grid is a valid place; a community of another worker is "not found".
    compound = services.create_compound(
        personas.community_worker_a, region=tree.grid_a1, name="网格小区"
    )
    assert compound.region == tree.grid_a1
    with pytest.raises(NotFoundError):
        services.create_compound(personas.community_worker_b, region=tree.community_a, name="越界")
    assert counts()[1] == before[1] + 1


def test_compound_name_is_unique_within_its_region(register: Register, personas: Any) -> None:
    with pytest.raises(ServiceError) as error:
        services.create_compound(
            personas.community_worker_a, region=register.compound_a.region, name="锦源小区"
        )
    assert error.value.code == "compound.name"


@pytest.mark.parametrize(
    ("field", "value"),
    [("latitude", "91"), ("longitude", "abc"), ("area_m2", "-5"), ("kind", "gated")],
)
def test_compound_bad_values_are_refused_with_the_field_named(
    tree: Any, personas: Any, field: str, value: str
) -> None:
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_compound(
            personas.community_worker_a, region=tree.community_a, name="新小区", **{field: value}
        )
    assert error.value.code == f"compound.{field}"
    assert field in error.value.details
    assert counts() == before


def test_property_company_must_be_of_the_property_kind(
    tree: Any, personas: Any, register: Register
) -> None:
    merchant = services.create_organisation(
        personas.community_worker_a, region=tree.community_a, name="便民超市", kind="merchant"
    )
    with pytest.raises(ServiceError) as error:
        services.create_compound(
            personas.community_worker_a,
            region=tree.community_a,
            name="新小区",
            property_company=merchant,
        )
    assert error.value.code == "compound.property_company"


def test_worker_b_cannot_build_in_community_a_and_nothing_changes(
    register: Register, personas: Any
) -> None:
    before = counts()
    with pytest.raises(NotFoundError):
        services.create_building(
            personas.community_worker_b, compound=register.compound_a, number="9", floors_above=3
        )
    with pytest.raises(NotFoundError):
        services.create_house(
            personas.community_worker_b, unit=register.unit_a1, number="999", floor=1
        )
    assert counts() == before


def test_property_staff_may_not_create_places(register: Register, personas: Any) -> None:
    before = counts()
    with pytest.raises(PermissionDeniedError):
        services.create_house(personas.property_staff, unit=register.unit_a1, number="1", floor=1)
    assert counts() == before


# --- organisations and vehicles -----------------------------------------------------------


@pytest.mark.parametrize(
    "credit_code",
    ["91370124MA3C0Q1X2", "91370124MA3C0Q1X2Z", "I1370124MA3C0Q1X20", "ABCDEFGHIJKLMNOPQR"],
)
def test_organisation_with_an_invalid_credit_code_is_refused(
    tree: Any, personas: Any, credit_code: str
) -> None:
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_organisation(
            personas.community_worker_a,
            region=tree.community_a,
            name="某公司",
            kind="merchant",
            credit_code=credit_code,
        )
    assert error.value.code == "organisation.credit_code"
    assert str(error.value.message)
    assert counts() == before


def test_organisation_credit_code_is_unique_and_normalised(tree: Any, personas: Any) -> None:
    code = make_credit_code(random.Random("dup"))
    org = services.create_organisation(
        personas.community_worker_a,
        region=tree.community_a,
        name="甲",
        kind="merchant",
        credit_code=f" {code.lower()} ",
    )
    assert org.credit_code == code
    with pytest.raises(ServiceError) as error:
        services.create_organisation(
            personas.community_worker_b,
            region=tree.community_b,
            name="乙",
            kind="merchant",
            credit_code=code,
        )
    assert error.value.code == "organisation.credit_code"


def test_organisation_contact_may_be_a_landline_but_not_garbage(tree: Any, personas: Any) -> None:
    org = services.create_organisation(
        personas.community_worker_a,
        region=tree.community_a,
        name="社区党委",
        kind="party",
        contact_phone="0531-87881234",
    )
    assert org.contact_phone == "0531-87881234"
    with pytest.raises(ServiceError) as error:
        services.create_organisation(
            personas.community_worker_a,
            region=tree.community_a,
            name="x",
            kind="party",
            contact_phone="12345",
        )
    assert error.value.code == "organisation.contact_phone"


def test_vehicle_plate_is_validated_normalised_and_unique(
    register: Register, personas: Any, tree: Any
) -> None:
    vehicle = services.create_vehicle(
        personas.community_worker_a,
        region=tree.community_a,
        plate="鲁a·12345",
        owner=register.owner_a,
        compound=register.compound_a,
    )
    assert vehicle.plate == "鲁A12345"
    ev = services.create_vehicle(
        personas.community_worker_a, region=tree.grid_a1, plate="鲁AD12345"
    )
    assert ev.plate == "鲁AD12345"
    for bad in ("12345", "鲁A1234", "XA12345"):
        with pytest.raises(ServiceError) as error:
            services.create_vehicle(personas.community_worker_a, region=tree.community_a, plate=bad)
        assert error.value.code == "vehicle.plate"
    with pytest.raises(ServiceError) as error:
        services.create_vehicle(
            personas.community_worker_b, region=tree.community_b, plate="鲁A12345"
        )
    assert error.value.code == "vehicle.plate"


def test_vehicle_region_must_lie_in_its_compounds_region(
    register: Register, personas: Any, tree: Any
) -> None:
    grid_compound = services.create_compound(
        personas.community_worker_a, region=tree.grid_a1, name="一网格小区"
    )
    with pytest.raises(ServiceError) as error:
        services.create_vehicle(
            personas.community_worker_a,
            region=tree.grid_a2,
            plate="鲁A54321",
            compound=grid_compound,
        )
    assert error.value.code == "registry.region_outside_parent"


def test_vehicle_owner_from_another_community_is_not_found(
    register: Register, personas: Any, tree: Any
) -> None:
    with pytest.raises(NotFoundError):
        services.create_vehicle(
            personas.community_worker_a,
            region=tree.community_a,
            plate="鲁A11111",
            owner=register.person_b,
        )
    assert not Vehicle.objects.exists()


def test_rental_is_validated_and_records_tenants(register: Register, personas: Any) -> None:
    rental = services.create_rental(
        personas.community_worker_a,
        house=register.house_a102,
        tenants=[register.tenant_a],
        mode="whole",
        channel="agency",
        monthly_rent="1500",
        start=date(2023, 6, 1),
    )
    assert list(rental.tenants.all()) == [register.tenant_a]
    assert rental.monthly_rent == Decimal("1500.00")
    entry = AuditEntry.objects.for_object(rental).get()
    assert entry.changes["tenants"] == [None, str(register.tenant_a.pk)]
    with pytest.raises(ServiceError) as error:
        services.create_rental(
            personas.community_worker_a,
            house=register.house_a102,
            tenants=[register.tenant_a],
            mode="whole",
            channel="agency",
            monthly_rent="1500",
            start=date(2023, 6, 1),
            end=date(2023, 5, 1),
        )
    assert error.value.code == "rental.end"
    with pytest.raises(ServiceError) as error:
        services.create_rental(
            personas.community_worker_a,
            house=register.house_a102,
            tenants=[],
            mode="whole",
            channel="agency",
            monthly_rent="1500",
            start=date(2023, 6, 1),
        )
    assert error.value.code == "rental.tenants"
    with pytest.raises(NotFoundError):
        services.create_rental(
            personas.community_worker_a,
            house=register.house_a102,
            tenants=[register.person_b],
            mode="whole",
            channel="agency",
            monthly_rent="1500",
            start=date(2023, 6, 1),
        )
    assert Rental.objects.count() == 1


# --- people -------------------------------------------------------------------------------


def test_person_gender_and_birth_date_come_from_the_id_number(
    register: Register, personas: Any, tree: Any
) -> None:
    number = synthetic_id_number(date(1990, 2, 28), "F", "x")
    person = services.create_person(
        personas.community_worker_a,
        region=tree.grid_a1,
        name="陈静",
        id_number=number.lower() if number.endswith("X") else number,
        phone="+86 139-0531-0099",
    )
    person.refresh_from_db()
    assert (person.gender, person.birth_date) == ("F", date(1990, 2, 28))
    assert person.phone == "13905310099"
    assert person.id_number == number


@pytest.mark.parametrize(
    ("id_number", "reason"),
    [
        ("37012419800101001", "17 characters"),
        ("370124800101001", "old 15 digits"),
        ("37012419800101001A", "letter other than X"),
        ("99012419800101001X", "no such province"),
        ("37012419801301001X", "month 13"),
        ("370124" + "2990" + "0101" + "0011", "born in the future (check digit aside)"),
    ],
)
def test_person_with_an_invalid_id_number_is_refused_and_nothing_written(
    register: Register, personas: Any, tree: Any, id_number: str, reason: str
) -> None:
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_person(
            personas.community_worker_a, region=tree.community_a, name="某人", id_number=id_number
        )
    assert error.value.code == "person.id_number", reason
    assert error.value.details["id_number"]
    assert id_number not in str(error.value)
    assert counts() == before


def test_person_with_a_wrong_check_digit_is_refused(tree: Any, personas: Any) -> None:
    good = synthetic_id_number(date(1980, 1, 1), "M")
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(ServiceError) as error:
        services.create_person(
            personas.community_worker_a, region=tree.community_a, name="某人", id_number=wrong
        )
    assert error.value.code == "person.id_number"
    assert "校验码" in str(error.value.message)  # the product speaks Chinese


@pytest.mark.parametrize("phone", ["12345", "0531-87881234", "2345678901", "1390531000"])
def test_person_with_an_invalid_mobile_is_refused(tree: Any, personas: Any, phone: str) -> None:
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_person(
            personas.community_worker_a, region=tree.community_a, name="某人", phone=phone
        )
    assert error.value.code == "person.phone"
    assert counts() == before


def test_same_id_number_twice_is_a_duplicate_even_from_another_community(
    register: Register, personas: Any, tree: Any
) -> None:
    before = counts()
    with pytest.raises(ServiceError) as error:
        services.create_person(
            personas.community_worker_b,
            region=tree.community_b,
            name="王建国",
            id_number=register.id_numbers["owner_a"],
        )
    # The number exists, so it cannot be registered again, but where and whom stays hidden.
    assert error.value.code == "person.registered_elsewhere"
    message = str(error.value)
    assert "您辖区以外登记" in message
    for secret in ("王建国", tree.community_a.name, tree.community_a.code):
        assert secret not in message
    after = counts()
    assert after[:-1] == before[:-1]
    assert after[-1] == before[-1] + 1  # the probe's audit entry, nothing else
    # The refused attempt leaves a trace although its transaction rolled back.
    probe = AuditEntry.objects.get(action=services.REGISTERED_ELSEWHERE)
    assert probe.actor == personas.community_worker_b
    assert probe.object_id == str(register.owner_a.pk)
    assert probe.region_code == tree.community_a.code


def test_update_to_an_id_number_registered_elsewhere_is_refused_and_audited(
    register: Register, personas: Any
) -> None:
    with pytest.raises(ServiceError) as error:
        services.update_record(
            personas.community_worker_b,
            register.person_b,
            id_number=register.id_numbers["owner_a"],
        )
    assert error.value.code == "person.registered_elsewhere"
    register.person_b.refresh_from_db()
    assert register.person_b.id_number == register.id_numbers["person_b"]
    assert AuditEntry.objects.filter(
        action=services.REGISTERED_ELSEWHERE, actor=personas.community_worker_b
    ).exists()


def test_a_worker_who_can_see_the_other_record_is_told_plainly(
    register: Register, personas: Any, tree: Any
) -> None:
    # A worker of the whole subdistrict sees both communities: nothing to hide from them.
    worker = make_user("sub_worker", tree.subdistrict_1, "community_worker")
    with pytest.raises(ServiceError) as error:
        services.create_person(
            worker,
            region=tree.community_b,
            name="王建国",
            id_number=register.id_numbers["owner_a"],
        )
    assert error.value.code == "person.duplicate"
    assert not AuditEntry.objects.filter(action=services.REGISTERED_ELSEWHERE).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("registration_type", "tourist"),
        ("education", "phd"),
        ("employment", "astronaut"),
        ("political_status", "cpc"),
        ("name", ""),
        ("name", "名" * 51),
    ],
)
def test_person_bad_choices_and_names_are_refused(
    tree: Any, personas: Any, field: str, value: str
) -> None:
    kwargs: dict[str, Any] = {"name": "某人", field: value}
    with pytest.raises(ServiceError) as error:
        services.create_person(personas.community_worker_a, region=tree.community_a, **kwargs)
    assert error.value.code == f"person.{field}"


def test_create_person_history_masks_id_number_and_phone(register: Register) -> None:
    entry = AuditEntry.objects.for_object(register.unhoused_a).get(action="create")
    assert entry.changes["id_number"] == ["", "******"]
    assert entry.changes["phone"] == ["", "******"]
    assert entry.changes["birth_date"] == [None, "2001-07-07"]
    text = audit_text()
    for secret in [*register.id_numbers.values(), *register.phones.values()]:
        assert secret not in text


def test_grid_worker_may_add_people_but_not_organisations(tree: Any, personas: Any) -> None:
    person = services.create_person(personas.grid_worker, region=tree.grid_a1, name="网格新人")
    assert person.region == tree.grid_a1
    with pytest.raises(PermissionDeniedError):
        services.create_organisation(
            personas.grid_worker, region=tree.grid_a1, name="x", kind="other"
        )
    assert not Organisation.objects.exists()


def test_grid_worker_cannot_place_a_person_in_the_other_grid(tree: Any, personas: Any) -> None:
    with pytest.raises(NotFoundError):
        services.create_person(personas.grid_worker, region=tree.grid_a2, name="隔壁")
    assert not Person.objects.exists()


def test_household_head_joins_the_household(register: Register, personas: Any, tree: Any) -> None:
    household = services.create_household(
        personas.community_worker_a,
        region=tree.community_a,
        number="H0001",
        house=register.house_a101,
        head=register.owner_a,
    )
    register.owner_a.refresh_from_db()
    assert register.owner_a.household == household
    assert register.owner_a.head_relation == "head"
    with pytest.raises(ServiceError) as error:
        services.create_household(
            personas.community_worker_a, region=tree.community_a, number="H0001"
        )
    assert error.value.code == "household.number"
    with pytest.raises(ServiceError) as error:
        services.create_household(
            personas.community_worker_a,
            region=tree.community_a,
            number="H0002",
            head=register.owner_a,
        )
    assert error.value.code == "household.head"


def test_household_region_must_lie_inside_its_houses_region(
    register: Register, personas: Any, tree: Any
) -> None:
    grid_compound = services.create_compound(
        personas.community_worker_a, region=tree.grid_a1, name="一网格小区"
    )
    building = services.create_building(
        personas.community_worker_a, compound=grid_compound, number="1", floors_above=2
    )
    house = services.create_house(
        personas.community_worker_a, unit=building.units.get(), number="101", floor=1
    )
    with pytest.raises(ServiceError) as error:
        services.create_household(
            personas.community_worker_a, region=tree.grid_a2, number="H9", house=house
        )
    assert error.value.code == "registry.region_outside_parent"
    assert not Household.objects.exists()


# --- update_record ------------------------------------------------------------------------


def test_updating_the_id_number_rederives_gender_and_birth_date_and_masks_history(
    register: Register, personas: Any
) -> None:
    new_number = synthetic_id_number(date(1999, 12, 31), "M", "new")
    person = services.update_record(
        personas.community_worker_a, register.unhoused_a, id_number=new_number, name="张敏敏"
    )
    person.refresh_from_db()
    assert (person.gender, person.birth_date, person.name) == ("M", date(1999, 12, 31), "张敏敏")
    assert services.find_person_by_id_number(personas.community_worker_a, new_number) == person
    assert (
        services.find_person_by_id_number(
            personas.community_worker_a, register.id_numbers["unhoused_a"]
        )
        is None
    )
    entry = AuditEntry.objects.for_object(person).filter(action="update").latest("seq")
    assert entry.changes["id_number"] == ["******", "******"]
    assert entry.changes["gender"] == ["F", "M"]
    assert entry.changes["name"] == ["******", "******"]  # a name is personal data too
    assert entry.actor == personas.community_worker_a
    assert new_number not in audit_text()


def test_update_with_a_bad_value_writes_nothing(register: Register, personas: Any) -> None:
    before = counts()
    with pytest.raises(ServiceError):
        services.update_record(
            personas.community_worker_a, register.unhoused_a, name="新名字", phone="123"
        )
    register.unhoused_a.refresh_from_db()
    assert register.unhoused_a.name == "张敏"
    assert counts() == before


def test_update_to_another_persons_id_number_is_a_duplicate(
    register: Register, personas: Any
) -> None:
    with pytest.raises(ServiceError) as error:
        services.update_record(
            personas.community_worker_a,
            register.unhoused_a,
            id_number=register.id_numbers["owner_a"],
        )
    assert error.value.code == "person.duplicate"


def test_update_refuses_fields_outside_the_whitelist(register: Register, personas: Any) -> None:
    for fields in ({"gender": "M"}, {"birth_date": date(2000, 1, 1)}, {"retired_at": None}):
        with pytest.raises(ServiceError) as error:
            services.update_record(personas.community_worker_a, register.unhoused_a, **fields)
        assert error.value.code == "registry.field"
    with pytest.raises(ServiceError):
        services.update_record(personas.community_worker_a, register.house_a101, region=None)


def test_worker_b_cannot_update_a_person_of_community_a(register: Register, personas: Any) -> None:
    before = counts()
    with pytest.raises(NotFoundError):
        services.update_record(personas.community_worker_b, register.unhoused_a, name="改名")
    register.unhoused_a.refresh_from_db()
    assert register.unhoused_a.name == "张敏"
    assert counts() == before


def test_property_staff_cannot_update_a_house(register: Register, personas: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        services.update_record(personas.property_staff, register.house_a201, area_m2="100")
    register.house_a201.refresh_from_db()
    assert register.house_a201.area_m2 is None


def test_update_without_a_change_writes_no_history(register: Register, personas: Any) -> None:
    before = AuditEntry.objects.count()
    services.update_record(personas.community_worker_a, register.unhoused_a, name="张敏")
    assert AuditEntry.objects.count() == before


def test_renaming_a_compound_rewrites_its_house_addresses_with_history(
    register: Register, personas: Any
) -> None:
    services.update_record(personas.community_worker_a, register.compound_a, name="锦源花园")
    register.refresh()
    assert "锦源花园1号楼1单元101室" in register.house_a101.address
    code = register.house_a101.address_code
    entry = AuditEntry.objects.for_object(register.house_a101).latest("seq")
    assert entry.changes["address"][1].endswith("锦源花园1号楼1单元101室")
    assert register.house_a101.address_code == code  # the printed QR label stays valid


def test_building_floors_cannot_shrink_below_its_houses(register: Register, personas: Any) -> None:
    with pytest.raises(ServiceError) as error:
        services.update_record(personas.community_worker_a, register.building_a, floors_above=5)
    assert error.value.code == "building.floors_above"
    building = services.update_record(
        personas.community_worker_a, register.building_a, floors_above=7, has_elevator="是"
    )
    assert (building.floors_above, building.has_elevator) == (7, True)


def test_person_region_follows_the_primary_house_and_cannot_be_edited_apart(
    register: Register, personas: Any, tree: Any
) -> None:
    with pytest.raises(ServiceError) as error:
        services.update_record(personas.community_worker_a, register.owner_a, region=tree.grid_a1)
    assert error.value.code == "person.region_follows_house"
    person = services.update_record(
        personas.community_worker_a, register.unhoused_a, region=tree.grid_a1
    )
    assert person.region == tree.grid_a1


def test_rental_tenants_change_is_audited(register: Register, personas: Any) -> None:
    rental = services.create_rental(
        personas.community_worker_a,
        house=register.house_a102,
        tenants=[register.tenant_a],
        mode="room",
        channel="self",
        monthly_rent=800,
        start=date(2023, 6, 1),
    )
    services.update_record(
        personas.community_worker_a,
        rental,
        tenants=[register.tenant_a, register.unhoused_a],
        monthly_rent="900",
    )
    assert set(rental.tenants.all()) == {register.tenant_a, register.unhoused_a}
    entries = AuditEntry.objects.for_object(rental).filter(action="update")
    assert any("tenants" in e.changes for e in entries)
    assert any(e.changes.get("monthly_rent") == ["800.00", "900.00"] for e in entries)


# --- search and reveal --------------------------------------------------------------------


def test_find_person_by_id_number_respects_scope(register: Register, personas: Any) -> None:
    number = register.id_numbers["owner_a"]
    assert services.find_person_by_id_number(personas.community_worker_a, number) == (
        register.owner_a
    )
    assert services.find_person_by_id_number(personas.county_operator, number) == register.owner_a
    assert services.find_person_by_id_number(personas.community_worker_b, number) is None
    assert services.find_person_by_id_number(personas.department_handler, number) is None
    with pytest.raises(ServiceError) as error:
        services.find_person_by_id_number(personas.community_worker_a, number[:17] + "Y")
    assert error.value.code == "person.id_number"


def test_find_people_by_phone_accepts_written_forms_and_respects_scope(
    register: Register, personas: Any
) -> None:
    found = services.find_people_by_phone(personas.community_worker_a, "+86 139 0531 0001")
    assert list(found) == [register.owner_a]
    assert not services.find_people_by_phone(personas.community_worker_b, "13905310001").exists()
    with pytest.raises(ServiceError):
        services.find_people_by_phone(personas.community_worker_a, "0531-87881234")


def test_reveal_returns_plaintext_and_is_audited_per_reveal(
    register: Register, personas: Any
) -> None:
    worker = personas.community_worker_a
    assert (
        services.reveal_person_field(worker, register.owner_a, "id_number")
        == (register.id_numbers["owner_a"])
    )
    assert services.reveal_person_field(worker, register.owner_a, "phone") == "13905310001"
    reveals = AuditEntry.objects.for_object(register.owner_a).filter(action="reveal")
    assert sorted(reveals.values_list("note", flat=True)) == ["id_number", "phone"]
    assert register.id_numbers["owner_a"] not in audit_text()


def test_reveal_is_refused_without_permission_or_scope_and_not_audited(
    register: Register, personas: Any
) -> None:
    before = AuditEntry.objects.count()
    with pytest.raises(PermissionDeniedError):
        services.reveal_person_field(personas.county_operator, register.owner_a, "id_number")
    with pytest.raises(NotFoundError):
        services.reveal_person_field(personas.community_worker_b, register.owner_a, "id_number")
    with pytest.raises(ServiceError):
        services.reveal_person_field(personas.community_worker_a, register.owner_a, "name")
    assert AuditEntry.objects.count() == before


# --- tags ---------------------------------------------------------------------------------


def test_default_tags_cover_spec_care_tags_and_sync_is_idempotent(
    default_tags: dict[str, Tag],
) -> None:
    names = {tag.name for tag in default_tags.values()}
    for expected in (
        "独居老人",
        "空巢老人",
        "失能老人",
        "低保A类",
        "低保B类",
        "低保C类",
        "退役军人",
        "刑满释放人员",
        "社区矫正对象",
        "吸毒人员",
        "解除强制隔离戒毒人员",
        "严重精神障碍患者",
        "犯罪青少年",
        "其他重点人员",
        "肢体残疾",
    ):
        assert expected in names
    before = (Tag.objects.count(), TagCategory.objects.count(), AuditEntry.objects.count())
    assert services.sync_default_tags() == 0
    assert (Tag.objects.count(), TagCategory.objects.count(), AuditEntry.objects.count()) == before


def test_tagging_records_who_and_when_and_is_in_the_persons_history(
    register: Register, personas: Any, default_tags: dict[str, Tag]
) -> None:
    tag = default_tags["elderly_living_alone"]
    link = services.tag_person(
        personas.community_worker_a, register.owner_a, tag, note="子女在外地"
    )
    assert (link.tagged_by, link.note) == (personas.community_worker_a, "子女在外地")
    again = services.tag_person(personas.community_worker_a, register.owner_a, tag)
    assert again.pk == link.pk
    services.untag_person(personas.community_worker_a, register.owner_a, tag)
    link.refresh_from_db()
    assert link.removed_by == personas.community_worker_a and link.removed_at is not None
    changes = [
        e.changes["tags"]
        for e in AuditEntry.objects.for_object(register.owner_a).order_by("seq")
        if "tags" in e.changes
    ]
    assert changes == [["", "elderly_living_alone"], ["elderly_living_alone", ""]]


def test_tagging_is_refused_out_of_scope_and_without_permission(
    register: Register, personas: Any, default_tags: dict[str, Tag]
) -> None:
    tag = default_tags["veteran"]
    with pytest.raises(NotFoundError):
        services.tag_person(personas.community_worker_b, register.owner_a, tag)
    with pytest.raises(PermissionDeniedError):
        services.tag_person(personas.county_operator, register.owner_a, tag)
    assert not PersonTag.objects.exists()


def test_inactive_tag_cannot_be_given(
    register: Register, personas: Any, default_tags: dict[str, Tag]
) -> None:
    tag = services.update_tag(personas.county_operator, default_tags["veteran"], is_active=False)
    with pytest.raises(ServiceError) as error:
        services.tag_person(personas.community_worker_a, register.owner_a, tag)
    assert error.value.code == "tag.inactive"


def test_bulk_tag_writes_one_audit_entry_per_person_and_skips_those_tagged(
    register: Register, personas: Any, default_tags: dict[str, Tag]
) -> None:
    tag = default_tags["dibao_a"]
    services.tag_person(personas.community_worker_a, register.owner_a, tag)
    people = [register.owner_a, register.spouse_a, register.tenant_a]
    assert services.bulk_tag(personas.community_worker_a, people, tag) == 2
    assert PersonTag.objects.current().filter(tag=tag).count() == 3
    for person in (register.spouse_a, register.tenant_a):
        entry = AuditEntry.objects.for_object(person).latest("seq")
        assert entry.changes == {"tags": ["", "dibao_a"]}
        assert entry.note == "bulk tagging"
        assert entry.region_code == person.region.code
    assert services.bulk_tag(personas.community_worker_a, people, tag) == 0


def test_bulk_tag_with_one_person_out_of_scope_tags_nobody(
    register: Register, personas: Any, default_tags: dict[str, Tag]
) -> None:
    before = AuditEntry.objects.count()
    with pytest.raises(NotFoundError):
        services.bulk_tag(
            personas.community_worker_a,
            [register.owner_a, register.person_b],
            default_tags["dibao_b"],
        )
    assert not PersonTag.objects.exists()
    assert AuditEntry.objects.count() == before


def test_tag_taxonomy_is_managed_with_the_tag_permission(personas: Any, db: Any) -> None:
    category = services.create_tag_category(personas.county_operator, code="custom", name="自定义")
    tag = services.create_tag(
        personas.county_operator, category=category, code="custom_one", name="一号"
    )
    tag = services.update_tag(personas.county_operator, tag, name="一号标签")
    assert tag.name == "一号标签"
    assert AuditEntry.objects.for_object(tag).count() == 2
    with pytest.raises(PermissionDeniedError):
        services.create_tag(
            personas.community_worker_a, category=category, code="x_two", name="二号"
        )
    with pytest.raises(ServiceError) as error:
        services.create_tag(personas.county_operator, category=category, code="Bad Code", name="x")
    assert error.value.code == "tag.code"
    with pytest.raises(ServiceError) as error:
        services.create_tag(
            personas.county_operator, category=category, code="custom_one", name="x"
        )
    assert error.value.code == "tag.code"
    with pytest.raises(ServiceError):
        services.update_tag(personas.county_operator, tag, code="renamed")


# --- overview and floor plan --------------------------------------------------------------


def test_community_overview_counts_through_the_gate(
    register: Register, personas: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    worker = personas.community_worker_a
    worker.scope_codes()  # the role cache is warm on a real request too
    with django_assert_max_num_queries(6):
        overview = services.community_overview(worker, tree.community_a)
    assert overview["people"] == 4
    assert (overview["compounds"], overview["buildings"], overview["houses"]) == (1, 1, 4)
    by_type = {row["value"]: row["count"] for row in overview["by_registration_type"]}
    assert by_type == {"registered": 2, "permanent": 1, "floating": 1}
    by_gender = {row["value"]: row["count"] for row in overview["by_gender"]}
    assert by_gender == {"M": 2, "F": 2}
    uses = {row["value"]: row["count"] for row in overview["houses_by_use"]}
    assert uses == {
        "owner_occupied": 1,
        "rented": 1,
        "vacant": 2,
        "commercial": 0,
        "other": 0,
    }
    bands = {row["label"]: row["count"] for row in overview["by_age_band"]}
    assert sum(bands.values()) == 4
    assert overview["elderly"] == bands["60-79"] + bands["80+"]
    assert overview["elderly_share"] == overview["elderly"] / 4


def test_community_overview_of_a_community_out_of_scope_is_not_found(
    register: Register, personas: Any, tree: Any
) -> None:
    with pytest.raises(NotFoundError):
        services.community_overview(personas.community_worker_b, tree.community_a)
    county = services.community_overview(personas.county_operator, tree.county)
    assert county["people"] == 5


def test_community_overview_query_count_does_not_grow_with_the_register(
    register: Register, personas: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    worker = personas.community_worker_a
    for n in range(30):
        services.create_person(worker, region=tree.grid_a1, name=f"居民{n}")
    worker.scope_codes()
    with django_assert_max_num_queries(6):
        overview = services.community_overview(worker, tree.community_a)
    assert overview["people"] == 34
    assert overview["unknown_age"] == 30


def test_floor_plan_lays_out_units_by_floor_top_down_in_few_queries(
    register: Register, personas: Any, django_assert_max_num_queries: Any
) -> None:
    worker = personas.community_worker_a
    for floor in range(3, 7):
        for n in (1, 2):
            services.create_house(
                worker, unit=register.unit_a2, number=f"{floor}0{n}X", floor=floor
            )
    worker.scope_codes()
    with django_assert_max_num_queries(5):
        plan = services.floor_plan(worker, register.building_a)
    assert plan["floors"] == [6, 5, 4, 3, 2, 1, -1]
    unit1, unit2 = plan["units"]
    assert unit1["number"] == "1单元" and unit2["number"] == "2单元"
    floor1 = next(row for row in unit1["floors"] if row["floor"] == 1)
    cells = {house["number"]: house for house in floor1["houses"]}
    assert cells["101"]["use"] == "owner_occupied" and cells["101"]["occupants"] == 2
    assert cells["102"]["use"] == "rented" and cells["102"]["occupants"] == 1
    assert cells["101"]["id"] == register.house_a101.pk
    top = unit2["floors"][0]
    assert top["floor"] == 6 and len(top["houses"]) == 3
    assert plan["houses"] == 12 and plan["occupants"] == 3


def test_floor_plan_of_a_building_out_of_scope_is_not_found(
    register: Register, personas: Any
) -> None:
    with pytest.raises(NotFoundError):
        services.floor_plan(personas.community_worker_b, register.building_a)
    plan = services.floor_plan(personas.property_staff, register.building_a)
    assert plan["houses"] == 4
