"""The audit trail: tamper detection by ``linli audit verify``, refusal by the database itself,
same-transaction recording, and a linear chain under concurrent appends."""

from __future__ import annotations

import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.audit.models import AuditCheckpoint, AuditEntry
from linli.regions.services import rename_region

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL-only behaviour (the suite runs on both)"
)
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite-only behaviour")


def _append(count: int) -> list[AuditEntry]:
    return [
        audit.record(AuditAction.UPDATE, object_type="test.thing", object_id=str(n), note=f"n{n}")
        for n in range(count)
    ]


def _verify() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit", "verify", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def _sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


# ------------------------------------------------------------------ verify: intact and tampered


def test_verify_of_an_intact_chain_exits_zero_with_a_summary(audit_protected: None) -> None:
    _append(4)
    audit.create_checkpoint()
    code, out, _err = _verify()
    assert code == 0
    assert "4 entries, 1 checkpoints" in out


def test_changed_note_is_named_by_seq_and_id(audit_unprotected: None) -> None:
    entries = _append(5)
    _sql("UPDATE audit_auditentry SET note = %s WHERE id = %s", ["edited", entries[2].id])
    code, _out, err = _verify()
    assert code == 1
    assert f"first bad entry seq 3, id {entries[2].id}" in err
    assert "changed after it was written" in err


def test_entry_deleted_in_the_middle_is_detected_at_the_gap(audit_unprotected: None) -> None:
    entries = _append(5)
    _sql("DELETE FROM audit_auditentry WHERE id = %s", [entries[2].id])
    code, _out, err = _verify()
    assert code == 1
    assert f"first bad entry seq 4, id {entries[3].id}" in err
    assert "expected 3" in err


def test_tail_deleted_after_a_checkpoint_is_detected(audit_unprotected: None) -> None:
    entries = _append(5)
    assert audit.create_checkpoint() is not None
    _sql("DELETE FROM audit_auditentry WHERE id >= %s", [entries[3].id])
    code, _out, err = _verify()
    assert code == 1
    assert "first bad entry seq 4 (removed)" in err
    assert "the tail was removed" in err


def test_tail_replaced_after_a_checkpoint_is_detected(audit_unprotected: None) -> None:
    entries = _append(5)
    audit.create_checkpoint()
    _sql("DELETE FROM audit_auditentry WHERE id >= %s", [entries[3].id])
    replacement = _append(2)  # a clean-looking chain again, but not the one that was signed
    code, _out, err = _verify()
    assert code == 1
    assert f"first bad entry seq 5, id {replacement[1].id}" in err


def test_swapped_seq_is_detected_as_reordering(audit_unprotected: None) -> None:
    entries = _append(5)
    second, third = entries[1], entries[2]
    _sql("UPDATE audit_auditentry SET seq = 999999 WHERE id = %s", [second.id])
    _sql("UPDATE audit_auditentry SET seq = 2 WHERE id = %s", [third.id])
    _sql("UPDATE audit_auditentry SET seq = 3 WHERE id = %s", [second.id])
    code, _out, err = _verify()
    assert code == 1
    assert f"first bad entry seq 3, id {second.id}" in err
    assert "removed or reordered" in err


def test_forged_checkpoint_signature_is_detected(audit_unprotected: None) -> None:
    _append(3)
    checkpoint = audit.create_checkpoint()
    assert checkpoint is not None
    _sql(
        "UPDATE audit_auditcheckpoint SET signature = %s WHERE id = %s", ["00" * 64, checkpoint.id]
    )
    code, _out, err = _verify()
    assert code == 1
    assert "signature is not valid" in err


def test_checkpoint_command_signs_once_per_new_head(audit_protected: None) -> None:
    _append(2)
    out = StringIO()
    call_command("audit", "checkpoint", stdout=out)
    call_command("audit", "checkpoint", stdout=out)
    assert AuditCheckpoint.objects.count() == 1
    assert "Nothing new to sign" in out.getvalue()


# ------------------------------------------------------------------ the database refuses changes


@sqlite_only
def test_sqlite_refuses_update_and_delete_of_entries(audit_protected: None) -> None:
    entries = _append(2)
    for statement in ("UPDATE audit_auditentry SET note = 'x'", "DELETE FROM audit_auditentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _sql(statement)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entries[0].pk).delete()
    assert list(AuditEntry.objects.order_by("seq").values_list("note", flat=True)) == ["n0", "n1"]


@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET note = 'x'",
        "DELETE FROM audit_auditentry",
        "TRUNCATE audit_auditentry",
        "UPDATE audit_auditcheckpoint SET seq = 0",
        "TRUNCATE audit_auditcheckpoint",
    ],
)
def test_postgres_refuses_changes_even_as_superuser_in_replica_mode(
    audit_protected: None, statement: str
) -> None:
    _append(2)
    audit.create_checkpoint()
    _sql("SET LOCAL session_replication_role = replica")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _sql(statement)
    assert list(AuditEntry.objects.order_by("seq").values_list("note", flat=True)) == ["n0", "n1"]
    assert AuditCheckpoint.objects.filter(seq=2).count() == 1


# ------------------------------------------------------------------ same transaction


def test_a_service_that_fails_after_recording_leaves_no_entry(
    audit_protected: None, personas: Any, tree: Any
) -> None:
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        rename_region(personas.community_worker_a, tree.grid_a1, "新名字")
        assert AuditEntry.objects.count() == before + 1
        raise RuntimeError("a later step fails")
    tree.grid_a1.refresh_from_db()
    assert AuditEntry.objects.count() == before
    assert tree.grid_a1.name == "锦源第一网格"


def test_personal_fields_are_masked_in_changes() -> None:
    from linli.accounts.models import User

    changes = audit.changes_between(User, {"phone": ""}, {"phone": "13812345678"})
    assert changes == {"phone": ["", audit.MASKED]}


# ------------------------------------------------------------------ concurrent appends


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_the_chain_linear(transactional_db_with_audit: None) -> None:
    writers, per_writer = 4, 10
    errors: list[BaseException] = []

    def write() -> None:
        try:
            _append(per_writer)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    if connection.vendor == "postgresql":
        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        # SQLite serialises writers on one lock anyway; sequential appends are the same test.
        for _ in range(writers):
            _append(per_writer)
    assert errors == []
    seqs = list(AuditEntry.objects.order_by("id").values_list("seq", flat=True))
    assert seqs == list(range(1, writers * per_writer + 1))
    result = audit.verify_chain()
    assert result.ok, result.problems


def test_entries_hash_the_same_after_a_round_trip_through_the_database(
    audit_protected: None, personas: Any, tree: Any
) -> None:
    # PostgreSQL's inet rewrites IPv6 and jsonb reorders keys: the hash must survive both.
    audit.record(
        AuditAction.UPDATE,
        tree.grid_a1,
        actor=personas.community_worker_a,
        source_ip="2001:DB8:0:0::1",
        changes={"z": [1, 2], "a": ["x", None]},
    )
    audit.record(AuditAction.UPDATE, personas.resident, actor=personas.system_admin)
    assert audit.verify_chain().ok
    user_entry = AuditEntry.objects.get(object_type="accounts.user")
    assert user_entry.region_code == tree.community_a.code


def test_record_many_chains_every_object_and_verifies(tree: Any) -> None:
    from linli.audit.services import record_many, verify_chain

    before = AuditEntry.objects.count()
    written = record_many(
        AuditAction.CREATE,
        [(tree.grid_a1, {"name": [None, "x"]}), (tree.grid_a2, None), (tree.grid_b1, None)],
        note="bulk",
    )

    assert written == 3
    entries = list(AuditEntry.objects.order_by("seq")[before:])
    assert [e.object_id for e in entries] == [
        str(tree.grid_a1.pk),
        str(tree.grid_a2.pk),
        str(tree.grid_b1.pk),
    ]
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert entries[0].region_code == tree.grid_a1.code
    assert verify_chain().ok


def test_removed_tail_and_checkpoints_are_caught_by_the_anchor_file(
    tree: Any, settings: Any, tmp_path: Any
) -> None:
    """A DBA who deletes the tail AND the checkpoint rows is still caught by the copy of each
    checkpoint kept outside the database."""
    from transactional import suspend_for_test_flush

    from linli.audit.protection import install

    settings.LINLI_AUDIT_ANCHOR_FILE = str(tmp_path / "anchors.jsonl")
    for number in range(6):
        audit.record(AuditAction.UPDATE, tree.grid_a1, note=f"n{number}")
    with transaction.atomic():
        checkpoint = audit.create_checkpoint()
    assert checkpoint is not None
    # on_commit does not fire inside the test's transaction: append as the commit would.
    audit.append_anchor(checkpoint)
    suspend_for_test_flush(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE seq > %s", [checkpoint.seq - 2])
            cursor.execute("DELETE FROM audit_auditcheckpoint")
    finally:
        install(connection)

    without_anchor = audit.verify_chain(anchors=tmp_path / "missing.jsonl")
    with_anchor = audit.verify_chain()

    assert without_anchor.ok  # what the database alone can tell: nothing
    assert not with_anchor.ok
    assert with_anchor.first_bad_seq == checkpoint.seq - 1
    assert any("tail was removed" in problem for problem in with_anchor.problems)


def test_a_malformed_anchor_file_is_reported(tree: Any, tmp_path: Any) -> None:
    anchors = tmp_path / "anchors.jsonl"
    anchors.write_text("not json\n", encoding="utf-8")
    result = audit.verify_chain(anchors=anchors)
    assert not result.ok
    assert "line 1 is malformed" in result.problems[0]
