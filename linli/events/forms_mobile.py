"""Forms of the phone pages (``views_mobile``). They parse input only: the event services keep
the rules (place, required fields, photo checks, the lifecycle) and the views put a refused
field's message next to the field it names."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.core.errors import ServiceError
from linli.events.attachments import MAX_FILES, check_upload
from linli.events.choices import AttachmentKind, Rating
from linli.events.forms import _as_list, leaf_categories, new_idempotency_key
from linli.events.models import EventCategory
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode

MICRODEGREE = Decimal("0.000001")
NOTE_MAX = 2000


def grouped_choices(categories: Iterable[EventCategory], empty_label: Any) -> list[Any]:
    """Leaf categories grouped under their parent's name: phones show the groups as headings."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for category in categories:
        heading = category.parent.name if category.parent is not None else ""
        groups.setdefault(heading, []).append((category.pk, category.name))
    choices: list[Any] = [("", empty_label)]
    for heading, options in groups.items():
        if heading:
            choices.append((heading, options))
        else:
            choices.extend(options)
    return choices


class RegionChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: RegionNode) -> str:
        # Grids are indented under their community (the list is ordered by code).
        return f"\u3000{obj.name}" if obj.level == RegionLevel.GRID else obj.name


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotoField(forms.FileField):
    """Several photos from the camera or the album, each checked as a picture here so the error
    stands next to the field (the service checks them again before storing)."""

    widget = MultiplePhotoInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget",
            MultiplePhotoInput(
                attrs={"accept": "image/*", "capture": "environment", "multiple": True}
            ),
        )
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        uploads = [item for item in _as_list(data) if item]
        if not uploads:
            if self.required:
                raise forms.ValidationError(_("Take or choose at least one photo."))
            return []
        if len(uploads) > MAX_FILES:
            raise forms.ValidationError(
                _("At most %(count)d photos at once.") % {"count": MAX_FILES}
            )
        for upload in uploads:
            try:
                check_upload(upload, AttachmentKind.PHOTO)
            except ServiceError as exc:
                raise forms.ValidationError(str(exc.message)) from exc
            finally:
                upload.seek(0)
        return uploads


class PositionField(forms.FloatField):
    """A coordinate from the phone: any precision is accepted, stored to the micro-degree."""

    widget = forms.HiddenInput

    def clean(self, value: Any) -> Decimal | None:  # type: ignore[override]
        number = super().clean(value)
        if number is None:
            return None
        return Decimal(str(number)).quantize(MICRODEGREE, rounding=ROUND_HALF_UP)


class ReportForm(forms.Form):
    """One screen: what (category, description, photos), where (place, address, position) and
    the category's own fields (``extra_<key>``). Residents report for their own community, so
    their form has no place field."""

    category = forms.ModelChoiceField(
        label=_("What kind of problem"),
        queryset=EventCategory.objects.none(),
        empty_label=_("Choose…"),
        error_messages={
            "required": _("Choose what kind of problem it is."),
            "invalid_choice": _("Choose what kind of problem it is."),
        },
    )
    region = RegionChoiceField(
        label=_("Grid or community"),
        queryset=RegionNode.objects.none(),
        empty_label=_("Choose…"),
        error_messages={
            "required": _("Choose the community or grid where the problem is."),
            "invalid_choice": _("Choose the community or grid where the problem is."),
        },
    )
    address = forms.CharField(
        label=_("Where exactly"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. east side of building 3")}),
    )
    description = forms.CharField(
        label=_("What is wrong"),
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Describe the problem.")},
    )
    photos = PhotoField(label=_("Photos"))
    latitude = PositionField(required=False, min_value=-90, max_value=90)
    longitude = PositionField(required=False, min_value=-180, max_value=180)
    idempotency_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        regions: Iterable[RegionNode] | QuerySet[RegionNode] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        categories = leaf_categories()
        self.fields["category"].queryset = categories  # type: ignore[attr-defined]
        self.fields["category"].widget.choices = grouped_choices(  # type: ignore[attr-defined]
            categories,
            self.fields["category"].empty_label,  # type: ignore[attr-defined]
        )
        # A change of category brings its own fields (htmx).
        self.fields["category"].widget.attrs.update(
            {
                "hx-get": reverse("events_mobile:report_fields"),
                "hx-target": "#extra-fields",
                "hx-trigger": "change",
                "hx-sync": "this:replace",
            }
        )
        if regions is None:
            del self.fields["region"]
        else:
            self.fields["region"].queryset = regions  # type: ignore[attr-defined]
        if not self.is_bound and not self.initial.get("idempotency_key"):
            self.initial["idempotency_key"] = new_idempotency_key()
        self.chosen_category = self._chosen_category()
        self.extra_specs: list[dict[str, Any]] = []
        if self.chosen_category is not None:
            self.extra_specs = list(self.chosen_category.effective("extra_fields") or [])
            for spec in self.extra_specs:
                self.fields[f"extra_{spec['key']}"] = extra_field(spec)

    def _chosen_category(self) -> EventCategory | None:
        value = self.data.get("category") if self.is_bound else self.initial.get("category")
        value = getattr(value, "pk", value)
        if value in (None, ""):
            return None
        try:
            return leaf_categories().filter(pk=int(value)).first()
        except (TypeError, ValueError):
            return None

    @property
    def required_fields(self) -> set[str]:
        if self.chosen_category is None:
            return set()
        return set(self.chosen_category.effective("required_fields") or [])

    def extra_fields(self) -> list[forms.BoundField]:
        return [self[f"extra_{spec['key']}"] for spec in self.extra_specs]

    def extra_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for spec in self.extra_specs:
            value = self.cleaned_data.get(f"extra_{spec['key']}")
            if value not in (None, ""):
                values[spec["key"]] = value.isoformat() if hasattr(value, "isoformat") else value
        return values

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        latitude, longitude = cleaned.get("latitude"), cleaned.get("longitude")
        if (latitude is None) != (longitude is None):
            cleaned["latitude"] = cleaned["longitude"] = None
        return cleaned


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
            error_messages={**messages, "invalid": _("Enter a number.")},
            widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
        )
    if kind == "date":
        return forms.DateField(
            label=label,
            required=required,
            error_messages={**messages, "invalid": _("Enter a date.")},
            widget=forms.DateInput(attrs={"type": "date"}),
        )
    if kind == "choice":
        options = [(str(c), str(c)) for c in spec.get("choices", [])]
        return forms.ChoiceField(
            label=label,
            required=required,
            choices=[("", _("Choose…")), *options],
            error_messages={**messages, "invalid_choice": _("Choose one of the options.")},
        )
    if kind == "bool":
        return forms.BooleanField(label=label, required=required, error_messages=messages)
    return forms.CharField(label=label, required=required, max_length=500, error_messages=messages)


class StepForm(forms.Form):
    """A step on an event from the phone: the version the person saw, and what the step needs."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    note = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = PhotoField(label=_("Photos"))
    until = forms.DateTimeField(
        label=_("Extend until"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": _("Enter a date and time.")},
    )

    def clean_until(self) -> Any:
        until = self.cleaned_data.get("until")
        if until is not None and timezone.is_naive(until):
            until = timezone.make_aware(until)
        return until


class RateForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)
    rating = forms.ChoiceField(
        label=_("How satisfied are you with the result?"),
        choices=Rating.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a rating."),
            "invalid_choice": _("Choose a rating."),
        },
    )
    comment = forms.CharField(
        label=_("Comment"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
