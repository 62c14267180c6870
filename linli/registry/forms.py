"""Forms of the register's pages. They only parse input; ``linli.registry.services`` holds the
rules. Every reference (a region, a compound, a house, a person) is looked up through the
access gate, so a tampered id outside the actor's scope is an invalid choice and nothing is
written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db import models
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from linli.accounts.forms import RegionCodeField
from linli.accounts.models import User
from linli.registry.choices import (
    CompoundKind,
    Education,
    Employment,
    HeadRelation,
    HouseUse,
    OrganisationKind,
    PoliticalStatus,
    RegistrationType,
    RentalChannel,
    RentalMode,
    ResidenceRelation,
)
from linli.registry.filters import (
    PICK_LIMIT,
    house_matches,
    is_exact_person_query,
    person_matches,
)
from linli.registry.models import (
    Building,
    Compound,
    House,
    Organisation,
    Person,
    Tag,
    TagCategory,
    Unit,
)
from linli.utilities.masking import mask_name

OUT_OF_SCOPE = _("The record does not exist or is outside your scope.")


class RecordField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A reference to a record the actor may see, typed as its record number.

    Large registers (houses, people) are never rendered as a select; ``select=True`` is for the
    short lists (compounds, property companies).
    """

    default_error_messages = {"invalid_choice": OUT_OF_SCOPE}

    def __init__(self, model: type[models.Model], actor: User, select: bool = False, **kwargs: Any):
        queryset = model._default_manager.visible_to(actor).active()  # type: ignore[attr-defined]
        widget = None if select else forms.TextInput(attrs={"inputmode": "numeric"})
        if widget is not None:
            kwargs["widget"] = widget
        super().__init__(queryset=queryset, **kwargs)


# ---------------------------------------------------------------- record pickers


def house_label(house: House) -> str:
    return house.address


def person_label(person: Person) -> str:
    """张* · ID …1234 · 66 years: enough to tell people apart, nothing more."""
    parts = [mask_name(person.name)]
    if person.id_number:
        parts.append(gettext("ID …%(tail)s") % {"tail": person.id_number[-4:]})
    age = person.age(timezone.localdate())
    if age is not None:
        parts.append(gettext("%(age)s years") % {"age": age})
    return " · ".join(parts)


@dataclass(frozen=True)
class Picker:
    """How one kind of record is searched and shown in a picker. People are searched by POST:
    the query may be an ID number or a phone, which must never land in a URL or a log."""

    model: type[models.Model]
    url: Any
    method: str
    search: Callable[[Any, str], Any]
    label: Callable[[Any], str]
    placeholder: Any
    # Whether a typed text names exactly the one record the search found (no tick needed).
    names_exactly: Callable[[Any, str], bool]


PICKERS = {
    "houses": Picker(
        House,
        reverse_lazy("registry:pick_houses"),
        "get",
        house_matches,
        house_label,
        _("Type part of the address, e.g. 锦源 1单元 101"),
        lambda house, query: query.strip() in (house.address, house.address_code),
    ),
    "people": Picker(
        Person,
        reverse_lazy("registry:pick_people"),
        "post",
        person_matches,
        person_label,
        _("Type part of the name, or the full ID number or mobile phone"),
        lambda person, query: is_exact_person_query(query),
    ),
}


@dataclass(frozen=True)
class PickValue:
    """What a picker submits: the record number of the ticked match (if any) and the text
    typed in its search box (a browser without JavaScript sends only the text)."""

    pk: str
    query: str


class _SearchWidget(forms.Widget):
    """A search box of a picker (``registry/_picker.html``); ``queryset`` is the field's, so
    the picks shown come through the gate too."""

    template_name = "registry/_picker.html"

    def __init__(self, picker: Picker, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.picker = picker
        self.queryset: Any = picker.model._default_manager.none()

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and f"{name}_q" not in data

    def format_value(self, value: Any) -> Any:
        return value


class RecordPicker(_SearchWidget):
    """A search box with the matches as radio buttons under it.

    With htmx, typing fetches the matches (``registry:pick_houses`` / ``pick_people``) into the
    box; without JavaScript the form is submitted with the text, and the field either finds
    exactly that record (a full standard address, ID number or phone) or comes back with the
    matches to tick.
    """

    def value_from_datadict(self, data: Any, files: Any, name: str) -> PickValue | None:
        pk = data.get(name)
        query = data.get(f"{name}_q")
        if pk is None and query is None:
            return None
        return PickValue(str(pk or "").strip(), str(query or "").strip())

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        pk, query = "", ""
        if isinstance(value, PickValue):
            pk, query = value.pk, value.query
        elif value not in (None, ""):
            pk = str(getattr(value, "pk", value))
        selected = None
        if pk.isdigit():
            found = self.queryset.filter(pk=int(pk)).first()
            if found is not None:
                selected = {"pk": found.pk, "label": self.picker.label(found)}
        matches: list[dict[str, Any]] = []
        more = False
        if selected is None and query:
            rows = list(self.picker.search(self.queryset, query)[: PICK_LIMIT + 1])
            more = len(rows) > PICK_LIMIT
            matches = [{"pk": r.pk, "label": self.picker.label(r)} for r in rows[:PICK_LIMIT]]
        context["widget"].update(
            {
                "selected": selected,
                "query": query,
                "matches": matches,
                "more": more,
                "limit": PICK_LIMIT,
                "url": str(self.picker.url),
                "method": self.picker.method,
                "placeholder": self.picker.placeholder,
                "optional": not self.is_required,
            }
        )
        return context


class RecordPickField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A reference to a house or a person chosen with a ``RecordPicker``, looked up through
    the gate: a tampered record number outside the scope is an invalid choice."""

    default_error_messages = {
        "invalid_choice": OUT_OF_SCOPE,
        "no_match": _("Nothing in your scope matches what you typed."),
        "choose": _("Tick the right record among the matches below."),
    }

    def __init__(self, kind: str, actor: User, **kwargs: Any) -> None:
        self.picker = PICKERS[kind]
        queryset = self.picker.model._default_manager.visible_to(actor).active()  # type: ignore[attr-defined]
        kwargs.setdefault(
            "help_text", _("Type to search within your scope, then tick the right one.")
        )
        super().__init__(queryset=queryset, widget=RecordPicker(self.picker), **kwargs)
        self._sync_widget()

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        result = super().__deepcopy__(memo)
        result._sync_widget()
        return result

    def _sync_widget(self) -> None:
        widget: RecordPicker = self.widget  # type: ignore[assignment]
        widget.queryset = self.queryset

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, PickValue):
            return value
        return super().prepare_value(value)

    def to_python(self, value: Any) -> Any:
        if not isinstance(value, PickValue):
            return super().to_python(value)
        if value.pk:
            if not value.pk.isdigit():
                raise forms.ValidationError(self.error_messages["invalid_choice"], "invalid_choice")
            return super().to_python(value.pk)
        if not value.query:
            return None
        rows = list(self.picker.search(self.queryset, value.query)[:2])
        if not rows:
            raise forms.ValidationError(self.error_messages["no_match"], "no_match")
        if len(rows) == 1 and self.picker.names_exactly(rows[0], value.query):
            return rows[0]
        # A part of an address or a name is only accepted through a tick: names repeat.
        raise forms.ValidationError(self.error_messages["choose"], "choose")

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        before = str(getattr(initial, "pk", initial) or "")
        if isinstance(data, PickValue):
            if not data.pk and data.query:
                return True
            return before != data.pk
        return before != str(data or "")


@dataclass(frozen=True)
class MultiPickValue:
    """What a picker of several records submits: the ticked record numbers and the text typed
    in its search box."""

    pks: tuple[str, ...]
    query: str


class RecordMultiPicker(_SearchWidget):
    """A search box with check boxes: the records already chosen (ticked) and the matches of
    the search. With htmx the search re-renders both, the ticked ones kept; without
    JavaScript the form comes back with the matches to tick, the earlier ticks kept."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> MultiPickValue | None:
        pks = data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []
        if isinstance(pks, str):
            pks = [pks]
        query = data.get(f"{name}_q")
        if not pks and query is None:
            return None
        return MultiPickValue(
            tuple(str(pk).strip() for pk in pks if str(pk).strip()), str(query or "").strip()
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        pks: list[str] = []
        query = ""
        if isinstance(value, MultiPickValue):
            pks, query = list(value.pks), value.query
        elif isinstance(value, list | tuple):
            pks = [str(getattr(item, "pk", item)) for item in value]
        ids = [int(pk) for pk in pks if pk.isdigit() and len(pk) <= 18]
        chosen = list(self.queryset.filter(pk__in=ids)) if ids else []
        chosen.sort(key=lambda row: ids.index(row.pk))
        matches: list[dict[str, Any]] = []
        more = False
        if query:
            rows = list(
                self.picker.search(self.queryset.exclude(pk__in=ids), query)[: PICK_LIMIT + 1]
            )
            more = len(rows) > PICK_LIMIT
            matches = [{"pk": r.pk, "label": self.picker.label(r)} for r in rows[:PICK_LIMIT]]
        context["widget"].update(
            {
                "multiple": True,
                "chosen": [{"pk": row.pk, "label": self.picker.label(row)} for row in chosen],
                "query": query,
                "matches": matches,
                "more": more,
                "searched": bool(query),
                "limit": PICK_LIMIT,
                "url": str(self.picker.url),
                "method": self.picker.method,
                "placeholder": self.picker.placeholder,
            }
        )
        return context


class RecordMultiPickField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Several people (or houses) chosen with a ``RecordMultiPicker``, looked up through the
    gate: a tampered record number outside the scope refuses the whole field.

    A typed text is taken as one more record when it names exactly one (a full ID number or
    phone); a part of a name is accepted only once one of its matches is ticked."""

    default_error_messages = {
        "invalid_choice": OUT_OF_SCOPE,
        "invalid_pk_value": OUT_OF_SCOPE,
        "no_match": _("Nothing in your scope matches what you typed."),
        "choose": _("Tick the right records among the matches below."),
    }

    def __init__(self, kind: str, actor: User, **kwargs: Any) -> None:
        self.picker = PICKERS[kind]
        queryset = self.picker.model._default_manager.visible_to(actor).active()  # type: ignore[attr-defined]
        kwargs.setdefault(
            "help_text",
            _(
                "Search within your scope and tick everyone who belongs here; "
                "search again to add more."
            ),
        )
        super().__init__(queryset=queryset, widget=RecordMultiPicker(self.picker), **kwargs)
        self._sync_widget()

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        result = super().__deepcopy__(memo)
        result._sync_widget()
        return result

    def _sync_widget(self) -> None:
        widget: RecordMultiPicker = self.widget  # type: ignore[assignment]
        widget.queryset = self.queryset

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, MultiPickValue):
            return value
        return super().prepare_value(value)

    def clean(self, value: Any) -> Any:
        if not isinstance(value, MultiPickValue):
            value = MultiPickValue(tuple(str(v) for v in value or ()), "")
        if not all(pk.isdigit() and len(pk) <= 18 for pk in value.pks):
            raise forms.ValidationError(self.error_messages["invalid_choice"], "invalid_choice")
        queryset: Any = self.queryset
        ids = list(dict.fromkeys(int(pk) for pk in value.pks))
        rows = {row.pk: row for row in queryset.filter(pk__in=ids)} if ids else {}
        if len(rows) != len(ids):
            raise forms.ValidationError(self.error_messages["invalid_choice"], "invalid_choice")
        chosen = [rows[pk] for pk in ids]
        if value.query:
            found = list(self.picker.search(queryset, value.query)[:2])
            if len(found) == 1 and self.picker.names_exactly(found[0], value.query):
                if found[0].pk not in rows:
                    chosen.append(found[0])
            elif not (
                ids and self.picker.search(queryset.filter(pk__in=ids), value.query).exists()
            ):
                # A search not followed by a tick of one of its matches: names repeat, so the
                # worker picks among them (the form comes back with them as check boxes).
                if not found:
                    raise forms.ValidationError(self.error_messages["no_match"], "no_match")
                raise forms.ValidationError(self.error_messages["choose"], "choose")
        if self.required and not chosen:
            raise forms.ValidationError(self.error_messages["required"], "required")
        self.run_validators(chosen)
        return chosen

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        before = {str(getattr(item, "pk", item)) for item in initial or ()}
        if isinstance(data, MultiPickValue):
            return bool(data.query) or before != set(data.pks)
        return before != {str(item) for item in data or ()}


class RegisterForm(forms.Form):
    """Base of the create and edit forms.

    ``secret_fields`` are never pre-filled (that would show personal data unaudited): left
    empty on an edit they keep the stored value. ``create_only`` fields are dropped on edit.
    """

    secret_fields: tuple[str, ...] = ()
    create_only: tuple[str, ...] = ()

    def __init__(self, *args: Any, actor: User, instance: Any = None, **kwargs: Any) -> None:
        self.actor = actor
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(instance)
        super().__init__(*args, **kwargs)
        self.add_reference_fields(actor)
        if instance is not None:
            for name in self.create_only:
                self.fields.pop(name, None)
            for name in self.secret_fields:
                if name in self.fields:
                    self.fields[name].required = False
                    self.fields[name].help_text = _("Leave empty to keep the stored value.")
        self.order_fields(self.field_order_names())

    def field_order_names(self) -> list[str]:
        return list(getattr(self, "field_order", None) or [])

    def add_reference_fields(self, actor: User) -> None:
        """Subclasses add fields whose choices depend on the actor's scope."""

    def initial_from(self, instance: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for name in self.base_fields:
            if name in self.secret_fields:
                continue
            if hasattr(instance, name):
                initial[name] = getattr(instance, name)
        for name in ("region", "compound", "building", "unit", "house", "owner", "head"):
            if hasattr(instance, f"{name}_id"):
                initial[name] = getattr(instance, name)
        return initial

    def service_values(self) -> dict[str, Any]:
        """The cleaned values for a create service."""
        return dict(self.cleaned_data)

    def changed_values(self) -> dict[str, Any]:
        """The values for ``services.update_record``: only what changed; empty secrets kept."""
        values: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if name in self.secret_fields:
                if value:
                    values[name] = value
                continue
            if name in self.changed_data:
                values[name] = value
        return values


def _region(actor: User) -> RegionCodeField:
    return RegionCodeField(actor, label=_("Region"))


class OrganisationForm(RegisterForm):
    name = forms.CharField(label=_("name"), max_length=200)
    kind = forms.ChoiceField(label=_("kind"), choices=OrganisationKind.choices)
    credit_code = forms.CharField(
        label=_("unified social credit code"), max_length=18, required=False
    )
    address = forms.CharField(label=_("address"), max_length=200, required=False)
    contact_name = forms.CharField(label=_("contact person"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("contact phone"), max_length=20, required=False)
    secret_fields = ("contact_phone",)
    field_order = ["region", "name", "kind", "credit_code", "address"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["region"] = _region(actor)


class CompoundForm(RegisterForm):
    name = forms.CharField(label=_("name"), max_length=100)
    kind = forms.ChoiceField(label=_("kind"), choices=CompoundKind.choices)
    address = forms.CharField(label=_("address"), max_length=200, required=False)
    latitude = forms.DecimalField(
        label=_("latitude"), max_digits=9, decimal_places=6, required=False
    )
    longitude = forms.DecimalField(
        label=_("longitude"), max_digits=9, decimal_places=6, required=False
    )
    area_m2 = forms.DecimalField(
        label=_("area (m²)"), max_digits=12, decimal_places=2, required=False, min_value=0
    )
    create_only = ("region",)
    field_order = ["region", "name", "kind", "property_company", "address"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["region"] = _region(actor)
        field = RecordField(
            Organisation, actor, select=True, label=_("property company"), required=False
        )
        field.queryset = (
            Organisation.objects.visible_to(actor).active().filter(kind=OrganisationKind.PROPERTY)
        )
        self.fields["property_company"] = field


class BuildingForm(RegisterForm):
    number = forms.CharField(label=_("building number"), max_length=20)
    floors_above = forms.IntegerField(label=_("floors above ground"), min_value=1, max_value=200)
    floors_below = forms.IntegerField(
        label=_("floors below ground"), min_value=0, max_value=20, initial=0, required=False
    )
    is_residential = forms.BooleanField(label=_("residential"), required=False, initial=True)
    has_elevator = forms.BooleanField(label=_("elevator"), required=False)
    units = forms.IntegerField(label=_("units"), min_value=1, max_value=50, initial=1)
    latitude = forms.DecimalField(
        label=_("latitude"), max_digits=9, decimal_places=6, required=False
    )
    longitude = forms.DecimalField(
        label=_("longitude"), max_digits=9, decimal_places=6, required=False
    )
    create_only = ("compound", "units")
    field_order = ["compound", "number"]

    def clean_floors_below(self) -> int:
        return self.cleaned_data.get("floors_below") or 0

    def add_reference_fields(self, actor: User) -> None:
        self.fields["compound"] = RecordField(Compound, actor, select=True, label=_("compound"))


class UnitForm(RegisterForm):
    number = forms.CharField(label=_("unit number"), max_length=20)
    create_only = ("building",)
    field_order = ["building", "number"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["building"] = RecordField(Building, actor, label=_("building record number"))


class HouseForm(RegisterForm):
    number = forms.CharField(label=_("house number"), max_length=20)
    floor = forms.IntegerField(label=_("floor"), min_value=-20, max_value=200)
    area_m2 = forms.DecimalField(
        label=_("area (m²)"), max_digits=8, decimal_places=2, required=False, min_value=0
    )
    use = forms.ChoiceField(
        label=_("use"),
        choices=[("", _("Follow the residences")), *HouseUse.choices],
        required=False,
    )
    has_gigabit = forms.BooleanField(label=_("gigabit fibre"), required=False)
    has_cable_tv = forms.BooleanField(label=_("cable TV or IPTV"), required=False)
    has_remote_water_meter = forms.BooleanField(label=_("remote water meter"), required=False)
    has_remote_electricity_meter = forms.BooleanField(
        label=_("remote electricity meter"), required=False
    )
    has_remote_gas_meter = forms.BooleanField(label=_("remote gas meter"), required=False)
    create_only = ("unit", "use")
    field_order = ["unit", "number", "floor"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["unit"] = RecordField(Unit, actor, label=_("unit record number"))

    def service_values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        values["use"] = values.get("use") or None
        return values


class PersonForm(RegisterForm):
    name = forms.CharField(label=_("name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=18, required=False)
    phone = forms.CharField(label=_("mobile phone"), max_length=20, required=False)
    registration_type = forms.ChoiceField(
        label=_("registration type"), choices=RegistrationType.choices
    )
    ethnicity = forms.CharField(label=_("ethnicity"), max_length=20, initial="汉族", required=False)
    education = forms.ChoiceField(
        label=_("education"), choices=Education.choices, initial=Education.UNKNOWN
    )
    employment = forms.ChoiceField(
        label=_("employment"), choices=Employment.choices, initial=Employment.UNKNOWN
    )
    political_status = forms.ChoiceField(
        label=_("political status"), choices=PoliticalStatus.choices, initial="masses"
    )
    is_party_member = forms.BooleanField(label=_("party member"), required=False)
    secret_fields = ("name", "id_number", "phone")
    field_order = ["region", "name", "id_number", "phone"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["region"] = _region(actor)


class HouseholdForm(RegisterForm):
    number = forms.CharField(label=_("household number"), max_length=30)
    field_order = ["region", "number", "house", "head"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["region"] = _region(actor)
        self.fields["house"] = RecordPickField("houses", actor, label=_("house"), required=False)
        self.fields["head"] = RecordPickField(
            "people", actor, label=_("head of household"), required=False
        )


class VehicleForm(RegisterForm):
    plate = forms.CharField(label=_("plate number"), max_length=10)
    description = forms.CharField(label=_("description"), max_length=100, required=False)
    field_order = ["region", "plate", "owner", "compound"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["region"] = _region(actor)
        self.fields["owner"] = RecordPickField("people", actor, label=_("owner"), required=False)
        self.fields["compound"] = RecordField(
            Compound, actor, select=True, label=_("compound"), required=False
        )


class RentalForm(RegisterForm):
    mode = forms.ChoiceField(label=_("rental mode"), choices=RentalMode.choices)
    channel = forms.ChoiceField(label=_("rental channel"), choices=RentalChannel.choices)
    monthly_rent = forms.DecimalField(
        label=_("monthly rent (yuan)"), max_digits=10, decimal_places=2, min_value=0
    )
    start = forms.DateField(label=_("start"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label=_("end"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    create_only = ("house",)
    field_order = ["house", "tenants"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["house"] = RecordPickField("houses", actor, label=_("house"))
        self.fields["tenants"] = RecordMultiPickField("people", actor, label=_("tenants"))

    def initial_from(self, instance: Any) -> dict[str, Any]:
        initial = super().initial_from(instance)
        initial["tenants"] = list(instance.tenants.all())
        return initial

    def clean_tenants(self) -> list[Person]:
        """Tenants the actor cannot pick (outside the area, or retired) are not shown, so they
        stay as they are: the rental's tenants change here only when there are none of them."""
        tenants: list[Person] = self.cleaned_data["tenants"]
        if self.instance is None:
            return tenants
        pickable = self.fields["tenants"].queryset  # type: ignore[attr-defined]
        current = list(self.instance.tenants.all())
        shown = set(pickable.filter(pk__in=[p.pk for p in current]).values_list("pk", flat=True))
        kept = [p for p in current if p.pk not in shown]
        if kept and {p.pk for p in tenants} != shown:
            raise forms.ValidationError(
                _(
                    "Some tenants of this rental are outside your area or retired; ask the "
                    "county operator to change its tenants."
                )
            )
        return [*tenants, *kept]

    def changed_values(self) -> dict[str, Any]:
        values = super().changed_values()
        if "tenants" in values and self.instance is not None:
            before = {p.pk for p in self.instance.tenants.all()}
            if before == {p.pk for p in values["tenants"]}:
                values.pop("tenants")
        return values


class ResidenceForm(RegisterForm):
    """Moving a person into a house (人房关联); on edit only the relation and date change."""

    relation = forms.ChoiceField(label=_("relation"), choices=ResidenceRelation.choices)
    head_relation = forms.ChoiceField(
        label=_("relation to the head of household"),
        choices=[("", "—"), *HeadRelation.choices],
        required=False,
    )
    moved_in = forms.DateField(label=_("moved in"), widget=forms.DateInput(attrs={"type": "date"}))
    is_primary = forms.BooleanField(label=_("primary residence"), required=False, initial=True)
    create_only = ("person", "house", "head_relation", "is_primary")
    field_order = ["person", "house", "relation"]

    def add_reference_fields(self, actor: User) -> None:
        self.fields["person"] = RecordPickField("people", actor, label=_("person"))
        self.fields["house"] = RecordPickField("houses", actor, label=_("house"))

    def service_values(self) -> dict[str, Any]:
        values = dict(self.cleaned_data)
        values["head_relation"] = values.get("head_relation") or None
        return values


class MoveOutForm(forms.Form):
    moved_out = forms.DateField(
        label=_("moved out"), widget=forms.DateInput(attrs={"type": "date"})
    )


class HouseUseForm(forms.Form):
    use = forms.ChoiceField(
        label=_("use"),
        choices=[("", _("Follow the residences")), *HouseUse.choices],
        required=False,
    )


def _active_tags() -> Any:
    return Tag.objects.filter(is_active=True, category__is_active=True).select_related("category")


class TagChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.category.name} · {obj.name}"


class PersonTagForm(forms.Form):
    note = forms.CharField(label=_("note"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"] = TagChoiceField(queryset=_active_tags(), label=_("Tag"))
        self.order_fields(["tag"])


class BulkTagForm(forms.Form):
    """A tag for the people ticked in the list; the ids are checked against the gate."""

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["tag"] = TagChoiceField(queryset=_active_tags(), label=_("Tag"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = self.data.getlist("person") if hasattr(self.data, "getlist") else []
        if not raw:
            raise forms.ValidationError(_("Select at least one person."))
        if not all(str(value).isdigit() for value in raw):
            raise forms.ValidationError(OUT_OF_SCOPE)
        ids = {int(value) for value in raw}
        people = list(Person.objects.visible_to(self.actor).active().filter(pk__in=ids))
        if len(people) != len(ids):
            raise forms.ValidationError(
                _("Some selected people do not exist or are outside your scope.")
            )
        data["people"] = people
        return data


class TagCategoryForm(forms.Form):
    code = forms.SlugField(label=_("code"), max_length=40)
    name = forms.CharField(label=_("name"), max_length=50)


class TagCreateForm(forms.Form):
    category = forms.ModelChoiceField(
        queryset=TagCategory.objects.all(), label=_("category"), empty_label=None
    )
    code = forms.SlugField(label=_("code"), max_length=40)
    name = forms.CharField(label=_("name"), max_length=50)


class TagEditForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=50)
    order = forms.IntegerField(label=_("order"), min_value=0, max_value=32767)
    is_active = forms.BooleanField(label=_("active"), required=False)


class ExactSearchForm(forms.Form):
    value = forms.CharField(
        label=_("ID number or mobile phone"),
        max_length=32,  # room for spaces and dashes between the digit groups
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
