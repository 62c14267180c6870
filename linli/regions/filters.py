"""Filters of region lists, shared by the tree page's search and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode


class RegionNodeFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(label=_("Level"), choices=RegionLevel.choices)
    parent = django_filters.NumberFilter(label=_("Parent"), field_name="parent_id")
    code = django_filters.CharFilter(label=_("Code starts with"), method="filter_code")
    search = django_filters.CharFilter(label=_("Name"), field_name="name", lookup_expr="icontains")
    active = django_filters.BooleanFilter(label=_("Active"), method="filter_active")

    class Meta:
        model = RegionNode
        fields = ["level", "parent", "code", "search", "active"]

    def filter_code(self, queryset: QuerySet[RegionNode], name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(code__startswith=value)

    def filter_active(self, queryset: QuerySet[RegionNode], name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        return queryset.filter(retired_at__isnull=value)
