"""Forms of the event hub's staff pages. They only parse input: ``linli.events.services`` keeps
the lifecycle's rules and ``linli.events.config`` the configuration's; the views put a refused
field's message next to the field the service names. Every reference (a region, a compound, a
house, a department, a member) is offered and looked up within what the actor may see, so a
tampered id is an invalid choice and nothing is written."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.choices import CallableChoiceIterator, normalize_choices
from django.utils.translation import gettext_lazy as _

from linli.accounts.forms import RegionCodeField
from linli.core.errors import ServiceError
from linli.events import config, services
from linli.events.attachments import MAX_FILES, check_upload
from linli.events.choices import (
    TIMED_STATUSES,
    AttachmentKind,
    CategoryKind,
    DepartmentKind,
    EventPriority,
    EventSource,
    EventStatus,
    LimitUnit,
    Rating,
    StepAction,
)
from linli.events.lifecycle import Transition
from linli.events.models import Department, DispatchRule, Event, EventCategory, Holiday
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode

MICRODEGREE = Decimal("0.000001")
NOTE_MAX = 2000
# Beyond this many communities and grids the place is typed as a code (with the communities
# offered as suggestions) instead of chosen from one long select.
PLACE_SELECT_CAP = 1500
# The sources a member of staff reports for at the workbench.
STAFF_SOURCES = (
    EventSource.GRID,
    EventSource.WINDOW,
    EventSource.HOTLINE,
    EventSource.PATROL,
    EventSource.INSPECTION,
)
# The place's fields a category may require, as the services name them, and the field of the
# form each one stands for.
REQUIRED_FIELD_NAMES = {
    "photo": "photos",
    "position": "latitude",
    "house": "house",
    "phone": "reporter_phone",
}


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def leaf_categories() -> QuerySet[EventCategory]:
    """The categories a report may name: active ones without active children."""
    return (
        EventCategory.objects.filter(is_active=True)
        .exclude(children__is_active=True)
        .select_related("parent__parent")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )


def category_path(category: EventCategory) -> str:
    return " / ".join(node.name for node in reversed(category.lineage()[1:]))


class LazyChoices:
    """Choices built by ``_get_choices`` when the select is rendered, not when the form is made
    (a bound form only needs the queryset to clean its value)."""

    widget: Any

    def _get_choices(self) -> list[Any]:
        raise NotImplementedError

    @property
    def choices(self) -> Any:
        return CallableChoiceIterator(self._get_choices)

    @choices.setter
    def choices(self, value: Any) -> None:
        self._choices = self.widget.choices = normalize_choices(value)


class GroupedCategoryField(LazyChoices, forms.ModelChoiceField):  # type: ignore[type-arg]
    """A select of the leaf categories, grouped under the path of their parents."""

    def _get_choices(self) -> list[Any]:
        groups: dict[str, list[tuple[Any, str]]] = {}
        queryset: Any = self.queryset
        for category in queryset:
            groups.setdefault(category_path(category), []).append(
                (self.prepare_value(category), self.label_from_instance(category))
            )
        choices: list[Any] = [("", self.empty_label)]
        for heading, options in groups.items():
            if heading:
                choices.append((heading, options))
            else:
                choices.extend(options)
        return choices


def place_regions(actor: Any) -> QuerySet[RegionNode]:
    """The communities and grids of the actor's area: where an event may be placed."""
    return (
        RegionNode.objects.within(actor.scope_codes())
        .active()
        .filter(level__in=[RegionLevel.COMMUNITY, RegionLevel.GRID])
        .order_by("code")
    )


class PlaceRegionField(LazyChoices, forms.ModelChoiceField):  # type: ignore[type-arg]
    """The community or grid of the event, by its code: a select grouped by subdistrict for
    an ordinary area, a typed code (communities suggested) for a county of many grids."""

    default_error_messages = {
        "invalid_choice": _("Choose the community or grid where the problem is."),
        "required": _("Choose the community or grid where the problem is."),
    }

    def __init__(self, actor: Any, **kwargs: Any) -> None:
        queryset = place_regions(actor)
        self.typed = queryset.count() > PLACE_SELECT_CAP
        widget = (
            forms.TextInput(attrs={"list": "place-options", "inputmode": "numeric"})
            if self.typed
            else forms.Select
        )
        super().__init__(
            queryset=queryset,
            to_field_name="code",
            widget=widget,
            empty_label=_("Choose…"),
            **kwargs,
        )

    def label_from_instance(self, obj: RegionNode) -> str:
        return f"\u3000{obj.name}" if obj.level == RegionLevel.GRID else obj.name

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, RegionNode):
            return value.code
        return super().prepare_value(value)

    def _get_choices(self) -> list[Any]:
        if self.typed:
            return [("", self.empty_label)]
        queryset: Any = self.queryset
        nodes = list(queryset)
        names = dict(
            RegionNode.objects.filter(code__in={node.code[:9] for node in nodes}).values_list(
                "code", "name"
            )
        )
        groups: dict[str, list[tuple[str, str]]] = {}
        for node in nodes:
            groups.setdefault(names.get(node.code[:9], ""), []).append(
                (node.code, self.label_from_instance(node))
            )
        choices: list[Any] = [("", self.empty_label)]
        for heading, options in groups.items():
            choices.append((heading, options) if heading else options[0])
        return choices

    def suggestions(self) -> list[RegionNode]:
        """The communities offered while typing a code (the typed form only)."""
        queryset: Any = self.queryset
        return list(queryset.filter(level=RegionLevel.COMMUNITY).only("code", "name"))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadsField(forms.FileField):
    """Several photos (``kind=photo``) or files, each checked here so the error stands next to
    the field; the service checks them again before it stores them."""

    def __init__(self, kind: str = AttachmentKind.PHOTO, **kwargs: Any) -> None:
        self.kind = kind
        kwargs.setdefault("required", False)
        attrs: dict[str, Any] = {"multiple": True}
        if kind == AttachmentKind.PHOTO:
            attrs["accept"] = "image/*"
        kwargs.setdefault("widget", MultipleFileInput(attrs=attrs))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        uploads = [item for item in _as_list(data) if item]
        if not uploads:
            return []
        if len(uploads) > MAX_FILES:
            raise forms.ValidationError(
                _("At most %(count)d files at once.") % {"count": MAX_FILES}
            )
        for upload in uploads:
            try:
                check_upload(upload, self.kind)
            except ServiceError as exc:
                raise forms.ValidationError(str(exc.message)) from exc
            finally:
                upload.seek(0)
        return uploads


def _as_list(data: Any) -> list[Any]:
    if data is None:
        return []
    if isinstance(data, list | tuple):
        return list(data)
    return [data]


class PositionField(forms.DecimalField):
    """A coordinate set by a click on the map (or typed), kept to the micro-degree."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.NumberInput(attrs={"step": "any"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        number = super().to_python(value)
        if number is None:
            return None
        return number.quantize(MICRODEGREE, rounding=ROUND_HALF_UP)


def extra_field(spec: dict[str, Any]) -> forms.Field:
    """A form field for one of the category's own fields (``EventCategory.extra_fields``); the
    service checks the values again by the same declaration."""
    label = str(spec.get("label") or spec["key"])
    required = bool(spec.get("required"))
    messages = {"required": _("%(label)s is required.") % {"label": label}}
    kind = spec.get("type", "text")
    if kind == "number":
        return forms.FloatField(
            label=label,
            required=required,
            error_messages={**messages, "invalid": _("%(label)s is not valid.") % {"label": label}},
            widget=forms.NumberInput(attrs={"step": "any"}),
        )
    if kind == "date":
        return forms.DateField(
            label=label,
            required=required,
            error_messages={**messages, "invalid": _("%(label)s is not valid.") % {"label": label}},
            widget=forms.DateInput(attrs={"type": "date"}),
        )
    if kind == "choice":
        options = [(str(c), str(c)) for c in spec.get("choices", [])]
        return forms.ChoiceField(
            label=label,
            required=required,
            choices=[("", _("Choose…")), *options],
            error_messages={
                **messages,
                "invalid_choice": _("%(label)s is not valid.") % {"label": label},
            },
        )
    if kind == "bool":
        return forms.BooleanField(label=label, required=required, error_messages=messages)
    return forms.CharField(label=label, required=required, max_length=500, error_messages=messages)


class ExtraFieldsMixin:
    """The category's own fields (``extra_<key>``), added for the chosen category."""

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def add_extra_fields(self, category: EventCategory | None) -> None:
        self.extra_specs: list[dict[str, Any]] = []
        if category is None:
            return
        self.extra_specs = list(category.effective("extra_fields") or [])
        for spec in self.extra_specs:
            self.fields[f"extra_{spec['key']}"] = extra_field(spec)

    def extra_fields(self) -> list[forms.BoundField]:
        return [self[f"extra_{spec['key']}"] for spec in self.extra_specs]  # type: ignore[index]

    def extra_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for spec in self.extra_specs:
            value = self.cleaned_data.get(f"extra_{spec['key']}")
            if value in (None, "") or (spec.get("type") == "bool" and value is False):
                continue
            values[spec["key"]] = value.isoformat() if hasattr(value, "isoformat") else value
        return values


# ---------------------------------------------------------------- the staff report form


class ReportForm(ExtraFieldsMixin, forms.Form):
    """A report taken by staff from any source: what (category, description, photos, files,
    the category's own fields), where (community or grid, optionally compound, building or
    house, an address and a map position), who called (hotline), and the idempotency key that
    makes a double submission one event."""

    idempotency_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    source = forms.ChoiceField(
        label=_("Source"), choices=[(s.value, s.label) for s in STAFF_SOURCES]
    )
    category = GroupedCategoryField(
        label=_("Event category"),
        queryset=EventCategory.objects.none(),
        empty_label=_("Choose…"),
        error_messages={
            "required": _("Choose the category."),
            "invalid_choice": _("Choose a category at the lowest level of the tree."),
        },
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=100,
        required=False,
        help_text=_("Leave empty to use the first line of the description."),
    )
    description = forms.CharField(
        label=_("Description of the problem"),
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Describe the problem.")},
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        required=False,
        choices=[("", _("As the category says")), *EventPriority.choices],
    )
    address = forms.CharField(label=_("Address or landmark"), max_length=200, required=False)
    latitude = PositionField(label=_("Latitude"), min_value=-90, max_value=90)
    longitude = PositionField(label=_("Longitude"), min_value=-180, max_value=180)
    reporter_name = forms.CharField(label=_("Caller's name"), max_length=50, required=False)
    reporter_phone = forms.CharField(label=_("Caller's phone"), max_length=30, required=False)
    photos = UploadsField(AttachmentKind.PHOTO, label=_("Photos"))
    attachments = UploadsField(AttachmentKind.FILE, label=_("Files"))

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["category"].queryset = leaf_categories()  # type: ignore[attr-defined]
        self.fields["region"] = PlaceRegionField(actor, label=_("Community or grid"))
        self.order_fields(["idempotency_key", "source", "category", "region"])
        if not self.is_bound and not self.initial.get("idempotency_key"):
            self.initial["idempotency_key"] = new_idempotency_key()
        self.chosen_region = self._chosen_region()
        self._add_place_fields()
        self.chosen_category = self._chosen_category()
        self.add_extra_fields(self.chosen_category)
        # With htmx the category brings its own fields, the place its compounds and buildings.
        self.fields["category"].widget.attrs.update(
            {"hx-get": reverse("events:new_extra"), "hx-target": "#extra-fields"}
        )
        self.fields["region"].widget.attrs.update(
            {"hx-get": reverse("events:new_places"), "hx-target": "#place-records"}
        )

    def _value(self, name: str) -> Any:
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        return getattr(value, "pk", value)

    def _chosen_category(self) -> EventCategory | None:
        value = self._value("category")
        if value in (None, "") or not str(value).isdigit():
            return None
        return leaf_categories().filter(pk=int(value)).first()

    def _chosen_region(self) -> RegionNode | None:
        value = self.data.get("region") if self.is_bound else self.initial.get("region")
        code = getattr(value, "code", value)
        if not code or not str(code).isdigit():
            return None
        return place_regions(self.actor).filter(code=str(code)).first()

    def _add_place_fields(self) -> None:
        """Compound and building: selects of the chosen community's records the actor sees;
        the house: the register's picker (its search is limited to the actor's area)."""
        from linli.registry.forms import RecordPickField
        from linli.registry.models import Building, Compound

        community = self.chosen_region.code[:12] if self.chosen_region is not None else None
        if self.actor.has_perm("registry.view_compound"):
            compounds = Compound.objects.visible_to(self.actor).active()
            compounds = (
                compounds.filter(region__code__startswith=community)
                if community
                else compounds.none()
            )
            self.fields["compound"] = forms.ModelChoiceField(
                label=_("Compound"),
                queryset=compounds.order_by("name"),
                required=False,
                empty_label=_("None"),
            )
        if self.actor.has_perm("registry.view_building"):
            buildings = Building.objects.visible_to(self.actor).active().select_related("compound")
            buildings = (
                buildings.filter(region__code__startswith=community)
                if community
                else buildings.none()
            )
            self.fields["building"] = forms.ModelChoiceField(
                label=_("Building"),
                queryset=buildings.order_by("compound__name", "number"),
                required=False,
                empty_label=_("None"),
            )
        if self.actor.has_perm("registry.view_house"):
            self.fields["house"] = RecordPickField(
                "houses", self.actor, label=_("House"), required=False
            )

    @property
    def required_fields(self) -> set[str]:
        if self.chosen_category is None:
            return set()
        return set(self.chosen_category.effective("required_fields") or [])

    # The groups the page lays out (the extra fields are rendered on their own).
    def _group(self, *names: str) -> list[forms.BoundField]:
        return [self[name] for name in names if name in self.fields]

    def what_fields(self) -> list[forms.BoundField]:
        return self._group("source", "category", "title", "description", "priority")

    def upload_fields(self) -> list[forms.BoundField]:
        return self._group("photos", "attachments")

    def region_fields(self) -> list[forms.BoundField]:
        return self._group("region")

    def record_fields(self) -> list[forms.BoundField]:
        return self._group("compound", "building")

    def house_fields(self) -> list[forms.BoundField]:
        return self._group("house", "address")

    def position_fields(self) -> list[forms.BoundField]:
        return self._group("latitude", "longitude")

    def caller_fields(self) -> list[forms.BoundField]:
        return self._group("reporter_name", "reporter_phone")

    def place_points(self) -> list[dict[str, Any]]:
        """Compounds and buildings of the chosen community with a position: landmarks on the
        map where no map tiles are configured."""
        points: list[dict[str, Any]] = []
        for name in ("compound", "building"):
            field = self.fields.get(name)
            if field is None or self.chosen_region is None:
                continue
            rows = field.queryset.filter(  # type: ignore[attr-defined]
                latitude__isnull=False, longitude__isnull=False
            )[:200]
            points += [
                {"name": str(row), "lat": float(row.latitude), "lng": float(row.longitude)}
                for row in rows
            ]
        return points

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("source") == EventSource.HOTLINE:
            if not (cleaned.get("reporter_name") or "").strip():
                self.add_error("reporter_name", _("A hotline report needs the caller's name."))
            if not (cleaned.get("reporter_phone") or "").strip():
                self.add_error("reporter_phone", _("A hotline report needs the caller's phone."))
        phone = (cleaned.get("reporter_phone") or "").strip()
        if phone and not _looks_like_phone(phone):
            self.add_error("reporter_phone", _("Enter a phone number (digits, - and +)."))
        if (cleaned.get("latitude") is None) != (cleaned.get("longitude") is None):
            self.add_error("latitude", _("A map position needs both latitude and longitude."))
        return cleaned

    def place(self) -> services.Place:
        data = self.cleaned_data
        return services.Place(
            region=data["region"],
            compound=data.get("compound"),
            building=data.get("building"),
            house=data.get("house"),
            address=data.get("address") or "",
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
        )

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "category": data["category"],
            "place": self.place(),
            "description": data["description"],
            "source": data["source"],
            "title": data.get("title") or "",
            "priority": data.get("priority") or "",
            "reporter_name": data.get("reporter_name") or "",
            "reporter_phone": data.get("reporter_phone") or "",
            "photos": data.get("photos") or [],
            "files": data.get("attachments") or [],
            "extra": self.extra_values(),
            "idempotency_key": data.get("idempotency_key") or "",
        }

    def field_for(self, service_field: str | None) -> str | None:
        """The form field a service's refusal names (``extra_fields`` keys become
        ``extra_<key>``)."""
        if not service_field:
            return None
        for name in (service_field, f"extra_{service_field}"):
            if name in self.fields:
                return name
        return None


def _looks_like_phone(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "").removeprefix("+")
    return digits.isdigit() and 5 <= len(digits) <= 20


# ---------------------------------------------------------------- one step of the lifecycle

# The note's label for each step (a reason where one is required).
NOTE_LABELS: dict[str, Any] = {
    StepAction.REJECT: _("Reason (the reporter sees it)"),
    StepAction.RETURN: _("Why it is not yours"),
    StepAction.TRANSFER: _("Reason for the transfer"),
    StepAction.REQUEST_EXTENSION: _("Reason for the extension"),
    StepAction.DENY_EXTENSION: _("Reason for refusing"),
    StepAction.PROGRESS: _("Progress"),
    StepAction.HANDLE: _("How it was handled"),
    StepAction.SEND_BACK: _("What is still to be done"),
    StepAction.RATE: _("Comment"),
    StepAction.FOLLOW_UP: _("What the reporter said"),
    StepAction.REOPEN: _("Ruling"),
    StepAction.CONFIRM_CLOSE: _("Ruling"),
    StepAction.URGE: _("Urging note"),
    StepAction.COMMENT: _("Note"),
}
# Steps that take attachments (the department's work, notes).
WITH_FILES = {StepAction.HANDLE, StepAction.PROGRESS, StepAction.COMMENT}
UNTIL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class ActionForm(forms.Form):
    """One step offered on the detail page (``services.actions_for``): the version the actor
    saw, and what the step needs — a note or reason, a department and a person, a new deadline,
    a rating, the event it duplicates, a stage, attachments."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(
        self,
        data: Any = None,
        files: Any = None,
        *,
        actor: Any,
        event: Event,
        transition: Transition,
        **kwargs: Any,
    ) -> None:
        action = str(transition.action)
        kwargs.setdefault("auto_id", f"id_{action}_%s")
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("version", event.version)
        super().__init__(data, files, **kwargs)
        self.actor, self.event, self.transition, self.action = actor, event, transition, action
        if action in (StepAction.DISPATCH, StepAction.TRANSFER):
            self._add_department_fields()
        if action == StepAction.REQUEST_EXTENSION:
            self.fields["until"] = forms.DateTimeField(
                label=_("New deadline"),
                required=False,
                input_formats=UNTIL_FORMATS,
                widget=forms.DateTimeInput(
                    attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
                ),
                error_messages={"invalid": _("Enter a date and time.")},
            )
        if action in (StepAction.RATE, StepAction.FOLLOW_UP):
            self.fields["rating"] = forms.ChoiceField(
                label=_("Rating"),
                required=False,
                choices=[("", _("Choose…")), *Rating.choices],
            )
        if action == StepAction.MERGE:
            self._add_merge_fields()
        if action == StepAction.PROGRESS:
            stages = [str(s) for s in event.category.effective("stages") or []]
            if stages:
                self.fields["stage"] = forms.ChoiceField(
                    label=_("Stage"),
                    required=False,
                    choices=[("", _("Unchanged")), *((s, s) for s in stages)],
                )
        self.fields["note"] = forms.CharField(
            label=NOTE_LABELS.get(action, _("Note (optional)")),
            max_length=NOTE_MAX,
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
        )
        if action in WITH_FILES:
            self.fields["files"] = UploadsField(AttachmentKind.FILE, label=_("Photos or files"))

    @property
    def needs_note(self) -> bool:
        return "note" in self.transition.requires

    def _add_department_fields(self) -> None:
        departments = services.departments_for(self.event)
        if self.action == StepAction.TRANSFER and self.event.department_id:
            departments = departments.exclude(pk=self.event.department_id)
        self.departments = list(departments)
        choices = [("", _("Choose…"))] + [
            (str(d.pk), f"{d.name}（{d.region.name}）") for d in self.departments
        ]
        self.fields["department"] = forms.ChoiceField(
            label=_("Department"), choices=choices, required=False
        )
        suggested = services.dispatch_target(self.event.category, self.event.region_code)
        self.suggested = (
            suggested
            if suggested is not None and any(d.pk == suggested.pk for d in self.departments)
            else None
        )
        if self.suggested is not None and self.action == StepAction.DISPATCH:
            self.initial.setdefault("department", str(self.suggested.pk))
        chosen = self.data.get("department") if self.is_bound else self.initial.get("department")
        self.fields["handler"] = forms.ChoiceField(
            label=_("Person (optional)"),
            choices=handler_choices(self.department_by_pk(chosen)),
            required=False,
        )

    def department_by_pk(self, value: Any) -> Department | None:
        return next((d for d in self.departments if str(d.pk) == str(value or "")), None)

    def _add_merge_fields(self) -> None:
        event = self.event
        candidates = services.duplicates_for(
            event.category,
            event.region_code,
            latitude=event.latitude,
            longitude=event.longitude,
            building=event.building,
            exclude=event.pk,
        )
        visible = set(
            Event.objects.visible_to(self.actor)
            .filter(pk__in=[c.pk for c in candidates])
            .values_list("pk", flat=True)
        )
        self.candidates = [c for c in candidates if c.pk in visible and c.merged_into_id is None]
        self.fields["into"] = forms.ChoiceField(
            label=_("The event it duplicates"),
            required=False,
            choices=[("", _("Choose…"))]
            + [(str(c.pk), f"{c.number} {c.title}") for c in self.candidates],
        )
        self.fields["into_number"] = forms.CharField(
            label=_("…or its number"), max_length=20, required=False
        )

    def clean_until(self) -> Any:
        until = self.cleaned_data.get("until")
        if until is not None and timezone.is_naive(until):
            until = timezone.make_aware(until)
        return until

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.action == StepAction.MERGE and not cleaned.get("into"):
            number = (cleaned.get("into_number") or "").strip()
            if number:
                pk = Event.pk_from_number(number) if len(number) >= 9 else None
                if pk is None and number.isdigit():
                    pk = int(number)
                if pk is None:
                    self.add_error("into_number", _("Enter the event's number."))
                cleaned["into"] = pk
        return cleaned

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {"version": data["version"], "note": data.get("note") or ""}
        if "department" in self.fields:
            values["department"] = self.department_by_pk(data.get("department")) or (
                data.get("department") or None
            )
            values["handler"] = data.get("handler") or None
        for name in ("until", "rating", "stage"):
            if name in self.fields:
                values[name] = data.get(name) or ("" if name != "until" else None)
        if "into" in self.fields:
            into = data.get("into")
            values["into"] = int(into) if into not in (None, "") else None
        if "files" in self.fields:
            values["files"] = data.get("files") or []
        return values

    def field_for(self, service_field: str | None) -> str | None:
        if service_field == "into" and "into" in self.fields:
            return "into"
        return service_field if service_field in self.fields else None


def handler_choices(department: Department | None) -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", _("Nobody in particular (the department signs)"))]
    if department is not None:
        choices += [
            (str(user.pk), str(user))
            for user in department.members.filter(is_active=True).order_by("username")
        ]
    return choices


# ---------------------------------------------------------------- configuration


def parse_extra_fields(text: str) -> list[dict[str, Any]]:
    """One field per line: ``key|label|type|required|choices`` (choices split by , or 、)."""
    specs: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        parts += [""] * (5 - len(parts))
        required = parts[3].lower() in {"required", "yes", "true", "1", "y", "必填", "是"}
        choices = [c.strip() for c in parts[4].replace("，", ",").replace("、", ",").split(",")]
        specs.append(
            {
                "key": parts[0],
                "label": parts[1],
                "type": parts[2] or "text",
                "required": required,
                "choices": [c for c in choices if c],
            }
        )
    return specs


def format_extra_fields(specs: Iterable[dict[str, Any]]) -> str:
    lines = []
    for spec in specs:
        lines.append(
            "|".join(
                [
                    str(spec.get("key", "")),
                    str(spec.get("label", "")),
                    str(spec.get("type", "text")),
                    "required" if spec.get("required") else "",
                    ",".join(str(c) for c in spec.get("choices") or []),
                ]
            ).rstrip("|")
        )
    return "\n".join(lines)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class CategoryChoiceField(LazyChoices, forms.ModelChoiceField):  # type: ignore[type-arg]
    """A category from the whole tree, children indented under their parent."""

    def _get_choices(self) -> list[Any]:
        from linli.events.filters import category_choices

        queryset: Any = self.queryset
        allowed = set(queryset.values_list("pk", flat=True))
        choices: list[Any] = [("", self.empty_label)]
        choices += [(pk, label) for pk, label in category_choices() if pk in allowed]
        return choices


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(
        label=_("Code"), max_length=40, help_text=_("Letters, digits, - and _; unique.")
    )
    parent = CategoryChoiceField(
        label=_("Parent category"),
        queryset=EventCategory.objects.all(),
        required=False,
        empty_label=_("None (top level)"),
    )
    kind = forms.ChoiceField(label=_("Kind of case"), choices=CategoryKind.choices)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    default_department = forms.ModelChoiceField(
        label=_("Default department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("As the parent category"),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=EventPriority.choices)
    limit_unit = forms.ChoiceField(label=_("Time limit unit"), choices=LimitUnit.choices)
    auto_dispatch = forms.BooleanField(
        label=_("Dispatch automatically by the rules"), required=False
    )
    required_fields = forms.MultipleChoiceField(
        label=_("A report must carry"),
        choices=config.REQUIRED_FIELD_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    extra_fields = forms.CharField(
        label=_("Extra fields"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}),
        help_text=_(
            "One per line: key|label|type|required|choices. Types: text, number, date, "
            "choice, bool. E.g. parties|当事人|text|required or "
            "level|纠纷等级|choice||一般,较大,重大"
        ),
    )
    stages = forms.CharField(
        label=_("Handling stages"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, in order, e.g. 登记, 分类, 调解, 归档."),
    )
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, initial=0)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, category: EventCategory | None = None, **kwargs: Any) -> None:
        if category is not None and "initial" not in kwargs:
            kwargs["initial"] = category_initial(category)
        super().__init__(*args, **kwargs)
        self.category = category
        self.fields["default_department"].queryset = (  # type: ignore[attr-defined]
            Department.objects.filter(retired_at__isnull=True)
            .select_related("region")
            .order_by("region__code", "name")
        )
        if category is not None:
            below = {c.pk for c in EventCategory.objects.all() if category in c.lineage()}
            self.fields["parent"].queryset = EventCategory.objects.exclude(pk__in=below)  # type: ignore[attr-defined]
        # The time allowed in each state, after the unit.
        for status in TIMED_STATUSES:
            self.fields[f"limit_{status}"] = forms.DecimalField(
                label=EventStatus(status).label,
                required=False,
                min_value=Decimal("0.01"),
                max_digits=8,
                decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "any"}),
            )
            if category is not None and status in (category.limits or {}):
                self.initial.setdefault(f"limit_{status}", category.limits[status])

    def main_fields(self) -> list[forms.BoundField]:
        return [
            self[name]
            for name in (
                "name",
                "code",
                "parent",
                "kind",
                "default_department",
                "priority",
                "limit_unit",
                "sort_order",
            )
        ]

    def limit_fields(self) -> list[forms.BoundField]:
        return [self[f"limit_{status}"] for status in TIMED_STATUSES]

    def other_fields(self) -> list[forms.BoundField]:
        return [
            self[name]
            for name in (
                "auto_dispatch",
                "is_active",
                "required_fields",
                "extra_fields",
                "stages",
                "description",
            )
        ]

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        limits = {
            status: float(data[f"limit_{status}"])
            for status in TIMED_STATUSES
            if data.get(f"limit_{status}") is not None
        }
        return {
            "code": data["code"],
            "name": data["name"],
            "parent": data.get("parent"),
            "kind": data["kind"],
            "description": data.get("description") or "",
            "default_department": data.get("default_department"),
            "priority": data["priority"],
            "limit_unit": data["limit_unit"],
            "limits": limits,
            "auto_dispatch": data.get("auto_dispatch", False),
            "required_fields": data.get("required_fields") or [],
            "extra_fields": parse_extra_fields(data.get("extra_fields") or ""),
            "stages": _lines(data.get("stages") or ""),
            "sort_order": data.get("sort_order") or 0,
            "is_active": data.get("is_active", False),
        }


def category_initial(category: EventCategory) -> dict[str, Any]:
    return {
        "name": category.name,
        "code": category.code,
        "parent": category.parent_id,
        "kind": category.kind,
        "description": category.description,
        "default_department": category.default_department_id,
        "priority": category.priority,
        "limit_unit": category.limit_unit,
        "auto_dispatch": category.auto_dispatch,
        "required_fields": list(category.required_fields or []),
        "extra_fields": format_extra_fields(category.extra_fields or []),
        "stages": "\n".join(str(s) for s in category.stages or []),
        "sort_order": category.sort_order,
        "is_active": category.is_active,
    }


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind of department"), choices=DepartmentKind.choices)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)

    def __init__(self, *args: Any, actor: Any, department: Department | None = None, **kwargs: Any):
        if department is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": department.name,
                "kind": department.kind,
                "phone": department.phone,
            }
        super().__init__(*args, **kwargs)
        if department is None:
            self.fields["region"] = RegionCodeField(
                actor,
                label=_("Area it serves"),
                help_text=_(
                    "The county for a county-wide department, else the subdistrict or "
                    "community it serves."
                ),
            )
            self.order_fields(["region"])


class MemberForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Account"),
        queryset=get_user_model().objects.none(),
        empty_label=_("Choose…"),
        error_messages={
            "required": _("Choose an account of your area that may handle events."),
            "invalid_choice": _("Choose an account of your area that may handle events."),
        },
    )

    def __init__(self, *args: Any, actor: Any, department: Department, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        candidates = config.member_candidates(actor).exclude(pk__in=department.members.values("pk"))
        field: Any = self.fields["user"]
        field.queryset = candidates
        field.label_from_instance = lambda user: f"{user}（{user.username}）"


class RuleForm(forms.Form):
    category = CategoryChoiceField(
        label=_("Event category"),
        queryset=EventCategory.objects.filter(is_active=True),
        empty_label=_("Choose…"),
        help_text=_("A rule for a category also routes its sub-categories without their own."),
    )
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.none(), empty_label=_("Choose…")
    )

    def __init__(self, *args: Any, actor: Any, rule: DispatchRule | None = None, **kwargs: Any):
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "region": rule.region,
                "category": rule.category_id,
                "department": rule.department_id,
            }
        super().__init__(*args, **kwargs)
        from linli.events.filters import departments_seen_by

        self.fields["region"] = RegionCodeField(
            actor,
            label=_("Area"),
            help_text=_(
                "The county, a subdistrict, a community or a grid; the most specific rule wins."
            ),
        )
        self.order_fields(["region"])
        field: Any = self.fields["department"]
        field.queryset = departments_seen_by(actor).filter(retired_at__isnull=True)
        field.label_from_instance = lambda d: f"{d.name}（{d.region.name}）"
        field.queryset = field.queryset.select_related("region")


class HolidayForm(forms.Form):
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": _("Give the date."), "invalid": _("Enter a date.")},
    )
    is_workday = forms.BooleanField(
        label=_("A working day (a weekend day worked in exchange)"), required=False
    )
    name = forms.CharField(label=_("Name"), max_length=50, required=False)

    def __init__(self, *args: Any, holiday: Holiday | None = None, **kwargs: Any) -> None:
        if holiday is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "date": holiday.date,
                "is_workday": holiday.is_workday,
                "name": holiday.name,
            }
        super().__init__(*args, **kwargs)
