"""The access matrix: every persona × own scope / other scope × list, detail, create, update,
retire, export — through the pages and the API — for every model placed in the region tree.

A model joins with one ``AccessCase`` in ``tests/test_access_matrix.py``: how to make an object
placed at a region node, and the URLs and bodies of each operation it offers. The expected
outcome is derived, never written by hand:

* the permission comes from the persona's roles as the specification defines them
  (``linli.accounts.permissions.BUILTIN_ROLES``), not from ``user.has_perm``;
* the scope comes from the persona's role assignments (the union of their subtrees) and the
  region code the object actually lies at (``scope_of``).

Then: no permission → 403 (404 accepted) and nothing changed; permission but out of scope →
404 (a list or export simply leaves the object out) and nothing changed; both → 2xx (or the
page's redirect after a successful POST) and the change is made.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models
from django.test import Client
from django.urls import NoReverseMatch, reverse

from linli.accounts.models import RoleAssignment, User
from linli.accounts.permissions import BUILTIN_ROLES
from linli.regions.models import RegionNode
from linli.utilities.scope import code_in_scope

Operation = Literal["list", "detail", "create", "update", "retire", "export"]
Channel = Literal["api", "page"]
OPERATIONS: tuple[Operation, ...] = ("list", "detail", "create", "update", "retire", "export")
VERB: dict[str, str] = {
    "list": "view",
    "detail": "view",
    "create": "add",
    "update": "change",
    "retire": "retire",
    "export": "export",
}
PERSONAS = (
    "county_operator",
    "subdistrict_manager",
    "community_worker_a",
    "community_worker_b",
    "grid_worker",
    "property_staff",
    "department_handler",
    "resident",
    "system_admin",
    "security_admin",
    "audit_admin",
    "nobody",
)
Where = Literal["own", "other"]


@dataclass
class Places:
    """The shared test tree plus a second county, so county-wide personas have an "other" scope."""

    tree: Any
    outside_county: RegionNode
    outside_subdistrict: RegionNode
    outside_community: RegionNode
    outside_grid: RegionNode

    def grids(self) -> list[RegionNode]:
        t = self.tree
        # Nearest first: the "other" place of a community worker is the neighbouring community.
        return [t.grid_a1, t.grid_b1, t.grid_c1, t.grid_a2, self.outside_grid]


def make_places(tree: Any) -> Places:
    county = RegionNode.objects.create(
        code="370126", name="商河县", level="county", parent=tree.city
    )
    sub = RegionNode.objects.create(
        code="370126001", name="许商街道", level="subdistrict", parent=county
    )
    community = RegionNode.objects.create(
        code="370126001001", name="许商社区", level="community", parent=sub
    )
    grid = RegionNode.objects.create(
        code="370126001001001", name="许商第一网格", level="grid", parent=community
    )
    return Places(tree, county, sub, community, grid)


@dataclass(frozen=True)
class Call:
    """One HTTP request of an operation."""

    method: str
    url: str
    data: dict[str, Any] | None = None


def _api(basename: str, suffix: str, *args: Any) -> str:
    return reverse(f"api:{basename}-{suffix}", args=args)


@dataclass
class AccessCase:
    """One model's place in the matrix. Only ``model``, ``make`` and the operations it offers
    are required; every callable gets the ``Places`` and the region node to act at."""

    model: type[models.Model]
    make: Callable[[Places, RegionNode], models.Model]
    scope_of: Callable[[models.Model], str]
    api_basename: str | None = None
    # API: bodies; None means the API does not offer the operation.
    api_create: Callable[[Places, RegionNode], dict[str, Any]] | None = None
    api_update: Callable[[models.Model], dict[str, Any]] | None = None
    api_retire: Callable[[models.Model], Call] | None = None
    api_export: str | None = None  # the list-level action's url_path
    api_list_params: Callable[[models.Model], dict[str, str]] = lambda obj: {}
    # Pages: None means the pages do not offer the operation.
    page_list: Callable[[models.Model], str] | None = None
    page_detail: Callable[[models.Model], str] | None = None
    page_create: Callable[[Places, RegionNode], Call] | None = None
    page_update: Callable[[models.Model], Call] | None = None
    page_retire: Callable[[models.Model], Call] | None = None
    page_export: Callable[[models.Model], str] | None = None
    # Effects.
    create_scope: Callable[[Places, RegionNode], str] = lambda places, where: where.code
    updated: Callable[[models.Model], bool] = lambda obj: False
    retired: Callable[[type[models.Model], Any], bool] = field(
        default=lambda model, pk: (
            not model._default_manager.filter(pk=pk, retired_at__isnull=True).exists()
        )
    )
    marker: Callable[[models.Model], str] = lambda obj: str(obj.pk)
    # Statuses accepted when a create names a place outside the scope: 404 by default; a form
    # that validates the place re-renders with its error (200), a serializer answers 400.
    refused_create_statuses: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {"api": (404,), "page": (404,)}
    )
    # Permission codes that do not follow ``app.verb_model`` (e.g. role grants).
    perms: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def label(self) -> str:
        return self.model._meta.label

    def perm(self, operation: str) -> str:
        if operation in self.perms:
            return self.perms[operation]
        opts = self.model._meta
        return f"{opts.app_label}.{VERB[operation]}_{opts.model_name}"

    def offers(self, operation: Operation, channel: Channel) -> bool:
        if channel == "api":
            if self.api_basename is None:
                return False
            return {
                "list": True,
                "detail": True,
                "create": self.api_create is not None,
                "update": self.api_update is not None,
                "retire": self.api_retire is not None,
                "export": self.api_export is not None,
            }[operation]
        return {
            "list": self.page_list,
            "detail": self.page_detail,
            "create": self.page_create,
            "update": self.page_update,
            "retire": self.page_retire,
            "export": self.page_export,
        }[operation] is not None

    def api_available(self) -> bool:
        if self.api_basename is None:
            return True
        try:
            _api(self.api_basename, "list")
        except NoReverseMatch:
            return False
        return True


# ------------------------------------------------------------------ expectations


def role_permissions(user: User) -> set[str]:
    """What the specification says the persona's roles allow."""
    perms: set[str] = set()
    for code in RoleAssignment.objects.filter(user=user).values_list("role__code", flat=True):
        perms |= set(BUILTIN_ROLES[code]["permissions"])  # type: ignore[call-overload]
    return perms


def assigned_scope(user: User) -> list[str]:
    return list(RoleAssignment.objects.filter(user=user).values_list("region__code", flat=True))


def place_for(places: Places, user: User, where: Where) -> RegionNode:
    """A grid inside the persona's scope (``own``) or the nearest one outside it (``other``)."""
    scope = assigned_scope(user)
    grids = places.grids()
    if where == "own":
        inside = [g for g in grids if code_in_scope(g.code, scope)]
        # A persona with no scope acts where its account is placed.
        return inside[0] if inside else (user.home_region or grids[0])
    return next(g for g in grids if not code_in_scope(g.code, scope))


Outcome = Literal["allowed", "forbidden", "hidden"]


def expected(case: AccessCase, user: User, operation: Operation, code: str) -> Outcome:
    if case.perm(operation) not in role_permissions(user):
        return "forbidden"
    if not code_in_scope(code, assigned_scope(user)):
        return "hidden"
    return "allowed"


# ------------------------------------------------------------------ running one cell


@dataclass
class Cell:
    case: AccessCase
    persona: str
    where: Where
    operation: Operation
    channel: Channel

    @property
    def id(self) -> str:
        return f"{self.case.label}-{self.channel}-{self.operation}-{self.persona}-{self.where}"


def cells(cases: list[AccessCase]) -> Iterator[Cell]:
    for case in cases:
        for channel in ("api", "page"):
            for operation in OPERATIONS:
                if not case.offers(operation, channel):  # type: ignore[arg-type]
                    continue
                for persona in PERSONAS:
                    for where in ("own", "other"):
                        yield Cell(case, persona, where, operation, channel)  # type: ignore[arg-type]


def _send(client: Any, call: Call, channel: Channel) -> Any:
    method = getattr(client, call.method)
    if channel == "api" and call.method in ("post", "patch", "put"):
        return method(call.url, call.data or {}, format="json")
    if call.method == "get":
        return method(call.url, call.data or {})
    return method(call.url, call.data or {})


def _content_has(response: Any, marker: str) -> bool:
    content_type = response.get("Content-Type", "")
    if "spreadsheetml" in content_type:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(response.content), read_only=True)
        return any(
            marker == str(value)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
        )
    if "json" in content_type:
        body = response.json()
        rows = body["results"] if isinstance(body, dict) and "results" in body else body
        return any(str(row.get("id")) == marker or marker in row.values() for row in rows)
    return marker in response.content.decode()


def _ok(response: Any, channel: Channel) -> bool:
    if channel == "page":
        return response.status_code in (200, 302)
    return 200 <= response.status_code < 300


def run_cell(cell: Cell, places: Places, personas: Any, clients: dict[Channel, Any]) -> None:
    """Act as the persona and check the derived outcome; raise AssertionError with the cell's
    id and the response when it differs."""
    case, op, channel = cell.case, cell.operation, cell.channel
    user: User = getattr(personas, cell.persona)
    where = place_for(places, user, cell.where)
    client = clients[channel](user)
    model = case.model
    target = case.make(places, where)
    obj_code = case.scope_of(target)
    context = f"[{cell.id}] object at {obj_code}, persona scope {assigned_scope(user)}"

    if op in ("list", "export"):
        outcome = expected(case, user, op, obj_code)
        if channel == "api":
            suffix_url = (
                _api(case.api_basename, "list")  # type: ignore[arg-type]
                if op == "list"
                else _api(case.api_basename, "list") + f"{case.api_export}/"  # type: ignore[arg-type]
            )
            params = case.api_list_params(target) if op == "list" else {}
            response = client.get(suffix_url, params)
        else:
            url_of = case.page_list if op == "list" else case.page_export
            assert url_of is not None
            response = client.get(url_of(target))
        if outcome == "forbidden":
            assert response.status_code in (403, 404), f"{context}: {response.status_code}"
            return
        assert response.status_code == 200, f"{context}: {response.status_code}"
        shown = _content_has(response, case.marker(target))
        assert shown is (outcome == "allowed"), f"{context}: object shown={shown}"
        return

    if op == "detail":
        outcome = expected(case, user, op, obj_code)
        if channel == "api":
            response = client.get(_api(case.api_basename, "detail", target.pk))  # type: ignore[arg-type]
        else:
            assert case.page_detail is not None
            response = client.get(case.page_detail(target))
        _check_status(outcome, response, channel, context)
        if outcome == "allowed":
            assert _content_has_detail(response, case.marker(target)), context
        return

    if op == "create":
        code = case.create_scope(places, where)
        outcome = expected(case, user, op, code)
        before = model._default_manager.count()
        if channel == "api":
            assert case.api_create is not None
            call = Call("post", _api(case.api_basename, "list"), case.api_create(places, where))  # type: ignore[arg-type]
        else:
            assert case.page_create is not None
            call = case.page_create(places, where)
        response = _send(client, call, channel)
        after = model._default_manager.count()
        if outcome == "allowed":
            assert _ok(response, channel), f"{context}: {response.status_code} {_body(response)}"
            assert after == before + 1, f"{context}: nothing was created"
        elif outcome == "hidden":
            allowed_statuses = case.refused_create_statuses[channel]
            assert response.status_code in allowed_statuses, f"{context}: {response.status_code}"
            assert after == before, f"{context}: created outside scope"
        else:
            assert response.status_code in (403, 404), f"{context}: {response.status_code}"
            assert after == before, f"{context}: created without permission"
        return

    if op == "update":
        outcome = expected(case, user, op, obj_code)
        if channel == "api":
            assert case.api_update is not None
            call = Call(
                "patch", _api(case.api_basename, "detail", target.pk), case.api_update(target)
            )  # type: ignore[arg-type]
        else:
            assert case.page_update is not None
            call = case.page_update(target)
        response = _send(client, call, channel)
        fresh = model._default_manager.get(pk=target.pk)
        _check_status(outcome, response, channel, context)
        assert case.updated(fresh) is (outcome == "allowed"), (
            f"{context}: updated={case.updated(fresh)}"
        )
        return

    if op == "retire":
        outcome = expected(case, user, op, obj_code)
        if channel == "api":
            assert case.api_retire is not None
            call = case.api_retire(target)
        else:
            assert case.page_retire is not None
            call = case.page_retire(target)
        response = _send(client, call, channel)
        _check_status(outcome, response, channel, context)
        done = case.retired(model, target.pk)
        assert done is (outcome == "allowed"), f"{context}: retired={done}"
        return

    raise AssertionError(f"unknown operation {op}")


def _check_status(outcome: Outcome, response: Any, channel: Channel, context: str) -> None:
    if outcome == "allowed":
        assert _ok(response, channel), f"{context}: {response.status_code} {_body(response)}"
    elif outcome == "hidden":
        assert response.status_code == 404, f"{context}: {response.status_code}"
    else:
        assert response.status_code in (403, 404), f"{context}: {response.status_code}"


def _content_has_detail(response: Any, marker: str) -> bool:
    if "json" in response.get("Content-Type", ""):
        body = response.json()
        return str(body.get("id")) == marker or marker in body.values()
    return marker in response.content.decode()


def _body(response: Any) -> str:
    try:
        return response.content.decode()[:300]
    except Exception:  # a binary body says nothing useful here
        return ""


def page_client_factory(client: Client) -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client.force_login(user)
        return client

    return make
