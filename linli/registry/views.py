"""Register pages (人地物组织): lists with filters, detail pages with the people–house links,
create / edit / retire forms, exact search, reveal, tags, the floor plan and the overview.

Every view reads through the gate (``Model.objects.visible_to(user, action)``): a record outside
the user's scope answers 404, the same as one that does not exist. Lacking the permission at
all answers 403. Changes go through ``linli.registry.services``; personal data is masked on
every page (even names in lists) and only a holder of ``registry.reveal_person`` may reveal one
field, which is audited.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.accounts.forms import region_pick_list
from linli.core.errors import NotFoundError, ServiceError
from linli.regions.models import RegionNode
from linli.registry import filters as f
from linli.registry import forms as rf
from linli.registry import services
from linli.registry.choices import HOUSE_USE_COLOURS, Gender, HouseUse, RegistrationType
from linli.registry.history import record_history
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
)
from linli.utilities.masking import mask_id_number, mask_name, mask_phone
from linli.utilities.paging import CappedPaginator
from linli.utilities.qr import qr_svg

PAGE_SIZE = 50
ID_NUMBER_RE = re.compile(r"^\d{17}[\dXx]$|^\d{15}$")
MOBILE_RE = re.compile(r"^(\+?86)?1\d{10}$")


# ---------------------------------------------------------------- the gate


def _perm(model: type[models.Model], action: str) -> str:
    return f"registry.{action}_{model._meta.model_name}"


def _require(request: HttpRequest, perm: str) -> None:
    """No permission for the action at all → 403; scope is the gate's job (→ 404)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _visible(request: HttpRequest, model: type[models.Model], action: str = "view") -> Any:
    return model._default_manager.visible_to(request.user, action)  # type: ignore[attr-defined]


def _get(
    request: HttpRequest, model: type[models.Model], pk: int, action: str = "view", *related: str
) -> Any:
    _require(request, _perm(model, action))
    rows = _visible(request, model, action)
    if related:
        rows = rows.select_related(*related)
    return get_object_or_404(rows, pk=pk)


def _service_error(request: HttpRequest, form: Any, exc: ServiceError) -> None:
    if isinstance(exc, NotFoundError):
        raise Http404(str(exc.message)) from exc
    if form is not None:
        # A service names the field it refused (e.g. the ID number): show it there.
        fields = [name for name in (exc.details or {}) if name in form.fields]
        form.add_error(fields[0] if fields else None, str(exc.message))
    else:
        messages.error(request, str(exc.message))


def _may(request: HttpRequest, model: type[models.Model], action: str) -> bool:
    return bool(request.user.has_perm(_perm(model, action)))


# ---------------------------------------------------------------- what each kind shows


def _link(text: Any, url: str | None) -> dict[str, Any]:
    return {"text": text, "url": url}


class Sight:
    """Which of the records linked from a page the viewer may see through the gate
    (``Model.objects.visible_to(user)``), loaded in one query per model for the whole page.

    A record in the viewer's scope may point to a person or a house outside it (a county
    operator registered a vehicle of community A to an owner of community B; property staff
    see vehicles but no people): the page then shows a neutral placeholder without a link,
    never the linked record's name or address.
    """

    def __init__(self, user: Any, records: Iterable[models.Model | None] = ()) -> None:
        wanted: dict[type[models.Model], set[int]] = defaultdict(set)
        for record in records:
            if record is not None:
                wanted[type(record)].add(record.pk)
        self.visible: dict[type[models.Model], set[int]] = {
            model: set(
                model._default_manager.visible_to(user)  # type: ignore[attr-defined]
                .filter(pk__in=ids)
                .values_list("pk", flat=True)
            )
            for model, ids in wanted.items()
        }

    def sees(self, record: models.Model) -> bool:
        return record.pk in self.visible.get(type(record), ())


# What the page says instead of a linked record the viewer may not see.
PERSON_OUTSIDE = gettext_lazy("Person outside your area")
HOUSE_OUTSIDE = gettext_lazy("House outside your area")
COMPOUND_OUTSIDE = gettext_lazy("Compound outside your area")


def _person_link(person: Person | None, sight: Sight | None = None) -> dict[str, Any]:
    if person is None:
        return _link("—", None)
    if sight is not None and not sight.sees(person):
        return _link(str(PERSON_OUTSIDE), None)
    return _link(mask_name(person.name), reverse("registry:person_detail", args=[person.pk]))


def _house_link(house: House | None, sight: Sight | None = None) -> dict[str, Any]:
    if house is None:
        return _link("—", None)
    if sight is not None and not sight.sees(house):
        return _link(str(HOUSE_OUTSIDE), None)
    return _link(house.address, reverse("registry:house_detail", args=[house.pk]))


def _compound_link(compound: Compound | None, sight: Sight | None = None) -> dict[str, Any]:
    if compound is None:
        return _link("—", None)
    if sight is not None and not sight.sees(compound):
        return _link(str(COMPOUND_OUTSIDE), None)
    return _link(compound.name, _detail_url("compound", compound.pk))


def _people_names(people: Iterable[Person], sight: Sight | None) -> str:
    """The masked names of the people the viewer may see; the others only counted."""
    people = list(people)
    names = [mask_name(p.name) for p in people if sight is None or sight.sees(p)]
    hidden = len(people) - len(names)
    if hidden:
        names.append(_("%(count)s people outside your area") % {"count": hidden})
    return "、".join(names) or "—"


def _yes(value: bool) -> str:
    return _("Yes") if value else _("No")


@dataclass
class Kind:
    """One kind of register record: its model, form, filters, create service, the columns of
    its list and the rows of its detail page."""

    name: str
    model: type[models.Model]
    form: type[rf.RegisterForm]
    filterset: type[f.RegisterFilterSet]
    label: Promise
    create: Callable[..., Any]
    # (header, cell of a record); the Sight says which linked records the viewer may see.
    columns: list[tuple[Promise, Callable[[Any, Sight], Any]]]
    related: tuple[str, ...] = ()
    prefetch: tuple[Any, ...] = ()
    # GET parameters that may pre-fill the create form (e.g. ?compound=3).
    prefill: tuple[str, ...] = ("region",)
    detail_rows: Callable[[Any, Sight], list[tuple[Any, Any]]] = lambda obj, sight: []
    extra_filters: tuple[str, ...] = field(default_factory=tuple)
    # The people, houses and compounds a record's row and detail card name: checked against
    # the gate before they are shown.
    linked: Callable[[Any], Iterable[models.Model | None]] = lambda obj: ()

    @property
    def verbose(self) -> str:
        return str(self.model._meta.verbose_name)

    def decorate(self, queryset: Any) -> Any:
        if self.related:
            queryset = queryset.select_related(*self.related)
        if self.prefetch:
            queryset = queryset.prefetch_related(*self.prefetch)
        return queryset

    def sight(self, user: Any, objects: Iterable[Any]) -> Sight:
        return Sight(user, (record for obj in objects for record in self.linked(obj)))


def _region_cell(obj: Any, sight: Sight) -> Any:
    return obj.region.name


def _organisation_rows(obj: Organisation, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    return [
        (gettext_lazy("name"), obj.name),
        (gettext_lazy("kind"), obj.get_kind_display()),
        (gettext_lazy("unified social credit code"), obj.credit_code or "—"),
        (gettext_lazy("address"), obj.address or "—"),
        (gettext_lazy("contact person"), mask_name(obj.contact_name) or "—"),
        (gettext_lazy("contact phone"), mask_phone(obj.contact_phone or "") or "—"),
    ]


def _compound_rows(obj: Compound, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    return [
        (gettext_lazy("name"), obj.name),
        (gettext_lazy("kind"), obj.get_kind_display()),
        (gettext_lazy("property company"), obj.property_company or "—"),
        (gettext_lazy("address"), obj.address or "—"),
        (gettext_lazy("area (m²)"), obj.area_m2 if obj.area_m2 is not None else "—"),
        (
            gettext_lazy("Position"),
            f"{obj.latitude}, {obj.longitude}" if obj.latitude is not None else "—",
        ),
    ]


def _building_rows(obj: Building, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    return [
        (
            gettext_lazy("compound"),
            _link(obj.compound.name, _detail_url("compound", obj.compound_id)),
        ),
        (gettext_lazy("building number"), obj.number),
        (gettext_lazy("floors above ground"), obj.floors_above),
        (gettext_lazy("floors below ground"), obj.floors_below),
        (gettext_lazy("residential"), _yes(obj.is_residential)),
        (gettext_lazy("elevator"), _yes(obj.has_elevator)),
    ]


def _unit_rows(obj: Unit, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    return [
        (
            gettext_lazy("building"),
            _link(str(obj.building), _detail_url("building", obj.building_id)),
        ),
        (gettext_lazy("unit number"), obj.number),
    ]


def _house_rows(obj: House, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    facilities = [str(label) for name, label in f.FACILITY_FLAGS if getattr(obj, name)]
    return [
        (gettext_lazy("standard address"), obj.address),
        (gettext_lazy("standard address code"), obj.address_code),
        (
            gettext_lazy("building"),
            _link(str(obj.building), _detail_url("building", obj.building_id)),
        ),
        (gettext_lazy("building unit"), obj.unit.number),
        (gettext_lazy("house number"), obj.number),
        (gettext_lazy("floor"), obj.floor),
        (gettext_lazy("area (m²)"), obj.area_m2 if obj.area_m2 is not None else "—"),
        (
            gettext_lazy("use"),
            obj.get_use_display() + (" · " + _("set by hand") if obj.use_is_explicit else ""),
        ),
        (gettext_lazy("Facilities"), "、".join(facilities) or "—"),
    ]


def _household_rows(obj: Household, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    return [
        (gettext_lazy("household number"), obj.number),
        (gettext_lazy("house"), _house_link(obj.house, sight)),
        (gettext_lazy("head of household"), _person_link(obj.head, sight)),
    ]


def _residence_rows(obj: Residence, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    return [
        (gettext_lazy("person"), _person_link(obj.person, sight)),
        (gettext_lazy("house"), _house_link(obj.house, sight)),
        (gettext_lazy("relation"), obj.get_relation_display()),
        (gettext_lazy("primary residence"), _yes(obj.is_primary)),
        (gettext_lazy("moved in"), obj.moved_in),
        (gettext_lazy("moved out"), obj.moved_out or "—"),
    ]


def _vehicle_rows(obj: Vehicle, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    return [
        (gettext_lazy("plate number"), obj.plate),
        (gettext_lazy("owner"), _person_link(obj.owner, sight)),
        (gettext_lazy("compound"), _compound_link(obj.compound, sight)),
        (gettext_lazy("description"), obj.description or "—"),
    ]


def _rental_rows(obj: Rental, sight: Sight | None = None) -> list[tuple[Any, Any]]:
    tenants = _people_names(obj.tenants.all(), sight)
    return [
        (gettext_lazy("house"), _house_link(obj.house, sight)),
        (gettext_lazy("tenants"), tenants),
        (gettext_lazy("rental mode"), obj.get_mode_display()),
        (gettext_lazy("rental channel"), obj.get_channel_display()),
        (gettext_lazy("monthly rent (yuan)"), obj.monthly_rent),
        (gettext_lazy("start"), obj.start),
        (gettext_lazy("end"), obj.end or "—"),
    ]


def _no_rows(obj: Any, sight: Sight) -> list[tuple[Any, Any]]:
    return []  # the page has its own template


def _move_in(actor: Any, **values: Any) -> Residence:
    return services.move_in(actor, **values)


def _detail_url(kind: str, pk: int | None) -> str | None:
    return reverse(f"registry:{kind}_detail", args=[pk]) if pk else None


def _current_primary(person: Person) -> Residence | None:
    rows = getattr(person, "current_residences", None)
    return rows[0] if rows else None


def _current_residences_prefetch() -> Prefetch[Any]:
    today = timezone.localdate()
    return Prefetch(
        "residences",
        queryset=Residence.objects.current(today)
        .filter(is_primary=True, retired_at__isnull=True)
        .select_related("house"),
        to_attr="current_residences",
    )


def _current_tags_prefetch() -> Prefetch[Any]:
    return Prefetch(
        "tag_links",
        queryset=PersonTag.objects.current().select_related("tag"),
        to_attr="current_tags",
    )


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in [
        Kind(
            name="organisation",
            model=Organisation,
            form=rf.OrganisationForm,
            filterset=f.OrganisationFilter,
            label=gettext_lazy("Organisations"),
            create=services.create_organisation,
            related=("region",),
            columns=[
                (
                    gettext_lazy("name"),
                    lambda o, s: _link(o.name, _detail_url("organisation", o.pk)),
                ),
                (gettext_lazy("kind"), lambda o, s: o.get_kind_display()),
                (gettext_lazy("unified social credit code"), lambda o, s: o.credit_code or "—"),
                (gettext_lazy("address"), lambda o, s: o.address or "—"),
                (gettext_lazy("region"), _region_cell),
            ],
            detail_rows=_organisation_rows,
        ),
        Kind(
            name="compound",
            model=Compound,
            form=rf.CompoundForm,
            filterset=f.CompoundFilter,
            label=gettext_lazy("Compounds"),
            create=services.create_compound,
            related=("region", "property_company"),
            columns=[
                (gettext_lazy("name"), lambda o, s: _link(o.name, _detail_url("compound", o.pk))),
                (gettext_lazy("kind"), lambda o, s: o.get_kind_display()),
                (gettext_lazy("property company"), lambda o, s: o.property_company or "—"),
                (gettext_lazy("address"), lambda o, s: o.address or "—"),
                (gettext_lazy("region"), _region_cell),
            ],
            detail_rows=_compound_rows,
        ),
        Kind(
            name="building",
            model=Building,
            form=rf.BuildingForm,
            filterset=f.BuildingFilter,
            label=gettext_lazy("Buildings"),
            create=services.create_building,
            related=("region", "compound"),
            prefill=("compound",),
            columns=[
                (
                    gettext_lazy("building"),
                    lambda o, s: _link(str(o), _detail_url("building", o.pk)),
                ),
                (gettext_lazy("floors above ground"), lambda o, s: o.floors_above),
                (gettext_lazy("elevator"), lambda o, s: _yes(o.has_elevator)),
                (gettext_lazy("residential"), lambda o, s: _yes(o.is_residential)),
                (gettext_lazy("region"), _region_cell),
            ],
            detail_rows=_building_rows,
        ),
        Kind(
            name="unit",
            model=Unit,
            form=rf.UnitForm,
            filterset=f.UnitFilter,  # type: ignore[arg-type]
            label=gettext_lazy("Units"),
            create=services.create_unit,
            related=("region", "building__compound"),
            prefill=("building",),
            columns=[
                (
                    gettext_lazy("building unit"),
                    lambda o, s: _link(str(o), _detail_url("unit", o.pk)),
                ),
                (gettext_lazy("region"), _region_cell),
            ],
            detail_rows=_unit_rows,
        ),
        Kind(
            name="house",
            model=House,
            form=rf.HouseForm,
            filterset=f.HouseFilter,
            label=gettext_lazy("Houses"),
            create=services.create_house,
            related=("region", "unit"),
            prefill=("unit",),
            columns=[
                (gettext_lazy("standard address"), lambda o, s: _house_link(o)),
                (gettext_lazy("floor"), lambda o, s: o.floor),
                (
                    gettext_lazy("area (m²)"),
                    lambda o, s: o.area_m2 if o.area_m2 is not None else "—",
                ),
                (
                    gettext_lazy("use"),
                    lambda o, s: {
                        "text": o.get_use_display(),
                        "colour": HOUSE_USE_COLOURS.get(o.use),
                    },
                ),
                (gettext_lazy("region"), _region_cell),
            ],
            detail_rows=_house_rows,
        ),
        Kind(
            name="household",
            model=Household,
            form=rf.HouseholdForm,
            filterset=f.HouseholdFilter,
            label=gettext_lazy("Households"),
            create=services.create_household,
            related=("region", "house", "head"),
            columns=[
                (
                    gettext_lazy("household number"),
                    lambda o, s: _link(o.number, _detail_url("household", o.pk)),
                ),
                (gettext_lazy("head of household"), lambda o, s: _person_link(o.head, s)),
                (gettext_lazy("house"), lambda o, s: _house_link(o.house, s)),
                (gettext_lazy("region"), _region_cell),
            ],
            detail_rows=_household_rows,
            linked=lambda o: (o.head, o.house),
        ),
        Kind(
            name="person",
            model=Person,
            form=rf.PersonForm,
            filterset=f.PersonFilter,
            label=gettext_lazy("People"),
            create=services.create_person,
            related=("region",),
            columns=[],
            detail_rows=_no_rows,
        ),
        Kind(
            name="residence",
            model=Residence,
            form=rf.ResidenceForm,
            filterset=f.ResidenceFilter,
            label=gettext_lazy("Residences"),
            create=_move_in,
            related=("region", "person", "house"),
            prefill=("person", "house"),
            columns=[
                (gettext_lazy("person"), lambda o, s: _person_link(o.person, s)),
                (gettext_lazy("house"), lambda o, s: _house_link(o.house, s)),
                (
                    gettext_lazy("relation"),
                    lambda o, s: _link(o.get_relation_display(), _detail_url("residence", o.pk)),
                ),
                (gettext_lazy("moved in"), lambda o, s: o.moved_in),
                (gettext_lazy("moved out"), lambda o, s: o.moved_out or "—"),
            ],
            detail_rows=_residence_rows,
            linked=lambda o: (o.person, o.house),
        ),
        Kind(
            name="vehicle",
            model=Vehicle,
            form=rf.VehicleForm,
            filterset=f.VehicleFilter,
            label=gettext_lazy("Vehicles"),
            create=services.create_vehicle,
            related=("region", "owner", "compound"),
            columns=[
                (
                    gettext_lazy("plate number"),
                    lambda o, s: _link(o.plate, _detail_url("vehicle", o.pk)),
                ),
                (gettext_lazy("owner"), lambda o, s: _person_link(o.owner, s)),
                (
                    gettext_lazy("compound"),
                    lambda o, s: _compound_link(o.compound, s)["text"],
                ),
                (gettext_lazy("region"), _region_cell),
            ],
            detail_rows=_vehicle_rows,
            linked=lambda o: (o.owner, o.compound),
        ),
        Kind(
            name="rental",
            model=Rental,
            form=rf.RentalForm,
            filterset=f.RentalFilter,
            label=gettext_lazy("Rentals"),
            create=services.create_rental,
            related=("region", "house"),
            prefetch=("tenants",),
            prefill=("house",),
            columns=[
                (gettext_lazy("house"), lambda o, s: _house_link(o.house, s)),
                (
                    gettext_lazy("tenants"),
                    lambda o, s: _link(
                        _people_names(o.tenants.all(), s), _detail_url("rental", o.pk)
                    ),
                ),
                (gettext_lazy("rental mode"), lambda o, s: o.get_mode_display()),
                (gettext_lazy("monthly rent (yuan)"), lambda o, s: o.monthly_rent),
                (gettext_lazy("start"), lambda o, s: o.start),
                (gettext_lazy("end"), lambda o, s: o.end or "—"),
            ],
            detail_rows=_rental_rows,
            linked=lambda o: (o.house, *o.tenants.all()),
        ),
    ]
}

# The sub-navigation of the register's pages: (url name, label, permission).
SUBNAV: list[tuple[str, Promise, str]] = [
    ("registry:overview", gettext_lazy("Overview"), "registry.view_person"),
    ("registry:person_list", gettext_lazy("People"), "registry.view_person"),
    ("registry:house_list", gettext_lazy("Houses"), "registry.view_house"),
    ("registry:compound_list", gettext_lazy("Compounds"), "registry.view_compound"),
    ("registry:household_list", gettext_lazy("Households"), "registry.view_household"),
    ("registry:vehicle_list", gettext_lazy("Vehicles"), "registry.view_vehicle"),
    ("registry:organisation_list", gettext_lazy("Organisations"), "registry.view_organisation"),
    ("registry:rental_list", gettext_lazy("Rentals"), "registry.view_rental"),
    ("registry:tags", gettext_lazy("Tags"), "registry.change_tag"),
    ("registry:import_index", gettext_lazy("Import"), "registry.import_person"),
]
# The Excel export of a list, for the kinds the export offers: (kind → export slug).
EXPORT_SLUGS = {
    "person": "people",
    "house": "houses",
    "vehicle": "vehicles",
    "organisation": "organisations",
    "compound": "compounds",
    "building": "buildings",
    "unit": "units",
    "household": "households",
    "residence": "residences",
    "rental": "rentals",
}


def _export_url(request: HttpRequest, kind: str, query: str) -> str | None:
    slug = EXPORT_SLUGS.get(kind)
    if slug is None or not request.user.has_perm(_perm(KINDS[kind].model, "export")):
        return None
    url = reverse("registry:export", args=[slug])
    return f"{url}?{query}" if query else url


def subnav(request: HttpRequest) -> list[dict[str, Any]]:
    current = (request.resolver_match.url_name if request.resolver_match else "") or ""
    items = []
    for name, label, perm in SUBNAV:
        if request.user.has_perm(perm):
            stem = name.split(":")[1].rsplit("_", 1)[0]
            items.append(
                {
                    "url": reverse(name),
                    "label": label,
                    "active": bool(current)
                    and (current == name.split(":")[1] or current.startswith(stem + "_")),
                }
            )
    return items


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    context.setdefault("subnav", subnav(request))
    return render(request, template, context)


def _history(request: HttpRequest, obj: models.Model) -> list[dict[str, Any]]:
    """The record's audit entries, readable and masked (see ``linli.registry.history``)."""
    return record_history(request.user, obj)


# ---------------------------------------------------------------- generic pages


def _page(request: HttpRequest, rows: Any) -> tuple[Any, str]:
    page = CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


@login_required
@require_GET
def record_list(request: HttpRequest, kind: str) -> HttpResponse:
    spec = KINDS[kind]
    _require(request, _perm(spec.model, "view"))
    rows = spec.decorate(_visible(request, spec.model))
    filterset = spec.filterset(request.GET or {}, queryset=rows, request=request)
    page, query = _page(request, filterset.qs)
    objects = list(page.object_list)
    sight = spec.sight(request.user, objects)
    table = [[_cell(fn(obj, sight)) for _label, fn in spec.columns] for obj in objects]
    return _render(
        request,
        "registry/list.html",
        {
            "kind": spec,
            "filter": filterset,
            "page": page,
            "query": query,
            "headers": [label for label, _fn in spec.columns],
            "table": table,
            "may_add": _may(request, spec.model, "add"),
            "create_url": reverse(f"registry:{kind}_create"),
            "export_url": _export_url(request, kind, query),
            "regions": region_pick_list(request.user),  # type: ignore[arg-type]
        },
    )


def _cell(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {"text": value, "url": None}


def _actions(request: HttpRequest, spec: Kind, obj: Any) -> dict[str, Any]:
    active = getattr(obj, "is_active", True)
    return {
        "edit": active and _may(request, spec.model, "change"),
        "retire": active and _may(request, spec.model, "retire"),
    }


@login_required
@require_GET
def record_detail(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = KINDS[kind]
    obj = _get(request, spec.model, pk, "view", *spec.related)
    sight = spec.sight(request.user, [obj])
    return _render(
        request,
        "registry/detail.html",
        {
            "kind": spec,
            "obj": obj,
            "title": _display(kind, obj, sight),
            "urls": _urls(kind, obj),
            "extra_actions": _extra_actions(request, kind, obj),
            "rows": [(label, _cell(value)) for label, value in spec.detail_rows(obj, sight)],
            "actions": _actions(request, spec, obj),
            "history": _history(request, obj),
        },
    )


def _urls(kind: str, obj: Any = None) -> dict[str, str]:
    urls = {"list": reverse(f"registry:{kind}_list")}
    if obj is not None:
        for page in ("detail", "edit", "retire"):
            urls[page] = reverse(f"registry:{kind}_{page}", args=[obj.pk])
    return urls


def _extra_actions(request: HttpRequest, kind: str, obj: Any) -> list[tuple[str, str]]:
    """Links to create records that hang on this one, for users who may create them."""
    if not getattr(obj, "is_active", True):
        return []
    user: Any = request.user
    extra: list[tuple[str, str]] = []
    if kind == "unit" and user.has_perm("registry.add_house"):
        extra.append((_("New house"), reverse("registry:house_create") + f"?unit={obj.pk}"))
    if kind == "household" and user.has_perm("registry.view_person"):
        extra.append((_("Members"), reverse("registry:person_list") + f"?household={obj.pk}"))
    return extra


def _prefill(request: HttpRequest, spec: Kind) -> dict[str, Any]:
    return {name: request.GET[name] for name in spec.prefill if request.GET.get(name)}


@login_required
@require_http_methods(["GET", "POST"])
def record_create(request: HttpRequest, kind: str) -> HttpResponse:
    spec = KINDS[kind]
    _require(request, _perm(spec.model, "add"))
    actor: Any = request.user
    form = spec.form(request.POST or None, actor=actor, initial=_prefill(request, spec))
    if request.method == "POST" and form.is_valid():
        try:
            obj = spec.create(actor, **form.service_values())
        except ServiceError as exc:
            _service_error(request, form, exc)
        else:
            messages.success(request, _("%(kind)s saved.") % {"kind": spec.verbose.capitalize()})
            return redirect(f"registry:{kind}_detail", pk=obj.pk)
    return _render(
        request,
        "registry/form.html",
        {
            "kind": spec,
            "form": form,
            "title": _("New %(kind)s") % {"kind": spec.verbose},
            "cancel": reverse(f"registry:{kind}_list"),
            "regions": region_pick_list(actor),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = KINDS[kind]
    obj = _get(request, spec.model, pk, "change", *spec.related)
    if not getattr(obj, "is_active", True):
        messages.error(request, _("A retired record cannot be edited."))
        return redirect(f"registry:{kind}_detail", pk=obj.pk)
    actor: Any = request.user
    form = spec.form(request.POST or None, actor=actor, instance=obj)
    if request.method == "POST" and form.is_valid():
        values = form.changed_values()
        try:
            if values:
                services.update_record(actor, obj, **values)
        except ServiceError as exc:
            _service_error(request, form, exc)
        else:
            messages.success(request, _("Changes saved.") if values else _("Nothing changed."))
            return redirect(f"registry:{kind}_detail", pk=obj.pk)
    return _render(
        request,
        "registry/form.html",
        {
            "kind": spec,
            "form": form,
            "obj": obj,
            "title": _("Edit %(kind)s") % {"kind": spec.verbose},
            "cancel": reverse(f"registry:{kind}_detail", args=[obj.pk]),
            "regions": region_pick_list(actor),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def record_retire(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = KINDS[kind]
    obj = _get(request, spec.model, pk, "retire", *spec.related)
    if request.method == "POST":
        try:
            services.retire_record(request.user, obj)
        except ServiceError as exc:
            _service_error(request, None, exc)
        else:
            messages.success(request, _("The record has been retired."))
        return redirect(f"registry:{kind}_detail", pk=obj.pk)
    return _render(
        request,
        "registry/retire.html",
        {
            "kind": spec,
            "obj": obj,
            "label": _display(kind, obj, spec.sight(request.user, [obj])),
            "urls": _urls(kind, obj),
        },
    )


def _display(kind: str, obj: Any, sight: Sight) -> str:
    """The record's title; the linked person or house only if the viewer may see it."""
    if kind == "person":
        return mask_name(obj.name)
    if kind == "residence":
        person = _person_link(obj.person, sight)["text"]
        return f"{person} @ {_house_link(obj.house, sight)['text']}"
    if kind == "household" or kind == "rental":
        return str(getattr(obj, "number", "")) or str(_house_link(obj.house, sight)["text"])
    return str(obj)


# ---------------------------------------------------------------- overview


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The register's entry: the overview for people readers, the places for property staff."""
    if request.user.has_perm("registry.view_person"):
        return redirect("registry:overview")
    if request.user.has_perm("registry.view_compound"):
        return redirect("registry:compound_list")
    raise PermissionDenied


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    _require(request, "registry.view_person")
    user: Any = request.user
    regions = RegionNode.objects.visible_to(user)
    code = request.GET.get("region", "").strip()
    if code:
        region = get_object_or_404(regions, code=code)
    else:
        region = regions.filter(code__in=user.scope_codes()).order_by("code").first()
        if region is None:
            raise Http404
    data = services.community_overview(user, region)
    return _render(
        request,
        "registry/overview.html",
        {
            "region": region,
            "data": data,
            "charts": _chart_data(data),
            "regions": region_pick_list(user),
        },
    )


def _chart_data(data: dict[str, Any]) -> dict[str, Any]:
    """The overview's numbers as ECharts series (labels already in Chinese)."""

    def pie(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "name": row["label"],
                "value": row["count"],
                **({"itemStyle": {"color": row["colour"]}} if row.get("colour") else {}),
            }
            for row in rows
        ]

    return {
        "registration": pie(data["by_registration_type"]),
        "gender": pie(data["by_gender"]),
        "age_bands": {
            "labels": [row["label"] for row in data["by_age_band"]],
            "values": [row["count"] for row in data["by_age_band"]],
        },
        "houses": pie(data["houses_by_use"]),
    }


# ---------------------------------------------------------------- people


@login_required
@require_GET
def person_list(request: HttpRequest) -> HttpResponse:
    _require(request, "registry.view_person")
    rows = (
        _visible(request, Person)
        .select_related("region")
        .prefetch_related(_current_residences_prefetch(), _current_tags_prefetch())
    )
    filterset = f.PersonFilter(request.GET or {}, queryset=rows, request=request)
    page, query = _page(request, filterset.qs)
    return _person_list_page(request, filterset, page, query, page.object_list)


def _url_maker(name: str) -> Callable[[int], str]:
    """A detail URL per row from one ``reverse()`` per page: 50 rows × 2 links reversed one by
    one cost more than the page's queries."""
    marker = "987654321"
    head, _marker, tail = reverse(name, args=[int(marker)]).rpartition(marker)
    return lambda pk: f"{head}{pk}{tail}"


def _labels(choices: type[models.TextChoices]) -> dict[str, str]:
    """A choice class's labels, translated once per page instead of once per row."""
    return {str(value): str(label) for value, label in choices.choices}


def _person_rows(people: Any) -> list[dict[str, Any]]:
    today = timezone.localdate()
    person_url = _url_maker("registry:person_detail")
    house_url = _url_maker("registry:house_detail")
    genders, registration_types = _labels(Gender), _labels(RegistrationType)
    rows = []
    for person in people:
        residence = _current_primary(person)
        house = residence.house if residence else None
        rows.append(
            {
                "person": person,
                "url": person_url(person.pk),
                "name": mask_name(person.name),
                "gender": genders.get(person.gender, person.gender),
                "age": person.age(today),
                "registration_type": registration_types.get(
                    person.registration_type, person.registration_type
                ),
                "house": house,
                "house_url": house_url(house.pk) if house is not None else "",
                "tags": [link.tag for link in getattr(person, "current_tags", [])],
            }
        )
    return rows


def _person_list_page(
    request: HttpRequest, filterset: Any, page: Any, query: str, people: Any, **extra: Any
) -> HttpResponse:
    user: Any = request.user
    may_tag = user.has_perm("registry.tag_person")
    return _render(
        request,
        "registry/person_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "rows": _person_rows(people),
            "may_add": user.has_perm("registry.add_person"),
            "export_url": _export_url(request, "person", query),
            "may_tag": may_tag,
            "bulk_form": rf.BulkTagForm(actor=user) if may_tag else None,
            "search_form": extra.pop("search_form", None) or rf.ExactSearchForm(),
            "regions": region_pick_list(user),
            **extra,
        },
    )


@login_required
@require_POST
@never_cache
def person_search(request: HttpRequest) -> HttpResponse:
    """Exact search by ID number or mobile phone through the blind index. POST only: the value
    must never land in a URL, a browser history or an access log."""
    _require(request, "registry.view_person")
    user: Any = request.user
    form = rf.ExactSearchForm(request.POST)
    found: list[Person] = []
    if form.is_valid():
        value = re.sub(r"[\s-]", "", form.cleaned_data["value"])
        try:
            if ID_NUMBER_RE.match(value):
                person = services.find_person_by_id_number(user, value.upper())
                found = [person] if person is not None else []
            elif MOBILE_RE.match(value):
                found = list(services.find_people_by_phone(user, value))
            else:
                form.add_error(
                    "value",
                    _("Enter an 18-character ID number or an 11-digit mobile phone number."),
                )
        except ServiceError as exc:
            if isinstance(exc, NotFoundError):
                found = []
            else:
                form.add_error("value", str(exc.message))
    ids = [p.pk for p in found]
    people = (
        _visible(request, Person)
        .filter(pk__in=ids)
        .select_related("region")
        .prefetch_related(_current_residences_prefetch(), _current_tags_prefetch())
    )
    filterset = f.PersonFilter({}, queryset=Person.objects.none(), request=request)
    response = _person_list_page(
        request,
        filterset,
        None,
        "",
        people if form.is_valid() and not form.errors else [],
        search_form=form,
        searched=True,
    )
    response["Cache-Control"] = "no-store"
    return response


def _is_current(residence: Residence, today: Any) -> bool:
    return (
        residence.is_active
        and residence.moved_in <= today
        and (residence.moved_out is None or residence.moved_out > today)
    )


def _person(request: HttpRequest, pk: int, action: str = "view") -> Person:
    person: Person = _get(request, Person, pk, action, "region", "household")
    return person


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    user: Any = request.user
    today = timezone.localdate()
    residences = list(
        Residence.objects.visible_to(user)
        .filter(person=person)
        .select_related("house")
        .order_by("-moved_in", "-id")
    )
    current = [r for r in residences if _is_current(r, today)]
    past = [r for r in residences if r not in current]
    tag_links = list(
        PersonTag.objects.filter(person=person)
        .select_related("tag__category", "tagged_by", "removed_by")
        .order_by("removed_at", "-tagged_at")
    )
    may_tag = user.has_perm("registry.tag_person") and person.is_active
    # The household may be registered at a level the viewer does not cover (a grid worker and
    # a household of the whole community): then it is neither named nor linked.
    household = person.household
    household_outside = household is not None and not Sight(user, [household]).sees(household)
    if household_outside:
        household = None
    spec = KINDS["person"]
    return _render(
        request,
        "registry/person_detail.html",
        {
            "kind": spec,
            "obj": person,
            "title": mask_name(person.name),
            "urls": _urls("person", person),
            "person": person,
            "name": mask_name(person.name),
            "id_number": mask_id_number(person.id_number or ""),
            "phone": mask_phone(person.phone or ""),
            "age": person.age(today),
            "age_band": person.age_band(today),
            "may_reveal": user.has_perm("registry.reveal_person"),
            "current_residences": current,
            "past_residences": past,
            "current_tags": [link for link in tag_links if link.removed_at is None],
            "past_tags": [link for link in tag_links if link.removed_at is not None],
            "tag_form": rf.PersonTagForm() if may_tag else None,
            "may_tag": may_tag,
            "vehicles": list(Vehicle.objects.visible_to(user).filter(owner=person).active()),
            "rentals": list(
                Rental.objects.visible_to(user).filter(tenants=person).select_related("house")
            ),
            "household": household,
            "household_outside": household_outside,
            "household_members": list(
                Person.objects.visible_to(user)
                .filter(household_id=household.pk)
                .exclude(pk=person.pk)
            )
            if household is not None
            else [],
            "actions": _actions(request, spec, person),
            "may_move_in": user.has_perm("registry.add_residence") and person.is_active,
            "may_move_out": user.has_perm("registry.change_residence"),
            "move_out_form": rf.MoveOutForm(initial={"moved_out": today}),
            "history": _history(request, person),
        },
    )


@login_required
@require_POST
@never_cache
def person_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """One personal field in plain text for an htmx swap; audited by the service."""
    if field not in ("id_number", "phone"):
        raise Http404
    _require(request, "registry.reveal_person")
    person = _person(request, pk)
    try:
        value = services.reveal_person_field(request.user, person, field)
    except ServiceError as exc:
        _service_error(request, None, exc)
        raise PermissionDenied from exc
    response = render(request, "registry/_revealed.html", {"value": value})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def person_tag(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "registry.tag_person")
    person = _person(request, pk)
    form = rf.PersonTagForm(request.POST)
    if form.is_valid():
        try:
            services.tag_person(
                request.user, person, form.cleaned_data["tag"], form.cleaned_data["note"]
            )
        except ServiceError as exc:
            _service_error(request, None, exc)
        else:
            messages.success(request, _("Tag added."))
    else:
        messages.error(request, _("Choose a tag."))
    return redirect("registry:person_detail", pk=person.pk)


@login_required
@require_POST
def person_untag(request: HttpRequest, pk: int, tag_pk: int) -> HttpResponse:
    _require(request, "registry.tag_person")
    person = _person(request, pk)
    tag = get_object_or_404(Tag, pk=tag_pk)
    try:
        services.untag_person(request.user, person, tag)
    except ServiceError as exc:
        _service_error(request, None, exc)
    else:
        messages.success(request, _("Tag removed."))
    return redirect("registry:person_detail", pk=person.pk)


@login_required
@require_POST
def person_bulk_tag(request: HttpRequest) -> HttpResponse:
    """Tag the people ticked in the list; all or nothing."""
    _require(request, "registry.tag_person")
    form = rf.BulkTagForm(request.POST, actor=request.user)  # type: ignore[arg-type]
    if form.is_valid():
        try:
            count = services.bulk_tag(
                request.user, form.cleaned_data["people"], form.cleaned_data["tag"]
            )
        except ServiceError as exc:
            _service_error(request, None, exc)
        else:
            messages.success(
                request,
                _("Tag %(tag)s added to %(count)d people.")
                % {"tag": form.cleaned_data["tag"].name, "count": count},
            )
    else:
        for error in form.non_field_errors() or [_("Choose a tag.")]:
            messages.error(request, str(error))
    query = request.POST.get("query", "")
    url = reverse("registry:person_list")
    # Only our own list's query string comes back; anything else is dropped.
    return redirect(f"{url}?{query}" if re.fullmatch(r"[\w%=&+.\-]*", query) else url)


@login_required
@require_POST
def residence_move_out(request: HttpRequest, pk: int) -> HttpResponse:
    residence: Residence = _get(request, Residence, pk, "change", "person", "house")
    form = rf.MoveOutForm(request.POST)
    if form.is_valid():
        try:
            services.move_out(request.user, residence, form.cleaned_data["moved_out"])
        except ServiceError as exc:
            _service_error(request, None, exc)
        else:
            messages.success(request, _("The move-out has been recorded."))
    else:
        messages.error(request, _("Enter the move-out date."))
    target = request.POST.get("back") == "house"
    if target:
        return redirect("registry:house_detail", pk=residence.house_id)
    return redirect("registry:person_detail", pk=residence.person_id)


# ---------------------------------------------------------------- record pickers

# The name of the form field the matches are for (their radio buttons carry it).
_PICK_FIELD_RE = re.compile(r"[a-z][a-z_]{0,29}")
# How many ticked records a picker of several may send back (the tenants of one rental).
PICK_TICKED_LIMIT = 50


def _is_record_number(value: str) -> bool:
    return value.isdigit() and len(value) <= 18  # beyond a bigint is no record number


def _pick(request: HttpRequest, kind: str, default_field: str) -> HttpResponse:
    """Up to ``PICK_LIMIT`` matches of a picker's search, from the reader's scope, as the radio
    buttons (check boxes for a picker of several records) the picker swaps in under its search
    box."""
    picker = rf.PICKERS[kind]
    _require(request, _perm(picker.model, "view"))
    field = request.GET.get("field", "")
    if not _PICK_FIELD_RE.fullmatch(field):
        field = default_field
    params = request.POST if request.method == "POST" else request.GET
    query = (params.get(f"{field}_q") or params.get("q") or "").strip()[:100]
    visible = _visible(request, picker.model)
    # A picker of several records sends the ones already ticked: they come back ticked, above
    # the new matches, so a second search does not lose the first pick.
    multiple = request.GET.get("multiple") == "1"
    ticked = [int(pk) for pk in params.getlist(field) if _is_record_number(pk)]
    ticked = ticked[:PICK_TICKED_LIMIT]
    ticked = list(dict.fromkeys(ticked)) if multiple else []
    chosen: list[Any] = []
    if ticked:
        found = {row.pk: row for row in visible.active().filter(pk__in=ticked)}
        chosen = [found[pk] for pk in ticked if pk in found]
    rows: list[Any] = []
    if query:
        rows = list(picker.search(visible.exclude(pk__in=ticked), query)[: f.PICK_LIMIT + 1])
    response = render(
        request,
        "registry/_picker_matches.html",
        {
            "field": field,
            "multiple": multiple,
            "chosen": [{"pk": row.pk, "label": picker.label(row)} for row in chosen],
            "matches": [{"pk": row.pk, "label": picker.label(row)} for row in rows[: f.PICK_LIMIT]],
            "more": len(rows) > f.PICK_LIMIT,
            "limit": f.PICK_LIMIT,
            "searched": bool(query),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def pick_houses(request: HttpRequest) -> HttpResponse:
    """Houses by a part of their standard address (or the address code): ``?q=锦源 101``."""
    return _pick(request, "houses", "house")


@login_required
@require_POST
@never_cache
def pick_people(request: HttpRequest) -> HttpResponse:
    """People by a part of the name, or exactly by ID number or mobile phone. POST only, like
    the exact search: an ID number must never land in a URL or an access log."""
    return _pick(request, "people", "person")


# ---------------------------------------------------------------- places


def _address_url(request: HttpRequest, house: House) -> str:
    return request.build_absolute_uri(
        reverse("registry:house_by_address", args=[house.address_code])
    )


@login_required
@require_GET
def house_by_address(request: HttpRequest, code: str) -> HttpResponse:
    """Where the standard-address QR code points: the house, for whoever may see it."""
    house = get_object_or_404(House.objects.visible_to(request.user).only("pk"), address_code=code)
    return redirect("registry:house_detail", pk=house.pk)


@login_required
@require_GET
def house_qr(request: HttpRequest, pk: int) -> HttpResponse:
    """The standard-address QR code (标准地址二维码) as SVG, to show or print on a label."""
    house: House = _get(request, House, pk, "view")
    response = HttpResponse(qr_svg(_address_url(request, house)), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def house_detail(request: HttpRequest, pk: int) -> HttpResponse:
    house: House = _get(request, House, pk, "view", "region", "unit", "building__compound")
    user: Any = request.user
    today = timezone.localdate()
    residences = list(
        Residence.objects.visible_to(user)
        .filter(house=house)
        .select_related("person")
        .order_by("-moved_in", "-id")
    )
    current = [r for r in residences if _is_current(r, today)]
    past = [r for r in residences if r not in current]
    rentals = list(Rental.objects.visible_to(user).filter(house=house).prefetch_related("tenants"))
    households = list(Household.objects.visible_to(user).filter(house=house).select_related("head"))
    # A resident, tenant or head of household may be registered outside the viewer's area
    # (a second home): named only if the gate shows them.
    sight = Sight(
        user,
        [
            *(r.person for r in residences),
            *(h.head for h in households),
            *(p for rental in rentals for p in rental.tenants.all()),
        ],
    )
    spec = KINDS["house"]
    return _render(
        request,
        "registry/house_detail.html",
        {
            "kind": spec,
            "obj": house,
            "title": house.address,
            "urls": _urls("house", house),
            "house": house,
            "rows": [(label, _cell(value)) for label, value in _house_rows(house)],
            "current": [(r, _person_link(r.person, sight)) for r in current],
            "past": [(r, _person_link(r.person, sight)) for r in past],
            "rentals": [(rental, _people_names(rental.tenants.all(), sight)) for rental in rentals],
            "households": [(h, _person_link(h.head, sight)) for h in households],
            "actions": _actions(request, spec, house),
            "use_form": rf.HouseUseForm(
                initial={"use": house.use if house.use_is_explicit else ""}
            ),
            "may_move_in": user.has_perm("registry.add_residence") and house.is_active,
            "may_move_out": user.has_perm("registry.change_residence"),
            "may_add_rental": user.has_perm("registry.add_rental") and house.is_active,
            "move_out_form": rf.MoveOutForm(initial={"moved_out": today}),
            "colour": HOUSE_USE_COLOURS.get(HouseUse(house.use)),
            "history": _history(request, house),
        },
    )


@login_required
@require_POST
def house_set_use(request: HttpRequest, pk: int) -> HttpResponse:
    house: House = _get(request, House, pk, "change")
    form = rf.HouseUseForm(request.POST)
    if form.is_valid():
        try:
            services.set_house_use(request.user, house, form.cleaned_data["use"] or None)
        except ServiceError as exc:
            _service_error(request, None, exc)
        else:
            messages.success(request, _("The use has been saved."))
    else:
        messages.error(request, _("Choose a use."))
    return redirect("registry:house_detail", pk=house.pk)


@login_required
@require_GET
def compound_detail(request: HttpRequest, pk: int) -> HttpResponse:
    compound: Compound = _get(request, Compound, pk, "view", "region", "property_company")
    user: Any = request.user
    buildings = (
        Building.objects.visible_to(user)
        .filter(compound=compound)
        .annotate(
            house_count=Count("houses", filter=Q(houses__retired_at__isnull=True)),
            unit_count=Count("units", filter=Q(units__retired_at__isnull=True), distinct=True),
        )
        .order_by("retired_at", "number")
    )
    spec = KINDS["compound"]
    return _render(
        request,
        "registry/compound_detail.html",
        {
            "kind": spec,
            "obj": compound,
            "title": compound.name,
            "urls": _urls("compound", compound),
            "compound": compound,
            "rows": [(label, _cell(value)) for label, value in _compound_rows(compound)],
            "buildings": buildings,
            "vehicle_count": Vehicle.objects.visible_to(user)
            .active()
            .filter(compound=compound)
            .count(),
            "actions": _actions(request, spec, compound),
            "may_add_building": user.has_perm("registry.add_building") and compound.is_active,
            "history": _history(request, compound),
        },
    )


@login_required
@require_GET
def building_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The building's floor plan (楼盘表): units as column groups, floors from the top down."""
    building: Building = _get(request, Building, pk, "view", "region", "compound")
    user: Any = request.user
    plan = services.floor_plan(user, building)
    spec = KINDS["building"]
    units = list(
        Unit.objects.visible_to(user).filter(building=building).active().order_by("number")
    )
    return _render(
        request,
        "registry/building_detail.html",
        {
            "kind": spec,
            "obj": building,
            "title": str(building),
            "urls": _urls("building", building),
            "building": building,
            "rows": [(label, _cell(value)) for label, value in _building_rows(building)],
            "plan": _plan_rows(plan),
            "units": units,
            "legend": plan["uses"],
            "actions": _actions(request, spec, building),
            "may_add_unit": user.has_perm("registry.add_unit") and building.is_active,
            "may_add_house": user.has_perm("registry.add_house") and building.is_active,
            "history": _history(request, building),
        },
    )


def _plan_rows(plan: dict[str, Any]) -> dict[str, Any]:
    """The service's grid as table rows: one row per floor (top down), one cell per unit."""
    units = plan["units"]
    rows = [
        {"floor": floor, "cells": [unit["floors"][index]["houses"] for unit in units]}
        for index, floor in enumerate(plan["floors"])
    ]
    return {"units": units, "rows": rows, "houses": plan["houses"], "occupants": plan["occupants"]}


# ---------------------------------------------------------------- tags


@login_required
@require_http_methods(["GET", "POST"])
def tags(request: HttpRequest) -> HttpResponse:
    """The tag taxonomy: categories and their tags, and forms to add both."""
    _require(request, "registry.change_tag")
    category_form = rf.TagCategoryForm(prefix="category")
    tag_form = rf.TagCreateForm(prefix="tag")
    if request.method == "POST":
        try:
            if request.POST.get("form") == "category":
                category_form = rf.TagCategoryForm(request.POST, prefix="category")
                if category_form.is_valid():
                    services.create_tag_category(request.user, **category_form.cleaned_data)
                    messages.success(request, _("Category added."))
                    return redirect("registry:tags")
            else:
                tag_form = rf.TagCreateForm(request.POST, prefix="tag")
                if tag_form.is_valid():
                    services.create_tag(request.user, **tag_form.cleaned_data)
                    messages.success(request, _("Tag added."))
                    return redirect("registry:tags")
        except ServiceError as exc:
            target = category_form if request.POST.get("form") == "category" else tag_form
            _service_error(request, target, exc)
    categories = TagCategory.objects.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("order", "code"))
    ).annotate(
        link_count=Count(
            "tags__person_links", filter=Q(tags__person_links__removed_at__isnull=True)
        )
    )
    return _render(
        request,
        "registry/tags.html",
        {"categories": categories, "category_form": category_form, "tag_form": tag_form},
    )


@login_required
@require_http_methods(["GET", "POST"])
def tag_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "registry.change_tag")
    tag = get_object_or_404(Tag.objects.select_related("category"), pk=pk)
    form = rf.TagEditForm(
        request.POST or None,
        initial={"name": tag.name, "order": tag.order, "is_active": tag.is_active},
    )
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            if changed:
                services.update_tag(request.user, tag, **changed)
        except ServiceError as exc:
            _service_error(request, form, exc)
        else:
            messages.success(request, _("Changes saved.") if changed else _("Nothing changed."))
            return redirect("registry:tags")
    return _render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": _("Edit tag %(name)s") % {"name": tag.name},
            "cancel": reverse("registry:tags"),
        },
    )
