"""Open311 GeoReport v2 as a client sees it: list services, read a definition, post a request
with an api_key, redeem the token, fetch the request and its updates — in JSON and XML — and the
errors in the Open311 format for every kind of bad input."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.accounts.models import Role, RoleAssignment, User
from linli.accounts.services import issue_api_token
from linli.events import services
from linli.events.models import Event, EventCategory
from linli.events.models_integration import ExternalReport
from linli.events.open311 import w3

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded; charset=utf-8"


@dataclass
class Open311:
    client: Client
    key: str
    account: User
    parking: EventCategory

    def url(self, name: str, *args: Any, fmt: str = "json") -> str:
        return reverse(f"events_open311:{name}", args=[*args, fmt])

    def get(self, name: str, *args: Any, fmt: str = "json", **params: Any) -> Any:
        return self.client.get(self.url(name, *args, fmt=fmt), params)

    def post(self, fields: dict[str, Any], *, fmt: str = "json", **headers: Any) -> Any:
        return self.client.post(
            self.url("requests", fmt=fmt),
            urlencode(fields, doseq=True),
            content_type=FORM,
            **headers,
        )


def integration_account(
    tree: Any, personas: Any, username: str = "open311_app"
) -> tuple[User, str]:
    account = User.objects.create_user(
        username=username, password="Linli-Test-2026!", home_region=tree.county
    )
    RoleAssignment.objects.create(
        user=account, role=Role.objects.get(code="integration"), region=tree.county
    )
    _token, raw = issue_api_token(personas.system_admin, account, "open311 client")
    return account, raw


@pytest.fixture
def o311(tree: Any, personas: Any, hub: Any) -> Open311:
    for node, lat, lng in (
        (tree.grid_a1, "36.270000", "116.450000"),
        (tree.grid_a2, "36.290000", "116.470000"),
    ):
        node.latitude, node.longitude = Decimal(lat), Decimal(lng)
        node.save(update_fields=["latitude", "longitude"])
    parking = EventCategory.objects.create(
        code="parking",
        name="违章停车",
        parent=hub.environment,
        description="占用消防通道、人行道的车辆",
        extra_fields=[
            {"key": "plate", "label": "车牌号", "type": "text", "required": True},
            {"key": "size", "label": "车型", "type": "choice", "choices": ["小型车", "大型车"]},
            {"key": "seen_on", "label": "发现日期", "type": "date"},
            {"key": "blocking", "label": "堵塞消防通道", "type": "bool"},
        ],
    )
    account, key = integration_account(tree, personas)
    return Open311(Client(), key, account, parking)


def garbage_request(o311: Open311, **overrides: Any) -> dict[str, Any]:
    fields = {
        "api_key": o311.key,
        "service_code": "garbage",
        "lat": "36.2701",
        "long": "116.4502",
        "address_string": "锦源小区3号楼东侧",
        "description": "楼下垃圾堆放三天无人清理",
        "first_name": "小明",
        "last_name": "王",
        "phone": "13800138000",
        "email": "wang@example.com",
        "account_id": "user-42",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def xml(response: Any) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- the exchange


def test_a_real_exchange_in_json(o311: Open311, personas: Any, hub: Any, tree: Any) -> None:
    # 1. The client lists the services: leaf categories of kind "general" only.
    services_list = o311.get("services")
    assert services_list.status_code == 200
    assert services_list["Content-Type"] == "application/json; charset=utf-8"
    listed = {s["service_code"]: s for s in services_list.json()}
    # Leaves of kind "general" only: not 市容环境 (a group), not 矛盾纠纷 (mediation).
    assert {"garbage", "noise", "parking"} <= set(listed)
    assert not {"environment", "dispute"} & set(listed)
    general_leaves = {
        c.code
        for c in EventCategory.objects.filter(is_active=True, kind="general")
        if not c.children.filter(is_active=True).exists()
    }
    assert set(listed) == general_leaves
    assert listed["garbage"] == {
        "service_code": "garbage",
        "service_name": "暴露垃圾",
        "description": "暴露垃圾",
        "metadata": False,
        "type": "realtime",
        "keywords": "市容环境, 暴露垃圾",
        "group": "市容环境",
    }
    assert listed["parking"]["metadata"] is True

    # 2. It posts a request with its api_key.
    posted = o311.post(garbage_request(o311))
    assert posted.status_code == 201, posted.content
    [answer] = posted.json()
    event = Event.objects.get()
    assert answer["service_request_id"] == event.number
    assert answer["token"] == event.token and answer["account_id"] == "user-42"
    assert f"{timezone.localtime(event.expected_at):%Y-%m-%d %H:%M}" in answer["service_notice"]
    assert event.source == "open311" and event.reporter == o311.account
    assert event.region == tree.grid_a1  # the nearest grid with a known position
    assert event.reporter_name == "王小明" and event.reporter_phone == "13800138000"
    assert ExternalReport.objects.get(event=event).account_ref == "user-42"

    # 3. It redeems the token.
    redeemed = o311.get("token", event.token)
    assert redeemed.json() == [{"service_request_id": event.number, "token": event.token}]

    # 4. It fetches the request: public fields only.
    fetched = o311.get("request", event.number)
    [request] = fetched.json()
    assert request["service_request_id"] == event.number
    assert request["status"] == "open"
    assert request["service_code"] == "garbage" and request["service_name"] == "暴露垃圾"
    assert request["description"] == "楼下垃圾堆放三天无人清理"
    assert request["requested_datetime"] == w3(event.created_at)
    assert request["expected_datetime"] == w3(event.expected_at) is not None
    assert request["address"] == "锦源小区3号楼东侧" and request["address_id"] == tree.grid_a1.code
    assert request["lat"] == 36.2701 and request["long"] == 116.4502
    assert request["agency_responsible"] is None
    raw = fetched.content.decode()
    for secret in ("王小明", "13800138000", "wang@example.com", "user-42", event.token):
        assert secret not in raw

    # Staff work on it; the client sees the status and the updates.
    event = services.transition(personas.community_worker_a, event, "accept", version=event.version)
    event = services.transition(
        personas.community_worker_a, event, "dispatch", version=event.version, department=hub.police
    )
    event = services.transition(
        personas.community_worker_a, event, "comment", version=event.version, note="内部备注"
    )
    [request] = o311.get("request", event.number, extensions="true").json()
    assert request["agency_responsible"] == hub.police.name
    assert request["extended_attributes"]["detailed_status"] == "IN_PROCESS"
    updates = o311.get("request_updates", event.number).json()
    assert [u["external_status_code"] for u in updates] == ["reported", "accepted", "dispatched"]
    assert [u["status"] for u in updates] == ["OPEN", "INVESTIGATING", "ACTION_SCHEDULED"]
    assert all(u["service_request_id"] == event.number for u in updates)
    assert "内部备注" not in json.dumps(updates, ensure_ascii=False)  # internal steps stay inside
    # The same updates through FixMyStreet's form of the extension.
    polled = o311.get("updates", service_request_id=event.number).json()
    assert [u["update_id"] for u in polled] == [u["update_id"] for u in updates]


def test_a_real_exchange_in_xml(o311: Open311, personas: Any, hub: Any) -> None:
    root = xml(o311.get("services", fmt="xml"))
    assert root.tag == "services"
    codes = {s.findtext("service_code") for s in root.findall("service")}
    assert {"garbage", "noise", "parking"} <= codes and "dispute" not in codes
    parking = next(s for s in root.findall("service") if s.findtext("service_code") == "parking")
    assert parking.findtext("metadata") == "true" and parking.findtext("group") == "市容环境"

    definition = xml(o311.get("service", "parking", fmt="xml"))
    assert definition.tag == "service_definition"
    attributes = definition.find("attributes")
    assert attributes is not None
    by_code = {a.findtext("code"): a for a in attributes.findall("attribute")}
    assert by_code["plate"].findtext("datatype") == "string"
    assert by_code["plate"].findtext("required") == "true"
    assert by_code["size"].findtext("datatype") == "singlevaluelist"
    assert [v.findtext("key") for v in by_code["size"].iter("value")] == ["小型车", "大型车"]
    assert by_code["seen_on"].findtext("datatype") == "datetime"
    assert [a.findtext("order") for a in attributes.findall("attribute")] == ["1", "2", "3", "4"]

    posted = o311.post(
        {
            "api_key": o311.key,
            "service_code": "parking",
            "address_id": "370124001022002",
            "description": "白色轿车占用消防通道",
            "attribute[plate]": "鲁A12345",
            "attribute[size]": "小型车",
            "attribute[seen_on]": "2026-11-20T09:30:00+08:00",
            "attribute[blocking]": "true",
            "media_url": "https://photos.example.com/p/1.jpg",
        },
        fmt="xml",
    )
    assert posted.status_code == 201, posted.content
    answer = xml(posted)
    assert answer.tag == "service_requests"
    number = answer.findtext("request/service_request_id")
    token = answer.findtext("request/token")
    event = Event.objects.get()
    assert number == event.number and token == event.token
    assert event.extra == {
        "plate": "鲁A12345",
        "size": "小型车",
        "seen_on": "2026-11-20",
        "blocking": True,
    }
    assert event.region.code == "370124001022002" and event.address == "锦源第二网格"

    redeemed = xml(o311.get("token", token, fmt="xml"))
    assert redeemed.findtext("request/service_request_id") == number

    fetched = xml(o311.get("request", number, fmt="xml", extensions="true"))
    request = fetched.find("request")
    assert request is not None
    assert request.findtext("status") == "open"
    assert request.findtext("media_url") == "https://photos.example.com/p/1.jpg"
    assert request.findtext("expected_datetime") == w3(event.expected_at)
    assert request.findtext("extended_attributes/detailed_status") == "SUBMITTED"
    assert "鲁A12345" not in fetched_text(fetched)  # the category's fields stay inside

    event = services.transition(
        personas.community_worker_a, event, "reject", version=event.version, note="车辆已驶离"
    )
    request = xml(o311.get("request", number, fmt="xml", extensions="true")).find("request")
    assert request is not None
    assert request.findtext("status") == "closed"
    assert request.findtext("status_notes") == "车辆已驶离"
    assert request.findtext("extended_attributes/detailed_status") == "REJECTED"
    updates = xml(o311.get("request_updates", number, fmt="xml"))
    assert updates.tag == "service_request_updates"
    assert [u.findtext("status") for u in updates.findall("request_update")] == [
        "OPEN",
        "NO_FURTHER_ACTION",
    ]
    assert updates.findall("request_update")[-1].findtext("description") == "车辆已驶离"


def fetched_text(element: ET.Element) -> str:
    return ET.tostring(element, encoding="unicode")


def test_discovery_names_the_endpoint_and_formats(o311: Open311) -> None:
    body = o311.get("discovery").json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}


# ---------------------------------------------------------------- the list and its filters


def test_get_requests_filters_by_id_code_status_and_dates(o311: Open311, personas: Any) -> None:
    first = json.loads(o311.post(garbage_request(o311)).content)[0]["service_request_id"]
    second = json.loads(
        o311.post(garbage_request(o311, service_code="noise", description="夜间施工噪声")).content
    )[0]["service_request_id"]
    event = Event.objects.get(pk=Event.pk_from_number(first))
    services.transition(
        personas.community_worker_a, event, "reject", version=event.version, note="重复"
    )

    def numbers(**params: Any) -> list[str]:
        response = o311.get("requests", **params)
        assert response.status_code == 200, response.content
        return [r["service_request_id"] for r in response.json()]

    assert numbers() == [second, first]  # newest first
    assert numbers(status="open") == [second]
    assert numbers(status="closed") == [first]
    assert numbers(service_code="garbage") == [first]
    assert numbers(service_code="garbage,noise") == [second, first]
    assert numbers(service_request_id=f"{first},{second}", status="open") == [second, first]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert numbers(start_date=tomorrow) == []
    assert numbers(page_size="1", page="2") == [first]
    # A mediation case is not a public service request.
    case = services.report(
        personas.grid_worker,
        category=EventCategory.objects.get(code="dispute"),
        place=services.Place(region=event.region, address="锦源小区"),
        description="邻里纠纷",
        source="grid",
        extra={"parties": "张某、李某"},
    )
    assert case.number not in numbers()
    assert o311.get("request", case.number).status_code == 404


def test_the_request_list_refuses_bad_filters_in_the_open311_format(o311: Open311) -> None:
    for params, status in (
        ({"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-06-01T00:00:00Z"}, 400),
        ({"start_date": "yesterday"}, 400),
        ({"status": "pending"}, 400),
        ({"service_request_id": "abc"}, 400),
        ({"page": "0"}, 400),
    ):
        response = o311.get("requests", **params)
        assert response.status_code == status, params
        [error] = response.json()
        assert error["code"] == status and error["description"]
    missing = o311.get("request", "202611230009999")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404
    assert o311.get("token", "no-such-token").status_code == 404


# ---------------------------------------------------------------- bad input


def test_an_unknown_service_code_is_404_in_both_formats(o311: Open311) -> None:
    response = o311.post(garbage_request(o311, service_code="potholes"))
    assert response.status_code == 404
    [error] = response.json()
    assert error["code"] == 404 and "potholes" in error["description"]
    assert re.search(r"[\u4e00-\u9fff]", error["description"])  # told in Chinese
    errors = xml(o311.post(garbage_request(o311, service_code="potholes"), fmt="xml"))
    assert errors.tag == "errors" and errors.findtext("error/code") == "404"
    assert o311.get("service", "potholes").status_code == 404
    assert o311.get("service", "dispute").status_code == 404  # not a public service
    assert Event.objects.count() == 0


def test_a_missing_or_wrong_api_key_is_403(o311: Open311, personas: Any, tree: Any) -> None:
    missing = o311.post(garbage_request(o311, api_key=None))
    assert missing.status_code == 403
    assert missing.json()[0]["code"] == 403 and "api_key" in missing.json()[0]["description"]
    wrong = o311.post(garbage_request(o311, api_key="ll_not-a-real-key"))
    assert wrong.status_code == 403
    # A person's account cannot get a key at all; an integration key without the add
    # permission would be refused as well — simulate one by taking the role away.
    RoleAssignment.objects.filter(user=o311.account).delete()
    assert o311.post(garbage_request(o311)).status_code == 403
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"lat": None, "long": None, "address_string": "某处"}, 400),  # no place the hub knows
        ({"lat": "36.27", "long": None}, 400),
        ({"lat": "north", "long": "116.45"}, 400),
        ({"lat": "96", "long": "116.45"}, 400),
        ({"lat": "30.0", "long": "100.0"}, 400),  # far from every community of the area
        ({"address_id": "370126001001001", "lat": None, "long": None}, 400),  # outside the area
        ({"description": ""}, 400),
        ({"service_code": ""}, 400),
        ({"service_code": "parking"}, 400),  # its required attribute is missing
        ({"media_url": "javascript:alert(1)"}, 400),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_stored(
    o311: Open311, overrides: dict[str, Any], status: int
) -> None:
    response = o311.post(garbage_request(o311, **overrides))
    assert response.status_code == status, response.content
    [error] = response.json()
    assert error["code"] == status and error["description"]
    assert Event.objects.count() == 0 and ExternalReport.objects.count() == 0


def test_a_photo_is_uploaded_with_the_request_and_a_bad_one_is_refused(
    o311: Open311, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    fake = SimpleUploadedFile("scene.jpg", b"this is no picture", content_type="image/jpeg")
    response = o311.client.post(o311.url("requests"), {**garbage_request(o311), "media": fake})
    assert response.status_code == 400
    assert "scene.jpg" in response.json()[0]["description"]
    assert Event.objects.count() == 0
    photo = SimpleUploadedFile("scene.png", png_bytes(), content_type="image/png")
    response = o311.client.post(o311.url("requests"), {**garbage_request(o311), "media": photo})
    assert response.status_code == 201, response.content
    assert Event.objects.get().attachments.get().content_type == "image/png"


def test_a_double_submit_with_one_idempotency_key_makes_one_event(o311: Open311) -> None:
    first = o311.post(garbage_request(o311), HTTP_IDEMPOTENCY_KEY="form-7")
    second = o311.post(garbage_request(o311), HTTP_IDEMPOTENCY_KEY="form-7")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()[0]["service_request_id"] == second.json()[0]["service_request_id"]
    assert Event.objects.count() == 1


def test_the_account_region_serves_when_no_position_is_given(
    o311: Open311, tree: Any, personas: Any
) -> None:
    account, key = integration_account(tree, personas, username="grid_app")
    account.home_region = tree.grid_a2
    account.save(update_fields=["home_region"])
    response = o311.post(garbage_request(o311, api_key=key, lat=None, long=None))
    assert response.status_code == 201, response.content
    assert Event.objects.get().region == tree.grid_a2


def test_other_methods_are_refused_in_the_open311_format(o311: Open311) -> None:
    response = o311.client.delete(o311.url("requests"))
    assert response.status_code == 405 and response.json()[0]["code"] == 405
    response = o311.client.post(o311.url("services"))
    assert response.status_code == 405


def test_the_request_list_keeps_its_queries_flat(
    o311: Open311, django_assert_max_num_queries: Any
) -> None:
    for n in range(5):
        o311.post(garbage_request(o311, description=f"第{n}处垃圾"))
    with django_assert_max_num_queries(2):
        response = o311.get("requests", extensions="true")
    assert len(response.json()) == 5
    with django_assert_max_num_queries(2):
        updates = o311.get("updates")
    assert len(updates.json()) == 5
