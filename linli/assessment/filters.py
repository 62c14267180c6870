"""Filters of the self-assessment's API lists."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from linli.assessment.models import Assessment, ManualFigure
from linli.utilities.scope import subtree_q


def _subtree(queryset: QuerySet[Any], value: str) -> Any:
    value = (value or "").strip()
    if not value:
        return queryset
    if not value.isdigit():
        return queryset.none()
    return queryset.filter(subtree_q("region__code", value))


class ManualFigureFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(label=_("Region code"), method="filter_region")
    metric = django_filters.CharFilter(label=_("Metric"))
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[("active", _("In force")), ("withdrawn", _("Withdrawn"))],
        method="filter_status",
    )
    is_override = django_filters.BooleanFilter(label=_("Override"))

    class Meta:
        model = ManualFigure
        fields = ["region", "metric", "status", "is_override"]

    def filter_region(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        return _subtree(queryset, value)

    def filter_status(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        if value == "active":
            return queryset.filter(retired_at__isnull=True)
        if value == "withdrawn":
            return queryset.filter(retired_at__isnull=False)
        return queryset


class AssessmentFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(label=_("Region code"), method="filter_region")
    date = django_filters.DateFilter(label=_("Assessment date"), field_name="on")
    date_after = django_filters.DateFilter(
        label=_("Assessed on or after"), field_name="on", lookup_expr="gte"
    )
    date_before = django_filters.DateFilter(
        label=_("Assessed on or before"), field_name="on", lookup_expr="lte"
    )
    tier_reached = django_filters.ChoiceFilter(
        label=_("Tier reached"),
        choices=[
            ("none", _("No tier reached")),
            ("basic", "basic"),
            ("growth", "growth"),
            ("benchmark", "benchmark"),
        ],
        method="filter_tier_reached",
    )
    latest = django_filters.BooleanFilter(
        label=_("Only each community's latest"), method="filter_latest"
    )

    class Meta:
        model = Assessment
        fields = ["region", "date", "date_after", "date_before", "tier_reached", "latest"]

    def filter_region(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        return _subtree(queryset, value)

    def filter_tier_reached(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        return queryset.filter(tier_reached="" if value == "none" else value)

    def filter_latest(self, queryset: QuerySet[Any], name: str, value: bool | None) -> Any:
        return queryset.latest_per_community() if value else queryset  # type: ignore[attr-defined]
