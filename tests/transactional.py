"""Transactional tests (``transactional_db``, ``live_server``) and the append-only audit tables.

pytest-django empties the database after a transactional test (TRUNCATE on PostgreSQL, DELETE
on SQLite), and the audit triggers refuse exactly that. Request ``transactional_db_with_audit``
instead of ``transactional_db``: it makes sure the protection is in place while the test runs,
and lifts it in its teardown, which runs before ``transactional_db``'s flush because it depends
on it.

How to use it from another test module::

    from transactional import transactional_db_with_audit  # noqa: F401  (re-export the fixture)

    def test_something(transactional_db_with_audit: None) -> None: ...

or, for a browser test on ``live_server``, add ``transactional_db_with_audit`` to the test's
arguments (or ``@pytest.mark.usefixtures("transactional_db_with_audit")``). After such a test
the triggers stay lifted (SQLite) or disabled (PostgreSQL) until a migration or
``protection.install`` puts them back, so a test that asserts the database refuses changes
installs them itself first (see ``tests/audit/conftest.py``: ``audit_protected``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from linli.audit import protection


def suspend_for_test_flush(connection: Any) -> None:
    """Lift the protection so pytest-django can empty the test database (superuser only).

    Kept in the tests on purpose: the product ships no code that removes the protection.
    """
    with connection.cursor() as cursor:
        for table in protection.PROTECTED_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


@pytest.fixture
def transactional_db_with_audit(transactional_db: Any) -> Iterator[None]:
    for connection in connections.all():
        protection.install(connection)
    yield
    for connection in connections.all():
        suspend_for_test_flush(connection)
