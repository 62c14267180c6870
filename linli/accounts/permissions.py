"""The permission catalogue and the built-in roles of SPEC §1 as sets of permissions.

Permission codes follow Django's ``app_label.action_model`` form so ``user.has_perm`` and the
access gate (``visible_to(user, action)``) read them directly. Later apps add their codes here.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from linli.accounts.choices import BuiltinRole, RoleKind

PERMISSIONS: dict[str, Promise] = {
    "regions.view_regionnode": _("View regions"),
    "regions.add_regionnode": _("Create regions"),
    "regions.change_regionnode": _("Rename and move regions"),
    "regions.retire_regionnode": _("Retire regions"),
    "regions.export_regionnode": _("Export regions"),
    "accounts.view_user": _("View accounts"),
    "accounts.add_user": _("Create accounts"),
    "accounts.change_user": _("Edit accounts"),
    "accounts.retire_user": _("Disable accounts"),
    "accounts.reset_password_user": _("Reset passwords"),
    "accounts.reveal_user": _("Reveal account personal data"),
    "accounts.export_user": _("Export accounts"),
    "accounts.view_role": _("View roles"),
    "accounts.add_role": _("Create roles"),
    "accounts.change_role": _("Edit role permissions"),
    "accounts.assign_role": _("Grant and revoke roles"),
    "accounts.view_roleassignment": _("View role assignments"),
    "accounts.view_securitypolicy": _("View security policy"),
    "accounts.change_securitypolicy": _("Change security policy"),
    "accounts.add_apitoken": _("Issue API tokens"),
    "audit.view_auditentry": _("Read the audit trail"),
    "audit.verify_auditentry": _("Verify the audit trail"),
    "core.view_dashboard": _("View dashboards"),
}

# The register (人地物组织): every model gets view / add / change / retire / export; people,
# places and organisations can also be imported; revealing personal data is separate.
REGISTRY_MODELS: dict[str, Promise] = {
    "organisation": _("organisations"),
    "compound": _("compounds"),
    "building": _("buildings"),
    "unit": _("units"),
    "house": _("houses"),
    "household": _("households"),
    "person": _("people"),
    "residence": _("residences"),
    "vehicle": _("vehicles"),
    "rental": _("rentals"),
}
_ACTION_LABELS: dict[str, Promise] = {
    "view": _("View"),
    "add": _("Create"),
    "change": _("Edit"),
    "retire": _("Retire"),
    "export": _("Export"),
}
for _model, _label in REGISTRY_MODELS.items():
    for _action, _action_label in _ACTION_LABELS.items():
        PERMISSIONS[f"registry.{_action}_{_model}"] = format_lazy(
            _("{action} {things}"), action=_action_label, things=_label
        )
PERMISSIONS.update(
    {
        "registry.import_person": _("Import people"),
        "registry.import_compound": _("Import compounds, buildings and houses"),
        "registry.import_vehicle": _("Import vehicles"),
        "registry.import_organisation": _("Import organisations"),
        "registry.reveal_person": _("Reveal personal data of people"),
        "registry.tag_person": _("Tag people"),
        "registry.change_tag": _("Manage the tag taxonomy"),
    }
)


# Indicator self-assessment (指标自评): evaluating a community, and the manual figures with
# evidence it rests on; replacing a figure the platform computes is a separate permission.
PERMISSIONS.update(
    {
        "assessment.view_assessment": _("View indicator self-assessments"),
        "assessment.view_manualfigure": _("View manual figures"),
        "assessment.add_manualfigure": _("Enter manual figures with evidence"),
        "assessment.retire_manualfigure": _("Withdraw manual figures"),
        "assessment.override_manualfigure": _("Override figures the platform computes"),
        "assessment.add_assessment": _("Run and store self-assessments"),
        "assessment.export_assessment": _("Export self-assessment tables"),
        "assessment.view_publication": _("View acceptance publications"),
        "assessment.add_publication": _("Draft acceptance publications"),
        "assessment.change_publication": _("Edit draft acceptance publications"),
        "assessment.issue_publication": _("Issue acceptance publications"),
    }
)
_ASSESSMENT_READ = {
    "assessment.view_assessment",
    "assessment.view_manualfigure",
    "assessment.view_publication",
}
_ASSESSMENT_EVIDENCE = _ASSESSMENT_READ | {
    "assessment.add_manualfigure",
    "assessment.retire_manualfigure",
    "assessment.add_assessment",
    "assessment.add_publication",
    "assessment.change_publication",
}
# Those who organise the acceptance (county, subdistrict) issue the publication and compare
# communities.
_ASSESSMENT_ORGANISE = {
    "assessment.add_assessment",
    "assessment.export_assessment",
    "assessment.issue_publication",
}


# The event hub (一切皆事件): reporting, the dispatcher's steps, the department's steps, the
# supervisor's steps and follow-up calls are separate, so each role holds exactly its part.
PERMISSIONS.update(
    {
        "events.view_event": _("View events in the area"),
        "events.add_event": _("Report events"),
        "events.accept_event": _("Accept, reject and merge events"),
        "events.dispatch_event": _("Dispatch and transfer events"),
        "events.handle_event": _("Sign for and handle events of own department"),
        "events.review_event": _("Review and close events"),
        "events.supervise_event": _("Urge, escalate and rule on events"),
        "events.followup_event": _("Record follow-up calls"),
        "events.export_event": _("Export events and statistics"),
        "events.change_eventcategory": _("Configure event categories and holidays"),
        "events.view_department": _("View departments"),
        "events.add_department": _("Create departments"),
        "events.change_department": _("Edit departments and their members"),
        "events.retire_department": _("Retire departments"),
        "events.view_dispatchrule": _("View dispatch rules"),
        "events.add_dispatchrule": _("Create dispatch rules"),
        "events.change_dispatchrule": _("Edit dispatch rules"),
        "events.retire_dispatchrule": _("Remove dispatch rules"),
    }
)
_EVENTS_DISPATCH = {
    "events.view_event",
    "events.add_event",
    "events.accept_event",
    "events.dispatch_event",
    "events.review_event",
    "events.followup_event",
    "events.view_department",
    "events.view_dispatchrule",
}
_EVENTS_SUPERVISE = _EVENTS_DISPATCH | {
    "events.supervise_event",
    "events.export_event",
    "events.add_department",
    "events.change_department",
    "events.retire_department",
    "events.add_dispatchrule",
    "events.change_dispatchrule",
    "events.retire_dispatchrule",
}


def registry_permissions(actions: set[str], models: set[str] | None = None) -> set[str]:
    return {
        f"registry.{action}_{model}"
        for model in (models or set(REGISTRY_MODELS))
        for action in actions
    }


_PLACES = {"compound", "building", "unit", "house", "vehicle"}
_REGISTRY_KEEP = registry_permissions({"view", "add", "change", "retire"}) | {
    "registry.import_person",
    "registry.import_compound",
    "registry.import_vehicle",
    "registry.import_organisation",
    "registry.reveal_person",
    "registry.tag_person",
}

# Permissions that only one administrator kind may hold (三员分立). A business role holding one
# of them would let a single account do two administrators' work.
ADMIN_ONLY = {
    RoleKind.SYSTEM_ADMIN: {
        "accounts.add_user",
        "accounts.change_user",
        "accounts.retire_user",
        "accounts.reset_password_user",
        "accounts.add_apitoken",
    },
    RoleKind.SECURITY_ADMIN: {
        "accounts.add_role",
        "accounts.change_role",
        "accounts.assign_role",
        "accounts.change_securitypolicy",
    },
    RoleKind.AUDIT_ADMIN: {"audit.view_auditentry", "audit.verify_auditentry"},
}

_REGION_READ = {"regions.view_regionnode", "core.view_dashboard"}
_REGION_MANAGE = _REGION_READ | {
    "regions.add_regionnode",
    "regions.change_regionnode",
    "regions.retire_regionnode",
    "regions.export_regionnode",
}

BUILTIN_ROLES: dict[str, dict[str, object]] = {
    BuiltinRole.COUNTY_OPERATOR: {
        "kind": RoleKind.STAFF,
        "permissions": _REGION_MANAGE
        | {"accounts.view_user", "registry.change_tag"}
        | registry_permissions({"view", "export"})
        | _ASSESSMENT_EVIDENCE
        | _ASSESSMENT_ORGANISE
        | {"assessment.override_manualfigure"}
        | _EVENTS_SUPERVISE
        | {"events.change_eventcategory"},
    },
    BuiltinRole.SUBDISTRICT_MANAGER: {
        "kind": RoleKind.STAFF,
        "permissions": _REGION_MANAGE
        | {"accounts.view_user"}
        | registry_permissions({"view", "export"})
        | _ASSESSMENT_READ
        | _ASSESSMENT_ORGANISE
        | _EVENTS_SUPERVISE,
    },
    BuiltinRole.COMMUNITY_WORKER: {
        "kind": RoleKind.STAFF,
        # Export is deliberately absent: the security administrator grants it separately.
        "permissions": _REGION_READ
        | {"regions.add_regionnode", "regions.change_regionnode", "regions.export_regionnode"}
        | _REGISTRY_KEEP
        | _ASSESSMENT_EVIDENCE
        # The community committee handles what it can itself, as a department.
        | _EVENTS_DISPATCH
        | {"events.handle_event"},
    },
    BuiltinRole.GRID_WORKER: {
        "kind": RoleKind.STAFF,
        "permissions": {"regions.view_regionnode", "registry.tag_person"}
        | registry_permissions({"view"})
        | registry_permissions({"add", "change"}, {"person", "residence", "house", "household"})
        | {"events.view_event", "events.add_event"},
    },
    BuiltinRole.PROPERTY_STAFF: {
        "kind": RoleKind.STAFF,
        "permissions": {"regions.view_regionnode", "events.add_event", "events.handle_event"}
        | registry_permissions({"view"}, _PLACES),
    },
    BuiltinRole.DEPARTMENT_HANDLER: {
        "kind": RoleKind.STAFF,
        # Sees the events dispatched to its department (wherever they lie), nothing else.
        "permissions": {"regions.view_regionnode", "events.handle_event"},
    },
    # Residents report and follow their own reports (the gate shows them nothing else).
    BuiltinRole.RESIDENT: {"kind": RoleKind.RESIDENT, "permissions": {"events.add_event"}},
    # The 12345 platform and Open311 clients push reports and read back their own.
    BuiltinRole.INTEGRATION: {
        "kind": RoleKind.DEVICE,
        "permissions": {"regions.view_regionnode", "events.add_event"},
    },
    BuiltinRole.SYSTEM_ADMIN: {
        "kind": RoleKind.SYSTEM_ADMIN,
        "permissions": ADMIN_ONLY[RoleKind.SYSTEM_ADMIN]
        | {"accounts.view_user", "accounts.reveal_user", "regions.view_regionnode"},
    },
    BuiltinRole.SECURITY_ADMIN: {
        "kind": RoleKind.SECURITY_ADMIN,
        "permissions": ADMIN_ONLY[RoleKind.SECURITY_ADMIN]
        | {
            "accounts.view_user",
            "accounts.view_role",
            "accounts.view_roleassignment",
            "accounts.view_securitypolicy",
            "regions.view_regionnode",
        },
        "require_totp": False,
    },
    BuiltinRole.AUDIT_ADMIN: {
        "kind": RoleKind.AUDIT_ADMIN,
        "permissions": ADMIN_ONLY[RoleKind.AUDIT_ADMIN],
    },
}


def forbidden_for_kind(kind: str) -> set[str]:
    """Permissions a role of this kind may not hold: the other administrators' own."""
    forbidden: set[str] = set()
    for admin_kind, perms in ADMIN_ONLY.items():
        if admin_kind != kind:
            forbidden |= perms
    return forbidden
