"""Region tree pages: browse within scope, node detail, create, rename, move, retire, export.

Every view gets its rows through ``RegionNode.objects.visible_to(user, action)``: a code outside
the user's scope answers 404, the same as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from linli.core.errors import NotFoundError, ServiceError
from linli.regions import services
from linli.regions.choices import RegionLevel, child_level
from linli.regions.forms import GridMoveForm, RegionCreateForm, RegionRenameForm, RegionSearchForm
from linli.regions.models import RegionNode

PAGE_SIZE = 50


def _require(request: HttpRequest, action: str) -> None:
    """No permission for the action at all → 403; scope is the gate's job (→ 404)."""
    if not request.user.has_perm(f"regions.{action}_regionnode"):
        raise PermissionDenied


def _visible(request: HttpRequest, action: str = "view") -> QuerySet[RegionNode]:
    return RegionNode.objects.visible_to(request.user, action)


def _node(request: HttpRequest, code: str, action: str = "view") -> RegionNode:
    _require(request, action)
    return get_object_or_404(_visible(request, action).select_related("parent"), code=code)


def _with_child_counts(queryset: QuerySet[RegionNode]) -> QuerySet[RegionNode]:
    return queryset.annotate(
        child_count=Count("children", filter=Q(children__retired_at__isnull=True))
    )


def _actions(user: Any, node: RegionNode) -> dict[str, bool]:
    """Which actions the page offers on this node: only what the user may do."""
    active = node.is_active
    return {
        "add": active
        and child_level(node.level) is not None
        and user.has_perm("regions.add_regionnode"),
        "rename": active and user.has_perm("regions.change_regionnode"),
        "move": active
        and node.level == RegionLevel.GRID
        and user.has_perm("regions.change_regionnode"),
        "retire": active
        and node.code not in user.scope_codes()
        and user.has_perm("regions.retire_regionnode"),
        "export": user.has_perm("regions.export_regionnode"),
    }


def _service_error(request: HttpRequest, form: Any, exc: ServiceError) -> None:
    if isinstance(exc, NotFoundError):
        raise Http404(str(exc.message)) from exc
    if form is not None:
        form.add_error(None, str(exc.message))
    else:
        messages.error(request, str(exc.message))


@login_required
@require_GET
def tree(request: HttpRequest) -> HttpResponse:
    """The top of the user's scope with expandable children, or a flat search result."""
    _require(request, "view")
    user: Any = request.user
    search = RegionSearchForm(request.GET or None)
    context: dict[str, Any] = {
        "search": search,
        "can_export": user.has_perm("regions.export_regionnode"),
    }
    if (
        search.is_bound
        and search.is_valid()
        and (search.cleaned_data["q"] or search.cleaned_data["level"])
    ):
        rows = _visible(request).select_related("parent")
        q = search.cleaned_data["q"].strip()
        if q:
            rows = rows.filter(Q(name__icontains=q) | Q(code__startswith=q))
        if search.cleaned_data["level"]:
            rows = rows.filter(level=search.cleaned_data["level"])
        context["page"] = Paginator(rows.order_by("code"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        context["searching"] = True
    else:
        context["roots"] = _with_child_counts(_visible(request).filter(code__in=user.scope_codes()))
    return render(request, "regions/tree.html", context)


@login_required
@require_GET
def children(request: HttpRequest, code: str) -> HttpResponse:
    """The htmx fragment that expands one node of the tree."""
    node = _node(request, code)
    rows = _with_child_counts(_visible(request).filter(parent=node))
    if request.GET.get("retired") != "1":
        rows = rows.filter(retired_at__isnull=True)
    return render(request, "regions/_children.html", {"nodes": rows})


@login_required
@require_GET
def detail(request: HttpRequest, code: str) -> HttpResponse:
    user: Any = request.user
    node = _node(request, code)
    visible_codes = set(
        _visible(request).filter(code__in=node.ancestor_codes()).values_list("code", flat=True)
    )
    crumbs = [(a, a.code in visible_codes) for a in node.ancestors()]
    rows = _with_child_counts(_visible(request).filter(parent=node)).order_by("retired_at", "code")
    return render(
        request,
        "regions/detail.html",
        {
            "node": node,
            "crumbs": crumbs,
            "children": rows,
            "child_level": child_level(node.level),
            "actions": _actions(user, node),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def create_child(request: HttpRequest, code: str) -> HttpResponse:
    parent = _node(request, code, "add")
    level = child_level(parent.level)
    if level is None or not parent.is_active:
        messages.error(request, _("No region can be created under this one."))
        return redirect("regions:detail", code=parent.code)
    form = RegionCreateForm(request.POST or None, parent=parent)
    if request.method == "POST" and form.is_valid():
        try:
            node = services.create_region(
                request.user,
                parent=parent,
                name=form.cleaned_data["name"],
                code=form.cleaned_data["code"],
            )
        except ServiceError as exc:
            _service_error(request, form, exc)
        else:
            messages.success(request, _("Region %(name)s created.") % {"name": node.name})
            return redirect("regions:detail", code=node.code)
    return render(
        request,
        "regions/form.html",
        {
            "form": form,
            "node": parent,
            "title": _("New %(level)s under %(name)s")
            % {"level": RegionLevel(level).label, "name": parent.name},
            "submit": _("Create"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def rename(request: HttpRequest, code: str) -> HttpResponse:
    node = _node(request, code, "change")
    form = RegionRenameForm(request.POST or None, initial={"name": node.name})
    if request.method == "POST" and form.is_valid():
        try:
            node = services.rename_region(request.user, node, form.cleaned_data["name"])
        except ServiceError as exc:
            _service_error(request, form, exc)
        else:
            messages.success(request, _("Region renamed."))
            return redirect("regions:detail", code=node.code)
    return render(
        request,
        "regions/form.html",
        {
            "form": form,
            "node": node,
            "title": _("Rename %(name)s") % {"name": node.name},
            "submit": _("Save"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def move(request: HttpRequest, code: str) -> HttpResponse:
    grid = _node(request, code, "change")
    if grid.level != RegionLevel.GRID:
        messages.error(request, _("Only grids can be moved to another community."))
        return redirect("regions:detail", code=grid.code)
    form = GridMoveForm(request.POST or None, user=request.user, grid=grid)
    if request.method == "POST" and form.is_valid():
        try:
            grid = services.move_grid(request.user, grid, form.cleaned_data["community"])
        except ServiceError as exc:
            _service_error(request, form, exc)
        else:
            messages.success(
                request, _("Grid moved; its new code is %(code)s.") % {"code": grid.code}
            )
            return redirect("regions:detail", code=grid.code)
    return render(
        request,
        "regions/form.html",
        {
            "form": form,
            "node": grid,
            "title": _("Move %(name)s to another community") % {"name": grid.name},
            "submit": _("Move"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def retire(request: HttpRequest, code: str) -> HttpResponse:
    node = _node(request, code, "retire")
    if request.method == "POST":
        try:
            services.retire_region(request.user, node)
        except ServiceError as exc:
            _service_error(request, None, exc)
        else:
            messages.success(request, _("Region %(name)s retired.") % {"name": node.name})
        return redirect("regions:detail", code=node.code)
    return render(request, "regions/retire.html", {"node": node})


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """The visible subtree (of ``?root=code`` or of the whole scope) as an Excel workbook."""
    _require(request, "export")
    rows: Any = _visible(request, "export")
    root = None
    if request.GET.get("root"):
        root = get_object_or_404(rows, code=request.GET["root"])
        rows = rows.subtree(root.code)
    try:
        content = services.export_regions(request.user, rows, root=root)
    except ServiceError as exc:
        _service_error(request, None, exc)
        return redirect("regions:tree")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="regions-{root.code if root else "scope"}-{stamp}.xlsx"'
    )
    return response
