"""Filters of the register's lists, shared by the pages and the API.

Filters only narrow rows that already came through the gate; a region code outside the scope
simply matches nothing.
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from linli.registry.choices import (
    AGE_BANDS,
    CompoundKind,
    Gender,
    HouseUse,
    OrganisationKind,
    RegistrationType,
    RentalChannel,
    RentalMode,
    ResidenceRelation,
)
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    Organisation,
    Person,
    PersonTag,
    Rental,
    Residence,
    Tag,
    Unit,
    Vehicle,
)
from linli.utilities.fields import blind_index_for
from linli.utilities.scope import subtree_q

STATUS_CHOICES = [
    ("active", _("Active")),
    ("retired", _("Retired")),
    ("all", _("All")),
]
AGE_BAND_CHOICES = [(label, label) for label, _low, _high in AGE_BANDS]
FACILITY_FLAGS = [
    ("has_gigabit", _("gigabit fibre")),
    ("has_cable_tv", _("cable TV or IPTV")),
    ("has_remote_water_meter", _("remote water meter")),
    ("has_remote_electricity_meter", _("remote electricity meter")),
    ("has_remote_gas_meter", _("remote gas meter")),
]


class RegisterFilterSet(django_filters.FilterSet):
    """Region subtree, status (active by default) and a free-text search on ``search_fields``."""

    region = django_filters.CharFilter(label=_("Region code"), method="filter_region")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=STATUS_CHOICES, method="filter_status", empty_label=None
    )
    q = django_filters.CharFilter(label=_("Search"), method="filter_q")

    search_fields: tuple[str, ...] = ()
    region_path = "region__code"

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None and not data.get("status"):
            # Retired rows stay for history but are left out unless asked for.
            data = data.copy()
            data["status"] = "active"
        super().__init__(data, *args, **kwargs)

    def filter_region(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(subtree_q(self.region_path, value))

    def filter_status(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        if value == "retired":
            return queryset.filter(retired_at__isnull=False)
        if value == "all":
            return queryset
        return queryset.filter(retired_at__isnull=True)

    def filter_q(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        value = value.strip()
        if not value or not self.search_fields:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)


class OrganisationFilter(RegisterFilterSet):
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=OrganisationKind.choices)
    search_fields = ("name", "address", "credit_code")

    class Meta:
        model = Organisation
        fields = ["region", "status", "q", "kind"]


class CompoundFilter(RegisterFilterSet):
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=CompoundKind.choices)
    search_fields = ("name", "address")

    class Meta:
        model = Compound
        fields = ["region", "status", "q", "kind"]


class BuildingFilter(RegisterFilterSet):
    compound = django_filters.NumberFilter(label=_("Compound"), field_name="compound_id")
    is_residential = django_filters.BooleanFilter(label=_("residential"))
    has_elevator = django_filters.BooleanFilter(label=_("elevator"))
    search_fields = ("number", "compound__name")

    class Meta:
        model = Building
        fields = ["region", "status", "q", "compound", "is_residential", "has_elevator"]


class UnitFilter(RegisterFilterSet):
    building = django_filters.NumberFilter(label=_("Building"), field_name="building_id")

    class Meta:
        model = Unit
        fields = ["region", "status", "building"]


class HouseFilter(RegisterFilterSet):
    use = django_filters.ChoiceFilter(label=_("Use"), choices=HouseUse.choices)
    compound = django_filters.NumberFilter(label=_("Compound"), field_name="building__compound_id")
    building = django_filters.NumberFilter(label=_("Building"), field_name="building_id")
    unit = django_filters.NumberFilter(label=_("Unit"), field_name="unit_id")
    floor = django_filters.NumberFilter(label=_("Floor"))
    has_gigabit = django_filters.BooleanFilter(label=_("gigabit fibre"))
    has_cable_tv = django_filters.BooleanFilter(label=_("cable TV or IPTV"))
    has_remote_water_meter = django_filters.BooleanFilter(label=_("remote water meter"))
    has_remote_electricity_meter = django_filters.BooleanFilter(label=_("remote electricity meter"))
    has_remote_gas_meter = django_filters.BooleanFilter(label=_("remote gas meter"))
    search_fields = ("address", "address_code")

    class Meta:
        model = House
        fields = [
            "region",
            "status",
            "q",
            "use",
            "compound",
            "building",
            "unit",
            "floor",
            *[flag for flag, _label in FACILITY_FLAGS],
        ]


class HouseholdFilter(RegisterFilterSet):
    house = django_filters.NumberFilter(label=_("House"), field_name="house_id")
    search_fields = ("number", "house__address")

    class Meta:
        model = Household
        fields = ["region", "status", "q", "house"]


class PersonFilter(RegisterFilterSet):
    registration_type = django_filters.ChoiceFilter(
        label=_("Registration type"), choices=RegistrationType.choices
    )
    gender = django_filters.ChoiceFilter(label=_("Gender"), choices=Gender.choices)
    age_band = django_filters.ChoiceFilter(
        label=_("Age band"), choices=AGE_BAND_CHOICES, method="filter_age_band"
    )
    elderly = django_filters.BooleanFilter(label=_("Aged 60 or over"), method="filter_elderly")
    tag = django_filters.ModelChoiceFilter(
        label=_("Tag"),
        queryset=Tag.objects.filter(is_active=True),
        to_field_name="code",
        method="filter_tag",
    )
    household = django_filters.NumberFilter(label=_("Household"), field_name="household_id")
    house = django_filters.NumberFilter(label=_("House"), method="filter_house")
    is_party_member = django_filters.BooleanFilter(label=_("party member"))
    # Names only: ID numbers and phones are searched exactly, through the blind index.
    search_fields = ("name",)

    class Meta:
        model = Person
        fields = [
            "region",
            "status",
            "q",
            "registration_type",
            "gender",
            "age_band",
            "elderly",
            "tag",
            "household",
            "house",
            "is_party_member",
        ]

    def filter_age_band(self, queryset: QuerySet[Person], name: str, value: str) -> Any:
        for label, low, high in AGE_BANDS:
            if label == value:
                return queryset.in_age_band(low, high)  # type: ignore[attr-defined]
        return queryset

    def filter_elderly(self, queryset: QuerySet[Person], name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        elderly = queryset.elderly()  # type: ignore[attr-defined]
        return elderly if value else queryset.exclude(pk__in=elderly.values("pk"))

    def filter_tag(self, queryset: QuerySet[Person], name: str, value: Tag | None) -> Any:
        if value is None:
            return queryset
        return queryset.filter(
            pk__in=PersonTag.objects.filter(tag=value, removed_at__isnull=True).values("person_id")
        )

    def filter_house(self, queryset: QuerySet[Person], name: str, value: int | None) -> Any:
        if value is None:
            return queryset
        return queryset.filter(
            pk__in=Residence.objects.current().filter(house_id=value).values("person_id")
        )


class ResidenceFilter(RegisterFilterSet):
    person = django_filters.NumberFilter(label=_("Person"), field_name="person_id")
    house = django_filters.NumberFilter(label=_("House"), field_name="house_id")
    relation = django_filters.ChoiceFilter(label=_("Relation"), choices=ResidenceRelation.choices)
    current = django_filters.BooleanFilter(label=_("Current"), method="filter_current")
    search_fields = ("house__address",)

    class Meta:
        model = Residence
        fields = ["region", "status", "q", "person", "house", "relation", "current"]

    def filter_current(self, queryset: QuerySet[Residence], name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        current = queryset.current()  # type: ignore[attr-defined]
        return current if value else queryset.exclude(pk__in=current.values("pk"))


class VehicleFilter(RegisterFilterSet):
    compound = django_filters.NumberFilter(label=_("Compound"), field_name="compound_id")
    owner = django_filters.NumberFilter(label=_("Owner"), field_name="owner_id")
    search_fields = ("plate", "description", "compound__name")

    class Meta:
        model = Vehicle
        fields = ["region", "status", "q", "compound", "owner"]


class RentalFilter(RegisterFilterSet):
    house = django_filters.NumberFilter(label=_("House"), field_name="house_id")
    mode = django_filters.ChoiceFilter(label=_("rental mode"), choices=RentalMode.choices)
    channel = django_filters.ChoiceFilter(label=_("rental channel"), choices=RentalChannel.choices)
    search_fields = ("house__address",)

    class Meta:
        model = Rental
        fields = ["region", "status", "q", "house", "mode", "channel"]


class PersonTagFilter(django_filters.FilterSet):
    person = django_filters.NumberFilter(label=_("Person"), field_name="person_id")
    tag = django_filters.CharFilter(label=_("Tag"), field_name="tag__code")
    current = django_filters.BooleanFilter(label=_("Current"), method="filter_current")
    region = django_filters.CharFilter(label=_("Region code"), method="filter_region")

    class Meta:
        model = PersonTag
        fields = ["person", "tag", "current", "region"]

    def filter_current(self, queryset: QuerySet[PersonTag], name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        return queryset.filter(removed_at__isnull=value)

    def filter_region(self, queryset: QuerySet[PersonTag], name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(subtree_q("person__region__code", value))


# ---------------------------------------------------------------- pickers
# The search of the record pickers (a house, a person) in the forms. Like the filters above,
# they only narrow rows that already came through the gate.

PICK_LIMIT = 20
_ID_NUMBER_LIKE = re.compile(r"^\d{17}[\dXx]$")
_MOBILE_LIKE = re.compile(r"^(\+?86)?1\d{10}$")


def house_matches(queryset: QuerySet[House], query: str) -> QuerySet[House]:
    """Active houses whose standard address holds every word of the query (e.g. "锦源 1单元
    101"), or whose standard address code is the query."""
    words = query.split()
    if not words:
        return queryset.none()
    condition = Q()
    for word in words:
        condition &= Q(address__icontains=word)
    if len(words) == 1:
        condition |= Q(address_code=words[0])
    return queryset.filter(retired_at__isnull=True).filter(condition).order_by("address", "id")


def is_exact_person_query(query: str) -> bool:
    """An ID number or a mobile phone: matched exactly, through the blind index."""
    value = re.sub(r"[\s-]", "", query)
    return bool(_ID_NUMBER_LIKE.match(value) or _MOBILE_LIKE.match(value))


def person_matches(queryset: QuerySet[Person], query: str) -> QuerySet[Person]:
    """Active people by an exact ID number or mobile phone (through the blind index), or by a
    part of the name."""
    value = re.sub(r"[\s-]", "", query)
    if not value:
        return queryset.none()
    active = queryset.filter(retired_at__isnull=True)
    if _ID_NUMBER_LIKE.match(value):
        index = blind_index_for(Person, "id_number_index", value.upper())
        return active.filter(id_number_index=index)
    if _MOBILE_LIKE.match(value):
        return active.filter(phone_index=blind_index_for(Person, "phone_index", value))
    return active.filter(name__icontains=query.strip()).order_by("name", "id")
