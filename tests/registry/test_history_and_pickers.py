"""Record history as people read it (labels, related records through the gate, masked personal
values), the house and person pickers of the forms (in scope, masked, refusing a tampered id),
and the floor rule's message."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import gettext

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import ServiceError
from linli.registry import services
from linli.registry.choices import Education, Gender, HouseUse, RegistrationType, ResidenceRelation
from linli.registry.models import House, Household, Residence, Vehicle
from tests.registry.conftest import Register

pytestmark = pytest.mark.django_db

OUT_OF_SCOPE = "记录不存在或不在您的管辖范围内"


def _body(response: Any) -> str:
    return html.unescape(response.content.decode())


def _history_html(response: Any) -> str:
    """The rendered history card of a detail page, and nothing else of the page."""
    body = _body(response)
    start = body.index(f"<h2>{gettext('History')}</h2>")
    return body[start : body.index("</section>", start)]


def _has_chinese(text: str) -> bool:
    return bool(re.search("[\u4e00-\u9fff]", text))


# ---------------------------------------------------------------- history


def test_house_history_shows_choice_labels_related_names_and_no_bookkeeping(
    login: Any, personas: Any, register: Register
) -> None:
    worker = personas.community_worker_a
    services.set_house_use(worker, register.house_a201, "commercial")
    services.update_record(worker, register.house_a201, has_gigabit=True, area_m2="66.50")
    response = login(worker).get(reverse("registry:house_detail", args=[register.house_a201.pk]))
    history = _history_html(response)
    # Given by the service as codes and ids; shown as labels and names.
    assert str(HouseUse.COMMERCIAL.label) in history
    assert gettext("set by hand") in history
    assert str(register.building_a) in history  # the building, not its record number
    assert str(register.unit_a1) in history
    assert register.house_a201.region.name in history
    assert gettext("gigabit fibre") in history and gettext("Yes") in history
    assert "66.50" in history
    # No raw codes, attribute names, record numbers or bookkeeping.
    for raw in ("commercial", "vacant", "_id", "use_is_explicit", "address_code", "True"):
        assert raw not in history, raw
    assert gettext("use set by hand") not in history
    assert gettext("updated") not in history
    building_link = reverse("registry:building_detail", args=[register.building_a.pk])
    assert f'href="{building_link}"' in history
    assert f">{register.building_a.pk}<" not in history


def test_person_history_masks_personal_values_and_names_tags(
    login: Any, personas: Any, register: Register, default_tags: Any
) -> None:
    worker = personas.community_worker_a
    tag = next(iter(default_tags.values()))
    services.tag_person(worker, register.tenant_a, tag)
    services.update_record(
        worker, register.tenant_a, name="刘洋洋", education="bachelor", is_party_member=True
    )
    response = login(worker).get(reverse("registry:person_detail", args=[register.tenant_a.pk]))
    history = _history_html(response)
    assert str(RegistrationType.FLOATING.label) in history
    assert str(Gender.MALE.label) in history
    assert str(Education.BACHELOR.label) in history
    assert tag.name in history and tag.code not in history
    assert "******" in history  # name, ID number, birth date
    for raw in ("刘洋", register.id_numbers["tenant_a"], "1995-01-15", "floating", "bachelor"):
        assert raw not in history, raw
    assert "id_number_index" not in history and "phone_index" not in history
    assert gettext("Yes") in history  # party member


def test_a_change_of_a_personal_field_alone_still_shows_which_field_changed(
    login: Any, personas: Any, register: Register
) -> None:
    worker = personas.community_worker_a
    services.update_record(worker, register.unhoused_a, name="张敏敏", phone="13905319999")
    response = login(worker).get(reverse("registry:person_detail", args=[register.unhoused_a.pk]))
    history = _history_html(response)
    newest = history[: history.index("</li>")] if "</li>" in history else history
    name_label = str(register.unhoused_a._meta.get_field("name").verbose_name)
    phone_label = str(register.unhoused_a._meta.get_field("phone").verbose_name)
    assert name_label in newest and phone_label in newest
    assert gettext("changed (masked)") in newest
    for raw in ("张敏敏", "张敏", "13905319999", register.phones["unhoused_a"]):
        assert raw not in history, raw


def test_a_refused_attempt_from_elsewhere_reads_in_chinese_on_the_history(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    with pytest.raises(ServiceError):
        services.create_person(
            personas.community_worker_b,
            region=tree.community_b,
            name="冒名",
            id_number=register.id_numbers["owner_a"],
        )
    response = login(personas.community_worker_a).get(
        reverse("registry:person_detail", args=[register.owner_a.pk])
    )
    history = _history_html(response)
    assert gettext("refused: this ID number was entered by a worker outside this area") in history
    assert "outside the actor's area" not in history


def test_residence_history_names_the_masked_person_and_the_house(
    login: Any, personas: Any, register: Register
) -> None:
    worker = personas.community_worker_a
    residence = Residence.objects.get(person=register.tenant_a)
    services.move_out(worker, residence, date(2024, 3, 1))
    response = login(worker).get(reverse("registry:residence_detail", args=[residence.pk]))
    history = _history_html(response)
    assert "刘*" in history and "刘洋" not in history
    assert register.house_a102.address in history
    assert str(ResidenceRelation.TENANT.label) in history
    assert "2023-06-01" in history and "2024-03-01" in history
    assert "tenant" not in history


def test_a_related_record_outside_the_scope_or_gone_shows_only_its_number(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    worker = personas.community_worker_a
    # A household of grid A1 headed by a person registered in community A, outside the grid
    # worker's scope.
    household = services.create_household(
        worker, region=tree.grid_a1, number="H-1", head=register.unhoused_a
    )
    # An older entry naming a house that no longer exists.
    audit.record(
        AuditAction.UPDATE, household, actor=worker, changes={"house_id": [None, "999999"]}
    )
    response = login(personas.grid_worker).get(
        reverse("registry:household_detail", args=[household.pk])
    )
    history = _history_html(response)
    assert f"#{register.unhoused_a.pk}" in history
    assert "张*" not in history and "张敏" not in history
    assert "#999999" in history
    # The worker of community A sees the head's masked name.
    history_a = _history_html(
        login(worker).get(reverse("registry:household_detail", args=[household.pk]))
    )
    assert "张*" in history_a and f"#{register.unhoused_a.pk}" not in history_a


def test_history_queries_do_not_grow_with_the_number_of_entries(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    worker = personas.community_worker_a
    household = services.create_household(worker, region=tree.community_a, number="H-2")
    client = login(worker)
    url = reverse("registry:household_detail", args=[household.pk])
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    services.update_record(worker, household, house=register.house_a101)
    few = count()
    # Every entry names other houses: still one query for all the houses of the page.
    # It ends on a house, as it started: the detail card checks its house through the gate.
    for house in (None, register.house_a102, register.house_a201, register.house_a2_601):
        services.update_record(worker, household, house=house)
        services.update_record(worker, household, number=f"H-{house.pk if house else 0}")
    history = _history_html(client.get(url))
    assert register.house_a2_601.address in history and register.house_a102.address in history
    assert count() == few


# ---------------------------------------------------------------- picker endpoints


def test_house_picker_finds_only_houses_in_the_scope(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:pick_houses"), {"field": "house", "house_q": "101"}
    )
    assert response.status_code == 200
    assert [m["pk"] for m in response.context["matches"]] == [register.house_a101.pk]
    body = _body(response)
    assert register.house_a101.address in body
    assert register.house_b101.address not in body
    assert f'name="house" value="{register.house_a101.pk}"' in body


def test_house_picker_matches_every_word_and_caps_the_results(
    login: Any, personas: Any, register: Register
) -> None:
    worker = personas.community_worker_a
    for number in range(301, 325):
        services.create_house(worker, unit=register.unit_a2, number=str(number), floor=3)
    client = login(worker)
    many = client.get(reverse("registry:pick_houses"), {"q": "2单元"})
    assert len(many.context["matches"]) == 20 and many.context["more"]
    assert gettext("Nothing in your scope matches.") not in _body(many)
    words = client.get(reverse("registry:pick_houses"), {"q": "锦源 2单元 601"})
    assert [m["pk"] for m in words.context["matches"]] == [register.house_a2_601.pk]
    none = client.get(reverse("registry:pick_houses"), {"q": "不存在的地址"})
    assert none.context["matches"] == [] and _has_chinese(_body(none))


def test_people_picker_masks_names_and_id_numbers(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:pick_people") + "?field=person", {"person_q": "刘"}
    )
    assert response.status_code == 200
    assert [m["pk"] for m in response.context["matches"]] == [register.tenant_a.pk]
    body = _body(response)
    assert "刘*" in body and "刘洋" not in body
    assert register.id_numbers["tenant_a"][-4:] in body
    assert register.id_numbers["tenant_a"] not in body
    assert "no-store" in response["Cache-Control"]


def test_people_picker_finds_by_id_number_only_in_the_scope(
    login: Any, personas: Any, register: Register
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("registry:pick_people")
    mine = client.post(url, {"q": register.id_numbers["owner_a"]})
    assert [m["pk"] for m in mine.context["matches"]] == [register.owner_a.pk]
    theirs = client.post(url, {"q": register.id_numbers["person_b"]})
    assert theirs.context["matches"] == []
    by_name = client.post(url, {"q": "赵"})
    assert by_name.context["matches"] == []
    assert "赵" not in "".join(m["label"] for m in by_name.context["matches"])


def test_people_picker_refuses_get_and_readers_without_the_permission(
    login: Any, personas: Any, register: Register, client: Any
) -> None:
    url = reverse("registry:pick_people")
    assert client.post(url, {"q": "刘"}).status_code == 302  # to the sign-in page
    worker = login(personas.community_worker_a)
    assert worker.get(url, {"q": "刘"}).status_code == 405
    staff = login(personas.property_staff)
    response = staff.post(url, {"q": "刘"})
    assert response.status_code == 403 and "刘" not in _body(response)
    # Property staff may pick houses, but not other communities' houses.
    houses = staff.get(reverse("registry:pick_houses"), {"q": "101"})
    assert [m["pk"] for m in houses.context["matches"]] == [register.house_a101.pk]
    assert login(personas.resident).get(reverse("registry:pick_houses")).status_code == 403


# ---------------------------------------------------------------- forms with pickers


def test_residence_form_offers_pickers_not_record_numbers(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:residence_create"), {"house": register.house_a201.pk}
    )
    body = _body(response)
    assert f'hx-get="{reverse("registry:pick_houses")}?field=house"' in body
    assert f'hx-post="{reverse("registry:pick_people")}?field=person"' in body
    assert 'name="person_q"' in body and 'name="house_q"' in body
    # The house given in the link is already picked.
    assert f'name="house" value="{register.house_a201.pk}" checked' in body
    assert register.house_a201.address in body
    assert "record number" not in body and "记录编号" not in body


def test_residence_form_accepts_the_picked_records(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:residence_create"),
        {
            "person": register.unhoused_a.pk,
            "person_q": "张",
            "house": register.house_a201.pk,
            "house_q": "201",
            "relation": "tenant",
            "moved_in": "2024-05-01",
            "is_primary": "on",
        },
    )
    assert response.status_code == 302
    residence = Residence.objects.get(person=register.unhoused_a)
    assert residence.house_id == register.house_a201.pk


def test_residence_form_without_javascript_takes_an_exact_id_number_and_address(
    login: Any, personas: Any, register: Register
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:residence_create"),
        {
            "person_q": register.id_numbers["unhoused_a"],
            "house_q": register.house_a201.address,
            "relation": "owner",
            "moved_in": "2024-05-01",
            "is_primary": "on",
        },
    )
    assert response.status_code == 302
    assert Residence.objects.get(person=register.unhoused_a).house_id == register.house_a201.pk


def test_residence_form_without_javascript_lists_the_matches_to_tick(
    login: Any, personas: Any, register: Register
) -> None:
    before = Residence.objects.count()
    response = login(personas.community_worker_a).post(
        reverse("registry:residence_create"),
        {
            "person_q": "张",
            "house_q": "1单元",
            "relation": "owner",
            "moved_in": "2024-05-01",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert _has_chinese(errors["person"][0]) and _has_chinese(errors["house"][0])
    body = _body(response)
    # The matches come back as radio buttons to tick, the person masked.
    assert f'name="person" value="{register.unhoused_a.pk}"' in body
    assert f'name="house" value="{register.house_a201.pk}"' in body
    assert "张*" in body and "张敏" not in body
    assert Residence.objects.count() == before
    nothing = login(personas.community_worker_a).post(
        reverse("registry:residence_create"),
        {"person_q": "赵", "house_q": "101", "relation": "owner", "moved_in": "2024-05-01"},
    )
    assert _has_chinese(nothing.context["form"].errors["person"][0])
    assert Residence.objects.count() == before


def test_residence_form_refuses_records_outside_the_scope_without_naming_them(
    login: Any, personas: Any, register: Register
) -> None:
    before = Residence.objects.count()
    response = login(personas.community_worker_a).post(
        reverse("registry:residence_create"),
        {
            "person": register.person_b.pk,
            "house": register.house_b101.pk,
            "relation": "owner",
            "moved_in": "2024-05-01",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert OUT_OF_SCOPE in errors["person"][0]
    assert OUT_OF_SCOPE in errors["house"][0]
    body = _body(response)
    assert register.house_b101.address not in body and "赵*" not in body
    assert Residence.objects.count() == before
    # A tampered value that is not a number at all is refused the same way.
    odd = login(personas.community_worker_a).post(
        reverse("registry:residence_create"),
        {"person": "1 OR 1=1", "house": register.house_a201.pk, "relation": "owner"},
    )
    assert OUT_OF_SCOPE in odd.context["form"].errors["person"][0]


def test_household_form_picks_the_house_and_head_and_edits_them(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    response = client.post(
        reverse("registry:household_create"),
        {
            "region": tree.community_a.code,
            "number": "户-001",
            "house": register.house_a201.pk,
            "head": register.unhoused_a.pk,
        },
    )
    assert response.status_code == 302
    household = Household.objects.get(number="户-001")
    assert household.house_id == register.house_a201.pk
    assert household.head_id == register.unhoused_a.pk
    # The edit page shows the current picks, the head masked.
    edit_url = reverse("registry:household_edit", args=[household.pk])
    body = _body(client.get(edit_url))
    assert f'name="head" value="{register.unhoused_a.pk}" checked' in body
    assert "张*" in body and "张敏" not in body
    assert register.house_a201.address in body
    # Ticking "none" clears the house; a head from another community is refused.
    cleared = client.post(
        edit_url,
        {
            "region": tree.community_a.code,
            "number": "户-001",
            "house": "",
            "head": household.head_id,
        },
    )
    assert cleared.status_code == 302
    household.refresh_from_db()
    assert household.house_id is None and household.head_id == register.unhoused_a.pk
    refused = client.post(
        edit_url,
        {"region": tree.community_a.code, "number": "户-001", "head": register.person_b.pk},
    )
    assert OUT_OF_SCOPE in refused.context["form"].errors["head"][0]
    household.refresh_from_db()
    assert household.head_id == register.unhoused_a.pk


def test_vehicle_owner_is_picked_too(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    response = client.post(
        reverse("registry:vehicle_create"),
        {
            "region": tree.community_a.code,
            "plate": "鲁A12345",
            "owner_q": register.phones["owner_a"],
        },
    )
    assert response.status_code == 302
    assert Vehicle.objects.get(plate="鲁A12345").owner_id == register.owner_a.pk


# ---------------------------------------------------------------- floors


def test_floor_message_of_a_building_without_basement_starts_at_one(
    personas: Any, register: Register
) -> None:
    with pytest.raises(ServiceError) as error:
        services.create_house(
            personas.community_worker_b, unit=register.unit_b1, number="001", floor=0
        )
    message = str(error.value.message)
    assert message == gettext("The floor must be from 1 to %(high)s.") % {"high": 3}
    assert "1" in message and "3" in message and "0" not in message.replace("3", "")
    assert _has_chinese(message)


def test_floor_message_of_a_building_with_basements_skips_zero(
    personas: Any, register: Register
) -> None:
    for floor in (0, -2, 7):
        with pytest.raises(ServiceError) as error:
            services.create_house(
                personas.community_worker_a, unit=register.unit_a1, number="X", floor=floor
            )
        assert str(error.value.message) == gettext(
            "The floor must be from %(low)s to -1 or from 1 to %(high)s."
        ) % {"low": -1, "high": 6}
    assert (
        services.create_house(
            personas.community_worker_a, unit=register.unit_a1, number="B1", floor=-1
        ).floor
        == -1
    )


def test_house_form_shows_the_floor_range_in_chinese(
    login: Any, personas: Any, register: Register
) -> None:
    before = House.objects.count()
    response = login(personas.community_worker_b).post(
        reverse("registry:house_create"),
        {"unit": register.unit_b1.pk, "number": "001", "floor": "0"},
    )
    assert response.status_code == 200
    error = response.context["form"].errors["floor"][0]
    assert _has_chinese(error) and "1" in error and "3" in error
    assert error in _body(response)
    assert House.objects.count() == before
