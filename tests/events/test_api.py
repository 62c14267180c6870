"""The event hub's REST API: lists through the gate with the page's filters, reporting (JSON and
multipart, idempotent), lifecycle steps with optimistic concurrency, the two timelines, gated
attachments, duplicates, the reporter's and the department's lists, supervision, the category
tree, departments and dispatch rules."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.events import services
from linli.events.choices import EventStatus
from linli.events.models import Department, DispatchRule, Event, EventStep

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


def url(name: str, *args: Any) -> str:
    return reverse(f"api:{name}", args=args)


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, format="PNG")
    return buffer.getvalue()


def report_body(tree: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "category": "garbage",
        "region": tree.grid_a1.code,
        "address": "锦源小区3号楼东侧",
        "description": "楼下垃圾堆放三天无人清理",
    }
    body.update(overrides)
    return body


def another_resident(tree: Any) -> Any:
    from linli.accounts.models import Role, RoleAssignment, User

    user = User.objects.create_user(
        username="resident_a2", password="Linli-Test-2026!", home_region=tree.community_a
    )
    RoleAssignment.objects.create(
        user=user, role=Role.objects.get(code="resident"), region=tree.community_a
    )
    return user


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# ---------------------------------------------------------------- lists and filters


def test_the_list_shows_the_area_and_filters_like_the_page(
    api: Any, personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    p = personas
    mine = report_event(p.grid_worker, hub.garbage, title="三号楼垃圾")
    other = report_event(
        p.county_operator,
        hub.garbage,
        place=services.Place(region=tree.grid_b1, address="锦东小区"),
        title="锦东垃圾",
    )
    dispute = report_event(
        p.grid_worker, hub.dispute, extra={"parties": "甲乙两户"}, title="邻里纠纷"
    )
    services.transition(p.community_worker_a, mine, "accept", version=mine.version)

    client = api(p.community_worker_a)
    rows = client.get(url("events-event-list")).json()["results"]
    assert {r["id"] for r in rows} == {mine.pk, dispute.pk}  # community B's is outside the area

    def ids(**params: Any) -> set[int]:
        response = client.get(url("events-event-list"), params)
        assert response.status_code == 200, response.content
        return {r["id"] for r in response.json()["results"]}

    assert ids(status="accepted") == {mine.pk}
    assert ids(status="open") == {mine.pk, dispute.pk}
    assert ids(status="closed") == set()
    assert ids(category=hub.environment.pk) == {mine.pk}  # the parent includes its subcategories
    today = timezone.localdate()
    assert ids(reported_from=today.isoformat()) == {mine.pk, dispute.pk}
    assert ids(reported_to=(today - timedelta(days=1)).isoformat()) == set()
    assert ids(region=tree.grid_a1.code) == {mine.pk, dispute.pk}
    assert ids(region=tree.grid_a2.code) == set()
    assert ids(q=mine.number) == {mine.pk}
    assert ids(q="纠纷") == {dispute.pk}
    assert ids(source="grid") == {mine.pk, dispute.pk}
    assert ids(overdue="true") == set()
    # The county sees both communities.
    county = {
        r["id"] for r in api(p.county_operator).get(url("events-event-list")).json()["results"]
    }
    assert county == {mine.pk, other.pk, dispute.pk}


def test_the_list_needs_the_view_permission(api: Any, personas: Any) -> None:
    for persona in (personas.resident, personas.department_handler, personas.nobody):
        response = api(persona).get(url("events-event-list"))
        assert response.status_code == 403
        assert CJK.search(response.json()["error"]["message"])


def test_the_list_keeps_its_queries_flat(
    api: Any, personas: Any, hub: Any, report_event: Any, django_assert_max_num_queries: Any
) -> None:
    for n in range(6):
        event = report_event(personas.grid_worker, hub.garbage, title=f"第{n}件")
        services.transition(personas.community_worker_a, event, "accept", version=event.version)
        services.transition(
            personas.community_worker_a,
            event,
            "dispatch",
            version=event.version + 1,
            department=hub.police,
        )
    client = api(personas.county_operator)
    with django_assert_max_num_queries(8):
        response = client.get(url("events-event-list"))
    assert len(response.json()["results"]) == 6


# ---------------------------------------------------------------- reporting


def test_a_report_in_json_then_the_same_idempotency_key_answers_the_same_event(
    api: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = api(personas.grid_worker)
    first = client.post(
        url("events-event-list"), report_body(tree), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["status"] == "reported" and body["source"] == "grid"
    assert body["category"] == "garbage" and body["region"] == tree.grid_a1.code
    assert body["number"].endswith(f"{body['id']:07d}")
    again = client.post(
        url("events-event-list"), report_body(tree), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Event.objects.count() == 1
    # Without a key, a second submission is a second report.
    assert (
        client.post(url("events-event-list"), report_body(tree), format="json").status_code == 201
    )
    assert Event.objects.count() == 2


def test_a_resident_reports_with_a_photo_as_multipart(
    api: Any, personas: Any, hub: Any, tree: Any, media: Any
) -> None:
    client = api(personas.resident)
    photo = SimpleUploadedFile("scene.png", png_bytes(), content_type="image/png")
    response = client.post(
        url("events-event-list"), {**report_body(tree), "photos": [photo]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "resident"  # the default for an account without the view permission
    assert [a["content_type"] for a in body["attachments"]] == ["image/png"]
    # The reporter's version leaves out what only staff work with.
    assert "handler" not in body and "needs_ruling" not in body and "external" not in body


def test_a_mediation_case_takes_its_extra_fields_as_json_in_multipart(
    api: Any, personas: Any, hub: Any, tree: Any
) -> None:
    response = api(personas.grid_worker).post(
        url("events-event-list"),
        report_body(
            tree, category="dispute", extra=json.dumps({"parties": "张某、李某", "amount": "300"})
        ),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["extra"] == {"parties": "张某、李某", "amount": 300.0}
    assert response.json()["stage"] == "登记"


@pytest.mark.parametrize(
    ("overrides", "field_or_code"),
    [
        ({"address": ""}, "place_missing"),
        ({"region": "370124001"}, "place_region"),  # a subdistrict is not a place
        ({"category": "environment"}, "category_invalid"),  # not a leaf
        ({"category": "dispute"}, "extra_required"),  # its required field is missing
        ({"source": "hotline"}, "invalid"),  # hotline tickets come through their interface
        ({"latitude": 95, "longitude": 116.5}, "place_position"),
        ({"description": ""}, "invalid"),
    ],
)
def test_bad_reports_are_refused_in_chinese_and_nothing_is_stored(
    api: Any, personas: Any, hub: Any, tree: Any, overrides: dict[str, Any], field_or_code: str
) -> None:
    response = api(personas.grid_worker).post(
        url("events-event-list"), report_body(tree, **overrides), format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == field_or_code
    assert CJK.search(error["message"])
    assert Event.objects.count() == 0


def test_a_photo_that_is_not_a_picture_is_refused(
    api: Any, personas: Any, hub: Any, tree: Any, media: Any
) -> None:
    fake = SimpleUploadedFile("scene.jpg", b"not a picture at all", content_type="image/jpeg")
    response = api(personas.grid_worker).post(
        url("events-event-list"), {**report_body(tree), "photos": [fake]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "attachment_not_image"
    assert "scene.jpg" in response.json()["error"]["message"]
    assert Event.objects.count() == 0 and not list(media.rglob("*.jpg"))


def test_a_report_outside_the_area_does_not_exist_for_the_reporter(
    api: Any, personas: Any, hub: Any, tree: Any
) -> None:
    response = api(personas.community_worker_a).post(
        url("events-event-list"), report_body(tree, region=tree.grid_b1.code), format="json"
    )
    assert response.status_code == 404
    assert Event.objects.count() == 0
    response = api(personas.department_handler).post(
        url("events-event-list"), report_body(tree), format="json"
    )
    assert response.status_code == 403 and Event.objects.count() == 0


# ---------------------------------------------------------------- the lifecycle


def test_two_dispatchers_with_one_version_one_succeeds_and_the_other_gets_409(
    api: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = report_event(personas.grid_worker, hub.garbage)
    seen = event.version
    first = api(personas.community_worker_a).post(
        url("events-event-transition", event.pk),
        {"action": "accept", "version": seen},
        format="json",
    )
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "accepted" and first.json()["version"] == seen + 1
    second = api(personas.subdistrict_manager).post(
        url("events-event-transition", event.pk),
        {"action": "reject", "version": seen, "note": "不属实"},
        format="json",
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "event_changed"
    assert CJK.search(second.json()["error"]["message"])
    event.refresh_from_db()
    assert event.status == EventStatus.ACCEPTED
    assert list(event.steps.values_list("action", flat=True)) == ["report", "accept"]


def test_the_transition_endpoint_carries_the_whole_lifecycle(
    api: Any, personas: Any, hub: Any, report_event: Any, media: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)

    def step(user: Any, action: str, **extra: Any) -> dict[str, Any]:
        current = Event.objects.get(pk=event.pk)
        response = api(user).post(
            url("events-event-transition", event.pk),
            {"action": action, "version": current.version, **extra},
            format="multipart" if "files" in extra else "json",
        )
        assert response.status_code == 200, response.content
        return dict(response.json())

    step(p.community_worker_a, "accept")
    choices = api(p.community_worker_a).get(url("events-event-departments", event.pk)).json()
    assert {c["name"] for c in choices} >= {hub.police.name, hub.committee_a.name}
    police = next(c for c in choices if c["id"] == hub.police.pk)
    assert [m["id"] for m in police["members"]] == [p.department_handler.pk]
    body = step(p.community_worker_a, "dispatch", department=hub.police.pk)
    assert body["department_name"] == hub.police.name
    # The department's member now reaches it: in its queue and by id, but not through the list.
    handler = api(p.department_handler)
    assert [r["id"] for r in handler.get(url("events-event-handling")).json()["results"]] == [
        event.pk
    ]
    detail = handler.get(url("events-event-detail", event.pk)).json()
    assert {a["action"] for a in detail["actions"]} >= {"sign", "return"}
    step(p.department_handler, "sign")
    report = SimpleUploadedFile("result.pdf", b"%PDF-1.4 result", content_type="application/pdf")
    body = step(p.department_handler, "handle", note="已清运", files=[report])
    assert body["status"] == "handled"
    assert any(a["name"] == "result.pdf" for a in body["attachments"])
    step(p.community_worker_a, "review")
    step(p.community_worker_a, "close")
    body = step(p.grid_worker, "rate", rating="satisfied", note="很快")
    assert body["rating"] == "satisfied" and body["status"] == "closed"


def test_a_step_the_actor_may_not_take_is_refused_and_changes_nothing(
    api: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = report_event(personas.grid_worker, hub.garbage)
    # A department member reaches only its department's events: this one does not exist for it.
    response = api(personas.department_handler).post(
        url("events-event-transition", event.pk),
        {"action": "accept", "version": event.version},
        format="json",
    )
    assert response.status_code == 404
    # The reporter sees it, but may not accept it.
    response = api(personas.grid_worker).post(
        url("events-event-transition", event.pk),
        {"action": "accept", "version": event.version},
        format="json",
    )
    assert response.status_code == 403
    assert CJK.search(response.json()["error"]["message"])
    # An action that needs a note says so.
    response = api(personas.community_worker_a).post(
        url("events-event-transition", event.pk),
        {"action": "reject", "version": event.version},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "note_missing"
    event.refresh_from_db()
    assert event.status == EventStatus.REPORTED and event.steps.count() == 1


# ---------------------------------------------------------------- what each one sees


def test_staff_get_the_full_timeline_and_the_reporter_the_public_one(
    api: Any, personas: Any, hub: Any, tree: Any
) -> None:
    p = personas
    created = api(p.resident).post(url("events-event-list"), report_body(tree), format="json")
    event = Event.objects.get(pk=created.json()["id"])
    event = services.transition(p.community_worker_a, event, "accept", version=event.version)
    event = services.transition(
        p.community_worker_a, event, "comment", version=event.version, note="内部备注"
    )
    staff = api(p.community_worker_a).get(url("events-event-timeline", event.pk)).json()
    assert [s["action"] for s in staff] == ["report", "accept", "comment"]
    assert staff[0]["actor_name"] == str(p.resident)
    public = api(p.resident).get(url("events-event-timeline", event.pk)).json()
    assert [s["action"] for s in public] == ["report", "accept"]
    assert "actor_name" not in public[0]
    # Another resident of the same community: the event does not exist for them.
    stranger = another_resident(tree)
    assert api(stranger).get(url("events-event-detail", event.pk)).status_code == 404
    assert api(stranger).get(url("events-event-timeline", event.pk)).status_code == 404


def test_mine_lists_the_callers_own_reports(
    api: Any, personas: Any, hub: Any, tree: Any, report_event: Any
) -> None:
    client = api(personas.resident)
    own = client.post(url("events-event-list"), report_body(tree), format="json").json()["id"]
    report_event(personas.grid_worker, hub.garbage)
    rows = client.get(url("events-event-mine")).json()["results"]
    assert [r["id"] for r in rows] == [own]
    assert "handler" not in rows[0]


def test_attachments_are_downloaded_through_the_gate_and_audited(
    api: Any, personas: Any, hub: Any, report_event: Any, tree: Any, media: Any
) -> None:
    photo = SimpleUploadedFile("scene.png", png_bytes(), content_type="image/png")
    event = report_event(personas.grid_worker, hub.garbage, photos=[photo])
    attachment = event.attachments.get()
    link = url("events-event-attachment", event.pk, attachment.pk)
    response = api(personas.community_worker_a).get(link)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png_bytes()
    assert AuditEntry.objects.filter(action="download", object_id=str(event.pk)).exists()
    assert api(personas.community_worker_b).get(link).status_code == 404
    assert api(personas.grid_worker).get(link).status_code == 200  # the reporter
    assert (
        api(personas.community_worker_a)
        .get(url("events-event-attachment", event.pk, attachment.pk + 99))
        .status_code
        == 404
    )


def test_duplicates_offer_open_events_of_the_category_nearby(
    api: Any, personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    near = report_event(
        personas.grid_worker,
        hub.garbage,
        place=services.Place(
            region=tree.grid_a1, latitude=Decimal("36.27"), longitude=Decimal("116.45")
        ),
    )
    report_event(
        personas.grid_worker,
        hub.garbage,
        place=services.Place(
            region=tree.grid_a1, latitude=Decimal("36.30"), longitude=Decimal("116.45")
        ),
    )
    params = {
        "category": "garbage",
        "region": tree.grid_a1.code,
        "latitude": "36.2702",
        "longitude": "116.4501",
    }
    rows = api(personas.community_worker_a).get(url("events-event-duplicates"), params).json()
    assert [r["id"] for r in rows] == [near.pk]
    # Someone who may not see the area is offered nothing, and a resident may not ask.
    assert api(personas.community_worker_b).get(url("events-event-duplicates"), params).json() == []
    assert api(personas.resident).get(url("events-event-duplicates"), params).status_code == 403


def test_the_supervision_list_shows_overdue_events_to_supervisors(
    api: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    late = report_event(personas.grid_worker, hub.garbage)
    report_event(personas.grid_worker, hub.garbage)
    Event.objects.filter(pk=late.pk).update(state_deadline=timezone.now() - timedelta(hours=1))
    services.sweep()
    rows = api(personas.subdistrict_manager).get(url("events-event-supervision")).json()["results"]
    assert [r["id"] for r in rows] == [late.pk] and rows[0]["overdue"] is True
    assert api(personas.community_worker_a).get(url("events-event-supervision")).status_code == 403


# ---------------------------------------------------------------- configuration


def test_the_category_tree_carries_the_effective_settings(
    api: Any, personas: Any, hub: Any
) -> None:
    response = api(personas.resident).get(url("events-category-list"))
    assert response.status_code == 200
    roots = {node["code"]: node for node in response.json()}
    environment = roots["environment"]
    assert environment["is_leaf"] is False
    children = {node["code"]: node for node in environment["children"]}
    garbage = children["garbage"]["effective"]
    # Nothing set on 暴露垃圾 itself: the parent's limits and default department apply.
    assert garbage["limits"]["signed_for"] == 24.0 and garbage["limit_unit"] == "hours"
    assert garbage["default_department_name"] == hub.urban.name
    assert children["noise"]["effective"]["auto_dispatch"] is True
    assert roots["dispute"]["effective"]["stages"] == ["登记", "分类", "调解", "归档"]
    one = api(personas.resident).get(url("events-category-detail", "noise")).json()
    assert one["parent"] == "environment" and one["is_leaf"] is True
    assert api(personas.resident).get(url("events-category-detail", "nope")).status_code == 404


def test_departments_are_created_changed_and_retired_in_the_area(
    api: Any, personas: Any, hub: Any, tree: Any, report_event: Any
) -> None:
    client = api(personas.subdistrict_manager)
    created = client.post(
        url("events-department-list"),
        {
            "region": tree.community_b.code,
            "name": "锦东物业",
            "kind": "property",
            "members": [personas.community_worker_b.pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert [m["id"] for m in created.json()["members"]] == [personas.community_worker_b.pk]
    changed = client.patch(
        url("events-department-detail", pk),
        {"phone": "0531-87000000", "members": []},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["members"] == []
    assert changed.json()["phone"] == "0531-87000000"
    # Same name in the same area: refused.
    again = client.post(
        url("events-department-list"),
        {"region": tree.community_b.code, "name": "锦东物业"},
        format="json",
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "name_taken"
    # A department with open events is not retired.
    event = report_event(personas.grid_worker, hub.garbage)
    event = services.transition(personas.community_worker_a, event, "accept", version=event.version)
    services.transition(
        personas.community_worker_a,
        event,
        "dispatch",
        version=event.version,
        department=hub.committee_a,
    )
    refused = client.post(url("events-department-retire", hub.committee_a.pk))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "department_busy"
    assert Department.objects.get(pk=hub.committee_a.pk).retired_at is None
    retired = client.post(url("events-department-retire", pk))
    assert retired.status_code == 200 and retired.json()["is_active"] is False
    # A community worker reads departments of the area but does not create them.
    worker = api(personas.community_worker_a)
    names = {d["name"] for d in worker.get(url("events-department-list")).json()["results"]}
    assert names == {hub.committee_a.name, hub.property_a.name}
    denied = worker.post(
        url("events-department-list"),
        {"region": tree.community_a.code, "name": "新部门"},
        format="json",
    )
    assert denied.status_code == 403
    assert Department.objects.filter(name="新部门").count() == 0


def test_dispatch_rules_route_to_departments_serving_the_whole_area(
    api: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = api(personas.county_operator)
    created = client.post(
        url("events-dispatchrule-list"),
        {"region": tree.community_b.code, "category": "garbage", "department": hub.urban.pk},
        format="json",
    )
    assert created.status_code == 201, created.content
    rule = DispatchRule.objects.get(pk=created.json()["id"])
    assert services.dispatch_target(hub.garbage, tree.grid_b1.code) == hub.urban
    # Community A's committee does not serve community B.
    refused = client.patch(
        url("events-dispatchrule-detail", rule.pk),
        {"department": hub.committee_a.pk},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "department_invalid"
    duplicate = client.post(
        url("events-dispatchrule-list"),
        {"region": tree.community_b.code, "category": "garbage", "department": hub.police.pk},
        format="json",
    )
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == "rule_exists"
    changed = client.patch(
        url("events-dispatchrule-detail", rule.pk), {"department": hub.police.pk}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["department"] == hub.police.pk
    removed = client.post(url("events-dispatchrule-retire", rule.pk))
    assert removed.status_code == 204 and not DispatchRule.objects.filter(pk=rule.pk).exists()
    assert AuditEntry.objects.filter(object_type="events.dispatchrule", action="retire").exists()
    # A community worker may read rules of the area, not make them.
    denied = api(personas.community_worker_a).post(
        url("events-dispatchrule-list"),
        {"region": tree.community_a.code, "category": "noise", "department": hub.committee_a.pk},
        format="json",
    )
    assert denied.status_code == 403


def test_the_openapi_schema_documents_the_event_api(api: Any, personas: Any) -> None:
    response = api(personas.county_operator).get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in (
        "/api/events/",
        "/api/events/{id}/",
        "/api/events/{id}/transition/",
        "/api/events/{id}/timeline/",
        "/api/events/{id}/attachments/{attachment_id}/",
        "/api/events/mine/",
        "/api/events/supervision/",
        "/api/events/duplicates/",
        "/api/events/categories/",
        "/api/events/departments/",
        "/api/events/dispatch-rules/",
        "/api/hotline/tickets/",
        "/api/hotline/tickets/{ticket}/",
    ):
        assert path in paths, path
    create = paths["/api/events/"]["post"]
    assert set(create["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert "409" in paths["/api/events/{id}/transition/"]["post"]["responses"]
    filters = {p["name"] for p in paths["/api/events/"]["get"]["parameters"]}
    assert {
        "status",
        "category",
        "region",
        "q",
        "overdue",
        "reported_from",
        "reported_to",
    } <= filters


def test_unknown_steps_and_versions_are_told_apart(
    api: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = report_event(personas.grid_worker, hub.garbage)
    response = api(personas.community_worker_a).post(
        url("events-event-transition", event.pk), {"action": "fly", "version": 0}, format="json"
    )
    assert response.status_code == 400 and "action" in response.json()["error"]["fields"]
    response = api(personas.community_worker_a).post(
        url("events-event-transition", event.pk), {"action": "accept"}, format="json"
    )
    assert response.status_code == 400 and "version" in response.json()["error"]["fields"]
    assert EventStep.objects.filter(event=event).count() == 1
