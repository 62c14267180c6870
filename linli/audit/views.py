"""The audit administrator's pages: search the trail, read an entry, verify the chain.

Audit entries are not placed in the region tree; the pages are gated by the audit
administrator's permission alone, so nobody else — the system administrator included — opens them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from linli.audit import services
from linli.audit.filters import AuditEntryFilter
from linli.audit.models import AuditCheckpoint, AuditEntry
from linli.core.errors import ServiceError

PAGE_SIZE = 50
View = Callable[..., HttpResponse]


def audit_admin_required(perm: str = "audit.view_auditentry") -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@require_GET
@audit_admin_required()
def entry_list(request: HttpRequest) -> HttpResponse:
    search = AuditEntryFilter(request.GET or None, queryset=AuditEntry.objects.order_by("-seq"))
    rows = search.qs if search.is_bound else AuditEntry.objects.order_by("-seq")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/entry_list.html",
        {
            "search": search,
            "page": page,
            "query": _query_without_page(request),
            "verification": services.verification_status(),
            "can_verify": request.user.has_perm("audit.verify_auditentry"),
        },
    )


@require_GET
@audit_admin_required()
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(AuditEntry, pk=pk)
    changes = [
        (
            name,
            values[0] if isinstance(values, list) and values else "",
            values[1] if isinstance(values, list) and len(values) > 1 else values,
        )
        for name, values in sorted((entry.changes or {}).items())
    ]
    return render(
        request,
        "audit/entry_detail.html",
        {
            "entry": entry,
            "changes": changes,
            "hash_ok": entry.compute_hash() == entry.hash,
            "previous": AuditEntry.objects.filter(seq=entry.seq - 1).only("id", "seq").first(),
            "next": AuditEntry.objects.filter(seq=entry.seq + 1).only("id", "seq").first(),
        },
    )


@require_GET
@audit_admin_required()
def verification(request: HttpRequest) -> HttpResponse:
    checkpoints = Paginator(AuditCheckpoint.objects.order_by("-seq", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "audit/verification.html",
        {
            "verification": services.verification_status(),
            "checkpoints": checkpoints,
            "can_verify": request.user.has_perm("audit.verify_auditentry"),
        },
    )


@require_POST
@audit_admin_required("audit.verify_auditentry")
def verify(request: HttpRequest) -> HttpResponse:
    try:
        result = services.request_verification(request.user)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        if result.ok:
            messages.success(request, _("The audit trail is intact."))
        else:
            messages.error(request, _("The audit trail has been tampered with."))
    return redirect("audit:verification")
