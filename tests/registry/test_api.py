"""Register API: gated lists with filters, masked personal data, exact search, audited reveal,
create / update / retire through the services, tags, the floor plan and the overview."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry
from linli.registry import services
from linli.registry.models import House, Person, PersonTag, Residence, Tag

pytestmark = pytest.mark.django_db

LISTS = [
    "registry-organisation",
    "registry-compound",
    "registry-building",
    "registry-unit",
    "registry-house",
    "registry-household",
    "registry-person",
    "registry-residence",
    "registry-vehicle",
    "registry-rental",
    "registry-persontag",
]


def url(basename: str, suffix: str = "list", *args: Any) -> str:
    return reverse(f"api:{basename}-{suffix}", args=args)


@pytest.mark.parametrize("basename", LISTS)
def test_every_list_answers_within_scope_with_flat_queries(
    api: Any, personas: Any, register: Any, basename: str, django_assert_max_num_queries: Any
) -> None:
    client = api(personas.community_worker_a)
    with django_assert_max_num_queries(10):
        response = client.get(url(basename))
    assert response.status_code == 200, response.content
    assert "results" in response.json()


@pytest.mark.parametrize("basename", LISTS)
def test_every_list_is_refused_without_the_view_permission(
    api: Any, personas: Any, basename: str
) -> None:
    for persona in (personas.resident, personas.nobody, personas.audit_admin):
        assert api(persona).get(url(basename)).status_code == 403
    assert api().get(url(basename)).status_code in (401, 403)


def test_person_list_masks_every_personal_field(api: Any, personas: Any, register: Any) -> None:
    body = api(personas.community_worker_a).get(url("registry-person")).json()
    rows = {row["id"]: row for row in body["results"]}
    owner = rows[register.owner_a.pk]
    assert owner["name"] == "王**"
    assert (
        owner["id_number"]
        == register.id_numbers["owner_a"][:6] + "********" + (register.id_numbers["owner_a"][-4:])
    )
    assert owner["phone"] == "139****0001"
    assert "birth_date" not in owner
    text = str(body)
    for secret in (*register.id_numbers.values(), *register.phones.values(), "王建国", "李秀英"):
        assert secret not in text
    assert register.person_b.pk not in rows


def test_person_list_query_count_does_not_grow_with_the_rows(
    api: Any,
    personas: Any,
    register: Any,
    tree: Any,
    default_tags: Any,
    django_assert_max_num_queries: Any,
) -> None:
    worker = personas.community_worker_a
    tag = next(iter(default_tags.values()))
    for index in range(25):
        person = services.create_person(worker, region=tree.community_a, name=f"批量{index}")
        services.tag_person(worker, person, tag)
    with django_assert_max_num_queries(8):
        response = api(worker).get(url("registry-person"))
    assert response.json()["count"] == 29
    tagged = [row for row in response.json()["results"] if row["tags"] == [tag.code]]
    assert len(tagged) == 25


def test_person_list_filters(api: Any, personas: Any, register: Any) -> None:
    client = api(personas.community_worker_a)

    def ids(**params: str) -> set[int]:
        return {row["id"] for row in client.get(url("registry-person"), params).json()["results"]}

    assert ids(registration_type="floating") == {register.tenant_a.pk}
    assert ids(gender="F") == {register.spouse_a.pk, register.unhoused_a.pk}
    assert ids(house=str(register.house_a101.pk)) == {register.owner_a.pk, register.spouse_a.pk}
    assert ids(q="张") == {register.unhoused_a.pk}


def test_house_list_filters_by_use(api: Any, personas: Any, register: Any) -> None:
    rows = api(personas.community_worker_a).get(url("registry-house"), {"use": "rented"}).json()
    assert [row["id"] for row in rows["results"]] == [register.house_a102.pk]


def test_person_and_house_of_another_community_answer_404(
    api: Any, personas: Any, register: Any
) -> None:
    client = api(personas.community_worker_a)
    assert client.get(url("registry-person", "detail", register.person_b.pk)).status_code == 404
    assert client.get(url("registry-house", "detail", register.house_b101.pk)).status_code == 404
    response = client.patch(
        url("registry-person", "detail", register.person_b.pk), {"ethnicity": "回族"}, format="json"
    )
    assert response.status_code == 404
    assert Person.objects.get(pk=register.person_b.pk).ethnicity == "汉族"
    response = client.post(
        url("registry-person", "reveal", register.person_b.pk), {"field": "phone"}, format="json"
    )
    assert response.status_code == 404


# ---------------------------------------------------------------- search and reveal


def test_search_by_id_number(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).post(
        url("registry-person", "search"),
        {"id_number": register.id_numbers["spouse_a"]},
        format="json",
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [register.spouse_a.pk]
    assert register.id_numbers["spouse_a"] not in response.content.decode()


def test_search_by_phone(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).post(
        url("registry-person", "search"), {"phone": register.phones["owner_a"]}, format="json"
    )
    assert [row["id"] for row in response.json()] == [register.owner_a.pk]


def test_search_outside_the_scope_finds_nothing(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).post(
        url("registry-person", "search"),
        {"id_number": register.id_numbers["person_b"]},
        format="json",
    )
    assert response.status_code == 200 and response.json() == []


def test_search_is_post_only_and_needs_exactly_one_value(
    api: Any, personas: Any, register: Any
) -> None:
    client = api(personas.community_worker_a)
    assert client.get(url("registry-person", "search")).status_code == 405
    response = client.post(url("registry-person", "search"), {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_search_refused_without_view_permission(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.property_staff).post(
        url("registry-person", "search"), {"phone": register.phones["owner_a"]}, format="json"
    )
    assert response.status_code == 403


def test_reveal_returns_the_plain_value_and_is_audited(
    api: Any, personas: Any, register: Any
) -> None:
    before = AuditEntry.objects.filter(action=AuditAction.REVEAL).count()
    response = api(personas.community_worker_a).post(
        url("registry-person", "reveal", register.owner_a.pk), {"field": "id_number"}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"field": "id_number", "value": register.id_numbers["owner_a"]}
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.filter(action=AuditAction.REVEAL).order_by("-seq").first()
    assert AuditEntry.objects.filter(action=AuditAction.REVEAL).count() == before + 1
    assert entry.actor == personas.community_worker_a
    assert entry.object_id == str(register.owner_a.pk)


def test_reveal_refused_without_the_permission_and_not_audited(
    api: Any, personas: Any, register: Any
) -> None:
    before = AuditEntry.objects.filter(action=AuditAction.REVEAL).count()
    for persona in (personas.county_operator, personas.grid_worker):
        response = api(persona).post(
            url("registry-person", "reveal", register.owner_a.pk), {"field": "phone"}, format="json"
        )
        assert response.status_code == 403
        assert register.phones["owner_a"] not in response.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.REVEAL).count() == before


def test_reveal_of_an_unknown_field_is_a_400(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).post(
        url("registry-person", "reveal", register.owner_a.pk), {"field": "name"}, format="json"
    )
    assert response.status_code == 400


# ---------------------------------------------------------------- create, update, retire


def test_create_person_derives_gender_and_masks_the_answer(
    api: Any, personas: Any, tree: Any
) -> None:
    from tests.registry.conftest import synthetic_id_number

    id_number = synthetic_id_number(date(1975, 6, 1), "M", "api")
    response = api(personas.community_worker_a).post(
        url("registry-person"),
        {
            "region": tree.grid_a2.code,
            "name": "周杰",
            "id_number": id_number,
            "phone": "13905318888",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "周*" and body["gender"] == "M"
    assert body["id_number"].startswith(id_number[:6]) and id_number not in str(body)
    assert body["phone"] == "139****8888"


def test_create_person_with_an_invalid_id_is_a_400_in_chinese_and_writes_nothing(
    api: Any, personas: Any, tree: Any
) -> None:
    before = Person.objects.count()
    response = api(personas.community_worker_a).post(
        url("registry-person"),
        {"region": tree.community_a.code, "name": "吴错", "id_number": "370124199001011230"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "person.id_number"
    assert "id_number" in error["fields"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])
    assert Person.objects.count() == before


def test_create_with_a_region_outside_the_scope_writes_nothing(
    api: Any, personas: Any, tree: Any
) -> None:
    before = Person.objects.count()
    response = api(personas.community_worker_a).post(
        url("registry-person"), {"region": tree.community_b.code, "name": "越界"}, format="json"
    )
    assert response.status_code == 400
    assert "region" in response.json()["error"]["fields"]
    assert Person.objects.count() == before


def test_create_house_in_a_unit_outside_the_scope_writes_nothing(
    api: Any, personas: Any, register: Any
) -> None:
    before = House.objects.count()
    response = api(personas.community_worker_a).post(
        url("registry-house"),
        {"unit": register.unit_b1.pk, "number": "301", "floor": 3},
        format="json",
    )
    assert response.status_code == 400
    assert House.objects.count() == before


def test_create_is_refused_without_the_add_permission(api: Any, personas: Any, tree: Any) -> None:
    before = Person.objects.count()
    response = api(personas.county_operator).post(
        url("registry-person"), {"region": tree.community_a.code, "name": "无权"}, format="json"
    )
    assert response.status_code == 403
    assert Person.objects.count() == before


def test_partial_update_and_its_denial(api: Any, personas: Any, register: Any) -> None:
    target = url("registry-compound", "detail", register.compound_a.pk)
    denied = api(personas.property_staff).patch(target, {"name": "改名小区"}, format="json")
    assert denied.status_code == 403
    register.compound_a.refresh_from_db()
    assert register.compound_a.name == "锦源小区"
    allowed = api(personas.community_worker_a).patch(target, {"name": "锦源新城"}, format="json")
    assert allowed.status_code == 200 and allowed.json()["name"] == "锦源新城"
    # The standard addresses follow the compound's new name.
    assert "锦源新城" in House.objects.get(pk=register.house_a101.pk).address


def test_house_use_set_by_hand_through_patch(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).patch(
        url("registry-house", "detail", register.house_a201.pk),
        {"use": "commercial", "has_gigabit": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["use"] == "commercial" and response.json()["use_is_explicit"]
    assert response.json()["has_gigabit"] is True


def test_retire_refused_while_people_live_in_the_house(
    api: Any, personas: Any, register: Any
) -> None:
    response = api(personas.community_worker_a).post(
        url("registry-house", "retire", register.house_a101.pk)
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "house.retire_refused"
    assert House.objects.get(pk=register.house_a101.pk).retired_at is None


def test_retire_a_vacant_house_and_denied_for_the_grid_worker(
    api: Any, personas: Any, register: Any
) -> None:
    target = url("registry-house", "retire", register.house_a201.pk)
    assert api(personas.grid_worker).post(target).status_code == 403
    assert House.objects.get(pk=register.house_a201.pk).retired_at is None
    response = api(personas.community_worker_a).post(target)
    assert response.status_code == 200 and response.json()["is_active"] is False


def test_move_in_and_out_through_residences(api: Any, personas: Any, register: Any) -> None:
    client = api(personas.community_worker_a)
    response = client.post(
        url("registry-residence"),
        {
            "person": register.unhoused_a.pk,
            "house": register.house_a201.pk,
            "relation": "tenant",
            "moved_in": "2024-03-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["person_name"] == "张*"
    assert House.objects.get(pk=register.house_a201.pk).use == "rented"
    out = client.post(
        url("registry-residence", "move-out", response.json()["id"]),
        {"moved_out": "2024-04-01"},
        format="json",
    )
    assert out.status_code == 200 and out.json()["moved_out"] == "2024-04-01"
    assert House.objects.get(pk=register.house_a201.pk).use == "vacant"


# ---------------------------------------------------------------- tags


def test_tags_are_listed_and_managed_with_change_tag_only(
    api: Any, personas: Any, default_tags: Any
) -> None:
    listed = api(personas.community_worker_a).get(url("registry-tag")).json()
    assert {row["code"] for row in listed} == set(default_tags)
    category = next(iter(default_tags.values())).category
    body = {"category": category.code, "code": "api-tag", "name": "接口标签"}
    assert (
        api(personas.community_worker_a).post(url("registry-tag"), body, format="json").status_code
        == 403
    )
    assert not Tag.objects.filter(code="api-tag").exists()
    created = api(personas.county_operator).post(url("registry-tag"), body, format="json")
    assert created.status_code == 201
    renamed = api(personas.county_operator).patch(
        url("registry-tag", "detail", created.json()["id"]), {"name": "改名"}, format="json"
    )
    assert renamed.json()["name"] == "改名"


def test_bulk_tag_all_or_nothing(api: Any, personas: Any, register: Any, default_tags: Any) -> None:
    tag = next(iter(default_tags.values()))
    client = api(personas.community_worker_a)
    refused = client.post(
        url("registry-person", "bulk-tag"),
        {"tag": tag.code, "people": [register.owner_a.pk, register.person_b.pk]},
        format="json",
    )
    assert refused.status_code == 404
    assert not PersonTag.objects.exists()
    done = client.post(
        url("registry-person", "bulk-tag"),
        {"tag": tag.code, "people": [register.owner_a.pk, register.spouse_a.pk]},
        format="json",
    )
    assert done.status_code == 200 and done.json() == {"tagged": 2}


def test_bulk_tag_refused_without_tag_person(
    api: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    tag = next(iter(default_tags.values()))
    response = api(personas.county_operator).post(
        url("registry-person", "bulk-tag"),
        {"tag": tag.code, "people": [register.owner_a.pk]},
        format="json",
    )
    assert response.status_code == 403
    assert not PersonTag.objects.exists()


def test_person_tags_record_who_and_when_and_untag_keeps_the_row(
    api: Any, personas: Any, register: Any, default_tags: Any
) -> None:
    tag = next(iter(default_tags.values()))
    client = api(personas.community_worker_a)
    created = client.post(
        url("registry-persontag"),
        {"person": register.owner_a.pk, "tag": tag.code, "note": "空巢"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["tagged_by"] == personas.community_worker_a.username
    assert created.json()["person_name"] == "王**"
    listed = client.get(url("registry-persontag"), {"person": register.owner_a.pk}).json()
    assert [row["tag"] for row in listed["results"]] == [tag.code]
    removed = client.post(url("registry-persontag", "retire", created.json()["id"]))
    assert removed.status_code == 200 and removed.json()["removed_at"]
    assert PersonTag.objects.filter(pk=created.json()["id"]).exists()
    other = api(personas.community_worker_b).get(
        url("registry-persontag", "detail", created.json()["id"])
    )
    assert other.status_code == 404


# ---------------------------------------------------------------- floor plan and overview


def test_floor_plan_of_a_33_floor_building(
    api: Any, personas: Any, register: Any, django_assert_max_num_queries: Any
) -> None:
    worker = personas.community_worker_a
    building = services.create_building(
        worker, compound=register.compound_a, number="33", floors_above=33, units=4
    )
    for unit in building.units.all():
        for floor in range(1, 34):
            services.create_house(worker, unit=unit, number=f"{floor}01", floor=floor)
    with django_assert_max_num_queries(10):
        response = api(worker).get(url("registry-building", "floor-plan", building.pk))
    assert response.status_code == 200
    plan = response.json()
    assert plan["floors"][0] == 33 and plan["floors"][-1] == 1
    assert len(plan["units"]) == 4 and plan["houses"] == 132
    assert all(len(floor["houses"]) == 1 for unit in plan["units"] for floor in unit["floors"])


def test_floor_plan_of_another_community_is_404(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).get(
        url("registry-building", "floor-plan", register.building_b.pk)
    )
    assert response.status_code == 404


def test_overview_numbers_match_the_fixture(
    api: Any, personas: Any, register: Any, tree: Any
) -> None:
    response = api(personas.subdistrict_manager).get(
        url("registry-overview"), {"region": tree.subdistrict_1.code, "on": "2026-01-01"}
    )
    assert response.status_code == 200, response.content
    data = response.json()
    # A: 1958, 1962, 1995, 2001; B: 1980. On 2026-01-01: 67, 63, 30, 24, 45.
    assert data["people"] == 5
    assert data["elderly"] == 2 and data["elderly_share"] == 0.4
    bands = {row["label"]: row["count"] for row in data["by_age_band"]}
    assert bands == {"0-17": 0, "18-34": 2, "35-59": 1, "60-79": 2, "80+": 0}
    uses = {row["value"]: row["count"] for row in data["houses_by_use"]}
    assert uses["owner_occupied"] == 2 and uses["rented"] == 1 and uses["vacant"] == 2
    assert data["region"]["code"] == tree.subdistrict_1.code


def test_overview_outside_the_scope_is_404_and_needs_view(
    api: Any, personas: Any, register: Any, tree: Any
) -> None:
    client = api(personas.community_worker_a)
    assert (
        client.get(url("registry-overview"), {"region": tree.community_b.code}).status_code == 404
    )
    assert (
        api(personas.resident)
        .get(url("registry-overview"), {"region": tree.community_a.code})
        .status_code
        == 403
    )
    assert Residence.objects.exists()


def test_overview_defaults_to_the_callers_own_area(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).get("/api/registry/overview/")

    assert response.status_code == 200
    assert response.json()["region"]["code"] == personas.community_worker_a.scope_codes()[0]


def test_overview_with_an_impossible_date_is_a_400(api: Any, personas: Any, register: Any) -> None:
    response = api(personas.community_worker_a).get("/api/registry/overview/", {"on": "2020-13-01"})
    assert response.status_code == 400
