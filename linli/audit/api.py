"""Read-only audit API for the audit administrator: entries with search, and verification.

Audit entries are not placed in the region tree: the gate here is the permission alone.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.audit import services
from linli.audit.filters import AuditEntryFilter
from linli.audit.models import AuditEntry


class HasPermission(permissions.BasePermission):
    """The view names the permission per action in ``required_perms``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        perm = view.required_perms.get(view.action, view.required_perms.get("*"))
        return bool(perm and request.user.has_perm(perm))


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    action_label = serializers.CharField(source="get_action_display", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "seq",
            "at",
            "actor",
            "actor_name",
            "action",
            "action_label",
            "object_type",
            "object_id",
            "object_repr",
            "region_code",
            "source_ip",
            "changes",
            "note",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    queryset = AuditEntry.objects.order_by("-seq")
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilter
    permission_classes = [HasPermission]
    required_perms = {"*": "audit.view_auditentry"}


class VerificationSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    entries = serializers.IntegerField()
    checkpoints = serializers.IntegerField()
    first_bad_seq = serializers.IntegerField(allow_null=True)
    first_bad_id = serializers.IntegerField(allow_null=True)
    problems = serializers.ListField(child=serializers.CharField())
    checked_at = serializers.DateTimeField()


class AuditVerificationViewSet(viewsets.ViewSet):
    """GET: the last verification (cached a few minutes); POST: verify again now (audited)."""

    permission_classes = [HasPermission]
    required_perms = {"list": "audit.view_auditentry", "create": "audit.verify_auditentry"}

    @extend_schema(responses={200: VerificationSerializer})
    def list(self, request: Request) -> Response:
        return Response(services.verification_status().as_dict())

    @extend_schema(request=None, responses={200: VerificationSerializer})
    def create(self, request: Request) -> Response:
        return Response(services.request_verification(request.user).as_dict())


def register(router: DefaultRouter) -> None:
    router.register("audit-entries", AuditEntryViewSet, basename="audit-entry")
    router.register("audit-verification", AuditVerificationViewSet, basename="audit-verification")
