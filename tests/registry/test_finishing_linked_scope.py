"""A record in the viewer's area may point to a person, a house or a household registered
outside it (a worker of the whole subdistrict registered community A's vehicle to an owner of
community B). Detail cards, lists and titles then show a neutral placeholder without a link,
never the linked record's masked name or address; a viewer who covers both areas sees both."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from linli.registry import services
from tests.conftest import make_user
from tests.registry.conftest import Register

pytestmark = pytest.mark.django_db

PERSON_OUTSIDE = "辖区外人员"
HOUSE_OUTSIDE = "辖区外房屋"


@pytest.fixture
def subdistrict_worker(tree: Any, personas: Any) -> Any:
    """A community worker assigned to the whole subdistrict: communities A and B."""
    return make_user("worker_s1", tree.subdistrict_1, "community_worker")


def _body(client: Any, name: str, *args: Any) -> str:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def _person_url(person: Any) -> str:
    return reverse("registry:person_detail", args=[person.pk])


def test_vehicle_owner_of_another_community_is_neither_named_nor_linked(
    login: Any, personas: Any, register: Register, tree: Any, subdistrict_worker: Any
) -> None:
    # Given a vehicle of community A whose owner is registered in community B
    vehicle = services.create_vehicle(
        subdistrict_worker, region=tree.community_a, plate="鲁A0B123", owner=register.person_b
    )

    # When community A's worker opens the vehicle and the list of vehicles
    client = login(personas.community_worker_a)
    detail = _body(client, "registry:vehicle_detail", vehicle.pk)
    listing = _body(client, "registry:vehicle_list")

    # Then the owner is a placeholder, without B's masked name or a link to the person
    for body in (detail, listing):
        assert PERSON_OUTSIDE in body
        assert "赵*" not in body
        assert _person_url(register.person_b) not in body
    # while the worker of both communities sees the owner, linked
    both = _body(login(subdistrict_worker), "registry:vehicle_detail", vehicle.pk)
    assert "赵*" in both and _person_url(register.person_b) in both
    assert PERSON_OUTSIDE not in both


def test_household_head_and_house_outside_the_grid_are_placeholders(
    login: Any, personas: Any, register: Register, tree: Any, subdistrict_worker: Any
) -> None:
    # Given a household of grid A1 living in a house registered for the whole community A,
    # headed by a person of community B
    household = services.create_household(
        subdistrict_worker,
        region=tree.grid_a1,
        number="A1-跨区-01",
        house=register.house_a201,
        head=register.person_b,
    )

    # When the worker of grid A1 opens the household and the list of households
    client = login(personas.grid_worker)
    detail = _body(client, "registry:household_detail", household.pk)
    listing = _body(client, "registry:household_list")

    # Then neither the head nor the house (outside the grid) is named or linked
    for body in (detail, listing):
        assert "A1-跨区-01" in body
        assert PERSON_OUTSIDE in body and HOUSE_OUTSIDE in body
        assert "赵*" not in body
        assert register.house_a201.address not in body
        assert reverse("registry:house_detail", args=[register.house_a201.pk]) not in body
        assert _person_url(register.person_b) not in body
    # The community worker sees the house, and the worker of both communities the head too.
    community = _body(login(personas.community_worker_a), "registry:household_detail", household.pk)
    assert register.house_a201.address in community and PERSON_OUTSIDE in community
    both = _body(login(subdistrict_worker), "registry:household_detail", household.pk)
    assert "赵*" in both and register.house_a201.address in both
    assert "辖区外" not in both


def test_residence_of_a_person_from_another_community_hides_the_person_everywhere(
    login: Any, personas: Any, register: Register, subdistrict_worker: Any
) -> None:
    # person_b keeps the primary residence in B and has a second home in community A.
    residence = services.move_in(
        subdistrict_worker,
        person=register.person_b,
        house=register.house_a201,
        relation="owner",
        moved_in=date(2024, 1, 1),
        is_primary=False,
    )

    client = login(personas.community_worker_a)
    detail = _body(client, "registry:residence_detail", residence.pk)
    listing = _body(client, "registry:residence_list")
    house = _body(client, "registry:house_detail", register.house_a201.pk)

    for body in (detail, listing, house):
        assert PERSON_OUTSIDE in body
        assert "赵*" not in body
        assert _person_url(register.person_b) not in body
    # The house is the worker's own: it is named, and the title says only what may be seen.
    assert register.house_a201.address in detail
    assert f"{PERSON_OUTSIDE} @ {register.house_a201.address}" in detail
    # The residents of the worker's own community are still linked on the same house page.
    own = _body(client, "registry:house_detail", register.house_a101.pk)
    assert "王*" in own and _person_url(register.owner_a) in own


def test_rental_names_only_the_tenants_in_the_viewers_area(
    login: Any, personas: Any, register: Register, subdistrict_worker: Any
) -> None:
    rental = services.create_rental(
        subdistrict_worker,
        house=register.house_a102,
        tenants=[register.tenant_a, register.person_b],
        mode="shared",
        channel="agency",
        monthly_rent=Decimal("1200"),
        start=date(2024, 3, 1),
    )

    client = login(personas.community_worker_a)
    bodies = [
        _body(client, "registry:rental_detail", rental.pk),
        _body(client, "registry:rental_list"),
        _body(client, "registry:house_detail", register.house_a102.pk),
    ]

    for body in bodies:
        assert "刘*" in body  # the tenant of community A
        assert "辖区外人员 1 名" in body
        assert "赵*" not in body
    both = _body(login(subdistrict_worker), "registry:rental_detail", rental.pk)
    assert "刘*" in both and "赵*" in both and "辖区外" not in both


def test_property_staff_see_a_vehicle_but_not_its_owner(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    # Property staff may see vehicles and places but no people at all, even in their community.
    vehicle = services.create_vehicle(
        personas.community_worker_a,
        region=tree.community_a,
        plate="鲁A0A456",
        owner=register.owner_a,
        compound=register.compound_a,
    )

    body = _body(login(personas.property_staff), "registry:vehicle_detail", vehicle.pk)

    assert "鲁A0A456" in body and register.compound_a.name in body
    assert PERSON_OUTSIDE in body
    assert "王*" not in body and _person_url(register.owner_a) not in body
    worker = _body(login(personas.community_worker_a), "registry:vehicle_detail", vehicle.pk)
    assert "王*" in worker and _person_url(register.owner_a) in worker


def test_household_registered_outside_the_viewers_area_is_not_linked_from_the_person(
    login: Any, personas: Any, register: Register, tree: Any, subdistrict_worker: Any
) -> None:
    # community A's person heads a household registered in community B
    household = services.create_household(
        subdistrict_worker, region=tree.community_b, number="B-跨区-02", head=register.unhoused_a
    )

    body = _body(
        login(personas.community_worker_a), "registry:person_detail", register.unhoused_a.pk
    )

    assert "辖区外的户" in body
    assert "B-跨区-02" not in body
    assert reverse("registry:household_detail", args=[household.pk]) not in body
    both = _body(login(subdistrict_worker), "registry:person_detail", register.unhoused_a.pk)
    assert "B-跨区-02" in both
