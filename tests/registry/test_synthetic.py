"""The synthetic county of ``linli demo --scale N``: deterministic, valid identities, realistic
shares, house use consistent with residences, idempotent. Built at 300 people over the tree
fixture's communities A (锦源社区) and B (锦东社区)."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.regions.models import RegionNode
from linli.registry import services, synthetic
from linli.registry.choices import HouseUse, RegistrationType, ResidenceRelation
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    Organisation,
    Person,
    PersonTag,
    Rental,
    Residence,
    Vehicle,
)
from linli.utilities.validators import parse_credit_code, parse_id_number
from tests.conftest import Tree

SCALE = 300
SEED = 20260101


def _fingerprint_of_database() -> list[tuple[Any, ...]]:
    """Everything that makes a person's record, without database ids or timestamps."""
    rows = []
    for residence in Residence.objects.select_related("person__region", "house"):
        person = residence.person
        rows.append(
            (
                person.region.code,
                person.name,
                person.id_number,
                person.phone,
                person.birth_date,
                person.gender,
                person.registration_type,
                person.head_relation,
                residence.house.address,
                residence.house.use,
                residence.relation,
                residence.moved_in,
            )
        )
    return sorted(rows)


def _fingerprint_of_plan(seed: int) -> list[tuple[Any, ...]]:
    nodes = synthetic.community_order()
    targets = synthetic.plan_scale(SCALE, seed, len(nodes))
    specs = synthetic.community_specs(nodes[: len(targets)])
    codes = dict(RegionNode.objects.values_list("pk", "code"))
    taken = synthetic.Taken()
    rows = []
    for spec, target in zip(specs, targets, strict=True):
        load = synthetic.build_community(spec, target, seed, taken)
        for residence in load.residences:
            person = residence.person
            rows.append(
                (
                    codes[person.region_id],
                    person.name,
                    person.id_number,
                    person.phone,
                    person.birth_date,
                    person.gender,
                    person.registration_type,
                    person.head_relation,
                    residence.house.address,
                    residence.house.use,
                    residence.relation,
                    residence.moved_in,
                )
            )
    return sorted(rows)


@pytest.fixture
def county(tree: Tree) -> synthetic.LoadSummary:
    return synthetic.load_county(SCALE, SEED)


def test_load_puts_exactly_the_scale_in_the_first_communities(
    tree: Tree, county: synthetic.LoadSummary
) -> None:
    assert county.loaded == 2 and county.counts["people"] == SCALE
    assert Person.objects.count() == SCALE
    people = Counter(Person.objects.values_list("region__code", flat=True))
    by_community = Counter({code[:12]: 0 for code in people})
    for code, count in people.items():
        by_community[code[:12]] += count
    assert set(by_community) == {tree.community_a.code, tree.community_b.code}
    # Records hang on the communities' grids where there are grids.
    assert set(people) <= {tree.grid_a1.code, tree.grid_a2.code, tree.grid_b1.code}


def test_the_same_seed_gives_the_same_register_and_another_seed_another(
    county: synthetic.LoadSummary,
) -> None:
    stored = _fingerprint_of_database()
    assert len(stored) == SCALE
    assert _fingerprint_of_plan(SEED) == stored
    other = _fingerprint_of_plan(SEED + 1)
    assert other != stored
    assert {row[2] for row in other} != {row[2] for row in stored}


def test_every_id_number_is_valid_unique_and_matches_birth_date_and_gender(
    county: synthetic.LoadSummary,
) -> None:
    numbers = []
    for person in Person.objects.all():
        info = parse_id_number(person.id_number)
        assert info.birth_date == person.birth_date
        assert info.gender == person.gender
        assert info.region_code.startswith("37")  # Shandong counties
        numbers.append(person.id_number)
    assert len(set(numbers)) == SCALE
    # Floating people come from other counties, registered residents mostly from Pingyin.
    floating = Person.objects.filter(registration_type=RegistrationType.FLOATING)
    assert floating.exists()
    assert not any(p.id_number.startswith("370124") for p in floating)


def test_sixty_plus_share_is_realistic(county: synthetic.LoadSummary) -> None:
    today = timezone.localdate()
    share = Person.objects.elderly(today).count() / SCALE
    assert 0.18 <= share <= 0.36
    assert Person.objects.filter(birth_date__gt=today.replace(year=today.year - 18)).exists()


def _elderly_share(position: int, people: int = 4000) -> float:
    spec = synthetic.CommunitySpec(
        code=f"370124001{position + 1:03d}",
        name="测试社区",
        address_prefix="山东省济南市平阴县榆山街道测试社区",
        region_id=1,
        grid_ids=(),
        position=position,
    )
    load = synthetic.build_community(spec, people, SEED, synthetic.Taken())
    elderly = sum(
        1
        for person in load.people
        if person.age(synthetic.REFERENCE_DATE) is not None
        and person.age(synthetic.REFERENCE_DATE) >= 60  # type: ignore[operator]
    )
    return elderly / len(load.people)


def test_communities_differ_in_age_and_the_second_is_above_thirty_percent(db: Any) -> None:
    first, second = _elderly_share(0), _elderly_share(1)
    assert 0.2 <= first <= 0.3
    assert second > 0.3


def test_buildings_span_the_height_thresholds_with_a_33_floor_tower(
    county: synthetic.LoadSummary,
) -> None:
    floors = list(Building.objects.values_list("floors_above", flat=True))
    assert max(floors) == synthetic.TOWER_FLOORS
    assert any(f >= 19 for f in floors)
    tower = Building.objects.get(floors_above=synthetic.TOWER_FLOORS)
    assert tower.houses.aggregate(top=Count("floor", distinct=True))["top"] == 33
    per_floor = Counter(tower.houses.values_list("unit_id", "floor"))
    assert set(per_floor.values()) <= {2, 3, 4}


def test_house_use_agrees_with_what_the_residences_derive(
    county: synthetic.LoadSummary,
) -> None:
    houses = list(House.objects.all())
    for house in houses:
        if house.use_is_explicit:
            assert house.use == HouseUse.COMMERCIAL
            assert not house.residences.exists()
        else:
            assert house.use == services.derived_house_use(house), house.address
    uses = Counter(house.use for house in houses)
    assert uses[HouseUse.OWNER_OCCUPIED] and uses[HouseUse.RENTED] and uses[HouseUse.VACANT]


def test_every_person_has_one_current_primary_residence_and_a_headed_household(
    county: synthetic.LoadSummary,
) -> None:
    primary = Residence.objects.current().filter(is_primary=True)
    assert primary.count() == SCALE
    assert primary.values("person").distinct().count() == SCALE
    assert not Household.objects.filter(head__isnull=True).exists()
    assert not Person.objects.filter(household__isnull=True).exists()
    # A head lives in the household's house.
    for household in Household.objects.select_related("head"):
        assert household.head is not None
        assert household.head.residences.filter(house_id=household.house_id).exists()


def test_rented_houses_have_rentals_of_their_tenants_and_floating_people_mostly_rent(
    county: synthetic.LoadSummary,
) -> None:
    rented = House.objects.filter(use=HouseUse.RENTED)
    assert rented.exists()
    for house in rented.prefetch_related("rentals__tenants", "residences"):
        rental = house.rentals.get()
        assert 600 <= rental.monthly_rent <= 2500
        tenants = {r.person_id for r in house.residences.all()}
        assert {p.pk for p in rental.tenants.all()} == tenants
    assert Rental.objects.count() == rented.count()
    floating = Person.objects.filter(registration_type=RegistrationType.FLOATING)
    renting = floating.filter(residences__relation=ResidenceRelation.TENANT).count()
    assert renting / floating.count() > 0.9


def test_organisations_have_valid_unique_credit_codes_and_closed_compounds_a_company(
    county: synthetic.LoadSummary,
) -> None:
    codes = list(Organisation.objects.values_list("credit_code", flat=True))
    assert codes and len(set(codes)) == len(codes)
    for code in codes:
        parse_credit_code(code)
    kinds = set(Organisation.objects.values_list("kind", flat=True))
    assert {"party", "property", "social"} <= kinds
    assert not Compound.objects.filter(kind="closed", property_company__isnull=True).exists()
    assert not Compound.objects.filter(~Q(kind="closed"), property_company__isnull=False).exists()


def test_vehicles_have_unique_jinan_plates_and_care_tags_come_from_the_taxonomy(
    county: synthetic.LoadSummary,
) -> None:
    plates = list(Vehicle.objects.values_list("plate", flat=True))
    assert plates and len(set(plates)) == len(plates)
    assert all(plate.startswith("鲁A") and len(plate) in (7, 8) for plate in plates)
    tags = Counter(PersonTag.objects.values_list("tag__code", flat=True))
    assert tags["elderly_living_alone"] > 0
    assert sum(tags.values()) < SCALE  # care tags are on a minority
    assert set(tags) <= set(synthetic.TAG_CODES)


def test_facility_coverage_differs_between_communities(
    tree: Tree, county: synthetic.LoadSummary
) -> None:
    def gigabit_share(code: str) -> float:
        houses = House.objects.filter(region__code__startswith=code)
        return houses.filter(has_gigabit=True).count() / houses.count()

    # Community A is drawn well equipped, B poorly: the 70 % line falls between them.
    assert gigabit_share(tree.community_a.code) > 0.7 > gigabit_share(tree.community_b.code)


def test_running_again_adds_nothing(county: synthetic.LoadSummary) -> None:
    counts = {model: model.objects.count() for model in (Person, House, Organisation, Vehicle)}
    entries = AuditEntry.objects.count()
    again = synthetic.load_county(SCALE, SEED)
    assert again.loaded == 0 and again.skipped == 2
    assert {model: model.objects.count() for model in counts} == counts
    assert AuditEntry.objects.count() == entries


def test_each_community_gets_one_summarising_audit_entry(
    tree: Tree, county: synthetic.LoadSummary
) -> None:
    entries = AuditEntry.objects.filter(object_type="registry.person")
    assert sorted(entries.values_list("region_code", flat=True)) == sorted(
        [tree.community_a.code, tree.community_b.code]
    )
    assert sum(int(e.changes["people"]) for e in entries) == SCALE
    assert all("synthetic people" in e.object_repr for e in entries)


def test_a_community_holding_records_is_left_alone(tree: Tree, personas: Any) -> None:
    services.create_compound(
        personas.community_worker_a, region=tree.community_a, name="真实小区", kind="open"
    )
    summary = synthetic.load_county(SCALE, SEED)
    assert summary.skipped == 1 and summary.loaded == 1
    assert not Person.objects.filter(region__code__startswith=tree.community_a.code).exists()
    assert Compound.objects.filter(region__code__startswith=tree.community_a.code).count() == 1


def test_demo_command_loads_the_scale_and_a_second_run_adds_nothing(db: Any) -> None:
    out = io.StringIO()
    call_command("demo", "--scale", str(SCALE), "--seed", str(SEED), stdout=out)
    assert f"2 communities loaded with {SCALE} people" in out.getvalue()
    assert Person.objects.count() == SCALE
    out = io.StringIO()
    call_command("demo", "--scale", str(SCALE), "--seed", str(SEED), stdout=out)
    assert "0 communities loaded with 0 people, 2 already loaded" in out.getvalue()
    assert Person.objects.count() == SCALE


def test_demo_command_refuses_a_negative_scale(db: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("demo", "--scale", "-1", stdout=io.StringIO())
    assert not Person.objects.exists()
