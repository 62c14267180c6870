"""Every model placed in the region tree, through the access matrix (see ``access_matrix.py``).

To add a model: append an ``AccessCase`` to ``CASES`` with how to make one at a region node and
the URLs of the operations it offers. ``test_every_scoped_model_is_in_the_matrix`` fails until
you do.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from access_matrix import (
    PERSONAS,
    AccessCase,
    Call,
    Cell,
    Places,
    cells,
    make_places,
    page_client_factory,
    run_cell,
)
from assessment.publication_fixtures import make_publication, stored_assessment
from django.apps import apps
from django.urls import reverse

from linli.accounts.models import Role, RoleAssignment, User
from linli.assessment.models import Assessment, ManualFigure, Publication
from linli.assessment.publication import TEXT_FIELDS as PUBLICATION_TEXT_FIELDS
from linli.events import services as event_services
from linli.events.models import Department, DispatchRule, Event, EventCategory
from linli.regions.models import RegionNode
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    ImportJob,
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
from linli.utilities.masking import mask_name
from linli.utilities.scope import ScopedQuerySet

NEW_NAME = "矩阵改名"


def _region_code(obj: Any) -> str:
    return str(obj.code)


REGIONS = AccessCase(
    model=RegionNode,
    api_basename="regionnode",
    # The object is the grid itself; a new one is created under that grid's community.
    make=lambda places, where: where,
    scope_of=_region_code,
    create_scope=lambda places, where: where.parent.code,
    api_create=lambda places, where: {"parent": where.parent_id, "name": "矩阵网格"},
    api_update=lambda obj: {"name": NEW_NAME},
    api_retire=lambda obj: Call("post", reverse("api:regionnode-retire", args=[obj.pk])),
    api_export="export",
    api_list_params=lambda obj: {"code": obj.code},
    # Not searched by the code itself: the search box would echo it back.
    page_list=lambda obj: reverse("regions:tree") + f"?level={obj.level}",
    page_detail=lambda obj: reverse("regions:detail", args=[obj.code]),
    page_create=lambda places, where: Call(
        "post",
        reverse("regions:create", args=[where.parent.code]),
        {"name": "矩阵网格", "code": ""},
    ),
    page_update=lambda obj: Call(
        "post", reverse("regions:rename", args=[obj.code]), {"name": NEW_NAME}
    ),
    page_retire=lambda obj: Call("post", reverse("regions:retire", args=[obj.code])),
    page_export=lambda obj: reverse("regions:export"),
    updated=lambda obj: obj.name == NEW_NAME,
    marker=_region_code,
)


def _make_user(places: Places, where: RegionNode, prefix: str = "matrix") -> User:
    return User.objects.create_user(
        username=f"{prefix}_{where.code}", password=None, display_name="矩阵用户", home_region=where
    )


USERS = AccessCase(
    model=User,
    api_basename="user",  # registered by accounts as "users" with basename "user"
    make=_make_user,
    scope_of=lambda obj: obj.home_region.code,
    api_create=lambda places, where: {
        "username": "matrix_new",
        "display_name": "矩阵新用户",
        "home_region": where.code,
    },
    api_update=lambda obj: {"display_name": NEW_NAME},
    api_retire=lambda obj: Call(
        "post", reverse("api:user-set-active", args=[obj.pk]), {"is_active": False}
    ),
    page_list=lambda obj: reverse("accounts:user_list"),
    page_detail=lambda obj: reverse("accounts:user_detail", args=[obj.pk]),
    page_create=lambda places, where: Call(
        "post",
        reverse("accounts:user_create"),
        {"username": "matrix_new", "display_name": "矩阵新用户", "home_region": where.code},
    ),
    page_update=lambda obj: Call(
        "post",
        reverse("accounts:user_edit", args=[obj.pk]),
        {"display_name": NEW_NAME, "home_region": obj.home_region.code},
    ),
    page_retire=lambda obj: Call(
        "post", reverse("accounts:user_set_active", args=[obj.pk]), {"active": "0"}
    ),
    updated=lambda obj: obj.display_name == NEW_NAME,
    retired=lambda model, pk: not model._default_manager.get(pk=pk).is_active,
    marker=lambda obj: obj.username,
    # The home region is a validated field: outside the scope it is a field error.
    refused_create_statuses={"api": (400, 404), "page": (200, 404)},
)


def _make_assignment(places: Places, where: RegionNode) -> RoleAssignment:
    user = _make_user(places, where)
    return RoleAssignment.objects.create(
        user=user, role=Role.objects.get(code="grid_worker"), region=where
    )


ASSIGNMENTS = AccessCase(
    model=RoleAssignment,
    api_basename="role-assignment",
    make=_make_assignment,
    scope_of=lambda obj: obj.region.code,
    perms={"create": "accounts.assign_role", "retire": "accounts.assign_role"},
    api_create=lambda places, where: {
        "user": _make_user(places, where, "grantee").pk,
        "role": "grid_worker",
        "region": where.code,
    },
    api_retire=lambda obj: Call("delete", reverse("api:role-assignment-detail", args=[obj.pk])),
    retired=lambda model, pk: not model._default_manager.filter(pk=pk).exists(),
    refused_create_statuses={"api": (400, 404), "page": (404,)},
    note="granted and revoked through the API; the user pages show assignments per account",
)

# ------------------------------------------------------------------ the register
#
# Objects are made directly (the services are tested on their own); every operation goes
# through the pages and the API. Markers are values the list, the detail page and the JSON
# show — a person's name only masked, so the masked name is the person's marker.

MATRIX_DAY = date(2024, 1, 1)
# Cells make a record and then create another at the same place: names must not collide.
_serial = itertools.count(1)
REGISTER_REFUSED = {"api": (400, 404), "page": (200, 404)}


def _organisation(places: Places, where: RegionNode) -> Organisation:
    return Organisation.objects.create(region=where, name=f"矩阵组织{where.code}", kind="merchant")


def _compound(places: Places, where: RegionNode) -> Compound:
    return Compound.objects.create(region=where, name=f"矩阵小区{where.code}-{next(_serial)}")


def _building(places: Places, where: RegionNode) -> Building:
    compound = _compound(places, where)
    return Building.objects.create(
        region=where,
        compound=compound,
        number=f"矩阵楼{next(_serial)}",
        floors_above=6,
    )


def _unit(places: Places, where: RegionNode) -> Unit:
    building = _building(places, where)
    return Unit.objects.create(region=where, building=building, number=f"矩阵单元{next(_serial)}")


def _house(places: Places, where: RegionNode) -> House:
    unit = _unit(places, where)
    serial = next(_serial)
    return House.objects.create(
        region=where,
        building=unit.building,
        unit=unit,
        number="101",
        floor=1,
        address=f"矩阵地址{where.code}-{serial}",
        address_code=f"M{where.code}-{serial}",
    )


def _person(places: Places, where: RegionNode, name: str = "矩阵人员") -> Person:
    return Person.objects.create(region=where, name=name)


def _household(places: Places, where: RegionNode) -> Household:
    return Household.objects.create(region=where, number=f"矩阵户{where.code}")


def _residence(places: Places, where: RegionNode) -> Residence:
    return Residence.objects.create(
        region=where,
        person=_person(places, where),
        house=_house(places, where),
        relation="owner",
        moved_in=MATRIX_DAY,
    )


def _vehicle(places: Places, where: RegionNode) -> Vehicle:
    return Vehicle.objects.create(region=where, plate=f"鲁M{where.code[-5:]}")


def _rental(places: Places, where: RegionNode) -> Rental:
    rental = Rental.objects.create(
        region=where,
        house=_house(places, where),
        mode="whole",
        channel="self",
        monthly_rent=1000,
        start=MATRIX_DAY,
    )
    rental.tenants.add(_person(places, where))
    return rental


def _matrix_tag() -> Tag:
    category, _created = TagCategory.objects.get_or_create(code="matrix", defaults={"name": "矩阵"})
    tag, _created = Tag.objects.get_or_create(
        code="matrix-tag", defaults={"category": category, "name": "矩阵标签"}
    )
    return tag


def _person_tag(places: Places, where: RegionNode) -> PersonTag:
    return PersonTag.objects.create(person=_person(places, where), tag=_matrix_tag())


def _import_job(places: Places, where: RegionNode) -> ImportJob:
    return ImportJob.objects.create(
        region=where.parent,
        kind="people",
        source="imports/matrix.xlsx",
        original_name=f"矩阵导入{where.code}.xlsx",
    )


def _region_of(obj: Any) -> str:
    return str(obj.region.code)


def _api_retire(basename: str) -> Callable[[Any], Call]:
    return lambda obj: Call("post", reverse(f"api:{basename}-retire", args=[obj.pk]))


def _page(kind: str, page: str) -> Callable[[Any], str]:
    return lambda obj: reverse(f"registry:{kind}_{page}", args=[obj.pk])


def _page_list(kind: str) -> Callable[[Any], str]:
    return lambda obj: reverse(f"registry:{kind}_list")


def _page_retire(kind: str) -> Callable[[Any], Call]:
    return lambda obj: Call("post", reverse(f"registry:{kind}_retire", args=[obj.pk]))


def _page_create(kind: str, body: Callable[[Places, RegionNode], dict[str, Any]]) -> Any:
    return lambda places, where: Call(
        "post", reverse(f"registry:{kind}_create"), body(places, where)
    )


def _page_update(kind: str, body: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Call]:
    return lambda obj: Call("post", reverse(f"registry:{kind}_edit", args=[obj.pk]), body(obj))


def register_case(
    model: type[Any],
    kind: str,
    make: Callable[[Places, RegionNode], Any],
    create: Callable[[Places, RegionNode], dict[str, Any]],
    update: dict[str, Any],
    page_update: Callable[[Any], dict[str, Any]],
    updated: Callable[[Any], bool],
    marker: Callable[[Any], str],
    page_create: Callable[[Places, RegionNode], dict[str, Any]] | None = None,
) -> AccessCase:
    """A register model with its full battery: list, detail, create, update, retire on both
    the API and the pages."""
    basename = f"registry-{model._meta.model_name}"
    return AccessCase(
        model=model,
        api_basename=basename,
        make=make,
        scope_of=_region_of,
        api_create=create,
        api_update=lambda obj: update,
        api_retire=_api_retire(basename),
        page_list=_page_list(kind),
        page_detail=_page(kind, "detail"),
        page_create=_page_create(kind, page_create or create),
        page_update=_page_update(kind, page_update),
        page_retire=_page_retire(kind),
        updated=updated,
        marker=marker,
        refused_create_statuses=REGISTER_REFUSED,
    )


ORGANISATIONS = register_case(
    Organisation,
    "organisation",
    _organisation,
    create=lambda places, where: {"region": where.code, "name": "矩阵新组织", "kind": "social"},
    update={"name": NEW_NAME},
    page_update=lambda obj: {"region": obj.region.code, "name": NEW_NAME, "kind": obj.kind},
    updated=lambda obj: obj.name == NEW_NAME,
    marker=lambda obj: obj.name,
)
COMPOUNDS = register_case(
    Compound,
    "compound",
    _compound,
    create=lambda places, where: {"region": where.code, "name": "矩阵新小区", "kind": "open"},
    update={"name": NEW_NAME},
    page_update=lambda obj: {"name": NEW_NAME, "kind": obj.kind},
    updated=lambda obj: obj.name == NEW_NAME,
    marker=lambda obj: obj.name,
)
BUILDINGS = register_case(
    Building,
    "building",
    _building,
    create=lambda places, where: {
        "compound": _compound(places, where).pk,
        "number": "88",
        "floors_above": 11,
        "units": 2,
    },
    update={"has_elevator": True},
    page_update=lambda obj: {
        "number": obj.number,
        "floors_above": obj.floors_above,
        "floors_below": obj.floors_below,
        "is_residential": "on",
        "has_elevator": "on",
    },
    updated=lambda obj: obj.has_elevator,
    marker=lambda obj: obj.number,
)
UNITS = register_case(
    Unit,
    "unit",
    _unit,
    create=lambda places, where: {"building": _building(places, where).pk, "number": "9单元"},
    update={"number": NEW_NAME},
    page_update=lambda obj: {"number": NEW_NAME},
    updated=lambda obj: obj.number == NEW_NAME,
    marker=lambda obj: obj.number,
)
HOUSES = register_case(
    House,
    "house",
    _house,
    create=lambda places, where: {"unit": _unit(places, where).pk, "number": "202", "floor": 2},
    update={"has_gigabit": True},
    page_update=lambda obj: {"number": obj.number, "floor": obj.floor, "has_gigabit": "on"},
    updated=lambda obj: obj.has_gigabit,
    marker=lambda obj: obj.address,
)
HOUSEHOLDS = register_case(
    Household,
    "household",
    _household,
    create=lambda places, where: {"region": where.code, "number": "矩阵新户"},
    update={"number": NEW_NAME},
    page_update=lambda obj: {"region": obj.region.code, "number": NEW_NAME},
    updated=lambda obj: obj.number == NEW_NAME,
    marker=lambda obj: obj.number,
)
_PERSON_FORM = {
    "registration_type": "permanent",
    "education": "unknown",
    "employment": "unknown",
    "political_status": "masses",
}
PEOPLE = register_case(
    Person,
    "person",
    _person,
    create=lambda places, where: {"region": where.code, "name": "矩阵新人"},
    page_create=lambda places, where: {"region": where.code, "name": "矩阵新人", **_PERSON_FORM},
    update={"ethnicity": "回族"},
    page_update=lambda obj: {"region": obj.region.code, "ethnicity": "回族", **_PERSON_FORM},
    updated=lambda obj: obj.ethnicity == "回族",
    marker=lambda obj: mask_name(obj.name),
)
RESIDENCES = register_case(
    Residence,
    "residence",
    _residence,
    create=lambda places, where: {
        "person": _person(places, where, "矩阵迁入").pk,
        "house": _house(places, where).pk,
        "relation": "tenant",
        "moved_in": "2024-02-01",
    },
    update={"relation": "other"},
    page_update=lambda obj: {"relation": "other", "moved_in": obj.moved_in.isoformat()},
    updated=lambda obj: obj.relation == "other",
    marker=lambda obj: obj.house.address,
)
VEHICLES = register_case(
    Vehicle,
    "vehicle",
    _vehicle,
    create=lambda places, where: {"region": where.code, "plate": "鲁A12345"},
    update={"description": NEW_NAME},
    page_update=lambda obj: {
        "region": obj.region.code,
        "plate": obj.plate,
        "description": NEW_NAME,
    },
    updated=lambda obj: obj.description == NEW_NAME,
    marker=lambda obj: obj.plate,
)
RENTALS = register_case(
    Rental,
    "rental",
    _rental,
    create=lambda places, where: {
        "house": _house(places, where).pk,
        "tenants": [_person(places, where, "矩阵租客").pk],
        "mode": "room",
        "channel": "agency",
        "monthly_rent": "800.00",
        "start": "2024-03-01",
    },
    page_create=lambda places, where: {
        "house": _house(places, where).pk,
        "tenants": str(_person(places, where, "矩阵租客").pk),
        "mode": "room",
        "channel": "agency",
        "monthly_rent": "800.00",
        "start": "2024-03-01",
    },
    update={"channel": "agency"},
    page_update=lambda obj: {
        "tenants": ",".join(str(p.pk) for p in obj.tenants.all()),
        "mode": obj.mode,
        "channel": "agency",
        "monthly_rent": str(obj.monthly_rent),
        "start": obj.start.isoformat(),
    },
    updated=lambda obj: obj.channel == "agency",
    marker=lambda obj: obj.house.address,
)
PERSON_TAGS = AccessCase(
    model=PersonTag,
    api_basename="registry-persontag",
    make=_person_tag,
    scope_of=lambda obj: obj.person.region.code,
    # Tags on people follow the person's gate; tagging is its own permission.
    perms={
        "list": "registry.view_person",
        "detail": "registry.view_person",
        "create": "registry.tag_person",
        "retire": "registry.tag_person",
    },
    api_create=lambda places, where: {
        "person": _person(places, where, "矩阵标注").pk,
        "tag": _matrix_tag().code,
    },
    api_retire=_api_retire("registry-persontag"),
    retired=lambda model, pk: model._default_manager.get(pk=pk).removed_at is not None,
    marker=lambda obj: obj.tag.code,
    refused_create_statuses=REGISTER_REFUSED,
    note="tags are shown and changed on the person's page (tested in tests/registry)",
)
IMPORT_JOBS = AccessCase(
    model=ImportJob,
    api_basename="registry-import",
    make=_import_job,
    # The job targets the grid's community; its scope is that community.
    scope_of=_region_of,
    perms={"list": "registry.import_person", "detail": "registry.import_person"},
    page_detail=lambda obj: reverse("registry:import_job", args=[obj.pk]),
    marker=lambda obj: obj.original_name,
    note="created by uploading a workbook (tests/registry); read-only here",
)

REGISTER_CASES = [
    ORGANISATIONS,
    COMPOUNDS,
    BUILDINGS,
    UNITS,
    HOUSES,
    HOUSEHOLDS,
    PEOPLE,
    RESIDENCES,
    VEHICLES,
    RENTALS,
    PERSON_TAGS,
    IMPORT_JOBS,
]


# ------------------------------------------------------------------ the self-assessment


def _manual_figure(places: Places, where: RegionNode) -> ManualFigure:
    # Figures hang on the community of the grid the matrix acts at.
    return ManualFigure.objects.create(
        region=where.parent,
        metric="publicity_activities_per_year",
        unit="count",
        number=3,
        evidence=f"矩阵证明材料{where.code}",
        valid_from=MATRIX_DAY,
    )


MANUAL_FIGURES = AccessCase(
    model=ManualFigure,
    api_basename="assessment-manualfigure",
    make=_manual_figure,
    scope_of=_region_of,
    create_scope=lambda places, where: where.parent.code,
    api_create=lambda places, where: {
        "region": where.parent.code,
        "metric": "publicity_activities_per_year",
        "value": 2,
        "evidence": "矩阵新证明材料",
        "valid_from": "2024-01-01",
    },
    api_retire=_api_retire("assessment-manualfigure"),
    page_create=lambda places, where: Call(
        "post",
        reverse("assessment:figure_create", args=[where.parent.code]),
        {
            "metric": "publicity_activities_per_year",
            "value": "2",
            "evidence": "矩阵新证明材料",
            "valid_from": "2024-01-01",
        },
    ),
    page_retire=lambda obj: Call("post", reverse("assessment:figure_withdraw", args=[obj.pk])),
    marker=lambda obj: obj.evidence,
    refused_create_statuses=REGISTER_REFUSED,
    note="listed per community on its figures page (tests/assessment/test_pages.py)",
)


def _assessment(places: Places, where: RegionNode) -> Assessment:
    # A stored assessment of the grid's community, on a date of its own (the marker).
    return stored_assessment(where.parent, on=date(2023, 1, 1) + timedelta(days=next(_serial)))


ASSESSMENTS = AccessCase(
    model=Assessment,
    api_basename="assessment-assessment",
    make=_assessment,
    scope_of=_region_of,
    create_scope=lambda places, where: where.parent.code,
    api_create=lambda places, where: {"region": where.parent.code},
    api_export="export",
    # The county view lists every community's latest stored assessment.
    page_list=lambda obj: reverse("assessment:county"),
    page_detail=lambda obj: reverse("assessment:stored", args=[obj.pk]),
    page_create=lambda places, where: Call(
        "post", reverse("assessment:store", args=[where.parent.code])
    ),
    page_export=lambda obj: reverse("assessment:county_export"),
    marker=lambda obj: obj.on.isoformat(),
    refused_create_statuses=REGISTER_REFUSED,
    note="stored through linli.assessment.services.store_assessment; never edited",
)


def _publication(places: Places, where: RegionNode) -> Publication:
    # A draft of the community of the grid the matrix acts at, from a stored assessment.
    return make_publication(where.parent, f"矩阵公示{where.code}-{next(_serial)}")


def _publication_form(obj: Any) -> dict[str, Any]:
    values = {name: getattr(obj, name) for name in PUBLICATION_TEXT_FIELDS}
    values["title"] = NEW_NAME
    return {
        name: value.isoformat() if isinstance(value, date) else value or ""
        for name, value in values.items()
    }


PUBLICATIONS = AccessCase(
    model=Publication,
    api_basename="assessment-publication",
    make=_publication,
    scope_of=_region_of,
    create_scope=lambda places, where: where.parent.code,
    api_create=lambda places, where: {
        "assessment": stored_assessment(where.parent).pk,
        "tier": "basic",
    },
    api_update=lambda obj: {"title": NEW_NAME},
    page_list=lambda obj: reverse("assessment:publication_list"),
    page_detail=lambda obj: reverse("assessment:publication_detail", args=[obj.pk]),
    page_create=lambda places, where: Call(
        "post",
        reverse("assessment:publication_create"),
        {"assessment": stored_assessment(where.parent).pk, "tier": "basic"},
    ),
    page_update=lambda obj: Call(
        "post", reverse("assessment:publication_edit", args=[obj.pk]), _publication_form(obj)
    ),
    updated=lambda obj: obj.title == NEW_NAME,
    marker=lambda obj: obj.title,
    note="issuing (assessment.issue_publication) is tested in tests/assessment",
)


# ------------------------------------------------------------------ the event hub


def _event_category() -> EventCategory:
    category, _created = EventCategory.objects.get_or_create(
        code="matrix-event", defaults={"name": "矩阵事件类别"}
    )
    return category


def _event(places: Places, where: RegionNode) -> Event:
    # Events lie in a community or grid: a persona placed higher (no scope) gets one below.
    if where.level not in event_services.EVENT_LEVELS:
        where = RegionNode.objects.filter(code__startswith=where.code, level="grid").order_by(
            "code"
        )[0]
    # Reported by the system, so no persona reaches it as its reporter.
    return event_services.report(
        None,
        category=_event_category(),
        place=event_services.Place(region=where, address=f"矩阵事件地点{where.code}"),
        description="矩阵事件描述",
        source="patrol",
        title=f"矩阵事件{next(_serial)}",
    )


def _event_create(places: Places, where: RegionNode) -> dict[str, Any]:
    return {
        "category": _event_category().code,
        "region": where.code,
        "address": "矩阵新事件地点",
        "description": "矩阵新事件描述",
    }


EVENTS = AccessCase(
    model=Event,
    api_basename="events-event",
    make=_event,
    scope_of=lambda obj: obj.region_code,
    api_create=_event_create,
    page_detail=lambda obj: reverse("events:detail", args=[obj.pk]),
    marker=lambda obj: obj.number,
    note=(
        "events change only through lifecycle steps (tests/events/test_api.py, test_lifecycle.py), "
        "never update or retire. Not here: the list page (a department member without "
        "events.view_event gets it, showing its department's events only), the staff report "
        "page (staff only: residents report on the phone pages), and the statistics export "
        "(a POST of a filter form, tested in tests/events/test_stats.py)."
    ),
)


def _department(places: Places, where: RegionNode, name: str = "") -> Department:
    return Department.objects.create(region=where, name=name or f"矩阵部门{next(_serial)}")


DEPARTMENT_REFUSED = {"api": (404,), "page": (400, 404)}
NEW_DEPARTMENT = "矩阵改派部门"

DEPARTMENTS = AccessCase(
    model=Department,
    api_basename="events-department",
    make=_department,
    scope_of=_region_of,
    api_create=lambda places, where: {"region": where.code, "name": "矩阵新部门"},
    api_update=lambda obj: {"name": NEW_NAME},
    api_retire=_api_retire("events-department"),
    page_list=lambda obj: reverse("events:departments"),
    page_detail=lambda obj: reverse("events:department_detail", args=[obj.pk]),
    page_create=lambda places, where: Call(
        "post",
        reverse("events:department_create"),
        {"region": where.code, "name": "矩阵新部门", "kind": "functional", "phone": ""},
    ),
    page_update=lambda obj: Call(
        "post",
        reverse("events:department_detail", args=[obj.pk]),
        {"name": NEW_NAME, "kind": obj.kind, "phone": ""},
    ),
    page_retire=lambda obj: Call("post", reverse("events:department_retire", args=[obj.pk])),
    updated=lambda obj: obj.name == NEW_NAME,
    marker=lambda obj: obj.name,
    refused_create_statuses=DEPARTMENT_REFUSED,
)


def _dispatch_rule(places: Places, where: RegionNode) -> DispatchRule:
    serial = next(_serial)
    category = EventCategory.objects.create(code=f"matrix-rule-{serial}", name=f"矩阵类别{serial}")
    return DispatchRule.objects.create(
        region=where, category=category, department=_department(places, where)
    )


def _rule_create(places: Places, where: RegionNode) -> dict[str, Any]:
    return {
        "region": where.code,
        "category": _event_category().code,
        "department": _department(places, where).pk,
    }


def _rule_update(obj: Any) -> dict[str, Any]:
    # The rule's events go to a new department serving the same place.
    return {"department": _department(None, obj.region, NEW_DEPARTMENT).pk}  # type: ignore[arg-type]


DISPATCH_RULES = AccessCase(
    model=DispatchRule,
    api_basename="events-dispatchrule",
    make=_dispatch_rule,
    scope_of=_region_of,
    api_create=_rule_create,
    api_update=_rule_update,
    api_retire=_api_retire("events-dispatchrule"),
    page_list=lambda obj: reverse("events:rules"),
    page_create=lambda places, where: Call(
        "post",
        reverse("events:rule_create"),
        {**_rule_create(places, where), "category": _event_category().pk},
    ),
    page_update=lambda obj: Call(
        "post",
        reverse("events:rule_edit", args=[obj.pk]),
        {"region": obj.region.code, "category": obj.category_id, **_rule_update(obj)},
    ),
    page_retire=lambda obj: Call("post", reverse("events:rule_delete", args=[obj.pk])),
    updated=lambda obj: obj.department.name == NEW_DEPARTMENT,
    retired=lambda model, pk: not model._default_manager.filter(pk=pk).exists(),
    marker=lambda obj: obj.category.name,
    refused_create_statuses=DEPARTMENT_REFUSED,
    note="a rule has no page of its own: it is read in the list and edited on its form",
)

CASES: list[AccessCase] = [
    REGIONS,
    USERS,
    ASSIGNMENTS,
    *REGISTER_CASES,
    MANUAL_FIGURES,
    ASSESSMENTS,
    PUBLICATIONS,
    EVENTS,
    DEPARTMENTS,
    DISPATCH_RULES,
]


@pytest.fixture
def places(tree: Any) -> Places:
    return make_places(tree)


@pytest.mark.django_db
@pytest.mark.parametrize("cell", list(cells(CASES)), ids=lambda cell: cell.id)
def test_access_matrix(cell: Cell, places: Places, personas: Any, client: Any, api: Any) -> None:
    if not cell.case.api_available():
        pytest.skip(f"{cell.case.label}: API basename {cell.case.api_basename!r} is not registered")
    run_cell(cell, places, personas, {"api": api, "page": page_client_factory(client)})


def test_every_scoped_model_is_in_the_matrix() -> None:
    """A model whose manager is gated by ScopedQuerySet must declare its AccessCase."""
    declared = {case.model for case in CASES}
    scoped = {
        model
        for model in apps.get_models()
        if isinstance(model._default_manager.all(), ScopedQuerySet)
    }
    missing = sorted(model._meta.label for model in scoped - declared)
    assert missing == [], f"add an AccessCase to tests/test_access_matrix.py for: {missing}"


def test_matrix_covers_every_persona_and_both_scopes_for_each_model() -> None:
    generated = list(cells(CASES))
    for case in CASES:
        mine = [c for c in generated if c.case is case]
        assert {c.persona for c in mine} == set(PERSONAS), case.label
        assert {c.where for c in mine} == {"own", "other"}
        assert {c.operation for c in mine if c.channel == "api"} >= {"list", "detail"}
