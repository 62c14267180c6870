from django.db import models
from django.utils.translation import gettext_lazy as _


class RoleKind(models.TextChoices):
    """Three-administrator separation (三员分立): the admin kinds exclude each other."""

    STAFF = "staff", _("Business role")
    RESIDENT = "resident", _("Resident")
    DEVICE = "device", _("Device or system")
    SYSTEM_ADMIN = "system_admin", _("System administrator")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    AUDIT_ADMIN = "audit_admin", _("Audit administrator")


ADMIN_KINDS = frozenset({RoleKind.SYSTEM_ADMIN, RoleKind.SECURITY_ADMIN, RoleKind.AUDIT_ADMIN})


class BuiltinRole(models.TextChoices):
    COUNTY_OPERATOR = "county_operator", _("County operator")
    SUBDISTRICT_MANAGER = "subdistrict_manager", _("Subdistrict manager")
    COMMUNITY_WORKER = "community_worker", _("Community worker")
    GRID_WORKER = "grid_worker", _("Grid worker")
    PROPERTY_STAFF = "property_staff", _("Property staff")
    DEPARTMENT_HANDLER = "department_handler", _("Department handler")
    RESIDENT = "resident", _("Resident")
    INTEGRATION = "integration", _("Integration system")
    SYSTEM_ADMIN = "system_admin", _("System administrator")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    AUDIT_ADMIN = "audit_admin", _("Audit administrator")
