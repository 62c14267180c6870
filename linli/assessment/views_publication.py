"""Pages of the acceptance publication (验收结果公示): the list in scope, drafting one from a
stored assessment, editing its free text while a draft, the preview, the printable page, the
Word download and issuing.

Every page reads through ``Publication.objects.visible_to`` (another community's publication
answers 404) and changes go through ``linli.assessment.publication``. Editing an issued
publication answers 409 with the reason.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from linli.assessment import publication as services
from linli.assessment.api_publication import attachment_header, docx_filename
from linli.assessment.models import Assessment, Publication, PublicationStatus
from linli.assessment.publication_render import (
    DOCX_CONTENT_TYPE,
    publication_docx,
    publication_html,
)
from linli.assessment.standard import load_standard
from linli.core.errors import ConflictError, NotFoundError, ServiceError
from linli.utilities.paging import CappedPaginator

PAGE_SIZE = 50
# The create page offers the newest assessments in scope; an older one is reached from its own
# page (?assessment=ID).
ASSESSMENT_CHOICES = 200


def _require(request: HttpRequest, perm: str) -> None:
    """No permission for the action at all → 403; scope is the gate's job (→ 404)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _get(request: HttpRequest, pk: int, action: str = "view") -> Publication:
    _require(request, f"assessment.{action}_publication")
    rows = Publication.objects.visible_to(request.user, action).select_related(
        "region", "assessment", "created_by", "issued_by"
    )
    return get_object_or_404(rows, pk=pk)


def _service_error(form: forms.Form | None, request: HttpRequest, exc: ServiceError) -> None:
    if isinstance(exc, NotFoundError):
        raise Http404(str(exc.message)) from exc
    fields = [name for name in (exc.details or {}) if form is not None and name in form.fields]
    if form is not None and fields:
        for name in fields:
            form.add_error(name, str(exc.details[name]))
    elif form is not None:
        form.add_error(None, str(exc.message))
    else:
        messages.error(request, str(exc.message))


def _issued(request: HttpRequest, publication: Publication) -> HttpResponse:
    """409 with the reason, on the site's error page."""
    message = _("The publication was issued on %(date)s and can no longer be changed.") % {
        "date": services.long_date(timezone.localdate(publication.issued_at))
    }
    return render(
        request,
        "core/error.html",
        {"status": 409, "message": message},
        status=409,
    )


def assessment_link(publication: Publication) -> str | None:
    """The stored assessment's page at the publication's tier (the assessment pages own it;
    without it the detail page names the assessment in plain text)."""
    try:
        url = reverse("assessment:stored", args=[publication.assessment_id])
    except NoReverseMatch:
        return None
    return f"{url}?tier={publication.tier}"


# ------------------------------------------------------------------ forms


class DraftForm(forms.Form):
    assessment = forms.IntegerField(
        label=gettext_lazy("Stored assessment"), widget=forms.Select, min_value=1
    )
    tier = forms.CharField(
        label=gettext_lazy("Tier"),
        max_length=16,
        widget=forms.Select,
        help_text=gettext_lazy(
            "A tier the assessment does not meet gives a self-check document marked 未达标, "
            "which cannot be issued."
        ),
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assessments = (
            Assessment.objects.visible_to(user)
            .select_related("region")
            .defer("result")
            .order_by("-on", "-computed_at", "-id")[:ASSESSMENT_CHOICES]
        )
        standard = load_standard()
        names = {tier.key: tier.name for tier in standard.tiers}
        assessment_widget: Any = self.fields["assessment"].widget
        assessment_widget.choices = [
            (
                a.pk,
                _("%(community)s, %(date)s (reached: %(tier)s)")
                % {
                    "community": a.region.name,
                    "date": a.on.isoformat(),
                    "tier": names.get(a.tier_reached, _("none")),
                },
            )
            for a in assessments
        ]
        tier_widget: Any = self.fields["tier"].widget
        tier_widget.choices = [(tier.key, tier.name) for tier in standard.tiers]


class TextsForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    organiser = forms.CharField(
        label=gettext_lazy("Organiser"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Who organised the acceptance, e.g. 平阴县大数据中心."),
    )
    opening = forms.CharField(
        label=gettext_lazy("Opening paragraph"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    notice_start = forms.DateField(
        label=gettext_lazy("Notice from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    notice_end = forms.DateField(
        label=gettext_lazy("Notice until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    contact = forms.CharField(
        label=gettext_lazy("Contact lines"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy(
            "One line each: contact unit, contact person, telephone, supervision telephone, "
            "address. Parts marked 【…】 must be filled in or removed before issuing."
        ),
    )
    closing = forms.CharField(
        label=gettext_lazy("Closing lines"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("The organiser's name and the date, printed at the bottom right."),
    )


class IssueForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I have checked the publication; issue it and freeze its text.")
    )


# ------------------------------------------------------------------ pages


@login_required
@require_GET
def publication_list(request: HttpRequest) -> HttpResponse:
    _require(request, "assessment.view_publication")
    rows = Publication.objects.visible_to(request.user)
    wanted = request.GET.get("status")
    if wanted in PublicationStatus.values:
        rows = rows.filter(status=wanted)
    page = CappedPaginator(
        services.for_listing(rows).order_by("-created_at", "-id"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "assessment/publication_list.html",
        {
            "page": page,
            "rows": [
                {"publication": p, "tier": services.tier_name(p), "tier_met": p.tier_met}  # type: ignore[attr-defined]
                for p in page.object_list
            ],
            "status": wanted or "",
            "statuses": PublicationStatus.choices,
            "may_add": request.user.has_perm("assessment.add_publication"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def publication_create(request: HttpRequest) -> HttpResponse:
    _require(request, "assessment.add_publication")
    initial: dict[str, Any] = {}
    if request.method == "GET" and str(request.GET.get("assessment", "")).isdigit():
        chosen = (
            Assessment.objects.visible_to(request.user)
            .defer("result")
            .filter(pk=request.GET["assessment"])
            .first()
        )
        if chosen is not None:
            initial = {"assessment": chosen.pk, "tier": chosen.tier_reached or "basic"}
    form = DraftForm(request.user, request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            publication = services.draft_publication(
                request.user, form.cleaned_data["assessment"], form.cleaned_data["tier"]
            )
        except ServiceError as exc:
            _service_error(form, request, exc)
        else:
            messages.success(request, _("The draft publication was created; edit its text."))
            return redirect("assessment:publication_edit", pk=publication.pk)
    return render(
        request,
        "assessment/publication_form.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def publication_detail(request: HttpRequest, pk: int) -> HttpResponse:
    publication = _get(request, pk)
    user: Any = request.user
    draft = publication.status == PublicationStatus.DRAFT
    return render(
        request,
        "assessment/publication_detail.html",
        {
            "publication": publication,
            "doc": services.document_for(publication),
            "tier": services.tier_name(publication),
            "tier_met": services.tier_met(publication),
            "assessment_url": assessment_link(publication),
            "may_edit": draft and user.has_perm("assessment.change_publication"),
            "may_issue": draft and user.has_perm("assessment.issue_publication"),
            "issue_problems": services.issue_problems(publication) if draft else [],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def publication_edit(request: HttpRequest, pk: int) -> HttpResponse:
    publication = _get(request, pk, "change")
    if publication.status == PublicationStatus.ISSUED:
        return _issued(request, publication)
    initial = {name: getattr(publication, name) for name in services.TEXT_FIELDS}
    form = TextsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {
            name: form.cleaned_data[name]
            for name in services.TEXT_FIELDS
            if form.cleaned_data[name] != initial[name]
        }
        try:
            if changes:
                services.edit_publication(request.user, publication, **changes)
        except ConflictError:
            return _issued(request, publication)
        except ServiceError as exc:
            _service_error(form, request, exc)
        else:
            messages.success(request, _("Changes saved.") if changes else _("Nothing changed."))
            return redirect("assessment:publication_detail", pk=publication.pk)
    return render(
        request,
        "assessment/publication_edit.html",
        {
            "form": form,
            "publication": publication,
            "tier": services.tier_name(publication),
            "tier_met": services.tier_met(publication),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def publication_issue(request: HttpRequest, pk: int) -> HttpResponse:
    publication = _get(request, pk, "issue")
    if publication.status == PublicationStatus.ISSUED:
        return _issued(request, publication)
    form = IssueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.issue_publication(request.user, publication)
        except ConflictError:
            return _issued(request, publication)
        except ServiceError as exc:
            _service_error(form, request, exc)
        else:
            messages.success(request, _("The publication has been issued."))
            return redirect("assessment:publication_detail", pk=publication.pk)
    return render(
        request,
        "assessment/publication_issue.html",
        {
            "form": form,
            "publication": publication,
            "tier": services.tier_name(publication),
            "problems": services.issue_problems(publication),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def publication_document(request: HttpRequest, pk: int) -> HttpResponse:
    """The standalone page to print (A4)."""
    publication = _get(request, pk)
    return HttpResponse(publication_html(services.document_for(publication)))


@login_required
@require_GET
def publication_download(request: HttpRequest, pk: int) -> HttpResponse:
    publication = _get(request, pk)
    response = HttpResponse(
        publication_docx(services.document_for(publication)), content_type=DOCX_CONTENT_TYPE
    )
    response["Content-Disposition"] = attachment_header(docx_filename(publication))
    return response
