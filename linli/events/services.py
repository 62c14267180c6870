"""The event hub's state changes, as the only way to make them.

``report`` creates an event from any source; ``transition`` applies one step of the lifecycle
(``lifecycle.TRANSITIONS``) — the pages, the API, Open311, the 12345 interface and the periodic
sweep all call these two. Each runs in one transaction: the event row is locked, the version the
caller saw is compared (two people acting at once: one succeeds, the other is told), the actor's
permission and place are checked against the transition's rule, the state, its clock and its
deadline are set, the timeline step and the audit entry are written, and the notifications are
queued. A refusal raises ``ServiceError`` before anything is written.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ServiceError
from linli.events import calendar
from linli.events.attachments import Checked, check_all
from linli.events.choices import (
    OPEN_STATUSES,
    AttachmentKind,
    EscalationLevel,
    EventPriority,
    EventSource,
    EventStatus,
    Rating,
    StepAction,
)
from linli.events.lifecycle import TRANSITIONS, Actor, Notify, Transition
from linli.events.models import (
    Department,
    DispatchRule,
    Event,
    EventAttachment,
    EventCategory,
    EventStep,
)
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.utilities.scope import code_in_scope

COMMUNITY_CODE_LENGTH = 12
EVENT_LEVELS = (RegionLevel.COMMUNITY, RegionLevel.GRID)
# What an escalation level needs of a supervisor's area: its code at most this long.
_LEVEL_CODE_LENGTH = {
    EscalationLevel.COMMUNITY: 9,
    EscalationLevel.SUBDISTRICT: 9,
    EscalationLevel.COUNTY: 6,
}


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def return_limit() -> int:
    return int(setting("LINLI_EVENT_RETURN_LIMIT", 2))


def escalation_grace() -> timedelta:
    return timedelta(hours=float(setting("LINLI_EVENT_ESCALATION_GRACE_HOURS", 4)))


def duplicate_radius_m() -> float:
    return float(setting("LINLI_EVENT_DUPLICATE_RADIUS_M", 100))


# --- who may act --------------------------------------------------------------------------


def community_code(event: Event) -> str:
    return event.region_code[:COMMUNITY_CODE_LENGTH]


def in_scope(actor: Any, event: Event) -> bool:
    return code_in_scope(event.region_code, actor.scope_codes())


def is_member(actor: Any, department_id: int | None) -> bool:
    if department_id is None:
        return False
    return actor.departments.filter(pk=department_id, retired_at__isnull=True).exists()  # type: ignore[no-any-return]


def is_level_above(actor: Any, event: Event) -> bool:
    """The actor's area lies above the event's community and reaches its escalation level."""
    longest = _LEVEL_CODE_LENGTH[EscalationLevel(event.escalation_level)]
    return any(
        len(code) <= longest and event.region_code.startswith(code) for code in actor.scope_codes()
    )


def may(actor: Any, event: Event, transition: Transition) -> bool:
    """Whether ``actor`` may make ``transition`` on ``event`` (its state aside)."""
    if actor is None:
        return Actor.SYSTEM in transition.actors
    if transition.permission and not actor.has_perm(transition.permission):
        return False
    for rule in transition.actors:
        if rule == Actor.SCOPE and in_scope(actor, event):
            return True
        if rule == Actor.DEPARTMENT and is_member(actor, event.department_id):
            return True
        if rule == Actor.LEVEL_ABOVE and is_level_above(actor, event):
            return True
        if rule == Actor.REPORTER and event.reporter_id == actor.pk:
            return True
    return False


def actions_for(actor: Any, event: Event) -> list[Transition]:
    """The transitions the actor may make on the event now: what the pages offer."""
    offered = []
    for transition in TRANSITIONS.values():
        if event.status not in transition.sources or not may(actor, event, transition):
            continue
        if not _applies(event, transition):
            continue
        offered.append(transition)
    return offered


def _applies(event: Event, transition: Transition) -> bool:
    action = transition.action
    if action == StepAction.REQUEST_EXTENSION:
        return event.extension_requested_until is None
    if action in (StepAction.APPROVE_EXTENSION, StepAction.DENY_EXTENSION):
        return event.extension_requested_until is not None
    if action == StepAction.RETURN:
        return event.return_count < return_limit()
    if action in (StepAction.REOPEN, StepAction.CONFIRM_CLOSE):
        return event.needs_ruling
    if action == StepAction.RATE:
        return event.rated_at is None or (
            event.closed_at is not None and event.rated_at < event.closed_at
        )
    if action == StepAction.ESCALATE:
        return event.escalation_level < EscalationLevel.COUNTY
    if action == StepAction.PROGRESS:
        return True
    return True


# --- reading ------------------------------------------------------------------------------


def visible_event(actor: Any, pk: Any, *, lock: bool = False) -> Event:
    """The event as the actor may see it: through the gate, as a department member, or as its
    reporter. Anything else is "does not exist"."""
    if actor is None:
        queryset = Event.objects.all()
    else:
        queryset = Event.objects.visible_to(actor) | Event.objects.filter(reporter=actor)
        queryset = Event.objects.filter(pk__in=queryset.filter(pk=pk).values("pk"))
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    found = queryset.filter(pk=pk).select_related("category", "department", "region").first()
    if found is None:
        raise NotFoundError("not_found", _("The event does not exist."))
    return found


def timeline(event: Event, *, public_only: bool = False) -> QuerySet[EventStep]:
    steps = event.steps.select_related("actor", "department").prefetch_related("attachments")
    return steps.filter(public=True) if public_only else steps


def supervision_list(actor: Any) -> QuerySet[Event]:
    """Open events in the actor's area that need a supervisor: overdue, urged, or awaiting a
    ruling — most overdue first."""
    return (
        Event.objects.visible_to(actor)
        .filter(status__in=OPEN_STATUSES)
        .filter(Q(overdue=True) | Q(supervised=True) | Q(needs_ruling=True))
        .select_related("category", "department")
        .order_by("state_deadline", "pk")
    )


# --- places and dispatch rules ------------------------------------------------------------


def dispatch_target(category: EventCategory, region_code: str) -> Department | None:
    """The department the rules route a category's events in an area to: the most specific
    area first, then the nearest category up the tree, then the category's default."""
    lineage = category.lineage()
    prefixes = [region_code[:n] for n in (15, 12, 9, 6) if len(region_code) >= n]
    rules = {
        (rule.category_id, rule.region.code): rule.department
        for rule in DispatchRule.objects.filter(
            category__in=lineage, region__code__in=prefixes, department__retired_at__isnull=True
        ).select_related("region", "department")
    }
    for node in lineage:
        for prefix in prefixes:
            if (node.pk, prefix) in rules:
                return rules[(node.pk, prefix)]
    for node in lineage:
        department = node.default_department
        if department is not None and department.retired_at is None:
            return department
    return None


def departments_for(event: Event) -> QuerySet[Department]:
    """Departments a dispatcher may choose for the event: those serving its place (county-wide,
    its subdistrict, its community or grid) or lying inside its community."""
    code = event.region_code
    ancestors = [code[:n] for n in (6, 9, 12, 15) if len(code) >= n]
    return (
        Department.objects.filter(retired_at__isnull=True)
        .filter(Q(region__code__in=ancestors) | Q(region__code__startswith=community_code(event)))
        .select_related("region")
        .order_by("region__code", "name")
    )


@dataclass(frozen=True)
class Place:
    region: RegionNode
    compound: Any = None
    building: Any = None
    house: Any = None
    address: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None


def _check_place(place: Place) -> None:
    region = place.region
    if region is None or region.level not in EVENT_LEVELS or region.retired_at is not None:
        raise ServiceError(
            "place_region", _("Choose the community or grid where the problem is."), field="region"
        )
    has_position = place.latitude is not None and place.longitude is not None
    if not (
        place.address.strip() or has_position or place.house or place.building or place.compound
    ):
        raise ServiceError(
            "place_missing",
            _("Say where the problem is: an address, a position on the map or a house."),
            field="address",
        )
    if (place.latitude is None) != (place.longitude is None):
        raise ServiceError(
            "place_position",
            _("A map position needs both latitude and longitude."),
            field="latitude",
        )
    if has_position and not (
        -90 <= float(place.latitude) <= 90 and -180 <= float(place.longitude) <= 180  # type: ignore[arg-type]
    ):
        raise ServiceError("place_position", _("The map position is not valid."), field="latitude")
    community = region.code[:COMMUNITY_CODE_LENGTH]
    for record in (place.house, place.building, place.compound):
        if record is not None and not record.region.code.startswith(community):
            raise ServiceError(
                "place_record", _("The house or building lies in another community."), field="house"
            )


def _check_required(
    category: EventCategory, place: Place, photos: Sequence[Any], fields: dict[str, Any]
) -> None:
    required = set(category.effective("required_fields") or [])
    if "photo" in required and not photos:
        raise ServiceError(
            "photo_required", _("This kind of problem needs a photo."), field="photos"
        )
    if "position" in required and place.latitude is None:
        raise ServiceError(
            "position_required",
            _("This kind of problem needs a position on the map."),
            field="latitude",
        )
    if "house" in required and place.house is None:
        raise ServiceError(
            "house_required", _("This kind of problem needs the house."), field="house"
        )
    if "phone" in required and not fields.get("reporter_phone"):
        raise ServiceError(
            "phone_required",
            _("This kind of problem needs a contact phone."),
            field="reporter_phone",
        )


def clean_extra(category: EventCategory, values: dict[str, Any]) -> dict[str, Any]:
    """The category's own fields, checked by their declared types; unknown keys are refused."""
    declared = {spec["key"]: spec for spec in category.effective("extra_fields") or []}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ServiceError(
            "extra_unknown", _("Unknown fields: %(names)s.") % {"names": "、".join(unknown)}
        )
    cleaned: dict[str, Any] = {}
    for key, spec in declared.items():
        value = values.get(key)
        label = spec.get("label", key)
        if value in (None, ""):
            if spec.get("required"):
                raise ServiceError(
                    "extra_required", _("%(label)s is required.") % {"label": label}, field=key
                )
            continue
        kind = spec.get("type", "text")
        try:
            if kind == "number":
                number = float(value)
                if not math.isfinite(number):
                    raise ValueError
                cleaned[key] = number
            elif kind == "bool":
                cleaned[key] = str(value).lower() in {"1", "true", "yes", "on", "是"}
            elif kind == "date":
                cleaned[key] = datetime.strptime(str(value), "%Y-%m-%d").date().isoformat()
            elif kind == "choice":
                if str(value) not in [str(c) for c in spec.get("choices", [])]:
                    raise ValueError
                cleaned[key] = str(value)
            else:
                cleaned[key] = str(value)[:500]
        except ValueError as exc:
            raise ServiceError(
                "extra_invalid", _("%(label)s is not valid.") % {"label": label}, field=key
            ) from exc
    return cleaned


def duplicates_for(
    category: EventCategory,
    region_code: str,
    *,
    latitude: Decimal | float | None = None,
    longitude: Decimal | float | None = None,
    building: Any = None,
    exclude: int | None = None,
) -> list[Event]:
    """Open events of the same category near the new report: within the configured radius of
    its position, or in the same building. Nearest first."""
    community = region_code[:COMMUNITY_CODE_LENGTH]
    base = Event.objects.filter(
        category=category, status__in=OPEN_STATUSES, region_code__startswith=community
    )
    if exclude:
        base = base.exclude(pk=exclude)
    found: dict[int, tuple[float, Event]] = {}
    if building is not None:
        for event in base.filter(building=building)[:20]:
            found[event.pk] = (0.0, event)
    if latitude is not None and longitude is not None:
        lat, lng = float(latitude), float(longitude)
        radius = duplicate_radius_m()
        dlat = radius / 111_320
        dlng = radius / (111_320 * max(math.cos(math.radians(lat)), 0.01))
        box = base.filter(
            latitude__range=(lat - dlat, lat + dlat), longitude__range=(lng - dlng, lng + dlng)
        )
        for event in box[:100]:
            distance = _metres(lat, lng, float(event.latitude), float(event.longitude))  # type: ignore[arg-type]
            if distance <= radius:
                found.setdefault(event.pk, (distance, event))
    return [event for _, event in sorted(found.values(), key=lambda pair: (pair[0], pair[1].pk))]


def _metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# --- the clock ----------------------------------------------------------------------------


def _set_clock(event: Event, status: str, now: datetime) -> None:
    unit, limits = event.category.effective_limits()
    event.status_changed_at = now
    amount = limits.get(status)
    event.state_deadline = calendar.add_limit(now, amount, unit) if amount else None
    event.expected_at = calendar.expected_completion(now, status, unit, limits)
    event.overdue = False
    event.overdue_since = None


def _elapsed(event: Event, now: datetime) -> tuple[int, int | None]:
    elapsed = max(0, int((now - event.status_changed_at).total_seconds()))
    allowed = (
        max(0, int((event.state_deadline - event.status_changed_at).total_seconds()))
        if event.state_deadline
        else None
    )
    return elapsed, allowed


# --- reporting ----------------------------------------------------------------------------


def report(
    actor: Any,
    *,
    category: EventCategory,
    place: Place,
    description: str,
    source: str,
    title: str = "",
    priority: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    photos: Sequence[Any] = (),
    files: Sequence[Any] = (),
    extra: dict[str, Any] | None = None,
    idempotency_key: str = "",
    external_id: str = "",
) -> Event:
    """A new event. The same idempotency key from the same account, or the same external number
    from the same source, returns the event already made instead of a second one."""
    if actor is not None and not actor.has_perm("events.add_event"):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )
    idempotency_key = idempotency_key.strip()[:64]
    external_id = external_id.strip()[:64]
    existing = _existing(actor, source, idempotency_key, external_id)
    if existing is not None:
        return existing
    description = description.strip()
    if not description:
        raise ServiceError("description_missing", _("Describe the problem."), field="description")
    if source not in EventSource.values:
        raise ServiceError("source_invalid", _("Unknown source."), field="source")
    if not category.is_active or category.children.filter(is_active=True).exists():
        raise ServiceError(
            "category_invalid",
            _("Choose a category at the lowest level of the tree."),
            field="category",
        )
    _check_place(place)
    if actor is not None and not code_in_scope(place.region.code, actor.scope_codes()):
        raise NotFoundError("not_found", _("The place is outside your area."))
    cleaned_extra = clean_extra(category, extra or {})
    _check_required(category, place, photos, {"reporter_phone": reporter_phone})
    checked = check_all(list(photos), AttachmentKind.PHOTO) + check_all(
        list(files), AttachmentKind.FILE
    )
    if priority and priority not in EventPriority.values:
        raise ServiceError("priority_invalid", _("Unknown priority."), field="priority")
    now = timezone.now()
    event = Event(
        source=source,
        category=category,
        title=(title.strip() or description.splitlines()[0])[:100],
        description=description,
        region=place.region,
        region_code=place.region.code,
        compound=place.compound,
        building=place.building,
        house=place.house,
        address=place.address.strip()[:200],
        latitude=place.latitude,
        longitude=place.longitude,
        reporter=actor,
        reporter_name=reporter_name.strip()[:50],
        reporter_phone=reporter_phone.strip(),
        external_id=external_id,
        idempotency_key=idempotency_key,
        token=str(uuid.uuid4()),
        priority=priority or category.effective("priority"),
        extra=cleaned_extra,
        created_at=now,
    )
    stages = category.effective("stages") or []
    if stages:
        event.stage = str(stages[0])
    _set_clock(event, EventStatus.REPORTED, now)
    try:
        with transaction.atomic():
            event.save(force_insert=True)
            step = EventStep.objects.create(
                event=event,
                action=StepAction.REPORT,
                actor=actor,
                actor_name=_actor_name(actor),
                from_status=EventStatus.REPORTED,
                to_status=EventStatus.REPORTED,
                note=description[:2000],
                public=True,
                created_at=now,
            )
            _store_attachments(event, step, checked, actor)
            audit.record(
                AuditAction.CREATE, event, actor=actor, note=f"event reported via {source}"
            )
            _notify(event, (Notify.DISPATCHERS,), StepAction.REPORT, actor)
            if category.effective("auto_dispatch"):
                _auto_dispatch(event, now)
    except IntegrityError:
        # Two submissions with one key raced each other: the first one stands.
        again = _existing(actor, source, idempotency_key, external_id)
        if again is None:
            raise
        return again
    return event


def _existing(actor: Any, source: str, key: str, external_id: str) -> Event | None:
    if key and actor is not None:
        found = Event.objects.filter(reporter=actor, idempotency_key=key).first()
        if found is not None:
            return found
    if external_id:
        return Event.objects.filter(source=source, external_id=external_id).first()
    return None


def _auto_dispatch(event: Event, now: datetime) -> None:
    """Categories marked so are accepted and dispatched by the rules at once."""
    department = dispatch_target(event.category, event.region_code)
    if department is None:
        return  # no rule: a dispatcher decides, as for any other category
    _apply(None, event, TRANSITIONS[StepAction.ACCEPT], now=now, note=_("Accepted automatically."))
    _apply(
        None,
        event,
        TRANSITIONS[StepAction.DISPATCH],
        now=now,
        department=department,
        note=_("Dispatched automatically by the rules."),
    )


def _store_attachments(
    event: Event, step: EventStep | None, checked: Iterable[Checked], actor: Any
) -> None:
    for item in checked:
        attachment = EventAttachment(
            event=event,
            step=step,
            kind=item.kind,
            name=item.name,
            content_type=item.content_type,
            size=len(item.content),
            sha256=item.sha256,
            uploaded_by=actor,
        )
        attachment.file.save(item.name, item.as_file(), save=False)
        attachment.save()


def _actor_name(actor: Any) -> str:
    if actor is None:
        return _("System")
    return str(getattr(actor, "display_name", "") or actor.get_username())


# --- the lifecycle ------------------------------------------------------------------------


def transition(
    actor: Any,
    event: Event | int,
    action: str,
    *,
    version: int | None = None,
    note: str = "",
    department: Department | int | None = None,
    handler: Any = None,
    until: datetime | None = None,
    rating: str = "",
    into: Event | int | None = None,
    stage: str = "",
    files: Sequence[Any] = (),
) -> Event:
    """Make one lifecycle step. ``version`` is the event version the actor saw: when somebody
    else acted in between, the step is refused with a message saying so."""
    spec = TRANSITIONS.get(action)
    if spec is None:
        raise ServiceError("action_unknown", _("Unknown action."))
    checked = check_all(list(files), AttachmentKind.FILE) if files else []
    pk = getattr(event, "pk", event)
    with transaction.atomic():
        current = visible_event(actor, pk, lock=True)
        if version is not None and current.version != version:
            raise ConflictError(
                "event_changed",
                _(
                    "Someone else has just acted on this event (it is now “%(status)s”). "
                    "Reload the page and check before you go on."
                )
                % {"status": current.get_status_display()},
            )
        if current.status not in spec.sources:
            raise ConflictError(
                "event_state",
                _("The event is “%(status)s”; “%(action)s” is not possible now.")
                % {"status": current.get_status_display(), "action": spec.action.label},
            )
        if not may(actor, current, spec):
            raise PermissionDeniedError(
                "permission_denied", _("You may not do this on this event.")
            )
        step = _apply(
            actor,
            current,
            spec,
            now=timezone.now(),
            note=note,
            department=department,
            handler=handler,
            until=until,
            rating=rating,
            into=into,
            stage=stage,
        )
        if checked:
            _store_attachments(current, step, checked, actor)
    return current


def _require_note(note: str, spec: Transition) -> str:
    note = note.strip()
    if "note" in spec.requires and not note:
        raise ServiceError("note_missing", _("Give a reason or a note."), field="note")
    return note[:2000]


def _department(value: Department | int | None, event: Event) -> Department:
    pk: Any = getattr(value, "pk", value)
    if pk in (None, ""):
        raise ServiceError("department_missing", _("Choose a department."), field="department")
    try:
        pk = int(pk)
    except (TypeError, ValueError) as exc:
        raise ServiceError(
            "department_invalid",
            _("That department does not serve this place."),
            field="department",
        ) from exc
    found = departments_for(event).filter(pk=pk).first()
    if found is None:
        raise ServiceError(
            "department_invalid",
            _("That department does not serve this place."),
            field="department",
        )
    return found


def _apply(
    actor: Any,
    event: Event,
    spec: Transition,
    *,
    now: datetime,
    note: str = "",
    department: Department | int | None = None,
    handler: Any = None,
    until: datetime | None = None,
    rating: str = "",
    into: Event | int | None = None,
    stage: str = "",
) -> EventStep:
    """Apply a transition already allowed; the caller holds the row lock."""
    note = _require_note(note, spec)
    action = spec.action
    before = event.status
    elapsed, allowed = _elapsed(event, now)
    step_department: Department | None = event.department
    data: dict[str, Any] = {}
    public = spec.public
    notify: tuple[Notify, ...] = spec.notifies
    target = spec.target
    changed = ["status", "version", "updated_at"]

    if action == StepAction.DISPATCH or action == StepAction.TRANSFER:
        chosen = _department(department, event)
        if action == StepAction.TRANSFER and chosen.pk == event.department_id:
            raise ServiceError(
                "department_same", _("Choose another department."), field="department"
            )
        if event.needs_ruling and actor is not None and not is_level_above(actor, event):
            raise PermissionDeniedError(
                "ruling_needed",
                _("This event was returned too often; the level above decides where it goes."),
            )
        person = _handler(handler, chosen)
        event.department, event.handler = chosen, person
        event.needs_ruling = False
        step_department = chosen
        data["department"] = chosen.name
        changed += ["department", "handler", "needs_ruling"]
    elif action == StepAction.SIGN:
        event.handler = event.handler or actor
        event.signed_at = now
        changed += ["handler", "signed_at"]
    elif action == StepAction.RETURN:
        if event.return_count >= return_limit():
            raise ServiceError(
                "return_limit",
                _(
                    "This event has been returned %(count)d times, the most allowed. "
                    "Handle it, or wait for the level above to rule."
                )
                % {"count": event.return_count},
            )
        event.return_count += 1
        event.department, event.handler = None, None
        changed += ["return_count", "department", "handler"]
        if event.return_count >= return_limit():
            event.needs_ruling = True
            event.escalation_level = max(event.escalation_level, EscalationLevel.SUBDISTRICT)
            event.escalated_at = now
            notify = (Notify.LEVEL_ABOVE,)
            changed += ["needs_ruling", "escalation_level", "escalated_at"]
    elif action == StepAction.REQUEST_EXTENSION:
        if event.extension_requested_until is not None:
            raise ServiceError("extension_pending", _("An extension request is already waiting."))
        if until is None:
            raise ServiceError("until_missing", _("Say until when."), field="until")
        if event.state_deadline is None:
            raise ServiceError("no_deadline", _("This step has no time limit to extend."))
        if now >= event.state_deadline:
            raise ServiceError(
                "extension_late",
                _("An extension must be requested before the deadline (%(deadline)s).")
                % {"deadline": _local(event.state_deadline)},
            )
        if until <= event.state_deadline:
            raise ServiceError(
                "extension_short",
                _("The new deadline must be later than the current one."),
                field="until",
            )
        event.extension_requested_until = until
        data["until"] = until.isoformat()
        changed += ["extension_requested_until"]
    elif action == StepAction.APPROVE_EXTENSION:
        if event.extension_requested_until is None:
            raise ServiceError("extension_none", _("No extension has been requested."))
        data["until"] = event.extension_requested_until.isoformat()
        event.state_deadline = event.extension_requested_until
        event.extension_requested_until = None
        event.extension_count += 1
        if event.state_deadline > now:
            event.overdue, event.overdue_since = False, None
        unit, limits = event.category.effective_limits()
        event.expected_at = (
            calendar.expected_completion(event.state_deadline, EventStatus.HANDLED, unit, limits)
            or event.state_deadline
        )
        changed += [
            "state_deadline",
            "extension_requested_until",
            "extension_count",
            "overdue",
            "overdue_since",
            "expected_at",
        ]
    elif action == StepAction.DENY_EXTENSION:
        if event.extension_requested_until is None:
            raise ServiceError("extension_none", _("No extension has been requested."))
        event.extension_requested_until = None
        changed += ["extension_requested_until"]
    elif action == StepAction.PROGRESS:
        stages = [str(s) for s in event.category.effective("stages") or []]
        if stage:
            if stage not in stages:
                raise ServiceError("stage_invalid", _("Unknown stage."), field="stage")
            event.stage = stage
            data["stage"] = stage
            changed += ["stage"]
    elif action == StepAction.HANDLE:
        event.handled_at = now
        changed += ["handled_at"]
    elif action == StepAction.CLOSE:
        event.closed_at = now
        changed += ["closed_at"]
    elif action in (StepAction.RATE, StepAction.FOLLOW_UP):
        if action == StepAction.RATE and not _applies(event, spec):
            raise ServiceError("rated_already", _("This result has already been rated."))
        if rating not in Rating.values:
            raise ServiceError("rating_missing", _("Choose a rating."), field="rating")
        event.rating, event.rated_at = rating, now
        event.rating_comment = note[:500]
        data["rating"] = rating
        changed += ["rating", "rated_at", "rating_comment"]
    elif action == StepAction.REOPEN:
        if actor is not None and not event.needs_ruling:
            raise ServiceError("ruling_none", _("This event is not awaiting a ruling."))
        last = event.department
        if last is None or last.retired_at is not None:
            raise ServiceError(
                "reopen_department", _("The department that handled it no longer exists.")
            )
        event.reopen_count += 1
        event.needs_ruling = False
        event.closed_at = None
        event.signed_at = None
        changed += ["reopen_count", "needs_ruling", "closed_at", "signed_at"]
    elif action == StepAction.CONFIRM_CLOSE:
        if not event.needs_ruling:
            raise ServiceError("ruling_none", _("This event is not awaiting a ruling."))
        event.needs_ruling = False
        changed += ["needs_ruling"]
    elif action == StepAction.URGE:
        event.supervised = True
        changed += ["supervised"]
    elif action == StepAction.ESCALATE:
        if event.escalation_level >= EscalationLevel.COUNTY:
            raise ServiceError("escalate_top", _("The event is already at the county."))
        event.escalation_level += 1
        event.escalated_at = now
        data["level"] = event.escalation_level
        changed += ["escalation_level", "escalated_at"]
    elif action == StepAction.MERGE:
        into_event = _merge_target(actor, event, into)
        event.merged_into = into_event
        changed += ["merged_into"]
        data["into"] = into_event.number
        EventStep.objects.create(
            event=into_event,
            action=StepAction.MERGED_IN,
            actor=actor,
            actor_name=_actor_name(actor),
            department=into_event.department,
            from_status=into_event.status,
            to_status=into_event.status,
            note=_("Duplicate report %(number)s merged in.") % {"number": event.number},
            data={"duplicate": event.number},
            created_at=now,
        )

    if target is not None:
        event.status = target
        _set_clock(event, target, now)
        changed += [
            "status_changed_at",
            "state_deadline",
            "expected_at",
            "overdue",
            "overdue_since",
        ]
    elif spec.restarts_clock:
        _set_clock(event, event.status, now)
        changed += [
            "status_changed_at",
            "state_deadline",
            "expected_at",
            "overdue",
            "overdue_since",
        ]
    if target == EventStatus.SIGNED_FOR and action == StepAction.SEND_BACK:
        event.handled_at = None
        changed += ["handled_at"]
    event.version += 1
    event.save(update_fields=sorted(set(changed)))
    step = EventStep.objects.create(
        event=event,
        action=action,
        actor=actor,
        actor_name=_actor_name(actor),
        department=step_department,
        from_status=before,
        to_status=event.status,
        note=note,
        public=public,
        elapsed_seconds=elapsed if target is not None or spec.restarts_clock else None,
        allowed_seconds=allowed if target is not None or spec.restarts_clock else None,
        data=data,
        created_at=now,
    )
    audit.record(
        AuditAction.UPDATE,
        event,
        actor=actor,
        changes={"status": [before, event.status]} if before != event.status else {},
        note=f"event {action}",
    )
    _notify(event, notify, action, actor, note=note)
    if event.source == EventSource.HOTLINE and event.external_id:
        from linli.events import hotline  # the 12345 platform hears of its tickets' progress

        hotline.step_made(event, step)
    if action == StepAction.CLOSE:
        _tell_duplicates(event, now)
    if action in (StepAction.RATE, StepAction.FOLLOW_UP) and rating == Rating.UNSATISFIED:
        _unsatisfied(event, now)
    return step


def _handler(value: Any, department: Department) -> Any:
    pk = getattr(value, "pk", value)
    if pk in (None, ""):
        return None
    person = department.members.filter(pk=pk, is_active=True).first()
    if person is None:
        raise ServiceError(
            "handler_invalid", _("That person is not a member of the department."), field="handler"
        )
    return person


def _merge_target(actor: Any, event: Event, into: Event | int | None) -> Event:
    pk = getattr(into, "pk", into)
    if pk in (None, ""):
        raise ServiceError("into_missing", _("Choose the event it duplicates."), field="into")
    if pk == event.pk:
        raise ServiceError("into_self", _("An event cannot duplicate itself."), field="into")
    target = visible_event(actor, pk, lock=True)
    if not target.is_open:
        raise ServiceError(
            "into_closed", _("Merge only into an event that is still open."), field="into"
        )
    if target.category_id != event.category_id:
        raise ServiceError(
            "into_category", _("Merge only events of the same category."), field="into"
        )
    if target.merged_into_id is not None:
        raise ServiceError("into_merged", _("That event was itself merged."), field="into")
    return target


def _tell_duplicates(event: Event, now: datetime) -> None:
    """Merged reports share the outcome: a public step on each and a note to each reporter."""
    duplicates = list(event.duplicates.select_related("reporter"))
    if not duplicates:
        return
    text = _("The event %(number)s your report was merged into has been closed.") % {
        "number": event.number
    }
    EventStep.objects.bulk_create(
        EventStep(
            event=duplicate,
            action=StepAction.CLOSE,
            actor_name=_("System"),
            from_status=duplicate.status,
            to_status=duplicate.status,
            note=text,
            public=True,
            created_at=now,
        )
        for duplicate in duplicates
    )
    from linli.notifications.services import notify

    for duplicate in duplicates:
        notify(
            [duplicate.reporter],
            text,
            link=reverse("events_mobile:mine_detail", args=[duplicate.pk]),
            subject=duplicate,
        )


def _unsatisfied(event: Event, now: datetime) -> None:
    """An unsatisfied result reopens the event once; after that the level above decides."""
    if event.reopen_count < 1 and event.department is not None:
        _apply(
            None,
            event,
            TRANSITIONS[StepAction.REOPEN],
            now=now,
            note=_("Reopened because the result was rated unsatisfactory."),
        )
        return
    event.needs_ruling = True
    event.escalation_level = max(event.escalation_level, EscalationLevel.SUBDISTRICT)
    event.save(update_fields=["needs_ruling", "escalation_level", "updated_at"])
    _notify(event, (Notify.LEVEL_ABOVE,), StepAction.RATE, None)


def _local(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


# --- notifications ------------------------------------------------------------------------


def _staff_at(codes: Iterable[str], permission: str) -> list[Any]:
    from linli.accounts.models import RoleAssignment

    users = {}
    for assignment in RoleAssignment.objects.filter(
        region__code__in=list(codes), role__is_active=True, user__is_active=True
    ).select_related("user", "role"):
        if permission in assignment.role.permissions:
            users[assignment.user_id] = assignment.user
    return list(users.values())


def recipients(event: Event, who: Notify) -> list[Any]:
    code = event.region_code
    if who == Notify.REPORTER:
        return [event.reporter] if event.reporter_id else []
    if who == Notify.DEPARTMENT:
        if event.department_id is None:
            return []
        return list(event.department.members.filter(is_active=True))  # type: ignore[union-attr]
    if who == Notify.DISPATCHERS:
        level_codes = {
            EscalationLevel.COMMUNITY: [code[:12]],
            EscalationLevel.SUBDISTRICT: [code[:9]],
        }
        codes = level_codes.get(EscalationLevel(event.escalation_level), [code[:6]])
        return _staff_at(codes, "events.dispatch_event")
    if who == Notify.LEVEL_ABOVE:
        codes = [code[:6]] if event.escalation_level >= EscalationLevel.COUNTY else [code[:9]]
        return _staff_at(codes, "events.supervise_event")
    return []


_TITLES = {
    StepAction.REPORT: gettext_noop("New event %(number)s: %(title)s"),
    StepAction.ACCEPT: gettext_noop("Your report %(number)s was accepted"),
    StepAction.REJECT: gettext_noop("Your report %(number)s was not accepted"),
    StepAction.MERGE: gettext_noop("Your report %(number)s was merged with an earlier one"),
    StepAction.DISPATCH: gettext_noop("Event %(number)s dispatched to you: %(title)s"),
    StepAction.TRANSFER: gettext_noop("Event %(number)s transferred to you: %(title)s"),
    StepAction.RETURN: gettext_noop("Event %(number)s was returned by the department"),
    StepAction.REQUEST_EXTENSION: gettext_noop("Extension requested for event %(number)s"),
    StepAction.APPROVE_EXTENSION: gettext_noop("Extension approved for event %(number)s"),
    StepAction.DENY_EXTENSION: gettext_noop("Extension refused for event %(number)s"),
    StepAction.HANDLE: gettext_noop("Event %(number)s has been handled"),
    StepAction.SEND_BACK: gettext_noop("Event %(number)s was sent back for handling"),
    StepAction.CLOSE: gettext_noop("Your report %(number)s has been closed"),
    StepAction.REOPEN: gettext_noop("Event %(number)s was reopened"),
    StepAction.CONFIRM_CLOSE: gettext_noop("The closure of %(number)s was confirmed"),
    StepAction.URGE: gettext_noop("Urged: event %(number)s"),
    StepAction.ESCALATE: gettext_noop("Escalated: event %(number)s"),
    StepAction.RATE: gettext_noop("Event %(number)s awaits your ruling"),
}


def _notify(
    event: Event, targets: Iterable[Notify], action: str, actor: Any, note: str = ""
) -> None:
    if not targets:
        return
    from linli.notifications.services import notify

    template = _TITLES.get(StepAction(action), "Event %(number)s: %(title)s")
    title = _(template) % {"number": event.number, "title": event.title}
    for who in targets:
        users = [u for u in recipients(event, who) if actor is None or u.pk != actor.pk]
        if not users:
            continue
        link = (
            reverse("events_mobile:mine_detail", args=[event.pk])
            if who == Notify.REPORTER
            else reverse("events:detail", args=[event.pk])
        )
        notify(users, title, note, link=link, subject=event)


# --- the periodic sweep -------------------------------------------------------------------


@dataclass
class SweepResult:
    overdue: int = 0
    escalated: int = 0


def sweep(now: datetime | None = None, *, chunk: int = 2000) -> SweepResult:
    """Mark the steps past their deadline overdue, and escalate those still overdue after the
    grace period to the level above (community → subdistrict → county). Idempotent; runs in
    chunks so a large backlog never holds one long transaction."""
    now = now or timezone.now()
    result = SweepResult()
    while True:
        with transaction.atomic():
            rows = list(
                Event.objects.filter(
                    status__in=OPEN_STATUSES, overdue=False, state_deadline__lt=now
                )
                .select_for_update(skip_locked=True)
                .values_list("pk", "status", "state_deadline", "department_id")[:chunk]
            )
            if not rows:
                break
            ids = [row[0] for row in rows]
            Event.objects.filter(pk__in=ids).update(
                overdue=True, ever_overdue=True, overdue_since=F("state_deadline"), updated_at=now
            )
            EventStep.objects.bulk_create(
                EventStep(
                    event_id=pk,
                    action=StepAction.OVERDUE,
                    actor_name=_("System"),
                    department_id=department_id,
                    from_status=status,
                    to_status=status,
                    note=_("The time limit of this step passed at %(deadline)s.")
                    % {"deadline": _local(deadline)},
                    created_at=now,
                )
                for pk, status, deadline, department_id in rows
            )
            result.overdue += len(rows)
        if len(rows) < chunk:
            break
    cutoff = now - escalation_grace()
    while True:
        with transaction.atomic():
            due = list(
                Event.objects.filter(
                    status__in=OPEN_STATUSES,
                    overdue=True,
                    escalation_level__lt=EscalationLevel.COUNTY,
                    state_deadline__lt=cutoff,
                )
                .filter(Q(escalated_at__isnull=True) | Q(escalated_at__lt=cutoff))
                .select_for_update(skip_locked=True, of=("self",))
                .only(
                    "pk",
                    "title",
                    "created_at",
                    "region_code",
                    "status",
                    "escalation_level",
                    "department_id",
                )[:chunk]
            )
            if not due:
                break
            _escalate_all(due, now)
            result.escalated += len(due)
        if len(due) < chunk:
            break
    return result


def _escalate_all(events: Sequence[Event], now: datetime) -> None:
    """Escalate a chunk of events one level each, in bulk: one UPDATE per level, the timeline
    steps and audit entries in one insert each, one notification per event and supervisor."""
    from linli.notifications.services import notify_many

    by_level: dict[int, list[int]] = {}
    for event in events:
        event.escalation_level += 1
        event.escalated_at = now
        by_level.setdefault(event.escalation_level, []).append(event.pk)
    for level, ids in by_level.items():
        Event.objects.filter(pk__in=ids).update(
            escalation_level=level, escalated_at=now, updated_at=now
        )
    notes = {
        level: _("Overdue past the grace period; escalated to the %(level)s.")
        % {"level": EscalationLevel(level).label}
        for level in by_level
    }
    EventStep.objects.bulk_create(
        EventStep(
            event_id=event.pk,
            action=StepAction.ESCALATE,
            actor_name=_("System"),
            department_id=event.department_id,
            from_status=event.status,
            to_status=event.status,
            note=notes[event.escalation_level],
            data={"level": event.escalation_level},
            created_at=now,
        )
        for event in events
    )
    audit.record_many(
        AuditAction.UPDATE,
        [
            (
                event,
                {
                    "escalation_level": [
                        str(event.escalation_level - 1),
                        str(event.escalation_level),
                    ]
                },
            )
            for event in events
        ],
        note="event escalate",
    )
    supervisors: dict[str, list[Any]] = {}
    messages = []
    for event in events:
        code = (
            event.region_code[:6]
            if event.escalation_level >= EscalationLevel.COUNTY
            else event.region_code[:9]
        )
        if code not in supervisors:
            supervisors[code] = _staff_at([code], "events.supervise_event")
        if not supervisors[code]:
            continue
        title = _(_TITLES[StepAction.ESCALATE]) % {"number": event.number, "title": event.title}
        link = reverse("events:detail", args=[event.pk])
        messages.append((supervisors[code], title, notes[event.escalation_level], link, event))
    notify_many(messages)
