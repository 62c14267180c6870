"""Configuration of the event hub: the category tree, departments and their members, dispatch
rules and holidays.

Each function checks the permission and the place (a department or a rule lies in the actor's
area, a member is an account of the area), validates, saves with ``update_fields`` and writes
the audit entry in the same transaction. A refusal raises ``ServiceError`` before anything is
written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.events import calendar
from linli.events.choices import (
    OPEN_STATUSES,
    TIMED_STATUSES,
    CategoryKind,
    DepartmentKind,
    EventPriority,
    LimitUnit,
)
from linli.events.models import Department, DispatchRule, Event, EventCategory, Holiday
from linli.regions.models import RegionNode
from linli.utilities.scope import code_in_scope

# What a category may require of a report (``services._check_required`` reads the same codes).
REQUIRED_FIELD_CHOICES = [
    ("photo", gettext_lazy("a photo")),
    ("position", gettext_lazy("a position on the map")),
    ("house", gettext_lazy("the house")),
    ("phone", gettext_lazy("a contact phone")),
]
EXTRA_FIELD_TYPES = ("text", "number", "date", "choice", "bool")
EXTRA_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
CODE_RE = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
STAGE_MAX = 50
# Region levels a dispatch rule may name: county, subdistrict, community, grid.
RULE_CODE_LENGTHS = (6, 9, 12, 15)


def _require(actor: Any, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


def _region_in_scope(actor: Any, region: RegionNode | None) -> RegionNode:
    if region is None or region.retired_at is not None:
        raise ServiceError("region_missing", _("Choose the area."), field="region")
    if not code_in_scope(region.code, actor.scope_codes()):
        raise NotFoundError("not_found", _("The region does not exist or is outside your scope."))
    return region


def _changed(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set ``values`` on ``obj``; return {field: [old, new]} of those that differ."""
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        attname = obj._meta.get_field(name).attname
        old = getattr(obj, attname)
        new = getattr(value, "pk", value) if attname != name else value
        if old != new:
            changes[name] = [old, new]
            setattr(obj, name, value)
    return changes


def _update_fields(obj: Any, changes: dict[str, Any], *extra: str) -> list[str]:
    names = {obj._meta.get_field(name).name for name in changes} | set(extra)
    return sorted(names)


# ---------------------------------------------------------------- categories


def clean_limits(limits: dict[str, Any]) -> dict[str, float]:
    cleaned: dict[str, float] = {}
    for status, amount in limits.items():
        if status not in TIMED_STATUSES:
            raise ServiceError(
                "limit_state", _("Unknown state in the time limits."), field="limits"
            )
        if amount in (None, ""):
            continue
        try:
            number = float(amount)
        except (TypeError, ValueError) as exc:
            raise ServiceError(
                "limit_invalid", _("A time limit must be a number."), field="limits"
            ) from exc
        if not 0 < number <= 10_000:
            raise ServiceError(
                "limit_invalid",
                _("A time limit must be more than 0 and at most 10000."),
                field="limits",
            )
        cleaned[status] = int(number) if number.is_integer() else number
    return cleaned


def clean_extra_fields(specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The category's own fields, as ``services.clean_extra`` reads them."""
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, spec in enumerate(specs, start=1):
        key = str(spec.get("key", "")).strip()
        where = {"line": number}
        if not EXTRA_KEY_RE.match(key):
            raise ServiceError(
                "extra_key",
                _(
                    "Line %(line)s: the key must start with a letter and use only small "
                    "letters, digits and _."
                )
                % where,
                field="extra_fields",
            )
        if key in seen:
            raise ServiceError(
                "extra_key_twice",
                _("Line %(line)s: the key %(key)s is used twice.") % {**where, "key": key},
                field="extra_fields",
            )
        seen.add(key)
        label = str(spec.get("label", "")).strip() or key
        kind = str(spec.get("type", "text")).strip() or "text"
        if kind not in EXTRA_FIELD_TYPES:
            raise ServiceError(
                "extra_type",
                _("Line %(line)s: the type must be one of %(types)s.")
                % {**where, "types": ", ".join(EXTRA_FIELD_TYPES)},
                field="extra_fields",
            )
        entry: dict[str, Any] = {
            "key": key,
            "label": label[:50],
            "type": kind,
            "required": bool(spec.get("required")),
        }
        choices = [str(c).strip() for c in spec.get("choices") or [] if str(c).strip()]
        if kind == "choice":
            if not choices:
                raise ServiceError(
                    "extra_choices",
                    _("Line %(line)s: a choice field needs its choices.") % where,
                    field="extra_fields",
                )
            entry["choices"] = choices
        cleaned.append(entry)
    return cleaned


def clean_stages(stages: Iterable[str]) -> list[str]:
    cleaned = [str(stage).strip() for stage in stages if str(stage).strip()]
    if any(len(stage) > STAGE_MAX for stage in cleaned):
        raise ServiceError(
            "stage_long",
            _("A stage name has at most %(count)d characters.") % {"count": STAGE_MAX},
            field="stages",
        )
    if len(set(cleaned)) != len(cleaned):
        raise ServiceError("stage_twice", _("A stage is named twice."), field="stages")
    return cleaned


def _check_parent(category: EventCategory | None, parent: EventCategory | None) -> None:
    if parent is None or category is None or category.pk is None:
        return
    if parent.pk == category.pk or category in parent.lineage():
        raise ServiceError(
            "parent_cycle",
            _("A category cannot be placed under itself or one of its own sub-categories."),
            field="parent",
        )


def save_category(
    actor: Any,
    category: EventCategory | None = None,
    *,
    code: str,
    name: str,
    parent: EventCategory | None = None,
    kind: str = CategoryKind.GENERAL,
    description: str = "",
    default_department: Department | None = None,
    priority: str = EventPriority.NORMAL,
    limit_unit: str = LimitUnit.HOURS,
    limits: dict[str, Any] | None = None,
    auto_dispatch: bool = False,
    required_fields: Iterable[str] = (),
    extra_fields: Sequence[dict[str, Any]] = (),
    stages: Iterable[str] = (),
    sort_order: int = 0,
    is_active: bool = True,
) -> EventCategory:
    """Create a category (``category=None``) or change one. Categories are one tree for the
    whole installation, so only holders of ``events.change_eventcategory`` (the county) edit
    them."""
    _require(actor, "events.change_eventcategory")
    code, name = code.strip(), name.strip()
    if not name:
        raise ServiceError("name_missing", _("Give the name."), field="name")
    if not CODE_RE.match(code):
        raise ServiceError(
            "code_invalid",
            _("The code has 1 to 40 letters, digits, - or _."),
            field="code",
        )
    duplicate = EventCategory.objects.filter(code=code)
    if category is not None:
        duplicate = duplicate.exclude(pk=category.pk)
    if duplicate.exists():
        raise ServiceError("code_taken", _("Another category has this code."), field="code")
    _check_parent(category, parent)
    if kind not in CategoryKind.values:
        raise ServiceError("kind_invalid", _("Unknown kind."), field="kind")
    if priority not in EventPriority.values:
        raise ServiceError("priority_invalid", _("Unknown priority."), field="priority")
    if limit_unit not in LimitUnit.values:
        raise ServiceError("unit_invalid", _("Unknown time limit unit."), field="limit_unit")
    if default_department is not None and default_department.retired_at is not None:
        raise ServiceError(
            "department_retired",
            _("The department has been retired."),
            field="default_department",
        )
    required = sorted(set(required_fields))
    known = {value for value, _label in REQUIRED_FIELD_CHOICES}
    if not set(required) <= known:
        raise ServiceError(
            "required_invalid", _("Unknown required field."), field="required_fields"
        )
    values: dict[str, Any] = {
        "code": code,
        "name": name[:100],
        "parent": parent,
        "kind": kind,
        "description": description.strip(),
        "default_department": default_department,
        "priority": priority,
        "limit_unit": limit_unit,
        "limits": clean_limits(limits or {}),
        "auto_dispatch": bool(auto_dispatch),
        "required_fields": required,
        "extra_fields": clean_extra_fields(extra_fields),
        "stages": clean_stages(stages),
        "sort_order": max(0, int(sort_order)),
        "is_active": bool(is_active),
    }
    with transaction.atomic():
        if category is None:
            category = EventCategory.objects.create(**values)
            audit.record(AuditAction.CREATE, category, actor=actor, note="event category")
            return category
        category = EventCategory.objects.select_for_update().get(pk=category.pk)
        _check_parent(category, parent)
        changes = _changed(category, values)
        if changes:
            category.save(update_fields=_update_fields(category, changes))
            audit.record(
                AuditAction.UPDATE, category, actor=actor, changes=changes, note="event category"
            )
    return category


# ---------------------------------------------------------------- departments


def departments_for_change(actor: Any, action: str = "change") -> QuerySet[Department]:
    """The departments the actor may ``action`` (view, change, retire): the gate."""
    return Department.objects.visible_to(actor, action)  # type: ignore[no-any-return]


def _department(actor: Any, department: Department | int, action: str) -> Department:
    _require(actor, f"events.{action}_department")
    pk: Any = getattr(department, "pk", department)
    found = departments_for_change(actor, action).select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFoundError("not_found", _("The department does not exist."))
    return found


def _check_department_values(
    region: RegionNode, name: str, kind: str, exclude: int | None = None
) -> None:
    if not name:
        raise ServiceError("name_missing", _("Give the name."), field="name")
    if kind not in DepartmentKind.values:
        raise ServiceError("kind_invalid", _("Unknown kind."), field="kind")
    taken = Department.objects.filter(region=region, name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ServiceError(
            "name_taken", _("A department of this name already serves this area."), field="name"
        )


def create_department(
    actor: Any,
    *,
    region: RegionNode,
    name: str,
    kind: str = DepartmentKind.FUNCTIONAL,
    phone: str = "",
) -> Department:
    _require(actor, "events.add_department")
    region = _region_in_scope(actor, region)
    name = name.strip()[:100]
    _check_department_values(region, name, kind)
    with transaction.atomic():
        department = Department.objects.create(
            region=region, name=name, kind=kind, phone=phone.strip()[:30]
        )
        audit.record(AuditAction.CREATE, department, actor=actor, note="department")
    return department


def update_department(
    actor: Any, department: Department | int, *, name: str, kind: str, phone: str = ""
) -> Department:
    with transaction.atomic():
        found = _department(actor, department, "change")
        if found.retired_at is not None:
            raise ServiceError("retired", _("A retired department cannot be changed."))
        name = name.strip()[:100]
        _check_department_values(found.region, name, kind, exclude=found.pk)
        changes = _changed(found, {"name": name, "kind": kind, "phone": phone.strip()[:30]})
        if changes:
            found.save(update_fields=_update_fields(found, changes))
            audit.record(AuditAction.UPDATE, found, actor=actor, changes=changes, note="department")
    return found


def retire_department(actor: Any, department: Department | int) -> Department:
    """A department that still holds open events cannot go: they are transferred first."""
    with transaction.atomic():
        found = _department(actor, department, "retire")
        if found.retired_at is not None:
            raise ServiceError("retired", _("The department has already been retired."))
        open_events = Event.objects.filter(department=found, status__in=OPEN_STATUSES).count()
        if open_events:
            raise ServiceError(
                "department_busy",
                _(
                    "The department still has %(count)d open events; transfer them to another "
                    "department first."
                )
                % {"count": open_events},
            )
        found.retired_at = timezone.now()
        found.save(update_fields=["retired_at"])
        audit.record(AuditAction.RETIRE, found, actor=actor, note="department")
    return found


def member_candidates(actor: Any) -> QuerySet[Any]:
    """Accounts the actor may add to a department: active accounts of the actor's area whose
    roles let them handle events."""
    from linli.accounts.models import Role, RoleAssignment, User

    roles = [
        role.pk
        for role in Role.objects.active()
        if "events.handle_event" in (role.permissions or [])
    ]
    holders = RoleAssignment.objects.filter(role__in=roles).values("user_id")
    return (  # type: ignore[no-any-return]
        User.objects.within(actor.scope_codes())
        .active()
        .filter(pk__in=holders)
        .order_by("username")
    )


def add_member(actor: Any, department: Department | int, user: Any) -> Department:
    with transaction.atomic():
        found = _department(actor, department, "change")
        if found.retired_at is not None:
            raise ServiceError("retired", _("A retired department cannot be changed."))
        pk = getattr(user, "pk", user)
        person = member_candidates(actor).filter(pk=pk).first()
        if person is None:
            raise ServiceError(
                "member_invalid",
                _("Choose an account of your area that may handle events."),
                field="user",
            )
        if found.members.filter(pk=person.pk).exists():
            raise ServiceError(
                "member_exists",
                _("%(name)s is already a member.") % {"name": person},
                field="user",
            )
        found.members.add(person)
        audit.record(
            AuditAction.UPDATE,
            found,
            actor=actor,
            changes={"members": ["", str(person.pk)]},
            note="department member added",
        )
    return found


def remove_member(actor: Any, department: Department | int, user: Any) -> Department:
    with transaction.atomic():
        found = _department(actor, department, "change")
        pk = getattr(user, "pk", user)
        person = found.members.filter(pk=pk).first()
        if person is None:
            raise NotFoundError("not_found", _("That person is not a member of the department."))
        found.members.remove(person)
        audit.record(
            AuditAction.UPDATE,
            found,
            actor=actor,
            changes={"members": [str(person.pk), ""]},
            note="department member removed",
        )
    return found


# ---------------------------------------------------------------- dispatch rules


def departments_serving(region: RegionNode) -> QuerySet[Department]:
    """Active departments a rule for ``region`` may route to: those serving the area from
    above (county, subdistrict) or placed inside it."""
    code = region.code
    above = [code[:n] for n in (6, 9, 12, 15) if n <= len(code)]
    return (
        Department.objects.filter(retired_at__isnull=True)
        .filter(Q(region__code__in=above) | Q(region__code__startswith=code))
        .select_related("region")
        .order_by("region__code", "name")
    )


def _rule(actor: Any, rule: DispatchRule | int, action: str) -> DispatchRule:
    _require(actor, f"events.{action}_dispatchrule")
    pk = getattr(rule, "pk", rule)
    found = DispatchRule.objects.visible_to(actor, action).select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFoundError("not_found", _("The dispatch rule does not exist."))
    return found  # type: ignore[no-any-return]


def save_rule(
    actor: Any,
    rule: DispatchRule | int | None = None,
    *,
    region: RegionNode,
    category: EventCategory,
    department: Department,
) -> DispatchRule:
    """Create a rule (``rule=None``) or change one: a category's events in an area go to a
    department serving that area."""
    _require(actor, "events.add_dispatchrule" if rule is None else "events.change_dispatchrule")
    region = _region_in_scope(actor, region)
    if len(region.code) not in RULE_CODE_LENGTHS:
        raise ServiceError(
            "rule_region",
            _("A rule names a county, a subdistrict, a community or a grid."),
            field="region",
        )
    if category is None:
        raise ServiceError("category_missing", _("Choose the category."), field="category")
    if department is None or not departments_serving(region).filter(pk=department.pk).exists():
        raise ServiceError(
            "department_invalid",
            _("That department does not serve this place."),
            field="department",
        )
    with transaction.atomic():
        found = _rule(actor, rule, "change") if rule is not None else None
        taken = DispatchRule.objects.filter(region=region, category=category)
        if found is not None:
            taken = taken.exclude(pk=found.pk)
        if taken.exists():
            raise ServiceError(
                "rule_exists",
                _("This area already has a rule for this category; change that one."),
                field="category",
            )
        if found is None:
            created = DispatchRule.objects.create(
                region=region, category=category, department=department
            )
            audit.record(AuditAction.CREATE, created, actor=actor, note="dispatch rule")
            return created
        changes = _changed(
            found, {"region": region, "category": category, "department": department}
        )
        if changes:
            found.save(update_fields=_update_fields(found, changes))
            audit.record(
                AuditAction.UPDATE, found, actor=actor, changes=changes, note="dispatch rule"
            )
    return found


def delete_rule(actor: Any, rule: DispatchRule | int) -> None:
    with transaction.atomic():
        found = _rule(actor, rule, "retire")
        audit.record(
            AuditAction.RETIRE,
            found,
            actor=actor,
            changes={
                "region": [found.region.code, ""],
                "category": [str(found.category_id), ""],
                "department": [str(found.department_id), ""],
            },
            note="dispatch rule removed",
        )
        found.delete()


# ---------------------------------------------------------------- holidays


def save_holiday(
    actor: Any,
    holiday: Holiday | int | None = None,
    *,
    day: date,
    is_workday: bool,
    name: str = "",
) -> Holiday:
    """A public holiday or a worked weekend day (调休上班); time limits in working days are
    counted again from the new calendar."""
    _require(actor, "events.change_eventcategory")
    if day is None:
        raise ServiceError("date_missing", _("Give the date."), field="date")
    values = {"date": day, "is_workday": bool(is_workday), "name": name.strip()[:50]}
    with transaction.atomic():
        taken = Holiday.objects.filter(date=day)
        found: Holiday | None = None
        if holiday is not None:
            found = (
                Holiday.objects.select_for_update()
                .filter(pk=getattr(holiday, "pk", holiday))
                .first()
            )
            if found is None:
                raise NotFoundError("not_found", _("The holiday does not exist."))
            taken = taken.exclude(pk=found.pk)
        if taken.exists():
            raise ServiceError(
                "date_taken", _("This date is already in the calendar."), field="date"
            )
        if found is None:
            found = Holiday.objects.create(**values)
            audit.record(AuditAction.CREATE, found, actor=actor, note="holiday")
        else:
            changes = _changed(found, values)
            if changes:
                found.save(update_fields=_update_fields(found, changes))
                audit.record(
                    AuditAction.UPDATE, found, actor=actor, changes=changes, note="holiday"
                )
        transaction.on_commit(calendar.holidays_changed)
    calendar.holidays_changed()
    return found


def delete_holiday(actor: Any, holiday: Holiday | int) -> None:
    _require(actor, "events.change_eventcategory")
    with transaction.atomic():
        found = (
            Holiday.objects.select_for_update().filter(pk=getattr(holiday, "pk", holiday)).first()
        )
        if found is None:
            raise NotFoundError("not_found", _("The holiday does not exist."))
        audit.record(
            AuditAction.RETIRE,
            found,
            actor=actor,
            changes={"date": [found.date.isoformat(), ""]},
            note="holiday removed",
        )
        found.delete()
        transaction.on_commit(calendar.holidays_changed)
    calendar.holidays_changed()
