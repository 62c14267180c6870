from __future__ import annotations

from typing import Any

from linli.regions.models import RegionNode
from linli.utilities.scope import code_in_scope, normalise_codes


def test_normalise_drops_codes_inside_others() -> None:
    assert normalise_codes(["370124001022", "370124", "370125001"]) == ("370124", "370125001")


def test_code_in_scope_is_prefix_based() -> None:
    assert code_in_scope("370124001022001", ("370124001022",))
    assert not code_in_scope("370124001018001", ("370124001022",))


def test_within_returns_exactly_the_subtrees(tree: Any) -> None:
    codes = set(
        RegionNode.objects.within([tree.community_a.code, tree.grid_c1.code]).values_list(
            "code", flat=True
        )
    )
    assert codes == {tree.community_a.code, tree.grid_a1.code, tree.grid_a2.code, tree.grid_c1.code}


def test_within_handles_a_code_ending_in_nine(db: Any) -> None:
    parent = RegionNode.objects.create(code="370129", name="x", level="county")
    inside = RegionNode.objects.create(
        code="370129001", name="y", level="subdistrict", parent=parent
    )
    RegionNode.objects.create(code="370130", name="z", level="county")
    assert list(RegionNode.objects.within(["370129"]).order_by("code")) == [parent, inside]


def test_visible_to_unions_assignments_and_needs_permission(personas: Any, tree: Any) -> None:
    worker = personas.community_worker_a
    visible = set(RegionNode.objects.visible_to(worker).values_list("code", flat=True))
    assert tree.community_a.code in visible and tree.grid_a1.code in visible
    assert tree.community_b.code not in visible and tree.county.code not in visible
    # The audit administrator holds no region permission: the gate shows nothing.
    assert not RegionNode.objects.visible_to(personas.audit_admin).exists()


def test_visible_to_anonymous_is_empty(tree: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not RegionNode.objects.visible_to(AnonymousUser()).exists()


def test_subtree_query_uses_an_index_range(tree: Any) -> None:
    sql = str(RegionNode.objects.within([tree.community_a.code]).query)
    assert ">=" in sql and "<" in sql
