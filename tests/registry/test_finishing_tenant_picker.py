"""Rental tenants are picked by search, several at a time, with htmx and without JavaScript:
no record numbers to type. The people search stays POST-only and within the scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from linli.registry import services
from linli.registry.forms import OUT_OF_SCOPE
from linli.registry.models import Rental
from tests.conftest import make_user
from tests.registry.conftest import Register

pytestmark = pytest.mark.django_db

PICK_TENANTS = reverse("registry:pick_people") + "?field=tenants&multiple=1"


def _rental_data(register: Register, **extra: Any) -> dict[str, Any]:
    return {
        "house": register.house_a201.pk,
        "mode": "shared",
        "channel": "agency",
        "monthly_rent": "1500",
        "start": "2024-04-01",
        **extra,
    }


def _checkbox(pk: int, checked: bool) -> str:
    return f'<input type="checkbox" name="tenants" value="{pk}"' + (" checked>" if checked else ">")


def test_rental_form_offers_a_people_picker_for_several_tenants(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:rental_create"), {"house": register.house_a201.pk}
    )

    body = response.content.decode()
    assert f'hx-post="{PICK_TENANTS.replace("&", "&amp;")}"' in body
    assert 'hx-params="tenants_q,tenants"' in body
    assert 'name="tenants_q"' in body
    assert "记录编号" not in body and "record number" not in body


def test_picker_search_keeps_the_ticked_tenants_and_adds_the_matches(
    login: Any, personas: Any, register: Register
) -> None:
    client = login(personas.community_worker_a)

    response = client.post(
        PICK_TENANTS,
        {"tenants_q": "刘", "tenants": [str(register.unhoused_a.pk), str(register.person_b.pk)]},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert _checkbox(register.unhoused_a.pk, True) in body  # ticked before: still ticked
    assert _checkbox(register.tenant_a.pk, False) in body  # the new match, to tick
    assert "刘*" in body and "张*" in body and "刘洋" not in body
    # A tampered tick outside the scope is dropped, not named.
    assert f'value="{register.person_b.pk}"' not in body
    assert "赵" not in body
    # People are searched by POST only.
    assert client.get(PICK_TENANTS, {"tenants_q": "刘"}).status_code == 405


def test_two_tenants_ticked_with_htmx_are_saved(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:rental_create"),
        _rental_data(
            register,
            tenants=[register.tenant_a.pk, register.unhoused_a.pk],
            tenants_q="张",  # the last search stays in the box: it matches a ticked person
        ),
    )

    assert response.status_code == 302
    rental = Rental.objects.get(house=register.house_a201)
    assert set(rental.tenants.all()) == {register.tenant_a, register.unhoused_a}


def test_without_javascript_tenants_are_added_search_by_search(
    login: Any, personas: Any, register: Register
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("registry:rental_create")

    # A part of a name comes back with the matches as check boxes.
    first = client.post(url, _rental_data(register, tenants_q="刘"))
    assert first.status_code == 200
    assert "请在下方的匹配结果中勾选" in first.context["form"].errors["tenants"][0]
    assert _checkbox(register.tenant_a.pk, False) in first.content.decode()

    # The worker ticks 刘* and searches for the second tenant: the tick is kept.
    second = client.post(
        url, _rental_data(register, tenants=[register.tenant_a.pk], tenants_q="张")
    )
    assert second.status_code == 200
    body = second.content.decode()
    assert _checkbox(register.tenant_a.pk, True) in body
    assert _checkbox(register.unhoused_a.pk, False) in body
    assert not Rental.objects.exists()

    # Both ticked: saved.
    third = client.post(
        url,
        _rental_data(
            register, tenants=[register.tenant_a.pk, register.unhoused_a.pk], tenants_q="张"
        ),
    )
    assert third.status_code == 302
    rental = Rental.objects.get()
    assert set(rental.tenants.all()) == {register.tenant_a, register.unhoused_a}


def test_an_exact_id_number_adds_a_tenant_without_a_tick(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:rental_create"),
        _rental_data(
            register,
            tenants=[register.tenant_a.pk],
            tenants_q=register.id_numbers["unhoused_a"],
        ),
    )

    assert response.status_code == 302
    rental = Rental.objects.get()
    assert set(rental.tenants.all()) == {register.tenant_a, register.unhoused_a}


def test_a_tenant_outside_the_scope_is_refused_and_nothing_is_written(
    login: Any, personas: Any, register: Register
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("registry:rental_create")

    tampered = client.post(url, _rental_data(register, tenants=[register.person_b.pk]))
    by_number = client.post(url, _rental_data(register, tenants_q=register.id_numbers["person_b"]))
    nothing = client.post(url, _rental_data(register))

    assert str(OUT_OF_SCOPE) in tampered.context["form"].errors["tenants"][0]
    assert "赵" not in tampered.content.decode()
    assert by_number.status_code == 200 and "tenants" in by_number.context["form"].errors
    assert nothing.status_code == 200 and "tenants" in nothing.context["form"].errors
    assert not Rental.objects.exists()


def test_editing_the_tenants_of_a_rental(login: Any, personas: Any, register: Register) -> None:
    worker = personas.community_worker_a
    rental = services.create_rental(
        worker,
        house=register.house_a102,
        tenants=[register.tenant_a],
        mode="whole",
        channel="self",
        monthly_rent=Decimal("1000"),
        start=date(2024, 1, 1),
    )
    client = login(worker)
    url = reverse("registry:rental_edit", args=[rental.pk])
    values = {
        "mode": "whole",
        "channel": "self",
        "monthly_rent": "1000.00",
        "start": "2024-01-01",
    }

    # The current tenant is shown ticked.
    assert _checkbox(register.tenant_a.pk, True) in client.get(url).content.decode()
    # Unticking 刘* and ticking 张* replaces the tenant.
    response = client.post(url, {**values, "tenants": [register.unhoused_a.pk]})
    assert response.status_code == 302
    assert list(rental.tenants.all()) == [register.unhoused_a]


def test_tenants_outside_the_editors_area_are_kept_and_guard_the_list(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    both = make_user("worker_s1", tree.subdistrict_1, "community_worker")
    rental = services.create_rental(
        both,
        house=register.house_a102,
        tenants=[register.tenant_a, register.person_b],
        mode="shared",
        channel="agency",
        monthly_rent=Decimal("1000"),
        start=date(2024, 1, 1),
    )
    client = login(personas.community_worker_a)
    url = reverse("registry:rental_edit", args=[rental.pk])
    values = {"mode": "shared", "channel": "agency", "start": "2024-01-01"}

    form = client.get(url).content.decode()
    assert _checkbox(register.tenant_a.pk, True) in form
    assert "赵" not in form and f'value="{register.person_b.pk}"' not in form

    # Changing the rent keeps both tenants, the unseen one included.
    kept = client.post(url, {**values, "monthly_rent": "1100", "tenants": [register.tenant_a.pk]})
    assert kept.status_code == 302
    rental.refresh_from_db()
    assert rental.monthly_rent == Decimal("1100")
    assert set(rental.tenants.all()) == {register.tenant_a, register.person_b}

    # Changing the tenants is refused with a reason; nothing changes.
    refused = client.post(
        url, {**values, "monthly_rent": "1100", "tenants": [register.unhoused_a.pk]}
    )
    assert refused.status_code == 200
    assert "区县运营人员" in refused.context["form"].errors["tenants"][0]
    assert set(rental.tenants.all()) == {register.tenant_a, register.person_b}
