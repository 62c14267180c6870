"""Open311 GeoReport v2 at ``/open311/v2/`` (http://wiki.open311.org/GeoReport_v2), in XML and
JSON, with the widely used extensions. ``docs/events-api.md`` describes every choice made here.

* ``services`` lists the leaf categories of kind "general" (mediation and enforcement cases carry
  parties' personal data and stay off the public interface); a service definition turns the
  category's extra fields into attributes.
* ``POST requests`` needs the ``api_key`` of an integration account holding ``events.add_event``
  and reports through ``services.report`` (source open311). The answer carries the request id and
  also a token (``tokens/{token}``), so clients written for either kind of server work.
* ``GET requests`` and one request need no key and show only what is public: never the
  reporter's name, phone or e-mail, nor the category's extra fields.
* Extensions: ``extensions=true`` adds ``extended_attributes`` with ``detailed_status``
  (CitySDK vocabulary); ``page`` / ``page_size``; request updates in FixMyStreet's form
  (``servicerequestupdates``), built from the public steps of the timeline.
"""

from __future__ import annotations

import functools
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from linli.core.authentication import user_for_token
from linli.core.errors import PermissionDeniedError, ServiceError
from linli.events import services
from linli.events.choices import OPEN_STATUSES, CategoryKind, EventSource, EventStatus
from linli.events.models import Event, EventCategory, EventStep
from linli.events.models_integration import ExternalChannel, ExternalReport
from linli.regions.models import RegionNode
from linli.utilities.scope import code_in_scope

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00+08:00"
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# XML element of each item of a list, by the list's element (the spec's "⇊" groups).
LIST_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
# The spec's default and largest answer: 90 days or 1,000 requests.
MAX_WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000
# A position farther than this from every community or grid with coordinates is refused.
NEAREST_REGION_MAX_M = 10_000.0
MAX_DESCRIPTION = 4000

# Extended statuses (CitySDK's ``detailed_status``), from the hub's statuses.
DETAILED_STATUS = {
    EventStatus.REPORTED: "SUBMITTED",
    EventStatus.ACCEPTED: "RECEIVED",
    EventStatus.DISPATCHED: "IN_PROCESS",
    EventStatus.SIGNED_FOR: "IN_PROCESS",
    EventStatus.HANDLED: "PROCESSED",
    EventStatus.REVIEWED: "PROCESSED",
    EventStatus.CLOSED: "CLOSED",
    EventStatus.REJECTED: "REJECTED",
    EventStatus.MERGED: "ARCHIVED",
}
# The status of a request update, in FixMyStreet's extended vocabulary (its Open311 client maps
# these); ``external_status_code`` carries the hub's own status next to it.
UPDATE_STATUS = {
    EventStatus.REPORTED: "OPEN",
    EventStatus.ACCEPTED: "INVESTIGATING",
    EventStatus.DISPATCHED: "ACTION_SCHEDULED",
    EventStatus.SIGNED_FOR: "IN_PROGRESS",
    EventStatus.HANDLED: "IN_PROGRESS",
    EventStatus.REVIEWED: "IN_PROGRESS",
    EventStatus.CLOSED: "FIXED",
    EventStatus.REJECTED: "NO_FURTHER_ACTION",
    EventStatus.MERGED: "DUPLICATE",
}
DATATYPES = {
    "number": "number",
    "date": "datetime",
    "choice": "singlevaluelist",
    "bool": "singlevaluelist",
}
ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


class Open311Error(Exception):
    """Answered as ``[{"code": ..., "description": ...}]`` / ``<errors><error>…``."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# ---------------------------------------------------------------- rendering


def _element(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _element(element, key, item)
    elif isinstance(value, list):
        child = LIST_ITEMS.get(tag, "item")
        for item in value:
            _element(element, child, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def render(fmt: str, root: str, body: Any, status: int = 200) -> HttpResponse:
    """``body`` as JSON, or as the spec's schemaless XML under ``root`` (a list becomes one
    element per item, named after the list)."""
    if fmt == "json":
        content = json.dumps(body, ensure_ascii=False)
    else:
        element = ET.Element(root)
        if isinstance(body, list):
            for item in body:
                _element(element, LIST_ITEMS[root], item)
        else:
            for key, value in body.items():
                _element(element, key, value)
        content = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(
            element, encoding="unicode"
        )
    return HttpResponse(content, content_type=CONTENT_TYPES[fmt], status=status)


def error(fmt: str, status: int, description: str) -> HttpResponse:
    return render(fmt, "errors", [{"code": status, "description": description}], status)


def endpoint(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """An Open311 view: the methods it answers, and every refusal in the Open311 error format."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt  # systems post with an api_key, never with the pages' session
        @functools.wraps(view)
        def inner(request: HttpRequest, *args: Any, fmt: str, **kwargs: Any) -> HttpResponse:
            allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())
            if request.method not in allowed:
                return error(fmt, 405, _("This method is not allowed here."))
            try:
                return view(request, *args, fmt=fmt, **kwargs)
            except Open311Error as exc:
                return error(fmt, exc.status, exc.description)

        return inner

    return wrap


def w3(moment: datetime | None) -> str | None:
    """Date and time in the W3C profile of ISO 8601, with the offset."""
    if moment is None:
        return None
    return timezone.localtime(moment).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- services


def _categories() -> dict[int, EventCategory]:
    """Active categories with their parents linked in memory, so inheritance costs no query."""
    rows = list(EventCategory.objects.filter(is_active=True).order_by("sort_order", "code"))
    by_pk = {row.pk: row for row in rows}
    for row in rows:
        if row.parent_id in by_pk:
            row.parent = by_pk[row.parent_id]
    return by_pk


def public_services() -> list[EventCategory]:
    """Leaf categories of kind "general": what Open311 clients may report."""
    by_pk = _categories()
    parents = {row.parent_id for row in by_pk.values() if row.parent_id}
    return [
        row for row in by_pk.values() if row.pk not in parents and row.kind == CategoryKind.GENERAL
    ]


def public_service(code: str) -> EventCategory | None:
    return next((row for row in public_services() if row.code == code), None)


def service_item(category: EventCategory) -> dict[str, Any]:
    lineage = category.lineage()
    parent = lineage[1] if len(lineage) > 1 else None
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or category.name,
        "metadata": bool(category.effective("extra_fields")),
        "type": "realtime",
        "keywords": ", ".join(node.name for node in reversed(lineage)),
        "group": parent.name if parent else "",
    }


def attribute_item(spec: dict[str, Any], order: int) -> dict[str, Any]:
    kind = spec.get("type", "text")
    values: list[dict[str, str]] = []
    if kind == "choice":
        values = [{"key": str(c), "name": str(c)} for c in spec.get("choices", [])]
    elif kind == "bool":
        values = [{"key": "true", "name": _("Yes")}, {"key": "false", "name": _("No")}]
    description = {
        "date": _("A date, as 2024-05-01."),
        "number": _("A number."),
    }.get(kind)
    return {
        "variable": True,
        "code": str(spec["key"]),
        "datatype": DATATYPES.get(kind, "string"),
        "required": bool(spec.get("required")),
        "datatype_description": description,
        "order": order,
        "description": str(spec.get("label", spec["key"])),
        "values": values,
    }


@endpoint("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri(reverse("events_open311:services", args=["json"]))
    return render(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": str(settings.LINLI_SITE_NAME),
            "key_service": _("API keys are API tokens of integration accounts; ask the operator."),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base.rsplit("/", 1)[0],
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@endpoint("GET")
def services_list(request: HttpRequest, fmt: str) -> HttpResponse:
    return render(fmt, "services", [service_item(c) for c in public_services()])


@endpoint("GET")
def service_definition(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    category = public_service(code)
    if category is None:
        raise Open311Error(404, _("Unknown service_code: %(code)s.") % {"code": code})
    fields = category.effective("extra_fields") or []
    return render(
        fmt,
        "service_definition",
        {
            "service_code": category.code,
            "attributes": [attribute_item(spec, i) for i, spec in enumerate(fields, start=1)],
        },
    )


# ---------------------------------------------------------------- requests: reading


def public_requests() -> QuerySet[Event]:
    """Events of public services, with the note of their latest public step."""
    last_note = (
        EventStep.objects.filter(event=OuterRef("pk"), public=True)
        .order_by("-created_at", "-pk")
        .values("note")[:1]
    )
    return (
        Event.objects.filter(category__kind=CategoryKind.GENERAL)
        .select_related("category", "department", "region", "external")
        .annotate(status_note=Subquery(last_note))
    )


def service_notice(event: Event) -> str | None:
    if not event.is_open or event.expected_at is None:
        return None
    return _("Expected to be completed by %(time)s.") % {
        "time": f"{timezone.localtime(event.expected_at):%Y-%m-%d %H:%M}"
    }


def request_item(event: Event, *, extensions: bool = False) -> dict[str, Any]:
    """One service request as the public sees it: no reporter, no extra fields."""
    external = getattr(event, "external", None)
    closed = not event.is_open
    item: dict[str, Any] = {
        "service_request_id": event.number,
        "status": "closed" if closed else "open",
        "status_notes": getattr(event, "status_note", None) or None,
        "service_name": event.category.name,
        "service_code": event.category.code,
        "description": event.description,
        "agency_responsible": event.department.name if event.department else None,
        "service_notice": service_notice(event),
        "requested_datetime": w3(event.created_at),
        "updated_datetime": w3(event.closed_at if closed and event.closed_at else event.updated_at),
        "expected_datetime": w3(event.expected_at),
        "address": event.address or event.region.name,
        "address_id": event.region_code,
        "zipcode": None,
        "lat": float(event.latitude) if event.latitude is not None else None,
        "long": float(event.longitude) if event.longitude is not None else None,
        "media_url": (external.media_url or None) if external else None,
    }
    if extensions:
        item["extended_attributes"] = {
            "detailed_status": DETAILED_STATUS[EventStatus(event.status)],
            "title": event.title,
            "stage": event.stage or None,
            "channel": event.source,
        }
    return item


def _moment(params: Any, name: str) -> datetime | None:
    value = str(params.get(name, "")).strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime.combine(day, datetime.min.time()) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise Open311Error(
            400,
            _("%(name)s is not a date and time (as 2024-05-01T08:00:00+08:00).") % {"name": name},
        )
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def window(params: Any) -> tuple[datetime, datetime]:
    """``start_date`` / ``end_date``: the most recent 90 days by default, never more."""
    start, end = _moment(params, "start_date"), _moment(params, "end_date")
    if start and end:
        if end < start:
            raise Open311Error(400, _("end_date is before start_date."))
        if end - start > MAX_WINDOW:
            raise Open311Error(400, _("start_date and end_date may not span more than 90 days."))
        return start, end
    if start:
        return start, start + MAX_WINDOW
    if end:
        return end - MAX_WINDOW, end
    now = timezone.now()
    return now - MAX_WINDOW, now


def _page(params: Any) -> tuple[int, int]:
    """The pagination extension: ``page`` from 1, ``page_size`` up to 1,000."""
    try:
        page = int(params.get("page") or 1)
        size = int(params.get("page_size") or MAX_PAGE_SIZE)
    except ValueError as exc:
        raise Open311Error(400, _("page and page_size must be whole numbers.")) from exc
    if page < 1 or size < 1:
        raise Open311Error(400, _("page and page_size must be whole numbers."))
    return page, min(size, MAX_PAGE_SIZE)


def _numbers(value: str) -> list[int]:
    pks = []
    for number in (part.strip() for part in value.split(",")):
        pk = Event.pk_from_number(number) if number else None
        if number and pk is None:
            raise Open311Error(400, _("%(id)s is not a service_request_id.") % {"id": number})
        if pk is not None:
            pks.append(pk)
    return pks


def _by_number(queryset: QuerySet[Event], numbers: str) -> list[Event]:
    wanted = {n.strip() for n in numbers.split(",") if n.strip()}
    found = queryset.filter(pk__in=_numbers(numbers))
    return [event for event in found if event.number in wanted]


def _extensions(request: HttpRequest) -> bool:
    return request.GET.get("extensions", "").lower() in {"true", "1", "yes"}


def _requests_list(request: HttpRequest, fmt: str) -> HttpResponse:
    params = request.GET
    queryset = public_requests().order_by("-created_at", "-pk")
    if params.get("service_request_id", "").strip():
        # "This overrides all other arguments."
        rows = _by_number(queryset, params["service_request_id"])[:MAX_PAGE_SIZE]
    else:
        codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
        if codes:
            queryset = queryset.filter(category__code__in=codes)
        statuses = {c.strip() for c in params.get("status", "").split(",") if c.strip()}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, _("status is open or closed."))
        if statuses == {"open"}:
            queryset = queryset.filter(status__in=list(OPEN_STATUSES))
        elif statuses == {"closed"}:
            queryset = queryset.exclude(status__in=list(OPEN_STATUSES))
        start, end = window(params)
        queryset = queryset.filter(created_at__gte=start, created_at__lte=end)
        page, size = _page(params)
        rows = list(queryset[(page - 1) * size : page * size])
    extensions = _extensions(request)
    return render(fmt, "service_requests", [request_item(e, extensions=extensions) for e in rows])


@endpoint("GET")
def request_detail(request: HttpRequest, request_id: str, fmt: str) -> HttpResponse:
    found = _by_number(public_requests(), request_id)
    if not found:
        raise Open311Error(404, _("No service request with the id %(id)s.") % {"id": request_id})
    return render(
        fmt, "service_requests", [request_item(found[0], extensions=_extensions(request))]
    )


@endpoint("GET")
def token(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    """The request id behind a token handed out by ``POST requests``."""
    event = Event.objects.filter(token=token, source=EventSource.OPEN311).first()
    if event is None:
        raise Open311Error(404, _("Unknown token: %(token)s.") % {"token": token})
    return render(
        fmt, "service_requests", [{"service_request_id": event.number, "token": event.token}]
    )


# ---------------------------------------------------------------- request updates


def update_item(step: EventStep) -> dict[str, Any]:
    return {
        "update_id": str(step.pk),
        "service_request_id": step.event.number,
        "status": UPDATE_STATUS[EventStatus(step.to_status)],
        "external_status_code": step.to_status,
        "updated_datetime": w3(step.created_at),
        "description": step.note,
        "media_url": None,
    }


def _updates(request: HttpRequest, fmt: str, numbers: str) -> HttpResponse:
    params = request.GET
    steps = EventStep.objects.filter(
        public=True, event__category__kind=CategoryKind.GENERAL
    ).select_related("event")
    if numbers:
        events = _by_number(public_requests(), numbers)
        steps = steps.filter(event__in=[e.pk for e in events])
        if params.get("start_date") or params.get("end_date"):
            start, end = window(params)
            steps = steps.filter(created_at__gte=start, created_at__lte=end)
    else:
        start, end = window(params)
        steps = steps.filter(created_at__gte=start, created_at__lte=end)
    page, size = _page(params)
    rows = steps.order_by("created_at", "pk")[(page - 1) * size : page * size]
    return render(fmt, "service_request_updates", [update_item(step) for step in rows])


@endpoint("GET")
def service_request_updates(request: HttpRequest, fmt: str) -> HttpResponse:
    """Updates of many requests (FixMyStreet's ``servicerequestupdates``): the public steps in
    ``start_date``..``end_date`` (90 days by default), optionally of ``service_request_id``."""
    return _updates(request, fmt, request.GET.get("service_request_id", "").strip())


@endpoint("GET")
def request_updates(request: HttpRequest, request_id: str, fmt: str) -> HttpResponse:
    """The updates of one request, all of them unless a date range is given."""
    if not _by_number(public_requests(), request_id):
        raise Open311Error(404, _("No service request with the id %(id)s.") % {"id": request_id})
    return _updates(request, fmt, request_id)


# ---------------------------------------------------------------- requests: reporting


def nearest_region(actor: Any, latitude: Decimal, longitude: Decimal) -> RegionNode | None:
    """The community or grid of the actor's area nearest to the position, among those with
    coordinates and within ``NEAREST_REGION_MAX_M``; on a tie the more specific one (the grid)."""
    lat, lng = float(latitude), float(longitude)
    dlat = NEAREST_REGION_MAX_M / 111_320
    dlng = NEAREST_REGION_MAX_M / (111_320 * max(math.cos(math.radians(lat)), 0.01))
    candidates = (
        RegionNode.objects.within(actor.scope_codes())
        .filter(
            level__in=services.EVENT_LEVELS,
            retired_at__isnull=True,
            latitude__range=(lat - dlat, lat + dlat),
            longitude__range=(lng - dlng, lng + dlng),
        )
        .only("code", "name", "level", "latitude", "longitude")
    )
    best: tuple[float, int, RegionNode] | None = None
    for node in candidates:
        distance = services._metres(lat, lng, float(node.latitude), float(node.longitude))  # type: ignore[arg-type]
        key = (distance, -len(node.code), node)
        if distance <= NEAREST_REGION_MAX_M and (best is None or key[:2] < best[:2]):
            best = key
    return best[2] if best else None


def _coordinate(value: str, name: str, low: float, high: float) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise Open311Error(400, _("%(name)s is not a number.") % {"name": name}) from exc
    if not number.is_finite() or not low <= number <= high:
        raise Open311Error(
            400,
            _("%(name)s must lie between %(low)s and %(high)s.")
            % {"name": name, "low": low, "high": high},
        )
    return number.quantize(Decimal("0.000001"))


def place_region(
    actor: Any, *, address_id: str, latitude: Decimal | None, longitude: Decimal | None
) -> RegionNode:
    """The community or grid a request lies in: ``address_id`` (its region code), else the one
    nearest to ``lat``/``long``, else the account's own community or grid."""
    scope = actor.scope_codes()
    if address_id:
        node = RegionNode.objects.filter(
            code=address_id, level__in=services.EVENT_LEVELS, retired_at__isnull=True
        ).first()
        if node is None or not code_in_scope(node.code, scope):
            raise Open311Error(
                400, _("address_id must be the code of a community or grid in your area.")
            )
        return node
    if latitude is not None and longitude is not None:
        node = nearest_region(actor, latitude, longitude)
        if node is None:
            raise Open311Error(
                400,
                _(
                    "No community or grid of your area with a known position lies near lat/long; "
                    "send address_id (the code of the community or grid)."
                ),
            )
        return node
    home = actor.home_region
    if (
        home is not None
        and home.level in services.EVENT_LEVELS
        and home.retired_at is None
        and code_in_scope(home.code, scope)
    ):
        return home  # type: ignore[no-any-return]
    raise Open311Error(
        400, _("Say where: send lat and long, or address_id (the code of the community or grid).")
    )


def _api_user(request: HttpRequest) -> Any:
    raw = request.POST.get("api_key") or request.GET.get("api_key") or ""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not raw and len(header) == 2 and header[0].lower() == "bearer":
        raw = header[1]
    if not raw.strip():
        raise Open311Error(403, _("api_key is missing."))
    try:
        user, _token = user_for_token(raw.strip())
    except exceptions.AuthenticationFailed as exc:
        raise Open311Error(403, _("The api_key is invalid or expired.")) from exc
    if not user.has_perm("events.add_event"):
        raise Open311Error(403, _("This api_key may not submit service requests."))
    return user


def _attributes(form: Any, category: EventCategory) -> dict[str, Any]:
    """``attribute[code]=value`` (and ``attribute[code][]`` repeated) as the category's extra
    fields; a date may come as a full date and time."""
    kinds = {
        str(spec["key"]): spec.get("type", "text")
        for spec in category.effective("extra_fields") or []
    }
    values: dict[str, Any] = {}
    for key in form:
        match = ATTRIBUTE_KEY.match(key)
        if match is None:
            continue
        code = match.group(1)
        given = [v for v in form.getlist(key) if v != ""]
        value: Any = ",".join(given) if len(given) > 1 else (given[0] if given else "")
        if kinds.get(code) == "date" and value:
            try:
                moment = parse_datetime(value)
            except ValueError:
                moment = None
            if moment is not None:
                value = (
                    (timezone.localtime(moment) if timezone.is_aware(moment) else moment)
                    .date()
                    .isoformat()
                )
        values[code] = value
    return values


def _full_name(first: str, last: str) -> str:
    first, last = first.strip(), last.strip()
    if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return f"{last}{first}"  # Chinese names: family name first, no space
    return f"{first} {last}".strip()


def _media_url(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(value) > 500:
        raise Open311Error(400, _("media_url must be an http or https address."))
    return value


def _create_request(request: HttpRequest, fmt: str) -> HttpResponse:
    user = _api_user(request)
    form = request.POST
    code = form.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, _("service_code is missing."))
    category = public_service(code)
    if category is None:
        raise Open311Error(404, _("Unknown service_code: %(code)s.") % {"code": code})
    lat_text, long_text = form.get("lat", "").strip(), form.get("long", "").strip()
    if bool(lat_text) != bool(long_text):
        raise Open311Error(400, _("Send lat and long together."))
    latitude = _coordinate(lat_text, "lat", -90, 90) if lat_text else None
    longitude = _coordinate(long_text, "long", -180, 180) if long_text else None
    address_id = form.get("address_id", "").strip()
    region = place_region(user, address_id=address_id, latitude=latitude, longitude=longitude)
    address = form.get("address_string", "").strip()[:200]
    if not address and latitude is None:
        address = region.name  # address_id alone: somewhere in that community or grid
    description = form.get("description", "").strip()
    if not description:
        raise Open311Error(400, _("description is missing: describe the problem."))
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, _("description is longer than 4,000 characters."))
    media_url = _media_url(form.get("media_url", ""))
    account_id = form.get("account_id", "").strip()[:64]
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 64:
        raise Open311Error(400, _("The Idempotency-Key header is longer than 64 characters."))
    existed = bool(key) and Event.objects.filter(reporter=user, idempotency_key=key).exists()
    started = timezone.now()
    try:
        with transaction.atomic():
            event = services.report(
                user,
                category=category,
                place=services.Place(
                    region=region, address=address, latitude=latitude, longitude=longitude
                ),
                description=description,
                source=EventSource.OPEN311,
                reporter_name=_full_name(form.get("first_name", ""), form.get("last_name", ""))[
                    :50
                ],
                reporter_phone=form.get("phone", "").strip()[:30],
                photos=request.FILES.getlist("media"),
                extra=_attributes(form, category),
                idempotency_key=key,
            )
            ExternalReport.objects.get_or_create(
                event=event,
                defaults={
                    "channel": ExternalChannel.OPEN311,
                    "account_ref": account_id,
                    "media_url": media_url,
                },
            )
    except PermissionDeniedError as exc:
        raise Open311Error(403, str(exc.message)) from exc
    except ServiceError as exc:
        raise Open311Error(400, str(exc.message)) from exc
    repeated = existed or event.created_at < started
    body = [
        {
            "service_request_id": event.number,
            "token": event.token,
            "service_notice": service_notice(event)
            or _("Registered as %(number)s.") % {"number": event.number},
            "account_id": account_id or None,
        }
    ]
    return render(fmt, "service_requests", body, 200 if repeated else 201)


@endpoint("GET", "POST")
def requests_view(request: HttpRequest, fmt: str) -> HttpResponse:
    """``GET``: service requests; ``POST``: a new one (needs ``api_key``)."""
    if request.method == "POST":
        return _create_request(request, fmt)
    return _requests_list(request, fmt)
