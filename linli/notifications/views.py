"""The in-app inbox: every signed-in user's notifications, newest first, marked read one by one
or all at once (POST), each opening its subject."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from linli.notifications import services
from linli.notifications.models import Notification
from linli.utilities.paging import CappedPaginator

PAGE_SIZE = 30


def _mine(request: HttpRequest) -> Any:
    user: Any = request.user
    return Notification.objects.filter(recipient=user)


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    rows = _mine(request)
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    page = CappedPaginator(rows.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "notifications/inbox.html",
        {
            "page": page,
            "notifications": list(page.object_list),
            "unread": services.unread_count(request.user),
            "unread_only": unread_only,
            "query": "unread=1" if unread_only else "",
        },
    )


def _safe_link(request: HttpRequest, link: str) -> str | None:
    if link and url_has_allowed_host_and_scheme(
        link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return link
    return None


@login_required
@require_POST
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark it read and go to what it is about (the subject's own page checks access)."""
    notification = get_object_or_404(_mine(request), pk=pk)
    services.mark_read(request.user, [notification.pk])
    link = _safe_link(request, notification.link)
    return redirect(link) if link else redirect("notifications:inbox")


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(_mine(request), pk=pk)
    services.mark_read(request.user, [notification.pk])
    return redirect("notifications:inbox")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.mark_read(request.user)
    messages.success(request, _("%(count)d notifications marked as read.") % {"count": count})
    return redirect("notifications:inbox")
