"""The statistics page (/events/stats/) and its Excel export.

The page is for whoever sees events at all — staff with ``events.view_event`` (their area) and
department members with ``events.handle_event`` (their department's events); the gate decides
what is counted. The export needs ``events.export_event`` and is a POST (it writes an audit
entry).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from linli.accounts.forms import region_pick_list
from linli.core.errors import PermissionDeniedError
from linli.events import export as exporter
from linli.events import stats as event_stats
from linli.regions.models import RegionNode


class StatsFilterForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("Reported from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        label=gettext_lazy("Reported to"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    region = forms.CharField(
        label=gettext_lazy("Region code"),
        required=False,
        max_length=15,
        widget=forms.TextInput(attrs={"list": "region-options", "inputmode": "numeric"}),
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_region(self) -> RegionNode | None:
        code = str(self.cleaned_data.get("region") or "").strip()
        if not code:
            return event_stats.home_region(self.user)
        found = RegionNode.objects.visible_to(self.user).filter(code=code).first()
        if found is None:
            raise forms.ValidationError(_("The region does not exist or is outside your scope."))
        return found

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=29)
        if start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        if (end - start).days + 1 > event_stats.MAX_RANGE_DAYS:
            raise forms.ValidationError(
                _("Choose a range of at most %(days)d days.") % {"days": event_stats.MAX_RANGE_DAYS}
            )
        data["start"], data["end"] = start, end
        return data

    def query(self) -> event_stats.StatsQuery:
        data = self.cleaned_data
        return event_stats.StatsQuery(start=data["start"], end=data["end"], region=data["region"])


def may_view_stats(user: Any) -> bool:
    return bool(user.has_perm("events.view_event") or user.has_perm("events.handle_event"))


def _chart_data(figures: event_stats.EventStats) -> dict[str, Any]:
    """The page's series for ECharts (labels already in Chinese)."""

    def pie(tallies: list[event_stats.Tally]) -> list[dict[str, Any]]:
        return [{"name": t.label, "value": t.count} for t in tallies if t.count]

    top_leaves = figures.by_leaf[:15]
    return {
        "sources": pie(figures.by_source),
        "categories": pie(figures.by_category),
        "statuses": {
            "labels": [t.label for t in figures.by_status],
            "values": [t.count for t in figures.by_status],
        },
        "leaves": {
            "labels": [t.label for t in reversed(top_leaves)],
            "values": [t.count for t in reversed(top_leaves)],
        },
        "days": {
            "labels": [day.isoformat() for day, _n in figures.per_day],
            "values": [n for _day, n in figures.per_day],
        },
    }


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not may_view_stats(user):
        raise PermissionDenied
    form = StatsFilterForm(user, request.GET)
    context: dict[str, Any] = {
        "form": form,
        "regions": region_pick_list(user),
        "can_export": exporter.may_export(user),
    }
    if not form.is_valid():
        return render(request, "events/stats/index.html", context, status=400)
    figures = event_stats.cached_event_stats(user, form.query())
    context.update(
        {
            "stats": figures,
            "charts": _chart_data(figures),
            "query": form.query(),
        }
    )
    return render(request, "events/stats/index.html", context)


@login_required
@require_POST
def export(request: HttpRequest) -> HttpResponseBase:
    user: Any = request.user
    if not exporter.may_export(user):
        return _error(request, 403, _("You do not have permission to export events."))
    form = StatsFilterForm(user, request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _error(request, 400, message)
    try:
        handle, filename, _listed = exporter.export_statistics(user, form.query())
    except PermissionDeniedError as error:
        return _error(request, 403, str(error.message))
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type=exporter.XLSX_CONTENT_TYPE
    )


def _error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "core/error.html", {"status": status, "message": message}, status=status)
