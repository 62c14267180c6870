"""Password rules from the security policy: length, character classes, history."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def _policy() -> Any:
    from linli.accounts.models import SecurityPolicy

    return SecurityPolicy.current()


def character_classes(password: str) -> int:
    return sum(
        [
            any(c.islower() and c.isascii() for c in password),
            any(c.isupper() and c.isascii() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )


class PolicyLengthValidator:
    def validate(self, password: str, user: Any = None) -> None:
        minimum = _policy().min_length
        if len(password) < minimum:
            raise ValidationError(
                ngettext(
                    "The password must have at least %(n)d character.",
                    "The password must have at least %(n)d characters.",
                    minimum,
                )
                % {"n": minimum},
                code="password_too_short",
            )

    def get_help_text(self) -> str:
        return _("At least %(n)d characters.") % {"n": _policy().min_length}


class CharacterClassValidator:
    def validate(self, password: str, user: Any = None) -> None:
        required = _policy().min_classes
        if character_classes(password) < required:
            raise ValidationError(
                _(
                    "The password must mix at least %(n)d of: lower-case letters, upper-case "
                    "letters, digits, symbols."
                )
                % {"n": required},
                code="password_classes",
            )

    def get_help_text(self) -> str:
        return _(
            "Mix at least %(n)d of: lower-case letters, upper-case letters, digits, symbols."
        ) % {"n": _policy().min_classes}


class HistoryValidator:
    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        remembered = _policy().history_count
        if remembered == 0:
            return
        recent = user.password_history.all()[:remembered]
        if any(check_password(password, item.password) for item in recent):
            raise ValidationError(
                _("The password was used recently; choose one not among the last %(n)d.")
                % {"n": remembered},
                code="password_reused",
            )

    def get_help_text(self) -> str:
        return _("It must differ from your recent passwords.")
