from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from transactional import transactional_db_with_audit  # noqa: F401  (fixture for this package)

from linli.audit import protection


@pytest.fixture
def audit_protected(db: Any) -> None:
    """The append-only triggers, installed inside the test's transaction (a transactional test
    that ran before may have lifted them for its flush)."""
    protection.install(connection)


@pytest.fixture
def audit_unprotected(db: Any) -> None:
    """What an attacker with the database owner's or a superuser's rights could do: switch the
    triggers off, inside the test's transaction (rolled back afterwards)."""
    protection.install(connection)
    with connection.cursor() as cursor:
        for table in protection.PROTECTED_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


@pytest.fixture
def audit_flush_ok(transactional_db_with_audit: None) -> None:  # noqa: F811
    """Alias of ``transactional_db_with_audit`` for this package's transactional tests."""
