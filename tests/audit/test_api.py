"""Audit API: read-only entries and verification, for the audit administrator alone."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def test_audit_admin_lists_and_filters_entries(
    api: Any, personas: Any, django_assert_max_num_queries: Any
) -> None:
    audit.record(AuditAction.UPDATE, object_type="x.y", actor=personas.community_worker_a)
    audit.record(AuditAction.RETIRE, object_type="x.y", actor=personas.community_worker_b)
    client = api(personas.audit_admin)
    with django_assert_max_num_queries(6):
        response = client.get("/api/audit-entries/", {"actor": "worker_b"})
    rows = response.json()["results"]
    assert [row["action"] for row in rows] == ["retire"]


@pytest.mark.parametrize("persona", ["system_admin", "security_admin", "county_operator"])
def test_others_get_403_from_the_audit_api(api: Any, personas: Any, persona: str) -> None:
    entry = audit.record(AuditAction.UPDATE, object_type="x.y")
    client = api(getattr(personas, persona))
    assert client.get("/api/audit-entries/").status_code == 403
    assert client.get(f"/api/audit-entries/{entry.pk}/").status_code == 403
    assert client.get("/api/audit-verification/").status_code == 403
    assert client.post("/api/audit-verification/").status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.VERIFY).exists()


def test_entries_are_read_only(api: Any, personas: Any) -> None:
    entry = audit.record(AuditAction.UPDATE, object_type="x.y", note="kept")
    client = api(personas.audit_admin)
    assert (
        client.patch(f"/api/audit-entries/{entry.pk}/", {"note": "x"}, format="json").status_code
        == 405
    )
    assert client.delete(f"/api/audit-entries/{entry.pk}/").status_code == 405
    entry.refresh_from_db()
    assert entry.note == "kept"


def test_verification_get_and_audited_rerun(api: Any, personas: Any) -> None:
    audit.record(AuditAction.UPDATE, object_type="x.y")
    client = api(personas.audit_admin)
    body = client.get("/api/audit-verification/").json()
    assert body["ok"] is True and body["entries"] == 1
    rerun = client.post("/api/audit-verification/")
    assert rerun.status_code == 200
    assert (
        AuditEntry.objects.filter(action=AuditAction.VERIFY, actor=personas.audit_admin).count()
        == 1
    )
