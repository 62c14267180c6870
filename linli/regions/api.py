"""Region API: list and fetch within scope, create, rename, move a grid, retire, export."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.core.api import ScopedViewSet
from linli.core.errors import NotFoundError
from linli.regions import services
from linli.regions.choices import RegionLevel, child_level
from linli.regions.filters import RegionNodeFilter
from linli.regions.models import RegionNode


class RegionNodeSerializer(serializers.ModelSerializer[RegionNode]):
    parent_code = serializers.CharField(source="parent.code", read_only=True, default=None)
    level_label = serializers.CharField(source="get_level_display", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = RegionNode
        fields = [
            "id",
            "code",
            "name",
            "level",
            "level_label",
            "parent",
            "parent_code",
            "is_active",
            "latitude",
            "longitude",
            "created_at",
            "updated_at",
            "retired_at",
        ]
        read_only_fields = fields


class RegionCreateSerializer(serializers.Serializer[Any]):
    parent = serializers.IntegerField(min_value=1)  # type: ignore[assignment]
    name = serializers.CharField(max_length=100)
    code = serializers.CharField(max_length=15, required=False, allow_blank=True, default="")


class RegionRenameSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)


class GridMoveSerializer(serializers.Serializer[Any]):
    community = serializers.IntegerField(min_value=1)


class RegionNodeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Regions within the caller's scope. Ids outside it answer 404, like ids that do not exist."""

    queryset = RegionNode.objects.all()
    serializer_class = RegionNodeSerializer
    filterset_class = RegionNodeFilter
    action_perm_map = {"move": "change", "children": "view"}
    http_method_names = ["get", "post", "patch", "head", "options"]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("parent")

    def _in_scope(self, pk: int, verb: str, message: Any) -> RegionNode:
        # The gate again, for ids sent in the body: out of scope answers 404, nothing is written.
        node = RegionNode.objects.visible_to(self.request.user, verb).filter(pk=pk).first()
        if node is None:
            raise NotFoundError("region.not_found", message)
        return node

    @extend_schema(request=RegionCreateSerializer, responses={201: RegionNodeSerializer})
    def create(self, request: Request) -> Response:
        body = RegionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        parent = self._in_scope(
            body.validated_data["parent"], "add", _("The parent region does not exist.")
        )
        code = body.validated_data["code"].strip()
        if not code and child_level(parent.level) not in (RegionLevel.GRID, None):
            raise serializers.ValidationError(
                {"code": [_("The official statistical code is required.")]}
            )
        node = services.create_region(
            request.user, parent=parent, name=body.validated_data["name"], code=code
        )
        return Response(RegionNodeSerializer(node).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RegionRenameSerializer, responses={200: RegionNodeSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        node = self.get_object()
        body = RegionRenameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        node = services.rename_region(request.user, node, body.validated_data["name"])
        return Response(RegionNodeSerializer(node).data)

    @extend_schema(request=GridMoveSerializer, responses={200: RegionNodeSerializer})
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        grid = self.get_object()
        body = GridMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = self._in_scope(
            body.validated_data["community"], "change", _("The target community does not exist.")
        )
        grid = services.move_grid(request.user, grid, target)
        return Response(RegionNodeSerializer(grid).data)

    @extend_schema(request=None, responses={200: RegionNodeSerializer})
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        node = services.retire_region(request.user, self.get_object())
        return Response(RegionNodeSerializer(node).data)

    @extend_schema(responses={200: RegionNodeSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def children(self, request: Request, pk: str | None = None) -> Response:
        node = self.get_object()
        rows = self.filter_queryset(self.get_queryset().filter(parent=node))
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(RegionNodeSerializer(page, many=True).data)
        return Response(RegionNodeSerializer(rows, many=True).data)

    @extend_schema(responses={200: OpenApiResponse(description="Excel workbook (xlsx)")})
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        rows = self.filter_queryset(RegionNode.objects.visible_to(request.user, "export"))
        content = services.export_regions(request.user, rows)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = HttpResponse(
            content,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="regions-{stamp}.xlsx"'
        return response


def register(router: DefaultRouter) -> None:
    router.register("regions", RegionNodeViewSet, basename="regionnode")
