"""The rules that keep the register true: one current primary residence per person, moving out
closes a residence, a house's use follows its residences unless set by hand, ages derived at
the query date (60th birthdays and 29 February), retiring keeps history and breaks nothing,
and two people changing one record at once."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from transactional import transactional_db_with_audit  # noqa: F401  (fixture)

from linli.audit.models import AuditEntry
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.registry import services
from linli.registry.models import (
    House,
    Person,
    PersonTag,
    Residence,
    Unit,
    age_on,
)
from tests.registry.conftest import Register, synthetic_id_number

TODAY = date.today()


def open_primary(person: Person) -> list[Residence]:
    return list(
        Residence.objects.active().filter(person=person, is_primary=True, moved_out__isnull=True)
    )


def use_of(house: House) -> tuple[str, bool]:
    house.refresh_from_db()
    return house.use, house.use_is_explicit


# --- one current primary residence --------------------------------------------------------


def test_a_new_primary_residence_closes_the_current_one_on_the_move_in_date(
    register: Register, personas: Any
) -> None:
    old = Residence.objects.get(person=register.tenant_a)
    new = services.move_in(
        personas.community_worker_a,
        person=register.tenant_a,
        house=register.house_a201,
        relation="tenant",
        moved_in=date(2024, 9, 1),
    )
    old.refresh_from_db()
    assert old.moved_out == date(2024, 9, 1)
    assert open_primary(register.tenant_a) == [new]
    assert use_of(register.house_a102) == ("vacant", False)
    assert use_of(register.house_a201) == ("rented", False)
    history = AuditEntry.objects.for_object(old).filter(action="update").get()
    assert history.changes == {"moved_out": [None, "2024-09-01"]}
    assert history.actor == personas.community_worker_a


def test_the_database_refuses_a_second_current_primary_residence(register: Register) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Residence.objects.create(
            region=register.house_a201.region,
            person=register.owner_a,
            house=register.house_a201,
            relation="owner",
            is_primary=True,
            moved_in=date(2020, 1, 1),
        )


def test_a_secondary_residence_keeps_the_primary_one(register: Register, personas: Any) -> None:
    services.move_in(
        personas.community_worker_a,
        person=register.owner_a,
        house=register.house_a2_601,
        relation="owner",
        moved_in=date(2021, 1, 1),
        is_primary=False,
    )
    assert [r.house for r in open_primary(register.owner_a)] == [register.house_a101]
    assert use_of(register.house_a2_601) == ("owner_occupied", False)


def test_person_region_follows_the_primary_house(
    register: Register, personas: Any, tree: Any
) -> None:
    compound = services.create_compound(
        personas.community_worker_a, region=tree.grid_a1, name="一网格小区"
    )
    building = services.create_building(
        personas.community_worker_a, compound=compound, number="1", floors_above=3
    )
    house = services.create_house(
        personas.community_worker_a, unit=building.units.get(), number="101", floor=1
    )
    services.move_in(
        personas.community_worker_a,
        person=register.unhoused_a,
        house=house,
        relation="owner",
        moved_in=date(2024, 1, 1),
        head_relation="head",
    )
    register.unhoused_a.refresh_from_db()
    assert register.unhoused_a.region == tree.grid_a1
    assert register.unhoused_a.head_relation == "head"
    entry = AuditEntry.objects.for_object(register.unhoused_a).latest("seq")
    assert entry.changes["region_id"] == [str(tree.community_a.pk), str(tree.grid_a1.pk)]


@pytest.mark.parametrize(
    ("moved_in", "code"),
    [
        (TODAY + timedelta(days=1), "residence.moved_in"),
        ("2024-13-01", "residence.moved_in"),
        (None, "residence.moved_in"),
        (date(2023, 5, 31), "residence.moved_in_before_current"),
    ],
)
def test_bad_move_in_dates_are_refused_and_nothing_changes(
    register: Register, personas: Any, moved_in: Any, code: str
) -> None:
    before = (Residence.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ServiceError) as error:
        services.move_in(
            personas.community_worker_a,
            person=register.tenant_a,
            house=register.house_a201,
            relation="tenant",
            moved_in=moved_in,
        )
    assert error.value.code == code
    assert (Residence.objects.count(), AuditEntry.objects.count()) == before
    assert Residence.objects.get(person=register.tenant_a).moved_out is None


def test_moving_into_the_house_one_lives_in_is_refused(register: Register, personas: Any) -> None:
    with pytest.raises(ServiceError) as error:
        services.move_in(
            personas.community_worker_a,
            person=register.owner_a,
            house=register.house_a101,
            relation="owner",
            moved_in=date(2024, 1, 1),
        )
    assert error.value.code == "residence.already"


def test_bad_relation_is_refused(register: Register, personas: Any) -> None:
    with pytest.raises(ServiceError) as error:
        services.move_in(
            personas.community_worker_a,
            person=register.unhoused_a,
            house=register.house_a201,
            relation="landlord",
            moved_in=date(2024, 1, 1),
        )
    assert error.value.code == "residence.relation"
    assert not Residence.objects.filter(person=register.unhoused_a).exists()


def test_worker_b_cannot_move_people_of_community_a(register: Register, personas: Any) -> None:
    before = (Residence.objects.count(), AuditEntry.objects.count())
    with pytest.raises(NotFoundError):
        services.move_in(
            personas.community_worker_b,
            person=register.unhoused_a,
            house=register.house_a201,
            relation="owner",
            moved_in=date(2024, 1, 1),
        )
    # Nor into a house of community B a person of community A (and vice versa).
    with pytest.raises(NotFoundError):
        services.move_in(
            personas.community_worker_a,
            person=register.unhoused_a,
            house=register.house_b101,
            relation="owner",
            moved_in=date(2024, 1, 1),
        )
    residence = Residence.objects.get(person=register.owner_a)
    with pytest.raises(NotFoundError):
        services.move_out(personas.community_worker_b, residence, date(2024, 1, 1))
    residence.refresh_from_db()
    assert residence.moved_out is None
    assert (Residence.objects.count(), AuditEntry.objects.count()) == before


def test_grid_worker_sees_only_houses_of_their_grid(register: Register, personas: Any) -> None:
    # The fixture's houses hang on community A itself, above grid A1.
    with pytest.raises(NotFoundError):
        services.move_in(
            personas.grid_worker,
            person=register.unhoused_a,
            house=register.house_a201,
            relation="owner",
            moved_in=date(2024, 1, 1),
        )


# --- moving out ---------------------------------------------------------------------------


def test_moving_out_closes_the_residence_and_keeps_it(register: Register, personas: Any) -> None:
    residence = Residence.objects.get(person=register.tenant_a)
    closed = services.move_out(personas.community_worker_a, residence, date(2025, 1, 31))
    assert closed.moved_out == date(2025, 1, 31)
    assert Residence.objects.filter(pk=residence.pk, retired_at__isnull=True).exists()
    assert use_of(register.house_a102) == ("vacant", False)
    assert not Residence.objects.current().filter(person=register.tenant_a).exists()
    assert Residence.objects.current(date(2025, 1, 30)).filter(person=register.tenant_a).exists()


@pytest.mark.parametrize(
    ("moved_out", "code"),
    [
        (date(2023, 5, 31), "residence.moved_out"),
        (TODAY + timedelta(days=1), "residence.moved_out"),
        ("not a date", "residence.moved_out"),
    ],
)
def test_bad_move_out_dates_are_refused(
    register: Register, personas: Any, moved_out: Any, code: str
) -> None:
    residence = Residence.objects.get(person=register.tenant_a)
    with pytest.raises(ServiceError) as error:
        services.move_out(personas.community_worker_a, residence, moved_out)
    assert error.value.code == code
    residence.refresh_from_db()
    assert residence.moved_out is None


def test_moving_out_twice_is_refused(register: Register, personas: Any) -> None:
    residence = Residence.objects.get(person=register.tenant_a)
    services.move_out(personas.community_worker_a, residence, date(2024, 1, 1))
    with pytest.raises(ServiceError) as error:
        services.move_out(personas.community_worker_a, residence, date(2024, 2, 1))
    assert error.value.code == "residence.closed"
    residence.refresh_from_db()
    assert residence.moved_out == date(2024, 1, 1)


# --- house use ----------------------------------------------------------------------------


def test_house_use_follows_residences_through_its_life(register: Register, personas: Any) -> None:
    worker, house = personas.community_worker_a, register.house_a201
    assert use_of(house) == ("vacant", False)
    owner = services.move_in(
        worker, person=register.unhoused_a, house=house, relation="owner", moved_in=date(2020, 1, 1)
    )
    assert use_of(house) == ("owner_occupied", False)
    tenant = services.move_in(
        worker,
        person=register.tenant_a,
        house=house,
        relation="tenant",
        moved_in=date(2024, 2, 1),
    )
    assert use_of(house) == ("rented", False)  # a current tenant makes it rented
    services.move_out(worker, tenant, date(2024, 12, 31))
    assert use_of(house) == ("owner_occupied", False)
    services.move_out(worker, owner, date(2025, 1, 1))
    assert use_of(house) == ("vacant", False)
    uses = [
        e.changes["use"]
        for e in AuditEntry.objects.for_object(house).order_by("seq")
        if "use" in e.changes and e.action == "update"
    ]
    assert uses == [
        ["vacant", "owner_occupied"],
        ["owner_occupied", "rented"],
        ["rented", "owner_occupied"],
        ["owner_occupied", "vacant"],
    ]


def test_derived_use_for_each_relation(register: Register, personas: Any) -> None:
    assert services.derived_house_use(register.house_a101) == "owner_occupied"
    assert services.derived_house_use(register.house_a102) == "rented"
    assert services.derived_house_use(register.house_a201) == "vacant"
    services.move_in(
        personas.community_worker_a,
        person=register.unhoused_a,
        house=register.house_a201,
        relation="other",
        moved_in=date(2024, 1, 1),
    )
    assert use_of(register.house_a201) == ("other", False)
    # Before the tenant moved in, the house was vacant: use is derived at a date too.
    assert services.derived_house_use(register.house_a102, date(2023, 5, 31)) == "vacant"


def test_use_set_by_hand_is_kept_until_released(register: Register, personas: Any) -> None:
    worker, house = personas.community_worker_a, register.house_a201
    services.set_house_use(worker, house, "commercial")
    assert use_of(house) == ("commercial", True)
    tenant = services.move_in(
        worker,
        person=register.unhoused_a,
        house=house,
        relation="tenant",
        moved_in=date(2024, 1, 1),
    )
    assert use_of(house) == ("commercial", True)
    services.set_house_use(worker, house, None)
    assert use_of(house) == ("rented", False)
    services.move_out(worker, tenant, date(2024, 6, 1))
    assert use_of(house) == ("vacant", False)


def test_use_through_update_record_is_the_same_rule(register: Register, personas: Any) -> None:
    house = services.update_record(
        personas.community_worker_a, register.house_a101, use="commercial", has_gigabit=True
    )
    assert (house.use, house.use_is_explicit, house.has_gigabit) == ("commercial", True, True)
    house = services.update_record(personas.community_worker_a, house, use=None)
    assert (house.use, house.use_is_explicit) == ("owner_occupied", False)


def test_set_house_use_refuses_bad_values_and_other_roles(
    register: Register, personas: Any
) -> None:
    with pytest.raises(ServiceError) as error:
        services.set_house_use(personas.community_worker_a, register.house_a201, "hotel")
    assert error.value.code == "house.use"
    with pytest.raises(PermissionDeniedError):
        services.set_house_use(personas.property_staff, register.house_a201, "commercial")
    with pytest.raises(NotFoundError):
        services.set_house_use(personas.community_worker_b, register.house_a201, "commercial")
    assert use_of(register.house_a201) == ("vacant", False)


def test_changing_a_residence_relation_moves_the_house_use(
    register: Register, personas: Any
) -> None:
    residence = Residence.objects.get(person=register.tenant_a)
    services.update_record(personas.community_worker_a, residence, relation="owner")
    assert use_of(register.house_a102) == ("owner_occupied", False)


def test_retiring_a_mistaken_residence_moves_the_house_use(
    register: Register, personas: Any
) -> None:
    residence = Residence.objects.get(person=register.tenant_a)
    services.retire_record(personas.community_worker_a, residence)
    assert use_of(register.house_a102) == ("vacant", False)
    assert Residence.objects.filter(pk=residence.pk).exists()


# --- ages ---------------------------------------------------------------------------------


@pytest.fixture
def birthdays(tree: Any, personas: Any) -> dict[str, Person]:
    """People whose 60th birthdays fall on chosen days (one born on 29 February)."""
    worker = personas.community_worker_a
    people = {}
    for key, born, gender in (
        ("june", date(1965, 6, 15), "F"),
        ("leap", date(1964, 2, 29), "M"),
    ):
        people[key] = services.create_person(
            worker,
            region=tree.community_a,
            name=key,
            id_number=synthetic_id_number(born, gender, "age"),
        )
    return people


@pytest.mark.parametrize(
    ("on", "elderly"),
    [(date(2025, 6, 14), False), (date(2025, 6, 15), True), (date(2025, 6, 16), True)],
)
def test_sixty_plus_starts_on_the_60th_birthday(
    birthdays: dict[str, Person], personas: Any, tree: Any, on: date, elderly: bool
) -> None:
    person = birthdays["june"]
    assert person.is_elderly(on) is elderly
    assert Person.objects.elderly(on).filter(pk=person.pk).exists() is elderly
    assert Person.objects.in_age_band(60, 79, on).filter(pk=person.pk).exists() is elderly
    assert Person.objects.in_age_band(35, 59, on).filter(pk=person.pk).exists() is not elderly
    band = "60-79" if elderly else "35-59"
    overview = services.community_overview(personas.community_worker_a, tree.community_a, on)
    counts = {row["label"]: row["count"] for row in overview["by_age_band"]}
    assert counts[band] >= 1
    leap_is_elderly = birthdays["leap"].is_elderly(on)
    assert overview["elderly"] == int(elderly) + int(leap_is_elderly)


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (date(2024, 2, 28), 59),
        (date(2024, 2, 29), 60),
        (date(2024, 3, 1), 60),
        (date(2025, 2, 28), 60),  # no 29 February in 2025: the birthday comes on 1 March
        (date(2025, 3, 1), 61),
    ],
)
def test_29_february_birthdays(birthdays: dict[str, Person], on: date, age: int) -> None:
    person = birthdays["leap"]
    assert person.age(on) == age
    assert Person.objects.aged_at_least(age, on).filter(pk=person.pk).exists()
    assert not Person.objects.aged_at_least(age + 1, on).filter(pk=person.pk).exists()
    assert Person.objects.elderly(on).filter(pk=person.pk).exists() is (age >= 60)


def test_age_queries_agree_with_the_person_age_every_day_around_birthdays(
    birthdays: dict[str, Person],
) -> None:
    days = [date(2024, 2, 20) + timedelta(days=n) for n in range(15)]
    days += [date(2025, 2, 20) + timedelta(days=n) for n in range(15)]
    days += [date(2025, 6, 10) + timedelta(days=n) for n in range(10)]
    for on in days:
        elderly = set(Person.objects.elderly(on).values_list("pk", flat=True))
        for person in birthdays.values():
            assert (person.pk in elderly) is person.is_elderly(on), (person.name, on)
            assert person.age(on) == age_on(person.birth_date, on)


def test_ages_are_not_stored(birthdays: dict[str, Person]) -> None:
    stored = {f.name for f in Person._meta.concrete_fields}
    assert not stored & {"age", "age_band", "is_elderly", "elderly"}
    # The same row is 59 one day and 60 the next without being written.
    person = Person.objects.get(pk=birthdays["june"].pk)
    updated_at = person.updated_at
    assert (person.age(date(2025, 6, 14)), person.age(date(2025, 6, 15))) == (59, 60)
    person.refresh_from_db()
    assert person.updated_at == updated_at


# --- retiring -----------------------------------------------------------------------------


def test_a_house_with_residents_cannot_be_retired(register: Register, personas: Any) -> None:
    before = AuditEntry.objects.count()
    with translation.override("en"), pytest.raises(ServiceError) as error:
        services.retire_record(personas.community_worker_a, register.house_a101)
    assert error.value.code == "house.retire_refused"
    assert str(error.value.message) == (
        "This house cannot be retired: People still live in this house; move them out first."
    )
    register.house_a101.refresh_from_db()
    assert register.house_a101.retired_at is None
    assert AuditEntry.objects.count() == before


def test_retired_house_keeps_its_history_and_residences(register: Register, personas: Any) -> None:
    worker, house = personas.community_worker_a, register.house_a102
    residence = Residence.objects.get(house=house)
    services.move_out(worker, residence, date(2025, 1, 1))
    retired = services.retire_record(worker, house)
    assert retired.retired_at is not None
    assert House.objects.filter(pk=house.pk).exists()
    residence.refresh_from_db()
    assert residence.house_id == house.pk
    assert AuditEntry.objects.for_object(house).filter(action="retire").count() == 1
    assert AuditEntry.objects.for_object(house).filter(action="create").count() == 1
    # Retiring again changes nothing; the retired house takes no new residents or edits.
    assert services.retire_record(worker, house).retired_at == retired.retired_at
    with pytest.raises(ServiceError) as error:
        services.move_in(
            worker, person=register.tenant_a, house=house, relation="tenant", moved_in=TODAY
        )
    assert error.value.code == "registry.retired"
    with pytest.raises(ServiceError) as error:
        services.update_record(worker, house, area_m2="50")
    assert error.value.code == "registry.retired"
    # The number is free again, with a new address code for the new QR label.
    again = services.create_house(worker, unit=register.unit_a1, number="102", floor=1)
    assert again.address == house.address and again.address_code != house.address_code


def test_places_retire_from_the_leaves_up(register: Register, personas: Any) -> None:
    worker = personas.community_worker_a
    with pytest.raises(ServiceError) as error:
        services.retire_record(worker, register.compound_a)
    assert error.value.code == "compound.retire_refused"
    with pytest.raises(ServiceError) as error:
        services.retire_record(worker, register.building_a)
    assert error.value.code == "building.retire_refused"
    with pytest.raises(ServiceError) as error:
        services.retire_record(worker, register.property_company_a)
    assert error.value.code == "organisation.retire_refused"
    for residence in Residence.objects.filter(house__building=register.building_a):
        services.move_out(worker, residence, TODAY)
    for house in House.objects.filter(building=register.building_a):
        services.retire_record(worker, house)
    services.retire_record(worker, register.building_a)
    assert not Unit.objects.active().filter(building=register.building_a).exists()
    services.retire_record(worker, register.compound_a)
    register.compound_a.refresh_from_db()
    assert register.compound_a.retired_at is not None


def test_a_person_living_in_a_house_cannot_be_retired_and_tags_stay(
    register: Register, personas: Any, default_tags: dict[str, Any]
) -> None:
    worker = personas.community_worker_a
    services.tag_person(worker, register.tenant_a, default_tags["veteran"])
    with pytest.raises(ServiceError) as error:
        services.retire_record(worker, register.tenant_a)
    assert error.value.code == "person.retire_refused"
    services.move_out(worker, Residence.objects.get(person=register.tenant_a), TODAY)
    services.retire_record(worker, register.tenant_a)
    assert PersonTag.objects.current().filter(person=register.tenant_a).count() == 1
    assert services.find_person_by_id_number(worker, register.id_numbers["tenant_a"]) == (
        register.tenant_a
    )


def test_a_household_with_members_cannot_be_retired(
    register: Register, personas: Any, tree: Any
) -> None:
    household = services.create_household(
        personas.community_worker_a, region=tree.community_a, number="H1", head=register.owner_a
    )
    with pytest.raises(ServiceError) as error:
        services.retire_record(personas.community_worker_a, household)
    assert error.value.code == "household.retire_refused"


def test_retire_is_refused_out_of_scope_or_without_permission(
    register: Register, personas: Any
) -> None:
    with pytest.raises(NotFoundError):
        services.retire_record(personas.community_worker_b, register.house_a201)
    with pytest.raises(PermissionDeniedError):
        services.retire_record(personas.grid_worker, register.house_a201)
    with pytest.raises(PermissionDeniedError):
        services.retire_record(personas.county_operator, register.house_a201)
    register.house_a201.refresh_from_db()
    assert register.house_a201.retired_at is None


# --- two people at once -------------------------------------------------------------------


def test_update_works_on_the_committed_row_not_the_callers_copy(
    register: Register, personas: Any
) -> None:
    stale = Person.objects.get(pk=register.unhoused_a.pk)
    services.update_record(personas.community_worker_a, register.unhoused_a, ethnicity="回族")
    # A second worker holding the old copy changes another field: the first change survives.
    services.update_record(personas.community_worker_a, stale, education="college")
    register.unhoused_a.refresh_from_db()
    assert (register.unhoused_a.ethnicity, register.unhoused_a.education) == ("回族", "college")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real row locks")
def test_two_workers_moving_one_person_at_once_leave_one_primary_residence(
    transactional_db_with_audit: None,  # noqa: F811
    register: Register,
    personas: Any,
) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    results: list[Residence] = []

    def move(house: House) -> None:
        try:
            worker = personas.community_worker_a.__class__.objects.get(
                pk=personas.community_worker_a.pk
            )
            barrier.wait(timeout=10)
            results.append(
                services.move_in(
                    worker,
                    person=register.unhoused_a,
                    house=house,
                    relation="owner",
                    moved_in=TODAY,
                )
            )
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=move, args=(house,))
        for house in (register.house_a201, register.house_a2_601)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(results) == 2
    current = open_primary(register.unhoused_a)
    assert len(current) == 1
    closed = Residence.objects.filter(person=register.unhoused_a, moved_out=TODAY).get()
    assert {closed.house_id, current[0].house_id} == {
        register.house_a201.pk,
        register.house_a2_601.pk,
    }
    # The house left behind is vacant again, the other occupied: the uses agree with the rule.
    for house in (register.house_a201, register.house_a2_601):
        assert use_of(house)[0] == services.derived_house_use(house)
    assert timezone.now()
