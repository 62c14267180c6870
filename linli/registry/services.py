"""The rules that keep the register true (人地物组织), as the only way to change it.

Every function takes the acting user first, checks the permission (``registry.<action>_<model>``)
and that every region and record involved lies inside the actor's scope (outside answers
"does not exist", the same as a missing id), validates by the real rules, saves inside one
transaction and writes the audit entry, personal fields masked. A refusal raises a
``ServiceError`` before anything is saved, so nothing is written.

Rules kept here:
- a person has at most one current primary residence: a new primary move-in closes the old one
  (the database refuses a second one too);
- moving out closes the residence; residences are never deleted;
- a house's use follows its current residences (tenant → rented, owner or family →
  owner-occupied, nobody → vacant) unless a worker set it by hand;
- ages, age bands and the 60+ flag are derived at the query date, never stored;
- retiring keeps the row and its history and is refused while live records depend on it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.registry import rules
from linli.registry.choices import (
    AGE_BANDS,
    ELDERLY_AGE,
    HOUSE_USE_COLOURS,
    CompoundKind,
    Education,
    Employment,
    Gender,
    HeadRelation,
    HouseUse,
    OrganisationKind,
    PoliticalStatus,
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
    TagCategory,
    Unit,
    Vehicle,
    years_ago,
)
from linli.utilities.fields import blind_index_for
from linli.utilities.scope import code_in_scope
from linli.utilities.validators import (
    CodeError,
    normalize_mobile,
    parse_credit_code,
    parse_id_number,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
RECORD_LEVELS = (RegionLevel.COMMUNITY, RegionLevel.GRID)
REVEALABLE_FIELDS = ("id_number", "phone")
# Fields the audit leaves out of a record's history: they change on every save or are the key.
_UNAUDITED = {"id", "created_at", "updated_at"}
_LANDLINE_RE = re.compile(r"(?:0\d{2,3}-?)?[2-9]\d{6,7}")
# 京A12345, 鲁A D12345 (new-energy, 6 characters after the letter), 鲁A1234学 ...
_PLATE_RE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领]"
    r"[A-HJ-NP-Z][A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]"
)
_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")

M = TypeVar("M", bound=models.Model)
F = TypeVar("F", bound=Callable[..., Any])


# --- gate helpers -------------------------------------------------------------------------


def _require(actor: Any, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


def _not_found() -> NotFoundError:
    return NotFoundError("not_found", _("The record does not exist."))


def _perm(model: type[models.Model], action: str) -> str:
    return f"registry.{action}_{model._meta.model_name}"


def _visible(
    actor: Any, model: type[M], obj: Any, action: str = "view", *, lock: bool = False
) -> M:
    """The row as the gate lets the actor see it (fresh from the database), or "not found".

    ``lock`` takes the row lock: two people changing one record at once are serialised, and
    the second works on what the first committed.
    """
    pk = getattr(obj, "pk", obj)
    if pk is None:
        raise _not_found()
    queryset = model.objects.visible_to(actor, action)  # type: ignore[attr-defined]
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise _not_found()
    return found  # type: ignore[no-any-return]


def _active(obj: Any) -> None:
    if getattr(obj, "retired_at", None) is not None:
        raise ServiceError(
            "registry.retired",
            _("The %(record)s has been retired.") % {"record": obj._meta.verbose_name},
        )


def _record_region(actor: Any, region: Any, field: str = "region") -> RegionNode:
    """A region a record may hang on: a community or grid, active, inside the actor's scope."""
    if not isinstance(region, RegionNode):
        message = _("Choose a community or a grid.")
        raise ServiceError("registry.region", message, **{field: message})
    if not code_in_scope(region.code, actor.scope_codes()):
        raise NotFoundError("region.not_found", _("The region does not exist."))
    if region.level not in RECORD_LEVELS:
        message = _("Records are placed in a community or one of its grids.")
        raise ServiceError("registry.region_level", message, **{field: message})
    if region.retired_at is not None:
        raise ServiceError("region.retired", _("The region has been retired."))
    return region


def _region_within(region: RegionNode, parent_region: RegionNode, field: str = "region") -> None:
    if not region.code.startswith(parent_region.code):
        message = _("The region must lie inside the region of %(parent)s.") % {
            "parent": parent_region.name
        }
        raise ServiceError("registry.region_outside_parent", message, **{field: message})


# --- value cleaners -------------------------------------------------------------------------


def _field(model: type[models.Model], name: str) -> Any:
    return model._meta.get_field(name)


def _label(model: type[models.Model], field: str) -> str:
    return str(_field(model, field).verbose_name)


def _invalid(model: type[models.Model], field: str, message: str) -> ServiceError:
    error = ServiceError(f"{model._meta.model_name}.{field}", message)
    # Set afterwards: a field named "code" would clash with the constructor's argument.
    error.details = {field: message}
    return error


def _text(model: type[models.Model], field: str, value: Any, *, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    max_length = _field(model, field).max_length or 255
    if required and not text:
        raise _invalid(model, field, _("%(field)s is required.") % {"field": _label(model, field)})
    if len(text) > max_length:
        raise _invalid(
            model,
            field,
            _("%(field)s has at most %(max)s characters.")
            % {"field": _label(model, field), "max": max_length},
        )
    return text


def _choice(
    model: type[models.Model],
    field: str,
    value: Any,
    choices: type[models.TextChoices],
    *,
    blank: bool = False,
) -> str:
    text = "" if value is None else str(value).strip()
    if blank and not text:
        return ""
    if text not in choices.values:
        raise _invalid(
            model,
            field,
            _("%(field)s: choose one of the listed values.") % {"field": _label(model, field)},
        )
    return text


def _int(model: type[models.Model], field: str, value: Any, low: int, high: int) -> int:
    number: int | None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            number = None
    if number is None or not low <= number <= high:
        raise _invalid(
            model,
            field,
            _("%(field)s must be a whole number from %(low)s to %(high)s.")
            % {"field": _label(model, field), "low": low, "high": high},
        )
    return number


def _decimal(
    model: type[models.Model],
    field: str,
    value: Any,
    low: Decimal,
    high: Decimal,
    *,
    required: bool = False,
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _invalid(
                model, field, _("%(field)s is required.") % {"field": _label(model, field)}
            )
        return None
    places = _field(model, field).decimal_places or 0
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite() or not low <= number <= high:
        raise _invalid(
            model,
            field,
            _("%(field)s must be a number from %(low)s to %(high)s.")
            % {"field": _label(model, field), "low": low, "high": high},
        )
    return number.quantize(Decimal(1).scaleb(-places))


def _bool(model: type[models.Model], field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on", "是"}:
        return True
    if text in {"0", "false", "no", "off", "否", ""}:
        return False
    raise _invalid(
        model, field, _("%(field)s must be yes or no.") % {"field": _label(model, field)}
    )


def _date(
    model: type[models.Model], field: str, value: Any, *, required: bool = True
) -> date | None:
    if value is None or value == "":
        if required:
            raise _invalid(
                model, field, _("%(field)s is required.") % {"field": _label(model, field)}
            )
        return None
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise _invalid(
            model,
            field,
            _("%(field)s must be a date such as 2024-05-01.") % {"field": _label(model, field)},
        ) from None


def _not_future(model: type[models.Model], field: str, value: date | None) -> None:
    if value is not None and value > timezone.localdate():
        raise _invalid(
            model,
            field,
            _("%(field)s cannot be in the future.") % {"field": _label(model, field)},
        )


def _mobile(model: type[models.Model], field: str, value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    try:
        return normalize_mobile(text)
    except CodeError as error:
        raise _invalid(model, field, str(error.message)) from None


def _contact_phone(value: Any) -> str:
    """An organisation's contact: a mobile, or a landline (offices often have only one)."""
    text = re.sub(r"[\s()]+", "", "" if value is None else str(value))
    if not text:
        return ""
    if _LANDLINE_RE.fullmatch(text):
        return text
    return _mobile(Organisation, "contact_phone", text)


def _id_number(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    try:
        return parse_id_number(text).number
    except CodeError as error:
        raise _invalid(Person, "id_number", str(error.message)) from None


def _credit_code(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    try:
        return parse_credit_code(text).code
    except CodeError as error:
        raise _invalid(Organisation, "credit_code", str(error.message)) from None


def _plate(value: Any) -> str:
    text = re.sub(r"[\s·•.-]+", "", "" if value is None else str(value)).upper()
    if not _PLATE_RE.fullmatch(text):
        raise _invalid(
            Vehicle,
            "plate",
            _("Enter a plate number such as 鲁A12345 or 鲁AD12345."),
        )
    return text


def _latitude(model: type[models.Model], value: Any) -> Decimal | None:
    return _decimal(model, "latitude", value, Decimal(-90), Decimal(90))


def _longitude(model: type[models.Model], value: Any) -> Decimal | None:
    return _decimal(model, "longitude", value, Decimal(-180), Decimal(180))


# --- audit helpers --------------------------------------------------------------------------


def _audited_fields(obj: models.Model) -> list[str]:
    return [f.attname for f in obj._meta.concrete_fields if f.attname not in _UNAUDITED]


def _record_create(actor: Any, obj: models.Model, **extra: Any) -> None:
    changes: dict[str, Any] = audit.changes_between(
        type(obj), {}, audit.snapshot(obj, _audited_fields(obj))
    )
    changes.update(extra)
    audit.record(AuditAction.CREATE, obj, actor=actor, changes=changes)
    register_changed()


def _save_changes(
    actor: Any, obj: models.Model, before: Mapping[str, Any], *, note: str = ""
) -> dict[str, Any]:
    """Save the fields that changed since ``before`` (a snapshot by attname) and audit them,
    personal fields masked; when nothing changed, nothing is written."""
    changed = [name for name in before if getattr(obj, name) != before[name]]
    if not changed:
        return {}
    update_fields = [obj._meta.get_field(name).name for name in changed]
    # Blind indexes are computed on save: they must be written with their source field.
    update_fields += [
        f.name for f in obj._meta.concrete_fields if getattr(f, "source", "") in update_fields
    ]
    if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
        update_fields.append("updated_at")
    obj.save(update_fields=update_fields)
    changes = audit.changes_between(type(obj), before, audit.snapshot(obj, list(before)))
    audit.record(AuditAction.UPDATE, obj, actor=actor, changes=changes, note=note)
    register_changed()
    return changes


# --- organisations ------------------------------------------------------------------------


def _check_organisation(org: Organisation) -> None:
    if (
        org.credit_code
        and Organisation.objects.filter(credit_code=org.credit_code).exclude(pk=org.pk).exists()
    ):
        raise _invalid(
            Organisation,
            "credit_code",
            _("An organisation with this unified social credit code is already registered."),
        )


@transaction.atomic
def create_organisation(
    actor: Any,
    *,
    region: RegionNode,
    name: str,
    kind: str,
    credit_code: str = "",
    address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
) -> Organisation:
    _require(actor, "registry.add_organisation")
    org = Organisation(
        region=_record_region(actor, region),
        name=_text(Organisation, "name", name, required=True),
        kind=_choice(Organisation, "kind", kind, OrganisationKind),
        credit_code=_credit_code(credit_code),
        address=_text(Organisation, "address", address),
        contact_name=_text(Organisation, "contact_name", contact_name),
        contact_phone=_contact_phone(contact_phone),
    )
    _check_organisation(org)
    org.save()
    _record_create(actor, org)
    return org


# --- places -------------------------------------------------------------------------------


def _property_company(actor: Any, value: Any) -> Organisation | None:
    if value is None or value == "":
        return None
    org = _visible(actor, Organisation, value)
    _active(org)
    if org.kind != OrganisationKind.PROPERTY:
        raise _invalid(
            Compound,
            "property_company",
            _("The property company must be an organisation of the kind property company."),
        )
    return org


def _check_compound(compound: Compound) -> None:
    duplicate = (
        Compound.objects.active()
        .filter(region_id=compound.region_id, name=compound.name)
        .exclude(pk=compound.pk)
    )
    if duplicate.exists():
        raise _invalid(
            Compound, "name", _("A compound with this name already exists in this region.")
        )


@transaction.atomic
def create_compound(
    actor: Any,
    *,
    region: RegionNode,
    name: str,
    kind: str = "closed",
    property_company: Organisation | None = None,
    address: str = "",
    latitude: Any = None,
    longitude: Any = None,
    area_m2: Any = None,
) -> Compound:
    _require(actor, "registry.add_compound")
    compound = Compound(
        region=_record_region(actor, region),
        name=_text(Compound, "name", name, required=True),
        kind=_choice(Compound, "kind", kind, CompoundKind),
        property_company=_property_company(actor, property_company),
        address=_text(Compound, "address", address),
        latitude=_latitude(Compound, latitude),
        longitude=_longitude(Compound, longitude),
        area_m2=_decimal(Compound, "area_m2", area_m2, Decimal(0), Decimal("9999999999")),
    )
    _check_compound(compound)
    compound.save()
    _record_create(actor, compound)
    return compound


def _check_building(building: Building) -> None:
    duplicate = (
        Building.objects.active()
        .filter(compound_id=building.compound_id, number=building.number)
        .exclude(pk=building.pk)
    )
    if duplicate.exists():
        raise _invalid(
            Building, "number", _("A building with this number already exists in the compound.")
        )
    if building.pk is not None:
        outside = (
            House.objects.active()
            .filter(building=building)
            .filter(Q(floor__gt=building.floors_above) | Q(floor__lt=-building.floors_below))
        )
        if outside.exists():
            raise _invalid(
                Building,
                "floors_above",
                _("Some houses of this building lie on floors outside the new number of floors."),
            )


def _unit_number(number: int) -> str:
    return _("%(number)s单元") % {"number": number}


@transaction.atomic
def create_building(
    actor: Any,
    *,
    compound: Compound,
    number: str,
    floors_above: int,
    floors_below: int = 0,
    is_residential: bool = True,
    has_elevator: bool = False,
    units: int = 1,
    latitude: Any = None,
    longitude: Any = None,
) -> Building:
    """A building with units "1单元".."N单元"; it lies in its compound's region."""
    _require(actor, "registry.add_building")
    compound = _visible(actor, Compound, compound)
    _active(compound)
    unit_count = _int(Unit, "number", units, 1, 30)
    building = Building(
        region=compound.region,
        compound=compound,
        number=_text(Building, "number", number, required=True),
        floors_above=_int(Building, "floors_above", floors_above, 1, 150),
        floors_below=_int(Building, "floors_below", floors_below, 0, 20),
        is_residential=_bool(Building, "is_residential", is_residential),
        has_elevator=_bool(Building, "has_elevator", has_elevator),
        latitude=_latitude(Building, latitude),
        longitude=_longitude(Building, longitude),
    )
    _check_building(building)
    building.save()
    _record_create(actor, building)
    created = Unit.objects.bulk_create(
        [
            Unit(region=building.region, building=building, number=_unit_number(n))
            for n in range(1, unit_count + 1)
        ]
    )
    if created and created[0].pk is None:
        # Backends without RETURNING on bulk insert: read the ids back for the audit.
        created = list(Unit.objects.filter(building=building).order_by("id"))
    audit.record_many(
        AuditAction.CREATE,
        [
            (unit, {"number": [None, unit.number], "building": [None, building.pk]})
            for unit in created
        ],
        actor=actor,
    )
    return building


def _check_unit(unit: Unit) -> None:
    duplicate = (
        Unit.objects.active()
        .filter(building_id=unit.building_id, number=unit.number)
        .exclude(pk=unit.pk)
    )
    if duplicate.exists():
        raise _invalid(Unit, "number", _("A unit with this number already exists in the building."))


@transaction.atomic
def create_unit(actor: Any, *, building: Building, number: str) -> Unit:
    _require(actor, "registry.add_unit")
    building = _visible(actor, Building, building)
    _active(building)
    unit = Unit(
        region=building.region,
        building=building,
        number=_text(Unit, "number", number, required=True),
    )
    _check_unit(unit)
    unit.save()
    _record_create(actor, unit)
    return unit


def _community_path(region: RegionNode, cache: dict[int, str] | None = None) -> str:
    """Province to community names, the first part of a standard address; grids are left out
    because the standard address names the community, and grids are redrawn."""
    community = region if region.level == RegionLevel.COMMUNITY else region.parent
    if community is None:
        return region.name
    if cache is not None and community.pk in cache:
        return cache[community.pk]
    path = "".join(node.name for node in community.ancestors()) + community.name
    if cache is not None:
        cache[community.pk] = path
    return path


def house_address(unit: Unit, number: str, cache: dict[int, str] | None = None) -> str:
    """The standard address: region path + compound + building + unit + number + 室."""
    building = unit.building
    return rules.standard_address(
        _community_path(unit.region, cache),
        building.compound.name,
        building.number,
        unit.number,
        number,
    )


def _address_code(region: RegionNode, address: str) -> str:
    """A stable code for the address's QR label: the community code and a digest of the text.
    A retired house may hold the same address; a suffix keeps the new code unique."""
    return rules.address_code(
        region.code, address, lambda code: House.objects.filter(address_code=code).exists()
    )


def _check_house(house: House) -> None:
    duplicate = (
        House.objects.active()
        .filter(unit_id=house.unit_id, number=house.number)
        .exclude(pk=house.pk)
    )
    if duplicate.exists():
        raise _invalid(House, "number", _("A house with this number already exists in the unit."))
    building = house.building
    if house.floor == 0 or not -building.floors_below <= house.floor <= building.floors_above:
        # Floor 0 never exists: ground floor is 1, the first basement -1.
        if building.floors_below:
            message = _("The floor must be from %(low)s to -1 or from 1 to %(high)s.") % {
                "low": -building.floors_below,
                "high": building.floors_above,
            }
        else:
            message = _("The floor must be from 1 to %(high)s.") % {"high": building.floors_above}
        raise _invalid(House, "floor", message)


@transaction.atomic
def create_house(
    actor: Any,
    *,
    unit: Unit,
    number: str,
    floor: int,
    area_m2: Any = None,
    use: str | None = None,
    has_gigabit: bool = False,
    has_cable_tv: bool = False,
    has_remote_water_meter: bool = False,
    has_remote_electricity_meter: bool = False,
    has_remote_gas_meter: bool = False,
) -> House:
    """A house in a unit; a use given here is fixed by hand, otherwise it follows residences."""
    _require(actor, "registry.add_house")
    unit = _visible(actor, Unit, unit)
    _active(unit)
    unit = Unit.objects.select_related("building__compound", "region").get(pk=unit.pk)
    explicit = use is not None and use != ""
    house = House(
        region=unit.region,
        building=unit.building,
        unit=unit,
        number=_text(House, "number", number, required=True),
        floor=_int(House, "floor", floor, -20, 150),
        area_m2=_decimal(House, "area_m2", area_m2, Decimal(0), Decimal("99999")),
        use=_choice(House, "use", use, HouseUse) if explicit else HouseUse.VACANT,
        use_is_explicit=explicit,
        has_gigabit=_bool(House, "has_gigabit", has_gigabit),
        has_cable_tv=_bool(House, "has_cable_tv", has_cable_tv),
        has_remote_water_meter=_bool(House, "has_remote_water_meter", has_remote_water_meter),
        has_remote_electricity_meter=_bool(
            House, "has_remote_electricity_meter", has_remote_electricity_meter
        ),
        has_remote_gas_meter=_bool(House, "has_remote_gas_meter", has_remote_gas_meter),
    )
    _check_house(house)
    house.address = house_address(unit, house.number)
    house.address_code = _address_code(unit.region, house.address)
    house.save()
    _record_create(actor, house)
    return house


def _refresh_addresses(actor: Any, houses: QuerySet[House]) -> int:
    """Rewrite the standard address of houses after a compound, building, unit or house number
    changed; the address code (printed on the QR label) stays."""
    cache: dict[int, str] = {}
    changed: list[tuple[House, dict[str, Any]]] = []
    for house in houses.active().select_related(  # type: ignore[attr-defined]
        "unit__building__compound", "unit__region__parent"
    ):
        address = house_address(house.unit, house.number, cache)
        if address != house.address:
            changed.append((house, {"address": [house.address, address]}))
            house.address = address
    if changed:
        House.objects.bulk_update([house for house, _c in changed], ["address"], batch_size=500)
        audit.record_many(AuditAction.UPDATE, changed, actor=actor, note="standard address")
    return len(changed)


# --- house use ----------------------------------------------------------------------------


def derived_house_use(house: House, on: date | None = None) -> str:
    """What the current residences say: a tenant makes a house rented, an owner or family
    member owner-occupied, other residents "other use", nobody vacant."""
    return rules.use_from_residences(
        Residence.objects.active()
        .current(on)
        .filter(house_id=house.pk)
        .values_list("relation", flat=True)
        .distinct()
    )


def _follow_residences(actor: Any, house: House) -> None:
    """Bring a house's use in line with its residences, unless it was set by hand."""
    if house.use_is_explicit:
        return
    use = derived_house_use(house)
    if use != house.use:
        before = audit.snapshot(house, ["use"])
        house.use = use
        _save_changes(actor, house, before, note="use follows residences")


@transaction.atomic
def set_house_use(actor: Any, house: House, use: str | None) -> House:
    """Fix a house's use by hand (e.g. commercial), or with None let it follow residences."""
    _require(actor, "registry.change_house")
    house = _visible(actor, House, house, "change", lock=True)
    _active(house)
    before = audit.snapshot(house, ["use", "use_is_explicit"])
    if use is None or use == "":
        house.use_is_explicit = False
        house.use = derived_house_use(house)
    else:
        house.use = _choice(House, "use", use, HouseUse)
        house.use_is_explicit = True
    _save_changes(actor, house, before)
    return house


# --- people, households, residences -------------------------------------------------------


def _apply_id_number(person: Person, id_number: str) -> None:
    """Gender and birth date follow the ID number; they are never entered separately."""
    person.id_number = id_number
    if id_number:
        info = parse_id_number(id_number)
        person.gender, person.birth_date = info.gender, info.birth_date
    else:
        person.gender, person.birth_date = "", None


def _check_person(person: Person, actor: Any = None) -> None:
    """One record per ID number in the whole register. The number cannot be registered twice,
    so a refusal necessarily tells that it exists; when the other record lies outside the
    actor's area the refusal says nothing more (not where, not whom) and is audited, so
    probing the register for people elsewhere leaves a trace (see ``_records_refusals``)."""
    if not person.id_number:
        return
    index = blind_index_for(Person, "id_number_index", person.id_number)
    other = (
        Person.objects.filter(id_number_index=index)
        .exclude(pk=person.pk)
        .values_list("pk", "region__code")
        .first()
    )
    if other is None:
        return
    other_pk, other_region = other
    if actor is not None and not Person.objects.visible_to(actor).filter(pk=other_pk).exists():
        message = _(
            "this ID number is already in the register outside your area; to move the person "
            "into your area, ask the county operator (the attempt is recorded)"
        )
        error = ServiceError("person.registered_elsewhere", message, id_number=message)
        error.refusal = {  # type: ignore[attr-defined]
            "action": REGISTERED_ELSEWHERE,
            "actor": actor,
            "object_type": "registry.person",
            "object_id": str(other_pk),
            "region_code": other_region,
            "note": REGISTERED_ELSEWHERE_NOTE,
        }
        raise error
    message = _("A person with this ID number is already registered.")
    raise ServiceError("person.duplicate", message, id_number=message)


# The refusal's audit action; the note says what was refused (never the other record's data).
REGISTERED_ELSEWHERE = AuditAction.REFUSED
REGISTERED_ELSEWHERE_NOTE = "ID number registered outside the actor's area"


def _records_refusals(fn: F) -> F:
    """Audit a refusal that must leave a trace although its transaction rolls back: the
    entry is written after the atomic block of ``fn`` has been left."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ServiceError as error:
            refusal = getattr(error, "refusal", None)
            if refusal is not None:
                audit.record(**refusal)
            raise

    return wrapper  # type: ignore[return-value]


@_records_refusals
@transaction.atomic
def create_person(
    actor: Any,
    *,
    region: RegionNode,
    name: str,
    id_number: str = "",
    phone: str = "",
    registration_type: str = "permanent",
    ethnicity: str = "汉族",
    education: str = "unknown",
    employment: str = "unknown",
    political_status: str = "masses",
    is_party_member: bool = False,
) -> Person:
    """A person; gender and birth date are derived from the ID number (GB 11643)."""
    _require(actor, "registry.add_person")
    person = Person(
        region=_record_region(actor, region),
        name=_text(Person, "name", name, required=True),
        phone=_mobile(Person, "phone", phone),
        registration_type=_choice(Person, "registration_type", registration_type, RegistrationType),
        ethnicity=_text(Person, "ethnicity", ethnicity),
        education=_choice(Person, "education", education, Education),
        employment=_choice(Person, "employment", employment, Employment),
        political_status=_choice(Person, "political_status", political_status, PoliticalStatus),
        is_party_member=_bool(Person, "is_party_member", is_party_member),
    )
    _apply_id_number(person, _id_number(id_number))
    _check_person(person, actor)
    person.save()
    _record_create(actor, person)
    return person


def _check_household(household: Household) -> None:
    duplicate = Household.objects.filter(
        region_id=household.region_id, number=household.number
    ).exclude(pk=household.pk)
    if duplicate.exists():
        raise _invalid(
            Household,
            "number",
            _("A household with this number already exists in this region."),
        )
    if household.house is not None:
        _region_within(household.region, household.house.region)


def _make_head(actor: Any, household: Household, head: Any) -> Person | None:
    """The head belongs to the household; a head already in another household is refused."""
    if head is None or head == "":
        return None
    person = _visible(actor, Person, head, lock=True)
    _active(person)
    if person.household_id not in (None, household.pk):
        raise _invalid(
            Household,
            "head",
            _("This person belongs to another household; move them out of it first."),
        )
    return person


def _join_as_head(actor: Any, household: Household, person: Person | None) -> None:
    if person is None:
        return
    before = audit.snapshot(person, ["household_id", "head_relation"])
    person.household = household
    person.head_relation = HeadRelation.HEAD
    _save_changes(actor, person, before)


@transaction.atomic
def create_household(
    actor: Any,
    *,
    region: RegionNode,
    number: str,
    house: House | None = None,
    head: Person | None = None,
) -> Household:
    _require(actor, "registry.add_household")
    household = Household(
        region=_record_region(actor, region),
        number=_text(Household, "number", number, required=True),
    )
    if house is not None:
        household.house = _visible(actor, House, house)
        _active(household.house)
    _check_household(household)
    head_person = _make_head(actor, household, head)
    household.head = head_person
    household.save()
    _record_create(actor, household)
    _join_as_head(actor, household, head_person)
    return household


def _lock_house(actor: Any, house: Any) -> House:
    house = _visible(actor, House, house, lock=True)
    _active(house)
    return house


def _locked_house(pk: int) -> House:
    """A house whose use a rule updates as a consequence (the one a person left): no gate,
    the actor did not choose it, but the row lock still serialises concurrent moves."""
    return House.objects.select_for_update().get(pk=pk)


@transaction.atomic
def move_in(
    actor: Any,
    *,
    person: Person,
    house: House,
    relation: str,
    moved_in: Any,
    is_primary: bool = True,
    head_relation: str | None = None,
) -> Residence:
    """A person moves into a house. A new primary residence closes the current one on the
    move-in date, and the person's region follows their primary house."""
    _require(actor, "registry.add_residence")
    _require(actor, "registry.change_person")
    # Lock order person → houses, the same in move_out, so concurrent moves never deadlock.
    person = _visible(actor, Person, person, "change", lock=True)
    _active(person)
    house = _lock_house(actor, house)
    relation = _choice(Residence, "relation", relation, ResidenceRelation)
    start = _date(Residence, "moved_in", moved_in)
    assert start is not None
    _not_future(Residence, "moved_in", start)
    primary = _bool(Residence, "is_primary", is_primary)
    head_relation = (
        _choice(Person, "head_relation", head_relation, HeadRelation, blank=True)
        if head_relation is not None
        else None
    )
    open_here = Residence.objects.active().filter(
        person=person, house=house, moved_out__isnull=True
    )
    if open_here.exists():
        raise ServiceError(
            "residence.already", _("The person already lives in this house; move them out first.")
        )
    if primary:
        current = list(
            Residence.objects.select_for_update()
            .active()
            .filter(person=person, is_primary=True, moved_out__isnull=True)
        )
        for old in current:
            if start < old.moved_in:
                message = _(
                    "The move-in date is before the person moved into their current primary "
                    "house (%(date)s)."
                ) % {"date": old.moved_in.isoformat()}
                raise ServiceError("residence.moved_in_before_current", message, moved_in=message)
        for old in current:
            before = audit.snapshot(old, ["moved_out"])
            old.moved_out = start
            _save_changes(actor, old, before, note="closed by a new primary residence")
            _follow_residences(actor, _locked_house(old.house_id))
    residence = Residence.objects.create(
        region=house.region,
        person=person,
        house=house,
        relation=relation,
        is_primary=primary,
        moved_in=start,
    )
    _record_create(actor, residence)
    person_before = audit.snapshot(person, ["region_id", "head_relation", "household_id"])
    if primary:
        person.region = house.region
    if head_relation is not None:
        person.head_relation = head_relation
        households = list(Household.objects.active().filter(house=house)[:2])
        if len(households) == 1:
            person.household = households[0]
    _save_changes(actor, person, person_before)
    _follow_residences(actor, house)
    return residence


@transaction.atomic
def move_out(actor: Any, residence: Residence, moved_out: Any) -> Residence:
    """Moving out closes the residence (kept for history); the house's use follows."""
    _require(actor, "registry.change_residence")
    residence = _visible(actor, Residence, residence, "change", lock=True)
    _active(residence)
    if residence.moved_out is not None:
        raise ServiceError("residence.closed", _("The person has already moved out of this house."))
    end = _date(Residence, "moved_out", moved_out)
    assert end is not None
    _not_future(Residence, "moved_out", end)
    if end < residence.moved_in:
        message = _("The move-out date cannot be before the move-in date.")
        raise ServiceError("residence.moved_out", message, moved_out=message)
    house = _locked_house(residence.house_id)
    before = audit.snapshot(residence, ["moved_out"])
    residence.moved_out = end
    _save_changes(actor, residence, before)
    _follow_residences(actor, house)
    return residence


# --- vehicles and rentals -----------------------------------------------------------------


def _check_vehicle(vehicle: Vehicle) -> None:
    duplicate = Vehicle.objects.active().filter(plate=vehicle.plate).exclude(pk=vehicle.pk)
    if duplicate.exists():
        raise _invalid(
            Vehicle, "plate", _("A vehicle with this plate number is already registered.")
        )
    if vehicle.compound is not None:
        _region_within(vehicle.region, vehicle.compound.region)


def _optional_visible(actor: Any, model: type[M], value: Any) -> M | None:
    if value is None or value == "":
        return None
    obj = _visible(actor, model, value)
    _active(obj)
    return obj


@transaction.atomic
def create_vehicle(
    actor: Any,
    *,
    region: RegionNode,
    plate: str,
    owner: Person | None = None,
    compound: Compound | None = None,
    description: str = "",
) -> Vehicle:
    _require(actor, "registry.add_vehicle")
    vehicle = Vehicle(
        region=_record_region(actor, region),
        plate=_plate(plate),
        owner=_optional_visible(actor, Person, owner),
        compound=_optional_visible(actor, Compound, compound),
        description=_text(Vehicle, "description", description),
    )
    _check_vehicle(vehicle)
    vehicle.save()
    _record_create(actor, vehicle)
    return vehicle


def _tenants(actor: Any, tenants: Iterable[Any]) -> list[Person]:
    ids = list(dict.fromkeys(getattr(t, "pk", t) for t in tenants))
    if not ids:
        message = _("Name at least one tenant.")
        raise ServiceError("rental.tenants", message, tenants=message)
    people = list(Person.objects.visible_to(actor).filter(pk__in=ids))
    if len(people) != len(ids):
        raise _not_found()
    for person in people:
        _active(person)
    return people


def _ids_text(ids: Iterable[int]) -> str:
    """Ids of linked records as one value of the audit trail ("3,5")."""
    return ",".join(str(pk) for pk in sorted(ids))


def _check_rental(rental: Rental) -> None:
    if rental.end is not None and rental.end < rental.start:
        message = _("The end of the rental cannot be before its start.")
        raise ServiceError("rental.end", message, end=message)


@transaction.atomic
def create_rental(
    actor: Any,
    *,
    house: House,
    tenants: Iterable[Person],
    mode: str,
    channel: str,
    monthly_rent: Any,
    start: Any,
    end: Any = None,
) -> Rental:
    _require(actor, "registry.add_rental")
    house = _visible(actor, House, house)
    _active(house)
    people = _tenants(actor, tenants)
    rental = Rental(
        region=house.region,
        house=house,
        mode=_choice(Rental, "mode", mode, RentalMode),
        channel=_choice(Rental, "channel", channel, RentalChannel),
        monthly_rent=_decimal(  # type: ignore[misc]
            Rental, "monthly_rent", monthly_rent, Decimal(0), Decimal("99999999"), required=True
        ),
        start=_date(Rental, "start", start),  # type: ignore[misc]
        end=_date(Rental, "end", end, required=False),
    )
    _check_rental(rental)
    rental.save()
    rental.tenants.set(people)
    _record_create(actor, rental, tenants=[None, _ids_text(p.pk for p in people)])
    return rental


# --- editing and retiring -----------------------------------------------------------------

Cleaner = Callable[[Any, Any, Any], Any]  # (actor, record, value) -> value to set


def _c(fn: Callable[[Any], Any]) -> Cleaner:
    return lambda actor, obj, value: fn(value)


def _text_cleaner(model: type[models.Model], field: str, *, required: bool = False) -> Cleaner:
    return _c(lambda v: _text(model, field, v, required=required))


def _choice_cleaner(
    model: type[models.Model], field: str, choices: type[models.TextChoices], blank: bool = False
) -> Cleaner:
    return _c(lambda v: _choice(model, field, v, choices, blank=blank))


def _bool_cleaner(model: type[models.Model], field: str) -> Cleaner:
    return _c(lambda v: _bool(model, field, v))


def _person_region(actor: Any, person: Person, value: Any) -> RegionNode:
    region = _record_region(actor, value)
    if region.pk != person.region_id and (
        Residence.objects.active()
        .filter(person=person, is_primary=True, moved_out__isnull=True)
        .exists()
    ):
        message = _("The person's region follows their primary house; record a move instead.")
        raise ServiceError("person.region_follows_house", message, region=message)
    return region


def _building_floors(field: str, low: int, high: int) -> Cleaner:
    return _c(lambda v: _int(Building, field, v, low, high))


# Editable fields per model. Places keep the region of their parent, so it is not editable
# there; a person's region follows their primary house.
EDITABLE: dict[type[models.Model], dict[str, Cleaner]] = {
    Organisation: {
        "region": lambda actor, obj, v: _record_region(actor, v),
        "name": _text_cleaner(Organisation, "name", required=True),
        "kind": _choice_cleaner(Organisation, "kind", OrganisationKind),
        "credit_code": _c(_credit_code),
        "address": _text_cleaner(Organisation, "address"),
        "contact_name": _text_cleaner(Organisation, "contact_name"),
        "contact_phone": _c(_contact_phone),
    },
    Compound: {
        "name": _text_cleaner(Compound, "name", required=True),
        "kind": _choice_cleaner(Compound, "kind", CompoundKind),
        "property_company": lambda actor, obj, v: _property_company(actor, v),
        "address": _text_cleaner(Compound, "address"),
        "latitude": _c(lambda v: _latitude(Compound, v)),
        "longitude": _c(lambda v: _longitude(Compound, v)),
        "area_m2": _c(
            lambda v: _decimal(Compound, "area_m2", v, Decimal(0), Decimal("9999999999"))
        ),
    },
    Building: {
        "number": _text_cleaner(Building, "number", required=True),
        "floors_above": _building_floors("floors_above", 1, 150),
        "floors_below": _building_floors("floors_below", 0, 20),
        "is_residential": _bool_cleaner(Building, "is_residential"),
        "has_elevator": _bool_cleaner(Building, "has_elevator"),
        "latitude": _c(lambda v: _latitude(Building, v)),
        "longitude": _c(lambda v: _longitude(Building, v)),
    },
    Unit: {"number": _text_cleaner(Unit, "number", required=True)},
    House: {
        "number": _text_cleaner(House, "number", required=True),
        "floor": _c(lambda v: _int(House, "floor", v, -20, 150)),
        "area_m2": _c(lambda v: _decimal(House, "area_m2", v, Decimal(0), Decimal("99999"))),
        "has_gigabit": _bool_cleaner(House, "has_gigabit"),
        "has_cable_tv": _bool_cleaner(House, "has_cable_tv"),
        "has_remote_water_meter": _bool_cleaner(House, "has_remote_water_meter"),
        "has_remote_electricity_meter": _bool_cleaner(House, "has_remote_electricity_meter"),
        "has_remote_gas_meter": _bool_cleaner(House, "has_remote_gas_meter"),
    },
    Household: {
        "region": lambda actor, obj, v: _record_region(actor, v),
        "number": _text_cleaner(Household, "number", required=True),
        "house": lambda actor, obj, v: _optional_visible(actor, House, v),
        "head": lambda actor, obj, v: _make_head(actor, obj, v),
    },
    Person: {
        "region": _person_region,
        "name": _text_cleaner(Person, "name", required=True),
        "id_number": _c(_id_number),
        "phone": _c(lambda v: _mobile(Person, "phone", v)),
        "registration_type": _choice_cleaner(Person, "registration_type", RegistrationType),
        "ethnicity": _text_cleaner(Person, "ethnicity"),
        "education": _choice_cleaner(Person, "education", Education),
        "employment": _choice_cleaner(Person, "employment", Employment),
        "political_status": _choice_cleaner(Person, "political_status", PoliticalStatus),
        "is_party_member": _bool_cleaner(Person, "is_party_member"),
        "household": lambda actor, obj, v: _optional_visible(actor, Household, v),
        "head_relation": _choice_cleaner(Person, "head_relation", HeadRelation, blank=True),
    },
    Residence: {
        "relation": _choice_cleaner(Residence, "relation", ResidenceRelation),
        "moved_in": _c(lambda v: _date(Residence, "moved_in", v)),
    },
    Vehicle: {
        "region": lambda actor, obj, v: _record_region(actor, v),
        "plate": _c(_plate),
        "owner": lambda actor, obj, v: _optional_visible(actor, Person, v),
        "compound": lambda actor, obj, v: _optional_visible(actor, Compound, v),
        "description": _text_cleaner(Vehicle, "description"),
    },
    Rental: {
        "mode": _choice_cleaner(Rental, "mode", RentalMode),
        "channel": _choice_cleaner(Rental, "channel", RentalChannel),
        "monthly_rent": _c(
            lambda v: _decimal(
                Rental, "monthly_rent", v, Decimal(0), Decimal("99999999"), required=True
            )
        ),
        "start": _c(lambda v: _date(Rental, "start", v)),
        "end": _c(lambda v: _date(Rental, "end", v, required=False)),
        "tenants": lambda actor, obj, v: _tenants(actor, v),
    },
}

_CHECKS: dict[type[models.Model], Callable[[Any], None]] = {
    Organisation: _check_organisation,
    Compound: _check_compound,
    Building: _check_building,
    Unit: _check_unit,
    House: _check_house,
    Household: _check_household,
    Person: _check_person,
    Vehicle: _check_vehicle,
    Rental: _check_rental,
}


def _model_of(obj: Any) -> type[models.Model]:
    model = type(obj)
    if model not in EDITABLE:
        raise ServiceError("registry.model", _("This kind of record cannot be edited here."))
    return model


def _check_residence_dates(residence: Residence) -> None:
    assert residence.moved_in is not None
    _not_future(Residence, "moved_in", residence.moved_in)
    if residence.moved_out is not None and residence.moved_out < residence.moved_in:
        message = _("The move-out date cannot be before the move-in date.")
        raise ServiceError("residence.moved_in", message, moved_in=message)


@_records_refusals
@transaction.atomic
def update_record(actor: Any, obj: M, **fields: Any) -> M:
    """Edit the whitelisted fields of a record; values are re-validated, derived fields
    (gender and birth date, standard addresses, house use) follow, the changes are audited."""
    model = _model_of(obj)
    _require(actor, _perm(model, "change"))
    editable = EDITABLE[model]
    unknown = sorted(set(fields) - set(editable) - ({"use"} if model is House else set()))
    if unknown:
        raise ServiceError(
            "registry.field",
            _("These fields cannot be edited: %(fields)s") % {"fields": ", ".join(unknown)},
        )
    record: Any = _visible(actor, model, obj, "change", lock=True)
    _active(record)
    use = fields.pop("use", "__unchanged__")
    tenants_before: list[int] | None = None
    new_tenants: list[Person] = []
    attnames = {name: record._meta.get_field(name).attname for name in fields if name != "tenants"}
    before = audit.snapshot(record, list(attnames.values()))
    if model is Person and "id_number" in fields:
        before.update(audit.snapshot(record, ["gender", "birth_date"]))
    for name, value in fields.items():
        cleaned = editable[name](actor, record, value)
        if name == "tenants":
            tenants_before = sorted(record.tenants.values_list("pk", flat=True))
            new_tenants = cleaned
        elif model is Person and name == "id_number":
            _apply_id_number(record, cleaned)
        else:
            setattr(record, name, cleaned)
    if model is Person:
        _check_person(record, actor)
    elif (check := _CHECKS.get(model)) is not None:
        check(record)
    if model is Residence:
        _check_residence_dates(record)
    changes = _save_changes(actor, record, before)
    if tenants_before is not None:
        tenants_after = sorted(p.pk for p in new_tenants)
        if tenants_after != tenants_before:
            record.tenants.set(new_tenants)
            audit.record(
                AuditAction.UPDATE,
                record,
                actor=actor,
                changes={"tenants": [_ids_text(tenants_before), _ids_text(tenants_after)]},
            )
    _after_update(actor, record, changes)
    if model is House and use != "__unchanged__":
        record = set_house_use(actor, record, use)
    return record  # type: ignore[no-any-return]


def _after_update(actor: Any, record: Any, changes: Mapping[str, Any]) -> None:
    """What follows from an edit: addresses after a renaming, use after a relation changed."""
    if not changes:
        return
    if isinstance(record, Compound) and "name" in changes:
        _refresh_addresses(actor, House.objects.filter(building__compound=record))
    elif isinstance(record, Building) and "number" in changes:
        _refresh_addresses(actor, House.objects.filter(building=record))
    elif isinstance(record, Unit) and "number" in changes:
        _refresh_addresses(actor, House.objects.filter(unit=record))
    elif isinstance(record, House) and "number" in changes:
        _refresh_addresses(actor, House.objects.filter(pk=record.pk))
    elif isinstance(record, Residence) and {"relation", "moved_in"} & set(changes):
        _follow_residences(actor, _locked_house(record.house_id))
    elif isinstance(record, Household) and "head_id" in changes and record.head_id:
        _join_as_head(actor, record, record.head)


def _retire_blocker(record: Any) -> str | None:
    """Why retiring this record would break the register, or None."""
    today = timezone.localdate()
    if isinstance(record, Organisation):
        if record.managed_compounds.active().exists():
            return _("It is the property company of active compounds; assign them another first.")
    elif isinstance(record, Compound):
        if record.buildings.active().exists():
            return _("It still has active buildings; retire them first.")
        if record.vehicles.active().exists():
            return _("Vehicles are still registered to it; move or retire them first.")
    elif isinstance(record, Building | Unit):
        if record.houses.active().exists():
            return _("It still has active houses; retire them first.")
    elif isinstance(record, House):
        if record.residences.active().filter(moved_out__isnull=True).exists():
            return _("People still live in this house; move them out first.")
        if record.households.active().exists():
            return _("Households are still registered at this house; retire or move them first.")
        if record.rentals.active().filter(Q(end__isnull=True) | Q(end__gte=today)).exists():
            return _("A rental of this house is still running; end it first.")
    elif isinstance(record, Household):
        if record.members.active().exists():
            return _("The household still has members; move them to another household first.")
    elif isinstance(record, Person):
        if record.residences.active().filter(moved_out__isnull=True).exists():
            return _("The person still lives in a house; move them out first.")
        if Household.objects.active().filter(head=record).exists():
            return _("The person heads an active household; name another head first.")
    return None


@transaction.atomic
def retire_record(actor: Any, obj: M) -> M:
    """Retire a record: the row, its references and its history stay; it takes no new links.
    Refused while live records depend on it (residents in a house, buildings in a compound)."""
    model = _model_of(obj)
    _require(actor, _perm(model, "retire"))
    record: Any = _visible(actor, model, obj, "retire", lock=True)
    if record.retired_at is not None:
        return record  # type: ignore[no-any-return]
    blocker = _retire_blocker(record)
    if blocker is not None:
        raise ServiceError(
            f"{model._meta.model_name}.retire_refused",
            _("This %(record)s cannot be retired: %(reason)s")
            % {"record": model._meta.verbose_name, "reason": blocker},
        )
    now = timezone.now()
    record.retired_at = now
    record.save(update_fields=["retired_at", "updated_at"])
    audit.record(AuditAction.RETIRE, record, actor=actor)
    register_changed()
    if isinstance(record, Building):
        units = list(record.units.active().select_for_update())
        if units:
            Unit.objects.filter(pk__in=[u.pk for u in units]).update(retired_at=now)
            audit.record_many(AuditAction.RETIRE, [(u, None) for u in units], actor=actor)
    if isinstance(record, Residence):
        _follow_residences(actor, _locked_house(record.house_id))
    return record  # type: ignore[no-any-return]


# --- tags ---------------------------------------------------------------------------------


def _tag_changes(tag: Tag, added: bool) -> dict[str, Any]:
    return {"tags": ["", tag.code] if added else [tag.code, ""]}


def _usable_tag(tag: Any) -> Tag:
    found = Tag.objects.filter(pk=getattr(tag, "pk", tag)).select_related("category").first()
    if found is None:
        raise _not_found()
    if not found.is_active or not found.category.is_active:
        raise ServiceError("tag.inactive", _("This tag is no longer in use."))
    return found


@transaction.atomic
def tag_person(actor: Any, person: Person, tag: Tag, note: str = "") -> PersonTag:
    """Tag a person (who and when are recorded); tagging twice keeps the first tag."""
    _require(actor, "registry.tag_person")
    person = _visible(actor, Person, person, lock=True)
    _active(person)
    tag = _usable_tag(tag)
    note = _text(PersonTag, "note", note)
    existing = PersonTag.objects.current().filter(person=person, tag=tag).first()
    if existing is not None:
        return existing
    link = PersonTag.objects.create(person=person, tag=tag, note=note, tagged_by=actor)
    audit.record(AuditAction.UPDATE, person, actor=actor, changes=_tag_changes(tag, True))
    return link


@transaction.atomic
def untag_person(actor: Any, person: Person, tag: Tag) -> None:
    """Remove a tag; the link stays with who removed it and when, for history."""
    _require(actor, "registry.tag_person")
    person = _visible(actor, Person, person, lock=True)
    tag_obj = Tag.objects.filter(pk=getattr(tag, "pk", tag)).first()
    if tag_obj is None:
        raise _not_found()
    updated = (
        PersonTag.objects.current()
        .filter(person=person, tag=tag_obj)
        .update(removed_at=timezone.now(), removed_by=actor)
    )
    if updated:
        audit.record(AuditAction.UPDATE, person, actor=actor, changes=_tag_changes(tag_obj, False))


@transaction.atomic
def bulk_tag(actor: Any, people: Iterable[Any], tag: Tag) -> int:
    """Tag many people at once, all or nothing: one person outside the scope refuses the lot.
    Returns how many were newly tagged; each gets its own audit entry."""
    _require(actor, "registry.tag_person")
    tag = _usable_tag(tag)
    ids = list(dict.fromkeys(getattr(p, "pk", p) for p in people))
    found = list(Person.objects.visible_to(actor).filter(pk__in=ids).select_related("region"))
    if len(found) != len(ids):
        raise _not_found()
    if any(person.retired_at is not None for person in found):
        raise ServiceError(
            "registry.retired",
            _("The %(record)s has been retired.") % {"record": Person._meta.verbose_name},
        )
    already = set(
        PersonTag.objects.current()
        .filter(tag=tag, person_id__in=ids)
        .values_list("person_id", flat=True)
    )
    new = [person for person in found if person.pk not in already]
    now = timezone.now()
    PersonTag.objects.bulk_create(
        [PersonTag(person=p, tag=tag, tagged_by=actor, tagged_at=now) for p in new],
        batch_size=1000,
    )
    audit.record_many(
        AuditAction.UPDATE,
        [(person, _tag_changes(tag, True)) for person in new],
        actor=actor,
        note="bulk tagging",
    )
    return len(new)


def _slug(model: type[models.Model], value: Any) -> str:
    code = "" if value is None else str(value).strip()
    if not _SLUG_RE.fullmatch(code):
        raise _invalid(
            model,
            "code",
            _("The code has 1 to 40 lower-case letters, digits, hyphens or underscores."),
        )
    return code


@transaction.atomic
def create_tag_category(actor: Any, *, code: str, name: str, order: int = 0) -> TagCategory:
    _require(actor, "registry.change_tag")
    category = TagCategory(
        code=_slug(TagCategory, code),
        name=_text(TagCategory, "name", name, required=True),
        order=_int(TagCategory, "order", order, 0, 32767),
    )
    if TagCategory.objects.filter(code=category.code).exists():
        raise _invalid(TagCategory, "code", _("This code is already in use."))
    category.save()
    _record_create(actor, category)
    return category


@transaction.atomic
def create_tag(actor: Any, *, category: TagCategory, code: str, name: str, order: int = 0) -> Tag:
    _require(actor, "registry.change_tag")
    tag = Tag(
        category=_tag_category(category),
        code=_slug(Tag, code),
        name=_text(Tag, "name", name, required=True),
        order=_int(Tag, "order", order, 0, 32767),
    )
    if Tag.objects.filter(code=tag.code).exists():
        raise _invalid(Tag, "code", _("This code is already in use."))
    tag.save()
    _record_create(actor, tag)
    return tag


def _tag_category(value: Any) -> TagCategory:
    category = TagCategory.objects.filter(pk=getattr(value, "pk", value)).first()
    if category is None:
        raise _not_found()
    return category


@transaction.atomic
def update_tag(actor: Any, tag: Tag, **fields: Any) -> Tag:
    """Rename, reorder, recategorise or switch off a tag; its code stays (imports use it)."""
    _require(actor, "registry.change_tag")
    cleaners: dict[str, Callable[[Any], Any]] = {
        "name": lambda v: _text(Tag, "name", v, required=True),
        "order": lambda v: _int(Tag, "order", v, 0, 32767),
        "is_active": lambda v: _bool(Tag, "is_active", v),
        "category": _tag_category,
    }
    unknown = sorted(set(fields) - set(cleaners))
    if unknown:
        raise ServiceError(
            "registry.field",
            _("These fields cannot be edited: %(fields)s") % {"fields": ", ".join(unknown)},
        )
    locked = Tag.objects.select_for_update().filter(pk=tag.pk).first()
    if locked is None:
        raise _not_found()
    before = audit.snapshot(locked, [_field(Tag, n).attname for n in fields])
    for name, value in fields.items():
        setattr(locked, name, cleaners[name](value))
    _save_changes(actor, locked, before)
    return locked


@transaction.atomic
def sync_default_tags(path: Path | None = None) -> int:
    """Create the shipped taxonomy (SPEC §3's care tags) where its codes are missing; names
    an administrator changed are left alone. Returns how many categories and tags were made."""
    data = json.loads((path or DATA_DIR / "default_tags.json").read_text(encoding="utf-8"))
    categories = {c.code: c for c in TagCategory.objects.all()}
    existing_tags = set(Tag.objects.values_list("code", flat=True))
    created: list[tuple[models.Model, dict[str, Any]]] = []
    for order, item in enumerate(data["categories"], start=1):
        category = categories.get(item["code"])
        if category is None:
            category = TagCategory.objects.create(
                code=item["code"], name=item["name"], order=order * 10
            )
            categories[category.code] = category
            created.append((category, {"code": [None, category.code]}))
        for tag_order, tag_item in enumerate(item["tags"], start=1):
            if tag_item["code"] in existing_tags:
                continue
            tag = Tag.objects.create(
                category=category, code=tag_item["code"], name=tag_item["name"], order=tag_order
            )
            existing_tags.add(tag.code)
            created.append((tag, {"code": [None, tag.code]}))
    audit.record_many(AuditAction.CREATE, created, note="default tags")
    return len(created)


# --- search and reveal --------------------------------------------------------------------


def find_person_by_id_number(actor: Any, id_number: str) -> Person | None:
    """Exact search through the blind index; only people inside the actor's scope."""
    number = _id_number(id_number)
    if not number:
        return None
    index = blind_index_for(Person, "id_number_index", number)
    return Person.objects.visible_to(actor).filter(id_number_index=index).first()


def find_people_by_phone(actor: Any, phone: str) -> QuerySet[Person]:
    """Exact search through the blind index; a phone may be shared within a family."""
    number = _mobile(Person, "phone", phone)
    if not number:
        return Person.objects.none()
    index = blind_index_for(Person, "phone_index", number)
    return Person.objects.visible_to(actor).filter(phone_index=index)


@transaction.atomic
def reveal_person_field(actor: Any, person: Person, field: str) -> str:
    """A personal field in plain text, for an actor allowed to reveal; every reveal is audited."""
    if field not in REVEALABLE_FIELDS:
        raise ServiceError("person.reveal_field", _("This field cannot be revealed."))
    _require(actor, "registry.reveal_person")
    found = _visible(actor, Person, person)
    audit.record(AuditAction.REVEAL, found, actor=actor, note=field)
    return str(getattr(found, field) or "")


# --- overview and floor plan --------------------------------------------------------------


def _band_q(low: int, high: int | None, on: date) -> Q:
    q = Q(birth_date__lte=years_ago(on, low))
    if high is not None:
        q &= Q(birth_date__gt=years_ago(on, high + 1))
    return q


OVERVIEW_GENERATION_KEY = "registry:overview:generation"
_OVERVIEW_MODELS = (Person, House, Compound, Building, Household)
# Levels whose overview is cached: they aggregate many communities (a county of 1,000,000
# people takes about a second); a community's or a grid's overview is counted live.
_CACHED_OVERVIEW_LEVELS = {
    RegionLevel.PROVINCE,
    RegionLevel.CITY,
    RegionLevel.COUNTY,
    RegionLevel.SUBDISTRICT,
}


def register_changed() -> None:
    """Overview counts cached before this change are stale: move the generation that their
    cache keys carry, now and again once the change is committed (a concurrent reader may
    have cached the old counts in between). Bulk writers (imports, the synthetic county)
    call this once when they finish."""
    _bump_overview_generation()
    transaction.on_commit(_bump_overview_generation)


def _bump_overview_generation() -> None:
    try:
        cache.incr(OVERVIEW_GENERATION_KEY)
    except ValueError:  # not set yet, or evicted
        cache.set(OVERVIEW_GENERATION_KEY, 1, None)


def community_overview(actor: Any, region: RegionNode, on: date | None = None) -> dict[str, Any]:
    """Counts for a region's overview page (see ``_count_overview``). Above the community
    level they are cached for ``LINLI_OVERVIEW_CACHE_SECONDS`` per region, date and what the
    actor's role may see; any change through the services invalidates them at once, and
    ``computed_at`` says when they were counted."""
    if not isinstance(region, RegionNode) or not code_in_scope(region.code, actor.scope_codes()):
        raise NotFoundError("region.not_found", _("The region does not exist."))
    on = on or timezone.localdate()
    seconds = settings.LINLI_OVERVIEW_CACHE_SECONDS
    if region.level not in _CACHED_OVERVIEW_LEVELS or seconds <= 0:
        return _count_overview(actor, region, on)
    # Inside the actor's scope the gate shows every row of the region or, without the
    # view permission, none: the permissions are all that tells two viewers apart.
    sees = "".join(
        "1" if actor.has_perm(f"registry.view_{model._meta.model_name}") else "0"
        for model in _OVERVIEW_MODELS
    )
    generation = cache.get(OVERVIEW_GENERATION_KEY, 0)
    key = f"registry:overview:{region.code}:{on.isoformat()}:{sees}:{generation}"
    data = cache.get(key)
    if data is None:
        data = _count_overview(actor, region, on)
        cache.set(key, {**data, "region": None}, seconds)
    return {**data, "region": region}


def _count_overview(actor: Any, region: RegionNode, on: date) -> dict[str, Any]:
    """People by registration type, age band (at ``on``) and gender, 60+ and its share (the
    standard's elderly-services indicator), houses by use, and record counts, through the
    gate, in five aggregate queries."""
    computed_at = timezone.now()
    codes = [region.code]
    aggregates: dict[str, Any] = {"total": Count("id")}
    for value in RegistrationType.values:
        aggregates[f"reg_{value}"] = Count("id", filter=Q(registration_type=value))
    for value in Gender.values:
        aggregates[f"gender_{value}"] = Count("id", filter=Q(gender=value))
    for index, (_band, low, high) in enumerate(AGE_BANDS):
        aggregates[f"band_{index}"] = Count("id", filter=_band_q(low, high, on))
    aggregates["elderly"] = Count("id", filter=_band_q(ELDERLY_AGE, None, on))
    aggregates["no_birth_date"] = Count("id", filter=Q(birth_date__isnull=True))
    people = Person.objects.visible_to(actor).active().within(codes).aggregate(**aggregates)
    uses = dict(
        House.objects.visible_to(actor)
        .active()
        .within(codes)
        .values("use")
        .annotate(n=Count("id"))
        .values_list("use", "n")
    )

    def count(model: type[models.Model]) -> int:
        return int(model.objects.visible_to(actor).active().within(codes).count())  # type: ignore[attr-defined]

    total = people["total"]
    return {
        "region": region,
        "on": on,
        "computed_at": computed_at,
        "people": total,
        "compounds": count(Compound),
        "buildings": count(Building),
        "houses": sum(uses.values()),
        "households": count(Household),
        "elderly": people["elderly"],
        "elderly_share": round(people["elderly"] / total, 4) if total else 0.0,
        "by_registration_type": [
            {"value": value, "label": str(label), "count": people[f"reg_{value}"]}
            for value, label in RegistrationType.choices
        ],
        "by_gender": [
            {"value": value, "label": str(label), "count": people[f"gender_{value}"]}
            for value, label in Gender.choices
        ],
        "by_age_band": [
            {"label": label, "low": low, "high": high, "count": people[f"band_{index}"]}
            for index, (label, low, high) in enumerate(AGE_BANDS)
        ],
        "unknown_age": people["no_birth_date"],
        "houses_by_use": [
            {
                "value": value,
                "label": str(label),
                "colour": HOUSE_USE_COLOURS[HouseUse(value)],
                "count": uses.get(value, 0),
            }
            for value, label in HouseUse.choices
        ],
    }


def floor_plan(actor: Any, building: Building, on: date | None = None) -> dict[str, Any]:
    """The 楼盘表: for each unit, floors from top to bottom, each cell the houses on that floor
    with their use and number of current occupants. Three queries whatever the size."""
    found = (
        Building.objects.visible_to(actor)
        .select_related("compound")
        .filter(pk=getattr(building, "pk", building))
        .first()
    )
    if found is None:
        raise _not_found()
    on = on or timezone.localdate()
    units = list(found.units.active().order_by("number", "id"))
    current = Q(residences__retired_at__isnull=True, residences__moved_in__lte=on) & (
        Q(residences__moved_out__isnull=True) | Q(residences__moved_out__gt=on)
    )
    houses = list(
        House.objects.visible_to(actor)
        .active()
        .filter(building=found)
        .annotate(occupants=Count("residences", filter=current))
        .order_by("unit_id", "-floor", "number", "id")
        .values("id", "unit_id", "number", "floor", "use", "area_m2", "occupants")
    )
    floors_present = {h["floor"] for h in houses}
    top = max([found.floors_above, *floors_present]) if floors_present else found.floors_above
    bottom = min([-found.floors_below, *floors_present]) if floors_present else -found.floors_below
    floors = [f for f in range(top, bottom - 1, -1) if f != 0]
    by_cell: dict[tuple[int, int], list[dict[str, Any]]] = {}
    uses: dict[str, int] = {}
    labels = dict(HouseUse.choices)
    for house in houses:
        by_cell.setdefault((house["unit_id"], house["floor"]), []).append(
            {
                "id": house["id"],
                "number": house["number"],
                "use": house["use"],
                "use_label": str(labels.get(house["use"], house["use"])),
                "colour": HOUSE_USE_COLOURS.get(house["use"], "#9ca3af"),
                "occupants": house["occupants"],
                "area_m2": house["area_m2"],
            }
        )
        uses[house["use"]] = uses.get(house["use"], 0) + 1
    return {
        "building": found,
        "on": on,
        "floors": floors,
        "units": [
            {
                "id": unit.pk,
                "number": unit.number,
                "unit": unit,
                "floors": [
                    {"floor": floor, "houses": by_cell.get((unit.pk, floor), [])}
                    for floor in floors
                ],
            }
            for unit in units
        ],
        "houses": len(houses),
        "occupants": sum(h["occupants"] for h in houses),
        "uses": [
            {
                "value": value,
                "label": str(label),
                "colour": HOUSE_USE_COLOURS[HouseUse(value)],
                "count": uses.get(value, 0),
            }
            for value, label in HouseUse.choices
        ],
    }
