"""The phone pages of the event hub (mounted at ``/m/``): the grid worker's one-screen report
(photo, position, place), the resident's report and "my reports" with the public timeline and
the rating, and the department's "my tasks" with sign-for, handling, extension and return.

Every event is read through ``services.visible_event`` (the gate, the department, or the
reporter); "my reports" pages answer 404 for anything the person did not report, so a resident
never sees another person's event. Every change is a call to ``services.report`` or
``services.transition`` with the version the person saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.accounts.choices import BuiltinRole, RoleKind
from linli.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ServiceError
from linli.events import services
from linli.events.choices import EventSource, EventStatus, StepAction
from linli.events.forms import leaf_categories
from linli.events.forms_mobile import RateForm, ReportForm, StepForm
from linli.events.models import Department, Event, EventAttachment, EventCategory
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.utilities.paging import CappedPaginator

PAGE_SIZE = 20
# The steps a phone offers on an event; the rest (dispatch, review, rulings) stay on the
# workbench, linked from the page.
PHONE_ACTIONS = (
    StepAction.SIGN,
    StepAction.HANDLE,
    StepAction.PROGRESS,
    StepAction.COMMENT,
    StepAction.REQUEST_EXTENSION,
    StepAction.RETURN,
)
# On the reporter's timeline the department is named where it acts, not on every later step.
DEPARTMENT_STEPS = frozenset(
    {
        StepAction.DISPATCH,
        StepAction.TRANSFER,
        StepAction.SIGN,
        StepAction.HANDLE,
        StepAction.REOPEN,
    }
)
# What the buttons say: the step to take, not the state it leads to.
ACTION_LABELS = {
    StepAction.SIGN: gettext_lazy("Sign for"),
    StepAction.HANDLE: gettext_lazy("Report as handled"),
    StepAction.PROGRESS: gettext_lazy("Report progress"),
    StepAction.REQUEST_EXTENSION: gettext_lazy("Ask for more time"),
    StepAction.RETURN: gettext_lazy("Return to the dispatcher"),
    StepAction.COMMENT: gettext_lazy("Add a note"),
}
TASK_STATUSES = (EventStatus.DISPATCHED, EventStatus.SIGNED_FOR)
# Service fields that the report form shows under another name.
REPORT_FIELD_ALIASES = {"latitude": "address", "house": "address", "reporter_phone": "address"}


# ---------------------------------------------------------------- who is using the phone


@dataclass(frozen=True)
class Persona:
    """What the signed-in person may do on the phone pages."""

    can_report: bool
    # Reports for their own community only (a resident): no place to choose, no duplicates.
    as_resident: bool
    home: RegionNode | None
    departments: tuple[int, ...]
    can_view_area: bool

    @property
    def can_handle(self) -> bool:
        return bool(self.departments)

    @property
    def has_tasks(self) -> bool:
        return self.can_handle or self.can_view_area


def persona(user: Any) -> Persona:
    assignments = user._assignments()
    staff = [a for a in assignments if a.role.kind != RoleKind.RESIDENT]
    resident = [a for a in assignments if a.role.kind == RoleKind.RESIDENT]
    # A resident's place is the community (or grid) of their resident role.
    homes = [a.region for a in resident if a.region.level in services.EVENT_LEVELS]
    reports_as_staff = any("events.add_event" in a.role.permissions for a in staff)
    departments: tuple[int, ...] = ()
    if user.has_perm("events.handle_event"):
        departments = tuple(
            user.departments.filter(retired_at__isnull=True).values_list("pk", flat=True)
        )
    return Persona(
        can_report=user.has_perm("events.add_event"),
        as_resident=not reports_as_staff and bool(resident),
        home=homes[0] if homes else None,
        departments=departments,
        can_view_area=user.has_perm("events.view_event"),
    )


def _source(user: Any, who: Persona) -> str:
    if who.as_resident:
        return EventSource.RESIDENT
    if BuiltinRole.GRID_WORKER in user.role_codes():
        return EventSource.GRID
    return EventSource.PATROL


def report_regions(user: Any) -> QuerySet[RegionNode]:
    """The communities and grids a staff member may report in, each grid after its community."""
    return (
        RegionNode.objects.within(user.scope_codes())
        .active()
        .filter(level__in=services.EVENT_LEVELS)
        .only("code", "name", "level")
        .order_by("code")
    )


def _default_region(regions: QuerySet[RegionNode]) -> RegionNode | None:
    """The worker's own grid when they have exactly one; the only place when there is one."""
    places = list(regions[:500])
    grids = [r for r in places if r.level == RegionLevel.GRID]
    if len(grids) == 1:
        return grids[0]
    return places[0] if len(places) == 1 else None


def _map_settings() -> dict[str, Any]:
    return {
        "tiles": getattr(settings, "LINLI_MAP_TILE_URL", ""),
        "attribution": getattr(settings, "LINLI_MAP_TILE_ATTRIBUTION", ""),
    }


# ---------------------------------------------------------------- errors from the services


def _raise_for(exc: ServiceError) -> None:
    """Refusals that mean "not yours" become the 404 and 403 pages."""
    if isinstance(exc, NotFoundError):
        raise Http404(str(exc.message)) from exc
    if isinstance(exc, PermissionDeniedError):
        raise PermissionDenied(str(exc.message)) from exc


def _status_for(exc: ServiceError) -> int:
    return 409 if isinstance(exc, ConflictError) else 400


def _field_for(form: Any, exc: ServiceError, aliases: dict[str, str] | None = None) -> str | None:
    name = str((exc.details or {}).get("field") or "")
    if exc.code.startswith("attachment_") or exc.code == "photo_required":
        name = "photos"
    name = (aliases or {}).get(name, name)
    if name in form.fields:
        return name
    if f"extra_{name}" in form.fields:
        return f"extra_{name}"
    return None


# ---------------------------------------------------------------- home


@never_cache
@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    who = persona(user)
    recent = list(
        Event.objects.filter(reporter=user).select_related("category").order_by("-created_at")[:5]
    )
    tasks = 0
    if who.can_handle:
        tasks = (
            Event.objects.filter(department__in=who.departments, status__in=TASK_STATUSES)
            .order_by()
            .count()
        )
    return render(
        request,
        "events/mobile/home.html",
        {"who": who, "recent": recent, "task_count": tasks},
    )


# ---------------------------------------------------------------- reporting


def _report_form(request: HttpRequest, who: Persona, data: Any = None, files: Any = None) -> Any:
    user: Any = request.user
    if who.as_resident:
        return ReportForm(data, files, regions=None)
    regions = report_regions(user)
    initial: dict[str, Any] = {}
    if data is None:
        default = _default_region(regions)
        if default is not None:
            initial["region"] = default.pk
        category = request.GET.get("category")
        if category:
            initial["category"] = category
    return ReportForm(data, files, regions=regions, initial=initial)


def _require_reporter(request: HttpRequest) -> Persona:
    who = persona(request.user)
    if not who.can_report:
        raise PermissionDenied
    if not who.as_resident and not request.user.scope_codes():  # type: ignore[union-attr]
        raise PermissionDenied
    return who


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    who = _require_reporter(request)
    status = 200
    if request.method != "POST":
        form = _report_form(request, who)
    else:
        form = _report_form(request, who, request.POST, request.FILES)
        if who.as_resident and who.home is None:
            form.add_error(None, _("Your account is not linked to a community; ask the community."))
        elif form.is_valid():
            try:
                event = _submit_report(request, who, form)
            except ServiceError as exc:
                _raise_for(exc)
                form.add_error(_field_for(form, exc, REPORT_FIELD_ALIASES), str(exc.message))
            else:
                messages.success(
                    request,
                    _("Reported. Your report number is %(number)s.") % {"number": event.number},
                )
                return redirect("events_mobile:mine_detail", pk=event.pk)
        status = 400
    return render(
        request,
        "events/mobile/report.html",
        {
            "form": form,
            "who": who,
            "map": _map_settings(),
            "photos_lost": request.method == "POST" and bool(request.FILES),
        },
        status=status,
    )


def _submit_report(request: HttpRequest, who: Persona, form: ReportForm) -> Event:
    data = form.cleaned_data
    region = who.home if who.as_resident else data["region"]
    place = services.Place(
        region=region,  # type: ignore[arg-type]
        address=data.get("address") or "",
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
    )
    return services.report(
        request.user,
        category=data["category"],
        place=place,
        description=data["description"],
        source=_source(request.user, who),
        photos=data.get("photos") or [],
        extra=form.extra_values(),
        idempotency_key=data.get("idempotency_key") or "",
    )


@login_required
@require_GET
def report_fields(request: HttpRequest) -> HttpResponse:
    """The chosen category's own fields and what it requires (htmx, on a category change)."""
    _require_reporter(request)
    form = ReportForm(initial={"category": request.GET.get("category")}, regions=None)
    return render(request, "events/mobile/_extra_fields.html", {"form": form})


@login_required
@require_GET
def report_duplicates(request: HttpRequest) -> HttpResponse:
    """Open events of the same category near the position being reported (htmx), among those
    the reporter may see: a resident is never shown other people's events."""
    who = _require_reporter(request)
    found: list[Event] = []
    params = request.GET
    category = _category(params.get("category"))
    region = _region(request, params.get("region"))
    latitude, longitude = _coordinate(params.get("latitude")), _coordinate(params.get("longitude"))
    if (
        not who.as_resident
        and who.can_view_area
        and category is not None
        and region is not None
        and latitude is not None
        and longitude is not None
    ):
        near = services.duplicates_for(
            category, region.code, latitude=latitude, longitude=longitude
        )
        visible = set(
            Event.objects.visible_to(request.user)
            .filter(pk__in=[e.pk for e in near])
            .values_list("pk", flat=True)
        )
        found = [event for event in near if event.pk in visible][:5]
    return render(request, "events/mobile/_duplicates.html", {"duplicates": found})


def _category(value: str | None) -> EventCategory | None:
    try:
        return leaf_categories().filter(pk=int(value or "")).first()
    except ValueError:
        return None


def _region(request: HttpRequest, value: str | None) -> RegionNode | None:
    try:
        return report_regions(request.user).filter(pk=int(value or "")).first()
    except ValueError:
        return None


def _coordinate(value: str | None) -> float | None:
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if -180 <= number <= 180 else None


# ---------------------------------------------------------------- my reports


@never_cache
@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    rows = (
        Event.objects.filter(reporter=user)
        .select_related("category")
        .order_by("-created_at", "-pk")
    )
    page = CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "events/mobile/mine.html", {"page": page, "who": persona(request.user)})


def _my_event(request: HttpRequest, pk: int) -> Event:
    """An event the person reported; anything else does not exist for these pages."""
    try:
        event = services.visible_event(request.user, pk)
    except NotFoundError as exc:
        raise Http404(str(exc.message)) from exc
    if event.reporter_id != request.user.pk:
        raise Http404
    return event


def _mine_context(request: HttpRequest, event: Event, rate_form: RateForm | None) -> dict[str, Any]:
    offered = {t.action for t in services.actions_for(request.user, event)}
    can_rate = StepAction.RATE in offered
    if can_rate and rate_form is None:
        rate_form = RateForm(initial={"version": event.version})
    steps = list(services.timeline(event, public_only=True))
    report_steps = {s.pk for s in steps if s.action == StepAction.REPORT}
    for step in steps:
        step.shown_department = (  # type: ignore[attr-defined]
            step.department if step.action in DEPARTMENT_STEPS else None
        )
        step.photos = [a for a in step.attachments.all() if a.public]  # type: ignore[attr-defined]
    return {
        "event": event,
        "steps": steps,
        # The report's own photos on top; the department's stand under their step.
        "photos": [
            a
            for a in event.attachments.all()
            if a.public and (a.step_id is None or a.step_id in report_steps)
        ],
        "rate_form": rate_form if can_rate else None,
        "who": persona(request.user),
    }


@never_cache
@login_required
@require_GET
def mine_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _my_event(request, pk)
    return render(request, "events/mobile/mine_detail.html", _mine_context(request, event, None))


@login_required
@require_POST
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    event = _my_event(request, pk)
    form = RateForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.transition(
                request.user,
                event,
                StepAction.RATE,
                version=data.get("version"),
                rating=data["rating"],
                note=data.get("comment") or "",
            )
        except ServiceError as exc:
            _raise_for(exc)
            form.add_error(_field_for(form, exc), str(exc.message))
            status = _status_for(exc)
            event = _my_event(request, pk)
        else:
            messages.success(request, _("Thank you. Your rating has been recorded."))
            return redirect("events_mobile:mine_detail", pk=pk)
    context = _mine_context(request, event, form)
    if context["rate_form"] is None:
        # Someone was first (or it was rated already): say so above the page.
        errors = " ".join(str(e) for e in form.non_field_errors())
        messages.error(request, errors or _("The rating was not saved."))
    return render(request, "events/mobile/mine_detail.html", context, status=status)


# ---------------------------------------------------------------- tasks


def _require_tasks(request: HttpRequest) -> Persona:
    who = persona(request.user)
    if not who.has_tasks:
        raise PermissionDenied
    return who


@never_cache
@login_required
@require_GET
def tasks(request: HttpRequest) -> HttpResponse:
    """The department's events to sign for and to handle, most urgent first; for a grid worker,
    the open events of their area."""
    who = _require_tasks(request)
    user: Any = request.user
    deadline_first = (F("state_deadline").asc(nulls_last=True), "pk")
    to_sign: list[Event] = []
    handling: list[Event] = []
    if who.can_handle:
        rows = list(
            Event.objects.filter(department__in=who.departments, status__in=TASK_STATUSES)
            .select_related("category", "region")
            .order_by(*deadline_first)[:200]
        )
        to_sign = [e for e in rows if e.status == EventStatus.DISPATCHED]
        handling = [e for e in rows if e.status == EventStatus.SIGNED_FOR]
    area: list[Event] = []
    if who.can_view_area and not who.can_handle:
        area = list(
            Event.objects.visible_to(user)
            .open()
            .select_related("category", "region")
            .order_by(*deadline_first)[:100]
        )
    departments = Department.objects.filter(pk__in=who.departments).order_by("name")
    return render(
        request,
        "events/mobile/tasks.html",
        {
            "who": who,
            "to_sign": to_sign,
            "handling": handling,
            "area": area,
            "departments": departments,
        },
    )


# ---------------------------------------------------------------- an event, for staff


def _staff_event(request: HttpRequest, pk: int) -> Event:
    _require_tasks(request)
    try:
        return services.visible_event(request.user, pk)
    except NotFoundError as exc:
        raise Http404(str(exc.message)) from exc


def _event_context(
    request: HttpRequest,
    event: Event,
    forms: dict[str, StepForm] | None = None,
) -> dict[str, Any]:
    available = services.actions_for(request.user, event)
    offered = sorted(
        (t for t in available if t.action in PHONE_ACTIONS),
        key=lambda t: PHONE_ACTIONS.index(t.action),
    )
    other = [t for t in available if t.action not in PHONE_ACTIONS]
    given = forms or {}
    steps = list(services.timeline(event))
    for step in steps:
        step.elapsed_text = _duration(step.elapsed_seconds)  # type: ignore[attr-defined]
        step.allowed_text = _duration(step.allowed_seconds)  # type: ignore[attr-defined]
    report_steps = {s.pk for s in steps if s.action == StepAction.REPORT}
    labels = {
        spec["key"]: str(spec.get("label") or spec["key"])
        for spec in event.category.effective("extra_fields") or []
    }
    actions = [
        {
            "action": t.action,
            "label": ACTION_LABELS[t.action],
            "needs_note": "note" in t.requires,
            "form": given.get(t.action) or StepForm(initial={"version": event.version}),
        }
        for t in offered
    ]
    return {
        "event": event,
        "steps": steps,
        "photos": [
            a for a in event.attachments.all() if a.step_id is None or a.step_id in report_steps
        ],
        "extra": [(labels.get(key, key), value) for key, value in (event.extra or {}).items()],
        "workbench_url": reverse("events:detail", args=[event.pk]),
        "actions": actions,
        "workbench_actions": other,
        "same": request.GET.get("same") == "1",
        "who": persona(request.user),
    }


@never_cache
@login_required
@require_GET
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _staff_event(request, pk)
    return render(request, "events/mobile/event.html", _event_context(request, event))


@login_required
@require_POST
def event_step(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One step from the phone: sign for, handle (with photos), progress note, extension,
    return, or a note. A refusal keeps what was typed and says why in Chinese."""
    if action not in PHONE_ACTIONS:
        raise Http404
    event = _staff_event(request, pk)
    form = StepForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.transition(
                request.user,
                event,
                action,
                version=data["version"],
                note=data.get("note") or "",
                until=data.get("until"),
                files=data.get("photos") or [],
            )
        except ServiceError as exc:
            _raise_for(exc)
            form.add_error(_field_for(form, exc), str(exc.message))
            status = _status_for(exc)
        else:
            messages.success(request, _done_message(action, event))
            if (
                action in (StepAction.HANDLE, StepAction.RETURN)
                and persona(request.user).can_handle
            ):
                return redirect("events_mobile:tasks")
            return redirect("events_mobile:event", pk=pk)
    event = _staff_event(request, pk)
    context = _event_context(request, event, {action: form})
    if not any(item["action"] == action for item in context["actions"]):
        # The step is no longer possible (somebody was first): the message goes on top.
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()))
    context["failed_action"] = action
    return render(request, "events/mobile/event.html", context, status=status)


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes = seconds // 60
    if minutes < 60:
        return _("%(minutes)d min") % {"minutes": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(days)d days %(hours)d h") % {"days": hours // 24, "hours": hours % 24}


def _done_message(action: str, event: Event) -> str:
    texts = {
        StepAction.SIGN: _("Signed for %(number)s. The handling clock has started."),
        StepAction.HANDLE: _("%(number)s is handled and goes back to the community for review."),
        StepAction.PROGRESS: _("Progress noted on %(number)s."),
        StepAction.REQUEST_EXTENSION: _("Extension requested for %(number)s."),
        StepAction.RETURN: _("%(number)s was returned to the dispatcher."),
        StepAction.COMMENT: _("Your note was added to %(number)s."),
    }
    return texts[StepAction(action)] % {"number": event.number}


# ---------------------------------------------------------------- photos


@login_required
@require_GET
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    """A photo or file of an event, for whoever may see it: staff through the gate or the
    department; the reporter only what their own timeline shows."""
    found = EventAttachment.objects.select_related("event", "step").filter(pk=pk).first()
    if found is None:
        raise Http404
    user: Any = request.user
    staff_sees = Event.objects.visible_to(user).filter(pk=found.event_id).exists()
    reporter_sees = (
        found.event.reporter_id == user.pk
        and found.public
        and (found.step is None or found.step.public)
    )
    if not (staff_sees or reporter_sees):
        raise Http404
    try:
        handle = found.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type=found.content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return response
