"""Three-administrator separation (三员分立) against indirect routes: tokens, resets, superusers."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from linli.accounts import services
from linli.accounts.models import ApiToken, RoleAssignment, User
from linli.core.errors import PermissionDeniedError, ServiceError


def test_system_admin_cannot_issue_a_token_for_the_audit_admin(api: Any, personas: Any) -> None:
    response = api(personas.system_admin).post(
        "/api/api-tokens/", {"user": personas.audit_admin.pk, "name": "x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token.not_system_account"
    assert not ApiToken.objects.exists()


def test_tokens_are_only_for_pure_integration_accounts(personas: Any) -> None:
    with pytest.raises(ServiceError) as refused:
        services.issue_api_token(personas.system_admin, personas.community_worker_a, "x")
    assert refused.value.code == "token.not_system_account"


def test_tokens_never_live_forever(personas: Any, tree: Any) -> None:
    from conftest import make_user

    system = make_user("platform", tree.county, "integration")
    with pytest.raises(ServiceError):
        services.issue_api_token(personas.system_admin, system, "x", days=None)
    with pytest.raises(ServiceError):
        services.issue_api_token(personas.system_admin, system, "x", days=10_000)
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("target", ["audit_admin", "security_admin"])
def test_system_admin_cannot_reset_another_administrators_password(
    api: Any, personas: Any, target: str
) -> None:
    victim: User = getattr(personas, target)
    before = User.objects.get(pk=victim.pk).password

    response = api(personas.system_admin).post(f"/api/users/{victim.pk}/reset-password/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account.administrator"
    assert User.objects.get(pk=victim.pk).password == before


def test_system_admin_cannot_reset_the_audit_admins_second_factor(personas: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        services.reset_totp(personas.system_admin, personas.audit_admin)


def test_system_admin_cannot_change_an_administrators_phone(personas: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        services.update_user(personas.system_admin, personas.audit_admin, phone="13800138000")


def test_system_admin_still_resets_ordinary_accounts(personas: Any) -> None:
    password = services.reset_password(personas.system_admin, personas.community_worker_a)
    assert User.objects.get(pk=personas.community_worker_a.pk).check_password(password)


def test_a_superuser_flag_grants_nothing(personas: Any) -> None:
    user = personas.system_admin
    user.is_superuser = True  # as if set by hand, never saved (the database refuses it)
    assert not user.has_perm("audit.view_auditentry")
    assert not user.has_perm("accounts.assign_role")
    assert user.has_perm("accounts.add_user")


def test_the_database_refuses_a_superuser(personas: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=personas.nobody.pk).update(is_superuser=True)


def test_audit_api_refuses_a_superuser_flagged_session(personas: Any) -> None:
    user = personas.nobody
    user.is_superuser = True
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/audit-entries/").status_code == 403


@pytest.mark.parametrize("command", ["createsuperuser", "changepassword"])
def test_django_superuser_commands_are_refused(db: Any, command: str) -> None:
    with pytest.raises(CommandError, match="no superuser"):
        call_command(command, "--noinput", "--username", "root")
    assert not User.objects.filter(username="root").exists()


def test_bootstrap_creates_three_separate_administrators_once(tree: Any) -> None:
    out = StringIO()
    call_command("accounts", "bootstrap", "--region", tree.county.code, stdout=out)

    admins = {
        a.user.username: a.role.kind for a in RoleAssignment.objects.select_related("role", "user")
    }
    assert admins == {
        "sysadmin": "system_admin",
        "secadmin": "security_admin",
        "auditadmin": "audit_admin",
    }
    assert all(u.must_change_password for u in User.objects.all())
    with pytest.raises(CommandError, match="管理员已存在"):
        call_command("accounts", "bootstrap", "--region", tree.county.code, stdout=StringIO())


def test_server_reset_works_for_an_administrator(personas: Any) -> None:
    out = StringIO()
    call_command("accounts", "reset-password", "auditadmin", stdout=out)
    password = out.getvalue().split(": ")[1].split()[0]
    user = User.objects.get(username="auditadmin")
    assert user.check_password(password) and user.must_change_password


def test_security_admin_creates_a_role_on_the_page(login: Any, personas: Any) -> None:
    from linli.accounts.models import Role

    response = login(personas.security_admin).post(
        "/accounts/roles/new/",
        {
            "code": "exporter",
            "name": "数据导出员",
            "kind": "staff",
            "permissions": ["registry.export_person", "registry.view_person"],
        },
    )

    role = Role.objects.get(code="exporter")
    assert response.status_code == 302
    assert role.permissions == ["registry.export_person", "registry.view_person"]


def test_roles_created_through_the_api_cannot_take_administrator_permissions(
    api: Any, personas: Any
) -> None:
    from linli.accounts.models import Role

    client = api(personas.security_admin)
    refused = client.post(
        "/api/roles/",
        {"code": "sneaky", "name": "x", "kind": "staff", "permissions": ["audit.view_auditentry"]},
        format="json",
    )
    created = client.post(
        "/api/roles/", {"code": "viewer", "name": "查看员", "kind": "staff"}, format="json"
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "permissions.separation"
    assert created.status_code == 201
    assert set(
        Role.objects.filter(code__in=["sneaky", "viewer"]).values_list("code", flat=True)
    ) == {"viewer"}


def test_system_admin_cannot_create_roles(api: Any, login: Any, personas: Any) -> None:
    from linli.accounts.models import Role

    before = Role.objects.count()
    assert (
        api(personas.system_admin)
        .post("/api/roles/", {"code": "x", "name": "x", "kind": "staff"}, format="json")
        .status_code
        == 403
    )
    assert login(personas.system_admin).get("/accounts/roles/new/").status_code == 403
    assert Role.objects.count() == before
