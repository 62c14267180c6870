"""The audit administrator's pages: only the audit administrator opens them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@pytest.mark.parametrize(
    "persona",
    ["system_admin", "security_admin", "county_operator", "community_worker_a", "nobody"],
)
@pytest.mark.parametrize("name", ["audit:entry_list", "audit:verification"])
def test_only_the_audit_admin_opens_the_audit_pages(
    login: Any, personas: Any, persona: str, name: str
) -> None:
    assert login(getattr(personas, persona)).get(reverse(name)).status_code == 403


def test_entry_detail_is_refused_to_the_system_admin(login: Any, personas: Any) -> None:
    entry = audit.record(AuditAction.UPDATE, object_type="x.y", note="secret")
    response = login(personas.system_admin).get(reverse("audit:entry_detail", args=[entry.pk]))
    assert response.status_code == 403
    assert b"secret" not in response.content


def test_anonymous_visitor_is_sent_to_login(client: Any) -> None:
    response = client.get(reverse("audit:entry_list"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_search_by_actor_action_and_object(
    login: Any, personas: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    audit.record(AuditAction.UPDATE, tree.grid_a1, actor=personas.community_worker_a, note="mine")
    audit.record(AuditAction.RETIRE, tree.grid_b1, actor=personas.community_worker_b, note="theirs")
    client = login(personas.audit_admin)
    with django_assert_max_num_queries(16):  # 16: the navigation counts unread notifications
        response = client.get(reverse("audit:entry_list"), {"actor": "worker_a"})
    assert [e.note for e in response.context["page"]] == ["mine"]
    response = client.get(reverse("audit:entry_list"), {"action": "retire"})
    assert [e.note for e in response.context["page"]] == ["theirs"]
    response = client.get(
        reverse("audit:entry_list"),
        {"object_type": "regions.regionnode", "object_id": str(tree.grid_a1.pk)},
    )
    assert [e.note for e in response.context["page"]] == ["mine"]


def test_search_by_time_range(login: Any, personas: Any) -> None:
    entry = audit.record(AuditAction.UPDATE, object_type="x.y", note="in range")
    client = login(personas.audit_admin)
    stamp = entry.at.astimezone().strftime("%Y-%m-%dT%H:%M")
    hit = client.get(reverse("audit:entry_list"), {"since": stamp})
    assert "in range" in [e.note for e in hit.context["page"]]
    miss = client.get(reverse("audit:entry_list"), {"until": "2000-01-01T00:00"})
    assert list(miss.context["page"]) == []


def test_bad_time_is_a_form_error_not_a_500(login: Any, personas: Any) -> None:
    response = login(personas.audit_admin).get(reverse("audit:entry_list"), {"since": "yesterday"})
    assert response.status_code == 200
    assert response.context["search"].form.errors["since"]


def test_entry_detail_shows_field_changes(login: Any, personas: Any, tree: Any) -> None:
    entry = audit.record(AuditAction.UPDATE, tree.grid_a1, changes={"name": ["旧名字", "新名字"]})
    response = login(personas.audit_admin).get(reverse("audit:entry_detail", args=[entry.pk]))
    assert response.status_code == 200
    assert response.context["changes"] == [("name", "旧名字", "新名字")]
    assert response.context["hash_ok"] is True


def test_verification_panel_is_cached_and_rerun_is_audited(login: Any, personas: Any) -> None:
    audit.record(AuditAction.UPDATE, object_type="x.y")
    client = login(personas.audit_admin)
    first = client.get(reverse("audit:verification")).context["verification"]
    assert first.ok and first.entries == 1
    audit.record(AuditAction.UPDATE, object_type="x.y")
    cached = client.get(reverse("audit:verification")).context["verification"]
    assert cached.entries == 1  # served from the cache
    response = client.post(reverse("audit:verify"))
    assert response.status_code == 302
    rerun = client.get(reverse("audit:verification")).context["verification"]
    assert rerun.entries == 2
    verify_entry = AuditEntry.objects.get(action=AuditAction.VERIFY)
    assert verify_entry.actor == personas.audit_admin


def test_rerun_is_refused_to_others_and_not_audited(login: Any, personas: Any) -> None:
    response = login(personas.system_admin).post(reverse("audit:verify"))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.VERIFY).exists()


def test_checkpoints_are_listed(login: Any, personas: Any) -> None:
    audit.record(AuditAction.UPDATE, object_type="x.y")
    checkpoint = audit.create_checkpoint()
    response = login(personas.audit_admin).get(reverse("audit:verification"))
    assert [cp.pk for cp in response.context["checkpoints"]] == [checkpoint.pk]


def test_a_long_chain_is_not_verified_inside_the_page_request(
    login: Any, personas: Any, monkeypatch: Any
) -> None:
    from django.core.cache import cache

    from linli.audit import services

    services.record(AuditAction.LOGIN, personas.audit_admin)
    cache.delete(services.VERIFICATION_CACHE_KEY)
    monkeypatch.setattr(services, "INLINE_VERIFY_LIMIT", 0)
    calls: list[str] = []
    monkeypatch.setattr(services, "enqueue", lambda path, *args: calls.append(path))

    response = login(personas.audit_admin).get("/audit/")

    assert response.status_code == 200
    assert "正在后台校验" in response.content.decode()
    assert calls == ["linli.audit.services.refresh_verification"]
