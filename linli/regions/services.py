"""Managing the region tree within scope: create, rename, move a grid, retire, load a slice."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.choices import CODE_LENGTH, LEVEL_BY_LENGTH, RegionLevel, child_level
from linli.regions.models import RegionNode
from linli.utilities.scope import code_in_scope
from linli.utilities.validators import CodeError, parse_region_code

DATA_DIR = Path(__file__).resolve().parent / "data"
_OFFICIAL_SUFFIXES = ("居民委员会", "村民委员会")


def _require(actor: Any, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


def _require_in_scope(actor: Any, node: RegionNode) -> None:
    if not code_in_scope(node.code, actor.scope_codes()):
        raise NotFoundError("region.not_found", _("The region does not exist."))


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise ServiceError("region.name", _("Enter a name of 1 to 100 characters."))
    return name


def next_child_code(parent: RegionNode) -> str:
    """The next free code under a parent (used for grids, which have no official code)."""
    level = child_level(parent.level)
    if level is None:
        raise ServiceError("region.leaf", _("Grids cannot have children."))
    width = CODE_LENGTH[level] - len(parent.code)
    taken = set(
        RegionNode.objects.filter(level=level, code__startswith=parent.code).values_list(
            "code", flat=True
        )
    )
    for number in range(1, 10**width):
        code = parent.code + str(number).zfill(width)
        if code not in taken:
            return code
    raise ServiceError("region.full", _("No free code is left under this region."))


@transaction.atomic
def create_region(
    actor: Any,
    *,
    parent: RegionNode,
    name: str,
    code: str = "",
    latitude: Any = None,
    longitude: Any = None,
) -> RegionNode:
    _require(actor, "regions.add_regionnode")
    _require_in_scope(actor, parent)
    if parent.retired_at is not None:
        raise ServiceError("region.retired", _("The region has been retired."))
    level = child_level(parent.level)
    if level is None:
        raise ServiceError("region.leaf", _("Grids cannot have children."))
    code = code.strip() or next_child_code(parent)
    try:
        info = parse_region_code(code)
    except CodeError as exc:
        raise ServiceError(
            "region.code", _("The region code is not valid: %(e)s") % {"e": exc.message}
        ) from exc
    if info.level != level or not code.startswith(parent.code):
        raise ServiceError(
            "region.code_parent",
            _("A %(level)s code must extend its parent's code %(parent)s.")
            % {"level": RegionLevel(level).label, "parent": parent.code},
        )
    if RegionNode.objects.filter(code=code).exists():
        raise ServiceError("region.code_taken", _("This region code is already in use."))
    node = RegionNode.objects.create(
        code=code,
        name=_clean_name(name),
        level=level,
        parent=parent,
        latitude=latitude,
        longitude=longitude,
    )
    audit.record(
        AuditAction.CREATE,
        node,
        actor=actor,
        changes={"code": [None, code], "name": [None, node.name], "parent": [None, parent.code]},
    )
    return node


@transaction.atomic
def rename_region(actor: Any, node: RegionNode, name: str) -> RegionNode:
    _require(actor, "regions.change_regionnode")
    _require_in_scope(actor, node)
    locked = RegionNode.objects.select_for_update().get(pk=node.pk)
    new_name = _clean_name(name)
    if new_name != locked.name:
        old = locked.name
        locked.name = new_name
        locked.save(update_fields=["name", "updated_at"])
        audit.record(AuditAction.UPDATE, locked, actor=actor, changes={"name": [old, new_name]})
    return locked


@transaction.atomic
def move_grid(actor: Any, grid: RegionNode, community: RegionNode) -> RegionNode:
    """Move a grid to another community; its code is reissued under the new community so the
    code stays the path. Records hang on the node by id, so none of them has to change."""
    _require(actor, "regions.change_regionnode")
    _require_in_scope(actor, grid)
    _require_in_scope(actor, community)
    if grid.level != RegionLevel.GRID:
        raise ServiceError("region.move_level", _("Only grids can be moved to another community."))
    if community.level != RegionLevel.COMMUNITY:
        raise ServiceError("region.move_target", _("A grid can only be moved to a community."))
    if community.retired_at is not None or grid.retired_at is not None:
        raise ServiceError("region.retired", _("The region has been retired."))
    locked = RegionNode.objects.select_for_update().get(pk=grid.pk)
    if locked.parent_id == community.pk:
        return locked
    old_code, old_parent = locked.code, locked.parent.code if locked.parent else ""
    locked.code = next_child_code(community)
    locked.parent = community
    locked.save(update_fields=["code", "parent", "updated_at"])
    audit.record(
        AuditAction.MOVE,
        locked,
        actor=actor,
        changes={"code": [old_code, locked.code], "parent": [old_parent, community.code]},
    )
    return locked


@transaction.atomic
def retire_region(actor: Any, node: RegionNode) -> RegionNode:
    """Retire a node with no active children; its records and history stay where they are."""
    _require(actor, "regions.retire_regionnode")
    _require_in_scope(actor, node)
    if node.code in actor.scope_codes():
        raise ServiceError(
            "region.retire_own", _("You cannot retire the region your own role is granted on.")
        )
    locked = RegionNode.objects.select_for_update().get(pk=node.pk)
    if locked.retired_at is not None:
        return locked
    if locked.children.filter(retired_at__isnull=True).exists():
        raise ServiceError(
            "region.has_children", _("Retire or move its active child regions first.")
        )
    locked.retired_at = timezone.now()
    locked.save(update_fields=["retired_at", "updated_at"])
    audit.record(AuditAction.RETIRE, locked, actor=actor)
    return locked


EXPORT_COLUMNS = (
    ("code", "Region code"),
    ("name", "Name"),
    ("level", "Level"),
    ("parent", "Parent code"),
    ("status", "Status"),
    ("created_at", "Created"),
    ("updated_at", "Updated"),
)


def export_rows(nodes: QuerySet[RegionNode]) -> list[list[Any]]:
    """The export's rows; the caller passes rows that already went through the gate."""
    rows: list[list[Any]] = []
    for node in nodes.select_related("parent").order_by("code"):
        rows.append(
            [
                node.code,
                node.name,
                str(RegionLevel(node.level).label),
                node.parent.code if node.parent else "",
                _("Active") if node.is_active else _("Retired"),
                timezone.localtime(node.created_at).strftime("%Y-%m-%d %H:%M"),
                timezone.localtime(node.updated_at).strftime("%Y-%m-%d %H:%M"),
            ]
        )
    return rows


@transaction.atomic
def export_regions(
    actor: Any, nodes: QuerySet[RegionNode], *, root: RegionNode | None = None
) -> bytes:
    """An Excel workbook of the given (already gated) rows; every export is audited."""
    from openpyxl import Workbook

    _require(actor, "regions.export_regionnode")
    if root is not None:
        _require_in_scope(actor, root)
    rows = export_rows(nodes)
    book = Workbook()
    sheet = book.active
    sheet.title = _("Regions")
    sheet.append([_(label) for _field, label in EXPORT_COLUMNS])
    for row in rows:
        sheet.append(row)
    for column, width in zip("ABCDEFG", (18, 24, 10, 18, 8, 18, 18), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    audit.record(
        AuditAction.EXPORT,
        root,
        actor=actor,
        object_type="regions.regionnode",
        object_repr=root.name if root else _("Regions in scope"),
        note=_("%(count)s regions exported") % {"count": len(rows)},
    )
    return buffer.getvalue()


def display_name(official: str) -> str:
    """锦源社区居民委员会 → 锦源社区: the statistical name minus the committee suffix."""
    for suffix in _OFFICIAL_SUFFIXES:
        if official.endswith(suffix) and len(official) > len(suffix):
            return official[: -len(suffix)]
    return official


@transaction.atomic
def load_slice(path: Path | None = None) -> tuple[int, int]:
    """Load a shipped region slice; idempotent (existing codes are left as they are)."""
    data = json.loads((path or DATA_DIR / "pingyin.json").read_text(encoding="utf-8"))
    nodes = sorted(data["nodes"], key=lambda n: (len(n["code"]), n["code"]))
    existing = dict(RegionNode.objects.values_list("code", "pk"))
    created = 0
    center = data.get("center")
    for item in nodes:
        code = item["code"]
        if code in existing:
            continue
        level = LEVEL_BY_LENGTH[len(code)]
        parent_code = next(
            (code[:n] for n in sorted(CODE_LENGTH.values(), reverse=True) if n < len(code)), None
        )
        node = RegionNode.objects.create(
            code=code,
            name=display_name(item["name"]),
            level=level,
            parent_id=existing.get(parent_code) if parent_code else None,
            latitude=center[0] if center and level == RegionLevel.COUNTY else None,
            longitude=center[1] if center and level == RegionLevel.COUNTY else None,
        )
        existing[code] = node.pk
        created += 1
    if created:
        audit.record(
            AuditAction.CREATE,
            object_type="regions.regionnode",
            object_repr=f"{created} regions loaded",
            note=str(path or "pingyin.json"),
        )
    return created, len(nodes)
