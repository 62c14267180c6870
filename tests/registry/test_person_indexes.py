"""The people table's indexes as the migrations leave them: the blind indexes are searchable
(equality) and the ID number unique, without the LIKE twins no query uses and every insert
would pay for (an import writes 100,000 people at a time)."""

from __future__ import annotations

from typing import Any

from django.db import connection


def _indexes(table: str) -> dict[str, dict[str, Any]]:
    """Indexes and unique constraints, the primary key aside."""
    with connection.cursor() as cursor:
        return {
            name: info
            for name, info in connection.introspection.get_constraints(cursor, table).items()
            if (info["index"] or info["unique"]) and not info["primary_key"]
        }


def _definitions(table: str) -> list[str]:
    """PostgreSQL: every index's definition (operator classes included)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return [definition for (definition,) in cursor.fetchall()]


def test_blind_indexes_are_indexed_once_and_the_id_number_stays_unique(db: Any) -> None:
    indexes = _indexes("registry_person")
    on = {
        column: [name for name, info in indexes.items() if info["columns"] == [column]]
        for column in ("id_number_index", "phone_index")
    }

    # one plain index each (the exact search), and for the ID number its partial unique index
    assert sorted(on["id_number_index"]) == [
        "registry_person_id_index",
        "registry_person_unique_id_number",
    ]
    assert indexes["registry_person_unique_id_number"]["unique"]
    assert on["phone_index"] == ["registry_person_phone_index"]
    if connection.vendor == "postgresql":
        assert not [d for d in _definitions("registry_person") if "pattern_ops" in d]


def test_audit_entries_keep_only_the_indexes_their_queries_use(db: Any) -> None:
    indexes = _indexes("audit_auditentry")
    columns = sorted(info["columns"] for info in indexes.values())

    assert columns == [["action", "at"], ["at"], ["object_type", "object_id"], ["seq"]]
    assert [info["columns"] for info in indexes.values() if info["unique"]] == [["seq"]]
    if connection.vendor == "postgresql":
        assert not [d for d in _definitions("audit_auditentry") if "pattern_ops" in d]
