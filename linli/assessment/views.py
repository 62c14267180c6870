"""The self-assessment's pages (指标自评): a community evaluated live for a tier and a date, its
stored assessments, its manual figures with their evidence, and the county view.

A community outside the user's scope answers 404, like one that does not exist; lacking the
permission at all answers 403. Every change goes through ``linli.assessment.services`` (or
``county.start_run``), whose refusals are shown in Chinese. The live page evaluates on GET
(some 30 ms for a community of the demo register); a stored assessment's page renders from its
``result`` JSON only, so it shows what the verdict rested on when it was stored.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.assessment import county as county_tables
from linli.assessment import services
from linli.assessment.choices import Verdict
from linli.assessment.engine import AssessmentResult
from linli.assessment.figures import BadFigures
from linli.assessment.forms import (
    AssessmentQueryForm,
    ManualFigureForm,
    StoreAssessmentForm,
    enterable,
    metric_choices,
    unit_text,
)
from linli.assessment.models import Assessment, ManualFigure
from linli.assessment.standard import Metric, Standard, load_standard
from linli.assessment.values import value_text
from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.utilities.paging import CappedPaginator

COUNTY_PAGE_SIZE = 100
FORM_OVERHEAD = 64 * 1024  # the multipart framing and the form's other fields
RECENT_STORED = 10
GAP_KIND_LABELS = {
    "shortfall": gettext_lazy("Figure short of the threshold"),
    "evidence": gettext_lazy("Figure or evidence missing"),
    "absent": gettext_lazy("Not in place"),
}
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The sub-navigation of the assessment pages: (url name, label, permission). Entries whose page
# is not installed (yet) are left out.
SUBNAV: list[tuple[str, Promise, str]] = [
    ("assessment:index", gettext_lazy("Community assessment"), "assessment.view_assessment"),
    ("assessment:county", gettext_lazy("County view"), "assessment.view_assessment"),
    (
        "assessment:publication_list",
        gettext_lazy("Acceptance publications"),
        "assessment.view_publication",
    ),
]


# ---------------------------------------------------------------- the gate


def _require(request: HttpRequest, perm: str) -> None:
    """No permission for the action at all → 403; scope is the gate's job (→ 404)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _community(request: HttpRequest, code: str) -> RegionNode:
    try:
        return services.community_in_scope(request.user, code)
    except NotFoundError as exc:
        raise Http404(str(exc.message)) from exc
    except ServiceError as exc:
        # A subdistrict or county of the scope, or a retired community: nothing to assess here.
        raise Http404(str(exc.message)) from exc


def _standard() -> Standard:
    return load_standard()


def subnav(request: HttpRequest) -> list[dict[str, Any]]:
    current = request.resolver_match.view_name if request.resolver_match else ""
    items = []
    for name, label, perm in SUBNAV:
        if not request.user.has_perm(perm):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        stem = name.split(":")[1].split("_")[0]
        items.append(
            {
                "url": url,
                "label": label,
                "active": current == name
                or current.split(":")[-1].startswith(stem + "_")
                or (name == "assessment:index" and current.startswith("assessment:community")),
            }
        )
    return items


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context.setdefault("subnav", subnav(request))
    return render(request, template, context, status=status)


def _communities(user: Any) -> list[RegionNode]:
    """The picker's list: the active communities of the user's scope."""
    return list(county_tables.communities_in_scope(user).only("code", "name", "level", "parent_id"))


# ---------------------------------------------------------------- presenting a result


VERDICT_CLASSES = {verdict.value: f"verdict-{verdict.value}" for verdict in Verdict}


class _Links:
    """Links of platform figures to the register's lists, kept only where the reader may open
    the list (a property staff reads houses, not people)."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.cache: dict[str, bool] = {}

    def allowed(self, url: str) -> str:
        if not url:
            return ""
        path = urlsplit(url).path
        if path not in self.cache:
            try:
                match = resolve(path)
            except Resolver404:
                self.cache[path] = False
            else:
                name = match.url_name or ""
                perm = ""
                if match.namespace == "registry" and name.endswith("_list"):
                    perm = f"registry.view_{name.removesuffix('_list')}"
                self.cache[path] = bool(perm) and self.user.has_perm(perm)
        return url if self.cache[path] else ""


def _attachments(user: Any, region: RegionNode, names: set[str]) -> dict[str, int]:
    """Stored attachment name → the manual figure that holds it, for the download link."""
    if not names or not user.has_perm("assessment.view_manualfigure"):
        return {}
    rows = ManualFigure.objects.visible_to(user).filter(region=region, attachment__in=names)
    return {name: pk for pk, name in rows.values_list("pk", "attachment")}


def present(request: HttpRequest, result: dict[str, Any], region: RegionNode) -> dict[str, Any]:
    """``AssessmentResult.as_dict()`` (live or stored) made ready for the template: verdict
    classes, figure rows with their sources, links to the records and attachment downloads."""
    links = _Links(request.user)
    all_figures: dict[str, Any] = result.get("figures") or {}
    attachment_names = {
        figure["attachment"]
        for indicator in result.get("indicators", [])
        for figure in indicator.get("figures", [])
        if figure.get("attachment")
    }
    downloads = _attachments(request.user, region, attachment_names)
    indicators = []
    for indicator in result.get("indicators", []):
        figures = []
        for figure in indicator.get("figures", []):
            computation = figure.get("computation") or {}
            parts = None
            if computation.get("numerator") and computation.get("denominator_value") is not None:
                parts = {
                    "numerator": _label(all_figures, computation["numerator"]),
                    "numerator_value": computation["numerator_value"],
                    "denominator": _label(all_figures, computation["denominator"]),
                    "denominator_value": computation["denominator_value"],
                }
            attachment = figure.get("attachment") or ""
            figures.append(
                {
                    **figure,
                    "computation": computation,
                    "parts": parts,
                    "link": links.allowed(computation.get("link") or ""),
                    "source_class": f"source-{figure['source']}" if figure.get("source") else "",
                    "attachment_name": os.path.basename(attachment),
                    "entered_at_text": _local_time(figure.get("entered_at")),
                    "attachment_url": reverse(
                        "assessment:figure_attachment", args=[downloads[attachment]]
                    )
                    if attachment in downloads
                    else "",
                }
            )
        indicators.append(
            {
                **indicator,
                "verdict_class": VERDICT_CLASSES.get(indicator["verdict"], ""),
                "checks": [
                    {**check, "verdict_class": VERDICT_CLASSES.get(check["verdict"], "")}
                    for check in indicator.get("checks", [])
                ],
                "figures": figures,
            }
        )
    gap = result.get("gap") or {}
    return {
        **result,
        "indicators": indicators,
        "gap_items": [
            {**item, "kind_label": GAP_KIND_LABELS.get(item["kind"], item["kind"])}
            for item in gap.get("items", [])
        ],
        "gap_tier": gap.get("tier"),
    }


def _local_time(value: str | None) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M")


def _label(figures: dict[str, Any], name: str) -> str:
    figure = figures.get(name)
    if figure:
        return str(figure.get("label") or name)
    try:
        return _standard().quantity(name).label
    except KeyError:
        return name


def _default_tier(result: AssessmentResult) -> str:
    """The tier a community works towards: the one above the tier reached (the top one once
    every tier is reached)."""
    target = result.next_tier or result.reached
    return target.key if target else result.standard.tiers[0].key


def _query(**params: Any) -> str:
    return urlencode({key: value for key, value in params.items() if value})


# ---------------------------------------------------------------- the community page


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The picker: ``?community=CODE`` goes to that community; otherwise the user's own
    community (their home region, or the first of their scope)."""
    _require(request, "assessment.view_assessment")
    user: Any = request.user
    code = request.GET.get("community", "").strip()
    params = _query(tier=request.GET.get("tier", ""), date=request.GET.get("date", ""))
    if code:
        node = (
            RegionNode.objects.within(user.scope_codes()).filter(code=code).first()
            if code.isdigit()
            else None
        )
        if node is None:
            raise Http404(_("The region does not exist or is outside your scope."))
        if node.level != RegionLevel.COMMUNITY:
            return redirect(reverse("assessment:county") + "?" + _query(region=node.code))
        target = reverse("assessment:community", args=[node.code])
        return redirect(f"{target}?{params}" if params else target)
    communities = _communities(user)
    home = user.home_region_id
    own = next((node for node in communities if node.pk == home), None)
    if own is None and len(communities) == 1:
        own = communities[0]
    if own is not None:
        return redirect("assessment:community", code=own.code)
    return _render(
        request,
        "assessment/index.html",
        {"communities": communities},
    )


@login_required
@require_GET
def community(request: HttpRequest, code: str) -> HttpResponse:
    _require(request, "assessment.view_assessment")
    user: Any = request.user
    node = _community(request, code)
    standard = _standard()
    query = AssessmentQueryForm(request.GET or None, standard=standard)
    context: dict[str, Any] = {
        "region": node,
        "standard": standard,
        "query": query,
        "communities": _communities(user),
        "may_store": user.has_perm("assessment.add_assessment"),
        "may_view_figures": user.has_perm("assessment.view_manualfigure"),
        "may_add_figures": user.has_perm("assessment.add_manualfigure"),
        "stored": _recent_stored(user, node),
    }
    if request.GET and not query.is_valid():
        return _render(request, "assessment/community.html", context, status=400)
    tier = query.cleaned_data.get("tier", "") if request.GET else ""
    on: date = (query.cleaned_data.get("date") if request.GET else None) or timezone.localdate()
    try:
        result = services.assess_community(user, node, tier=tier or "basic", on=on)
    except NotFoundError as exc:
        raise Http404(str(exc.message)) from exc
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return _render(request, "assessment/community.html", context, status=400)
    chosen = tier or _default_tier(result)
    if chosen != result.tier.tier.key:
        result = replace(result, tier=next(r for r in result.tiers if r.tier.key == chosen))
    data = result.as_dict()
    context.update(
        {
            "result": present(request, data, node),
            "tier_key": chosen,
            "on": on,
            "live": True,
            "tier_links": _tier_links(
                data["tiers"],
                chosen,
                lambda key: (
                    reverse("assessment:community", args=[node.code])
                    + "?"
                    + _query(tier=key, date=on.isoformat())
                ),
            ),
            "store_form": StoreAssessmentForm(initial={"date": on}),
        }
    )
    return _render(request, "assessment/community.html", context)


def _tier_links(tiers: list[dict[str, Any]], chosen: str, url: Any) -> list[dict[str, Any]]:
    return [{**tier, "url": url(tier["key"]), "active": tier["key"] == chosen} for tier in tiers]


def _recent_stored(user: Any, node: RegionNode) -> list[Assessment]:
    rows = list(
        Assessment.objects.visible_to(user)
        .filter(region=node)
        .defer("result")
        .select_related("computed_by")
        .order_by("-on", "-computed_at", "-id")[:RECENT_STORED]
    )
    labels = county_tables.level_labels()
    for row in rows:
        row.tier_name = labels[county_tables.level_of(row)]  # type: ignore[attr-defined]
    return rows


@login_required
@require_POST
def store(request: HttpRequest, code: str) -> HttpResponse:
    """Save this assessment: every tier evaluated and kept, then its page."""
    _require(request, "assessment.add_assessment")
    node = _community(request, code)
    form = StoreAssessmentForm(request.POST)
    back = reverse("assessment:community", args=[node.code])
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    try:
        assessment = services.store_assessment(request.user, node, on=form.cleaned_data["date"])
    except NotFoundError as exc:
        raise Http404(str(exc.message)) from exc
    except PermissionDeniedError as exc:
        raise PermissionDenied from exc
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect(back)
    messages.success(request, _("The assessment has been saved."))
    target = reverse("assessment:stored", args=[assessment.pk])
    tier = request.POST.get("tier", "")
    return redirect(f"{target}?{_query(tier=tier)}" if tier else target)


@login_required
@require_GET
def stored(request: HttpRequest, pk: int) -> HttpResponse:
    """A stored assessment, rendered from its ``result`` JSON only."""
    _require(request, "assessment.view_assessment")
    assessment = get_object_or_404(
        Assessment.objects.visible_to(request.user).select_related("region", "computed_by"),
        pk=pk,
    )
    results: dict[str, Any] = assessment.result or {}
    if not results:
        raise Http404
    tier = request.GET.get("tier", "")
    default = assessment.next_tier or assessment.tier_reached or next(iter(results))
    chosen = tier if tier in results else default if default in results else next(iter(results))
    result = results[chosen]
    return _render(
        request,
        "assessment/stored.html",
        {
            "assessment": assessment,
            "region": assessment.region,
            "result": present(request, result, assessment.region),
            "tier_key": chosen,
            "on": assessment.on,
            "live": False,
            "tier_links": _tier_links(
                result.get("tiers", []),
                chosen,
                lambda key: (
                    reverse("assessment:stored", args=[assessment.pk]) + "?" + _query(tier=key)
                ),
            ),
            "may_view_figures": request.user.has_perm("assessment.view_manualfigure"),
        },
    )


# ---------------------------------------------------------------- manual figures


def _figure_rows(standard: Standard, figures: list[ManualFigure]) -> list[dict[str, Any]]:
    """The figures with their value in words, and which one counts today per metric."""
    from fractions import Fraction

    today = timezone.localdate()
    counting: set[int] = set()
    seen: set[str] = set()
    for figure in figures:  # newest first per metric, as the evaluation picks them
        valid = figure.valid_from <= today and (
            figure.valid_until is None or figure.valid_until >= today
        )
        if figure.is_active and valid and figure.metric not in seen:
            seen.add(figure.metric)
            counting.add(figure.pk)
    rows = []
    for figure in figures:
        try:
            quantity: Any = standard.quantity(figure.metric)
        except KeyError:
            quantity = None
        value = figure.flag if figure.flag is not None else Fraction(str(figure.number))
        rows.append(
            {
                "figure": figure,
                "label": quantity.label if quantity else figure.metric,
                "value": value_text(quantity, value) if quantity else str(figure.value),
                "counts": figure.pk in counting,
                "attachment_name": os.path.basename(figure.attachment.name or "")
                if figure.attachment
                else "",
            }
        )
    return rows


@login_required
@require_GET
def figure_list(request: HttpRequest, code: str) -> HttpResponse:
    _require(request, "assessment.view_manualfigure")
    user: Any = request.user
    node = _community(request, code)
    figures = list(
        ManualFigure.objects.visible_to(user)
        .filter(region=node)
        .select_related("entered_by", "retired_by")
        .order_by("metric", "-entered_at", "-id")
    )
    rows = _figure_rows(_standard(), figures)
    return _render(
        request,
        "assessment/figure_list.html",
        {
            "region": node,
            "active": [row for row in rows if row["figure"].is_active],
            "withdrawn": [row for row in rows if not row["figure"].is_active],
            "may_add": user.has_perm("assessment.add_manualfigure"),
            "may_retire": user.has_perm("assessment.retire_manualfigure"),
            "may_override": user.has_perm("assessment.override_manualfigure"),
            "communities": _communities(user),
        },
    )


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def figure_create(request: HttpRequest, code: str) -> HttpResponse:
    """The figure form. An attachment declared larger than the limit is refused before the body
    is read (so before the CSRF check, which would parse it); everything else is CSRF-checked."""
    _require(request, "assessment.add_manualfigure")
    node = _community(request, code)
    if request.method == "POST" and _declared_too_large(request):
        return _figure_form_page(request, node, too_large=True)
    return _figure_form_page_checked(request, node)


def _declared_too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > services.MAX_ATTACHMENT_BYTES + FORM_OVERHEAD


@csrf_protect
def _figure_form_page_checked(request: HttpRequest, node: RegionNode) -> HttpResponse:
    return _figure_form_page(request, node)


def _figure_form_page(
    request: HttpRequest, node: RegionNode, *, too_large: bool = False
) -> HttpResponse:
    user: Any = request.user
    standard = _standard()
    tier_key = request.GET.get("tier", "") or standard.tiers[0].key
    try:
        tier_key = services.resolve_tier(standard, tier_key)
    except ServiceError:
        tier_key = standard.tiers[0].key
    may_override = user.has_perm("assessment.override_manualfigure")
    bound = request.method == "POST" and not too_large
    form = ManualFigureForm(
        (request.POST or None) if bound else None,
        (request.FILES or None) if bound else None,
        standard=standard,
        tier_key=tier_key,
        may_override=may_override,
        initial={"valid_from": timezone.localdate(), "metric": request.GET.get("metric", "")},
    )
    status = 200
    refusal = ""
    if too_large:
        refusal = _("The attachment is larger than 20 MB.")
        status = 413
    elif request.method == "POST":
        if form.is_valid():
            try:
                figure = services.enter_manual_figure(
                    user, region=node, standard=standard, **form.service_values()
                )
            except NotFoundError as exc:
                raise Http404(str(exc.message)) from exc
            except PermissionDeniedError as exc:
                raise PermissionDenied from exc
            except BadFigures as exc:
                for problem in exc.problems:
                    form.add_error(None, problem)
            except ServiceError as exc:
                form.add_error(None, str(exc.message))
            else:
                quantity = standard.quantity(figure.metric)
                messages.success(
                    request,
                    _("The figure %(label)s = %(value)s has been entered.")
                    % {"label": quantity.label, "value": value_text(quantity, _value(figure))},
                )
                return redirect("assessment:figure_list", code=node.code)
        status = 400
    selected = (form["metric"].value() or "") if form.is_bound else request.GET.get("metric", "")
    return _render(
        request,
        "assessment/figure_form.html",
        {
            "region": node,
            "form": form,
            "standard": standard,
            "tier_key": tier_key,
            "tiers": [
                {
                    "key": tier.key,
                    "name": tier.name,
                    "url": reverse("assessment:figure_create", args=[node.code])
                    + "?"
                    + _query(tier=tier.key),
                    "active": tier.key == tier_key,
                }
                for tier in standard.tiers
            ],
            "help": _metric_help(standard, selected),
            "refusal": refusal,
            "metrics": _metric_table(standard, tier_key),
        },
        status=status,
    )


def _value(figure: ManualFigure) -> Any:
    from fractions import Fraction

    return figure.flag if figure.flag is not None else Fraction(str(figure.number))


def _metric_help(standard: Standard, name: str) -> dict[str, Any] | None:
    if not name or name not in standard.names():
        return None
    quantity = standard.quantity(name)
    return {
        "name": name,
        "label": quantity.label,
        "unit": unit_text(quantity),
        "meaning": quantity.meaning,
        "platform": bool(isinstance(quantity, Metric) and quantity.platform),
        "formula": quantity.is_formula,
    }


def _metric_table(standard: Standard, tier_key: str) -> list[dict[str, Any]]:
    return [
        help_
        for _heading, options in metric_choices(standard, tier_key)
        for name, _label in options
        if (help_ := _metric_help(standard, name)) is not None
    ]


@login_required
@require_GET
def metric_help(request: HttpRequest) -> HttpResponse:
    """The meaning and unit of the metric picked in the figure form (an htmx swap)."""
    _require(request, "assessment.add_manualfigure")
    standard = _standard()
    name = request.GET.get("metric", "")
    help_ = _metric_help(standard, name)
    if help_ is not None and not enterable(standard.quantity(name)):
        help_ = None
    return render(request, "assessment/_metric_help.html", {"help": help_})


def _figure(request: HttpRequest, pk: int, action: str) -> ManualFigure:
    rows = ManualFigure.objects.visible_to(request.user, action).select_related(
        "region", "entered_by", "retired_by"
    )
    return get_object_or_404(rows, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def figure_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: confirm; POST: withdraw (kept for the record, no longer counted)."""
    _require(request, "assessment.retire_manualfigure")
    figure = _figure(request, pk, "retire")
    back = reverse("assessment:figure_list", args=[figure.region.code])
    if request.method == "POST":
        try:
            services.retire_manual_figure(request.user, figure)
        except NotFoundError as exc:
            raise Http404(str(exc.message)) from exc
        except PermissionDeniedError as exc:
            raise PermissionDenied from exc
        except ServiceError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("The figure has been withdrawn."))
        return redirect(back)
    standard = _standard()
    return _render(
        request,
        "assessment/figure_withdraw.html",
        {"figure": figure, "row": _figure_rows(standard, [figure])[0], "back": back},
    )


@login_required
@require_GET
def figure_attachment(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The evidence attachment, through the gate and audited; never a public media URL."""
    _require(request, "assessment.view_manualfigure")
    figure = _figure(request, pk, "view")
    if not figure.attachment:
        raise Http404
    try:
        handle = figure.attachment.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    record(
        AuditAction.DOWNLOAD,
        figure,
        actor=request.user,
        note="evidence attachment",
        region_code=figure.region.code,
    )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=os.path.basename(figure.attachment.name or ""),
        content_type="application/octet-stream",
    )
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- the county view


@login_required
@require_GET
def county(request: HttpRequest) -> HttpResponse:
    _require(request, "assessment.view_assessment")
    user: Any = request.user
    region = request.GET.get("region", "").strip()
    level = request.GET.get("tier", "").strip()
    view = county_tables.county_view(user, region)
    rows = county_tables.filter_rows(view.rows, level)
    page = CappedPaginator(rows, COUNTY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    labels = county_tables.level_labels()
    levels = [
        {"key": key, "label": labels[key], "colour": county_tables.LEVEL_COLOURS[key]}
        for key in county_tables.LEVELS
    ]
    run = county_tables.active_run(user)
    chart = {
        "dates": view.trend["dates"],
        "series": [
            {
                "key": key,
                "name": labels[key],
                "colour": county_tables.LEVEL_COLOURS[key],
                "values": view.trend["series"][key],
            }
            for key in county_tables.LEVELS
        ],
    }
    export_query = _query(region=region, tier=level)
    return _render(
        request,
        "assessment/county.html",
        {
            "view": view,
            "page": page,
            "query": query.urlencode(),
            "region": region,
            "level": level,
            "levels": levels,
            "labels": labels,
            "chart": chart,
            "trend_rows": [
                {"date": day, "counts": [s["values"][index] for s in chart["series"]]}
                for index, day in enumerate(chart["dates"])
            ][::-1],
            "regions": _pick_regions(user),
            "may_run": user.has_perm("assessment.add_assessment"),
            "may_export": user.has_perm("assessment.export_assessment"),
            "export_url": reverse("assessment:county_export")
            + (f"?{export_query}" if export_query else ""),
            "run": run,
            "run_percent": round(100 * run["done"] / run["total"]) if run else 0,
            "today": timezone.localdate(),
            "total": len(view.rows),
        },
    )


def _pick_regions(user: Any) -> list[RegionNode]:
    return list(
        RegionNode.objects.within(user.scope_codes())
        .active()
        .filter(level__in=(RegionLevel.COUNTY, RegionLevel.SUBDISTRICT, RegionLevel.COMMUNITY))
        .only("code", "name")
        .order_by("code")
    )


@login_required
@require_GET
def county_export(request: HttpRequest) -> HttpResponseBase:
    """The community table (with the page's filters) as a workbook; audited."""
    _require(request, "assessment.export_assessment")
    handle, filename, _count = county_tables.export_communities(
        request.user,
        region=request.GET.get("region", "").strip(),
        level=request.GET.get("tier", "").strip(),
    )
    with handle:
        response = HttpResponse(handle.read(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_POST
def county_run_start(request: HttpRequest) -> HttpResponse:
    """Assess every community of the user's scope now (in the background)."""
    _require(request, "assessment.add_assessment")
    form = StoreAssessmentForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("assessment:county")
    try:
        state = county_tables.start_run(request.user, on=form.cleaned_data["date"])
    except PermissionDeniedError as exc:
        raise PermissionDenied from exc
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("assessment:county")
    return redirect("assessment:county_run", run_id=state["id"])


def _run_context(request: HttpRequest, run_id: str) -> dict[str, Any]:
    try:
        state = county_tables.run_state(request.user, run_id)
    except NotFoundError as exc:
        raise Http404(str(exc.message)) from exc
    names = dict(
        RegionNode.objects.filter(code__in=[code for code, _m in state["failed"]]).values_list(
            "code", "name"
        )
    )
    return {
        "run": state,
        "percent": round(100 * state["done"] / state["total"]) if state["total"] else 100,
        "failed": [
            {"code": code, "name": names.get(code, code), "message": message}
            for code, message in state["failed"]
        ],
        "running": state["status"] in ("pending", "running"),
    }


@login_required
@require_GET
def county_run(request: HttpRequest, run_id: str) -> HttpResponse:
    _require(request, "assessment.view_assessment")
    return _render(request, "assessment/county_run.html", _run_context(request, run_id))


@login_required
@require_GET
def county_run_status(request: HttpRequest, run_id: str) -> HttpResponse:
    """The progress fragment htmx polls every second while the run goes on."""
    _require(request, "assessment.view_assessment")
    response = render(request, "assessment/_run_status.html", _run_context(request, run_id))
    response["Cache-Control"] = "no-store"
    return response
