"""Register pages: lists with filters, detail pages with the people–house links, forms, exact
search, reveal, tags, the floor plan and the overview — within scope, masked by default."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from django.utils.translation import gettext

from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry
from linli.registry import services
from linli.registry.models import (
    Building,
    House,
    Person,
    PersonTag,
    Residence,
    Tag,
)

pytestmark = pytest.mark.django_db

ANY_LIST_PAGES = [
    "organisation",
    "compound",
    "building",
    "unit",
    "house",
    "household",
    "person",
    "residence",
    "vehicle",
    "rental",
]


def _body(response: Any) -> str:
    return response.content.decode()


# ---------------------------------------------------------------- lists


@pytest.mark.parametrize("kind", ANY_LIST_PAGES)
def test_every_list_page_renders_for_a_community_worker(
    login: Any, personas: Any, register: Any, kind: str, django_assert_max_num_queries: Any
) -> None:
    client = login(personas.community_worker_a)
    with django_assert_max_num_queries(20):
        response = client.get(reverse(f"registry:{kind}_list"))
    assert response.status_code == 200, kind


@pytest.mark.parametrize("kind", ANY_LIST_PAGES)
def test_list_pages_need_the_view_permission(login: Any, personas: Any, kind: str) -> None:
    for persona in (personas.resident, personas.nobody, personas.audit_admin):
        assert login(persona).get(reverse(f"registry:{kind}_list")).status_code == 403


def test_person_list_masks_names_and_shows_only_the_scope(
    login: Any, personas: Any, register: Any
) -> None:
    body = _body(login(personas.community_worker_a).get(reverse("registry:person_list")))
    assert "王*" in body and "李**" in body
    assert "王建国" not in body and "李秀英" not in body
    assert "赵*" not in body  # community B's person
    assert register.id_numbers["owner_a"] not in body
    assert register.phones["owner_a"] not in body
    # The current address comes from the primary residence.
    assert register.house_a101.address in body


def test_person_list_query_count_stays_flat(
    login: Any, personas: Any, register: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    worker = personas.community_worker_a
    for index in range(30):
        person = services.create_person(worker, region=tree.community_a, name=f"测试{index}")
        services.move_in(
            worker,
            person=person,
            house=register.house_a201,
            relation="family",
            moved_in=date(2020, 1, 1),
        )
    client = login(worker)
    # Session, user, policy, roles, count, page, residences, tags, regions, tag choices: flat.
    with django_assert_max_num_queries(18):
        response = client.get(reverse("registry:person_list"))
    assert len(response.context["rows"]) == 34


def test_person_list_filters_by_registration_type_age_band_gender_and_tag(
    login: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("registry:person_list")

    def names(**params: str) -> set[str]:
        response = client.get(url, params)
        assert response.status_code == 200
        return {row["person"].pk for row in response.context["rows"]}

    r = register
    assert names(registration_type="floating") == {r.tenant_a.pk}
    assert names(gender="F") == {r.spouse_a.pk, r.unhoused_a.pk}
    assert names(age_band="60-79") >= {r.owner_a.pk, r.spouse_a.pk}
    assert r.tenant_a.pk not in names(age_band="60-79")
    assert names(q="刘") == {r.tenant_a.pk}
    tag = next(iter(default_tags.values()))
    services.tag_person(personas.community_worker_a, r.owner_a, tag)
    assert names(tag=tag.code) == {r.owner_a.pk}


def test_house_list_filters_by_use_and_facility(login: Any, personas: Any, register: Any) -> None:
    services.update_record(personas.community_worker_a, register.house_a201, has_gigabit=True)
    client = login(personas.community_worker_a)
    url = reverse("registry:house_list")
    rented = client.get(url, {"use": "rented"})
    assert register.house_a102.address in _body(rented)
    assert register.house_a101.address not in _body(rented)
    gigabit = client.get(url, {"has_gigabit": "true"})
    assert register.house_a201.address in _body(gigabit)
    assert register.house_a101.address not in _body(gigabit)
    assert register.house_b101.address not in _body(client.get(url))


def test_region_filter_outside_the_scope_shows_nothing(
    login: Any, personas: Any, register: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:person_list"), {"region": tree.community_b.code}
    )
    assert response.context["rows"] == []


# ---------------------------------------------------------------- exact search


def test_exact_search_by_id_number_finds_the_person_by_post(
    login: Any, personas: Any, register: Any
) -> None:
    client = login(personas.community_worker_a)
    response = client.post(
        reverse("registry:person_search"), {"value": register.id_numbers["tenant_a"]}
    )
    assert response.status_code == 200
    assert [row["person"].pk for row in response.context["rows"]] == [register.tenant_a.pk]
    assert register.id_numbers["tenant_a"] not in _body(response).replace(
        'value="' + register.id_numbers["tenant_a"] + '"', ""
    )
    assert "no-store" in response["Cache-Control"]


def test_exact_search_accepts_an_id_number_typed_in_groups(
    login: Any, personas: Any, register: Any
) -> None:
    number = register.id_numbers["tenant_a"]
    spaced = f"{number[:6]} {number[6:10]} {number[10:14]} {number[14:]}"  # 21 characters
    response = login(personas.community_worker_a).post(
        reverse("registry:person_search"), {"value": spaced}
    )
    assert response.status_code == 200
    assert [row["person"].pk for row in response.context["rows"]] == [register.tenant_a.pk]


def test_exact_search_by_mobile_finds_the_person(login: Any, personas: Any, register: Any) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:person_search"), {"value": register.phones["unhoused_a"]}
    )
    assert [row["person"].pk for row in response.context["rows"]] == [register.unhoused_a.pk]


def test_exact_search_is_refused_as_a_get(login: Any, personas: Any, register: Any) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:person_search"), {"value": register.id_numbers["tenant_a"]}
    )
    assert response.status_code == 405


def test_exact_search_does_not_find_a_person_outside_the_scope(
    login: Any, personas: Any, register: Any
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:person_search"), {"value": register.id_numbers["person_b"]}
    )
    assert response.status_code == 200
    assert response.context["rows"] == []


def test_exact_search_explains_an_unrecognised_value_in_chinese(
    login: Any, personas: Any, register: Any
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:person_search"), {"value": "12345"}
    )
    assert response.status_code == 200
    assert response.context["search_form"].errors
    message = gettext("Enter an 18-character ID number or an 11-digit mobile phone number.")
    assert message in _body(response)


# ---------------------------------------------------------------- person detail


def test_person_detail_shows_houses_household_tags_and_masked_history(
    login: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    worker = personas.community_worker_a
    tag = next(iter(default_tags.values()))
    services.tag_person(worker, register.owner_a, tag, note="独居")
    services.move_out(worker, Residence.objects.get(person=register.tenant_a), date(2024, 1, 1))
    services.move_in(
        worker,
        person=register.tenant_a,
        house=register.house_a201,
        relation="tenant",
        moved_in=date(2024, 1, 2),
    )
    services.update_record(worker, register.tenant_a, name="刘洋洋")
    response = login(worker).get(reverse("registry:person_detail", args=[register.tenant_a.pk]))
    body = _body(response)
    assert response.status_code == 200
    # Current and past houses (人房关联).
    assert [r.house_id for r in response.context["current_residences"]] == [register.house_a201.pk]
    assert [r.house_id for r in response.context["past_residences"]] == [register.house_a102.pk]
    assert register.house_a102.address in body and register.house_a201.address in body
    # Masked everywhere, the history too.
    assert "刘洋" not in body
    assert "刘**" in body
    assert register.id_numbers["tenant_a"] not in body
    assert register.id_numbers["tenant_a"][:6] + "********" in body
    owner_page = _body(
        login(worker).get(reverse("registry:person_detail", args=[register.owner_a.pk]))
    )
    assert tag.name in owner_page and "独居" in owner_page and worker.username in owner_page


def test_person_of_another_community_answers_404_on_every_page(
    login: Any, personas: Any, register: Any
) -> None:
    client = login(personas.community_worker_a)
    pk = register.person_b.pk
    for name in ("person_detail", "person_edit", "person_retire"):
        assert client.get(reverse(f"registry:{name}", args=[pk])).status_code == 404, name
    house = register.house_b101.pk
    for name in ("house_detail", "house_edit", "house_retire"):
        assert client.get(reverse(f"registry:{name}", args=[house])).status_code == 404, name
    response = client.post(reverse("registry:person_reveal", args=[pk, "phone"]))
    assert response.status_code == 404


def test_reveal_shows_one_field_and_audits_it(login: Any, personas: Any, register: Any) -> None:
    before = AuditEntry.objects.filter(action=AuditAction.REVEAL).count()
    response = login(personas.community_worker_a).post(
        reverse("registry:person_reveal", args=[register.owner_a.pk, "id_number"]),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert register.id_numbers["owner_a"] in _body(response)
    assert "<html" not in _body(response)
    assert "no-store" in response["Cache-Control"]
    entries = AuditEntry.objects.filter(action=AuditAction.REVEAL)
    assert entries.count() == before + 1
    assert entries.order_by("-seq").first().object_id == str(register.owner_a.pk)


def test_reveal_is_refused_without_the_permission_and_not_audited(
    login: Any, personas: Any, register: Any
) -> None:
    before = AuditEntry.objects.filter(action=AuditAction.REVEAL).count()
    for persona in (personas.grid_worker, personas.county_operator):
        response = login(persona).post(
            reverse("registry:person_reveal", args=[register.owner_a.pk, "phone"])
        )
        assert response.status_code == 403
        assert register.phones["owner_a"] not in _body(response)
    assert AuditEntry.objects.filter(action=AuditAction.REVEAL).count() == before


def test_reveal_button_is_offered_only_with_the_permission(
    login: Any, personas: Any, register: Any
) -> None:
    url = reverse("registry:person_detail", args=[register.owner_a.pk])
    reveal = reverse("registry:person_reveal", args=[register.owner_a.pk, "phone"])
    assert reveal in _body(login(personas.community_worker_a).get(url))
    assert reveal not in _body(login(personas.county_operator).get(url))


# ---------------------------------------------------------------- forms


def test_create_person_through_the_form(login: Any, personas: Any, tree: Any) -> None:
    from tests.registry.conftest import synthetic_id_number

    id_number = synthetic_id_number(date(1990, 2, 3), "F", "form")
    response = login(personas.community_worker_a).post(
        reverse("registry:person_create"),
        {
            "region": tree.grid_a1.code,
            "name": "孙丽",
            "id_number": id_number,
            "phone": "13905319999",
            "registration_type": "permanent",
            "ethnicity": "汉族",
            "education": "bachelor",
            "employment": "employed",
            "political_status": "masses",
        },
    )
    person = Person.objects.get(name="孙丽")
    assert response.status_code == 302
    assert response["Location"] == reverse("registry:person_detail", args=[person.pk])
    assert person.gender == "F" and person.birth_date == date(1990, 2, 3)


def test_invalid_id_number_is_a_chinese_error_and_nothing_is_written(
    login: Any, personas: Any, tree: Any
) -> None:
    before = Person.objects.count()
    response = login(personas.community_worker_a).post(
        reverse("registry:person_create"),
        {
            "region": tree.community_a.code,
            "name": "钱多",
            "id_number": "370124199001011230",
            "registration_type": "permanent",
            "education": "unknown",
            "employment": "unknown",
            "political_status": "masses",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    errors = response.context["form"].errors["id_number"]
    # The validators' message, in Chinese (foundation catalogue).
    assert re.search("[\u4e00-\u9fff]", errors[0]), errors
    assert errors[0] in _body(response)
    assert Person.objects.count() == before


def test_tampered_region_outside_the_scope_is_refused_and_nothing_written(
    login: Any, personas: Any, tree: Any
) -> None:
    before = Person.objects.count()
    response = login(personas.community_worker_a).post(
        reverse("registry:person_create"),
        {
            "region": tree.community_b.code,
            "name": "越界",
            "registration_type": "permanent",
            "education": "unknown",
            "employment": "unknown",
            "political_status": "masses",
        },
    )
    assert response.status_code == 200
    assert "region" in response.context["form"].errors
    assert Person.objects.count() == before


def test_tampered_unit_of_another_community_is_refused(
    login: Any, personas: Any, register: Any
) -> None:
    before = House.objects.count()
    response = login(personas.community_worker_a).post(
        reverse("registry:house_create"),
        {"unit": register.unit_b1.pk, "number": "999", "floor": "3"},
    )
    assert response.status_code == 200
    assert "unit" in response.context["form"].errors
    assert House.objects.count() == before


def test_edit_keeps_the_secret_fields_when_left_empty(
    login: Any, personas: Any, register: Any
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("registry:person_edit", args=[register.owner_a.pk])
    page = _body(client.get(url))
    assert register.id_numbers["owner_a"] not in page and "王建国" not in page
    response = client.post(
        url,
        {
            "region": register.owner_a.region.code,
            "name": "",
            "id_number": "",
            "phone": "",
            "registration_type": "registered",
            "ethnicity": "回族",
            "education": "senior",
            "employment": "retired",
            "political_status": "masses",
        },
    )
    assert response.status_code == 302
    person = Person.objects.get(pk=register.owner_a.pk)
    assert person.ethnicity == "回族" and person.name == "王建国"
    assert person.id_number == register.id_numbers["owner_a"]


def test_edit_needs_the_change_permission(login: Any, personas: Any, register: Any) -> None:
    url = reverse("registry:compound_edit", args=[register.compound_a.pk])
    response = login(personas.property_staff).post(url, {"name": "改名", "kind": "open"})
    assert response.status_code == 403
    register.compound_a.refresh_from_db()
    assert register.compound_a.name == "锦源小区"


def test_retire_refused_with_residents_shows_the_reason(
    login: Any, personas: Any, register: Any
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:house_retire", args=[register.house_a101.pk]), follow=True
    )
    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert errors and gettext("People still live in this house; move them out first.") in errors[0]
    assert House.objects.get(pk=register.house_a101.pk).retired_at is None


def test_retire_a_vacant_house(login: Any, personas: Any, register: Any) -> None:
    response = login(personas.community_worker_a).post(
        reverse("registry:house_retire", args=[register.house_a201.pk])
    )
    assert response.status_code == 302
    assert House.objects.get(pk=register.house_a201.pk).retired_at is not None


def test_move_in_and_out_from_the_pages(login: Any, personas: Any, register: Any) -> None:
    client = login(personas.community_worker_a)
    response = client.post(
        reverse("registry:residence_create"),
        {
            "person": register.unhoused_a.pk,
            "house": register.house_a201.pk,
            "relation": "tenant",
            "moved_in": "2024-05-01",
            "is_primary": "on",
        },
    )
    assert response.status_code == 302
    residence = Residence.objects.get(person=register.unhoused_a)
    assert House.objects.get(pk=register.house_a201.pk).use == "rented"
    client.post(
        reverse("registry:residence_move_out", args=[residence.pk]), {"moved_out": "2024-06-01"}
    )
    residence.refresh_from_db()
    assert residence.moved_out == date(2024, 6, 1)
    assert House.objects.get(pk=register.house_a201.pk).use == "vacant"


def test_house_detail_lists_current_and_past_residents_masked(
    login: Any, personas: Any, register: Any
) -> None:
    worker = personas.community_worker_a
    services.move_out(worker, Residence.objects.get(person=register.spouse_a), date(2024, 1, 1))
    response = login(worker).get(reverse("registry:house_detail", args=[register.house_a101.pk]))
    body = _body(response)
    assert [r.person_id for r, _name in response.context["current"]] == [register.owner_a.pk]
    assert [r.person_id for r, _name in response.context["past"]] == [register.spouse_a.pk]
    assert "王*" in body and "李**" in body and "王建国" not in body


def test_set_house_use_by_hand(login: Any, personas: Any, register: Any) -> None:
    login(personas.community_worker_a).post(
        reverse("registry:house_set_use", args=[register.house_a201.pk]), {"use": "commercial"}
    )
    house = House.objects.get(pk=register.house_a201.pk)
    assert house.use == "commercial" and house.use_is_explicit


def test_set_house_use_denied_to_property_staff(login: Any, personas: Any, register: Any) -> None:
    response = login(personas.property_staff).post(
        reverse("registry:house_set_use", args=[register.house_a201.pk]), {"use": "commercial"}
    )
    assert response.status_code == 403
    assert House.objects.get(pk=register.house_a201.pk).use == "vacant"


# ---------------------------------------------------------------- tags


def test_tag_and_untag_a_person_from_the_detail_page(
    login: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    tag = next(iter(default_tags.values()))
    client = login(personas.community_worker_a)
    response = client.post(
        reverse("registry:person_tag", args=[register.owner_a.pk]), {"tag": tag.pk, "note": "x"}
    )
    assert response.status_code == 302
    link = PersonTag.objects.get(person=register.owner_a, tag=tag)
    assert link.tagged_by == personas.community_worker_a and link.removed_at is None
    client.post(reverse("registry:person_untag", args=[register.owner_a.pk, tag.pk]))
    link.refresh_from_db()
    assert link.removed_at is not None


def test_tagging_is_refused_without_the_permission(
    login: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    tag = next(iter(default_tags.values()))
    response = login(personas.county_operator).post(
        reverse("registry:person_tag", args=[register.owner_a.pk]), {"tag": tag.pk}
    )
    assert response.status_code == 403
    assert not PersonTag.objects.exists()


def test_bulk_tag_from_the_list(
    login: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    tag = next(iter(default_tags.values()))
    client = login(personas.community_worker_a)
    list_page = _body(client.get(reverse("registry:person_list")))
    assert 'name="person"' in list_page
    response = client.post(
        reverse("registry:person_bulk_tag"),
        {"person": [register.owner_a.pk, register.spouse_a.pk], "tag": tag.pk},
    )
    assert response.status_code == 302
    assert set(PersonTag.objects.filter(tag=tag).values_list("person_id", flat=True)) == {
        register.owner_a.pk,
        register.spouse_a.pk,
    }


def test_bulk_tag_with_a_person_outside_the_scope_writes_nothing(
    login: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    tag = next(iter(default_tags.values()))
    response = login(personas.community_worker_a).post(
        reverse("registry:person_bulk_tag"),
        {"person": [register.owner_a.pk, register.person_b.pk], "tag": tag.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert not PersonTag.objects.exists()
    assert gettext("Some selected people do not exist or are outside your scope.") in _body(
        response
    )


def test_tag_management_needs_change_tag(login: Any, personas: Any, default_tags: Any) -> None:
    assert login(personas.community_worker_a).get(reverse("registry:tags")).status_code == 403
    before = Tag.objects.count()
    response = login(personas.community_worker_a).post(
        reverse("registry:tags"),
        {
            "form": "tag",
            "tag-category": Tag.objects.first().category_id,
            "tag-code": "x",
            "tag-name": "x",
        },
    )
    assert response.status_code == 403
    assert Tag.objects.count() == before


def test_county_operator_manages_the_taxonomy(login: Any, personas: Any, default_tags: Any) -> None:
    client = login(personas.county_operator)
    page = client.get(reverse("registry:tags"))
    assert page.status_code == 200
    tag = next(iter(default_tags.values()))
    assert tag.name in _body(page)
    client.post(
        reverse("registry:tags"),
        {"form": "category", "category-code": "pilot", "category-name": "试点"},
    )
    client.post(
        reverse("registry:tags"),
        {
            "form": "tag",
            "tag-category": Tag.objects.filter(code=tag.code).get().category_id,
            "tag-code": "pilot-tag",
            "tag-name": "试点标签",
        },
    )
    assert Tag.objects.filter(code="pilot-tag", name="试点标签").exists()
    client.post(
        reverse("registry:tag_edit", args=[tag.pk]),
        {"name": "改名标签", "order": "3", "is_active": "on"},
    )
    assert Tag.objects.get(pk=tag.pk).name == "改名标签"


# ---------------------------------------------------------------- floor plan


def test_floor_plan_of_a_33_floor_building_renders_every_house_with_bounded_queries(
    login: Any, personas: Any, register: Any, django_assert_max_num_queries: Any
) -> None:
    worker = personas.community_worker_a
    building = services.create_building(
        worker, compound=register.compound_a, number="9", floors_above=33, units=4
    )
    units = list(building.units.order_by("number"))
    houses = []
    for unit in units:
        for floor in range(1, 34):
            for door in (1, 2):
                houses.append(
                    services.create_house(
                        worker, unit=unit, number=f"{floor}{door:02d}", floor=floor
                    )
                )
    services.move_in(
        worker,
        person=register.unhoused_a,
        house=houses[-1],
        relation="owner",
        moved_in=date(2024, 1, 1),
    )
    client = login(worker)
    with django_assert_max_num_queries(25):
        response = client.get(reverse("registry:building_detail", args=[building.pk]))
    body = _body(response)
    assert response.status_code == 200
    plan = response.context["plan"]
    assert [row["floor"] for row in plan["rows"]][:2] == [33, 32]
    assert plan["rows"][-1]["floor"] == 1
    assert len(plan["units"]) == 4
    for house in houses:
        assert reverse("registry:house_detail", args=[house.pk]) in body
    assert "scroll-x" in body  # the wide grid scrolls on a phone
    assert body.count('class="house-box"') == len(houses) == 264


def test_floor_plan_of_another_community_answers_404(
    login: Any, personas: Any, register: Any
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:building_detail", args=[register.building_b.pk])
    )
    assert response.status_code == 404


def test_property_staff_see_places_but_not_people(login: Any, personas: Any, register: Any) -> None:
    client = login(personas.property_staff)
    assert (
        client.get(reverse("registry:building_detail", args=[register.building_a.pk])).status_code
        == 200
    )
    assert (
        client.get(reverse("registry:person_detail", args=[register.owner_a.pk])).status_code == 403
    )
    assert client.get(reverse("registry:index")).status_code == 302


# ---------------------------------------------------------------- overview


def test_overview_numbers_match_the_fixture(
    login: Any, personas: Any, register: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:overview"), {"region": tree.community_a.code}
    )
    assert response.status_code == 200
    data = response.context["data"]
    # Community A: 王建国 (1958), 李秀英 (1962), 刘洋 (1995), 张敏 (2001).
    assert data["people"] == 4
    today = date.today()
    elderly = sum(
        1
        for born in (date(1958, 5, 12), date(1962, 9, 30), date(1995, 1, 15), date(2001, 7, 7))
        if today.year - born.year - ((today.month, today.day) < (born.month, born.day)) >= 60
    )
    assert data["elderly"] == elderly
    by_type = {row["value"]: row["count"] for row in data["by_registration_type"]}
    assert by_type == {"registered": 2, "permanent": 1, "floating": 1}
    by_gender = {row["value"]: row["count"] for row in data["by_gender"]}
    assert by_gender == {"M": 2, "F": 2}
    by_use = {row["value"]: row["count"] for row in data["houses_by_use"]}
    assert by_use["owner_occupied"] == 1 and by_use["rented"] == 1 and by_use["vacant"] == 2
    body = _body(response)
    charts = json.loads(
        re.search(
            r'<script id="overview-data" type="application/json">(.*?)</script>', body, re.S
        ).group(1)
    )
    assert sum(item["value"] for item in charts["registration"]) == 4
    assert "vendor/echarts/echarts.min.js" in body and "cdn" not in body.lower()


def test_overview_of_another_community_answers_404(
    login: Any, personas: Any, register: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("registry:overview"), {"region": tree.community_b.code}
    )
    assert response.status_code == 404


def test_navigation_has_one_registry_entry(login: Any, personas: Any, register: Any) -> None:
    body = _body(login(personas.community_worker_a).get(reverse("registry:person_list")))
    assert body.count(f'href="{reverse("registry:index")}"') == 1
    assert reverse("registry:compound_list") in body  # the sub-navigation
    assert Building.objects.exists()
