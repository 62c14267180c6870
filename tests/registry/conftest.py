"""Fixtures for the register's tests: a small register built through the services.

``register`` (needs ``personas``; built by community_worker_a in community A 锦源社区 and by
community_worker_b in community B 锦东社区)::

    community A
      property_company_a   锦源物业服务有限公司 (organisation, kind property, valid USCC)
      compound_a           锦源小区 (closed, managed by property_company_a)
        building_a         1号楼: 6 floors above, 1 below; unit_a1 = 1单元, unit_a2 = 2单元
          house_a101       1单元 101, floor 1 — owner_a (owner) + spouse_a (family): owner-occupied
          house_a102       1单元 102, floor 1 — tenant_a (tenant): rented
          house_a201       1单元 201, floor 2 — nobody: vacant
          house_a2_601     2单元 601, floor 6 — nobody: vacant
      owner_a      王建国, male, born 1958-05-12, registered, phone; owner of house_a101
                   since 2010-03-01
      spouse_a     李秀英, female, born 1962-09-30, registered; family in house_a101
                   since 2010-03-01
      tenant_a     刘洋, male, born 1995-01-15, floating; tenant of house_a102 since 2023-06-01
      unhoused_a   张敏, female, born 2001-07-07, permanent, phone; no residence
    community B
      compound_b   锦东小区 > building_b 1号楼 (3 floors, 1 unit) > unit_b1 > house_b101 (floor 1)
      person_b     赵刚, male, born 1980-11-20; owner of house_b101 since 2015-08-01

All ID numbers and phones are synthetic (valid check digits, not real people); the plaintext is
in ``register.id_numbers`` / ``register.phones`` keyed by the attribute name, for tests that
search or assert masking. ``default_tags`` loads the shipped taxonomy and returns {code: Tag}.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from linli.registry import services
from linli.registry.models import (
    Building,
    Compound,
    House,
    Organisation,
    Person,
    Tag,
    Unit,
)
from linli.utilities.synthetic import make_credit_code, make_id_number


def synthetic_id_number(birth_date: date, gender: str, seed: str = "") -> str:
    """A valid, made-up ID number of a person born in Pingyin county on ``birth_date``."""
    return make_id_number(
        random.Random(f"{seed}{birth_date}{gender}"), "370124", birth_date, gender
    )


@dataclass
class Register:
    property_company_a: Organisation
    compound_a: Compound
    building_a: Building
    unit_a1: Unit
    unit_a2: Unit
    house_a101: House
    house_a102: House
    house_a201: House
    house_a2_601: House
    owner_a: Person
    spouse_a: Person
    tenant_a: Person
    unhoused_a: Person
    compound_b: Compound
    building_b: Building
    unit_b1: Unit
    house_b101: House
    person_b: Person
    id_numbers: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)

    def refresh(self) -> None:
        """Reload every record from the database (after a service changed it)."""
        for value in vars(self).values():
            if hasattr(value, "refresh_from_db"):
                value.refresh_from_db()


@pytest.fixture
def register(tree: Any, personas: Any) -> Register:
    worker_a, worker_b = personas.community_worker_a, personas.community_worker_b
    ids = {
        "owner_a": synthetic_id_number(date(1958, 5, 12), "M"),
        "spouse_a": synthetic_id_number(date(1962, 9, 30), "F"),
        "tenant_a": synthetic_id_number(date(1995, 1, 15), "M"),
        "unhoused_a": synthetic_id_number(date(2001, 7, 7), "F"),
        "person_b": synthetic_id_number(date(1980, 11, 20), "M"),
    }
    phones = {"owner_a": "13905310001", "unhoused_a": "13905310002", "person_b": "13905310003"}
    property_company = services.create_organisation(
        worker_a,
        region=tree.community_a,
        name="锦源物业服务有限公司",
        kind="property",
        credit_code=make_credit_code(random.Random("property_a")),
        contact_phone="0531-87881234",
    )
    compound_a = services.create_compound(
        worker_a, region=tree.community_a, name="锦源小区", property_company=property_company
    )
    building_a = services.create_building(
        worker_a, compound=compound_a, number="1", floors_above=6, floors_below=1, units=2
    )
    unit_a1, unit_a2 = list(building_a.units.order_by("number"))
    house = services.create_house
    house_a101 = house(worker_a, unit=unit_a1, number="101", floor=1, area_m2="89.5")
    house_a102 = house(worker_a, unit=unit_a1, number="102", floor=1, area_m2="72")
    house_a201 = house(worker_a, unit=unit_a1, number="201", floor=2)
    house_a2_601 = house(worker_a, unit=unit_a2, number="601", floor=6)

    def person(actor: Any, region: Any, key: str, name: str, **extra: Any) -> Person:
        return services.create_person(
            actor,
            region=region,
            name=name,
            id_number=ids[key],
            phone=phones.get(key, ""),
            **extra,
        )

    owner_a = person(
        worker_a, tree.community_a, "owner_a", "王建国", registration_type="registered"
    )
    spouse_a = person(
        worker_a, tree.community_a, "spouse_a", "李秀英", registration_type="registered"
    )
    tenant_a = person(worker_a, tree.community_a, "tenant_a", "刘洋", registration_type="floating")
    unhoused_a = person(worker_a, tree.community_a, "unhoused_a", "张敏")
    services.move_in(
        worker_a, person=owner_a, house=house_a101, relation="owner", moved_in=date(2010, 3, 1)
    )
    services.move_in(
        worker_a, person=spouse_a, house=house_a101, relation="family", moved_in=date(2010, 3, 1)
    )
    services.move_in(
        worker_a, person=tenant_a, house=house_a102, relation="tenant", moved_in=date(2023, 6, 1)
    )

    compound_b = services.create_compound(worker_b, region=tree.community_b, name="锦东小区")
    building_b = services.create_building(worker_b, compound=compound_b, number="1", floors_above=3)
    unit_b1 = building_b.units.get()
    house_b101 = services.create_house(worker_b, unit=unit_b1, number="101", floor=1)
    person_b = person(worker_b, tree.community_b, "person_b", "赵刚")
    services.move_in(
        worker_b, person=person_b, house=house_b101, relation="owner", moved_in=date(2015, 8, 1)
    )
    register = Register(
        property_company_a=property_company,
        compound_a=compound_a,
        building_a=building_a,
        unit_a1=unit_a1,
        unit_a2=unit_a2,
        house_a101=house_a101,
        house_a102=house_a102,
        house_a201=house_a201,
        house_a2_601=house_a2_601,
        owner_a=owner_a,
        spouse_a=spouse_a,
        tenant_a=tenant_a,
        unhoused_a=unhoused_a,
        compound_b=compound_b,
        building_b=building_b,
        unit_b1=unit_b1,
        house_b101=house_b101,
        person_b=person_b,
        id_numbers=ids,
        phones=phones,
    )
    register.refresh()
    return register


@pytest.fixture
def default_tags(db: Any) -> dict[str, Tag]:
    services.sync_default_tags()
    return {tag.code: tag for tag in Tag.objects.select_related("category")}
