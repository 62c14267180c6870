"""Excel pages of the register: templates, upload, the job's progress and error file, export.

Import pages need ``registry.import_<kind>``; jobs are seen through ``jobs_visible_to`` (scope
and import permission), so another community's job answers 404. Export needs the export
permission of the kind (community workers lack it unless the security administrator grants it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core.errors import NotFoundError, ServiceError
from linli.regions.models import RegionNode
from linli.registry.choices import ImportKind
from linli.registry.excel import exporter, importer, uploads
from linli.registry.excel.columns import IMPORT_PERMISSIONS, SHEETS
from linli.registry.excel.templates import XLSX_CONTENT_TYPE, template_filename, template_workbook
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    ImportJob,
    Person,
    Unit,
)
from linli.utilities.masking import mask_name


class ImportForm(forms.Form):
    region: Any = forms.ModelChoiceField(
        label=gettext_lazy("Target region"),
        queryset=None,
        help_text=gettext_lazy("Every row's 社区代码 must lie inside this region."),
    )
    file = forms.FileField(
        label=gettext_lazy("Excel file"),
        help_text=gettext_lazy("The filled-in template (.xlsx)."),
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = importer.target_regions(user)
        field: Any = self.fields["region"]
        field.queryset = regions
        field.label_from_instance = lambda node: f"{node.name}（{node.code}）"
        if regions.count() == 1:
            field.initial = regions.first()


class ExportForm(forms.Form):
    unmasked = forms.BooleanField(
        label=gettext_lazy("Export personal data unmasked (recorded in the audit trail)"),
        required=False,
    )


def _kind(kind: str) -> str:
    if kind not in SHEETS:
        raise Http404
    return kind


def _require_import(request: HttpRequest, kind: str) -> None:
    if not request.user.has_perm(IMPORT_PERMISSIONS[kind]):
        raise PermissionDenied


def _job(request: HttpRequest, pk: int) -> ImportJob:
    return get_object_or_404(
        importer.jobs_visible_to(request.user).select_related("region", "created_by"), pk=pk
    )


@login_required
@require_GET
def import_index(request: HttpRequest) -> HttpResponse:
    kinds = importer.importable_kinds(request.user)
    if not kinds:
        raise PermissionDenied
    jobs = importer.jobs_visible_to(request.user).select_related("region", "created_by")[:30]
    choices = [(kind, label) for kind, label in ImportKind.choices if kind in kinds]
    return render(request, "registry/import_index.html", {"kinds": choices, "jobs": jobs})


@login_required
@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    _require_import(request, _kind(kind))
    response = HttpResponse(template_workbook(kind), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = _attachment(template_filename(kind))
    return response


def _attachment(filename: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename=\"{_ascii(filename)}\"; filename*=UTF-8''{quote(filename)}"


def _ascii(filename: str) -> str:
    return filename.encode("ascii", "ignore").decode() or "linli.xlsx"


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def import_start(request: HttpRequest, kind: str) -> HttpResponse:
    """The upload page. An oversize body is refused before Django reads it: the size check and
    the counting upload handler must be in place before the CSRF check parses the form."""
    _require_import(request, _kind(kind))
    if request.method == "POST":
        size = uploads.declared_too_large(request)
        if size is not None:
            chosen = uploads.fields_before_file(request, ("region",))
            return _import_page(
                request, kind, _fresh_form(request, chosen), 413, importer.too_large_message(size)
            )
        handler = uploads.install(request)
        return _import_post(request, kind, handler)
    return _import_page(request, kind, ImportForm(request.user))


def _fresh_form(request: HttpRequest, chosen: Any) -> ImportForm:
    """The upload form again after a refused file, with the target region still chosen (a
    region outside the choices simply selects nothing)."""
    region = str(chosen.get("region") or "").strip()
    initial = {"region": region} if region.isdigit() and len(region) <= 18 else {}
    return ImportForm(request.user, initial=initial)


@csrf_protect
def _import_post(
    request: HttpRequest, kind: str, handler: uploads.SizeLimitHandler
) -> HttpResponse:
    form = ImportForm(request.user, request.POST, request.FILES)
    if handler.exceeded:
        # The fields before the file were parsed; the file was dropped unread.
        return _import_page(
            request, kind, _fresh_form(request, request.POST), 413, importer.too_large_message()
        )
    if form.is_valid():
        try:
            job = importer.start_import(
                request.user,
                kind=kind,
                region=form.cleaned_data["region"],
                upload=form.cleaned_data["file"],
            )
        except NotFoundError as exc:
            raise Http404 from exc
        except ServiceError as exc:
            form.add_error("file", str(exc.message))
        else:
            messages.success(request, _("The file was accepted; the import is running."))
            return redirect("registry:import_job", pk=job.pk)
    return _import_page(request, kind, form, status=400)


def _import_page(
    request: HttpRequest, kind: str, form: ImportForm, status: int = 200, refusal: str = ""
) -> HttpResponse:
    sheet = SHEETS[kind]
    return render(
        request,
        "registry/import_form.html",
        {
            "form": form,
            "refusal": refusal,
            "kind": kind,
            "kind_label": ImportKind(kind).label,
            "sheet": sheet,
            "max_mb": round(importer.max_upload_bytes() / (1024 * 1024)),
        },
        status=status,
    )


@login_required
@require_GET
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "registry/import_job.html", {"job": _job(request, pk)})


@login_required
@require_GET
def import_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment htmx polls every second while the job runs."""
    return render(request, "registry/import_status.html", {"job": _job(request, pk)})


@login_required
@require_GET
def import_errors(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = _job(request, pk)
    if not job.error_file:
        raise Http404
    record(AuditAction.DOWNLOAD, job, actor=request.user, note="import error file")
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"{SHEETS[job.kind].name}导入错误-{job.pk}.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )


@login_required
@require_http_methods(["GET", "POST"])
def export(request: HttpRequest, kind: str) -> HttpResponseBase:
    """GET: the export page with the list's filters; POST: the workbook, audited."""
    if kind not in exporter.EXPORT_KINDS:
        raise Http404
    if not exporter.may_export(request.user, kind):
        return _refused(request, exporter.refusal(kind))
    source = request.POST if request.method == "POST" else request.GET
    params = exporter.filter_params(kind, source)
    form = ExportForm(request.POST if request.method == "POST" else None)
    can_unmask = exporter.may_unmask(request.user, kind)
    try:
        if request.method == "POST" and form.is_valid():
            unmasked = bool(form.cleaned_data["unmasked"])
            if unmasked and not can_unmask:
                return _refused(request, _("You may not export personal data unmasked."))
            handle, filename, _count = exporter.export_records(
                request.user, kind, params, unmasked=unmasked
            )
            return FileResponse(
                handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
            )
        count = exporter.export_queryset(request.user, kind, params).count()
    except ServiceError as error:
        # Filters that do not parse (a hand-edited URL): say so, export nothing.
        status = getattr(error, "status_code", 400)
        return render(
            request, "core/error.html", {"status": status, "message": str(error)}, status=status
        )
    return render(
        request,
        "registry/export_form.html",
        {
            "form": form,
            "kind": kind,
            "kind_label": exporter.EXPORT_KINDS[kind].model._meta.verbose_name_plural,
            "params": params,
            "filters": filter_labels(request.user, kind, params),
            "count": count,
            "can_unmask": can_unmask,
        },
    )


# Filters whose value is a record number: shown as the record's name, found through the gate.
_RECORD_FILTERS: dict[str, tuple[type[models.Model], Callable[[Any], str]]] = {
    "compound": (Compound, lambda compound: compound.name),
    "building": (Building, str),
    "unit": (Unit, str),
    "house": (House, lambda house: house.address),
    "household": (Household, lambda household: household.number),
    "person": (Person, lambda person: mask_name(person.name)),
    "owner": (Person, lambda person: mask_name(person.name)),
}


def filter_labels(user: Any, kind: str, params: dict[str, str]) -> list[tuple[str, str]]:
    """The export's filters as a worker reads them: (field label, value label), e.g.
    ("人口类型", "流动人口") for ``registration_type=floating``; a region by its name, a tag by
    its name, a linked record by its name if the gate shows it (else only its number)."""
    model = exporter.EXPORT_KINDS[kind].model
    form = exporter.filterset(kind, params).form
    form.is_valid()
    cleaned = getattr(form, "cleaned_data", {})
    labels = []
    for key, raw in params.items():
        field = form.fields.get(key)
        if field is None:
            continue
        try:
            label = str(model._meta.get_field(key).verbose_name)
        except FieldDoesNotExist:
            label = str(field.label or key)
        labels.append((label, _filter_value(user, key, field, raw, cleaned.get(key))))
    return labels


def _filter_value(user: Any, key: str, field: forms.Field, raw: str, value: Any) -> str:
    if key == "region":
        node = RegionNode.objects.visible_to(user).filter(code=raw.strip()).first()
        return f"{node.name}（{node.code}）" if node is not None else raw
    if key in _RECORD_FILTERS and raw.isdigit() and len(raw) <= 18:
        record_model, name = _RECORD_FILTERS[key]
        manager: Any = record_model._default_manager
        record = manager.visible_to(user).filter(pk=int(raw)).first()
        return name(record) if record is not None else f"#{raw}"
    if isinstance(value, models.Model):  # a tag, chosen by its code
        return str(getattr(value, "name", value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    choices = getattr(field, "choices", None)
    if choices is not None:
        return str(dict(choices).get(raw, raw))
    return raw


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    """403 with the reason, on the site's error page."""
    return render(request, "core/error.html", {"status": 403, "message": message}, status=403)
