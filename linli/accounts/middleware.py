"""Session rules for signed-in users: idle timeout, forced password change, mandatory 2FA."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from linli.accounts.models import SecurityPolicy

LAST_ACTIVITY = "linli_last_activity"
EXEMPT_PREFIXES = ("/static/", "/health/", "/media/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = request.user
        if not user.is_authenticated or request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        policy = SecurityPolicy.current()
        now = time.time()
        last = request.session.get(LAST_ACTIVITY)
        if last is not None and now - float(last) > policy.idle_timeout_minutes * 60:
            return self._expire(request, user)
        request.session[LAST_ACTIVITY] = now
        gate = self._gate(request, user, policy)
        if gate is not None:
            return gate
        return self.get_response(request)

    def _expire(self, request: HttpRequest, user: Any) -> HttpResponse:
        from linli.accounts.services import record_logout
        from linli.core.middleware import client_ip

        record_logout(user, client_ip(request), note="idle timeout")
        logout(request)
        message = _("Your session expired after a period of inactivity. Please log in again.")
        if _is_api(request) or request.headers.get("HX-Request"):
            return JsonResponse(
                {"error": {"code": "session_expired", "message": message}}, status=401
            )
        # This middleware runs before MessageMiddleware, so the login page shows the notice
        # from the query string instead of the messages framework.
        query = urlencode({"next": request.get_full_path(), "expired": "1"})
        return redirect(f"{reverse('accounts:login')}?{query}")

    def _gate(self, request: HttpRequest, user: Any, policy: SecurityPolicy) -> HttpResponse | None:
        allowed = {
            reverse("accounts:password_change"),
            reverse("accounts:logout"),
            reverse("accounts:totp_setup"),
            reverse("accounts:login"),
            reverse("accounts:login_totp"),
        }
        if request.path in allowed:
            return None
        if user.must_change_password or user.password_expired(policy.expiry_days):
            return self._redirect(
                request,
                "password_change_required",
                _("You must change your password before continuing."),
                "accounts:password_change",
            )
        if user.requires_totp() and not user.has_totp:
            return self._redirect(
                request,
                "second_factor_required",
                _("Your role requires a second factor. Set it up before continuing."),
                "accounts:totp_setup",
            )
        return None

    def _redirect(self, request: HttpRequest, code: str, message: str, target: str) -> HttpResponse:
        if _is_api(request):
            return JsonResponse({"error": {"code": code, "message": message}}, status=403)
        return redirect(target)
