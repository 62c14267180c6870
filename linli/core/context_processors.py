"""The navigation shows only what the user may use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# (url name, label, permissions of which one is needed — empty for every signed-in user)
NAVIGATION: list[tuple[str, Any, tuple[str, ...]]] = [
    ("core:workbench", gettext_lazy("Workbench"), ()),
    ("regions:tree", gettext_lazy("Regions"), ("regions.view_regionnode",)),
    # One entry for the whole register; its pages carry their own sub-navigation.
    ("registry:index", gettext_lazy("Registry"), ("registry.view_house",)),
    # One entry for the event hub: a department handler holds only handle_event.
    ("events:workbench", gettext_lazy("Events"), ("events.view_event", "events.handle_event")),
    # One entry for the self-assessment; its pages carry their own sub-navigation.
    ("assessment:index", gettext_lazy("Self-assessment"), ("assessment.view_assessment",)),
    ("accounts:user_list", gettext_lazy("Accounts"), ("accounts.view_user",)),
    ("accounts:role_list", gettext_lazy("Roles"), ("accounts.view_role",)),
    ("accounts:policy", gettext_lazy("Security policy"), ("accounts.view_securitypolicy",)),
    ("audit:entry_list", gettext_lazy("Audit trail"), ("audit.view_auditentry",)),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    current = request.resolver_match.view_name if request.resolver_match else ""
    items = []
    for name, label, perms in NAVIGATION:
        if not perms or any(user.has_perm(perm) for perm in perms):
            app = name.split(":")[0]
            items.append(
                {
                    "url": reverse(name),
                    "label": label,
                    "active": current.split(":")[0] == app and (app != "core" or current == name),
                }
            )
    items.append(_inbox_item(user, current))
    return {"nav_items": items}


def _inbox_item(user: Any, current: str) -> dict[str, Any]:
    """Every signed-in user's inbox, its unread count in the label (one indexed count)."""
    from linli.notifications.services import unread_count

    unread = unread_count(user)
    label = (
        _("Notifications (%(count)d unread)") % {"count": unread} if unread else _("Notifications")
    )
    return {
        "url": reverse("notifications:inbox"),
        "label": label,
        "active": current.startswith("notifications:"),
        "badge": unread,
    }
