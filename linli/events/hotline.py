"""The 12345 hotline interface (``/api/hotline/tickets/``).

The platform signs in with the API token of an integration account holding ``events.add_event``.

* It pushes tickets: one ticket number (``external_id``, source hotline) becomes one event; a
  repeat push of the same number answers the event made the first time (200 instead of 201).
  The caller's name and phone are kept as the event's reporter name (masked on screen) and
  encrypted phone; the category is found by its code; the place is a region code or a position.
* It reads its tickets back (``GET …/tickets/{ticket}/``, or the list with ``updated_since``).
* When ``LINLI_HOTLINE_CALLBACK_URL`` is set, every status change of a hotline ticket (and an
  approved extension, a rating, a follow-up call) is also POSTed there by a background job, in
  order per ticket, retried with backoff up to ``LINLI_HOTLINE_CALLBACK_ATTEMPTS`` times; each
  attempt is recorded on ``HotlineDelivery``. Unset, nothing is sent and reading back is the way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from linli.accounts.api import PermissionMap
from linli.core.errors import ConflictError, NotFoundError, ServiceError
from linli.core.jobs import background, enqueue
from linli.events import serializers as s
from linli.events import services
from linli.events.choices import EventSource, StepAction
from linli.events.models import Event, EventCategory, EventStep
from linli.events.models_integration import (
    DeliveryStatus,
    ExternalChannel,
    ExternalReport,
    HotlineDelivery,
)
from linli.regions.models import RegionNode

log = logging.getLogger("linli.events.hotline")

# Steps the platform hears of besides the status changes.
REPORTED_ACTIONS = frozenset({StepAction.APPROVE_EXTENSION, StepAction.RATE, StepAction.FOLLOW_UP})
TIMEOUT_SECONDS = 5
# A claimed delivery whose worker died is tried again after this long.
CLAIM_SECONDS = 300
# A run stops after this many failures in a row: the platform is probably down.
FAILURES_BEFORE_PAUSE = 5


def callback_url() -> str:
    return str(getattr(settings, "LINLI_HOTLINE_CALLBACK_URL", "") or "")


def max_attempts() -> int:
    return int(getattr(settings, "LINLI_HOTLINE_CALLBACK_ATTEMPTS", 8))


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failure, at most an hour."""
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def reported(step: EventStep) -> bool:
    """Whether the platform is told of this step: status changes and a few others."""
    return step.from_status != step.to_status or step.action in REPORTED_ACTIONS


# ---------------------------------------------------------------- tickets in


def push_ticket(
    actor: Any,
    *,
    ticket: str,
    category: EventCategory,
    description: str,
    title: str = "",
    caller_name: str = "",
    caller_phone: str = "",
    region: RegionNode | None = None,
    address: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    priority: str = "",
    deadline: datetime | None = None,
    extra: dict[str, Any] | None = None,
    photos: Any = (),
) -> tuple[Event, bool]:
    """A 12345 ticket becomes an event once. Returns the event and whether it is new; a repeat
    push of the same ticket number answers the event made the first time."""
    ticket = ticket.strip()[:64]
    existing = Event.objects.filter(source=EventSource.HOTLINE, external_id=ticket).first()
    if existing is not None:
        if existing.reporter_id != actor.pk:
            raise ConflictError(
                "ticket_taken", _("Another account has already pushed this ticket number.")
            )
        return existing, False
    lat, lng = s.coordinate(latitude), s.coordinate(longitude)
    if region is None:
        if lat is None or lng is None:
            raise ServiceError(
                "place_missing",
                _("Give the region code of the community or grid, or a map position."),
                field="region",
            )
        from linli.events.open311 import nearest_region

        region = nearest_region(actor, lat, lng)
        if region is None:
            raise ServiceError(
                "place_unknown",
                _("No community or grid of your area lies near here; give the region code."),
                field="region",
            )
    started = timezone.now()
    with transaction.atomic():
        event = services.report(
            actor,
            category=category,
            place=services.Place(region=region, address=address, latitude=lat, longitude=lng),
            description=description,
            source=EventSource.HOTLINE,
            title=title,
            priority=priority,
            reporter_name=caller_name,
            reporter_phone=caller_phone,
            photos=photos,
            extra=extra or {},
            external_id=ticket,
        )
        ExternalReport.objects.get_or_create(
            event=event, defaults={"channel": ExternalChannel.HOTLINE, "deadline": deadline}
        )
    return event, event.created_at >= started


def ticket_status(event: Event) -> dict[str, Any]:
    """A ticket as the platform reads it back; notes only from steps its reporter may see."""
    external = getattr(event, "external", None)
    steps = [step for step in event.steps.all() if reported(step)]
    return {
        "ticket": event.external_id,
        "id": event.pk,
        "number": event.number,
        "status": event.status,
        "status_label": str(event.get_status_display()),
        "category": event.category.code,
        "department": event.department.name if event.department else None,
        "expected_at": event.expected_at,
        "deadline_hint": external.deadline if external else None,
        "closed_at": event.closed_at,
        "rating": event.rating,
        "rating_comment": event.rating_comment,
        "updated_at": event.updated_at,
        "steps": [
            {
                "action": step.action,
                "action_label": str(step.get_action_display()),
                "status": step.to_status,
                "status_label": str(step.get_to_status_display()),
                "note": step.note if step.public else "",
                "department": step.department.name if step.department else None,
                "at": step.created_at,
            }
            for step in steps
        ],
    }


class SignedInWithToken(permissions.BasePermission):
    """The 12345 platform is a system: it signs in with an API token (issued only to integration
    accounts), never with a person's session — a resident may report, not push tickets."""

    def has_permission(self, request: Request, view: Any) -> bool:
        from linli.accounts.models import ApiToken

        return isinstance(request.auth, ApiToken)


class HotlineTicketViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The 12345 platform's tickets: push, read back one by its number, list those changed."""

    permission_classes = [permissions.IsAuthenticated, SignedInWithToken, PermissionMap]
    required_perms = {
        "list": "events.add_event",
        "retrieve": "events.add_event",
        "create": "events.add_event",
    }
    serializer_class = s.HotlineTicketSerializer
    queryset = Event.objects.none()
    lookup_field = "ticket"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self) -> Any:
        # The platform reads back its own tickets only.
        user: Any = self.request.user
        steps = EventStep.objects.select_related("department").order_by("created_at", "pk")
        return (
            Event.objects.filter(source=EventSource.HOTLINE, reporter=user)
            .exclude(external_id="")
            .select_related("category", "department", "external")
            .prefetch_related(Prefetch("steps", queryset=steps))
        )

    def _respond(self, event: Event, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=event.pk)
        return Response(s.HotlineTicketSerializer(ticket_status(fresh)).data, status=code)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "updated_since",
                str,
                description="Only tickets changed at or after this time (ISO 8601).",
            )
        ],
        responses={200: s.HotlineTicketSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        queryset = self.get_queryset().order_by("-updated_at", "-pk")
        since_text = request.query_params.get("updated_since", "").strip()
        if since_text:
            try:
                since = parse_datetime(since_text)
            except ValueError:
                since = None
            if since is None:
                raise ServiceError(
                    "updated_since",
                    _("updated_since is not a date and time (as 2024-05-01T08:00:00+08:00)."),
                )
            if timezone.is_naive(since):
                since = timezone.make_aware(since)
            queryset = queryset.filter(updated_at__gte=since)
        page = self.paginate_queryset(queryset)
        data = s.HotlineTicketSerializer([ticket_status(e) for e in page or []], many=True).data
        return self.get_paginated_response(data)

    @extend_schema(
        parameters=[OpenApiParameter("ticket", str, OpenApiParameter.PATH)],
        responses={200: s.HotlineTicketSerializer},
    )
    def retrieve(self, request: Request, ticket: str | None = None) -> Response:
        event = self.get_queryset().filter(external_id=ticket).first()
        if event is None:
            raise NotFoundError("not_found", _("No ticket with this number."))
        return Response(s.HotlineTicketSerializer(ticket_status(event)).data)

    @extend_schema(
        request={
            "application/json": s.HotlineTicketInput,
            "multipart/form-data": s.HotlineTicketInput,
        },
        responses={201: s.HotlineTicketSerializer, 200: s.HotlineTicketSerializer},
    )
    def create(self, request: Request) -> Response:
        """Push a ticket; the same ticket number again answers the same event (200)."""
        body = s.HotlineTicketInput(data=request.data)
        body.is_valid(raise_exception=True)
        event, created = push_ticket(request.user, **body.validated_data)
        return self._respond(event, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# ---------------------------------------------------------------- status updates out


def status_payload(event: Event, step: EventStep) -> dict[str, Any]:
    return {
        "ticket": event.external_id,
        "id": event.pk,
        "number": event.number,
        "sequence": step.pk,
        "action": step.action,
        "action_label": str(step.get_action_display()),
        "status": step.to_status,
        "status_label": str(step.get_to_status_display()),
        "note": step.note if step.public else "",
        "department": step.department.name if step.department else None,
        "expected_at": event.expected_at.isoformat() if event.expected_at else None,
        "rating": event.rating or None,
        "at": step.created_at.isoformat(),
    }


def step_made(event: Event, step: EventStep) -> None:
    """Called by ``services`` for every step on a hotline ticket, inside its transaction: the
    update is recorded and sent after the commit (never when the step rolls back)."""
    if not callback_url() or not event.external_id or not reported(step):
        return
    delivery = HotlineDelivery.objects.create(
        event=event,
        step=step,
        payload=status_payload(event, step),
        next_attempt_at=step.created_at,
    )
    enqueue("linli.events.hotline.deliver", delivery.pk)


def _post(payload: dict[str, Any], delivery_id: int) -> tuple[bool, str]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Linli-Delivery": str(delivery_id),
    }
    secret = str(getattr(settings, "LINLI_HOTLINE_CALLBACK_SECRET", "") or "")
    if secret:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Linli-Signature"] = f"sha256={digest}"
    url = callback_url()
    if not url.startswith(("http://", "https://")):
        return False, "LINLI_HOTLINE_CALLBACK_URL is not an http(s) URL"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            code = response.status
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, str(reason)[:300] or type(exc).__name__
    return (200 <= code < 300), f"HTTP {code}"


def _attempt(delivery: HotlineDelivery) -> bool:
    """One attempt, claimed first with a conditional update so two workers never send the same
    update at once. True when the platform accepted it."""
    now = timezone.now()
    claimed = HotlineDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    if not claimed:
        return False
    attempts = delivery.attempts + 1
    ok, detail = _post(delivery.payload, delivery.pk)
    if ok:
        HotlineDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None
        )
        return True
    given_up = attempts >= max_attempts()
    HotlineDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED if given_up else DeliveryStatus.PENDING,
        last_error=detail[:300],
        next_attempt_at=None if given_up else timezone.now() + backoff(attempts),
    )
    log.warning(
        "hotline update %s (ticket event %s) failed, attempt %d: %s",
        delivery.pk,
        delivery.event_id,
        attempts,
        detail,
    )
    return False


def _waiting_before(delivery: HotlineDelivery) -> bool:
    return HotlineDelivery.objects.filter(
        event_id=delivery.event_id, status=DeliveryStatus.PENDING, pk__lt=delivery.pk
    ).exists()


@background
def deliver(delivery_id: int) -> None:
    """Send one update now, unless an earlier one of the same ticket is still waiting: then the
    retry job sends them in order."""
    if not callback_url():
        return
    delivery = HotlineDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).first()
    if delivery is None or _waiting_before(delivery):
        return
    _attempt(delivery)


def retry_deliveries(now: datetime | None = None, *, limit: int = 200) -> int:
    """Send the updates that are due, oldest first, keeping each ticket's order (a failure holds
    back that ticket's later updates). Returns how many were sent."""
    if not callback_url():
        return 0
    now = now or timezone.now()
    due = list(
        HotlineDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).order_by("created_at", "pk")[:limit]
    )
    held: set[int] = set()
    sent = failures = 0
    for delivery in due:
        # Earlier updates of the ticket were tried above (sent, or held) or are not due yet.
        if delivery.event_id in held or _waiting_before(delivery):
            held.add(delivery.event_id)
            continue
        if _attempt(delivery):
            sent += 1
            failures = 0
        else:
            held.add(delivery.event_id)
            failures += 1
            if failures >= FAILURES_BEFORE_PAUSE:
                break
    return sent
