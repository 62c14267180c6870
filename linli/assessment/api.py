"""The self-assessment's API: a community evaluated live (the JSON of ``linli assess --format
json``), manual figures with their evidence, stored assessments, and the county tables.

Rows come through the access gate (``ScopedViewSet``): an id or community code outside the
caller's scope answers 404 like one that does not exist. Every change goes through
``linli.assessment.services``; bad input answers 400 with the problems in Chinese.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from django.http import FileResponse, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.accounts.api import PermissionMap
from linli.assessment import county, services
from linli.assessment import serializers as s
from linli.assessment.filters import AssessmentFilter, ManualFigureFilter
from linli.assessment.models import Assessment, ManualFigure
from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core.api import ScopedViewSet
from linli.core.errors import NotFoundError

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CommunityEvaluationViewSet(viewsets.ViewSet):
    """A community of the caller's scope evaluated now, from the register, the platform's own
    checks and the manual figures valid on the date."""

    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {"retrieve": "assessment.view_assessment"}
    lookup_field = "code"
    lookup_value_regex = r"[0-9]+"

    @extend_schema(
        parameters=[
            OpenApiParameter("code", str, OpenApiParameter.PATH, description="Community code"),
            s.EvaluationQuery,
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=(
                    "The evaluation, shaped as `linli assess --format json`: standard, "
                    "community, date, tier, tier_met, counts, tier_reached, tiers, indicators "
                    "(verdict, reason, checks, figures with sources and computations), gap, "
                    "figures, unavailable, warnings."
                ),
            )
        },
    )
    def retrieve(self, request: Request, code: str | None = None) -> Response:
        query = s.EvaluationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        tier = query.validated_data.get("tier") or ""
        result = services.assess_community(
            request.user, code, tier=tier or "basic", on=query.validated_data.get("date")
        )
        if not tier:
            target = result.next_tier or result.reached
            if target is not None and target.key != result.tier.tier.key:
                result = replace(
                    result, tier=next(r for r in result.tiers if r.tier.key == target.key)
                )
        return Response(result.as_dict())


class ManualFigureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Figures entered with their evidence. Never edited: a correction is a new figure, a wrong
    one is withdrawn (``POST …/withdraw/``) and kept for the record."""

    queryset = ManualFigure.objects.all()
    serializer_class = s.ManualFigureSerializer
    filterset_class = ManualFigureFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    action_perm_map = {"attachment": "view"}

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "entered_by", "retired_by").order_by(
            "region__code", "metric", "-entered_at", "-id"
        )

    def _respond(self, figure: ManualFigure, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.decorate(ManualFigure.objects.filter(pk=figure.pk)).get()
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(
        request={
            "application/json": s.ManualFigureInput,
            "multipart/form-data": s.ManualFigureInput,
        },
        responses={201: s.ManualFigureSerializer},
    )
    def create(self, request: Request) -> Response:
        """Enter a figure for a community (``assessment.add_manualfigure``; an override of a
        platform figure also needs ``assessment.override_manualfigure``)."""
        body = s.ManualFigureInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        figure = services.enter_manual_figure(
            request.user,
            region=data["region"],
            metric=data["metric"],
            value=data["value"],
            evidence=data.get("evidence") or "",
            valid_from=data["valid_from"],
            valid_until=data.get("valid_until"),
            attachment=data.get("attachment"),
            override=bool(data.get("override")),
        )
        return self._respond(figure, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.ManualFigureSerializer})
    @action(detail=True, methods=["post"], url_path="withdraw")
    def retire(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw the figure: it no longer counts; who withdrew it and when are kept."""
        figure = services.retire_manual_figure(request.user, self.get_object())
        return self._respond(figure)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        description="The evidence attachment (audited download).",
    )
    @action(detail=True, methods=["get"])
    def attachment(self, request: Request, pk: str | None = None) -> FileResponse:
        figure = self.get_object()
        if not figure.attachment:
            raise NotFoundError("not_found", _("The figure has no attachment."))
        record(
            AuditAction.DOWNLOAD,
            figure,
            actor=request.user,
            note="evidence attachment",
            region_code=figure.region.code,
        )
        response = FileResponse(
            figure.attachment.open("rb"),
            as_attachment=True,
            filename=os.path.basename(figure.attachment.name or ""),
            content_type="application/octet-stream",
        )
        response["Cache-Control"] = "private, no-store"
        return response


class AssessmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Stored assessments: each community evaluated on a date against every tier and kept, so
    the county view, its trends and the publications read what a verdict rested on."""

    queryset = Assessment.objects.all()
    serializer_class = s.AssessmentSerializer
    filterset_class = AssessmentFilter

    def decorate(self, queryset: Any) -> Any:
        queryset = queryset.select_related("region", "computed_by").order_by(
            "-on", "-computed_at", "-id"
        )
        if self.action != "retrieve":
            queryset = queryset.defer("result")  # some 140 kB each
        return queryset

    def get_serializer_class(self) -> Any:
        if self.action in ("retrieve", "create"):
            return s.AssessmentDetailSerializer
        return s.AssessmentSerializer

    @extend_schema(request=s.AssessmentInput, responses={201: s.AssessmentDetailSerializer})
    def create(self, request: Request) -> Response:
        """Evaluate a community of the caller's scope against every tier and store it
        (``assessment.add_assessment``)."""
        body = s.AssessmentInput(data=request.data)
        body.is_valid(raise_exception=True)
        assessment = services.store_assessment(
            request.user, body.validated_data["region"], on=body.validated_data.get("date")
        )
        fresh = Assessment.objects.select_related("region", "computed_by").get(pk=assessment.pk)
        return Response(s.AssessmentDetailSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[s.CountyQuery],
        responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY},
        description=(
            "Every community of the caller's scope with its latest stored assessment, as an "
            "Excel workbook (``assessment.export_assessment``; audited)."
        ),
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        query = s.CountyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        handle, filename, _count = county.export_communities(
            request.user,
            region=query.validated_data.get("region") or "",
            level=query.validated_data.get("tier") or "",
        )
        with handle:
            response = HttpResponse(handle.read(), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def filter_queryset(self, queryset: Any) -> Any:
        if self.action == "export":
            return queryset
        return super().filter_queryset(queryset)


class CountyViewSet(viewsets.ViewSet):
    """The county view: the caller's communities with their latest stored assessment, the
    subdistrict and county tables (communities per tier reached) and the trend by date."""

    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {"list": "assessment.view_assessment"}

    @extend_schema(parameters=[s.CountyQuery], responses={200: OpenApiTypes.OBJECT})
    def list(self, request: Request) -> Response:
        query = s.CountyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        region = query.validated_data.get("region") or ""
        view = county.county_view(request.user, region)
        rows = county.filter_rows(view.rows, query.validated_data.get("tier") or "")
        return Response(
            {
                "levels": county.level_labels(),
                "communities": [
                    {
                        "code": row.code,
                        "name": row.name,
                        "subdistrict": row.subdistrict_code,
                        "subdistrict_name": row.subdistrict_name,
                        "level": row.level,
                        "assessment": row.assessment.pk if row.assessment else None,
                        "date": row.assessment.on.isoformat() if row.assessment else None,
                        "tier_reached": (row.assessment.tier_reached or None)
                        if row.assessment
                        else None,
                        "gap_count": row.assessment.gap_count if row.assessment else None,
                    }
                    for row in rows
                ],
                "subdistricts": [group.as_dict() for group in view.subdistricts],
                "counties": [group.as_dict() for group in view.counties],
                "trend": view.trend,
            }
        )


def register(router: DefaultRouter) -> None:
    """Viewsets of the assessment, its manual figures and the county tables."""
    router.register(
        "assessment/communities", CommunityEvaluationViewSet, basename="assessment-community"
    )
    router.register(
        "assessment/manual-figures", ManualFigureViewSet, basename="assessment-manualfigure"
    )
    router.register("assessment/assessments", AssessmentViewSet, basename="assessment-assessment")
    router.register("assessment/county", CountyViewSet, basename="assessment-county")
