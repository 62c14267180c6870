"""Every model placed in the region tree, through the access matrix (see ``access_matrix.py``).

To add a model: append an ``AccessCase`` to ``CASES`` with how to make one at a region node and
the URLs of the operations it offers. ``test_every_scoped_model_is_in_the_matrix`` fails until
you do.
"""

from __future__ import annotations

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
from django.apps import apps
from django.urls import reverse

from linli.accounts.models import Role, RoleAssignment, User
from linli.regions.models import RegionNode
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

CASES: list[AccessCase] = [REGIONS, USERS, ASSIGNMENTS]


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
