"""Region API: the same gate as the pages, errors as JSON, nothing written on refusal."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry
from linli.regions.models import RegionNode

pytestmark = pytest.mark.django_db

URL = "/api/regions/"


def test_list_is_limited_to_scope(
    api: Any, personas: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    client = api(personas.community_worker_a)
    with django_assert_max_num_queries(6):
        response = client.get(URL)
    codes = {row["code"] for row in response.json()["results"]}
    assert codes == {tree.community_a.code, tree.grid_a1.code, tree.grid_a2.code}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"level": "grid"}, {"370124001022001", "370124001022002", "370124001018001"}),
        ({"code": "370124001018"}, {"370124001018", "370124001018001"}),
        ({"search": "锦源"}, {"370124001022", "370124001022001", "370124001022002"}),
    ],
)
def test_list_filters(
    api: Any, personas: Any, tree: Any, params: dict[str, str], expected: set[str]
) -> None:
    response = api(personas.subdistrict_manager).get(URL, params)
    assert {row["code"] for row in response.json()["results"]} == expected


def test_list_filters_by_parent_and_active(api: Any, personas: Any, tree: Any) -> None:
    RegionNode.objects.filter(pk=tree.grid_a2.pk).update(retired_at="2026-01-01T00:00:00Z")
    response = api(personas.subdistrict_manager).get(
        URL, {"parent": tree.community_a.pk, "active": "true"}
    )
    assert [row["code"] for row in response.json()["results"]] == [tree.grid_a1.code]


def test_retrieve_out_of_scope_answers_404_json(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.community_worker_a).get(f"{URL}{tree.grid_b1.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_list_without_the_view_permission_is_403(api: Any, personas: Any) -> None:
    assert api(personas.audit_admin).get(URL).status_code == 403
    assert api().get(URL).status_code in (401, 403)


def test_create_grid_with_next_code(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.community_worker_a).post(
        URL, {"parent": tree.community_a.pk, "name": "锦源第三网格"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["code"] == "370124001022003"
    assert response.json()["parent_code"] == tree.community_a.code


def test_create_under_a_tampered_parent_answers_404_and_writes_nothing(
    api: Any, personas: Any, tree: Any
) -> None:
    before = RegionNode.objects.count()
    response = api(personas.community_worker_a).post(
        URL, {"parent": tree.community_b.pk, "name": "越权网格"}, format="json"
    )
    assert response.status_code == 404
    assert RegionNode.objects.count() == before


def test_create_with_a_malformed_code_is_a_400_with_the_service_code(
    api: Any, personas: Any, tree: Any
) -> None:
    before = RegionNode.objects.count()
    response = api(personas.subdistrict_manager).post(
        URL,
        {"parent": tree.subdistrict_1.pk, "name": "新社区", "code": "37012400102X"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "region.code"
    assert RegionNode.objects.count() == before


def test_create_from_malformed_json_is_a_400(api: Any, personas: Any) -> None:
    response = api(personas.community_worker_a).post(
        URL, "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"


def test_partial_update_renames(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.community_worker_a).patch(
        f"{URL}{tree.grid_a1.pk}/", {"name": "一网格"}, format="json"
    )
    tree.grid_a1.refresh_from_db()
    assert response.status_code == 200
    assert tree.grid_a1.name == "一网格"


def test_partial_update_by_grid_worker_is_403_and_changes_nothing(
    api: Any, personas: Any, tree: Any
) -> None:
    response = api(personas.grid_worker).patch(
        f"{URL}{tree.grid_a1.pk}/", {"name": "一网格"}, format="json"
    )
    tree.grid_a1.refresh_from_db()
    assert response.status_code == 403
    assert tree.grid_a1.name == "锦源第一网格"


def test_put_is_not_offered(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.community_worker_a).put(
        f"{URL}{tree.grid_a1.pk}/", {"name": "x"}, format="json"
    )
    assert response.status_code == 405


def test_move_grid(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.subdistrict_manager).post(
        f"{URL}{tree.grid_a2.pk}/move/", {"community": tree.community_b.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["parent_code"] == tree.community_b.code


def test_move_to_an_out_of_scope_community_answers_404_and_moves_nothing(
    api: Any, personas: Any, tree: Any
) -> None:
    response = api(personas.subdistrict_manager).post(
        f"{URL}{tree.grid_a2.pk}/move/", {"community": tree.community_c.pk}, format="json"
    )
    tree.grid_a2.refresh_from_db()
    assert response.status_code == 404
    assert tree.grid_a2.parent == tree.community_a


def test_retire_with_active_children_is_refused(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.subdistrict_manager).post(f"{URL}{tree.community_a.pk}/retire/")
    tree.community_a.refresh_from_db()
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "region.has_children"
    assert tree.community_a.retired_at is None


def test_retire_a_grid(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.subdistrict_manager).post(f"{URL}{tree.grid_a2.pk}/retire/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False


def test_children_action(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.subdistrict_manager).get(f"{URL}{tree.community_a.pk}/children/")
    assert [row["code"] for row in response.json()["results"]] == [
        tree.grid_a1.code,
        tree.grid_a2.code,
    ]


def test_export_is_audited_and_scoped(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.community_worker_b).get(f"{URL}export/")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == [tree.community_b.code, tree.grid_b1.code]
    assert (
        AuditEntry.objects.filter(
            action=AuditAction.EXPORT, actor=personas.community_worker_b
        ).count()
        == 1
    )


def test_export_without_permission_is_403_and_not_audited(api: Any, personas: Any) -> None:
    response = api(personas.grid_worker).get(f"{URL}export/")
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORT).exists()
