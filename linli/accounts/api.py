"""Accounts API: users, roles, role assignments, the security policy, the current user and API
tokens. Users and role assignments are placed in the region tree and read through the gate;
every change goes through ``linli.accounts.services``.

Serializers never output the phone in plain text (masked; reveal is its own audited action)
nor anything of the second-factor secret.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.accounts import services
from linli.accounts.choices import RoleKind
from linli.accounts.filters import ApiTokenFilterSet, RoleAssignmentFilterSet, UserFilterSet
from linli.accounts.models import ApiToken, Role, RoleAssignment, SecurityPolicy, User
from linli.accounts.permissions import PERMISSIONS
from linli.core.api import ScopedViewSet
from linli.regions.models import RegionNode
from linli.utilities.masking import mask_phone

# ---------------------------------------------------------------- permissions


class PermissionMap(permissions.BasePermission):
    """The permission each action needs, named on the view as ``required_perms``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        perm = view.required_perms.get(view.action)
        return perm is None or bool(request.user.has_perm(perm))


@extend_schema_field(OpenApiTypes.STR)
class ScopedRegionField(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """A region by its code, only from the requesting user's scope (others do not exist)."""

    default_error_messages = {
        "does_not_exist": _("The region does not exist or is outside your scope."),
        "invalid": _("Enter a region code."),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="code", **kwargs)

    def get_queryset(self) -> Any:
        request = self.context["request"]
        return RegionNode.objects.within(request.user.scope_codes()).active()


class SingleObjectSchema(AutoSchema):
    """For endpoints whose collection URL answers one object (``me``, the policy singleton)."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


# ---------------------------------------------------------------- serializers


class AssignmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    role: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    role_name = serializers.CharField(source="role.name", read_only=True)
    region: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    region_name = serializers.CharField(source="region.name", read_only=True)

    class Meta:
        model = RoleAssignment
        fields = ["id", "role", "role_name", "region", "region_name", "granted_at"]


class UserSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    phone = serializers.SerializerMethodField(help_text="Masked; reveal with reveal-phone.")
    home_region: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    home_region_name = serializers.CharField(source="home_region.name", read_only=True)
    has_totp = serializers.BooleanField(read_only=True)
    roles = AssignmentSerializer(source="assignments", many=True, read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "phone",
            "email",
            "organisation_name",
            "home_region",
            "home_region_name",
            "is_active",
            "must_change_password",
            "has_totp",
            "roles",
            "last_login",
            "date_joined",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_phone(self, user: User) -> str:
        return mask_phone(user.phone)


class UserCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.RegexField(r"^[A-Za-z0-9_.@+-]+$", max_length=150)
    display_name = serializers.CharField(max_length=50)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    organisation_name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    home_region = ScopedRegionField()


class UserCreatedSerializer(UserSerializer):
    initial_password = serializers.SerializerMethodField(
        help_text="The one-time password; shown only in this response."
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "initial_password"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_initial_password(self, user: User) -> str:
        return str(self.context.get("initial_password", ""))


class UserUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    display_name = serializers.CharField(max_length=50, required=False)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    organisation_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    home_region = ScopedRegionField(required=False)


class SetActiveSerializer(serializers.Serializer):  # type: ignore[type-arg]
    is_active = serializers.BooleanField()


class RoleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    permission_labels = serializers.SerializerMethodField()

    class Meta:
        model = Role
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "description",
            "permissions",
            "permission_labels",
            "require_totp",
            "is_builtin",
            "is_active",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_permission_labels(self, role: Role) -> dict[str, str]:
        return {code: str(PERMISSIONS.get(code, code)) for code in role.permissions}


class RoleUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=50, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=list(PERMISSIONS)), required=False
    )
    require_totp = serializers.BooleanField(required=False)


ROLE_KINDS_CREATABLE = [RoleKind.STAFF, RoleKind.DEVICE, RoleKind.RESIDENT]


class RoleCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=50)
    kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in ROLE_KINDS_CREATABLE])
    description = serializers.CharField(required=False, allow_blank=True, default="")
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=list(PERMISSIONS)), required=False, default=list
    )


class RoleAssignmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    user: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    username = serializers.CharField(source="user.username", read_only=True)
    role: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    region: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    region_name = serializers.CharField(source="region.name", read_only=True)
    granted_by: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )

    class Meta:
        model = RoleAssignment
        fields = [
            "id",
            "user",
            "username",
            "role",
            "region",
            "region_name",
            "granted_by",
            "granted_at",
        ]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class VisibleUserField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """An account by id, only among those the requesting user may see."""

    default_error_messages = {"does_not_exist": _("The account does not exist.")}

    def get_queryset(self) -> Any:
        return User.objects.visible_to(self.context["request"].user)


class GrantSerializer(serializers.Serializer):  # type: ignore[type-arg]
    user = VisibleUserField()
    role: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Role.objects.all(),
        error_messages={"does_not_exist": _("The role does not exist.")},
    )
    region = ScopedRegionField()


class PolicySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
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
            "updated_at",
        ]
        read_only_fields = ["updated_at"]


class MeSerializer(UserSerializer):
    scope = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "scope", "permissions"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_scope(self, user: User) -> list[str]:
        return list(user.scope_codes())

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_permissions(self, user: User) -> list[str]:
        return sorted(user.linli_permissions())


class ApiTokenSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    user: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "user",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    user = VisibleUserField()
    name = serializers.CharField(max_length=100)
    days = serializers.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        allow_null=True,
        default=365,
        help_text="Validity in days; null for a token that does not expire.",
    )


class ApiTokenIssuedSerializer(ApiTokenSerializer):
    token = serializers.SerializerMethodField(
        help_text="The raw token; shown only in this response."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_token(self, token: ApiToken) -> str:
        return str(self.context.get("raw_token", ""))


# ---------------------------------------------------------------- viewsets


def _assignments_prefetch() -> Prefetch:  # type: ignore[type-arg]
    return Prefetch(
        "assignments",
        queryset=RoleAssignment.objects.select_related("role", "region").order_by("role__code"),
    )


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    action_perm_map = {
        "reset_password": "reset_password",
        "set_active": "retire",
        "reveal_phone": "reveal",
        "search": "view",
    }

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("home_region").prefetch_related(_assignments_prefetch())

    def _actor(self) -> User:
        user = self.request.user
        assert isinstance(user, User)
        return user

    def _fresh(self, user: User) -> User:
        return self.get_queryset().get(pk=user.pk)  # type: ignore[no-any-return]

    @extend_schema(request=UserCreateSerializer, responses={201: UserCreatedSerializer})
    def create(self, request: Request) -> Response:
        incoming = UserCreateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        user, initial = services.create_user(self._actor(), **incoming.validated_data)
        context = {**self.get_serializer_context(), "initial_password": initial}
        body = UserCreatedSerializer(self._fresh(user), context=context).data
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=UserUpdateSerializer, responses={200: UserSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        incoming = UserUpdateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        values = dict(incoming.validated_data)
        if "home_region" in values:
            values["home_region_id"] = values.pop("home_region").pk
        services.update_user(self._actor(), user, **values)
        return Response(
            UserSerializer(self._fresh(user), context=self.get_serializer_context()).data
        )

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer("OneTimePassword", {"password": serializers.CharField()})
        },
    )
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request: Request, pk: str | None = None) -> Response:
        temporary = services.reset_password(self._actor(), self.get_object())
        response = Response({"password": temporary})
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=SetActiveSerializer, responses={200: UserSerializer})
    @action(detail=True, methods=["post"], url_path="set-active")
    def set_active(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        incoming = SetActiveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.set_user_active(self._actor(), user, incoming.validated_data["is_active"])
        return Response(
            UserSerializer(self._fresh(user), context=self.get_serializer_context()).data
        )

    @extend_schema(
        request=inline_serializer("PhoneSearch", {"phone": serializers.CharField()}),
        responses={200: UserSerializer(many=True)},
    )
    @action(detail=False, methods=["post"])
    def search(self, request: Request) -> Response:
        """Exact search by mobile number through the blind index; POST keeps the number out of
        URLs (a ``?q=`` with a phone number matches nothing)."""
        phone = str(request.data.get("phone", "")) if isinstance(request.data, dict) else ""
        found = UserFilterSet(
            {"q": phone}, queryset=self.get_queryset(), allow_phone=True
        ).qs.order_by("username")
        if not phone.strip():
            found = found.none()
        return Response(
            UserSerializer(found, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(
        request=None,
        responses={200: inline_serializer("RevealedPhone", {"phone": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], url_path="reveal-phone")
    def reveal_phone(self, request: Request, pk: str | None = None) -> Response:
        phone = services.reveal_phone(self._actor(), self.get_object())
        response = Response({"phone": phone})
        response["Cache-Control"] = "no-store"
        return response


class RoleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Roles are not placed in the tree; reading needs view_role, editing change_role."""

    queryset = Role.objects.all()
    serializer_class = RoleSerializer
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {
        "list": "accounts.view_role",
        "retrieve": "accounts.view_role",
        "partial_update": "accounts.change_role",
        "create": "accounts.add_role",
    }
    pagination_class = None

    @extend_schema(request=RoleCreateSerializer, responses={201: RoleSerializer})
    def create(self, request: Request) -> Response:
        incoming = RoleCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        actor = request.user
        assert isinstance(actor, User)
        role = services.create_role(actor, **incoming.validated_data)
        return Response(RoleSerializer(role).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RoleUpdateSerializer, responses={200: RoleSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        role = self.get_object()
        incoming = RoleUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        actor = request.user
        assert isinstance(actor, User)
        updated = services.update_role(actor, role, **incoming.validated_data)
        return Response(RoleSerializer(updated).data)


class RoleAssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Grant (create) and revoke (destroy) roles: the security administrator's work."""

    queryset = RoleAssignment.objects.all()
    serializer_class = RoleAssignmentSerializer
    filterset_class = RoleAssignmentFilterSet
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {
        "list": "accounts.view_roleassignment",
        "retrieve": "accounts.view_roleassignment",
        "create": "accounts.assign_role",
        "destroy": "accounts.assign_role",
    }

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("user", "role", "region").order_by("user_id", "role__code")

    @extend_schema(request=GrantSerializer, responses={201: RoleAssignmentSerializer})
    def create(self, request: Request) -> Response:
        incoming = GrantSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        actor = request.user
        assert isinstance(actor, User)
        assignment = services.grant_role(actor, **incoming.validated_data)
        return Response(RoleAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actor = request.user
        assert isinstance(actor, User)
        services.revoke_role(actor, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SecurityPolicyViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The single policy row: ``GET /security-policy/`` or ``/security-policy/current/``,
    ``PUT``/``PATCH /security-policy/current/``."""

    queryset = SecurityPolicy.objects.all()
    serializer_class = PolicySerializer
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {
        "list": "accounts.view_securitypolicy",
        "retrieve": "accounts.view_securitypolicy",
        "update": "accounts.change_securitypolicy",
        "partial_update": "accounts.change_securitypolicy",
    }
    pagination_class = None
    filter_backends: list[Any] = []
    lookup_value_regex = "current"
    schema = SingleObjectSchema()

    def get_object(self) -> SecurityPolicy:
        return SecurityPolicy.current()

    @extend_schema(responses={200: PolicySerializer}, operation_id="security_policy_current")
    def list(self, request: Request) -> Response:
        return Response(PolicySerializer(self.get_object()).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(PolicySerializer(self.get_object()).data)

    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._save(request, partial=False)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._save(request, partial=True)

    def _save(self, request: Request, *, partial: bool) -> Response:
        incoming = PolicySerializer(self.get_object(), data=request.data, partial=partial)
        incoming.is_valid(raise_exception=True)
        actor = request.user
        assert isinstance(actor, User)
        policy = services.update_policy(actor, **incoming.validated_data)
        return Response(PolicySerializer(policy).data)


class MeViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """The signed-in user (or the token's account): roles, scope codes and permissions."""

    queryset = User.objects.none()
    serializer_class = MeSerializer
    pagination_class = None
    filter_backends: list[Any] = []
    schema = SingleObjectSchema()

    @extend_schema(responses={200: MeSerializer})
    def list(self, request: Request) -> Response:
        me = (
            User.objects.select_related("home_region")
            .prefetch_related(_assignments_prefetch())
            .get(pk=request.user.pk)
        )
        return Response(MeSerializer(me).data)


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """Bearer tokens of system accounts, issued and revoked by the system administrator."""

    queryset = ApiToken.objects.all()
    serializer_class = ApiTokenSerializer
    filterset_class = ApiTokenFilterSet
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {
        "list": "accounts.add_apitoken",
        "retrieve": "accounts.add_apitoken",
        "create": "accounts.add_apitoken",
        "destroy": "accounts.add_apitoken",
    }

    def get_queryset(self) -> Any:
        # Tokens follow the gate of the account they belong to.
        visible = User.objects.visible_to(self.request.user)
        return ApiToken.objects.filter(user__in=visible).order_by("-created_at")

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenIssuedSerializer})
    def create(self, request: Request) -> Response:
        incoming = ApiTokenCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        incoming.is_valid(raise_exception=True)
        actor = request.user
        assert isinstance(actor, User)
        token, raw = services.issue_api_token(actor, **incoming.validated_data)
        body = ApiTokenIssuedSerializer(token, context={"raw_token": raw}).data
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actor = request.user
        assert isinstance(actor, User)
        services.revoke_api_token(actor, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router: DefaultRouter) -> None:
    router.register("users", UserViewSet, basename="user")
    router.register("roles", RoleViewSet, basename="role")
    router.register("role-assignments", RoleAssignmentViewSet, basename="role-assignment")
    router.register("security-policy", SecurityPolicyViewSet, basename="security-policy")
    router.register("me", MeViewSet, basename="me")
    router.register("api-tokens", ApiTokenViewSet, basename="api-token")
