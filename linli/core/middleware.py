from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from linli.core.context import acting_as


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for lockout and the audit trail.

    ``X-Forwarded-For`` is read only when the direct peer is one of LINLI_TRUSTED_PROXIES, and
    then from the right: the last hop that is not a trusted proxy is the one our own proxy saw.
    Anything a client writes further left is its own claim and ignored. Malformed values are
    ignored too, never an error.
    """
    from django.conf import settings

    remote = _address(request.META.get("REMOTE_ADDR", ""))
    trusted = set(getattr(settings, "LINLI_TRUSTED_PROXIES", []))
    if getattr(settings, "LINLI_TRUST_PROXY", False) and remote in trusted:
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break
            if address not in trusted:
                return address
    return remote


class RequestContextMiddleware:
    """Makes the acting user and source address known to services for the audit trail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        with acting_as(user=user, source_ip=client_ip(request), channel="web"):
            return self.get_response(request)
