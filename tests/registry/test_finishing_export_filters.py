"""The export page says which filters the export follows in the words of the list page: field
labels with choice labels, region and tag names and linked records' names, never query-string
keys and stored codes; a linked record outside the viewer's area shows only its number."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from linli.accounts.models import Role, RoleAssignment
from tests.registry.conftest import Register

pytestmark = pytest.mark.django_db


def _grant(user: Any, region: Any, *permissions: str) -> None:
    role = Role.objects.create(
        code=f"finish_export_{user.pk}", name="导出", kind="staff", permissions=list(permissions)
    )
    RoleAssignment.objects.create(user=user, role=role, region=region)


def _filters_line(body: str) -> str:
    """The visible sentence that lists the filters (the hidden inputs carry the raw values)."""
    match = re.search(r"<p class=\"muted\">筛选条件：(.*?)</p>", body, re.S)
    assert match, body
    return re.sub(r"<[^>]+>", " ", match.group(1))


def test_people_export_page_shows_filters_as_labels(
    login: Any, personas: Any, register: Register, tree: Any, default_tags: Any
) -> None:
    worker = personas.community_worker_a
    _grant(worker, tree.community_a, "registry.export_person")
    tag = default_tags["elderly_living_alone"]
    query = {
        "registration_type": "floating",
        "gender": "M",
        "elderly": "false",
        "tag": tag.code,
        "region": tree.community_a.code,
        "status": "active",
        "q": "刘",
    }

    response = login(worker).get(reverse("registry:export", args=["people"]), query)

    assert response.status_code == 200
    body = response.content.decode()
    line = _filters_line(body)
    for shown in (
        "人口类型：流动人口",
        "性别：男",
        "60岁及以上：否",
        f"标签：{tag.name}",
        f"区划：{tree.community_a.name}（{tree.community_a.code}）",
        "状态：启用",
        "搜索：刘",
    ):
        assert shown in line, shown
    for raw in ("registration_type", "floating", "=M", tag.code, "false", "active"):
        assert raw not in line, raw
    # The download still carries the list's own filters, unchanged.
    assert 'name="registration_type" value="floating"' in body
    assert f'name="tag" value="{tag.code}"' in body


def test_export_page_names_linked_records_only_inside_the_area(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    worker = personas.community_worker_a
    _grant(worker, tree.community_a, "registry.export_residence")
    url = reverse("registry:export", args=["residences"])
    client = login(worker)

    own = _filters_line(
        client.get(url, {"house": register.house_a101.pk, "relation": "owner"}).content.decode()
    )
    other = _filters_line(client.get(url, {"person": register.person_b.pk}).content.decode())

    assert f"房屋：{register.house_a101.address}" in own
    assert "关系：产权人" in own and "owner" not in own
    assert f"人员：#{register.person_b.pk}" in other
    assert "赵" not in other


def test_export_page_without_filters_lists_none(
    login: Any, personas: Any, register: Register, tree: Any
) -> None:
    worker = personas.community_worker_a
    _grant(worker, tree.community_a, "registry.export_vehicle")

    body = login(worker).get(reverse("registry:export", args=["vehicles"])).content.decode()

    assert "筛选条件：" not in body
