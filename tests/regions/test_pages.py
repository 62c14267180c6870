"""Region tree pages: browse, detail, create, rename, move, retire, export — within scope only."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry
from linli.regions.models import RegionNode

pytestmark = pytest.mark.django_db


def test_tree_shows_the_top_of_the_scope_with_child_counts(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.subdistrict_manager).get(reverse("regions:tree"))
    assert response.status_code == 200
    body = response.content.decode()
    assert tree.subdistrict_1.name in body
    assert tree.subdistrict_2.name not in body
    # 榆山街道 has two communities: the expand button and the count are offered.
    assert reverse("regions:children", args=[tree.subdistrict_1.code]) in body
    assert [(n.code, n.child_count) for n in response.context["roots"]] == [
        (tree.subdistrict_1.code, 2)
    ]


def test_tree_needs_the_view_permission(login: Any, personas: Any) -> None:
    assert login(personas.audit_admin).get(reverse("regions:tree")).status_code == 403
    assert login(personas.nobody).get(reverse("regions:tree")).status_code == 403


def test_tree_search_lists_only_visible_nodes(
    login: Any, personas: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    client = login(personas.community_worker_a)
    with django_assert_max_num_queries(13):  # 13: the navigation counts unread notifications
        response = client.get(reverse("regions:tree"), {"q": "网格"})
    body = response.content.decode()
    assert tree.grid_a1.name in body and tree.grid_a2.name in body
    assert tree.grid_b1.name not in body and tree.grid_c1.name not in body


def test_children_fragment_expands_a_node(login: Any, personas: Any, tree: Any) -> None:
    response = login(personas.community_worker_a).get(
        reverse("regions:children", args=[tree.community_a.code]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert tree.grid_a1.name in body and tree.grid_a2.name in body


def test_children_of_an_out_of_scope_node_answer_404(login: Any, personas: Any, tree: Any) -> None:
    url = reverse("regions:children", args=[tree.community_b.code])
    assert login(personas.community_worker_a).get(url).status_code == 404


def test_detail_shows_breadcrumbs_times_and_only_allowed_actions(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("regions:detail", args=[tree.grid_a1.code])
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert tree.community_a.name in body and tree.county.name in body
    # The worker holds community A: its node is a link, the subdistrict above is plain text.
    assert reverse("regions:detail", args=[tree.community_a.code]) in body
    assert reverse("regions:detail", args=[tree.subdistrict_1.code]) not in body
    assert reverse("regions:rename", args=[tree.grid_a1.code]) in body
    assert reverse("regions:retire", args=[tree.grid_a1.code]) not in body  # no retire permission


def test_detail_of_an_out_of_scope_code_answers_404(login: Any, personas: Any, tree: Any) -> None:
    client = login(personas.community_worker_a)
    assert client.get(reverse("regions:detail", args=[tree.community_b.code])).status_code == 404
    assert client.get(reverse("regions:detail", args=["370124009009"])).status_code == 404


def test_grid_worker_sees_no_management_actions(login: Any, personas: Any, tree: Any) -> None:
    body = (
        login(personas.grid_worker)
        .get(reverse("regions:detail", args=[tree.grid_a1.code]))
        .content.decode()
    )
    assert reverse("regions:rename", args=[tree.grid_a1.code]) not in body
    assert reverse("regions:move", args=[tree.grid_a1.code]) not in body


def test_community_worker_creates_a_grid_with_the_next_free_code(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("regions:create", args=[tree.community_a.code]),
        {"name": "锦源第三网格", "code": ""},
    )
    node = RegionNode.objects.get(name="锦源第三网格")
    assert response.status_code == 302
    assert node.code == tree.community_a.code + "003"
    assert node.parent == tree.community_a
    assert AuditEntry.objects.filter(action=AuditAction.CREATE, object_id=str(node.pk)).exists()


def test_creating_a_community_needs_its_official_code(login: Any, personas: Any, tree: Any) -> None:
    before = RegionNode.objects.count()
    response = login(personas.subdistrict_manager).post(
        reverse("regions:create", args=[tree.subdistrict_1.code]), {"name": "新社区", "code": ""}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert RegionNode.objects.count() == before


def test_create_with_a_code_outside_the_parent_is_refused_in_chinese(
    login: Any, personas: Any, tree: Any
) -> None:
    before = RegionNode.objects.count()
    response = login(personas.subdistrict_manager).post(
        reverse("regions:create", args=[tree.subdistrict_1.code]),
        {"name": "新社区", "code": "370124002099"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert RegionNode.objects.count() == before


def test_create_under_an_out_of_scope_parent_answers_404_and_writes_nothing(
    login: Any, personas: Any, tree: Any
) -> None:
    before = RegionNode.objects.count()
    response = login(personas.community_worker_a).post(
        reverse("regions:create", args=[tree.community_b.code]), {"name": "越权网格"}
    )
    assert response.status_code == 404
    assert RegionNode.objects.count() == before


def test_grid_worker_cannot_create(login: Any, personas: Any, tree: Any) -> None:
    before = RegionNode.objects.count()
    response = login(personas.grid_worker).post(
        reverse("regions:create", args=[tree.community_a.code]), {"name": "网格"}
    )
    assert response.status_code == 403
    assert RegionNode.objects.count() == before


def test_rename_changes_the_name_and_is_audited(login: Any, personas: Any, tree: Any) -> None:
    response = login(personas.community_worker_a).post(
        reverse("regions:rename", args=[tree.grid_a1.code]), {"name": "锦源一网格"}
    )
    tree.grid_a1.refresh_from_db()
    assert response.status_code == 302
    assert tree.grid_a1.name == "锦源一网格"
    entry = AuditEntry.objects.get(action=AuditAction.UPDATE, object_id=str(tree.grid_a1.pk))
    assert entry.changes == {"name": ["锦源第一网格", "锦源一网格"]}


def test_rename_out_of_scope_answers_404_and_changes_nothing(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).post(
        reverse("regions:rename", args=[tree.grid_b1.code]), {"name": "改名"}
    )
    tree.grid_b1.refresh_from_db()
    assert response.status_code == 404
    assert tree.grid_b1.name == "锦东第一网格"


def test_move_offers_only_communities_in_scope(login: Any, personas: Any, tree: Any) -> None:
    response = login(personas.subdistrict_manager).get(
        reverse("regions:move", args=[tree.grid_a1.code])
    )
    choices = list(response.context["form"].fields["community"].queryset)
    assert choices == [tree.community_b]


def test_move_grid_reissues_its_code_under_the_new_community(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.subdistrict_manager).post(
        reverse("regions:move", args=[tree.grid_a2.code]), {"community": tree.community_b.pk}
    )
    tree.grid_a2.refresh_from_db()
    assert response.status_code == 302
    assert tree.grid_a2.parent == tree.community_b
    assert tree.grid_a2.code == tree.community_b.code + "002"
    assert AuditEntry.objects.filter(action=AuditAction.MOVE).count() == 1


def test_move_to_a_tampered_out_of_scope_community_is_refused(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.subdistrict_manager).post(
        reverse("regions:move", args=[tree.grid_a2.code]), {"community": tree.community_c.pk}
    )
    tree.grid_a2.refresh_from_db()
    assert response.status_code == 200
    assert response.context["form"].errors["community"]
    assert tree.grid_a2.parent == tree.community_a
    assert not AuditEntry.objects.filter(action=AuditAction.MOVE).exists()


def test_retire_a_grid_without_children(login: Any, personas: Any, tree: Any) -> None:
    response = login(personas.subdistrict_manager).post(
        reverse("regions:retire", args=[tree.grid_a2.code])
    )
    tree.grid_a2.refresh_from_db()
    assert response.status_code == 302
    assert tree.grid_a2.retired_at is not None


def test_retire_with_active_children_is_refused_with_a_message(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.subdistrict_manager)
    response = client.post(reverse("regions:retire", args=[tree.community_a.code]), follow=True)
    tree.community_a.refresh_from_db()
    assert tree.community_a.retired_at is None
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1
    assert not AuditEntry.objects.filter(action=AuditAction.RETIRE).exists()


def test_community_worker_cannot_retire(login: Any, personas: Any, tree: Any) -> None:
    response = login(personas.community_worker_a).post(
        reverse("regions:retire", args=[tree.grid_a2.code])
    )
    tree.grid_a2.refresh_from_db()
    assert response.status_code == 403
    assert tree.grid_a2.retired_at is None


def test_export_contains_the_visible_subtree_and_is_audited(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).get(reverse("regions:export"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == [tree.community_a.code, tree.grid_a1.code, tree.grid_a2.code]
    entry = AuditEntry.objects.get(action=AuditAction.EXPORT)
    assert entry.actor == personas.community_worker_a
    assert "3" in entry.note


def test_export_of_a_subtree_root_outside_scope_answers_404(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.community_worker_a).get(
        reverse("regions:export"), {"root": tree.community_b.code}
    )
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORT).exists()


def test_export_needs_the_export_permission(login: Any, personas: Any) -> None:
    response = login(personas.grid_worker).get(reverse("regions:export"))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORT).exists()
