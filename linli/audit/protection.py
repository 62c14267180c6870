"""Database-level refusal of UPDATE, DELETE and TRUNCATE on the audit tables.

PostgreSQL: a trigger function raising an error, attached BEFORE UPDATE OR DELETE (per row) and
BEFORE TRUNCATE (per statement), enabled ALWAYS so it still fires under
``session_replication_role = replica``. SQLite: BEFORE UPDATE and BEFORE DELETE triggers that
abort (SQLite has no TRUNCATE; ``DELETE FROM`` fires the trigger).
"""

from __future__ import annotations

from typing import Any

PROTECTED_TABLES = ("audit_auditentry", "audit_auditcheckpoint")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION linli_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'linli audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def _pg_statements(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION linli_audit_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION linli_audit_append_only()",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_change",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate",
    ]


def _sqlite_statements(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'linli audit trail is append-only: UPDATE refused'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'linli audit trail is append-only: DELETE refused'); END",
    ]


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
            for table in PROTECTED_TABLES:
                for statement in _pg_statements(table):
                    cursor.execute(statement)
        elif connection.vendor == "sqlite":
            for table in PROTECTED_TABLES:
                for statement in _sqlite_statements(table):
                    cursor.execute(statement)
        else:
            raise RuntimeError(f"audit protection is not written for {connection.vendor}")


class HardeningError(RuntimeError):
    """The database or the roles given cannot be hardened as asked."""


def harden_postgres(connection: Any, app_role: str, owner_role: str) -> list[str]:
    """Give the audit tables a separate owner and leave the app role only SELECT and INSERT.

    Run as a superuser (or a role that may act as both roles). The triggers stop everyone,
    the owner included; this removes the app role's right to disable them, to change the
    trigger function and to UPDATE, DELETE or TRUNCATE at all.
    """
    if connection.vendor != "postgresql":
        raise HardeningError(
            f"database hardening is only for PostgreSQL; this database is {connection.vendor} "
            "(SQLite is protected by its triggers alone)"
        )
    if app_role == owner_role:
        raise HardeningError("the owner role must differ from the application role")
    quote = connection.ops.quote_name
    done: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role])
        row = cursor.fetchone()
        if row is None:
            raise HardeningError(f"the application role {app_role} does not exist")
        if row[0]:
            done.append(
                f"warning: {app_role} is a superuser; only the triggers restrain it. "
                "Run the platform as an ordinary role."
            )
        # Whoever owns the database's schema may DROP any table in it, audit tables included:
        # the app role must not own the database or the schema the tables live in.
        cursor.execute(
            "SELECT pg_get_userbyid(d.datdba), pg_get_userbyid(n.nspowner), "
            "pg_has_role(%s, n.nspowner, 'MEMBER') "
            "FROM pg_database d, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE d.datname = current_database() AND c.relname = %s",
            [app_role, PROTECTED_TABLES[0]],
        )
        db_owner, schema_owner, owns_schema = cursor.fetchone()
        if db_owner == app_role or (owns_schema and not row[0]):
            raise HardeningError(
                f"{app_role} owns the database ({db_owner}) or the schema of the audit tables "
                f"({schema_owner}), so it could DROP them. Give the database and schema to "
                f"another role (e.g. ALTER DATABASE ... OWNER TO {owner_role}; ALTER SCHEMA "
                f"public OWNER TO {owner_role}) and GRANT {app_role} USAGE, CREATE on the schema."
            )
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [owner_role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {quote(owner_role)} NOLOGIN")
            done.append(f"created role {owner_role}")
        cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [app_role, owner_role])
        if cursor.fetchone()[0]:
            cursor.execute(f"REVOKE {quote(owner_role)} FROM {quote(app_role)}")
            done.append(f"{app_role} is no longer a member of {owner_role}")
        for table in PROTECTED_TABLES:
            # The identity sequence belongs to the table and changes owner with it.
            cursor.execute(f"ALTER TABLE {table} OWNER TO {quote(owner_role)}")
            cursor.execute(f"REVOKE ALL ON {table} FROM PUBLIC, {quote(app_role)}")
            cursor.execute(f"GRANT SELECT, INSERT ON {table} TO {quote(app_role)}")
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            seq = cursor.fetchone()
            if seq and seq[0]:
                cursor.execute(f"GRANT USAGE, SELECT ON SEQUENCE {seq[0]} TO {quote(app_role)}")
            done.append(f"{table}: owner {owner_role}; {app_role} may only SELECT and INSERT")
        cursor.execute(f"ALTER FUNCTION linli_audit_append_only() OWNER TO {quote(owner_role)}")
        done.append(f"trigger function linli_audit_append_only: owner {owner_role}")
    return done
