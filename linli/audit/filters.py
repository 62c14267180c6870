"""Searching the audit trail by actor, object, action and time (pages and API alike)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from linli.audit.choices import AuditAction
from linli.audit.forms import DateTimeLocalInput
from linli.audit.models import AuditEntry


class AuditEntryFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(label=_("Actor (user name)"), method="filter_actor")
    action = django_filters.ChoiceFilter(label=_("Action"), choices=AuditAction.choices)
    object_type = django_filters.CharFilter(label=_("Object type"), field_name="object_type")
    object_id = django_filters.CharFilter(label=_("Object id"), field_name="object_id")
    since = django_filters.IsoDateTimeFilter(
        label=_("From"), field_name="at", lookup_expr="gte", widget=DateTimeLocalInput()
    )
    until = django_filters.IsoDateTimeFilter(
        label=_("To"), field_name="at", lookup_expr="lte", widget=DateTimeLocalInput()
    )

    class Meta:
        model = AuditEntry
        fields = ["actor", "action", "object_type", "object_id", "since", "until"]

    def filter_actor(self, queryset: QuerySet[AuditEntry], name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        # The name is stored with the entry, so entries of since-renamed or removed accounts match.
        return queryset.filter(actor_name__iexact=value)
