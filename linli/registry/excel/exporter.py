"""Exports of the register to Excel: the user's scope only (the gate with action "export"),
the list page's filters, personal fields masked unless the user may reveal them and asks for
it, always audited.

Rows stream from the database in chunks into an openpyxl write-only workbook in a temporary
file, so a county's register exports without holding it in memory. Cells hold what a worker
reads: choices as their Chinese labels, linked records as names and addresses, never codes or
database ids.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core.errors import PermissionDeniedError, ServiceError
from linli.registry.excel.columns import (
    BUILDING_EXPORT,
    COMPOUND_EXPORT,
    COMPOUND_KINDS,
    EDUCATION,
    EMPLOYMENT,
    GENDERS,
    HEAD_RELATIONS,
    HOUSE_USES,
    HOUSEHOLD_EXPORT,
    ORGANISATION_KINDS,
    ORGANISATIONS,
    PEOPLE,
    PLACES,
    POLITICAL_STATUS,
    REGISTRATION_TYPES,
    RENTAL_CHANNELS,
    RENTAL_EXPORT,
    RENTAL_MODES,
    RESIDENCE_EXPORT,
    RESIDENCE_RELATIONS,
    UNIT_EXPORT,
    VEHICLES,
    label_of,
)
from linli.registry.excel.templates import write_rows
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    Organisation,
    Person,
    Rental,
    Residence,
    Unit,
    Vehicle,
)
from linli.utilities.masking import mask_id_number, mask_name, mask_phone

CHUNK = 2000

Rows = Callable[[Any, bool], Iterator[list[Any]]]


# ---------------------------------------------------------------- cells


def _yes(value: bool) -> str:
    return "是" if value else "否"


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _name(value: str, unmasked: bool) -> str:
    return value if unmasked else mask_name(value)


def _id_number(value: str, unmasked: bool) -> str:
    return value if unmasked else mask_id_number(value)


def _active_count(model: type[Any], link: str) -> Coalesce:
    """How many active ``model`` rows point at the outer row through ``link`` (one subquery,
    so two counts on one row do not multiply each other's joins)."""
    rows = (
        model.objects.filter(**{link: OuterRef("pk")}, retired_at__isnull=True)
        .order_by()
        .values(link)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


# ---------------------------------------------------------------- rows of each kind


def _people_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    homes = Prefetch(
        "residences",
        queryset=Residence.objects.filter(
            is_primary=True, moved_out__isnull=True, retired_at__isnull=True
        ).select_related("house__unit", "house__building__compound"),
        to_attr="current_homes",
    )
    today = timezone.localdate()
    people = queryset.select_related("region").prefetch_related(homes).order_by("pk")
    for person in people.iterator(chunk_size=CHUNK):
        home = person.current_homes[0] if person.current_homes else None
        house = home.house if home else None
        yield [
            _name(person.name, unmasked),
            _id_number(person.id_number, unmasked),
            person.phone if unmasked else mask_phone(person.phone),
            label_of(REGISTRATION_TYPES, person.registration_type),
            person.ethnicity,
            label_of(EDUCATION, person.education),
            label_of(EMPLOYMENT, person.employment),
            label_of(POLITICAL_STATUS, person.political_status),
            person.region.code,
            house.building.compound.name if house else "",
            house.building.number if house else "",
            house.unit.number if house else "",
            house.number if house else "",
            label_of(RESIDENCE_RELATIONS, home.relation) if home else "",
            label_of(HEAD_RELATIONS, person.head_relation) if person.head_relation else "",
            _day(home.moved_in) if home else "",
            label_of(GENDERS, person.gender) if person.gender else "",
            person.age(today),
        ]


def _house_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    """The 房屋 sheet plus the standard address: it imports back unchanged. 用途 is the
    effective use, and 用途为手工设定 says whether it was fixed by hand or follows the
    residences (so reading it back does not pin a derived use)."""
    houses = queryset.select_related("region", "unit", "building__compound").order_by("pk")
    for house in houses.iterator(chunk_size=CHUNK):
        building = house.building
        cells = {
            "community_code": house.region.code,
            "compound": building.compound.name,
            "compound_kind": label_of(COMPOUND_KINDS, building.compound.kind),
            "building": building.number,
            "floors_above": building.floors_above,
            "floors_below": building.floors_below,
            "has_elevator": _yes(building.has_elevator),
            "unit": house.unit.number,
            "house": house.number,
            "floor": house.floor,
            "area_m2": house.area_m2,
            "use": label_of(HOUSE_USES, house.use),
            "has_gigabit": _yes(house.has_gigabit),
            "has_cable_tv": _yes(house.has_cable_tv),
            "has_remote_water_meter": _yes(house.has_remote_water_meter),
            "has_remote_electricity_meter": _yes(house.has_remote_electricity_meter),
            "has_remote_gas_meter": _yes(house.has_remote_gas_meter),
            "use_set_by_hand": _yes(house.use_is_explicit),
        }
        yield [*(cells[column.key] for column in PLACES.columns), house.address, house.address_code]


def _vehicle_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    vehicles = queryset.select_related("region", "compound", "owner").order_by("pk")
    for vehicle in vehicles.iterator(chunk_size=CHUNK):
        owner_id = vehicle.owner.id_number if vehicle.owner else ""
        yield [
            vehicle.plate,
            vehicle.region.code,
            vehicle.compound.name if vehicle.compound else "",
            _id_number(owner_id, unmasked),
            vehicle.description,
        ]


def _organisation_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    organisations = queryset.select_related("region").order_by("pk")
    for organisation in organisations.iterator(chunk_size=CHUNK):
        yield [
            organisation.name,
            label_of(ORGANISATION_KINDS, organisation.kind),
            organisation.credit_code,
            organisation.region.code,
            organisation.address,
            # The contact is a person: masked like on the organisation's page.
            _name(organisation.contact_name, unmasked),
            organisation.contact_phone if unmasked else mask_phone(organisation.contact_phone),
        ]


def _compound_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    compounds = (
        queryset.select_related("region", "property_company")
        .annotate(
            building_count=_active_count(Building, "compound"),
            house_count=_active_count(House, "building__compound"),
        )
        .order_by("pk")
    )
    for compound in compounds.iterator(chunk_size=CHUNK):
        yield [
            compound.region.code,
            compound.region.name,
            compound.name,
            label_of(COMPOUND_KINDS, compound.kind),
            compound.property_company.name if compound.property_company else "",
            compound.address,
            compound.area_m2,
            compound.latitude,
            compound.longitude,
            compound.building_count,
            compound.house_count,
        ]


def _building_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    buildings = (
        queryset.select_related("region", "compound")
        .annotate(
            unit_count=_active_count(Unit, "building"),
            house_count=_active_count(House, "building"),
        )
        .order_by("pk")
    )
    for building in buildings.iterator(chunk_size=CHUNK):
        yield [
            building.region.code,
            building.region.name,
            building.compound.name,
            building.number,
            building.floors_above,
            building.floors_below,
            _yes(building.is_residential),
            _yes(building.has_elevator),
            building.unit_count,
            building.house_count,
            building.latitude,
            building.longitude,
        ]


def _unit_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    units = (
        queryset.select_related("region", "building__compound")
        .annotate(house_count=_active_count(House, "unit"))
        .order_by("pk")
    )
    for unit in units.iterator(chunk_size=CHUNK):
        yield [
            unit.region.code,
            unit.region.name,
            unit.building.compound.name,
            unit.building.number,
            unit.number,
            unit.house_count,
        ]


def _household_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    households = (
        queryset.select_related("region", "house", "head")
        .annotate(member_count=_active_count(Person, "household"))
        .order_by("pk")
    )
    for household in households.iterator(chunk_size=CHUNK):
        head = household.head
        yield [
            household.region.code,
            household.region.name,
            household.number,
            _name(head.name, unmasked) if head else "",
            _id_number(head.id_number, unmasked) if head else "",
            household.house.address if household.house else "",
            household.member_count,
        ]


def _residence_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    residences = queryset.select_related(
        "region", "person", "house__unit", "house__building__compound"
    ).order_by("pk")
    for residence in residences.iterator(chunk_size=CHUNK):
        person, house = residence.person, residence.house
        yield [
            _name(person.name, unmasked),
            _id_number(person.id_number, unmasked),
            residence.region.code,
            house.building.compound.name,
            house.building.number,
            house.unit.number,
            house.number,
            house.address,
            label_of(RESIDENCE_RELATIONS, residence.relation),
            label_of(HEAD_RELATIONS, person.head_relation) if person.head_relation else "",
            _day(residence.moved_in),
            _day(residence.moved_out),
            _yes(residence.is_primary),
        ]


def _rental_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    tenants = Prefetch("tenants", queryset=Person.objects.order_by("pk"), to_attr="tenant_list")
    rentals = queryset.select_related("region", "house").prefetch_related(tenants).order_by("pk")
    for rental in rentals.iterator(chunk_size=CHUNK):
        people = rental.tenant_list
        yield [
            rental.region.code,
            rental.house.address,
            "、".join(_name(p.name, unmasked) for p in people),
            # In the order of the names; a tenant without an ID number shows a dash.
            "、".join(_id_number(p.id_number, unmasked) or "—" for p in people),
            len(people),
            label_of(RENTAL_MODES, rental.mode),
            label_of(RENTAL_CHANNELS, rental.channel),
            rental.monthly_rent,
            _day(rental.start),
            _day(rental.end),
        ]


# ---------------------------------------------------------------- the kinds


@dataclass(frozen=True)
class ExportKind:
    model: type[Any]
    sheet_name: str
    headers: tuple[str, ...]
    rows: Rows
    # Name of the list page's FilterSet in ``linli.registry.filters``.
    filterset: str
    # Holds people's names, ID numbers or phones: masked unless the user may reveal them.
    personal: bool = False


# Keyed by the slug of the export URL (the list page's URL prefix).
EXPORT_KINDS: dict[str, ExportKind] = {
    "people": ExportKind(
        Person,
        PEOPLE.name,
        (*PEOPLE.headers, "性别", "年龄"),
        _people_rows,
        "PersonFilter",
        personal=True,
    ),
    "houses": ExportKind(
        House, PLACES.name, (*PLACES.headers, "标准地址", "地址编码"), _house_rows, "HouseFilter"
    ),
    "vehicles": ExportKind(
        Vehicle,
        VEHICLES.name,
        tuple(VEHICLES.headers),
        _vehicle_rows,
        "VehicleFilter",
        personal=True,
    ),
    "organisations": ExportKind(
        Organisation,
        ORGANISATIONS.name,
        tuple(ORGANISATIONS.headers),
        _organisation_rows,
        "OrganisationFilter",
        personal=True,
    ),
    "compounds": ExportKind(
        Compound, COMPOUND_EXPORT.name, COMPOUND_EXPORT.headers, _compound_rows, "CompoundFilter"
    ),
    "buildings": ExportKind(
        Building, BUILDING_EXPORT.name, BUILDING_EXPORT.headers, _building_rows, "BuildingFilter"
    ),
    "units": ExportKind(Unit, UNIT_EXPORT.name, UNIT_EXPORT.headers, _unit_rows, "UnitFilter"),
    "households": ExportKind(
        Household,
        HOUSEHOLD_EXPORT.name,
        HOUSEHOLD_EXPORT.headers,
        _household_rows,
        "HouseholdFilter",
        personal=True,
    ),
    "residences": ExportKind(
        Residence,
        RESIDENCE_EXPORT.name,
        RESIDENCE_EXPORT.headers,
        _residence_rows,
        "ResidenceFilter",
        personal=True,
    ),
    "rentals": ExportKind(
        Rental,
        RENTAL_EXPORT.name,
        RENTAL_EXPORT.headers,
        _rental_rows,
        "RentalFilter",
        personal=True,
    ),
}


def export_permission(kind: str) -> str:
    return f"registry.export_{EXPORT_KINDS[kind].model._meta.model_name}"


def may_export(user: Any, kind: str) -> bool:
    return kind in EXPORT_KINDS and user.has_perm(export_permission(kind))


def may_unmask(user: Any, kind: str) -> bool:
    return EXPORT_KINDS[kind].personal and user.has_perm("registry.reveal_person")


def refusal(kind: str) -> str:
    """What a user without the export permission of ``kind`` is told (page and API)."""
    things = EXPORT_KINDS[kind].model._meta.verbose_name_plural
    return _("You may not export %(things)s; the security administrator can grant it.") % {
        "things": things
    }


def _filterset_class(kind: str) -> Any:
    from linli.registry import filters

    return getattr(filters, EXPORT_KINDS[kind].filterset)


def filter_keys(kind: str) -> tuple[str, ...]:
    """The query-string keys of the kind's list page filters."""
    return tuple(_filterset_class(kind).base_filters)


def filter_params(kind: str, source: Mapping[str, Any]) -> dict[str, str]:
    """The list page's filters found in a query string or form (other keys are ignored)."""
    return {key: str(source.get(key)) for key in filter_keys(kind) if source.get(key)}


def filterset(kind: str, params: Mapping[str, str], queryset: Any = None) -> Any:
    """The kind's list page FilterSet bound to ``params`` (on no rows unless given)."""
    data = QueryDict(mutable=True)
    for key, value in params.items():
        data[key] = value
    if queryset is None:
        queryset = EXPORT_KINDS[kind].model.objects.none()
    return _filterset_class(kind)(data, queryset=queryset)


def _filtered(queryset: Any, kind: str, params: Mapping[str, str]) -> Any:
    """Exactly the list page's filters (the same FilterSet), read from its query string, so an
    export never holds more than the list the user was looking at."""
    bound = filterset(kind, params, queryset)
    if not bound.is_valid():
        raise ServiceError("export.filters", _("The filters of the export are not valid."))
    return bound.qs


def export_queryset(actor: Any, kind: str, params: Mapping[str, str]) -> Any:
    if kind not in EXPORT_KINDS:
        raise ServiceError("export.kind", _("Unknown export kind."))
    if not may_export(actor, kind):
        raise PermissionDeniedError("permission_denied", refusal(kind))
    model = EXPORT_KINDS[kind].model
    return _filtered(model.objects.visible_to(actor, "export"), kind, params)


def export_records(
    actor: Any, kind: str, params: Mapping[str, str], *, unmasked: bool = False
) -> tuple[IO[bytes], str, int]:
    """Write the export to a temporary file; returns (open file at 0, file name, row count).

    Unmasked personal data needs ``registry.reveal_person`` as well as the export permission,
    and the audit entry says that the export was unmasked.
    """
    queryset = export_queryset(actor, kind, params)
    spec = EXPORT_KINDS[kind]
    if unmasked and not may_unmask(actor, kind):
        raise PermissionDeniedError(
            "permission_denied", _("You may not export personal data unmasked.")
        )
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    count = write_rows(handle, spec.sheet_name, list(spec.headers), spec.rows(queryset, unmasked))
    handle.seek(0)
    # A free-text search may hold a name: the audit note says only that there was one.
    filters = ", ".join(
        f"{key}={'…' if key == 'q' else value}" for key, value in sorted(params.items()) if value
    )
    record(
        AuditAction.EXPORT,
        actor=actor,
        object_type=spec.model._meta.label_lower,
        object_repr=str(spec.model._meta.verbose_name_plural),
        note=f"{count} rows, {'UNMASKED personal data' if unmasked else 'masked'}"
        + (f"; filters: {filters}" if filters else ""),
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return handle, f"{kind}-{stamp}.xlsx", count
