from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Login")
    LOGOUT = "logout", _("Logout")
    LOGIN_FAILED = "login_failed", _("Failed login")
    LOCKOUT = "lockout", _("Account locked")
    PASSWORD_CHANGE = "password_change", _("Password change")
    PASSWORD_RESET = "password_reset", _("Password reset")
    TOTP_ENROL = "totp_enrol", _("Second factor enrolled")
    TOTP_RESET = "totp_reset", _("Second factor reset")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    RETIRE = "retire", _("Retire")
    MOVE = "move", _("Move")
    REVEAL = "reveal", _("Reveal personal data")
    EXPORT = "export", _("Export")
    DOWNLOAD = "download", _("Download")
    GRANT = "grant", _("Grant role")
    REVOKE = "revoke", _("Revoke role")
    ROLE_CHANGE = "role_change", _("Change role")
    POLICY_CHANGE = "policy_change", _("Change security policy")
    TOKEN_ISSUE = "token_issue", _("Issue API token")
    KEY_ROTATE = "key_rotate", _("Rotate encryption keys")
    VERIFY = "verify", _("Verify audit trail")
    REFUSED = "refused", _("Refused attempt")
