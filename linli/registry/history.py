"""A register record's history as a community worker reads it.

The audit entries keep what changed in the form the services wrote it: attribute names
(``house_id``), choice codes (``owner_occupied``), record numbers and ISO dates. This module turns
them into field names, choice labels, the related record's name (looked up through the gate, in
one query per related model for the whole page), 是/否 and dates; it leaves out the bookkeeping
(timestamps, blind indexes, the "use set by hand" flag, which is shown with the use) and keeps
personal values masked whatever the entry holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.audit.models import AuditEntry
from linli.audit.services import MASKED
from linli.regions.models import RegionNode
from linli.registry.models import Building, House, Household, Person, Tag, Unit
from linli.registry.services import REGISTERED_ELSEWHERE_NOTE
from linli.utilities.fields import BlindIndexField, personal_field_names
from linli.utilities.masking import mask_name

HISTORY_SIZE = 50
EMPTY = "—"
# Written on every save or only the key: nothing a reader needs.
_BOOKKEEPING = {"id", "created_at", "updated_at"}
# Personal values the model does not mark as personal, masked as the detail page masks them
# (the contact person's name; the birth date, which the masked ID number hides too).
_ALSO_MASKED: dict[str, Callable[[str], str]] = {
    "contact_name": mask_name,
    "birth_date": lambda value: MASKED,
}
# Related records that have a detail page of their own: model name → URL name.
_DETAIL_PAGES = {
    name: f"registry:{name}_detail"
    for name in (
        "organisation",
        "compound",
        "building",
        "unit",
        "house",
        "household",
        "person",
        "residence",
        "vehicle",
        "rental",
    )
}
# How a related record is named; the rest use str().
_NAMES: dict[type[models.Model], Callable[[Any], str]] = {
    House: lambda house: house.address,
    Person: lambda person: mask_name(person.name),
    Household: lambda household: household.number,
    RegionNode: lambda node: node.name,
}
_RELATED: dict[type[models.Model], tuple[str, ...]] = {
    Building: ("compound",),
    Unit: ("building__compound",),
}
# The fixed notes the services write, as readers see them.
_NOTES = {
    "use follows residences": gettext_lazy("the use follows the residences"),
    "closed by a new primary residence": gettext_lazy("closed by a new primary residence"),
    "standard address": gettext_lazy("standard address updated"),
    "bulk tagging": gettext_lazy("bulk tagging"),
    "default tags": gettext_lazy("default tags"),
}

Cell = dict[str, Any]


def _cell(text: Any, url: str | None = None) -> Cell:
    return {"text": text, "url": url}


def _pair(values: Any) -> tuple[Any, Any]:
    if isinstance(values, list | tuple):
        padded = [*values, None, None]
        return padded[0], padded[1]
    return None, values


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _ids(value: Any) -> list[int]:
    """Record numbers in a change value: "42", 42 or "3,5" (the tenants of a rental)."""
    if _empty(value) or isinstance(value, bool):
        return []
    return [int(part) for part in str(value).split(",") if part.strip().isdigit()]


class _Fields:
    """A model's fields by every key an audit entry may use (name or attribute name)."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.by_key: dict[str, Any] = {}
        self.position: dict[str, int] = {}
        for position, field in enumerate(model._meta.get_fields()):
            if field.concrete or field.many_to_many:
                for key in (field.name, getattr(field, "attname", field.name)):
                    self.by_key[key] = field
                    self.position[key] = position
        self.personal = personal_field_names(model)

    def order(self, key: str) -> tuple[int, str]:
        """Changes are listed in the order of the form (the model's fields), the rest after."""
        return self.position.get(key, len(self.position)), key

    def get(self, key: str) -> Any:
        return self.by_key.get(key)

    def hidden(self, key: str) -> bool:
        field = self.get(key)
        return (
            key in _BOOKKEEPING
            or key == "use_is_explicit"
            or isinstance(field, BlindIndexField)
            or (field is None and key.endswith("_index"))
        )

    def related(self, key: str) -> type[models.Model] | None:
        field = self.get(key)
        if field is not None and (field.many_to_one or field.many_to_many):
            return field.related_model  # type: ignore[no-any-return]
        return None

    def label(self, key: str) -> str:
        if key == "tags":
            return _("Tags")
        field = self.get(key)
        return str(getattr(field, "verbose_name", key)) if field is not None else key


class _References:
    """The related records named in a page of entries, loaded through the gate in one query
    per model. A record the reader may not see, or that no longer exists, shows as "#42"."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.wanted: dict[type[models.Model], set[int]] = defaultdict(set)
        self.tag_codes: set[str] = set()
        self.found: dict[type[models.Model], dict[int, Cell]] = {}
        self.tags: dict[str, str] = {}

    def want(self, model: type[models.Model], values: Iterable[Any]) -> None:
        for value in values:
            self.wanted[model].update(_ids(value))

    def load(self) -> None:
        for model, ids in self.wanted.items():
            manager: Any = model._default_manager
            if not ids or not hasattr(manager, "visible_to"):
                self.found[model] = {}
                continue
            rows = manager.visible_to(self.user).filter(pk__in=ids)
            if model in _RELATED:
                rows = rows.select_related(*_RELATED[model])
            name = _NAMES.get(model, str)
            page = _DETAIL_PAGES.get(model._meta.model_name or "")
            self.found[model] = {
                obj.pk: _cell(name(obj), reverse(page, args=[obj.pk]) if page else None)
                for obj in rows
            }
        if self.tag_codes:
            self.tags = dict(
                Tag.objects.filter(code__in=self.tag_codes).values_list("code", "name")
            )

    def cell(self, model: type[models.Model], value: Any) -> Cell:
        ids = _ids(value)
        if not ids:
            return _cell(EMPTY if _empty(value) else str(value))
        cells = [self.found.get(model, {}).get(pk) or _cell(f"#{pk}") for pk in ids]
        if len(cells) == 1:
            return cells[0]
        return _cell("、".join(str(c["text"]) for c in cells))

    def tag(self, code: Any) -> Cell:
        if _empty(code):
            return _cell(EMPTY)
        return _cell(self.tags.get(str(code), str(code)))


def _yes_no(value: Any) -> str:
    if isinstance(value, str):
        value = value.strip().lower() in ("true", "1", "yes")
    return _("Yes") if value else _("No")


def _when(field: Any, value: Any) -> str | None:
    """A date or time in the form the pages use, or None when the field holds neither."""
    if isinstance(field, models.DateTimeField):
        moment = value if isinstance(value, datetime) else parse_datetime(str(value))
        if moment is None:
            return None
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return moment.strftime("%Y-%m-%d %H:%M")
    if isinstance(field, models.DateField):
        day = value if isinstance(value, date) else parse_date(str(value)[:10])
        return day.isoformat() if day is not None else None
    return None


def _value(fields: _Fields, references: _References, key: str, value: Any) -> Cell:
    if _empty(value):
        return _cell(EMPTY)
    if key in fields.personal or key.removesuffix("_index") in fields.personal:
        return _cell(MASKED)
    if key in _ALSO_MASKED:
        return _cell(_ALSO_MASKED[key](str(value)))
    if key == "tags":
        return references.tag(value)
    related = fields.related(key)
    if related is not None:
        return references.cell(related, value)
    field = fields.get(key)
    if field is None:
        return _cell(str(value))
    if field.choices:
        return _cell(str(dict(field.flatchoices).get(value, value)))
    if isinstance(field, models.BooleanField):
        return _cell(_yes_no(value))
    when = _when(field, value)
    return _cell(when if when is not None else str(value))


def _is_masked(fields: _Fields, key: str) -> bool:
    return (
        key in fields.personal or key.removesuffix("_index") in fields.personal
    ) or key in _ALSO_MASKED


def _use_note(explicit: tuple[Any, Any] | None, cell: Cell, new: bool) -> Cell:
    """The house's use, with "set by hand" when a worker fixed it (the flag has no row)."""
    if explicit is None or bool(explicit[0]) == bool(explicit[1]):
        return cell
    by_hand = bool(explicit[1] if new else explicit[0])
    if not by_hand:
        return cell
    return _cell(f"{cell['text']} · {_('set by hand')}" if cell["text"] != EMPTY else cell["text"])


def _note(fields: _Fields, entry: AuditEntry) -> str:
    note = entry.note or ""
    if note in _NOTES:
        return str(_NOTES[note])
    if note == REGISTERED_ELSEWHERE_NOTE:
        return _("refused: this ID number was entered by a worker outside this area")
    if note.startswith(REGISTERED_ELSEWHERE_NOTE + ":"):
        return _("refused in an Excel import: ID numbers registered outside the importer's area")
    if note.startswith("import job ") and note[11:].isdigit():
        return _("Excel import No. %(number)s") % {"number": note[11:]}
    if entry.action == "reveal" and fields.get(note) is not None:
        return fields.label(note)
    return note


def record_history(user: Any, obj: models.Model, limit: int = HISTORY_SIZE) -> list[dict[str, Any]]:
    """The record's audit entries, newest first, readable: [{entry, note, changes}] where each
    change is (field label, old cell, new cell) and a cell is {text, url}."""
    fields = _Fields(type(obj))
    entries = list(AuditEntry.objects.for_object(obj).order_by("-seq")[:limit])
    references = _References(user)
    pairs: list[list[tuple[str, Any, Any]]] = []
    for entry in entries:
        changes = entry.changes if isinstance(entry.changes, dict) else {}
        shown = []
        for key in sorted(changes, key=fields.order):
            old, new = _pair(changes[key])
            explicit = key == "use_is_explicit" and "use" not in changes
            if fields.hidden(key) and not explicit:
                continue
            if key == "tags":
                references.tag_codes.update(str(v) for v in (old, new) if not _empty(v))
            elif (related := fields.related(key)) is not None:
                references.want(related, (old, new))
            shown.append((key, old, new))
        pairs.append(shown)
    references.load()
    rows = []
    for entry, shown in zip(entries, pairs, strict=True):
        changes = entry.changes if isinstance(entry.changes, dict) else {}
        flag = changes.get("use_is_explicit")
        explicit = _pair(flag) if flag is not None else None
        rendered = []
        for key, old, new in shown:
            if key == "use_is_explicit":
                # Only the flag changed (the use stayed): say how the use is now decided.
                by_hand, follows = _("set by hand"), _("Follow the residences")
                rendered.append(
                    (
                        fields.label("use"),
                        _cell(by_hand if old else follows),
                        _cell(by_hand if new else follows),
                    )
                )
                continue
            old_cell = _value(fields, references, key, old)
            new_cell = _value(fields, references, key, new)
            if key == "use":
                old_cell = _use_note(explicit, old_cell, new=False)
                new_cell = _use_note(explicit, new_cell, new=True)
            if old_cell["text"] == new_cell["text"]:
                if _is_masked(fields, key):
                    # The audit keeps personal values masked on both sides: the change itself
                    # must still show (which fields changed, never their values).
                    new_cell = _cell(_("changed (masked)"))
                else:
                    continue  # e.g. None → "" on a new record: nothing a reader could see
            rendered.append((fields.label(key), old_cell, new_cell))
        rows.append(
            {
                "entry": entry,
                "note": _note(fields, entry),
                "changes": rendered,
                # A new record lists its values, without "— →" before each.
                "created": entry.action == "create",
            }
        )
    return rows
