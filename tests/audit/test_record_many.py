"""``record_many`` writes, for each object, the entry ``record`` would write: the same content,
chained, and hashed exactly as ``AuditEntry.compute_hash`` recomputes it from the database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry
from linli.core.context import acting_as

# Values that JSON encodes in ways a hand-built canonical form could get wrong: quotes,
# backslashes, control characters, non-ASCII text, numbers, dates, model instances, tuples.
AWKWARD_CHANGES: dict[str, Any] = {
    "zeta": ['say "hi"\\ \t\n', "锦源社区 — ✓"],
    "alpha": [None, 7],
    "floor": (3, Decimal("12.50")),
    "moved_in": [date(2024, 2, 29), None],
    "flag": [False, True],
    "single": "just text",
}


def _content_without_position(entry: AuditEntry) -> dict[str, Any]:
    content = entry.content()
    for key in ("seq", "at"):
        content.pop(key)
    return content


def test_bulk_entries_equal_single_entries_and_hash_as_verify_recomputes(
    tree: Any, personas: Any
) -> None:
    # Given awkward changes, a non-ASCII note and an IPv6 source address
    objects = [tree.grid_a1, tree.community_b, tree.grid_c1]
    items = [
        (objects[0], AWKWARD_CHANGES),
        (objects[1], None),
        (objects[2], {"name": ["旧名", "新名\u2028"]}),
    ]
    before = AuditEntry.objects.count()

    # When the same objects are recorded one by one and then in bulk
    with acting_as(personas.community_worker_a, source_ip="2001:DB8:0:0::1"):
        single = [
            audit.record(AuditAction.UPDATE, obj, changes=changes, note='导入 "job" 1', actor=None)
            for obj, changes in items
        ]
        written = audit.record_many(AuditAction.UPDATE, items, note='导入 "job" 1')

    # Then every bulk entry, read back from the database, holds what the single entry holds,
    # links to the one before it and carries the hash verification recomputes
    assert written == len(items)
    stored = list(AuditEntry.objects.order_by("seq")[before:])
    assert len(stored) == 2 * len(items)
    bulk = stored[len(items) :]
    for one, many in zip(single, bulk, strict=True):
        one.refresh_from_db()
        assert _content_without_position(many) == _content_without_position(one)
    assert bulk[0].changes["floor"] == ["3", "12.50"]
    assert bulk[0].changes["moved_in"] == ["2024-02-29", None]
    assert bulk[0].source_ip == "2001:db8::1"
    assert bulk[0].actor_id == personas.community_worker_a.pk
    for previous, entry in pairwise(stored):
        assert entry.prev_hash == previous.hash
        assert entry.seq == previous.seq + 1
    assert all(entry.compute_hash() == entry.hash for entry in stored)
    assert audit.verify_chain().ok


def test_bulk_entries_are_numbered_in_chain_order(tree: Any) -> None:
    # Given a chain with an entry already
    audit.record(AuditAction.UPDATE, tree.grid_a1, note="first")

    # When many entries are appended in one call
    audit.record_many(
        AuditAction.CREATE, [(tree.grid_a2, {"n": [None, str(n)]}) for n in range(700)]
    )

    # Then the order of insertion (the primary key, which verification walks) is the chain's
    entries = list(AuditEntry.objects.order_by("id").values_list("seq", flat=True))
    assert entries == sorted(entries)
    assert entries[-1] - entries[0] == 700
    assert audit.verify_chain().ok
