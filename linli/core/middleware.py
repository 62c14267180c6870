from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from linli.core.context import acting_as


def client_ip(request: HttpRequest) -> str | None:
    """The source address; behind nginx the first X-Forwarded-For hop is the client's.

    Only trusted when LINLI_TRUST_PROXY is set, otherwise anyone could pick their address
    and dodge per-address lockout.
    """
    from django.conf import settings

    if getattr(settings, "LINLI_TRUST_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Makes the acting user and source address known to services for the audit trail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        with acting_as(user=user, source_ip=client_ip(request), channel="web"):
            return self.get_response(request)
