"""Sign-in protection: password check, lockout, idle timeout, forced and expired passwords,
the password policy and the TOTP second factor."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.accounts import services
from linli.accounts.middleware import LAST_ACTIVITY
from linli.accounts.models import LoginAttempt, Role, SecurityPolicy, User
from linli.audit.models import AuditEntry
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"


def post_login(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def signed_in_user(client: Client) -> Any:
    return client.session.get("_auth_user_id")


# ---------------------------------------------------------------- password step


def test_login_with_right_password_signs_in_and_is_audited(client: Client, personas: Any) -> None:
    response = post_login(client, "worker_a", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("core:workbench")
    assert signed_in_user(client) == str(personas.community_worker_a.pk)
    entry = AuditEntry.objects.filter(action="login").latest("seq")
    assert entry.actor_id == personas.community_worker_a.pk
    assert entry.source_ip == "127.0.0.1"


def test_login_redirects_only_to_safe_next(client: Client, personas: Any) -> None:
    response = post_login(client, "worker_a", PASSWORD, QUERY_STRING="")
    client.logout()
    response = client.post(
        LOGIN, {"username": "worker_a", "password": PASSWORD, "next": "https://evil.example/x"}
    )
    assert response["Location"] == reverse("core:workbench")
    client.logout()
    response = client.post(
        LOGIN, {"username": "worker_a", "password": PASSWORD, "next": "/accounts/password/"}
    )
    assert response["Location"] == "/accounts/password/"


def test_wrong_password_shows_chinese_message_and_audits_failure(
    client: Client, personas: Any
) -> None:
    response = post_login(client, "worker_a", "wrong-password")

    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()
    assert signed_in_user(client) is None
    failure = AuditEntry.objects.filter(action="login_failed").latest("seq")
    assert failure.actor_name == "worker_a"
    assert LoginAttempt.objects.filter(username="worker_a", succeeded=False).count() == 1


def test_login_page_is_in_chinese(client: Client, db: Any) -> None:
    body = client.get(LOGIN).content.decode()
    assert "登录" in body
    assert "用户名" in body


def test_disabled_account_cannot_log_in(client: Client, personas: Any) -> None:
    User.objects.filter(pk=personas.community_worker_a.pk).update(is_active=False)

    response = post_login(client, "worker_a", PASSWORD)

    assert signed_in_user(client) is None
    assert "用户名或密码错误" in response.content.decode()


def test_account_locks_after_five_failures_even_with_right_password(
    client: Client, personas: Any
) -> None:
    for _attempt in range(5):
        post_login(client, "worker_a", "wrong-password")
    assert AuditEntry.objects.filter(action="lockout", actor_name="worker_a").exists()

    response = post_login(client, "worker_a", PASSWORD)

    assert signed_in_user(client) is None
    assert "登录失败次数过多" in response.content.decode()


def test_lockout_ends_after_the_lockout_period(client: Client, personas: Any) -> None:
    for _attempt in range(5):
        post_login(client, "worker_a", "wrong-password")
    LoginAttempt.objects.update(at=timezone.now() - timedelta(minutes=31))

    post_login(client, "worker_a", PASSWORD)

    assert signed_in_user(client) == str(personas.community_worker_a.pk)


def test_four_failures_do_not_lock(client: Client, personas: Any) -> None:
    for _attempt in range(4):
        post_login(client, "worker_a", "wrong-password")

    post_login(client, "worker_a", PASSWORD)

    assert signed_in_user(client) == str(personas.community_worker_a.pk)


def test_source_address_locks_after_its_threshold_across_accounts(
    client: Client, personas: Any
) -> None:
    policy = SecurityPolicy.current()
    services.update_policy(personas.security_admin, ip_lockout_threshold=3)
    assert SecurityPolicy.current().ip_lockout_threshold == 3 != policy.ip_lockout_threshold
    for name in ("ghost1", "ghost2", "ghost3"):
        post_login(client, name, "wrong-password", REMOTE_ADDR="10.0.0.9")

    response = post_login(client, "worker_b", PASSWORD, REMOTE_ADDR="10.0.0.9")
    assert signed_in_user(client) is None
    assert "登录失败次数过多" in response.content.decode()

    # Another address is not affected.
    post_login(client, "worker_b", PASSWORD, REMOTE_ADDR="10.0.0.10")
    assert signed_in_user(client) == str(personas.community_worker_b.pk)


def test_a_success_does_not_clear_the_address_lock(client: Client, personas: Any) -> None:
    services.update_policy(personas.security_admin, ip_lockout_threshold=3)
    post_login(client, "ghost1", "wrong-password", REMOTE_ADDR="10.0.0.9")
    post_login(client, "ghost2", "wrong-password", REMOTE_ADDR="10.0.0.9")
    # The guesser signs in with an account they hold, hoping to reset the address's count.
    post_login(client, "worker_b", PASSWORD, REMOTE_ADDR="10.0.0.9")
    client.logout()
    post_login(client, "ghost3", "wrong-password", REMOTE_ADDR="10.0.0.9")

    post_login(client, "worker_b", PASSWORD, REMOTE_ADDR="10.0.0.9")

    assert signed_in_user(client) is None


def test_account_lockout_threshold_follows_the_policy(client: Client, personas: Any) -> None:
    services.update_policy(personas.security_admin, lockout_threshold=2)
    for _attempt in range(2):
        post_login(client, "worker_a", "wrong-password")

    post_login(client, "worker_a", PASSWORD)

    assert signed_in_user(client) is None


# ---------------------------------------------------------------- session


def test_idle_session_is_logged_out(client: Client, personas: Any) -> None:
    post_login(client, "worker_a", PASSWORD)
    assert client.get("/").status_code == 200
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 31 * 60
    session.save()

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert signed_in_user(client) is None
    assert AuditEntry.objects.filter(action="logout", note="idle timeout").exists()
    follow = client.get(response["Location"])
    assert "会话" in follow.content.decode()


def test_active_session_within_timeout_stays(client: Client, personas: Any) -> None:
    post_login(client, "worker_a", PASSWORD)
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 29 * 60
    session.save()

    assert client.get("/").status_code == 200


def test_idle_api_session_gets_401_json(client: Client, personas: Any) -> None:
    post_login(client, "worker_a", PASSWORD)
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 31 * 60
    session.save()

    response = client.get("/api/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


def test_logout_needs_post_and_is_audited(client: Client, personas: Any) -> None:
    post_login(client, "worker_a", PASSWORD)

    assert client.get("/accounts/logout/").status_code == 405
    assert signed_in_user(client) is not None
    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert signed_in_user(client) is None
    assert AuditEntry.objects.filter(action="logout", actor=personas.community_worker_a).exists()


# ---------------------------------------------------------------- passwords


@pytest.fixture
def new_account(personas: Any, tree: Any) -> tuple[User, str]:
    return services.create_user(
        personas.system_admin,
        username="new_worker",
        display_name="新社工",
        home_region=tree.community_a,
    )


def test_admin_created_account_must_change_password_at_first_login(
    client: Client, new_account: tuple[User, str]
) -> None:
    user, initial = new_account
    post_login(client, "new_worker", initial)

    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "必须先修改密码" in page.content.decode()
    assert "至少 8 个字符" in page.content.decode()  # the policy's help text

    response = client.post(
        "/accounts/password/",
        {
            "old_password": initial,
            "new_password": "Fresh-Pass-2027",
            "confirm_password": "Fresh-Pass-2027",
        },
    )

    assert response.status_code == 302
    assert client.get("/").status_code == 200  # still signed in, no longer forced
    user.refresh_from_db()
    assert user.must_change_password is False
    assert user.check_password("Fresh-Pass-2027")


def test_forced_account_gets_403_json_from_the_api(
    client: Client, new_account: tuple[User, str]
) -> None:
    post_login(client, "new_worker", new_account[1])

    response = client.get("/api/me/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "password_change_required"


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("Ab1!", "至少"),
        ("alllowercase", "至少"),
        ("abcdefgh12", "至少"),
    ],
)
def test_weak_new_password_is_refused_and_nothing_changes(
    client: Client, new_account: tuple[User, str], new_password: str, message: str
) -> None:
    user, initial = new_account
    post_login(client, "new_worker", initial)
    before = user.password

    response = client.post(
        "/accounts/password/",
        {"old_password": initial, "new_password": new_password, "confirm_password": new_password},
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    user.refresh_from_db()
    assert user.password == before
    assert user.must_change_password is True


def test_recent_password_cannot_be_reused(new_account: tuple[User, str]) -> None:
    user, initial = new_account
    services.change_password(user, initial, "Second-Pass-2027")
    before = User.objects.get(pk=user.pk).password

    with pytest.raises(services.ServiceError) as refused:
        services.change_password(user, "Second-Pass-2027", initial)

    assert "最近" in str(refused.value)
    assert User.objects.get(pk=user.pk).password == before


def test_wrong_current_password_is_refused(client: Client, personas: Any) -> None:
    client.force_login(personas.community_worker_a)

    response = client.post(
        "/accounts/password/",
        {
            "old_password": "not-it",
            "new_password": "Fresh-Pass-2027",
            "confirm_password": "Fresh-Pass-2027",
        },
    )

    assert "当前密码错误" in response.content.decode()
    assert User.objects.get(pk=personas.community_worker_a.pk).check_password(PASSWORD)


def test_mismatched_confirmation_is_refused(client: Client, personas: Any) -> None:
    client.force_login(personas.community_worker_a)

    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password": "Fresh-Pass-2027",
            "confirm_password": "Fresh-Pass-2028",
        },
    )

    assert "两次输入的新密码不一致" in response.content.decode()
    assert User.objects.get(pk=personas.community_worker_a.pk).check_password(PASSWORD)


def test_expired_password_forces_a_change(client: Client, personas: Any) -> None:
    User.objects.filter(pk=personas.community_worker_a.pk).update(
        password_changed_at=timezone.now() - timedelta(days=91)
    )
    post_login(client, "worker_a", PASSWORD)

    response = client.get("/")

    assert response["Location"] == reverse("accounts:password_change")


def test_password_within_expiry_does_not_force_a_change(client: Client, personas: Any) -> None:
    User.objects.filter(pk=personas.community_worker_a.pk).update(
        password_changed_at=timezone.now() - timedelta(days=89)
    )
    post_login(client, "worker_a", PASSWORD)

    assert client.get("/").status_code == 200


# ---------------------------------------------------------------- second factor


def enrol(client: Client, user: User) -> pyotp.TOTP:
    """Enrol through the setup page, reading the secret the page shows."""
    client.force_login(user)
    page = client.get("/accounts/second-factor/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body
    secret = client.session["linli_totp_setup_secret"]
    assert secret in body
    totp = pyotp.TOTP(secret)
    response = client.post("/accounts/second-factor/", {"code": totp.now()})
    assert response.status_code == 302
    client.logout()
    return totp


def test_enrolment_needs_a_correct_code(client: Client, personas: Any) -> None:
    client.force_login(personas.community_worker_a)
    client.get("/accounts/second-factor/")

    response = client.post("/accounts/second-factor/", {"code": "000000"})

    assert "验证码错误" in response.content.decode()
    assert User.objects.get(pk=personas.community_worker_a.pk).has_totp is False


def test_login_with_totp_asks_code_before_signing_in(client: Client, personas: Any) -> None:
    totp = enrol(client, personas.community_worker_a)
    # The enrolment consumed the current step; the login uses the next one.
    User.objects.filter(pk=personas.community_worker_a.pk).update(
        totp_last_step=int(totp.timecode(timezone.now())) - 2
    )

    response = post_login(client, "worker_a", PASSWORD)

    assert response["Location"] == reverse("accounts:login_totp")
    assert signed_in_user(client) is None
    assert client.get("/").status_code == 302  # not signed in yet

    response = client.post(reverse("accounts:login_totp"), {"code": totp.now()})

    assert response.status_code == 302
    assert signed_in_user(client) == str(personas.community_worker_a.pk)
    assert AuditEntry.objects.filter(action="login", actor=personas.community_worker_a).exists()


def test_wrong_totp_code_is_refused_and_counted(client: Client, personas: Any) -> None:
    enrol(client, personas.community_worker_a)
    post_login(client, "worker_a", PASSWORD)

    response = client.post(reverse("accounts:login_totp"), {"code": "123456"})

    assert "验证码错误" in response.content.decode()
    assert signed_in_user(client) is None
    assert LoginAttempt.objects.filter(username="worker_a", succeeded=False).count() == 1
    assert AuditEntry.objects.filter(action="login_failed", note="totp").exists()


def test_replayed_totp_code_is_refused(client: Client, personas: Any) -> None:
    totp = enrol(client, personas.community_worker_a)
    code = totp.now()
    # The code used at enrolment cannot be used again to log in.
    post_login(client, "worker_a", PASSWORD)

    response = client.post(reverse("accounts:login_totp"), {"code": code})

    assert signed_in_user(client) is None
    assert "验证码错误" in response.content.decode()


def test_totp_step_without_password_step_goes_back_to_login(client: Client, db: Any) -> None:
    response = client.get(reverse("accounts:login_totp"))
    assert response["Location"] == reverse("accounts:login")


def test_role_requiring_totp_forces_enrolment(client: Client, personas: Any) -> None:
    role = Role.objects.get(code="community_worker")
    services.update_role(personas.security_admin, role, require_totp=True)
    post_login(client, "worker_a", PASSWORD)

    response = client.get("/")

    assert response["Location"] == reverse("accounts:totp_setup")
    assert client.get("/api/me/").json()["error"]["code"] == "second_factor_required"
    page = client.get("/accounts/second-factor/")
    assert "您的角色要求" in page.content.decode()
    secret = client.session["linli_totp_setup_secret"]
    client.post("/accounts/second-factor/", {"code": pyotp.TOTP(secret).now()})
    assert client.get("/").status_code == 200


def test_totp_secret_is_stored_encrypted(client: Client, personas: Any) -> None:
    from django.db import connection

    enrol(client, personas.community_worker_a)
    secret = User.objects.get(pk=personas.community_worker_a.pk).totp_secret
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT totp_secret FROM accounts_user WHERE id = %s", [personas.community_worker_a.pk]
        )
        stored = cursor.fetchone()[0]
    assert secret not in stored


def test_replacing_an_enrolled_second_factor_needs_the_current_password(
    client: Client, personas: Any
) -> None:
    user = personas.community_worker_a
    enrol(client, user)
    before = User.objects.get(pk=user.pk).totp_secret
    client.force_login(user)
    client.get("/accounts/second-factor/")
    code = pyotp.TOTP(client.session["linli_totp_setup_secret"]).now()

    response = client.post("/accounts/second-factor/", {"code": code, "current_password": "wrong"})

    assert "当前密码错误" in response.content.decode()
    assert User.objects.get(pk=user.pk).totp_secret == before
    assert LoginAttempt.objects.filter(username=user.username, succeeded=False).count() == 1


def test_wrong_current_passwords_lock_the_account(client: Client, personas: Any) -> None:
    user = personas.community_worker_a
    client.force_login(user)
    new = {"new_password": "Xx-12345678", "confirm_password": "Xx-12345678"}
    for _attempt in range(5):
        client.post("/accounts/password/", {"old_password": "wrong", **new})

    response = client.post("/accounts/password/", {"old_password": PASSWORD, **new})

    assert "登录失败次数过多" in response.content.decode()
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
