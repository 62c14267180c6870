from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from linli.utilities import crypto


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def _error_page(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": {"code": code, "message": message}}, status=status)
    return render(request, "core/error.html", {"status": status, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 400, "bad_request", _("The request could not be understood."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request, 403, "permission_denied", _("You do not have permission for this page.")
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 404, "not_found", _("The page or record does not exist."))


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_page(
        request, 500, "server_error", _("Something went wrong on our side; it has been logged.")
    )


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    from linli.regions.models import RegionNode

    user: Any = request.user
    regions = RegionNode.objects.visible_to(user).active()
    counts = dict.fromkeys(("subdistrict", "community", "grid"), 0)
    for level, total in _level_counts(regions):
        if level in counts:
            counts[level] = total
    scope = list(RegionNode.objects.filter(code__in=user.scope_codes()))
    return render(
        request,
        "core/workbench.html",
        {"counts": counts, "scope_nodes": scope, "roles": [a.role for a in user._assignments()]},
    )


def _level_counts(queryset: Any) -> list[tuple[str, int]]:
    from django.db.models import Count

    return list(queryset.values_list("level").annotate(total=Count("id")).order_by())


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: the database answers and the national algorithms work."""
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: this endpoint must answer
        checks["database"] = f"error: {exc.__class__.__name__}"
        healthy = False
    try:
        crypto.self_check()
        checks["crypto"] = "ok"
    except crypto.CryptoUnavailableError:
        checks["crypto"] = "error"
        healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )
