"""Staff pages of the event hub: the workbench queues, the event list, the event's page (its
timeline and the steps the actor may take), the report form, the configuration pages
(categories, departments and their members, dispatch rules, holidays) and the reporter's own
view of a report.

Every event is read through the gate (``Event.objects.visible_to`` / ``services.visible_event``):
an event the user may not see answers 404, the same as one that does not exist. Lacking the
permission for a page at all answers 403. Every change goes through ``services.transition``,
``services.report`` or ``linli.events.config``; a refusal comes back as a Chinese message on the
page, with the form's values kept and nothing changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Prefetch, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.accounts.choices import BuiltinRole
from linli.accounts.forms import region_pick_list
from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import ConflictError, NotFoundError, ServiceError
from linli.events import config, services
from linli.events import filters as f
from linli.events import forms as ef
from linli.events.choices import (
    AttachmentKind,
    EscalationLevel,
    EventSource,
    EventStatus,
    LimitUnit,
    StepAction,
)
from linli.events.lifecycle import TRANSITIONS, Transition
from linli.events.models import (
    Department,
    DispatchRule,
    Event,
    EventAttachment,
    EventCategory,
    Holiday,
)
from linli.regions.models import RegionNode
from linli.utilities.masking import mask_name, mask_phone
from linli.utilities.paging import COUNT_CAP, CappedPaginator

PAGE_SIZE = 50
QUEUE_ROWS = 8
# Where a map opens when the place has no position of its own (平阴县).
DEFAULT_CENTRE = (36.289, 116.456)

# What each step's button says (the timeline says what was done: ``StepAction`` labels).
ACTION_LABELS: dict[str, Any] = {
    StepAction.ACCEPT: gettext_lazy("Accept"),
    StepAction.REJECT: gettext_lazy("Do not accept"),
    StepAction.MERGE: gettext_lazy("Merge into an earlier report"),
    StepAction.DISPATCH: gettext_lazy("Dispatch"),
    StepAction.TRANSFER: gettext_lazy("Transfer to another department"),
    StepAction.SIGN: gettext_lazy("Sign for"),
    StepAction.RETURN: gettext_lazy("Return to the dispatcher"),
    StepAction.REQUEST_EXTENSION: gettext_lazy("Request an extension"),
    StepAction.APPROVE_EXTENSION: gettext_lazy("Approve the extension"),
    StepAction.DENY_EXTENSION: gettext_lazy("Refuse the extension"),
    StepAction.PROGRESS: gettext_lazy("Record progress"),
    StepAction.HANDLE: gettext_lazy("Report as handled"),
    StepAction.SEND_BACK: gettext_lazy("Send back for more handling"),
    StepAction.REVIEW: gettext_lazy("Pass the review"),
    StepAction.CLOSE: gettext_lazy("Close"),
    StepAction.RATE: gettext_lazy("Rate the result"),
    StepAction.FOLLOW_UP: gettext_lazy("Record a follow-up call"),
    StepAction.REOPEN: gettext_lazy("Reopen"),
    StepAction.CONFIRM_CLOSE: gettext_lazy("Confirm the closure"),
    StepAction.URGE: gettext_lazy("Urge"),
    StepAction.ESCALATE: gettext_lazy("Escalate to the level above"),
    StepAction.COMMENT: gettext_lazy("Add a note"),
}
# Steps shown as red buttons: they end or push back the event.
DANGER = {StepAction.REJECT, StepAction.RETURN, StepAction.SEND_BACK, StepAction.DENY_EXTENSION}
# Steps whose form is open at once: the usual next step of each state.
MAIN_STEPS = {
    StepAction.ACCEPT,
    StepAction.DISPATCH,
    StepAction.SIGN,
    StepAction.HANDLE,
    StepAction.REVIEW,
    StepAction.CLOSE,
    StepAction.RATE,
}


# ---------------------------------------------------------------- access


def _user(request: HttpRequest) -> Any:
    return request.user


def is_staff_for_events(user: Any) -> bool:
    return bool(user.has_perm("events.view_event") or user.has_perm("events.handle_event"))


def _require(request: HttpRequest, *permissions: str) -> None:
    """No permission for the page at all → 403; scope is the gate's job (→ 404)."""
    user = _user(request)
    if not any(user.has_perm(permission) for permission in permissions):
        raise PermissionDenied


def _require_staff(request: HttpRequest) -> None:
    _require(request, "events.view_event", "events.handle_event")


def _event(request: HttpRequest, pk: int) -> Event:
    try:
        return services.visible_event(_user(request), pk)
    except NotFoundError as exc:
        raise Http404(str(exc.message)) from exc


def sees_as_staff(user: Any, event: Event) -> bool:
    """Through the gate or as a department member — not only as the reporter."""
    return bool(Event.objects.visible_to(user).filter(pk=event.pk).exists())


def subnav(request: HttpRequest) -> list[dict[str, Any]]:
    user = _user(request)
    current = request.resolver_match.url_name if request.resolver_match else ""
    items: list[tuple[str, Any, bool, tuple[str, ...]]] = [
        ("events:workbench", _("Event workbench"), is_staff_for_events(user), ("workbench",)),
        ("events:list", _("All events"), is_staff_for_events(user), ("list",)),
        (
            "events:new",
            _("Report an event"),
            user.has_perm("events.add_event") and is_staff_for_events(user),
            ("new",),
        ),
        ("events:mine", _("My reports"), user.has_perm("events.add_event"), ("mine",)),
        (
            "events:categories",
            _("Categories"),
            user.has_perm("events.change_eventcategory"),
            ("categories", "category_create", "category_edit"),
        ),
        (
            "events:departments",
            _("Departments"),
            user.has_perm("events.view_department"),
            ("departments", "department_create", "department_detail"),
        ),
        (
            "events:rules",
            _("Dispatch rules"),
            user.has_perm("events.view_dispatchrule"),
            ("rules", "rule_create", "rule_edit"),
        ),
        (
            "events:holidays",
            _("Holidays"),
            user.has_perm("events.change_eventcategory"),
            ("holidays", "holiday_edit"),
        ),
    ]
    found = []
    for name, label, allowed, pages in items:
        if allowed:
            found.append({"url": reverse(name), "label": label, "active": current in pages})
    stats = _stats_url(user)
    if stats:
        found.insert(3, {"url": stats, "label": _("Statistics"), "active": False})
    return found


def _stats_url(user: Any) -> str | None:
    """The statistics page, when it exists and the user may see it (its own app's page)."""
    if not user.has_perm("events.view_event"):
        return None
    for name in ("events_stats:index", "events_stats:overview"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context.setdefault("subnav", subnav(request))
    return render(request, template, context, status=status)


# ---------------------------------------------------------------- time shown


def duration_text(seconds: float) -> str:
    minutes = max(0, int(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": mins}
    return _("%(minutes)d min") % {"minutes": mins}


def clock(event: Event, now: datetime) -> dict[str, Any]:
    """The time left in the event's current state, or how long it is overdue."""
    if not event.is_open:
        return {"text": "", "late": False, "soon": False}
    if event.state_deadline is None:
        return {"text": _("No time limit"), "late": False, "soon": False}
    left = (event.state_deadline - now).total_seconds()
    if left < 0:
        return {
            "text": _("Overdue by %(time)s") % {"time": duration_text(-left)},
            "late": True,
            "soon": False,
        }
    return {
        "text": _("%(time)s left") % {"time": duration_text(left)},
        "late": event.overdue,
        "soon": left < 2 * 3600,
    }


def _with_clocks(events: list[Event]) -> list[Event]:
    now = timezone.now()
    for event in events:
        event.clock = clock(event, now)  # type: ignore[attr-defined]
    return events


def _by_deadline(rows: QuerySet[Event]) -> QuerySet[Event]:
    return rows.order_by(F("state_deadline").asc(nulls_last=True), "pk")


# ---------------------------------------------------------------- workbench and list


@login_required
@require_GET
def workbench(request: HttpRequest) -> HttpResponse:
    """The signed-in user's queues, each with its count and the most urgent events."""
    _require_staff(request)
    user = _user(request)
    visible = Event.objects.visible_to(user)
    queues = []
    for queue in f.queues_for(user):
        rows = queue.rows(user, visible)
        shown = _with_clocks(
            list(_by_deadline(rows).select_related("category", "department", "region")[:QUEUE_ROWS])
        )
        if len(shown) < QUEUE_ROWS:
            count, capped = len(shown), False
        else:
            counted = rows.order_by()[: COUNT_CAP + 1].count()
            count, capped = min(counted, COUNT_CAP), counted > COUNT_CAP
        queues.append(
            {
                "queue": queue,
                "events": shown,
                "count": count,
                "capped": capped,
                "url": f"{reverse('events:list')}?queue={queue.key}",
            }
        )
    return _render(
        request,
        "events/workbench.html",
        {
            "queues": queues,
            "any_waiting": any(item["count"] for item in queues),
            "may_report": user.has_perm("events.add_event"),
        },
    )


@login_required
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    user = _user(request)
    rows = Event.objects.visible_to(user).select_related("category", "department", "region")
    filterset = f.EventFilter(request.GET or None, queryset=rows, user=user)
    found = filterset.qs
    if request.GET.get("queue"):
        found = _by_deadline(found)
    page = CappedPaginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    queue = f.QUEUE_BY_KEY.get(request.GET.get("queue", ""))
    return _render(
        request,
        "events/list.html",
        {
            "filter": filterset,
            "page": page,
            "events": _with_clocks(list(page.object_list)),
            "query": query.urlencode(),
            "queue": queue,
            "regions": region_pick_list(user),
            "may_report": user.has_perm("events.add_event"),
        },
    )


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """The reports the signed-in account made, newest first."""
    _require(request, "events.add_event")
    rows = Event.objects.filter(reporter=_user(request)).select_related("category", "region")
    page = CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(
        request, "events/mine.html", {"page": page, "events": list(page.object_list), "query": ""}
    )


# ---------------------------------------------------------------- the event's page


def _steps(event: Event, *, public_only: bool) -> list[dict[str, Any]]:
    steps = services.timeline(event, public_only=public_only)
    if public_only:
        steps = steps.prefetch_related(
            Prefetch(
                "attachments",
                queryset=EventAttachment.objects.filter(public=True),
                to_attr="shown_attachments",
            )
        )
    rows = []
    for step in steps:
        attachments = (
            step.shown_attachments  # type: ignore[attr-defined]
            if public_only
            else list(step.attachments.all())
        )
        elapsed, allowed = step.elapsed_seconds, step.allowed_seconds
        # The reporter's own steps (reporting, rating) carry the reporter's name: masked.
        by_reporter = (
            step.action in (StepAction.REPORT, StepAction.RATE)
            and step.actor_id is not None
            and step.actor_id == event.reporter_id
        )
        rows.append(
            {
                "step": step,
                "actor": mask_name(step.actor_name) if by_reporter else step.actor_name,
                "attachments": attachments,
                "elapsed": duration_text(elapsed) if elapsed is not None else "",
                "allowed": duration_text(allowed) if allowed is not None else "",
                "late": step.was_late,
            }
        )
    return rows


def _extra_rows(event: Event) -> list[tuple[str, str]]:
    specs = {spec["key"]: spec for spec in event.category.effective("extra_fields") or []}
    rows = []
    for key, value in (event.extra or {}).items():
        spec = specs.get(key, {})
        is_flag = spec.get("type") == "bool"
        shown = (_("Yes") if value else _("No")) if is_flag else str(value)
        rows.append((str(spec.get("label") or key), shown))
    return rows


def _flags(event: Event) -> list[dict[str, Any]]:
    flags = []
    if event.overdue:
        flags.append({"text": _("Overdue"), "bad": True})
    elif event.ever_overdue:
        flags.append({"text": _("Was overdue"), "bad": False})
    if event.supervised:
        flags.append({"text": _("Urged"), "bad": True})
    if event.escalation_level > EscalationLevel.COMMUNITY:
        flags.append(
            {
                "text": _("Escalated to the %(level)s")
                % {"level": EscalationLevel(event.escalation_level).label},
                "bad": True,
            }
        )
    if event.needs_ruling:
        flags.append({"text": _("Awaiting a ruling"), "bad": True})
    if event.extension_requested_until is not None:
        flags.append({"text": _("Extension requested"), "bad": False})
    if event.merged_into_id:
        flags.append({"text": _("Merged"), "bad": False})
    return flags


def _place(event: Event) -> dict[str, Any]:
    codes = {event.region_code[:n] for n in (9, 12, 15) if len(event.region_code) >= n}
    names = dict(RegionNode.objects.filter(code__in=codes).values_list("code", "name"))
    chain = [names[code] for code in sorted(codes, key=len) if code in names]
    return {
        "regions": " / ".join(chain),
        "compound": event.compound.name if event.compound_id else "",  # type: ignore[union-attr]
        "building": str(event.building) if event.building_id else "",
        "house": event.house.address if event.house_id else "",  # type: ignore[union-attr]
    }


def _reporter(event: Event) -> dict[str, str]:
    """Who reported, masked as personal data is on every page."""
    name = event.reporter_name or (str(event.reporter) if event.reporter_id else "")
    return {"name": mask_name(name), "phone": mask_phone(event.reporter_phone or "")}


def _map(latitude: Any, longitude: Any) -> dict[str, Any]:
    return {
        "lat": float(latitude) if latitude is not None else None,
        "lng": float(longitude) if longitude is not None else None,
        "tiles": getattr(settings, "LINLI_MAP_TILE_URL", ""),
        "attribution": getattr(settings, "LINLI_MAP_TILE_ATTRIBUTION", ""),
    }


def _action_forms(
    request: HttpRequest, event: Event, failed: ef.ActionForm | None
) -> list[dict[str, Any]]:
    user = _user(request)
    offered = []
    for spec in services.actions_for(user, event):
        action = str(spec.action)
        form = (
            failed
            if failed is not None and failed.action == action
            else ef.ActionForm(actor=user, event=event, transition=spec)
        )
        if action in (StepAction.DISPATCH, StepAction.TRANSFER):
            form.fields["department"].widget.attrs.update(
                {
                    "hx-get": reverse("events:members", args=[event.pk]) + f"?action={action}",
                    "hx-target": f"#id_{action}_handler",
                    "hx-swap": "outerHTML",
                    "hx-trigger": "change",
                }
            )
        offered.append(
            {
                "action": action,
                "label": ACTION_LABELS.get(action, spec.action.label),
                "form": form,
                "url": reverse("events:act", args=[event.pk, action]),
                "danger": action in DANGER,
                "open": form is failed or action in MAIN_STEPS,
                "multipart": "files" in form.fields,
                "required_note": "note" in spec.requires,
            }
        )
    return offered


def _render_detail(
    request: HttpRequest,
    event: Event,
    *,
    failed: ef.ActionForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    attachments = list(event.attachments.all())
    visible = Event.objects.visible_to(user)
    duplicates = list(visible.filter(merged_into=event).only("pk", "created_at", "title"))
    merged_into = (
        visible.filter(pk=event.merged_into_id).only("pk", "created_at", "title").first()
        if event.merged_into_id
        else None
    )
    now = timezone.now()
    current = _elapsed_in_state(event, now)
    event.clock = clock(event, now)  # type: ignore[attr-defined]
    return _render(
        request,
        "events/detail.html",
        {
            "event": event,
            "clock": event.clock,  # type: ignore[attr-defined]
            "current": current,
            "steps": _steps(event, public_only=False),
            "photos": [a for a in attachments if a.kind == AttachmentKind.PHOTO],
            "files": [a for a in attachments if a.kind != AttachmentKind.PHOTO],
            "extra": _extra_rows(event),
            "flags": _flags(event),
            "place": _place(event),
            "reporter": _reporter(event),
            "duplicates": duplicates,
            "merged_into": merged_into,
            "actions": _action_forms(request, event, failed),
            "error": error,
            "map": _map(event.latitude, event.longitude),
        },
        status=status,
    )


def _elapsed_in_state(event: Event, now: datetime) -> dict[str, str]:
    if not event.is_open:
        return {}
    elapsed = (now - event.status_changed_at).total_seconds()
    allowed = (
        (event.state_deadline - event.status_changed_at).total_seconds()
        if event.state_deadline
        else None
    )
    return {
        "elapsed": duration_text(elapsed),
        "allowed": duration_text(allowed) if allowed is not None else "",
    }


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    if not sees_as_staff(_user(request), event):
        return redirect("events:mine_detail", pk=event.pk)
    return _render_detail(request, event)


def _render_mine(
    request: HttpRequest,
    event: Event,
    *,
    failed: ef.ActionForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    rate = TRANSITIONS[StepAction.RATE]
    offered = [t.action for t in services.actions_for(user, event)]
    form = None
    if StepAction.RATE in offered:
        form = (
            failed
            if failed is not None
            else ef.ActionForm(actor=user, event=event, transition=rate)
        )
    photos = event.attachments.filter(
        public=True, kind=AttachmentKind.PHOTO, step__action=StepAction.REPORT
    )
    return _render(
        request,
        "events/mine_detail.html",
        {
            "event": event,
            "steps": _steps(event, public_only=True),
            "photos": list(photos),
            "rate_form": form,
            "error": error,
            "staff_url": reverse("events:detail", args=[event.pk])
            if sees_as_staff(user, event)
            else "",
            "map": _map(event.latitude, event.longitude),
        },
        status=status,
    )


@login_required
@require_GET
def mine_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The reporter's own view: the public timeline and the rating form."""
    event = _event(request, pk)
    if event.reporter_id != _user(request).pk:
        return redirect("events:detail", pk=event.pk)
    return _render_mine(request, event)


@login_required
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One lifecycle step from the event's page (or the reporter's rating)."""
    spec: Transition | None = TRANSITIONS.get(action)
    if spec is None:
        raise Http404
    user = _user(request)
    event = _event(request, pk)
    mine_page = request.POST.get("next") == "mine"
    form = ef.ActionForm(request.POST, request.FILES, actor=user, event=event, transition=spec)
    render_page = _render_mine if mine_page else _render_detail
    if not form.is_valid():
        return render_page(
            request, event, failed=form, error=_("Check the form below."), status=400
        )
    try:
        services.transition(user, event.pk, action, **form.service_values())
    except ServiceError as exc:
        try:
            event = services.visible_event(user, event.pk)
        except NotFoundError as gone:
            raise Http404 from gone
        if isinstance(exc, ConflictError):
            # Show what changed; the form keeps what was typed, against the version now shown.
            data = request.POST.copy()
            data["version"] = str(event.version)
            form = ef.ActionForm(data, None, actor=user, event=event, transition=spec)
        else:
            field = form.field_for((exc.details or {}).get("field"))
            if field:
                form.add_error(field, str(exc.message))
        error = str(exc.message)
        offered = {str(t.action) for t in services.actions_for(user, event)}
        typed = (request.POST.get("note") or "").strip()
        if action not in offered and typed:
            # The step is gone with the change: keep what was typed where it can be copied.
            error += " " + _("What you wrote: %(note)s") % {"note": typed[:500]}
        return render_page(request, event, failed=form, error=error, status=exc.status_code)
    messages.success(
        request, _("“%(action)s” is done.") % {"action": ACTION_LABELS.get(action, action)}
    )
    if mine_page:
        return redirect("events:mine_detail", pk=event.pk)
    if not sees_as_staff(user, event):
        return redirect("events:workbench")
    return redirect("events:detail", pk=event.pk)


@login_required
@require_GET
def members(request: HttpRequest, pk: int) -> HttpResponse:
    """The people of a department (htmx): the dispatch form's optional handler."""
    _require(request, "events.dispatch_event")
    event = _event(request, pk)
    action = request.GET.get("action")
    if action not in (StepAction.DISPATCH, StepAction.TRANSFER):
        action = StepAction.DISPATCH
    chosen = request.GET.get("department", "")
    department = (
        services.departments_for(event).filter(pk=int(chosen)).first() if chosen.isdigit() else None
    )
    select = forms.Select(choices=ef.handler_choices(department))
    html = select.render("handler", "", attrs={"id": f"id_{action}_handler"})
    return HttpResponse(html)


@login_required
@require_GET
def attachment(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A photo or file of an event, through the gate; never a public media URL. The reporter
    gets only what the public timeline shows."""
    item = get_object_or_404(EventAttachment.objects.select_related("step"), pk=pk)
    user = _user(request)
    event = _event(request, item.event_id)
    hidden_step = item.step is not None and not item.step.public
    if not sees_as_staff(user, event) and (not item.public or hidden_step):
        raise Http404
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404 from exc
    inline = item.kind == AttachmentKind.PHOTO and item.content_type.startswith("image/")
    if not inline:
        audit.record(AuditAction.DOWNLOAD, event, actor=user, note=f"event attachment {item.pk}")
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=item.name,
        content_type=item.content_type or "application/octet-stream",
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# ---------------------------------------------------------------- the report form


def _require_report(request: HttpRequest) -> None:
    """Staff who report: the form offers every source, so residents use their own page."""
    user = _user(request)
    if not (user.has_perm("events.add_event") and is_staff_for_events(user)):
        raise PermissionDenied


def _centre(region: RegionNode | None, user: Any) -> tuple[float, float]:
    """The map's starting point: the place's region or the nearest ancestor with a position,
    else the first region of the user's area that has one."""
    codes: list[str] = []
    if region is not None:
        codes += [region.code[:n] for n in (15, 12, 9, 6) if len(region.code) >= n]
    for code in user.scope_codes():
        codes += [code[:n] for n in (15, 12, 9, 6) if len(code) >= n]
    positioned = RegionNode.objects.filter(
        code__in=set(codes), latitude__isnull=False, longitude__isnull=False
    ).values_list("code", "latitude", "longitude")
    found = {code: (lat, lng) for code, lat, lng in positioned}
    for code in codes:
        if code in found:
            lat, lng = found[code]
            return float(lat), float(lng)
    return DEFAULT_CENTRE


def _report_initial(request: HttpRequest) -> dict[str, Any]:
    user = _user(request)
    # A grid worker reports what the grid turned up; everyone else mostly at the window.
    grid_worker = BuiltinRole.GRID_WORKER in user.role_codes()
    initial: dict[str, Any] = {"source": EventSource.GRID if grid_worker else EventSource.WINDOW}
    places = list(ef.place_regions(user)[:2])
    if len(places) == 1:
        initial["region"] = places[0]
    for name in ("category", "region"):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """A report taken by staff from any source. The hidden idempotency key makes a double
    submission one event; a refused report stores nothing and keeps what was typed."""
    _require_report(request)
    user = _user(request)
    status = 200
    if request.method == "POST":
        form = ef.ReportForm(request.POST, request.FILES, actor=user)
        if form.is_valid():
            key = form.cleaned_data.get("idempotency_key") or ""
            already = (
                bool(key) and Event.objects.filter(reporter=user, idempotency_key=key).exists()
            )
            try:
                event = services.report(user, **form.service_values())
            except ServiceError as exc:
                _report_error(form, exc, request)
            else:
                if already:
                    messages.info(
                        request,
                        _("This report had already been sent; it was stored once (%(number)s).")
                        % {"number": event.number},
                    )
                else:
                    messages.success(
                        request, _("Event %(number)s reported.") % {"number": event.number}
                    )
                if sees_as_staff(user, event):
                    return redirect("events:detail", pk=event.pk)
                return redirect("events:mine_detail", pk=event.pk)
        status = 400
        if request.FILES:
            messages.warning(
                request, _("Nothing was stored: choose the photos and files again before sending.")
            )
    else:
        form = ef.ReportForm(actor=user, initial=_report_initial(request))
    region_field: Any = form.fields["region"]
    return _render(
        request,
        "events/report.html",
        {
            "form": form,
            "place_suggestions": region_field.suggestions() if region_field.typed else [],
            "map": {**_map(None, None), "centre": _centre(form.chosen_region, user)},
            "may_pick_house": "house" in form.fields,
        },
        status=status,
    )


def _report_error(form: ef.ReportForm, exc: ServiceError, request: HttpRequest) -> None:
    field = form.field_for((exc.details or {}).get("field"))
    if field is None and exc.code.startswith("attachment"):
        names = {upload.name for upload in request.FILES.getlist("photos")}
        in_photos = any(name and name in str(exc.message) for name in names)
        field = "photos" if in_photos else "attachments"
    form.add_error(field, str(exc.message))


@login_required
@require_GET
def report_extra(request: HttpRequest) -> HttpResponse:
    """The chosen category's own fields and what it requires (htmx, on category change)."""
    _require_report(request)
    form = ef.ReportForm(actor=_user(request), initial={"category": request.GET.get("category")})
    return render(request, "events/_report_extra.html", {"form": form})


@login_required
@require_GET
def report_places(request: HttpRequest) -> HttpResponse:
    """The compounds and buildings of the chosen community (htmx, on place change)."""
    _require_report(request)
    user = _user(request)
    form = ef.ReportForm(actor=user, initial={"region": request.GET.get("region", "")})
    return render(
        request,
        "events/_report_places.html",
        {"form": form, "centre": _centre(form.chosen_region, user)},
    )


@login_required
@require_GET
def report_duplicates(request: HttpRequest) -> HttpResponse:
    """Open events of the chosen category near the chosen place (htmx): the worker may open
    one of them instead of reporting the same problem again."""
    _require_report(request)
    user = _user(request)
    params = request.GET
    category = (
        ef.leaf_categories().filter(pk=int(params["category"])).first()
        if params.get("category", "").isdigit()
        else None
    )
    region = (
        ef.place_regions(user).filter(code=params["region"]).first()
        if params.get("region", "").isdigit()
        else None
    )
    found: list[Event] = []
    if category is not None and region is not None:
        building = None
        if params.get("building", "").isdigit() and user.has_perm("registry.view_building"):
            from linli.registry.models import Building

            building = Building.objects.visible_to(user).filter(pk=params["building"]).first()
        candidates = services.duplicates_for(
            category,
            region.code,
            latitude=_number(params.get("latitude")),
            longitude=_number(params.get("longitude")),
            building=building,
        )
        visible = set(
            Event.objects.visible_to(user)
            .filter(pk__in=[c.pk for c in candidates])
            .values_list("pk", flat=True)
        )
        found = _with_clocks([c for c in candidates if c.pk in visible])
    return render(
        request,
        "events/_report_duplicates.html",
        {"duplicates": found, "asked": category is not None and region is not None},
    )


def _number(value: str | None) -> float | None:
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if -180 <= number <= 180 else None


# ---------------------------------------------------------------- configuration


def _config_error(request: HttpRequest, form: Any, exc: ServiceError) -> None:
    if isinstance(exc, NotFoundError) and form is None:
        raise Http404(str(exc.message)) from exc
    if form is not None:
        field = (exc.details or {}).get("field")
        if field == "user" and "user" not in form.fields:
            field = None
        form.add_error(field if field in form.fields else None, str(exc.message))
    else:
        messages.error(request, str(exc.message))


def _category_tree() -> list[dict[str, Any]]:
    categories = list(EventCategory.objects.select_related("default_department"))
    by_pk = {category.pk: category for category in categories}
    children: dict[int | None, list[EventCategory]] = {}
    for category in categories:
        # Link the parents in memory: ``effective`` walks up the tree without a query each.
        if category.parent_id is not None:
            category.parent = by_pk[category.parent_id]
        children.setdefault(category.parent_id, []).append(category)
    rows: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int) -> None:
        for category in children.get(parent, []):
            unit, limits = category.effective_limits()
            rows.append(
                {
                    "category": category,
                    "depth": depth,
                    "indent": depth * 1.4,
                    "leaf": not children.get(category.pk),
                    "department": category.effective("default_department"),
                    "limits": [
                        (EventStatus(status).label, limits[status])
                        for status in limits
                        if status in EventStatus.values
                    ],
                    "unit": unit,
                    "inherited": not category.limits,
                }
            )
            walk(category.pk, depth + 1)

    walk(None, 0)
    return rows


@login_required
@require_GET
def categories(request: HttpRequest) -> HttpResponse:
    _require(request, "events.change_eventcategory")
    return _render(request, "events/categories.html", {"rows": _category_tree()})


@login_required
@require_http_methods(["GET", "POST"])
def category_create(request: HttpRequest) -> HttpResponse:
    return _category_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "events.change_eventcategory")
    return _category_form(request, get_object_or_404(EventCategory, pk=pk))


def _category_form(request: HttpRequest, category: EventCategory | None) -> HttpResponse:
    _require(request, "events.change_eventcategory")
    initial = None
    if category is None and request.GET.get("parent", "").isdigit():
        initial = {"parent": int(request.GET["parent"])}
    form = (
        ef.CategoryForm(request.POST, category=category)
        if request.method == "POST"
        else ef.CategoryForm(category=category, **({"initial": initial} if initial else {}))
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = config.save_category(_user(request), category, **form.service_values())
            except ServiceError as exc:
                _config_error(request, form, exc)
            else:
                messages.success(request, _("Category %(name)s saved.") % {"name": saved.name})
                return redirect("events:categories")
        status = 400
    return _render(
        request,
        "events/category_form.html",
        {"form": form, "category": category, "inherited": _inherited(category)},
        status=status,
    )


def _inherited(category: EventCategory | None) -> list[tuple[str, str]]:
    """What an edited category takes from its ancestors because it leaves a setting empty."""
    if category is None or category.parent_id is None:
        return []
    rows: list[tuple[str, str]] = []
    department = category.effective("default_department")
    if category.default_department_id is None and department is not None:
        rows.append((_("Default department"), str(department)))
    unit, limits = category.effective_limits()
    if not category.limits and limits:
        unit_label = LimitUnit(unit).label
        rows.append(
            (
                _("Time limits"),
                " · ".join(
                    f"{EventStatus(status).label} {amount:g}"
                    for status, amount in limits.items()
                    if status in EventStatus.values
                )
                + f"（{unit_label}）",
            )
        )
    labels = dict(config.REQUIRED_FIELD_CHOICES)
    required = category.effective("required_fields") or []
    if not category.required_fields and required:
        rows.append((_("A report must carry"), "、".join(str(labels.get(r, r)) for r in required)))
    extra = category.effective("extra_fields") or []
    if not category.extra_fields and extra:
        rows.append(
            (_("Extra fields"), "、".join(str(f.get("label", f.get("key"))) for f in extra))
        )
    stages = category.effective("stages") or []
    if not category.stages and stages:
        rows.append((_("Handling stages"), " → ".join(str(s) for s in stages)))
    return rows


@login_required
@require_GET
def departments(request: HttpRequest) -> HttpResponse:
    _require(request, "events.view_department")
    user = _user(request)
    show_retired = request.GET.get("retired") == "1"
    rows = Department.objects.visible_to(user).select_related("region")
    rows = rows if show_retired else rows.filter(retired_at__isnull=True)
    query = request.GET.get("q", "").strip()
    if query:
        rows = rows.filter(name__icontains=query)
    page = CappedPaginator(rows.order_by("region__code", "name"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    shown = list(page.object_list)
    counts = dict(
        Department.objects.filter(pk__in=[d.pk for d in shown])
        .annotate(member_total=Count("members"))
        .values_list("pk", "member_total")
    )
    for department in shown:
        department.member_count = counts.get(department.pk, 0)  # type: ignore[attr-defined]
    params = request.GET.copy()
    params.pop("page", None)
    return _render(
        request,
        "events/departments.html",
        {
            "page": page,
            "departments": shown,
            "query": params.urlencode(),
            "q": query,
            "show_retired": show_retired,
            "may_add": user.has_perm("events.add_department"),
            "serving": _serving_from_above(user),
        },
    )


def _serving_from_above(user: Any) -> list[Department]:
    """Active departments placed above the user's area that serve it (a county department for
    a subdistrict): listed read-only, since the gate keeps their pages to their own area."""
    codes = user.scope_codes()
    above = {code[:n] for code in codes for n in (2, 4, 6, 9, 12) if n < len(code)}
    return list(
        Department.objects.filter(region__code__in=above, retired_at__isnull=True)
        .select_related("region")
        .order_by("region__code", "name")[:200]
    )


@login_required
@require_http_methods(["GET", "POST"])
def department_create(request: HttpRequest) -> HttpResponse:
    _require(request, "events.add_department")
    user = _user(request)
    form = ef.DepartmentForm(request.POST or None, actor=user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                department = config.create_department(
                    user,
                    region=form.cleaned_data["region"],
                    name=form.cleaned_data["name"],
                    kind=form.cleaned_data["kind"],
                    phone=form.cleaned_data.get("phone") or "",
                )
            except ServiceError as exc:
                _config_error(request, form, exc)
            else:
                messages.success(request, _("Department %(name)s saved.") % {"name": department})
                return redirect("events:department_detail", pk=department.pk)
        status = 400
    return _render(
        request,
        "events/department_form.html",
        {"form": form, "regions": region_pick_list(user)},
        status=status,
    )


def _department(request: HttpRequest, pk: int) -> Department:
    _require(request, "events.view_department")
    return get_object_or_404(
        Department.objects.visible_to(_user(request)).select_related("region"), pk=pk
    )


@login_required
@require_http_methods(["GET", "POST"])
def department_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A department: its details (editable), its members (added and removed here), its open
    events and the rules that route to it."""
    department = _department(request, pk)
    user = _user(request)
    may_change = (
        user.has_perm("events.change_department")
        and department.retired_at is None
        and Department.objects.visible_to(user, "change").filter(pk=pk).exists()
    )
    form = ef.DepartmentForm(
        request.POST if request.method == "POST" else None, actor=user, department=department
    )
    status = 200
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        if form.is_valid():
            try:
                config.update_department(
                    user,
                    department,
                    name=form.cleaned_data["name"],
                    kind=form.cleaned_data["kind"],
                    phone=form.cleaned_data.get("phone") or "",
                )
            except ServiceError as exc:
                _config_error(request, form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("events:department_detail", pk=pk)
        status = 400
    return _department_page(request, department, form, may_change, status=status)


def _department_page(
    request: HttpRequest,
    department: Department,
    form: Any,
    may_change: bool,
    *,
    member_form: Any = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    open_events = (
        Event.objects.visible_to(user)
        .filter(department=department)
        .exclude(status__in=[EventStatus.CLOSED, EventStatus.REJECTED, EventStatus.MERGED])
        .select_related("category")
    )
    return _render(
        request,
        "events/department_detail.html",
        {
            "department": department,
            "form": form,
            "may_change": may_change,
            "may_retire": user.has_perm("events.retire_department")
            and department.retired_at is None
            and Department.objects.visible_to(user, "retire").filter(pk=department.pk).exists(),
            "members": list(department.members.order_by("username")),
            "member_form": member_form
            or (ef.MemberForm(actor=user, department=department) if may_change else None),
            "open_events": _with_clocks(list(_by_deadline(open_events)[:20])),
            "rules": list(
                DispatchRule.objects.filter(department=department).select_related(
                    "region", "category"
                )
            ),
        },
        status=status,
    )


def _department_for_change(request: HttpRequest, pk: int) -> Department:
    _require(request, "events.change_department")
    return get_object_or_404(
        Department.objects.visible_to(_user(request), "change").select_related("region"), pk=pk
    )


@login_required
@require_POST
def department_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    department = _department_for_change(request, pk)
    user = _user(request)
    member_form = ef.MemberForm(request.POST, actor=user, department=department)
    if member_form.is_valid():
        try:
            config.add_member(user, department, member_form.cleaned_data["user"])
        except ServiceError as exc:
            _config_error(request, member_form, exc)
        else:
            messages.success(
                request,
                _("%(name)s added to the department.") % {"name": member_form.cleaned_data["user"]},
            )
            return redirect("events:department_detail", pk=pk)
    form = ef.DepartmentForm(actor=user, department=department)
    return _department_page(request, department, form, True, member_form=member_form, status=400)


@login_required
@require_POST
def department_member_remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    department = _department_for_change(request, pk)
    try:
        config.remove_member(_user(request), department, user_pk)
    except ServiceError as exc:
        _config_error(request, None, exc)
    else:
        messages.success(request, _("Removed from the department."))
    return redirect("events:department_detail", pk=pk)


@login_required
@require_POST
def department_retire(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "events.retire_department")
    department = get_object_or_404(Department.objects.visible_to(_user(request), "retire"), pk=pk)
    try:
        config.retire_department(_user(request), department)
    except ServiceError as exc:
        _config_error(request, None, exc)
    else:
        messages.success(request, _("The department has been retired."))
    return redirect("events:department_detail", pk=pk)


@login_required
@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    _require(request, "events.view_dispatchrule")
    user = _user(request)
    rows = (
        DispatchRule.objects.visible_to(user)
        .select_related("region", "category", "department__region")
        .order_by("region__code", "category__code")
    )
    page = CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(
        request,
        "events/rules.html",
        {
            "page": page,
            "rules": list(page.object_list),
            "query": "",
            "may_add": user.has_perm("events.add_dispatchrule"),
            "may_change": user.has_perm("events.change_dispatchrule"),
            "may_remove": user.has_perm("events.retire_dispatchrule"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest) -> HttpResponse:
    _require(request, "events.add_dispatchrule")
    return _rule_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "events.change_dispatchrule")
    rule = get_object_or_404(
        DispatchRule.objects.visible_to(_user(request), "change").select_related("region"), pk=pk
    )
    return _rule_form(request, rule)


def _rule_form(request: HttpRequest, rule: DispatchRule | None) -> HttpResponse:
    user = _user(request)
    form = ef.RuleForm(request.POST or None, actor=user, rule=rule)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                config.save_rule(
                    user,
                    rule,
                    region=form.cleaned_data["region"],
                    category=form.cleaned_data["category"],
                    department=form.cleaned_data["department"],
                )
            except ServiceError as exc:
                _config_error(request, form, exc)
            else:
                messages.success(request, _("Dispatch rule saved."))
                return redirect("events:rules")
        status = 400
    return _render(
        request,
        "events/rule_form.html",
        {"form": form, "rule": rule, "regions": region_pick_list(user)},
        status=status,
    )


@login_required
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "events.retire_dispatchrule")
    try:
        config.delete_rule(_user(request), pk)
    except NotFoundError as exc:
        raise Http404 from exc
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Dispatch rule removed."))
    return redirect("events:rules")


@login_required
@require_http_methods(["GET", "POST"])
def holidays(request: HttpRequest) -> HttpResponse:
    """The calendar of days off and worked weekend days; the form adds one."""
    _require(request, "events.change_eventcategory")
    return _holiday_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def holiday_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "events.change_eventcategory")
    return _holiday_form(request, get_object_or_404(Holiday, pk=pk))


def _holiday_form(request: HttpRequest, holiday: Holiday | None) -> HttpResponse:
    form = ef.HolidayForm(request.POST or None, holiday=holiday)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                config.save_holiday(
                    _user(request),
                    holiday,
                    day=form.cleaned_data["date"],
                    is_workday=form.cleaned_data["is_workday"],
                    name=form.cleaned_data.get("name") or "",
                )
            except ServiceError as exc:
                _config_error(request, form, exc)
            else:
                messages.success(request, _("Calendar saved."))
                return redirect("events:holidays")
        status = 400
    year = timezone.localdate().year
    days = Holiday.objects.filter(date__year__gte=year - 1).order_by("date")
    return _render(
        request,
        "events/holidays.html",
        {"form": form, "holiday": holiday, "days": list(days)},
        status=status,
    )


@login_required
@require_POST
def holiday_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "events.change_eventcategory")
    try:
        config.delete_holiday(_user(request), pk)
    except NotFoundError as exc:
        raise Http404 from exc
    messages.success(request, _("Removed from the calendar."))
    return redirect("events:holidays")
