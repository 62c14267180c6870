"""``linli db harden``: PostgreSQL only; the app role keeps SELECT and INSERT and nothing else."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite refusal")
def test_harden_on_sqlite_is_a_clear_error(db: Any) -> None:
    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("db", "harden", "--app-role", "linli", "--owner-role", "linli_audit")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL-only behaviour")
def test_harden_leaves_the_app_role_only_select_and_insert(audit_protected: None) -> None:
    audit.record(AuditAction.UPDATE, object_type="x.y", note="before")
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE linli_test_app NOLOGIN")
        cursor.execute("GRANT ALL ON audit_auditentry, audit_auditcheckpoint TO linli_test_app")
    out = StringIO()
    call_command(
        "db",
        "harden",
        "--app-role",
        "linli_test_app",
        "--owner-role",
        "linli_test_owner",
        stdout=out,
    )
    assert "hardened" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename IN "
            "('audit_auditentry', 'audit_auditcheckpoint')"
        )
        assert {row[0] for row in cursor.fetchall()} == {"linli_test_owner"}
        for privilege, expected in [
            ("SELECT", True),
            ("INSERT", True),
            ("UPDATE", False),
            ("DELETE", False),
            ("TRUNCATE", False),
        ]:
            cursor.execute(
                "SELECT has_table_privilege('linli_test_app', 'audit_auditentry', %s)", [privilege]
            )
            assert cursor.fetchone()[0] is expected, privilege
    # Acting as the app role: appending works, deleting is refused by the missing right.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE linli_test_app")
    audit.record(AuditAction.UPDATE, object_type="x.y", note="after")
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AuditEntry.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    assert AuditEntry.objects.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL-only behaviour")
def test_harden_refuses_the_same_role_for_both(db: Any) -> None:
    with pytest.raises(CommandError, match="must differ"):
        call_command("db", "harden", "--app-role", "postgres", "--owner-role", "postgres")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL-only behaviour")
def test_harden_refuses_an_app_role_that_could_drop_the_tables(audit_protected: None) -> None:
    """Owning the schema lets a role DROP any table in it, hardening or not."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE linli_test_schema_owner NOLOGIN")
        cursor.execute(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"
        )
        original = cursor.fetchone()[0]
        cursor.execute("ALTER SCHEMA public OWNER TO linli_test_schema_owner")
    try:
        with pytest.raises(CommandError, match="could DROP them"):
            call_command(
                "db",
                "harden",
                "--app-role",
                "linli_test_schema_owner",
                "--owner-role",
                "linli_test_owner2",
                stdout=StringIO(),
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER SCHEMA public OWNER TO "{original}"')
