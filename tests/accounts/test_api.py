"""Accounts API: the same rules as the pages, errors as JSON with Chinese messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from linli.accounts import services
from linli.accounts.models import ApiToken, Role, RoleAssignment, SecurityPolicy, User
from linli.audit.models import AuditEntry
from tests.conftest import make_user

PHONE = "13912345678"


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


# ---------------------------------------------------------------- users


def test_user_list_is_gated_and_masks_phones(
    api: Any, personas: Any, django_assert_max_num_queries: Any
) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    with django_assert_max_num_queries(10):
        response = api(personas.subdistrict_manager).get("/api/users/")

    assert response.status_code == 200
    rows = {row["username"]: row for row in response.json()["results"]}
    assert "worker_a" in rows
    assert "county_op" not in rows
    assert rows["worker_b"]["phone"] == "139****5678"
    assert PHONE not in response.content.decode()
    assert "totp" not in response.content.decode().replace("has_totp", "")


def test_user_list_is_forbidden_without_permission(api: Any, personas: Any) -> None:
    response = api(personas.community_worker_a).get("/api/users/")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "您无权执行此操作。"


def test_user_out_of_scope_is_404(api: Any, personas: Any) -> None:
    response = api(personas.subdistrict_manager).get(f"/api/users/{personas.county_operator.pk}/")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_user_search_by_phone_uses_the_blind_index(api: Any, personas: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    response = api(personas.county_operator).post("/api/users/search/", {"phone": PHONE})
    assert [row["username"] for row in response.json()] == ["worker_b"]


def test_system_admin_creates_a_user_through_the_api(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.system_admin).post(
        "/api/users/",
        {
            "username": "api_user",
            "display_name": "接口用户",
            "phone": PHONE,
            "home_region": tree.community_a.code,
        },
        format="json",
    )

    assert response.status_code == 201
    data = response.json()
    assert data["phone"] == "139****5678"
    assert data["must_change_password"] is True
    user = User.objects.get(username="api_user")
    assert user.check_password(data["initial_password"])


def test_security_admin_cannot_create_users_through_the_api(
    api: Any, personas: Any, tree: Any
) -> None:
    response = api(personas.security_admin).post(
        "/api/users/",
        {"username": "nope", "display_name": "x", "home_region": tree.county.code},
        format="json",
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="nope").exists()


def test_create_user_with_invalid_fields_gives_400_with_fields(api: Any, personas: Any) -> None:
    response = api(personas.system_admin).post(
        "/api/users/", {"username": "a b", "home_region": "999999"}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"username", "display_name", "home_region"} <= set(fields)
    assert not User.objects.filter(username="a b").exists()


def test_create_user_with_duplicate_name_is_refused(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.system_admin).post(
        "/api/users/",
        {"username": "WORKER_A", "display_name": "x", "home_region": tree.county.code},
        format="json",
    )
    assert response.status_code == 400
    assert error_code(response) == "username.taken"
    assert "已被占用" in response.json()["error"]["message"]


def test_system_admin_updates_a_user(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.system_admin).patch(
        f"/api/users/{personas.community_worker_a.pk}/",
        {"display_name": "新名字", "home_region": tree.community_b.code},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["home_region"] == tree.community_b.code
    assert User.objects.get(pk=personas.community_worker_a.pk).display_name == "新名字"


def test_county_operator_cannot_update_users(api: Any, personas: Any) -> None:
    response = api(personas.county_operator).patch(
        f"/api/users/{personas.community_worker_a.pk}/", {"display_name": "x"}, format="json"
    )
    assert response.status_code == 403
    assert User.objects.get(pk=personas.community_worker_a.pk).display_name == "worker_a"


def test_reset_password_and_set_active_actions(api: Any, personas: Any) -> None:
    client = api(personas.system_admin)
    target = personas.community_worker_a

    response = client.post(f"/api/users/{target.pk}/reset-password/")
    assert response.status_code == 200
    assert User.objects.get(pk=target.pk).check_password(response.json()["password"])

    response = client.post(f"/api/users/{target.pk}/set-active/", {"is_active": False}, "json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False


def test_security_admin_cannot_reset_passwords_or_disable(api: Any, personas: Any) -> None:
    client = api(personas.security_admin)
    target = personas.community_worker_a
    before = User.objects.get(pk=target.pk).password

    assert client.post(f"/api/users/{target.pk}/reset-password/").status_code == 403
    assert (
        client.post(f"/api/users/{target.pk}/set-active/", {"is_active": False}, "json").status_code
        == 403
    )
    after = User.objects.get(pk=target.pk)
    assert after.password == before
    assert after.is_active


def test_system_admin_cannot_disable_self(api: Any, personas: Any) -> None:
    me = personas.system_admin
    response = api(me).post(f"/api/users/{me.pk}/set-active/", {"is_active": False}, "json")
    assert response.status_code == 400
    assert User.objects.get(pk=me.pk).is_active


def test_reveal_phone_through_the_api_is_audited(api: Any, personas: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    response = api(personas.system_admin).post(
        f"/api/users/{personas.community_worker_b.pk}/reveal-phone/"
    )
    assert response.json() == {"phone": PHONE}
    assert AuditEntry.objects.filter(action="reveal").count() == 1

    denied = api(personas.county_operator).post(
        f"/api/users/{personas.community_worker_b.pk}/reveal-phone/"
    )
    assert denied.status_code == 403
    assert AuditEntry.objects.filter(action="reveal").count() == 1


# ---------------------------------------------------------------- roles and assignments


def test_security_admin_edits_a_role(api: Any, personas: Any) -> None:
    role = Role.objects.get(code="grid_worker")
    response = api(personas.security_admin).patch(
        f"/api/roles/{role.pk}/",
        {"permissions": ["regions.view_regionnode", "accounts.view_user"], "require_totp": True},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["permission_labels"]["accounts.view_user"] == "查看账号"
    role.refresh_from_db()
    assert role.require_totp


def test_role_edit_refuses_unknown_or_admin_permissions(api: Any, personas: Any) -> None:
    role = Role.objects.get(code="grid_worker")
    before = list(role.permissions)
    client = api(personas.security_admin)
    assert (
        client.patch(f"/api/roles/{role.pk}/", {"permissions": ["x.y"]}, format="json").status_code
        == 400
    )
    response = client.patch(
        f"/api/roles/{role.pk}/", {"permissions": ["accounts.add_user"]}, format="json"
    )
    assert error_code(response) == "permissions.separation"
    role.refresh_from_db()
    assert role.permissions == before


def test_system_admin_cannot_edit_roles_through_the_api(api: Any, personas: Any) -> None:
    role = Role.objects.get(code="grid_worker")
    client = api(personas.system_admin)
    assert client.get("/api/roles/").status_code == 403
    response = client.patch(f"/api/roles/{role.pk}/", {"require_totp": True}, format="json")
    assert response.status_code == 403
    role.refresh_from_db()
    assert not role.require_totp


def test_security_admin_grants_and_revokes_through_the_api(
    api: Any, personas: Any, tree: Any
) -> None:
    client = api(personas.security_admin)
    response = client.post(
        "/api/role-assignments/",
        {"user": personas.nobody.pk, "role": "grid_worker", "region": tree.grid_b1.code},
        format="json",
    )
    assert response.status_code == 201
    assignment_id = response.json()["id"]
    listed = client.get("/api/role-assignments/", {"user": personas.nobody.pk}).json()
    assert [row["id"] for row in listed["results"]] == [assignment_id]

    assert client.delete(f"/api/role-assignments/{assignment_id}/").status_code == 204
    assert not RoleAssignment.objects.filter(user=personas.nobody).exists()


def test_system_admin_cannot_grant_through_the_api(api: Any, personas: Any, tree: Any) -> None:
    response = api(personas.system_admin).post(
        "/api/role-assignments/",
        {"user": personas.nobody.pk, "role": "county_operator", "region": tree.county.code},
        format="json",
    )
    assert response.status_code == 403
    assert not RoleAssignment.objects.filter(user=personas.nobody).exists()


def test_grant_outside_scope_through_the_api_is_refused(api: Any, personas: Any, tree: Any) -> None:
    limited = make_user("sec_small", tree.subdistrict_1, None)
    RoleAssignment.objects.create(
        user=limited, role=Role.objects.get(code="security_admin"), region=tree.subdistrict_1
    )
    target = make_user("target", tree.community_a, None)

    response = api(limited).post(
        "/api/role-assignments/",
        {"user": target.pk, "role": "community_worker", "region": tree.community_c.code},
        format="json",
    )

    assert response.status_code == 400
    assert "region" in response.json()["error"]["fields"]
    assert not RoleAssignment.objects.filter(user=target).exists()


def test_grant_second_admin_role_through_the_api_is_refused(
    api: Any, personas: Any, tree: Any
) -> None:
    response = api(personas.security_admin).post(
        "/api/role-assignments/",
        {"user": personas.audit_admin.pk, "role": "system_admin", "region": tree.county.code},
        format="json",
    )
    assert response.status_code == 400
    assert error_code(response) == "role.separation"
    assert personas.audit_admin.assignments.count() == 1


def test_grant_to_self_through_the_api_is_refused(api: Any, personas: Any, tree: Any) -> None:
    me = personas.security_admin
    response = api(me).post(
        "/api/role-assignments/",
        {"user": me.pk, "role": "security_admin", "region": tree.province.code},
        format="json",
    )
    assert response.status_code in (400, 404)
    assert me.assignments.count() == 1


# ---------------------------------------------------------------- policy, me


def test_security_admin_updates_the_policy(api: Any, personas: Any) -> None:
    client = api(personas.security_admin)
    assert client.get("/api/security-policy/").json()["lockout_threshold"] == 5

    response = client.patch(
        "/api/security-policy/current/", {"lockout_threshold": 4}, format="json"
    )

    assert response.status_code == 200
    assert SecurityPolicy.current().lockout_threshold == 4


def test_policy_update_is_refused_to_the_system_admin(api: Any, personas: Any) -> None:
    response = api(personas.system_admin).patch(
        "/api/security-policy/current/", {"lockout_threshold": 4}, format="json"
    )
    assert response.status_code == 403
    assert SecurityPolicy.current().lockout_threshold == 5


def test_invalid_policy_is_refused(api: Any, personas: Any) -> None:
    response = api(personas.security_admin).patch(
        "/api/security-policy/current/", {"min_classes": 7}, format="json"
    )
    assert response.status_code == 400
    assert SecurityPolicy.current().min_classes == 3


def test_me_shows_roles_scope_and_permissions(api: Any, personas: Any) -> None:
    response = api(personas.community_worker_a).get("/api/me/")
    data = response.json()
    assert data["username"] == "worker_a"
    assert data["scope"] == ["370124001022"]
    assert [row["role"] for row in data["roles"]] == ["community_worker"]
    assert "regions.view_regionnode" in data["permissions"]


def test_me_needs_authentication(api: Any, db: Any) -> None:
    response = api().get("/api/me/")
    assert response.status_code in (401, 403)
    assert error_code(response) == "not_authenticated"


def test_audit_admin_and_system_admin_lack_audit_permission(api: Any, personas: Any) -> None:
    assert personas.system_admin.has_perm("audit.view_auditentry") is False
    data = api(personas.system_admin).get("/api/me/").json()
    assert "audit.view_auditentry" not in data["permissions"]


# ---------------------------------------------------------------- tokens


def issue(api: Any, personas: Any, tree: Any, **extra: Any) -> tuple[User, str, int]:
    system = make_user("city_platform", tree.county, "integration")
    response = api(personas.system_admin).post(
        "/api/api-tokens/", {"user": system.pk, "name": "市平台", **extra}, format="json"
    )
    assert response.status_code == 201
    return system, response.json()["token"], response.json()["id"]


def test_api_token_authenticates_a_system(api: Any, personas: Any, tree: Any) -> None:
    _system, raw, _pk = issue(api, personas, tree)
    assert not ApiToken.objects.filter(token_hash__contains=raw).exists()

    response = APIClient().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert response.json()["username"] == "city_platform"


def test_revoked_token_gets_401_json(api: Any, personas: Any, tree: Any) -> None:
    _system, raw, pk = issue(api, personas, tree)
    assert api(personas.system_admin).delete(f"/api/api-tokens/{pk}/").status_code == 204

    response = APIClient().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"
    assert "无效或已过期" in response.json()["error"]["message"]


def test_expired_token_gets_401_json(api: Any, personas: Any, tree: Any) -> None:
    _system, raw, pk = issue(api, personas, tree)
    ApiToken.objects.filter(pk=pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = APIClient().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 401


def test_tokens_cannot_be_issued_by_others(api: Any, personas: Any, tree: Any) -> None:
    system = make_user("city_platform", tree.county, "integration")
    response = api(personas.security_admin).post(
        "/api/api-tokens/", {"user": system.pk, "name": "x"}, format="json"
    )
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


# ---------------------------------------------------------------- malformed requests


def test_malformed_json_gets_400_in_chinese(api: Any, personas: Any) -> None:
    response = api(personas.system_admin).generic(
        "POST", "/api/users/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_code(response) == "malformed"
    assert response.json()["error"]["message"] == "请求体不是有效的 JSON。"


def test_oversize_body_gets_413_in_chinese(api: Any, personas: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    payload = '{"username": "' + "x" * 4096 + '"}'
    response = api(personas.system_admin).generic(
        "POST", "/api/users/", payload, content_type="application/json"
    )
    assert response.status_code == 413
    assert error_code(response) == "too_large"
    assert not User.objects.filter(username__startswith="xxx").exists()


def test_session_api_post_without_csrf_is_refused(client: Client, personas: Any) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(personas.system_admin)
    response = csrf_client.post(
        f"/api/users/{personas.community_worker_a.pk}/reset-password/",
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not User.objects.get(pk=personas.community_worker_a.pk).must_change_password


def test_phone_search_is_a_post_and_never_a_query_string(api: Any, personas: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    client = api(personas.county_operator)

    found = client.post("/api/users/search/", {"phone": "+86 139 1234 5678"}, format="json")
    by_url = client.get("/api/users/", {"q": PHONE})

    assert [u["username"] for u in found.json()] == ["worker_b"]
    assert PHONE not in found.content.decode()
    assert by_url.json()["count"] == 0
