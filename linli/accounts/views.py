"""Sign-in, password, second factor, and the account, role and policy pages.

Views stay thin: they read through the gate (``User.objects.visible_to``), parse forms, and call
the service functions, turning a refused service call into a message on the page.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from linli.accounts import services
from linli.accounts.filters import UserFilterSet
from linli.accounts.forms import (
    GrantRoleForm,
    LoginForm,
    PasswordChangeForm,
    PolicyForm,
    RoleCreateForm,
    RoleForm,
    TotpForm,
    UserCreateForm,
    UserEditForm,
    region_pick_list,
)
from linli.accounts.models import Role, RoleAssignment, SecurityPolicy, User
from linli.accounts.permissions import PERMISSIONS
from linli.core.errors import ServiceError
from linli.core.middleware import client_ip
from linli.utilities.masking import mask_phone
from linli.utilities.qr import qr_svg

PENDING_USER = "linli_pending_user"
PENDING_AT = "linli_pending_at"
PENDING_NEXT = "linli_pending_next"
SETUP_SECRET = "linli_totp_setup_secret"
# How long the password step stays valid while the second factor is asked.
PENDING_SECONDS = 300


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _complete_login(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    auth_login(request, user, backend="linli.accounts.backends.RoleBackend")
    services.record_login(user, client_ip(request))
    return redirect(next_url)


# ---------------------------------------------------------------- sign-in


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url)
    if request.GET.get("expired"):
        messages.warning(
            request, _("Your session expired after a period of inactivity. Please log in again.")
        )
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.attempt_login(
                request,
                form.cleaned_data["username"],
                form.cleaned_data["password"],
                client_ip(request),
            )
        except ServiceError as exc:
            form.add_error(None, str(exc.message))
        else:
            if result.needs_totp:
                # Not signed in yet: only the pending account is remembered until the code.
                request.session.cycle_key()
                request.session[PENDING_USER] = result.user.pk
                request.session[PENDING_AT] = time.time()
                request.session[PENDING_NEXT] = next_url
                return redirect("accounts:login_totp")
            return _complete_login(request, result.user, next_url)
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


def _pending_user(request: HttpRequest) -> User | None:
    pk = request.session.get(PENDING_USER)
    started = float(request.session.get(PENDING_AT, 0))
    if pk is None or time.time() - started > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=pk, is_active=True).first()


def _clear_pending(request: HttpRequest) -> None:
    for key in (PENDING_USER, PENDING_AT, PENDING_NEXT):
        request.session.pop(key, None)


@csrf_protect
@never_cache
def login_totp_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        _clear_pending(request)
        messages.warning(request, _("The sign-in took too long. Please log in again."))
        return redirect("accounts:login")
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        try:
            until = services.lockout_until(user.username, ip)
            if until is not None:
                _clear_pending(request)
                messages.error(request, _("Too many failed attempts. Please try again later."))
                return redirect("accounts:login")
            services.verify_totp(user, form.cleaned_data["code"], ip)
        except ServiceError as exc:
            form.add_error("code", str(exc.message))
        else:
            next_url = _safe_next(request, request.session.get(PENDING_NEXT))
            _clear_pending(request)
            return _complete_login(request, user, next_url)
    return render(request, "accounts/login_totp.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.record_logout(_actor(request), client_ip(request))
    auth_logout(request)
    messages.success(request, _("You have logged out."))
    return redirect("accounts:login")


@sensitive_post_parameters("old_password", "new_password", "confirm_password")
@login_required
@never_cache
def password_change_view(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_password(
                user, form.cleaned_data["old_password"], form.cleaned_data["new_password"]
            )
        except ServiceError as exc:
            field = "old_password" if exc.code == "password.wrong" else "new_password"
            form.add_error(field, str(exc.message))
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password has been changed."))
            return redirect("core:workbench")
    policy = SecurityPolicy.current()
    return render(
        request,
        "accounts/password_change.html",
        {
            "form": form,
            "forced": user.must_change_password or user.password_expired(policy.expiry_days),
        },
    )


@login_required
@never_cache
def totp_setup_view(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    secret = request.session.get(SETUP_SECRET) or services.new_totp_secret()
    request.session[SETUP_SECRET] = secret
    form = TotpForm(request.POST or None, needs_password=user.has_totp)
    if request.method == "POST" and form.is_valid():
        try:
            services.confirm_totp(
                user, secret, form.cleaned_data["code"], form.cleaned_data.get("current_password")
            )
        except ServiceError as exc:
            form.add_error(
                "current_password" if exc.code.startswith(("password", "login")) else "code",
                str(exc.message),
            )
        else:
            request.session.pop(SETUP_SECRET, None)
            messages.success(request, _("The second factor is set up."))
            return redirect("core:workbench")
    uri = services.totp_uri(user, secret)
    return render(
        request,
        "accounts/totp_setup.html",
        {
            "form": form,
            "secret": secret,
            # The SVG is generated here from our own data, never from user input.
            "qr_svg": mark_safe(qr_svg(uri)),  # noqa: S308
            "enrolled": user.has_totp,
            "required": user.requires_totp(),
        },
    )


# ---------------------------------------------------------------- accounts


def _visible_users(request: HttpRequest) -> Any:
    return User.objects.visible_to(_actor(request))


def _user_or_404(request: HttpRequest, pk: int) -> User:
    user: User = get_object_or_404(_visible_users(request).select_related("home_region"), pk=pk)
    return user


@login_required
@permission_required("accounts.view_user", raise_exception=True)
def user_list(request: HttpRequest) -> HttpResponse:
    users = (
        _visible_users(request)
        .select_related("home_region")
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=RoleAssignment.objects.select_related("role", "region").order_by(
                    "role__code"
                ),
            )
        )
    )
    searched_by_post = request.method == "POST"
    data = request.POST if searched_by_post else request.GET
    filterset = UserFilterSet(data or None, queryset=users, allow_phone=searched_by_post)
    page = Paginator(filterset.qs.order_by("username"), 50).get_page(request.GET.get("page"))
    rows = [(user, mask_phone(user.phone)) for user in page.object_list]
    query = data.copy()
    for key in ("page", "csrfmiddlewaretoken"):
        query.pop(key, None)
    if searched_by_post:
        query.pop("q", None)  # the search may be a phone number: keep it out of page links
    return render(
        request,
        "accounts/user_list.html",
        {
            "filter": filterset,
            "page": page,
            "rows": rows,
            "roles": Role.objects.all(),
            "query": query.urlencode(),
        },
    )


@login_required
@permission_required("accounts.add_user", raise_exception=True)
def user_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = UserCreateForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, initial = services.create_user(
                actor,
                username=data["username"],
                display_name=data["display_name"],
                home_region=data["home_region"],
                phone=data["phone"],
                email=data["email"],
                organisation_name=data["organisation_name"],
            )
        except ServiceError as exc:
            form.add_error(None, str(exc.message))
        else:
            return _one_time_password_page(request, user, initial, created=True)
    return render(
        request,
        "accounts/user_form.html",
        {"form": form, "regions": region_pick_list(actor), "creating": True},
    )


def _one_time_password_page(
    request: HttpRequest, user: User, password: str, *, created: bool
) -> HttpResponse:
    # Rendered as the POST's answer, never stored: the password is shown exactly once.
    response = render(
        request,
        "accounts/one_time_password.html",
        {"account": user, "password": password, "created": created},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required("accounts.view_user", raise_exception=True)
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    account = _user_or_404(request, pk)
    return render(request, "accounts/user_detail.html", _detail_context(actor, account))


def _detail_context(
    actor: User, account: User, grant_form: GrantRoleForm | None = None
) -> dict[str, Any]:
    assignments = (
        RoleAssignment.objects.filter(user=account)
        .select_related("role", "region", "granted_by")
        .order_by("role__code", "region__code")
    )
    may_assign = actor.has_perm("accounts.assign_role") and actor.pk != account.pk
    if may_assign and grant_form is None:
        grant_form = GrantRoleForm(actor=actor)
    return {
        "account": account,
        "masked_phone": mask_phone(account.phone),
        "assignments": assignments,
        "grant_form": grant_form if may_assign else None,
        "regions": region_pick_list(actor) if may_assign else [],
        "may_edit": actor.has_perm("accounts.change_user"),
        "may_retire": actor.has_perm("accounts.retire_user") and actor.pk != account.pk,
        "may_reset": actor.has_perm("accounts.reset_password_user"),
        "may_reveal": actor.has_perm("accounts.reveal_user") and bool(account.phone),
        "may_assign": may_assign,
    }


@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    account = _user_or_404(request, pk)
    initial = {
        "display_name": account.display_name,
        "email": account.email,
        "organisation_name": account.organisation_name,
        "home_region": account.home_region,
    }
    form = UserEditForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_user(actor, account, **form.changed_values())
        except ServiceError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("The account has been saved."))
            return redirect("accounts:user_detail", pk=account.pk)
    return render(
        request,
        "accounts/user_form.html",
        {"form": form, "account": account, "regions": region_pick_list(actor), "creating": False},
    )


@require_POST
@login_required
@permission_required("accounts.retire_user", raise_exception=True)
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    account = _user_or_404(request, pk)
    active = request.POST.get("active") == "1"
    try:
        services.set_user_active(_actor(request), account, active)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request, _("The account is enabled.") if active else _("The account is disabled.")
        )
    return redirect("accounts:user_detail", pk=account.pk)


@require_POST
@login_required
@permission_required("accounts.reset_password_user", raise_exception=True)
def user_reset_password(request: HttpRequest, pk: int) -> HttpResponse:
    account = _user_or_404(request, pk)
    try:
        temporary = services.reset_password(_actor(request), account)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("accounts:user_detail", pk=account.pk)
    return _one_time_password_page(request, account, temporary, created=False)


@require_POST
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_reset_totp(request: HttpRequest, pk: int) -> HttpResponse:
    account = _user_or_404(request, pk)
    try:
        services.reset_totp(_actor(request), account)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The second factor has been reset."))
    return redirect("accounts:user_detail", pk=account.pk)


@require_POST
@login_required
@permission_required("accounts.reveal_user", raise_exception=True)
def user_reveal_phone(request: HttpRequest, pk: int) -> HttpResponse:
    account = _user_or_404(request, pk)
    phone = services.reveal_phone(_actor(request), account)
    response = render(request, "accounts/_phone.html", {"phone": phone})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
@permission_required("accounts.assign_role", raise_exception=True)
def user_grant_role(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    account = _user_or_404(request, pk)
    form = GrantRoleForm(request.POST, actor=actor)
    if form.is_valid():
        try:
            services.grant_role(
                actor, account, form.cleaned_data["role"], form.cleaned_data["region"]
            )
        except ServiceError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("The role has been granted."))
        return redirect("accounts:user_detail", pk=account.pk)
    context = _detail_context(actor, account, grant_form=form)
    return render(request, "accounts/user_detail.html", context)


@require_POST
@login_required
@permission_required("accounts.assign_role", raise_exception=True)
def user_revoke_role(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    actor = _actor(request)
    account = _user_or_404(request, pk)
    assignment = get_object_or_404(
        RoleAssignment.objects.visible_to(actor).select_related("role", "region", "user"),
        pk=assignment_pk,
        user=account,
    )
    try:
        services.revoke_role(actor, assignment)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The role has been revoked."))
    return redirect("accounts:user_detail", pk=account.pk)


# ---------------------------------------------------------------- roles and policy


@login_required
@permission_required("accounts.view_role", raise_exception=True)
def role_list(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/role_list.html", {"roles": Role.objects.all()})


def _permission_rows(role: Role) -> list[tuple[str, Any, bool]]:
    held = set(role.permissions)
    return [(code, label, code in held) for code, label in PERMISSIONS.items()]


@login_required
@permission_required("accounts.view_role", raise_exception=True)
def role_detail(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(Role, pk=pk)
    return render(
        request,
        "accounts/role_detail.html",
        {
            "role": role,
            "permission_rows": _permission_rows(role),
            "holders": role.assignments.count(),
            "may_edit": request.user.has_perm("accounts.change_role"),
        },
    )


@login_required
@permission_required("accounts.change_role", raise_exception=True)
def role_edit(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(Role, pk=pk)
    initial = {
        "name": role.name,
        "description": role.description,
        "permissions": role.permissions,
        "require_totp": role.require_totp,
    }
    form = RoleForm(request.POST or None, role=role, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_role(
                _actor(request),
                role,
                permissions=None if role.is_admin else list(data["permissions"]),
                require_totp=data["require_totp"],
                name=data["name"],
                description=data["description"],
            )
        except ServiceError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("The role has been saved."))
            return redirect("accounts:role_detail", pk=role.pk)
    return render(request, "accounts/role_form.html", {"role": role, "form": form})


@login_required
@permission_required("accounts.add_role", raise_exception=True)
def role_create(request: HttpRequest) -> HttpResponse:
    form = RoleCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            role = services.create_role(
                _actor(request),
                code=data["code"],
                name=data["name"],
                kind=data["kind"],
                permissions=list(data["permissions"]),
                description=data["description"],
            )
        except ServiceError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("The role has been saved."))
            return redirect("accounts:role_detail", pk=role.pk)
    return render(request, "accounts/role_form.html", {"role": None, "form": form})


@login_required
@permission_required("accounts.view_securitypolicy", raise_exception=True)
def policy_view(request: HttpRequest) -> HttpResponse:
    policy = SecurityPolicy.current()
    form = PolicyForm(instance=policy)
    rows = [(form[name].label, getattr(policy, name)) for name in form.fields]
    return render(
        request,
        "accounts/policy.html",
        {"rows": rows, "may_edit": request.user.has_perm("accounts.change_securitypolicy")},
    )


@login_required
@permission_required("accounts.change_securitypolicy", raise_exception=True)
def policy_edit(request: HttpRequest) -> HttpResponse:
    policy = SecurityPolicy.current()
    # The form only validates; a fresh instance keeps the shared row untouched until the service.
    form = PolicyForm(request.POST or None, instance=SecurityPolicy.objects.get(pk=policy.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_policy(_actor(request), **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("The security policy has been saved."))
            return redirect("accounts:policy")
    return render(request, "accounts/policy_form.html", {"form": form})
