"""Forms of the self-assessment pages. They only parse what the browser sends; the rules (units,
evidence, overrides, scope) are ``linli.assessment.services``'s, and its refusals are shown on
the form in Chinese."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from linli.assessment import services
from linli.assessment.choices import Unit
from linli.assessment.render import template_metrics
from linli.assessment.standard import Metric, Quantity, Standard
from linli.core.errors import ServiceError

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def unit_text(quantity: Quantity) -> str:
    """The unit a person types the value in, shown beside the metric."""
    if quantity.unit == Unit.COUNT and quantity.counter:
        return str(_("count, in %(counter)s") % {"counter": quantity.counter})
    return str(
        {
            Unit.PERCENT: _("percent, 0–100"),
            Unit.COUNT: _("count, whole number"),
            Unit.BOOLEAN: _("yes or no"),
            Unit.AREA_KM2: _("square kilometres"),
        }[Unit(quantity.unit)]
    )


def enterable(quantity: Quantity) -> bool:
    """A person may report it: everything but the platform's live security checks."""
    return not (isinstance(quantity, Metric) and quantity.platform and not quantity.overridable)


def metric_choices(standard: Standard, tier_key: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The tier's metrics grouped by the indicator that first reads them, for a ``<select>``."""
    groups = []
    for heading, names in template_metrics(standard, tier_key):
        options = [
            (name, f"{standard.quantity(name).label}（{unit_text(standard.quantity(name))}）")
            for name in names
            if enterable(standard.quantity(name))
        ]
        if options:
            groups.append((heading, options))
    return groups


class AssessmentQueryForm(forms.Form):
    """``?tier=&date=`` of the community page; the tier may be a key or its Chinese name."""

    tier = forms.CharField(label=_("Tier"), required=False, max_length=16)
    date = forms.DateField(label=_("Assessment date"), required=False, widget=DATE_WIDGET)

    def __init__(self, *args: Any, standard: Standard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.standard = standard

    def clean_tier(self) -> str:
        tier = (self.cleaned_data.get("tier") or "").strip()
        if not tier:
            return ""
        try:
            return services.resolve_tier(self.standard, tier)
        except ServiceError as exc:
            raise forms.ValidationError(str(exc.message)) from exc

    def clean_date(self) -> dt.date:
        try:
            return services.check_assessment_date(self.cleaned_data.get("date"))
        except ServiceError as exc:
            raise forms.ValidationError(str(exc.message)) from exc


class StoreAssessmentForm(forms.Form):
    date = forms.DateField(label=_("Assessment date"), required=False, widget=DATE_WIDGET)

    def clean_date(self) -> dt.date:
        try:
            return services.check_assessment_date(self.cleaned_data.get("date"))
        except ServiceError as exc:
            raise forms.ValidationError(str(exc.message)) from exc


class ManualFigureForm(forms.Form):
    """A figure with its evidence. The value is text, read by the service in the metric's unit
    (so "0.85" for a percentage is refused as an apparent ratio, in words, not silently)."""

    metric = forms.ChoiceField(label=_("Metric"))
    value = forms.CharField(
        label=_("Value"),
        required=False,
        max_length=64,
        help_text=_(
            "Percentages as 57.6 or 57.6% (a ratio such as 0.576 is refused); counts as whole "
            "numbers; yes/no as 是 or 否; areas in square kilometres (or with a unit, such as "
            "210000平方米)."
        ),
    )
    evidence = forms.CharField(
        label=_("Evidence"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "What the figure rests on: the document, count or record, and where it is kept."
        ),
    )
    attachment = forms.FileField(
        label=_("Attachment"),
        required=False,
        help_text=_("Optional: a scan, photo or document of the evidence (at most 20 MB)."),
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=DATE_WIDGET)
    valid_until = forms.DateField(
        label=_("Valid until"),
        required=False,
        widget=DATE_WIDGET,
        help_text=_("Leave empty when the figure stays valid until a newer one is entered."),
    )
    override = forms.BooleanField(
        label=_("Override the figure the platform computes (marked as an override)"),
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        standard: Standard,
        tier_key: str,
        may_override: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["metric"]
        field.choices = [("", "—"), *metric_choices(standard, tier_key)]
        # Picking a metric shows its meaning and unit below the list (htmx swap).
        field.widget.attrs.update(
            {
                "hx-get": reverse("assessment:metric_help"),
                "hx-target": "#metric-help",
                "hx-swap": "outerHTML",
                "hx-trigger": "change",
            }
        )
        if not may_override:
            # Not shown at all: only those allowed to override see that it can be done.
            del self.fields["override"]

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "metric": data["metric"],
            "value": data.get("value") or "",
            "evidence": data.get("evidence") or "",
            "valid_from": data["valid_from"],
            "valid_until": data.get("valid_until"),
            "attachment": data.get("attachment") or None,
            "override": bool(data.get("override")),
        }
