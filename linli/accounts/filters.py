"""Filters of the account list, shared by the page and the API. They only narrow a queryset
that already went through the gate (``User.objects.visible_to``)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from linli.accounts.models import ApiToken, Role, RoleAssignment, User
from linli.utilities.fields import blind_index_for
from linli.utilities.validators import CodeError, normalize_mobile


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"), method="filter_search", help_text=_("User name, full name or mobile")
    )
    role = django_filters.ModelChoiceFilter(
        label=_("Role"),
        queryset=Role.objects.all(),
        to_field_name="code",
        field_name="assignments__role",
        distinct=True,
    )
    is_active = django_filters.BooleanFilter(
        label=_("Status"),
        widget=django_filters.widgets.BooleanWidget(),
    )

    class Meta:
        model = User
        fields = ["q", "role", "is_active"]

    def __init__(self, *args: Any, allow_phone: bool = False, **kwargs: Any) -> None:
        # Phone numbers are searched only from a POST body, never from a URL, where they would
        # land in access logs, browser history and Referer headers.
        self.allow_phone = allow_phone
        super().__init__(*args, **kwargs)

    def filter_search(self, queryset: Any, name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        try:
            phone = normalize_mobile(value)
        except CodeError:
            return queryset.filter(Q(username__icontains=value) | Q(display_name__icontains=value))
        if not self.allow_phone:
            return queryset.none()
        # Phones are encrypted: an exact match through the blind index is the only search.
        return queryset.filter(phone_index=blind_index_for(User, "phone_index", phone))


class RoleAssignmentFilterSet(django_filters.FilterSet):
    user = django_filters.NumberFilter(field_name="user_id")
    role = django_filters.CharFilter(field_name="role__code")

    class Meta:
        model = RoleAssignment
        fields = ["user", "role"]


class ApiTokenFilterSet(django_filters.FilterSet):
    user = django_filters.NumberFilter(field_name="user_id")

    class Meta:
        model = ApiToken
        fields = ["user"]
