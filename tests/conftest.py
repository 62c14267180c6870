"""Shared fixtures: a small region tree and the named personas of STYLE.md.

Tree (codes are the real Pingyin county codes):
    37 山东省 / 3701 济南市 / 370124 平阴县
      370124001 榆山街道: community A 370124001022 锦源社区 (grids A1, A2),
                         community B 370124001018 锦东社区 (grid B1)
      370124002 锦水街道: community C 370124002001 玫瑰苑社区 (grid C1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from linli.accounts.models import Role, RoleAssignment, User
from linli.accounts.services import sync_builtin_roles
from linli.regions.models import RegionNode

PASSWORD = "Linli-Test-2026!"


@dataclass
class Tree:
    province: RegionNode
    city: RegionNode
    county: RegionNode
    subdistrict_1: RegionNode
    subdistrict_2: RegionNode
    community_a: RegionNode
    community_b: RegionNode
    community_c: RegionNode
    grid_a1: RegionNode
    grid_a2: RegionNode
    grid_b1: RegionNode
    grid_c1: RegionNode


def _node(code: str, name: str, level: str, parent: RegionNode | None) -> RegionNode:
    return RegionNode.objects.create(code=code, name=name, level=level, parent=parent)


@pytest.fixture
def tree(db: Any) -> Tree:
    province = _node("37", "山东省", "province", None)
    city = _node("3701", "济南市", "city", province)
    county = _node("370124", "平阴县", "county", city)
    s1 = _node("370124001", "榆山街道", "subdistrict", county)
    s2 = _node("370124002", "锦水街道", "subdistrict", county)
    a = _node("370124001022", "锦源社区", "community", s1)
    b = _node("370124001018", "锦东社区", "community", s1)
    c = _node("370124002001", "玫瑰苑社区", "community", s2)
    return Tree(
        province=province,
        city=city,
        county=county,
        subdistrict_1=s1,
        subdistrict_2=s2,
        community_a=a,
        community_b=b,
        community_c=c,
        grid_a1=_node("370124001022001", "锦源第一网格", "grid", a),
        grid_a2=_node("370124001022002", "锦源第二网格", "grid", a),
        grid_b1=_node("370124001018001", "锦东第一网格", "grid", b),
        grid_c1=_node("370124002001001", "玫瑰苑第一网格", "grid", c),
    )


@dataclass
class Personas:
    county_operator: User
    subdistrict_manager: User
    community_worker_a: User
    community_worker_b: User
    grid_worker: User
    property_staff: User
    department_handler: User
    resident: User
    system_admin: User
    security_admin: User
    audit_admin: User
    nobody: User  # signed in, holds no role

    def all(self) -> dict[str, User]:
        return dict(self.__dict__)


def make_user(username: str, region: RegionNode, role_code: str | None, **extra: Any) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        display_name=extra.pop("display_name", username),
        home_region=region,
        **extra,
    )
    if role_code:
        RoleAssignment.objects.create(
            user=user, role=Role.objects.get(code=role_code), region=region
        )
    return user


@pytest.fixture
def personas(tree: Tree) -> Personas:
    sync_builtin_roles()
    return Personas(
        county_operator=make_user("county_op", tree.county, "county_operator"),
        subdistrict_manager=make_user("sub_mgr", tree.subdistrict_1, "subdistrict_manager"),
        community_worker_a=make_user("worker_a", tree.community_a, "community_worker"),
        community_worker_b=make_user("worker_b", tree.community_b, "community_worker"),
        grid_worker=make_user("grid_a1", tree.grid_a1, "grid_worker"),
        property_staff=make_user("property_a", tree.community_a, "property_staff"),
        department_handler=make_user("dept_police", tree.county, "department_handler"),
        resident=make_user("resident_a", tree.community_a, "resident"),
        system_admin=make_user("sysadmin", tree.county, "system_admin"),
        security_admin=make_user("secadmin", tree.county, "security_admin"),
        audit_admin=make_user("auditadmin", tree.county, "audit_admin"),
        nobody=make_user("nobody", tree.county, None),
    )


@pytest.fixture
def login(client: Client) -> Any:
    """``login(user)`` signs the test client in as that user (skipping the login form)."""

    def _login(user: User) -> Client:
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def api(db: Any) -> Any:
    """``api(user)`` returns a DRF APIClient authenticated as that user."""
    from rest_framework.test import APIClient

    def _api(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return _api


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    """Every test starts with an empty cache: cached counts must not leak between tests that
    build different registers under the same region codes."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
