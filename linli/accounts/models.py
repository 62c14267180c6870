"""Accounts, roles and data scope.

A staff user holds one or more (role, region) assignments: the roles give the permissions, the
regions the data scope (the union of their subtrees). Admin roles are kept apart (三员分立).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.accounts.choices import ADMIN_KINDS, RoleKind
from linli.utilities.fields import BlindIndexField, EncryptedCharField
from linli.utilities.scope import ScopedQuerySet, normalise_codes
from linli.utilities.validators import normalize_mobile


def _normalise_phone(value: str) -> str:
    try:
        return normalize_mobile(value)
    except ValueError:
        return value.strip()


class UserQuerySet(ScopedQuerySet):
    def active(self) -> UserQuerySet:
        return self.filter(is_active=True)


class LinliUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    # Users are placed where their home unit is; the system administrator sees all of them.
    scope_path = "home_region__code"

    display_name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = EncryptedCharField(_("mobile phone"), blank=True)
    phone_index = BlindIndexField(source="phone", normalizer=_normalise_phone)
    home_region = models.ForeignKey(
        "regions.RegionNode",
        verbose_name=_("home region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    organisation_name = models.CharField(_("unit"), max_length=100, blank=True)
    must_change_password = models.BooleanField(_("must change password"), default=False)
    password_changed_at = models.DateTimeField(_("password changed"), null=True, blank=True)
    totp_secret = EncryptedCharField(_("second factor secret"), blank=True)
    totp_confirmed_at = models.DateTimeField(_("second factor enrolled"), null=True, blank=True)
    # The last accepted TOTP time step: a code is accepted once, never replayed.
    totp_last_step = models.PositiveBigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    objects = LinliUserManager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_superuser=False), name="accounts_user_no_superuser"
            )
        ]
        permissions = [
            ("retire_user", "Can retire a user"),
            ("reset_password_user", "Can reset a user's password"),
            ("reveal_user", "Can reveal a user's personal data"),
            ("export_user", "Can export users"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    # Django lets an active superuser do everything before any backend is asked; that would
    # be one account above the three administrators. Permissions come from roles only.
    def has_perm(self, perm: str, obj: Any = None) -> bool:
        if not self.is_active:
            return False
        return perm in self.linli_permissions() if obj is None else False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and any(
            perm.startswith(f"{app_label}.") for perm in self.linli_permissions()
        )

    # Scope and permissions are read many times per request; cache them on the instance.
    def _assignments(self) -> list[RoleAssignment]:
        cached: list[RoleAssignment] | None = getattr(self, "_assignment_cache", None)
        if cached is None:
            cached = list(
                RoleAssignment.objects.filter(user=self, role__is_active=True)
                .select_related("role", "region")
                .filter(region__retired_at__isnull=True)
            )
            self._assignment_cache = cached
        return cached

    def forget_cached_access(self) -> None:
        for name in ("_assignment_cache", "_perm_cache", "_role_perm_cache", "_user_perm_cache"):
            self.__dict__.pop(name, None)

    def scope_codes(self) -> tuple[str, ...]:
        return normalise_codes(a.region.code for a in self._assignments())

    def role_codes(self) -> set[str]:
        return {a.role.code for a in self._assignments()}

    def admin_kind(self) -> str | None:
        kinds = {a.role.kind for a in self._assignments()} & ADMIN_KINDS
        return next(iter(kinds)) if kinds else None

    def linli_permissions(self) -> frozenset[str]:
        if not self.is_active:
            return frozenset()
        perms: set[str] = set()
        for assignment in self._assignments():
            perms.update(assignment.role.permissions)
        return frozenset(perms)

    def requires_totp(self) -> bool:
        return any(a.role.require_totp for a in self._assignments())

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret) and self.totp_confirmed_at is not None

    def password_expired(self, expiry_days: int) -> bool:
        if expiry_days <= 0 or self.password_changed_at is None:
            return False
        return timezone.now() - self.password_changed_at > timedelta(days=expiry_days)


class RoleQuerySet(models.QuerySet["Role"]):
    def active(self) -> RoleQuerySet:
        return self.filter(is_active=True)

    def admin(self) -> RoleQuerySet:
        return self.filter(kind__in=ADMIN_KINDS)


class Role(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=50)
    kind = models.CharField(
        _("kind"), max_length=20, choices=RoleKind.choices, default=RoleKind.STAFF
    )
    description = models.TextField(_("description"), blank=True)
    permissions = models.JSONField(_("permissions"), default=list, blank=True)
    require_totp = models.BooleanField(_("second factor required"), default=False)
    is_builtin = models.BooleanField(_("built in"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RoleQuerySet.as_manager()

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["kind", "code"]
        permissions = [("assign_role", "Can grant and revoke roles")]

    def __str__(self) -> str:
        return str(self.name)

    @property
    def is_admin(self) -> bool:
        return self.kind in ADMIN_KINDS


class RoleAssignmentQuerySet(ScopedQuerySet):
    pass


class RoleAssignment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    region = models.ForeignKey("regions.RegionNode", on_delete=models.PROTECT, related_name="+")
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(_("granted"), default=timezone.now)

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "region"], name="unique_assignment")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} @ {self.region}"


class SecurityPolicy(models.Model):
    """The login and password policy, one row, managed by the security administrator."""

    min_length = models.PositiveSmallIntegerField(_("minimum password length"), default=8)
    min_classes = models.PositiveSmallIntegerField(_("character classes required"), default=3)
    history_count = models.PositiveSmallIntegerField(_("passwords remembered"), default=5)
    expiry_days = models.PositiveSmallIntegerField(
        _("password expiry (days, 0 = never)"), default=90
    )
    lockout_threshold = models.PositiveSmallIntegerField(_("failures before lockout"), default=5)
    lockout_minutes = models.PositiveSmallIntegerField(_("lockout duration (minutes)"), default=30)
    # A source address is shared by a whole office behind NAT, so it gets its own threshold.
    ip_lockout_threshold = models.PositiveSmallIntegerField(
        _("failures from one address before it is locked"), default=20
    )
    idle_timeout_minutes = models.PositiveSmallIntegerField(
        _("idle session timeout (minutes)"), default=30
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("security policy")
        verbose_name_plural = _("security policies")

    def __str__(self) -> str:
        return str(_("Security policy"))

    @classmethod
    def current(cls) -> SecurityPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy

    def as_dict(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in self._meta.concrete_fields
            if f.name not in {"id", "updated_at"}
        }


class PasswordHistory(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"password of {self.user_id} at {self.created_at:%Y-%m-%d}"


class LoginAttempt(models.Model):
    """Every login attempt; lockout counts recent failures per account and per source address."""

    username = models.CharField(max_length=150, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["source_ip", "at"]),
            models.Index(fields=["username", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.username} {'ok' if self.succeeded else 'failed'} {self.at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A bearer token for a system (12345 platform, city platform); only its SM3 hash is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
