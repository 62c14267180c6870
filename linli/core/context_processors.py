"""The navigation shows only what the user may use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# (url name, label, permission needed or None for every signed-in user)
NAVIGATION: list[tuple[str, Any, str | None]] = [
    ("core:workbench", _("Workbench"), None),
    ("regions:tree", _("Regions"), "regions.view_regionnode"),
    # One entry for the whole register; its pages carry their own sub-navigation.
    ("registry:index", _("Registry"), "registry.view_house"),
    # One entry for the self-assessment; its pages carry their own sub-navigation.
    ("assessment:index", _("Self-assessment"), "assessment.view_assessment"),
    ("accounts:user_list", _("Accounts"), "accounts.view_user"),
    ("accounts:role_list", _("Roles"), "accounts.view_role"),
    ("accounts:policy", _("Security policy"), "accounts.view_securitypolicy"),
    ("audit:entry_list", _("Audit trail"), "audit.view_auditentry"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    current = request.resolver_match.view_name if request.resolver_match else ""
    items = []
    for name, label, perm in NAVIGATION:
        if perm is None or user.has_perm(perm):
            app = name.split(":")[0]
            items.append(
                {
                    "url": reverse(name),
                    "label": label,
                    "active": current.split(":")[0] == app and (app != "core" or current == name),
                }
            )
    return {"nav_items": items}
