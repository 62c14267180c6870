"""The acceptance publication's API.

GET   /api/assessment/publications/              the publications in scope (?status=draft|issued)
POST  /api/assessment/publications/              {assessment, tier[, title, organiser, opening,
                                                 notice_start, notice_end, contact, closing]}
GET   /api/assessment/publications/{id}/         one, with its document (the composed table)
PATCH /api/assessment/publications/{id}/         the free-text parts of a draft (409 once issued)
POST  /api/assessment/publications/{id}/issue/   freeze it (assessment.issue_publication)
GET   /api/assessment/publications/{id}/docx/    the Word document
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.assessment import publication as services
from linli.assessment.models import Publication, PublicationStatus
from linli.assessment.publication_render import DOCX_CONTENT_TYPE, publication_docx
from linli.assessment.serializers_publication import (
    PublicationCreateSerializer,
    PublicationDetailSerializer,
    PublicationSerializer,
    PublicationTextSerializer,
)
from linli.core.api import ScopedViewSet


def docx_filename(publication: Publication) -> str:
    return f"{publication.region.name}-{services.tier_name(publication)}-{publication.pk}.docx"


def attachment_header(filename: str) -> str:
    from urllib.parse import quote

    fallback = filename.encode("ascii", "ignore").decode() or "publication.docx"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


class PublicationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Publication.objects.all()
    serializer_class = PublicationSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_perm_map = {"issue": "issue", "docx": "view"}
    lookup_value_regex = r"\d+"  # anything else is a 404, not a database error

    def get_queryset(self) -> Any:
        rows = super().get_queryset()
        if self.action == "list":
            wanted = self.request.query_params.get("status")
            if wanted in PublicationStatus.values:
                rows = rows.filter(status=wanted)
        return rows

    def decorate(self, queryset: Any) -> Any:
        if self.action == "list":
            return services.for_listing(queryset)
        return queryset.select_related("region", "assessment", "created_by", "issued_by")

    def get_serializer_class(self) -> Any:
        return PublicationSerializer if self.action == "list" else PublicationDetailSerializer

    def _respond(self, publication: Publication, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.decorate(Publication.objects.filter(pk=publication.pk)).get()
        return Response(PublicationDetailSerializer(fresh).data, status=code)

    @extend_schema(
        request=PublicationCreateSerializer, responses={201: PublicationDetailSerializer}
    )
    def create(self, request: Request) -> Response:
        body = PublicationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        publication = services.draft_publication(
            request.user, values.pop("assessment"), values.pop("tier"), **values
        )
        return self._respond(publication, status.HTTP_201_CREATED)

    @extend_schema(request=PublicationTextSerializer, responses={200: PublicationDetailSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        publication = self.get_object()
        body = PublicationTextSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        publication = services.edit_publication(
            request.user, publication, **dict(body.validated_data)
        )
        return self._respond(publication)

    @extend_schema(request=None, responses={200: PublicationDetailSerializer})
    @action(detail=True, methods=["post"])
    def issue(self, request: Request, pk: str | None = None) -> Response:
        publication = services.issue_publication(request.user, self.get_object())
        return self._respond(publication)

    @extend_schema(responses={(200, DOCX_CONTENT_TYPE): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def docx(self, request: Request, pk: str | None = None) -> HttpResponse:
        publication = self.get_object()
        response = HttpResponse(
            publication_docx(services.document_for(publication)), content_type=DOCX_CONTENT_TYPE
        )
        response["Content-Disposition"] = attachment_header(docx_filename(publication))
        return response


def register(router: DefaultRouter) -> None:
    """Viewsets of the acceptance publications."""
    router.register(
        "assessment/publications", PublicationViewSet, basename="assessment-publication"
    )
