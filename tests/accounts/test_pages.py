"""Account, role and policy pages: who may do what (三员分立), the scope gate, reveal auditing."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.db import connection

from linli.accounts import services
from linli.accounts.models import Role, RoleAssignment, SecurityPolicy, User
from linli.audit.models import AuditEntry
from tests.conftest import make_user

PHONE = "13912345678"


def body(response: Any) -> str:
    return str(response.content.decode())


# ---------------------------------------------------------------- the three administrators


def test_admin_permissions_are_separated(personas: Any) -> None:
    system, security, audit = personas.system_admin, personas.security_admin, personas.audit_admin

    assert system.has_perm("accounts.add_user")
    assert not system.has_perm("accounts.assign_role")
    assert not system.has_perm("audit.view_auditentry")
    assert security.has_perm("accounts.assign_role")
    assert not security.has_perm("accounts.add_user")
    assert not security.has_perm("audit.view_auditentry")
    assert audit.has_perm("audit.view_auditentry")
    assert not audit.has_perm("accounts.view_user")
    assert not audit.has_perm("accounts.assign_role")


def test_system_admin_cannot_open_the_audit_pages(login: Any, personas: Any) -> None:
    response = login(personas.system_admin).get("/audit/")
    assert response.status_code in (403, 404)


def test_no_account_holds_two_admin_roles(personas: Any, tree: Any) -> None:
    with pytest.raises(services.ServiceError) as refused:
        services.grant_role(
            personas.security_admin,
            personas.system_admin,
            Role.objects.get(code="audit_admin"),
            tree.county,
        )
    assert refused.value.code == "role.separation"
    assert personas.system_admin.assignments.count() == 1


def test_admin_cannot_also_hold_a_business_role(personas: Any, tree: Any) -> None:
    with pytest.raises(services.ServiceError):
        services.grant_role(
            personas.security_admin,
            personas.system_admin,
            Role.objects.get(code="county_operator"),
            tree.county,
        )
    assert not personas.system_admin.assignments.filter(role__code="county_operator").exists()


def test_security_admin_cannot_grant_to_self(personas: Any, tree: Any) -> None:
    with pytest.raises(services.ServiceError) as refused:
        services.grant_role(
            personas.security_admin,
            personas.security_admin,
            Role.objects.get(code="county_operator"),
            tree.county,
        )
    assert refused.value.code == "role.self_grant"


# ---------------------------------------------------------------- user list and scope


def test_county_operator_sees_the_county_users(
    login: Any, personas: Any, django_assert_max_num_queries: Any
) -> None:
    client = login(personas.county_operator)
    with django_assert_max_num_queries(16):
        response = client.get("/accounts/users/")
    assert response.status_code == 200
    text = body(response)
    for name in ("worker_a", "worker_b", "grid_a1", "sysadmin"):
        assert name in text


def test_user_list_query_count_does_not_grow_with_users(
    login: Any, personas: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    for index in range(20):
        make_user(f"extra{index}", tree.community_a, "community_worker")
    client = login(personas.county_operator)
    with django_assert_max_num_queries(16):
        response = client.get("/accounts/users/")
    assert "extra19" in body(response)


def test_subdistrict_manager_sees_only_their_subdistrict(
    login: Any, personas: Any, tree: Any
) -> None:
    make_user("worker_c", tree.community_c, "community_worker")
    response = login(personas.subdistrict_manager).get("/accounts/users/")

    text = body(response)
    assert "worker_a" in text
    assert "worker_c" not in text
    assert f"/accounts/users/{personas.county_operator.pk}/" not in text


def test_community_worker_has_no_user_list(login: Any, personas: Any) -> None:
    response = login(personas.community_worker_a).get("/accounts/users/")
    assert response.status_code == 403
    assert "worker_b" not in body(response)


def test_user_outside_scope_answers_404(login: Any, personas: Any) -> None:
    response = login(personas.subdistrict_manager).get(
        f"/accounts/users/{personas.county_operator.pk}/"
    )
    assert response.status_code == 404


def test_user_list_filters_by_role_and_status(login: Any, personas: Any) -> None:
    client = login(personas.county_operator)
    text = body(client.get("/accounts/users/", {"role": "grid_worker"}))
    assert "grid_a1" in text
    assert "worker_a" not in text

    User.objects.filter(pk=personas.community_worker_b.pk).update(is_active=False)
    text = body(client.get("/accounts/users/", {"is_active": "false"}))
    assert "worker_b" in text
    assert "worker_a" not in text


def test_user_list_searches_name_and_phone_through_the_blind_index(
    login: Any, personas: Any
) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    client = login(personas.county_operator)

    text = body(client.post("/accounts/users/", {"q": "139 1234 5678"}))
    assert "worker_b" in text
    assert "worker_a" not in text
    assert PHONE not in text
    assert "139****5678" in text
    # Never from a URL: a phone number in the query string matches nothing.
    assert "worker_b" not in body(client.get("/accounts/users/", {"q": PHONE}))

    text = body(client.get("/accounts/users/", {"q": "worker_a"}))
    assert "worker_a" in text
    assert "worker_b" not in text


def test_phone_search_is_restricted_by_the_gate(personas: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)

    assert services.find_user_by_phone(PHONE) == personas.community_worker_b
    assert services.find_user_by_phone(PHONE, personas.county_operator) == (
        personas.community_worker_b
    )
    assert services.find_user_by_phone(PHONE, personas.community_worker_a) is None


def test_phone_is_stored_encrypted(personas: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)

    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_index FROM accounts_user")
        rows = cursor.fetchall()
    assert all(PHONE not in (phone or "") and PHONE not in index for phone, index in rows)
    assert User.objects.get(pk=personas.community_worker_b.pk).phone == PHONE


# ---------------------------------------------------------------- reveal


def test_reveal_shows_the_phone_and_is_audited(login: Any, personas: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    client = login(personas.system_admin)
    page = body(client.get(f"/accounts/users/{personas.community_worker_b.pk}/"))
    assert "139****5678" in page
    assert PHONE not in page
    assert "hx-post" in page

    response = client.post(
        f"/accounts/users/{personas.community_worker_b.pk}/phone/", HTTP_HX_REQUEST="true"
    )

    assert PHONE in body(response)
    entry = AuditEntry.objects.filter(action="reveal").latest("seq")
    assert entry.actor_id == personas.system_admin.pk
    assert entry.object_id == str(personas.community_worker_b.pk)


def test_reveal_is_refused_without_permission(login: Any, personas: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    client = login(personas.county_operator)
    assert "hx-post" not in body(client.get(f"/accounts/users/{personas.community_worker_b.pk}/"))

    response = client.post(f"/accounts/users/{personas.community_worker_b.pk}/phone/")

    assert response.status_code == 403
    assert PHONE not in body(response)
    assert not AuditEntry.objects.filter(action="reveal").exists()


# ---------------------------------------------------------------- system administrator's pages


def test_system_admin_creates_a_user_and_sees_the_one_time_password_once(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.system_admin)
    assert client.get("/accounts/users/new/").status_code == 200

    response = client.post(
        "/accounts/users/new/",
        {
            "username": "new_grid",
            "display_name": "网格员乙",
            "phone": "+86 139-1234-5678",
            "home_region": tree.grid_a2.code,
        },
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    user = User.objects.get(username="new_grid")
    assert user.phone == PHONE
    assert user.must_change_password
    assert user.home_region == tree.grid_a2
    assert AuditEntry.objects.filter(action="create", object_id=str(user.pk)).exists()
    assert "一次性密码" in body(response)


def test_create_user_with_region_outside_scope_is_refused(
    login: Any, personas: Any, tree: Any
) -> None:
    limited = make_user("sys_small", tree.subdistrict_1, None)
    RoleAssignment.objects.create(
        user=limited, role=Role.objects.get(code="system_admin"), region=tree.subdistrict_1
    )
    response = login(limited).post(
        "/accounts/users/new/",
        {"username": "sneaky", "display_name": "x", "home_region": tree.community_c.code},
    )

    assert response.status_code == 200
    assert "区划不存在或不在您的范围内" in body(response)
    assert not User.objects.filter(username="sneaky").exists()


def test_create_user_with_bad_phone_shows_chinese_error(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.system_admin).post(
        "/accounts/users/new/",
        {"username": "badphone", "display_name": "x", "phone": "12345", "home_region": "370124"},
    )
    assert "手机号" in body(response)
    assert not User.objects.filter(username="badphone").exists()


def test_security_admin_cannot_create_users(login: Any, personas: Any, tree: Any) -> None:
    client = login(personas.security_admin)
    assert client.get("/accounts/users/new/").status_code == 403
    response = client.post(
        "/accounts/users/new/",
        {"username": "nope", "display_name": "x", "home_region": tree.county.code},
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="nope").exists()


def test_system_admin_edits_a_user_keeping_the_phone(login: Any, personas: Any, tree: Any) -> None:
    services.update_user(personas.system_admin, personas.community_worker_b, phone=PHONE)
    client = login(personas.system_admin)
    url = f"/accounts/users/{personas.community_worker_b.pk}/edit/"
    assert PHONE not in body(client.get(url))

    response = client.post(
        url,
        {"display_name": "改名", "phone": "", "email": "", "home_region": tree.community_b.code},
    )

    assert response.status_code == 302
    user = User.objects.get(pk=personas.community_worker_b.pk)
    assert user.display_name == "改名"
    assert user.phone == PHONE


def test_county_operator_cannot_edit_users(login: Any, personas: Any, tree: Any) -> None:
    url = f"/accounts/users/{personas.community_worker_b.pk}/edit/"
    response = login(personas.county_operator).post(
        url, {"display_name": "改名", "home_region": tree.community_b.code}
    )
    assert response.status_code == 403
    assert User.objects.get(pk=personas.community_worker_b.pk).display_name == "worker_b"


def test_system_admin_disables_and_enables_an_account(login: Any, personas: Any) -> None:
    client = login(personas.system_admin)
    url = f"/accounts/users/{personas.community_worker_a.pk}/active/"

    client.post(url, {"active": "0"})
    assert not User.objects.get(pk=personas.community_worker_a.pk).is_active
    assert AuditEntry.objects.filter(
        action="retire", object_id=str(personas.community_worker_a.pk)
    ).exists()
    client.post(url, {"active": "1"})
    assert User.objects.get(pk=personas.community_worker_a.pk).is_active


def test_security_admin_cannot_disable_accounts(login: Any, personas: Any) -> None:
    response = login(personas.security_admin).post(
        f"/accounts/users/{personas.community_worker_a.pk}/active/", {"active": "0"}
    )
    assert response.status_code == 403
    assert User.objects.get(pk=personas.community_worker_a.pk).is_active


def test_system_admin_resets_a_password_shown_once(login: Any, personas: Any) -> None:
    client = login(personas.system_admin)

    response = client.post(f"/accounts/users/{personas.community_worker_a.pk}/reset-password/")

    assert response.status_code == 200
    user = User.objects.get(pk=personas.community_worker_a.pk)
    assert user.must_change_password
    shown = response.context["password"]
    assert html.escape(shown) in body(response)
    assert user.check_password(shown)
    assert AuditEntry.objects.filter(action="password_reset").exists()


def test_reset_password_is_refused_to_others(login: Any, personas: Any) -> None:
    before = User.objects.get(pk=personas.community_worker_a.pk).password
    for persona in (personas.security_admin, personas.county_operator):
        response = login(persona).post(
            f"/accounts/users/{personas.community_worker_a.pk}/reset-password/"
        )
        assert response.status_code == 403
    assert User.objects.get(pk=personas.community_worker_a.pk).password == before


# ---------------------------------------------------------------- security administrator's pages


def test_security_admin_grants_and_revokes_a_role(login: Any, personas: Any, tree: Any) -> None:
    client = login(personas.security_admin)
    page = body(client.get(f"/accounts/users/{personas.nobody.pk}/"))
    assert "授予角色" in page

    response = client.post(
        f"/accounts/users/{personas.nobody.pk}/roles/",
        {"role": Role.objects.get(code="grid_worker").pk, "region": tree.grid_b1.code},
    )

    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=personas.nobody)
    assert assignment.region == tree.grid_b1
    assert AuditEntry.objects.filter(action="grant").exists()

    client.post(f"/accounts/users/{personas.nobody.pk}/roles/{assignment.pk}/revoke/")
    assert not RoleAssignment.objects.filter(user=personas.nobody).exists()
    assert AuditEntry.objects.filter(action="revoke").exists()


def test_grant_with_a_tampered_region_outside_scope_is_refused(
    login: Any, personas: Any, tree: Any
) -> None:
    limited = make_user("sec_small", tree.subdistrict_1, None)
    RoleAssignment.objects.create(
        user=limited, role=Role.objects.get(code="security_admin"), region=tree.subdistrict_1
    )
    target = make_user("target", tree.community_a, None)

    response = login(limited).post(
        f"/accounts/users/{target.pk}/roles/",
        {"role": Role.objects.get(code="community_worker").pk, "region": tree.community_c.code},
    )

    assert response.status_code == 200
    assert "区划不存在或不在您的范围内" in body(response)
    assert not RoleAssignment.objects.filter(user=target).exists()


def test_system_admin_cannot_grant_roles(login: Any, personas: Any, tree: Any) -> None:
    client = login(personas.system_admin)
    grant_url = f"/accounts/users/{personas.nobody.pk}/roles/"
    assert grant_url not in body(client.get(f"/accounts/users/{personas.nobody.pk}/"))

    response = client.post(
        f"/accounts/users/{personas.nobody.pk}/roles/",
        {"role": Role.objects.get(code="county_operator").pk, "region": tree.county.code},
    )

    assert response.status_code == 403
    assert not RoleAssignment.objects.filter(user=personas.nobody).exists()


def test_security_admin_cannot_grant_roles_to_self_through_the_page(
    login: Any, personas: Any, tree: Any
) -> None:
    response = login(personas.security_admin).post(
        f"/accounts/users/{personas.security_admin.pk}/roles/",
        {"role": Role.objects.get(code="county_operator").pk, "region": tree.county.code},
        follow=True,
    )
    assert "不能给自己授予角色" in body(response)
    assert personas.security_admin.assignments.count() == 1


def test_security_admin_edits_role_permissions(login: Any, personas: Any) -> None:
    role = Role.objects.get(code="grid_worker")
    client = login(personas.security_admin)
    page = body(client.get(f"/accounts/roles/{role.pk}/edit/"))
    assert "查看账号" in page  # permission labels in Chinese

    response = client.post(
        f"/accounts/roles/{role.pk}/edit/",
        {
            "name": role.name,
            "permissions": ["regions.view_regionnode", "accounts.view_user"],
            "require_totp": "on",
        },
    )

    assert response.status_code == 302
    role.refresh_from_db()
    assert role.permissions == ["accounts.view_user", "regions.view_regionnode"]
    assert role.require_totp
    assert AuditEntry.objects.filter(action="role_change").exists()


def test_business_role_cannot_receive_an_admin_permission(login: Any, personas: Any) -> None:
    role = Role.objects.get(code="grid_worker")
    before = list(role.permissions)
    response = login(personas.security_admin).post(
        f"/accounts/roles/{role.pk}/edit/",
        {"name": role.name, "permissions": ["audit.view_auditentry"]},
    )
    assert "属于另一名管理员" in body(response)
    role.refresh_from_db()
    assert role.permissions == before


def test_system_admin_cannot_edit_roles(login: Any, personas: Any) -> None:
    role = Role.objects.get(code="grid_worker")
    before = list(role.permissions)
    client = login(personas.system_admin)
    assert client.get("/accounts/roles/").status_code == 403
    response = client.post(
        f"/accounts/roles/{role.pk}/edit/", {"name": "x", "permissions": ["accounts.view_user"]}
    )
    assert response.status_code == 403
    role.refresh_from_db()
    assert role.permissions == before


def test_role_list_shows_roles_to_the_security_admin(login: Any, personas: Any) -> None:
    response = login(personas.security_admin).get("/accounts/roles/")
    assert "网格员" in body(response)


def test_security_admin_edits_the_policy(login: Any, personas: Any) -> None:
    client = login(personas.security_admin)
    assert client.get("/accounts/policy/").status_code == 200
    values = {**SecurityPolicy.current().as_dict(), "lockout_threshold": 3}

    response = client.post("/accounts/policy/edit/", values)

    assert response.status_code == 302
    assert SecurityPolicy.current().lockout_threshold == 3
    assert AuditEntry.objects.filter(action="policy_change").exists()


def test_policy_below_the_minimum_is_refused(login: Any, personas: Any) -> None:
    values = {**SecurityPolicy.current().as_dict(), "min_length": 6}
    response = login(personas.security_admin).post("/accounts/policy/edit/", values)
    assert "最短密码长度必须在 8 到 64 之间" in body(response)
    assert SecurityPolicy.current().min_length == 8


def test_policy_above_the_maximum_is_refused(login: Any, personas: Any) -> None:
    values = {**SecurityPolicy.current().as_dict(), "min_length": 5000}
    response = login(personas.security_admin).post("/accounts/policy/edit/", values)
    assert response.status_code in (200, 400)
    assert SecurityPolicy.current().min_length == 8


def test_system_admin_cannot_change_the_policy(login: Any, personas: Any) -> None:
    values = {**SecurityPolicy.current().as_dict(), "lockout_threshold": 3}
    client = login(personas.system_admin)
    assert client.get("/accounts/policy/").status_code == 403
    assert client.post("/accounts/policy/edit/", values).status_code == 403
    assert SecurityPolicy.current().lockout_threshold == 5


def test_navigation_shows_only_allowed_admin_pages(login: Any, personas: Any) -> None:
    text = body(login(personas.system_admin).get("/"))
    assert "/accounts/users/" in text
    assert "/accounts/roles/" not in text
    text = body(login(personas.security_admin).get("/"))
    assert "/accounts/roles/" in text
    assert "/accounts/policy/" in text
