"""State changes of accounts, roles, policy and sign-in. Each runs in a transaction, checks
the actor's rights and scope, and writes its audit entry in the same transaction."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.accounts.choices import ADMIN_KINDS, RoleKind
from linli.accounts.models import (
    ApiToken,
    LoginAttempt,
    PasswordHistory,
    Role,
    RoleAssignment,
    SecurityPolicy,
    User,
)
from linli.accounts.permissions import BUILTIN_ROLES, PERMISSIONS, forbidden_for_kind
from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.models import RegionNode
from linli.utilities import crypto
from linli.utilities.scope import code_in_scope
from linli.utilities.validators import CodeError, normalize_mobile

MAX_TOKEN_DAYS = 730
USER_EDITABLE = ("display_name", "phone", "home_region_id", "organisation_name", "email")


def _separation_message() -> str:
    return _(
        "An administrator account cannot hold any other role (three-administrator separation)."
    )


def _require(actor: User, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


def _require_region_in_scope(actor: User, region: RegionNode) -> None:
    # Out-of-scope regions are reported as missing, the same as ids that do not exist.
    if not code_in_scope(region.code, actor.scope_codes()):
        raise NotFoundError("region.not_found", _("The region does not exist."))
    if region.retired_at is not None:
        raise ServiceError("region.retired", _("The region has been retired."))


def _require_user_in_scope(actor: User, user: User) -> None:
    # The same gate as the pages: an account outside the actor's scope does not exist for them.
    if not User.objects.visible_to(actor).filter(pk=user.pk).exists():
        raise NotFoundError("not_found", _("The record does not exist."))


def _refuse_administrator_target(actor: User, user: User) -> None:
    """Credentials of an administrator are never reset through the web (三员分立).

    Otherwise the system administrator could reset the audit administrator's password (or
    second factor, or phone) and sign in as them. Resetting an administrator takes server
    access: ``linli accounts reset-password``, audited like any other reset.
    """
    if user.pk != actor.pk and user.admin_kind() is not None:
        raise PermissionDeniedError(
            "account.administrator",
            _(
                "The credentials of an administrator account cannot be changed here; an "
                "operator with server access uses 'linli accounts reset-password'."
            ),
        )


def generate_password(length: int = 14) -> str:
    """A random password that satisfies every policy (all four character classes)."""
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*-_"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(not c.isalnum() for c in candidate)
        ):
            return candidate


def _clean_phone(phone: str) -> str:
    if not phone:
        return ""
    try:
        return normalize_mobile(phone)
    except CodeError as exc:
        raise ServiceError("phone.invalid", _("The mobile number is not valid.")) from exc


# ---------------------------------------------------------------- accounts (system administrator)


@transaction.atomic
def create_user(
    actor: User,
    *,
    username: str,
    display_name: str,
    home_region: RegionNode,
    phone: str = "",
    email: str = "",
    organisation_name: str = "",
    password: str | None = None,
) -> tuple[User, str]:
    """Create an account with a one-time password it must change at first login."""
    _require(actor, "accounts.add_user")
    _require_region_in_scope(actor, home_region)
    username = username.strip()
    if not username or len(username) > 150:
        raise ServiceError("username.invalid", _("Enter a user name of at most 150 characters."))
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError("username.taken", _("This user name is already taken."))
    initial = password or generate_password()
    user = User(
        username=username,
        display_name=display_name.strip(),
        phone=_clean_phone(phone),
        email=email.strip(),
        organisation_name=organisation_name.strip(),
        home_region=home_region,
        must_change_password=True,
        created_by=actor,
        is_staff=False,
    )
    try:
        validate_password(initial, user)
    except ValidationError as exc:
        raise ServiceError("password.weak", " ".join(exc.messages)) from exc
    user.set_password(initial)
    user.password_changed_at = timezone.now()
    user.save()
    PasswordHistory.objects.create(user=user, password=user.password)
    audit.record(
        AuditAction.CREATE,
        user,
        actor=actor,
        changes=audit.changes_between(User, {}, audit.snapshot(user, (*USER_EDITABLE, "username"))),
    )
    return user, initial


@transaction.atomic
def update_user(actor: User, user: User, **values: Any) -> User:
    _require(actor, "accounts.change_user")
    _require_user_in_scope(actor, user)
    if {"phone", "email"} & set(values):
        _refuse_administrator_target(actor, user)
    unknown = set(values) - set(USER_EDITABLE)
    if unknown:
        raise ServiceError(
            "fields.unknown", _("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    if "phone" in values:
        values["phone"] = _clean_phone(values["phone"])
    if "home_region_id" in values:
        region = RegionNode.objects.filter(pk=values["home_region_id"]).first()
        if region is None:
            raise NotFoundError("region.not_found", _("The region does not exist."))
        _require_region_in_scope(actor, region)
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = audit.snapshot(locked, values.keys())
    for name, value in values.items():
        setattr(locked, name, value)
    changes = audit.changes_between(User, before, audit.snapshot(locked, values.keys()))
    if changes:
        locked.save(
            update_fields=[*values.keys(), "phone_index"] if "phone" in values else list(values)
        )
        audit.record(AuditAction.UPDATE, locked, actor=actor, changes=changes)
    return locked


@transaction.atomic
def set_user_active(actor: User, user: User, active: bool) -> User:
    _require(actor, "accounts.retire_user")
    _require_user_in_scope(actor, user)
    if user.pk == actor.pk:
        raise ServiceError("user.self", _("You cannot disable your own account."))
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_active == active:
        return locked
    locked.is_active = active
    locked.retired_at = None if active else timezone.now()
    locked.save(update_fields=["is_active", "retired_at"])
    audit.record(
        AuditAction.UPDATE if active else AuditAction.RETIRE,
        locked,
        actor=actor,
        changes={"is_active": [not active, active]},
    )
    return locked


@transaction.atomic
def reset_password(actor: User, user: User) -> str:
    """A new one-time password; the account must change it at next login."""
    _require(actor, "accounts.reset_password_user")
    _require_user_in_scope(actor, user)
    _refuse_administrator_target(actor, user)
    return _reset_password(actor, user)


def _reset_password(actor: User | None, user: User) -> str:
    locked = User.objects.select_for_update().get(pk=user.pk)
    temporary = generate_password(max(14, SecurityPolicy.current().min_length))
    locked.set_password(temporary)
    locked.must_change_password = True
    locked.password_changed_at = timezone.now()
    locked.save(update_fields=["password", "must_change_password", "password_changed_at"])
    PasswordHistory.objects.create(user=locked, password=locked.password)
    LoginAttempt.objects.filter(username__iexact=locked.username, succeeded=False).delete()
    audit.record(AuditAction.PASSWORD_RESET, locked, actor=actor)
    return temporary


def _require_current_password(user: User, password: str) -> None:
    """A wrong current password counts toward lockout like a failed sign-in, so a stolen
    session cannot be used to guess it."""
    if user.check_password(password):
        return
    with transaction.atomic():
        LoginAttempt.objects.create(username=user.username, succeeded=False)
        audit.record(AuditAction.LOGIN_FAILED, user, actor=user, note="current password")
    raise ServiceError("password.wrong", _("The current password is wrong."))


def change_password(user: User, old_password: str, new_password: str) -> None:
    if lockout_until(user.username, None) is not None:
        raise ServiceError("login.locked", _lock_message(lockout_until(user.username, None)))
    _require_current_password(user, old_password)
    _change_password(user, old_password, new_password)


@transaction.atomic
def _change_password(user: User, old_password: str, new_password: str) -> None:
    if old_password == new_password:
        raise ServiceError("password.same", _("The new password must differ from the current one."))
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ServiceError("password.weak", " ".join(exc.messages)) from exc
    locked = User.objects.select_for_update().get(pk=user.pk)
    locked.set_password(new_password)
    locked.must_change_password = False
    locked.password_changed_at = timezone.now()
    locked.save(update_fields=["password", "must_change_password", "password_changed_at"])
    PasswordHistory.objects.create(user=locked, password=locked.password)
    keep = SecurityPolicy.current().history_count
    stale = list(locked.password_history.values_list("pk", flat=True)[max(keep, 1) :])
    if stale:
        PasswordHistory.objects.filter(pk__in=stale).delete()
    audit.record(AuditAction.PASSWORD_CHANGE, locked, actor=locked)
    user.password = locked.password
    user.must_change_password = False
    user.password_changed_at = locked.password_changed_at


# ---------------------------------------------------------------- roles (security administrator)


def _check_permission_set(kind: str, permissions: list[str]) -> list[str]:
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise ServiceError(
            "permissions.unknown", _("Unknown permissions: %(p)s") % {"p": ", ".join(unknown)}
        )
    clash = sorted(set(permissions) & forbidden_for_kind(kind))
    if clash:
        raise ServiceError(
            "permissions.separation",
            _(
                "These permissions belong to another administrator and cannot be given to "
                "this role: %(p)s"
            )
            % {"p": ", ".join(clash)},
        )
    return sorted(set(permissions))


@transaction.atomic
def create_role(
    actor: User, *, code: str, name: str, kind: str, permissions: list[str], description: str = ""
) -> Role:
    _require(actor, "accounts.add_role")
    if kind in ADMIN_KINDS:
        raise ServiceError(
            "role.admin_kind", _("Administrator roles are built in and cannot be added.")
        )
    if Role.objects.filter(code=code).exists():
        raise ServiceError("role.code_taken", _("A role with this code already exists."))
    role = Role.objects.create(
        code=code,
        name=name,
        kind=kind,
        description=description,
        permissions=_check_permission_set(kind, permissions),
    )
    audit.record(
        AuditAction.ROLE_CHANGE, role, actor=actor, changes={"permissions": [[], role.permissions]}
    )
    return role


@transaction.atomic
def update_role(
    actor: User,
    role: Role,
    *,
    permissions: list[str] | None = None,
    require_totp: bool | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Role:
    _require(actor, "accounts.change_role")
    locked = Role.objects.select_for_update().get(pk=role.pk)
    before = audit.snapshot(locked, ["permissions", "require_totp", "name", "description"])
    if permissions is not None:
        if locked.is_admin:
            raise ServiceError(
                "role.admin_fixed", _("The permissions of administrator roles are fixed.")
            )
        locked.permissions = _check_permission_set(locked.kind, permissions)
    if require_totp is not None:
        locked.require_totp = require_totp
    if name is not None:
        locked.name = name.strip() or locked.name
    if description is not None:
        locked.description = description
    after = audit.snapshot(locked, ["permissions", "require_totp", "name", "description"])
    changes = audit.changes_between(Role, before, after)
    if changes:
        locked.save(
            update_fields=["permissions", "require_totp", "name", "description", "updated_at"]
        )
        audit.record(AuditAction.ROLE_CHANGE, locked, actor=actor, changes=changes)
    return locked


@transaction.atomic
def grant_role(actor: User, user: User, role: Role, region: RegionNode) -> RoleAssignment:
    """Give a user a role over a region subtree, keeping the three administrators apart."""
    _require(actor, "accounts.assign_role")
    _require_user_in_scope(actor, user)
    _require_region_in_scope(actor, region)
    if user.pk == actor.pk:
        raise ServiceError("role.self_grant", _("You cannot grant roles to yourself."))
    if not role.is_active:
        raise ServiceError("role.inactive", _("The role is disabled."))
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        raise ServiceError("user.inactive", _("The account is disabled."))
    held_kinds = set(
        RoleAssignment.objects.filter(user=locked).values_list("role__kind", flat=True)
    )
    if role.kind in ADMIN_KINDS and held_kinds - {role.kind}:
        raise ServiceError("role.separation", _separation_message())
    if role.kind not in ADMIN_KINDS and held_kinds & ADMIN_KINDS:
        raise ServiceError("role.separation", _separation_message())
    assignment, created = RoleAssignment.objects.get_or_create(
        user=locked, role=role, region=region, defaults={"granted_by": actor}
    )
    if created:
        audit.record(
            AuditAction.GRANT,
            locked,
            actor=actor,
            changes={"role": role.code, "region": region.code},
            region_code=region.code,
        )
    user.forget_cached_access()
    return assignment


@transaction.atomic
def revoke_role(actor: User, assignment: RoleAssignment) -> None:
    _require(actor, "accounts.assign_role")
    _require_region_in_scope(actor, assignment.region)
    if assignment.user_id == actor.pk:
        raise ServiceError("role.self_revoke", _("You cannot change your own roles."))
    audit.record(
        AuditAction.REVOKE,
        assignment.user,
        actor=actor,
        changes={"role": assignment.role.code, "region": assignment.region.code},
        region_code=assignment.region.code,
    )
    assignment.delete()


@transaction.atomic
def update_policy(actor: User, **values: int) -> SecurityPolicy:
    _require(actor, "accounts.change_securitypolicy")
    policy = SecurityPolicy.objects.select_for_update().get(pk=SecurityPolicy.current().pk)
    allowed = set(policy.as_dict())
    unknown = set(values) - allowed
    if unknown:
        raise ServiceError(
            "fields.unknown", _("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    if not 8 <= values.get("min_length", policy.min_length) <= 64:
        raise ServiceError(
            "policy.min_length", _("The minimum password length must be between 8 and 64.")
        )
    if not 1 <= values.get("min_classes", policy.min_classes) <= 4:
        raise ServiceError("policy.min_classes", _("Character classes must be between 1 and 4."))
    for name in (
        "lockout_threshold",
        "lockout_minutes",
        "idle_timeout_minutes",
        "ip_lockout_threshold",
    ):
        if values.get(name, 1) < 1:
            raise ServiceError("policy.positive", _("Lockout and timeout values must be positive."))
    before = policy.as_dict()
    for name, value in values.items():
        setattr(policy, name, value)
    changes = audit.changes_between(SecurityPolicy, before, policy.as_dict())
    if changes:
        policy.save(update_fields=[*changes, "updated_at"])
        audit.record(AuditAction.POLICY_CHANGE, policy, actor=actor, changes=changes)
    return policy


def sync_builtin_roles() -> list[Role]:
    """Create the built-in roles and keep the administrators' fixed permissions current."""
    roles = []
    for code, spec in BUILTIN_ROLES.items():
        kind = str(spec["kind"])
        perms = sorted(spec["permissions"])  # type: ignore[call-overload]
        role, created = Role.objects.get_or_create(
            code=str(code),
            defaults={
                "name": str(code.label) if hasattr(code, "label") else str(code),
                "kind": kind,
                "permissions": perms,
                "is_builtin": True,
            },
        )
        if not created and kind in ADMIN_KINDS and role.permissions != perms:
            role.permissions = perms
            role.save(update_fields=["permissions"])
        roles.append(role)
    return roles


# ---------------------------------------------------------------- sign-in


@dataclass
class LoginResult:
    user: User
    needs_totp: bool


def _lock_message(until: Any) -> str:
    minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
    return _("Too many failed attempts. Try again in %(m)d minutes.") % {"m": minutes}


def lockout_until(username: str, source_ip: str | None) -> Any:
    """When the account or the address is locked, the time the lock ends; otherwise None."""
    policy = SecurityPolicy.current()
    window_start = timezone.now() - timedelta(minutes=policy.lockout_minutes)
    # A success clears an account's count, but not an address's: otherwise whoever holds one
    # valid account could keep clearing the lock of the address they guess other accounts from.
    checks = [
        (LoginAttempt.objects.filter(username__iexact=username), policy.lockout_threshold, True)
    ]
    if source_ip:
        checks.append(
            (LoginAttempt.objects.filter(source_ip=source_ip), policy.ip_lockout_threshold, False)
        )
    for attempts, threshold, success_resets in checks:
        since = window_start
        if success_resets:
            last_success = (
                attempts.filter(succeeded=True).order_by("-at").values_list("at", flat=True).first()
            )
            since = max(window_start, last_success) if last_success else window_start
        failures = list(
            attempts.filter(succeeded=False, at__gt=since)
            .order_by("-at")
            .values_list("at", flat=True)[:threshold]
        )
        if len(failures) >= threshold:
            return failures[0] + timedelta(minutes=policy.lockout_minutes)
    return None


def attempt_login(
    request: HttpRequest | None, username: str, password: str, source_ip: str | None
) -> LoginResult:
    """Check lockout, then the password; every attempt is counted and audited."""
    username = username.strip()
    until = lockout_until(username, source_ip)
    if until is not None:
        with transaction.atomic():
            audit.record(
                AuditAction.LOGIN_FAILED,
                actor_name=username[:150],
                source_ip=source_ip,
                note="locked",
            )
        raise ServiceError("login.locked", _lock_message(until))
    user = authenticate(request, username=username, password=password)
    if user is None:
        with transaction.atomic():
            LoginAttempt.objects.create(
                username=username[:150], source_ip=source_ip, succeeded=False
            )
            audit.record(AuditAction.LOGIN_FAILED, actor_name=username[:150], source_ip=source_ip)
            if lockout_until(username, source_ip) is not None:
                audit.record(AuditAction.LOCKOUT, actor_name=username[:150], source_ip=source_ip)
        raise ServiceError("login.failed", _("The user name or password is wrong."))
    assert isinstance(user, User)
    return LoginResult(user=user, needs_totp=user.has_totp)


@transaction.atomic
def record_login(user: User, source_ip: str | None) -> None:
    LoginAttempt.objects.create(username=user.username, source_ip=source_ip, succeeded=True)
    audit.record(AuditAction.LOGIN, user, actor=user, source_ip=source_ip)


@transaction.atomic
def record_logout(user: User, source_ip: str | None, note: str = "") -> None:
    audit.record(AuditAction.LOGOUT, user, actor=user, source_ip=source_ip, note=note)


# ---------------------------------------------------------------- second factor (TOTP)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Linli")


def _matching_step(secret: str, code: str) -> int | None:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = timezone.now()
    for drift in (-1, 0, 1):  # one step of clock drift either way
        moment = now + timedelta(seconds=30 * drift)
        if crypto.constant_time_equal(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None


def confirm_totp(user: User, secret: str, code: str, current_password: str | None = None) -> None:
    """Enrol a second factor; replacing an enrolled one needs the current password too, so a
    hijacked session cannot swap in the attacker's authenticator."""
    if user.has_totp:
        _require_current_password(user, current_password or "")
    _confirm_totp(user, secret, code)


@transaction.atomic
def _confirm_totp(user: User, secret: str, code: str) -> None:
    step = _matching_step(secret, code)
    if step is None:
        raise ServiceError("totp.invalid", _("The verification code is wrong."))
    locked = User.objects.select_for_update().get(pk=user.pk)
    locked.totp_secret = secret
    locked.totp_confirmed_at = timezone.now()
    locked.totp_last_step = step
    locked.save(update_fields=["totp_secret", "totp_confirmed_at", "totp_last_step"])
    audit.record(AuditAction.TOTP_ENROL, locked, actor=locked)
    user.totp_secret, user.totp_confirmed_at = secret, locked.totp_confirmed_at


def verify_totp(user: User, code: str, source_ip: str | None) -> None:
    """Accept a code once: a step at or before the last accepted one is a replay."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        step = _matching_step(locked.totp_secret, code) if locked.has_totp else None
        accepted = step is not None and (
            locked.totp_last_step is None or step > locked.totp_last_step
        )
        if accepted:
            locked.totp_last_step = step
            locked.save(update_fields=["totp_last_step"])
            return
    # Recorded in its own transaction so the failure counts towards lockout when we refuse.
    with transaction.atomic():
        LoginAttempt.objects.create(username=locked.username, source_ip=source_ip, succeeded=False)
        audit.record(
            AuditAction.LOGIN_FAILED,
            locked,
            actor_name=locked.username,
            source_ip=source_ip,
            note="totp",
        )
        if lockout_until(locked.username, source_ip) is not None:
            audit.record(AuditAction.LOCKOUT, actor_name=locked.username, source_ip=source_ip)
    raise ServiceError("totp.invalid", _("The verification code is wrong."))


@transaction.atomic
def reset_totp(actor: User, user: User) -> None:
    _require(actor, "accounts.change_user")
    _require_user_in_scope(actor, user)
    _refuse_administrator_target(actor, user)
    locked = User.objects.select_for_update().get(pk=user.pk)
    locked.totp_secret = ""
    locked.totp_confirmed_at = None
    locked.totp_last_step = None
    locked.save(update_fields=["totp_secret", "totp_confirmed_at", "totp_last_step"])
    audit.record(AuditAction.TOTP_RESET, locked, actor=actor)


# ---------------------------------------------------------------- API tokens


@transaction.atomic
def issue_api_token(
    actor: User, user: User, name: str, days: int | None = 365
) -> tuple[ApiToken, str]:
    """A bearer token for a system account; the raw value is shown once and never stored."""
    _require(actor, "accounts.add_apitoken")
    _require_user_in_scope(actor, user)
    if not user.is_active:
        raise ServiceError("user.inactive", _("The account is disabled."))
    # Tokens skip the sign-in rules (password change, second factor), so they are only for
    # system accounts whose every role is of the device/system kind, never for people.
    kinds = set(RoleAssignment.objects.filter(user=user).values_list("role__kind", flat=True))
    if not kinds or kinds != {RoleKind.DEVICE}:
        raise ServiceError(
            "token.not_system_account",
            _("API tokens can only be issued to system accounts holding only integration roles."),
        )
    if days is None or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ServiceError(
            "token.days",
            _("The validity must be between 1 and %(n)d days.") % {"n": MAX_TOKEN_DAYS},
        )
    raw = "ll_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip() or "token",
        token_hash=crypto.sm3_hex(raw.encode()),
        prefix=raw[:8],
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    audit.record(AuditAction.TOKEN_ISSUE, user, actor=actor, note=token.name)
    return token, raw


def reveal_phone(actor: User, user: User) -> str:
    """The plaintext phone for an actor holding the reveal permission; every reveal is audited."""
    _require(actor, "accounts.reveal_user")
    if not User.objects.visible_to(actor).filter(pk=user.pk).exists():
        raise NotFoundError("not_found", _("The record does not exist."))
    with transaction.atomic():
        audit.record(AuditAction.REVEAL, user, actor=actor, note="phone")
    return user.phone


@transaction.atomic
def revoke_api_token(actor: User, token: ApiToken) -> None:
    """A revoked token stops working at once; the row stays for the record."""
    _require(actor, "accounts.add_apitoken")
    _require_user_in_scope(actor, token.user)
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        audit.record(AuditAction.RETIRE, token, actor=actor, note="api token revoked")


def phone_index(phone: str) -> str:
    """The blind-index value of a mobile number, for exact search without decrypting rows."""
    from linli.utilities.fields import blind_index_for

    return blind_index_for(User, "phone_index", _clean_phone(phone))


def find_user_by_phone(phone: str, actor: User | None = None) -> User | None:
    """The account with this mobile number; with ``actor``, only one inside their scope."""
    users = User.objects.visible_to(actor) if actor is not None else User.objects.all()
    return users.filter(phone_index=phone_index(phone)).first()


__all__ = [
    "RoleKind",
    "attempt_login",
    "change_password",
    "confirm_totp",
    "create_role",
    "create_user",
    "grant_role",
    "issue_api_token",
    "reset_password",
    "revoke_api_token",
    "revoke_role",
    "update_policy",
    "update_role",
    "update_user",
]


# ---------------------------------------------------------------- server-side bootstrap


@transaction.atomic
def bootstrap_administrators(region: RegionNode, usernames: dict[str, str]) -> dict[str, str]:
    """Create the three administrators of a new installation with one-time passwords.

    Only possible while no administrator exists: nobody is there yet to create or grant
    them through the pages. Run from the server (``linli accounts bootstrap``), audited.
    """
    sync_builtin_roles()
    if RoleAssignment.objects.filter(role__kind__in=ADMIN_KINDS).exists():
        raise ServiceError(
            "bootstrap.done", _("Administrators exist already; they manage accounts from now on.")
        )
    passwords: dict[str, str] = {}
    for kind, username in usernames.items():
        if kind not in ADMIN_KINDS:
            raise ServiceError("bootstrap.kind", _("Unknown administrator kind."))
        if User.objects.filter(username__iexact=username).exists():
            raise ServiceError("username.taken", _("This user name is already taken."))
        initial = generate_password(max(14, SecurityPolicy.current().min_length))
        user = User(username=username, home_region=region, must_change_password=True)
        user.set_password(initial)
        user.password_changed_at = timezone.now()
        user.save()
        PasswordHistory.objects.create(user=user, password=user.password)
        role = Role.objects.get(code=str(kind))
        RoleAssignment.objects.create(user=user, role=role, region=region)
        audit.record(
            AuditAction.CREATE, user, actor_name="bootstrap", note="linli accounts bootstrap"
        )
        audit.record(
            AuditAction.GRANT,
            user,
            actor_name="bootstrap",
            changes={"role": role.code, "region": region.code},
            region_code=region.code,
        )
        passwords[username] = initial
    return passwords


@transaction.atomic
def reset_password_from_server(username: str) -> str:
    """Break-glass reset for any account, administrators included, by an operator with server
    access; the account must change the password at its next sign-in."""
    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        raise NotFoundError("not_found", _("The record does not exist."))
    temporary = _reset_password(None, user)
    return temporary
