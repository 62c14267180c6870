"""Fixtures of the self-assessment tests: the register of ``tests/registry`` (re-exported), the
audit trail's database protection in place, and helpers to build figure sets."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from registry.conftest import Register, default_tags, register  # noqa: F401  (fixtures)

from linli.assessment.standard import Standard, load_standard
from linli.audit import protection


@pytest.fixture
def standard() -> Standard:
    return load_standard()


@pytest.fixture
def audit_protected(db: Any) -> None:
    """The append-only triggers, as a migrated database has them (a transactional test that ran
    before in this process may have lifted them for its flush)."""
    protection.install(connection)
