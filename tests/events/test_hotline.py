"""The 12345 hotline interface: tickets pushed once (a repeat answers the same event), read back
by number, and status updates POSTed to the platform's callback — recorded, retried in order,
given up after the configured attempts, and not sent at all without a callback URL. The
platform's receiver is a real HTTP server on the loopback interface."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from linli.accounts.models import Role, RoleAssignment, User
from linli.accounts.services import issue_api_token
from linli.core.errors import ServiceError
from linli.events import hotline, services
from linli.events.models import Event
from linli.events.models_integration import DeliveryStatus, ExternalReport, HotlineDelivery

pytestmark = pytest.mark.django_db


class Receiver:
    """The 12345 platform's callback endpoint: records what it got, answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.raw = body
                receiver.received.append((json.loads(body), dict(self.headers.items())))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/12345/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.raw = b""

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    with Receiver() as running:
        settings.LINLI_HOTLINE_CALLBACK_URL = running.url
        settings.LINLI_HOTLINE_CALLBACK_SECRET = "shared-secret"
        yield running


def platform_client(
    tree: Any, personas: Any, username: str = "hotline_12345"
) -> tuple[APIClient, User]:
    account = User.objects.create_user(
        username=username, password="Linli-Test-2026!", home_region=tree.county
    )
    RoleAssignment.objects.create(
        user=account, role=Role.objects.get(code="integration"), region=tree.county
    )
    _token, raw = issue_api_token(personas.system_admin, account, "12345")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, account


@pytest.fixture
def platform(tree: Any, personas: Any, hub: Any) -> tuple[APIClient, User]:
    return platform_client(tree, personas)


def ticket(tree: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "ticket": "SD12345-20261123-0001",
        "category": "garbage",
        "title": "小区垃圾无人清运",
        "description": "市民来电反映锦源小区3号楼东侧垃圾堆放三天无人清运。",
        "caller_name": "赵女士",
        "caller_phone": "13900001111",
        "region": tree.grid_a1.code,
        "address": "锦源小区3号楼东侧",
        "deadline": "2026-11-25T18:00:00+08:00",
    }
    body.update(overrides)
    return body


TICKETS = reverse("api:events-hotline-list")


def ticket_url(number: str) -> str:
    return reverse("api:events-hotline-detail", args=[number])


def walk(personas: Any, hub: Any, event: Event) -> Event:
    """Accept and dispatch, as the community does."""
    event = services.transition(personas.community_worker_a, event, "accept", version=event.version)
    return services.transition(
        personas.community_worker_a, event, "dispatch", version=event.version, department=hub.police
    )


# ---------------------------------------------------------------- tickets in


def test_a_ticket_pushed_twice_is_one_event(platform: Any, tree: Any) -> None:
    client, account = platform
    first = client.post(TICKETS, ticket(tree), format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    event = Event.objects.get()
    assert body["ticket"] == "SD12345-20261123-0001" and body["number"] == event.number
    assert body["status"] == "reported" and body["category"] == "garbage"
    assert body["deadline_hint"] == "2026-11-25T18:00:00+08:00"
    assert event.source == "hotline" and event.external_id == "SD12345-20261123-0001"
    assert event.reporter == account and event.reporter_name == "赵女士"
    assert ExternalReport.objects.get(event=event).channel == "hotline"
    again = client.post(TICKETS, ticket(tree, description="重复推送"), format="json")
    assert again.status_code == 200 and again.json()["id"] == event.pk
    assert Event.objects.count() == 1


def test_the_callers_phone_is_stored_encrypted_and_shown_masked(
    platform: Any, tree: Any, api: Any, personas: Any
) -> None:
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    event = Event.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_phone FROM events_event WHERE id = %s", [event.pk])
        stored = cursor.fetchone()[0]
    assert "13900001111" not in stored and stored.startswith("sm4gcm$")
    assert event.reporter_phone == "13900001111"
    detail = api(personas.community_worker_a).get(
        reverse("api:events-event-detail", args=[event.pk])
    )
    assert detail.json()["reporter_phone"] == "139****1111"
    assert detail.json()["reporter_name"] != "赵女士"


def test_a_ticket_placed_by_position_goes_to_the_nearest_grid(platform: Any, tree: Any) -> None:
    from decimal import Decimal

    tree.grid_a2.latitude, tree.grid_a2.longitude = Decimal("36.290000"), Decimal("116.470000")
    tree.grid_a2.save(update_fields=["latitude", "longitude"])
    client, _account = platform
    response = client.post(
        TICKETS,
        ticket(tree, region=None, latitude=36.2901, longitude=116.4702),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Event.objects.get().region == tree.grid_a2
    refused = client.post(
        TICKETS,
        ticket(tree, ticket="T-2", region=None, latitude=None, longitude=None),
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "place_missing"


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"category": "potholes"}, 400),
        ({"category": "environment"}, 400),  # not a leaf
        ({"ticket": "   "}, 400),
        ({"region": "370126001001001"}, 400),  # no such region in this database
        ({"description": ""}, 400),
    ],
)
def test_bad_tickets_are_refused_and_nothing_is_stored(
    platform: Any, tree: Any, overrides: dict[str, Any], status: int
) -> None:
    client, _account = platform
    response = client.post(TICKETS, ticket(tree, **overrides), format="json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["message"]
    assert Event.objects.count() == 0


def test_only_a_system_token_may_push_tickets(
    platform: Any, tree: Any, api: Any, personas: Any
) -> None:
    # A resident holds events.add_event but signs in as a person: no tickets.
    response = api(personas.resident).post(TICKETS, ticket(tree), format="json")
    assert response.status_code == 403
    assert Event.objects.count() == 0
    # A second platform account may not take over a ticket number in use.
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    other, _ = platform_client(tree, personas, username="hotline_other")
    taken = other.post(TICKETS, ticket(tree), format="json")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "ticket_taken"
    assert other.get(ticket_url("SD12345-20261123-0001")).status_code == 404


# ---------------------------------------------------------------- reading back


def test_the_platform_reads_its_ticket_back_with_the_progress(
    platform: Any, tree: Any, personas: Any, hub: Any
) -> None:
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    event = walk(personas, hub, Event.objects.get())
    event = services.transition(
        personas.community_worker_a, event, "comment", version=event.version, note="内部"
    )
    event = services.transition(personas.department_handler, event, "sign", version=event.version)
    event = services.transition(
        personas.department_handler, event, "return", version=event.version, note="不属本单位职责"
    )
    body = client.get(ticket_url("SD12345-20261123-0001")).json()
    assert body["status"] == "accepted" and body["department"] is None
    assert [s["action"] for s in body["steps"]] == ["accept", "dispatch", "sign", "return"]
    # Notes only of steps the reporter may see: the return's reason stays inside.
    assert body["steps"][-1]["note"] == "" and body["steps"][1]["department"] == hub.police.name
    missing = client.get(ticket_url("NO-SUCH"))
    assert missing.status_code == 404


def test_the_list_gives_the_tickets_changed_since(
    platform: Any, tree: Any, personas: Any, hub: Any
) -> None:
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    client.post(TICKETS, ticket(tree, ticket="SD-2"), format="json")
    moment = timezone.now()
    walk(personas, hub, Event.objects.get(external_id="SD-2"))
    rows = client.get(TICKETS, {"updated_since": moment.isoformat()}).json()["results"]
    assert [r["ticket"] for r in rows] == ["SD-2"]
    assert len(client.get(TICKETS).json()["results"]) == 2
    bad = client.get(TICKETS, {"updated_since": "last week"})
    assert bad.status_code == 400


# ---------------------------------------------------------------- status updates out


def test_without_a_callback_url_nothing_is_sent(
    platform: Any, tree: Any, personas: Any, hub: Any, settings: Any
) -> None:
    settings.LINLI_HOTLINE_CALLBACK_URL = ""
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    walk(personas, hub, Event.objects.get())
    assert HotlineDelivery.objects.count() == 0
    assert hotline.retry_deliveries() == 0


def test_status_changes_are_posted_to_the_platform_signed_and_recorded(
    platform: Any,
    tree: Any,
    personas: Any,
    hub: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    event = Event.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        event = services.transition(
            personas.community_worker_a, event, "accept", version=event.version
        )
    with django_capture_on_commit_callbacks(execute=True):
        event = services.transition(
            personas.community_worker_a, event, "comment", version=event.version, note="内部"
        )
    assert len(receiver.received) == 1  # a note changes no status: not sent
    payload, headers = receiver.received[0]
    assert payload["ticket"] == "SD12345-20261123-0001" and payload["number"] == event.number
    assert payload["action"] == "accept" and payload["status"] == "accepted"
    assert re.search(r"[\u4e00-\u9fff]", payload["status_label"])  # the label in Chinese
    expected = hmac.new(b"shared-secret", receiver.raw, hashlib.sha256).hexdigest()
    assert headers["X-Linli-Signature"] == f"sha256={expected}"
    delivery = HotlineDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert headers["X-Linli-Delivery"] == str(delivery.pk)
    # A step that rolls back sends nothing.
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ServiceError):
        services.transition(
            personas.community_worker_a, event, "dispatch", version=event.version, department=None
        )
    assert len(receiver.received) == 1 and HotlineDelivery.objects.count() == 1


def test_a_failed_update_is_retried_in_order_then_given_up(
    platform: Any,
    tree: Any,
    personas: Any,
    hub: Any,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LINLI_HOTLINE_CALLBACK_ATTEMPTS = 3
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    receiver.status = 503
    event = Event.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        event = services.transition(
            personas.community_worker_a, event, "accept", version=event.version
        )
    with django_capture_on_commit_callbacks(execute=True):
        event = services.transition(
            personas.community_worker_a,
            event,
            "dispatch",
            version=event.version,
            department=hub.police,
        )
    first, second = HotlineDelivery.objects.order_by("pk")
    # The accept failed; the dispatch waits behind it rather than overtaking it.
    assert len(receiver.received) == 1
    assert first.status == DeliveryStatus.PENDING and first.attempts == 1
    assert first.last_error == "HTTP 503" and first.next_attempt_at > timezone.now()
    assert second.attempts == 0
    # Not due yet: nothing is tried.
    assert hotline.retry_deliveries() == 0 and len(receiver.received) == 1
    # The platform is back; a minute later both go, in order.
    receiver.status = 200
    later = timezone.now() + timedelta(minutes=2)
    assert hotline.retry_deliveries(later) == 2
    assert [p["action"] for p, _h in receiver.received] == ["accept", "accept", "dispatch"]
    assert set(HotlineDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    # A platform that keeps failing: given up after the configured attempts.
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        event = services.transition(
            personas.department_handler, event, "sign", version=event.version
        )
    moment = timezone.now()
    for minutes in (5, 30):
        hotline.retry_deliveries(moment + timedelta(minutes=minutes))
    last = HotlineDelivery.objects.order_by("pk").last()
    assert last is not None
    assert last.status == DeliveryStatus.FAILED and last.attempts == 3
    assert last.last_error == "HTTP 500" and last.next_attempt_at is None


def test_an_unreachable_platform_is_recorded_not_raised(
    platform: Any,
    tree: Any,
    personas: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LINLI_HOTLINE_CALLBACK_URL = "http://127.0.0.1:9/closed"
    client, _account = platform
    client.post(TICKETS, ticket(tree), format="json")
    event = Event.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        event = services.transition(
            personas.community_worker_a, event, "accept", version=event.version
        )
    assert event.status == "accepted"  # the step stands whatever the platform does
    delivery = HotlineDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_error


def test_the_ticket_list_keeps_its_queries_flat(
    platform: Any, tree: Any, personas: Any, hub: Any, django_assert_max_num_queries: Any
) -> None:
    client, _account = platform
    for n in range(4):
        client.post(TICKETS, ticket(tree, ticket=f"SD-{n}"), format="json")
        walk(personas, hub, Event.objects.get(external_id=f"SD-{n}"))
    with django_assert_max_num_queries(9):
        response = client.get(TICKETS)
    assert [len(r["steps"]) for r in response.json()["results"]] == [2, 2, 2, 2]
