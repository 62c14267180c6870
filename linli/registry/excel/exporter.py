"""Exports of the register to Excel: the user's scope only (the gate with action "export"),
personal fields masked unless the user may reveal them and asks for it, always audited.

Rows stream from the database in chunks into an openpyxl write-only workbook in a temporary
file, so a county's register exports without holding it in memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.db.models import Prefetch
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core.errors import PermissionDeniedError, ServiceError
from linli.registry.excel.columns import (
    COMPOUND_KINDS,
    EDUCATION,
    EMPLOYMENT,
    HEAD_RELATIONS,
    HOUSE_USES,
    ORGANISATION_KINDS,
    ORGANISATIONS,
    PEOPLE,
    PLACES,
    POLITICAL_STATUS,
    REGISTRATION_TYPES,
    RESIDENCE_RELATIONS,
    VEHICLES,
    label_of,
)
from linli.registry.excel.templates import write_rows
from linli.registry.models import House, Organisation, Person, Residence, Vehicle
from linli.utilities.masking import mask_id_number, mask_name, mask_phone

CHUNK = 2000


@dataclass(frozen=True)
class ExportKind:
    model: type[Any]
    sheet_name: str
    headers: tuple[str, ...]
    personal: bool = False


EXPORT_KINDS: dict[str, ExportKind] = {
    "people": ExportKind(Person, PEOPLE.name, (*PEOPLE.headers, "性别", "年龄"), personal=True),
    "houses": ExportKind(House, PLACES.name, (*PLACES.headers, "标准地址", "地址编码")),
    "vehicles": ExportKind(Vehicle, VEHICLES.name, tuple(VEHICLES.headers), personal=True),
    "organisations": ExportKind(
        Organisation, ORGANISATIONS.name, tuple(ORGANISATIONS.headers), personal=True
    ),
}


# Every filter of the list pages (the exporter applies them through the same FilterSets).
EXPORT_FILTERS = (
    "region", "q", "status", "registration_type", "gender", "age_band", "elderly", "tag",
    "household", "house", "is_party_member", "use", "kind", "compound", "building",
    "has_gigabit", "has_cable_tv", "has_remote_water_meter", "has_remote_electricity_meter",
    "has_remote_gas_meter", "owner",
)  # fmt: skip


def export_permission(kind: str) -> str:
    return f"registry.export_{EXPORT_KINDS[kind].model._meta.model_name}"


def may_export(user: Any, kind: str) -> bool:
    return kind in EXPORT_KINDS and user.has_perm(export_permission(kind))


def may_unmask(user: Any, kind: str) -> bool:
    return EXPORT_KINDS[kind].personal and user.has_perm("registry.reveal_person")


def _filtered(queryset: Any, kind: str, params: Mapping[str, str]) -> Any:
    """Exactly the list page's filters (the same FilterSet), read from its query string, so an
    export never holds more than the list the user was looking at."""
    from linli.registry.filters import HouseFilter, OrganisationFilter, PersonFilter, VehicleFilter

    filterset_class: Any = {
        "people": PersonFilter,
        "houses": HouseFilter,
        "vehicles": VehicleFilter,
        "organisations": OrganisationFilter,
    }[kind]
    data = QueryDict(mutable=True)
    for key, value in params.items():
        data[key] = value
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        raise ServiceError("export.filters", _("The filters of the export are not valid."))
    return filterset.qs


def export_queryset(actor: Any, kind: str, params: Mapping[str, str]) -> Any:
    if kind not in EXPORT_KINDS:
        raise ServiceError("export.kind", _("Unknown export kind."))
    if not may_export(actor, kind):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )
    model = EXPORT_KINDS[kind].model
    return _filtered(model.objects.visible_to(actor, "export"), kind, params)


def _yes(value: bool) -> str:
    return "是" if value else "否"


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
            person.name if unmasked else mask_name(person.name),
            person.id_number if unmasked else mask_id_number(person.id_number),
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
            home.moved_in.isoformat() if home else "",
            person.get_gender_display() if person.gender else "",
            person.age(today),
        ]


def _house_rows(queryset: Any) -> Iterator[list[Any]]:
    houses = queryset.select_related("region", "unit", "building__compound").order_by("pk")
    for house in houses.iterator(chunk_size=CHUNK):
        building = house.building
        yield [
            house.region.code,
            building.compound.name,
            label_of(COMPOUND_KINDS, building.compound.kind),
            building.number,
            building.floors_above,
            building.floors_below,
            _yes(building.has_elevator),
            house.unit.number,
            house.number,
            house.floor,
            house.area_m2,
            label_of(HOUSE_USES, house.use) if house.use_is_explicit else "",
            _yes(house.has_gigabit),
            _yes(house.has_cable_tv),
            _yes(house.has_remote_water_meter),
            _yes(house.has_remote_electricity_meter),
            _yes(house.has_remote_gas_meter),
            house.address,
            house.address_code,
        ]


def _vehicle_rows(queryset: Any, unmasked: bool) -> Iterator[list[Any]]:
    vehicles = queryset.select_related("region", "compound", "owner").order_by("pk")
    for vehicle in vehicles.iterator(chunk_size=CHUNK):
        owner_id = vehicle.owner.id_number if vehicle.owner else ""
        yield [
            vehicle.plate,
            vehicle.region.code,
            vehicle.compound.name if vehicle.compound else "",
            owner_id if unmasked else mask_id_number(owner_id),
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
            organisation.contact_name,
            organisation.contact_phone if unmasked else mask_phone(organisation.contact_phone),
        ]


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
    rows: Iterator[list[Any]]
    if kind == "people":
        rows = _people_rows(queryset, unmasked)
    elif kind == "houses":
        rows = _house_rows(queryset)
    elif kind == "vehicles":
        rows = _vehicle_rows(queryset, unmasked)
    else:
        rows = _organisation_rows(queryset, unmasked)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    count = write_rows(handle, spec.sheet_name, list(spec.headers), rows)
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
