"""REST endpoints of the Excel import and export.

POST /api/registry/imports/                  multipart: kind, region (code), file → 202 job
GET  /api/registry/imports/                  the jobs the user may see
GET  /api/registry/imports/{id}/             a job's status and counts (poll it)
GET  /api/registry/imports/{id}/errors/      the error file (.xlsx)
GET  /api/registry/import-templates/{kind}/  the template (.xlsx)
GET  /api/registry/exports/{kind}/?filters   the export (.xlsx); unmasked=1 needs reveal. Kinds:
     people, houses, vehicles, organisations, compounds, buildings, units, households,
     residences, rentals; filters are those of the kind's list (same query string)
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core.errors import PermissionDeniedError, ServiceError
from linli.registry.choices import ImportKind
from linli.registry.excel import exporter, importer, uploads
from linli.registry.excel.columns import IMPORT_PERMISSIONS, SHEETS
from linli.registry.excel.templates import XLSX_CONTENT_TYPE, template_workbook
from linli.registry.models import ImportJob


class ImportJobSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region = serializers.CharField(source="region.code", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    error_file = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "status",
            "region",
            "original_name",
            "total_rows",
            "processed_rows",
            "percent",
            "created_count",
            "updated_count",
            "unchanged_count",
            "rejected_count",
            "message",
            "error_file",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_error_file(self, job: ImportJob) -> bool:
        return bool(job.error_file)


class ImportUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    region = serializers.CharField(max_length=15)
    file = serializers.FileField()


class ImportJobViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    queryset = ImportJob.objects.none()
    lookup_value_regex = r"\d+"  # anything else is a 404, not a database error

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before DRF parses anything (authentication may read the form): count upload bytes.
        self.size_handler = uploads.install(request) if request.method == "POST" else None
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return importer.jobs_visible_to(self.request.user).select_related("region")

    def list(self, request: Request) -> Response:
        if not importer.importable_kinds(request.user):
            # Like every list: no permission at all answers 403, not an empty page.
            raise PermissionDeniedError(
                "permission_denied", _("You do not have permission for this action.")
            )
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ImportJobSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ImportJobSerializer(get_object_or_404(self.get_queryset(), pk=pk)).data)

    def create(self, request: Request) -> Response:
        size = uploads.declared_too_large(request._request)
        if size is not None:
            raise _TooLarge(importer.too_large_message(size))
        if not importer.importable_kinds(request.user):
            raise PermissionDeniedError(
                "permission_denied", _("You do not have permission for this action.")
            )
        data = request.data  # parsed through the counting handler
        if self.size_handler is not None and self.size_handler.exceeded:
            raise _TooLarge(importer.too_large_message())
        serializer = ImportUploadSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        kind = serializer.validated_data["kind"]
        if not request.user.has_perm(IMPORT_PERMISSIONS[kind]):
            raise PermissionDeniedError(
                "permission_denied", _("You do not have permission for this action.")
            )
        region = get_object_or_404(
            importer.target_regions(request.user), code=serializer.validated_data["region"]
        )
        job = importer.start_import(
            request.user, kind=kind, region=region, upload=serializer.validated_data["file"]
        )
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"])
    def errors(self, request: Request, pk: str) -> HttpResponseBase:
        job = get_object_or_404(self.get_queryset(), pk=pk)
        if not job.error_file:
            raise Http404
        record(AuditAction.DOWNLOAD, job, actor=request.user, note="import error file")
        return FileResponse(
            job.error_file.open("rb"),
            as_attachment=True,
            filename=f"import-errors-{job.pk}.xlsx",
            content_type=XLSX_CONTENT_TYPE,
        )


class _TooLarge(ServiceError):
    status_code = 413

    def __init__(self, message: str) -> None:
        super().__init__("import.too_large", message)


class ImportTemplateViewSet(viewsets.ViewSet):
    permission_classes = [permissions.IsAuthenticated]

    def retrieve(self, request: Request, pk: str) -> HttpResponse:
        if pk not in SHEETS:
            raise Http404
        if not request.user.has_perm(IMPORT_PERMISSIONS[pk]):
            raise PermissionDeniedError(
                "permission_denied", _("You do not have permission for this action.")
            )
        response = HttpResponse(template_workbook(pk), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{pk}-template.xlsx"'
        return response


class ExportViewSet(viewsets.ViewSet):
    permission_classes = [permissions.IsAuthenticated]

    def retrieve(self, request: Request, pk: str) -> HttpResponseBase:
        if pk not in exporter.EXPORT_KINDS:
            raise Http404
        params = exporter.filter_params(pk, request.query_params)
        unmasked = request.query_params.get("unmasked") in {"1", "true", "yes"}
        handle, filename, _count = exporter.export_records(
            request.user, pk, params, unmasked=unmasked
        )
        return FileResponse(
            handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
        )


def register(router: DefaultRouter) -> None:
    router.register("registry/imports", ImportJobViewSet, basename="registry-import")
    router.register(
        "registry/import-templates", ImportTemplateViewSet, basename="registry-import-template"
    )
    router.register("registry/exports", ExportViewSet, basename="registry-export")
