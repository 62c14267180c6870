"""Forms of the sign-in and account pages. They only parse and validate input; every change is
made by a service function in ``linli.accounts.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import password_validators_help_texts
from django.utils.translation import gettext_lazy as _

from linli.accounts.choices import RoleKind
from linli.accounts.models import Role, SecurityPolicy, User
from linli.accounts.permissions import PERMISSIONS
from linli.regions.models import RegionNode
from linli.utilities.validators import CodeError, normalize_mobile

# Offered in the region pick list; grids are reached by typing their code (a county has 15,000).
PICK_LIST_LEVELS = ("province", "city", "county", "subdistrict", "community")


def regions_in_scope(user: User) -> Any:
    """Active regions inside the user's scope: the only regions a form of theirs may name."""
    return RegionNode.objects.within(user.scope_codes()).active()


class RegionCodeField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A region named by its official code, limited to the actor's scope.

    A code outside the scope (a tampered field) is refused as if it did not exist.
    """

    default_error_messages = {
        "invalid_choice": _("The region does not exist or is outside your scope."),
    }

    def __init__(self, actor: User, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Region"))
        kwargs.setdefault(
            "help_text",
            _("Type the region code, or pick a subdistrict or community from the list."),
        )
        super().__init__(
            queryset=regions_in_scope(actor),
            to_field_name="code",
            widget=forms.TextInput(attrs={"list": "region-options", "inputmode": "numeric"}),
            **kwargs,
        )

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, RegionNode):
            return value.code
        if isinstance(value, int):
            node = RegionNode.objects.filter(pk=value).only("code").first()
            return node.code if node else ""
        return super().prepare_value(value)


def region_pick_list(actor: User) -> list[RegionNode]:
    return list(regions_in_scope(actor).filter(level__in=PICK_LIST_LEVELS).only("code", "name"))


class LoginForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)


class TotpForm(forms.Form):
    current_password = forms.CharField(
        label=_("Current password"), strip=False, widget=forms.PasswordInput, required=False
    )
    code = forms.RegexField(
        label=_("Verification code"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        error_messages={"invalid": _("Enter the 6-digit code from your authenticator app.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 7}
        ),
    )

    def __init__(self, *args: Any, needs_password: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if needs_password:
            self.fields["current_password"].required = True
        else:
            del self.fields["current_password"]


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("Current password"), strip=False, widget=forms.PasswordInput
    )
    new_password = forms.CharField(label=_("New password"), strip=False, widget=forms.PasswordInput)
    confirm_password = forms.CharField(
        label=_("New password again"), strip=False, widget=forms.PasswordInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password"].help_text = " ".join(password_validators_help_texts())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", _("The two new passwords differ."))
        return data


def _clean_optional_phone(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        return normalize_mobile(value)
    except CodeError as exc:
        raise forms.ValidationError(exc.message) from exc


class UserCreateForm(forms.Form):
    username = forms.RegexField(
        label=_("User name"),
        max_length=150,
        regex=r"^[A-Za-z0-9_.@+-]+$",
        error_messages={"invalid": _("Use letters, digits and . @ + - _ only.")},
    )
    display_name = forms.CharField(label=_("Full name"), max_length=50)
    phone = forms.CharField(label=_("Mobile phone"), max_length=20, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    organisation_name = forms.CharField(label=_("Unit"), max_length=100, required=False)

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["home_region"] = RegionCodeField(actor, label=_("Home region"))

    def clean_phone(self) -> str:
        return _clean_optional_phone(self.cleaned_data.get("phone", ""))


class UserEditForm(forms.Form):
    display_name = forms.CharField(label=_("Full name"), max_length=50)
    # Never pre-filled: showing the stored number in the form would reveal it unaudited.
    phone = forms.CharField(
        label=_("New mobile phone"),
        max_length=20,
        required=False,
        help_text=_("Leave empty to keep the current number."),
    )
    email = forms.EmailField(label=_("Email"), required=False)
    organisation_name = forms.CharField(label=_("Unit"), max_length=100, required=False)

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["home_region"] = RegionCodeField(actor, label=_("Home region"))

    def clean_phone(self) -> str:
        return _clean_optional_phone(self.cleaned_data.get("phone", ""))

    def changed_values(self) -> dict[str, Any]:
        """The values for ``services.update_user``: an empty phone keeps the stored one."""
        data = self.cleaned_data
        values: dict[str, Any] = {
            "display_name": data["display_name"],
            "email": data["email"],
            "organisation_name": data["organisation_name"],
            "home_region_id": data["home_region"].pk,
        }
        if data["phone"]:
            values["phone"] = data["phone"]
        return values


class GrantRoleForm(forms.Form):
    role = forms.ModelChoiceField(
        label=_("Role"),
        queryset=Role.objects.active(),
        error_messages={"invalid_choice": _("The role does not exist.")},
    )

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"] = RegionCodeField(actor, label=_("Scope region"))


def permission_choices() -> list[tuple[str, str]]:
    return [(code, f"{label}（{code}）") for code, label in PERMISSIONS.items()]


class RoleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        required=False,
        choices=permission_choices,
        widget=forms.CheckboxSelectMultiple,
    )
    require_totp = forms.BooleanField(label=_("Second factor required"), required=False)

    def __init__(self, *args: Any, role: Role, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if role.is_admin:
            # The administrators' permission sets are fixed by the three-administrator rule.
            self.fields["permissions"].disabled = True


class RoleCreateForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=50)
    name = forms.CharField(label=_("Name"), max_length=50)
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(k.value, k.label) for k in (RoleKind.STAFF, RoleKind.DEVICE, RoleKind.RESIDENT)],
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        required=False,
        choices=permission_choices,
        widget=forms.CheckboxSelectMultiple,
    )


class PolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SecurityPolicy
        fields = [
            "min_length",
            "min_classes",
            "history_count",
            "expiry_days",
            "lockout_threshold",
            "lockout_minutes",
            "ip_lockout_threshold",
            "idle_timeout_minutes",
        ]
