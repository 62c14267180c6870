"""The shipped category tree (``data/default_categories.yaml``) and its loader.

``load_default_categories`` creates the categories whose codes are missing and never touches a
category that exists: a county renames, re-routes and re-times its categories as it likes, and
loading again (a new release adding codes) only adds. The data migration
``0003_default_categories`` runs it with the historical model, so every installation starts with
the tree; it is strict about the file, so a typo in a release fails its tests rather than a
county's migration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from linli.events.choices import TIMED_STATUSES, CategoryKind, EventPriority, LimitUnit

DATA_FILE = Path(__file__).resolve().parent / "data" / "default_categories.yaml"
CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_MAX_LENGTH = 40
REQUIRED_FIELDS = frozenset({"photo", "position", "house", "phone"})
EXTRA_FIELD_TYPES = frozenset({"text", "number", "date", "choice", "bool"})
_NODE_KEYS = frozenset(
    {
        "code",
        "name",
        "description",
        "kind",
        "priority",
        "auto_dispatch",
        "limit_unit",
        "limits",
        "required_fields",
        "extra_fields",
        "stages",
        "children",
    }
)
_EXTRA_KEYS = frozenset({"key", "label", "type", "required", "choices"})


class DefaultCategoriesError(ValueError):
    """The data file is not a valid category tree (a release defect, not a user error)."""


@dataclass(frozen=True)
class CategorySpec:
    """One category as the file describes it, with what a child takes from its parent
    (kind, priority, automatic dispatch, the unit of its limits) already resolved. Limits,
    required fields, extra fields and stages stay empty on a child that does not set them,
    so it follows its parent's at run time (``EventCategory.effective``)."""

    code: str
    name: str
    parent: str | None
    sort_order: int
    kind: str = CategoryKind.GENERAL
    priority: str = EventPriority.NORMAL
    auto_dispatch: bool = False
    limit_unit: str = LimitUnit.HOURS
    description: str = ""
    limits: dict[str, float] = field(default_factory=dict)
    required_fields: list[str] = field(default_factory=list)
    extra_fields: list[dict[str, Any]] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)


def read_default_categories(path: Path | None = None) -> list[CategorySpec]:
    """The tree in the file, parents before their children; raises on anything invalid."""
    try:
        data = yaml.safe_load((path or DATA_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefaultCategoriesError(f"cannot read the category file: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise DefaultCategoriesError("the file needs a list under 'categories'")
    specs: list[CategorySpec] = []
    _read_level(data["categories"], None, specs)
    return specs


def _read_level(nodes: list[Any], parent: CategorySpec | None, out: list[CategorySpec]) -> None:
    for position, node in enumerate(nodes, start=1):
        spec = _read_node(node, parent, position * 10, {s.code for s in out})
        out.append(spec)
        children = node.get("children") or []
        if not isinstance(children, list):
            raise DefaultCategoriesError(f"{spec.code}: 'children' must be a list")
        _read_level(children, spec, out)


def _read_node(
    node: Any, parent: CategorySpec | None, sort_order: int, seen: set[str]
) -> CategorySpec:
    if not isinstance(node, dict):
        raise DefaultCategoriesError(f"a category must be a mapping, not {node!r}")
    code = str(node.get("code") or "")
    where = code or repr(node)
    unknown = sorted(set(node) - _NODE_KEYS)
    if unknown:
        raise DefaultCategoriesError(f"{where}: unknown keys {', '.join(unknown)}")
    if not CODE.match(code) or len(code) > CODE_MAX_LENGTH:
        raise DefaultCategoriesError(f"{where}: a code is lower-case letters, digits and dashes")
    if code in seen:
        raise DefaultCategoriesError(f"{code}: the code is used twice")
    name = str(node.get("name") or "").strip()
    if not name or len(name) > 100:
        raise DefaultCategoriesError(f"{code}: a name of 1 to 100 characters is needed")

    def inherited(key: str, allowed: Any, default: Any) -> Any:
        value = node.get(key, getattr(parent, key) if parent else default)
        if value not in allowed:
            raise DefaultCategoriesError(f"{code}: {key} {value!r} is not one of {allowed}")
        return value

    kind = inherited("kind", list(CategoryKind.values), CategoryKind.GENERAL)
    priority = inherited("priority", list(EventPriority.values), EventPriority.NORMAL)
    auto_dispatch = inherited("auto_dispatch", [True, False], False)
    limit_unit = inherited("limit_unit", list(LimitUnit.values), LimitUnit.HOURS)
    return CategorySpec(
        code=code,
        name=name,
        parent=parent.code if parent else None,
        sort_order=sort_order,
        kind=kind,
        priority=priority,
        auto_dispatch=bool(auto_dispatch),
        limit_unit=limit_unit,
        description=str(node.get("description") or "").strip(),
        limits=_limits(code, node.get("limits") or {}),
        required_fields=_required(code, node.get("required_fields") or []),
        extra_fields=_extra_fields(code, node.get("extra_fields") or []),
        stages=_stages(code, node.get("stages") or []),
    )


def _limits(code: str, limits: Any) -> dict[str, float]:
    if not isinstance(limits, dict):
        raise DefaultCategoriesError(f"{code}: limits must be a mapping of state to amount")
    cleaned: dict[str, float] = {}
    for state, amount in limits.items():
        if state not in TIMED_STATUSES:
            raise DefaultCategoriesError(f"{code}: {state!r} is not a state with a time limit")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            raise DefaultCategoriesError(f"{code}: the limit of {state} must be a positive number")
        cleaned[str(state)] = float(amount) if isinstance(amount, float) else int(amount)
    return cleaned


def _required(code: str, names: Any) -> list[str]:
    if not isinstance(names, list) or not set(names) <= REQUIRED_FIELDS:
        raise DefaultCategoriesError(
            f"{code}: required_fields are among {', '.join(sorted(REQUIRED_FIELDS))}"
        )
    return [str(name) for name in names]


def _extra_fields(code: str, specs: Any) -> list[dict[str, Any]]:
    if not isinstance(specs, list):
        raise DefaultCategoriesError(f"{code}: extra_fields must be a list")
    keys: set[str] = set()
    cleaned = []
    for spec in specs:
        if not isinstance(spec, dict) or set(spec) - _EXTRA_KEYS:
            raise DefaultCategoriesError(f"{code}: an extra field has unknown keys: {spec!r}")
        key = str(spec.get("key") or "")
        if not re.match(r"^[a-z][a-z0-9_]*$", key) or key in keys:
            raise DefaultCategoriesError(f"{code}: extra field key {key!r} is invalid or repeated")
        keys.add(key)
        kind = spec.get("type", "text")
        if kind not in EXTRA_FIELD_TYPES:
            raise DefaultCategoriesError(f"{code}.{key}: unknown type {kind!r}")
        if not str(spec.get("label") or "").strip():
            raise DefaultCategoriesError(f"{code}.{key}: a label is needed")
        item: dict[str, Any] = {
            "key": key,
            "label": str(spec["label"]).strip(),
            "type": kind,
            "required": bool(spec.get("required", False)),
        }
        if kind == "choice":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices or len(set(choices)) != len(choices):
                raise DefaultCategoriesError(f"{code}.{key}: a choice needs distinct choices")
            item["choices"] = [str(choice) for choice in choices]
        elif "choices" in spec:
            raise DefaultCategoriesError(f"{code}.{key}: only a choice field has choices")
        cleaned.append(item)
    return cleaned


def _stages(code: str, stages: Any) -> list[str]:
    if not isinstance(stages, list) or not all(isinstance(s, str) and s.strip() for s in stages):
        raise DefaultCategoriesError(f"{code}: stages must be a list of names")
    if len(set(stages)) != len(stages) or any(len(s) > 50 for s in stages):
        raise DefaultCategoriesError(f"{code}: stage names are distinct, 50 characters at most")
    return [s.strip() for s in stages]


def load_default_categories(
    model: Any = None, *, path: Path | None = None, record: bool = True
) -> int:
    """Create the shipped categories whose codes do not exist yet; returns how many.

    ``model`` is the category model to write (the data migration passes its historical one);
    ``record`` writes one audit entry per created category (off in the migration, which runs
    before the audit chain may be used).
    """
    if model is None:
        from linli.events.models import EventCategory

        model = EventCategory
    specs = read_default_categories(path)
    manager = model._default_manager
    existing = {row["code"]: row["pk"] for row in manager.values("code", "pk")}
    columns = {f.name for f in model._meta.get_fields()}
    created = []
    for spec in specs:
        if spec.code in existing:
            continue
        parent_id = existing.get(spec.parent) if spec.parent else None
        if spec.parent and parent_id is None:
            continue  # its parent was skipped in turn: nothing to hang it on
        values = {
            "code": spec.code,
            "name": spec.name,
            "parent_id": parent_id,
            "kind": spec.kind,
            "description": spec.description,
            "priority": spec.priority,
            "limit_unit": spec.limit_unit,
            "limits": spec.limits,
            "auto_dispatch": spec.auto_dispatch,
            "required_fields": spec.required_fields,
            "extra_fields": spec.extra_fields,
            "stages": spec.stages,
            "sort_order": spec.sort_order,
        }
        # A later release may load into an older schema (the migration's model): set only
        # the fields that model has.
        obj = manager.create(
            **{k: v for k, v in values.items() if k.removesuffix("_id") in columns}
        )
        existing[spec.code] = obj.pk
        created.append(obj)
    if record and created:
        from linli.audit import services as audit
        from linli.audit.choices import AuditAction

        audit.record_many(
            AuditAction.CREATE,
            [(obj, {"code": [None, obj.code]}) for obj in created],
            note="default event categories",
        )
    return len(created)
