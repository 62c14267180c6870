"""Serializers of the event hub's API (``api.py``) and of the 12345 hotline interface
(``hotline.py``).

Output serializers mask personal data (the reporter's name and phone); the reporter's own view of
an event (``full=False`` in the context) leaves out what only staff work with. Input serializers
only parse: references are looked up through the gate where the record is placed in the region
tree, and ``services`` / ``config`` hold the rules.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from linli.events.choices import (
    CategoryKind,
    DepartmentKind,
    EventPriority,
    EventSource,
    EventStatus,
    Rating,
)
from linli.events.lifecycle import TRANSITIONS, Transition
from linli.events.models import (
    Department,
    DispatchRule,
    Event,
    EventAttachment,
    EventCategory,
    EventStep,
)
from linli.regions.models import RegionNode
from linli.registry.models import Building, Compound, House
from linli.registry.serializers import ScopedRecordField
from linli.utilities.masking import mask_name, mask_phone

# Sources that come in through their own interfaces (the 12345 push, Open311), never the plain
# create call.
INTERFACE_SOURCES = (EventSource.HOTLINE, EventSource.OPEN311)
# What only staff see of an event: its reporter gets the rest.
STAFF_ONLY_FIELDS = (
    "handler",
    "handler_name",
    "supervised",
    "escalation_level",
    "needs_ruling",
    "return_count",
    "reopen_count",
    "extension_count",
    "extension_requested_until",
    "external",
    "overdue",
    "ever_overdue",
)


def coordinate(value: float | None) -> Decimal | None:
    """A position as stored: six decimals (about 0.1 m), whatever precision the device sent."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


class ActiveRegionField(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """A community or grid by its code. Any active node is found here: whether the caller may
    report there is the service's question (outside the area answers 404, as the gate does)."""

    default_error_messages = {
        "does_not_exist": _("The region does not exist."),
        "invalid": _("Enter a region code."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", RegionNode.objects.filter(retired_at__isnull=True))
        super().__init__(slug_field="code", **kwargs)


class CategoryField(serializers.SlugRelatedField):  # type: ignore[type-arg]
    default_error_messages = {
        "does_not_exist": _("The category does not exist."),
        "invalid": _("Enter a category code."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", EventCategory.objects.filter(is_active=True))
        super().__init__(slug_field="code", **kwargs)


def uploads_field() -> serializers.ListField:
    # Empty files pass here so the attachment check names them in its own message.
    return serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        default=list,
    )


# ---------------------------------------------------------------- events: output


class AttachmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    url = serializers.SerializerMethodField()

    class Meta:
        model = EventAttachment
        fields = ["id", "kind", "name", "content_type", "size", "created_at", "url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj: EventAttachment) -> str:
        return reverse("api:events-event-attachment", args=[obj.event_id, obj.pk])


class EventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    number = serializers.CharField(read_only=True)
    source_label = serializers.CharField(source="get_source_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    priority_label = serializers.CharField(source="get_priority_display", read_only=True)
    category: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    category_name = serializers.CharField(source="category.name", read_only=True)
    region = serializers.CharField(source="region_code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True, default=None)
    handler_name = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "number",
            "title",
            "source",
            "source_label",
            "category",
            "category_name",
            "priority",
            "priority_label",
            "status",
            "status_label",
            "region",
            "region_name",
            "address",
            "latitude",
            "longitude",
            "department",
            "department_name",
            "handler",
            "handler_name",
            "stage",
            "state_deadline",
            "expected_at",
            "overdue",
            "ever_overdue",
            "supervised",
            "escalation_level",
            "needs_ruling",
            "merged_into",
            "created_at",
            "updated_at",
            "closed_at",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_handler_name(self, obj: Event) -> str | None:
        handler = obj.handler
        return None if handler is None else str(handler)

    def to_representation(self, instance: Event) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if not self.context.get("full", True):
            for name in STAFF_ONLY_FIELDS:
                data.pop(name, None)
        return data


class OfferedActionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A step the caller may take on the event now, with what it needs."""

    action = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    requires = serializers.ListField(child=serializers.CharField())

    def to_representation(self, instance: Transition) -> dict[str, Any]:
        return {
            "action": str(instance.action),
            "label": str(instance.action.label),
            "requires": list(instance.requires),
        }


class ExternalSerializer(serializers.Serializer):  # type: ignore[type-arg]
    channel = serializers.CharField()
    account_ref = serializers.CharField()
    media_url = serializers.CharField()
    deadline = serializers.DateTimeField(allow_null=True)


class EventDetailSerializer(EventSerializer):
    description = serializers.CharField(read_only=True)
    reporter_name = serializers.SerializerMethodField(help_text="Masked.")
    reporter_phone = serializers.SerializerMethodField(help_text="Masked.")
    rating_label = serializers.CharField(source="get_rating_display", read_only=True)
    attachments = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    external = serializers.SerializerMethodField()

    class Meta(EventSerializer.Meta):
        fields = [
            *EventSerializer.Meta.fields,
            "description",
            "compound",
            "building",
            "house",
            "reporter_name",
            "reporter_phone",
            "external_id",
            "extra",
            "rating",
            "rating_label",
            "rating_comment",
            "rated_at",
            "signed_at",
            "handled_at",
            "return_count",
            "reopen_count",
            "extension_count",
            "extension_requested_until",
            "attachments",
            "actions",
            "external",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_reporter_name(self, obj: Event) -> str:
        return mask_name(obj.reporter_name or "")

    @extend_schema_field(OpenApiTypes.STR)
    def get_reporter_phone(self, obj: Event) -> str:
        return mask_phone(obj.reporter_phone or "")

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, obj: Event) -> list[dict[str, Any]]:
        full = self.context.get("full", True)
        shown = [
            a
            for a in obj.attachments.all()
            if full or (a.public and (a.step is None or a.step.public))
        ]
        return AttachmentSerializer(shown, many=True).data  # type: ignore[return-value]

    @extend_schema_field(OfferedActionSerializer(many=True))
    def get_actions(self, obj: Event) -> list[dict[str, Any]]:
        offered = self.context.get("actions") or []
        return OfferedActionSerializer(offered, many=True).data  # type: ignore[return-value]

    @extend_schema_field(ExternalSerializer(allow_null=True))
    def get_external(self, obj: Event) -> dict[str, Any] | None:
        external = getattr(obj, "external", None)
        if external is None:
            return None
        return ExternalSerializer(external).data  # type: ignore[return-value]


class StepSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    action_label = serializers.CharField(source="get_action_display", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True, default=None)
    was_late = serializers.BooleanField(read_only=True)
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = EventStep
        fields = [
            "id",
            "action",
            "action_label",
            "actor_name",
            "department",
            "department_name",
            "from_status",
            "to_status",
            "note",
            "public",
            "elapsed_seconds",
            "allowed_seconds",
            "was_late",
            "data",
            "created_at",
            "attachments",
        ]
        read_only_fields = fields

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, obj: EventStep) -> list[dict[str, Any]]:
        full = self.context.get("full", True)
        shown = [a for a in obj.attachments.all() if full or a.public]
        return AttachmentSerializer(shown, many=True).data  # type: ignore[return-value]

    def to_representation(self, instance: EventStep) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if not self.context.get("full", True):
            # The reporter sees which office acted, not which member of staff.
            data.pop("actor_name", None)
        return data


class MemberSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {"id": instance.pk, "name": str(instance)}


class DispatchChoiceSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A department the event may be dispatched to, with the people who may be named handler."""

    region = serializers.CharField(source="region.code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    members = serializers.SerializerMethodField()

    class Meta:
        model = Department
        fields = ["id", "name", "kind", "region", "region_name", "members"]
        read_only_fields = fields

    @extend_schema_field(MemberSerializer(many=True))
    def get_members(self, obj: Department) -> list[dict[str, Any]]:
        people = [u for u in obj.members.all() if u.is_active]
        return MemberSerializer(people, many=True).data  # type: ignore[return-value]


# ---------------------------------------------------------------- events: input


class EventInput(serializers.Serializer):  # type: ignore[type-arg]
    """A new report. JSON, or multipart with ``photos`` and ``files`` (``extra`` then as a JSON
    string)."""

    category = CategoryField()
    region = ActiveRegionField(help_text="Code of the community or grid.")
    compound = ScopedRecordField(Compound, required=False, allow_null=True)
    building = ScopedRecordField(Building, required=False, allow_null=True)
    house = ScopedRecordField(House, required=False, allow_null=True)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    latitude = serializers.FloatField(required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, default=None)
    description = serializers.CharField(max_length=4000)
    title = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    priority = serializers.ChoiceField(
        choices=EventPriority.choices, required=False, allow_blank=True, default=""
    )
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=EventSource.choices,
        required=False,
        help_text="Defaults to grid for staff and resident for everyone else; hotline and "
        "open311 come through their own interfaces.",
    )
    reporter_name = serializers.CharField(
        required=False, allow_blank=True, max_length=50, default=""
    )
    reporter_phone = serializers.CharField(
        required=False, allow_blank=True, max_length=30, default=""
    )
    extra = serializers.JSONField(required=False, default=dict)
    photos = uploads_field()
    files = uploads_field()

    def validate_source(self, value: str) -> str:
        if value in INTERFACE_SOURCES:
            raise serializers.ValidationError(
                _("Hotline tickets and Open311 requests come through their own interfaces.")
            )
        return value

    def validate_extra(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Give the extra fields as an object."))
        return value


class TransitionInput(serializers.Serializer):  # type: ignore[type-arg]
    """One step of the lifecycle; ``version`` is the event's version as the caller last saw it."""

    action = serializers.ChoiceField(
        choices=[(key, spec.action.label) for key, spec in TRANSITIONS.items()]
    )
    version = serializers.IntegerField(min_value=0)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    department = serializers.IntegerField(required=False, allow_null=True, default=None)
    handler = serializers.IntegerField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    rating = serializers.ChoiceField(
        choices=Rating.choices, required=False, allow_blank=True, default=""
    )
    into = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Id of the event it duplicates."
    )
    stage = serializers.CharField(required=False, allow_blank=True, max_length=50, default="")
    files = uploads_field()


class DuplicatesQuery(serializers.Serializer):  # type: ignore[type-arg]
    category = CategoryField()
    region = ActiveRegionField()
    latitude = serializers.FloatField(required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, default=None)
    building = serializers.IntegerField(required=False, allow_null=True, default=None)
    exclude = serializers.IntegerField(required=False, allow_null=True, default=None)


# ---------------------------------------------------------------- categories


class EffectiveSettingsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A category's settings as they apply, inherited from its ancestors where it sets none."""

    default_department = serializers.IntegerField(allow_null=True)
    default_department_name = serializers.CharField(allow_null=True)
    priority = serializers.ChoiceField(choices=EventPriority.choices)
    limit_unit = serializers.CharField()
    limits = serializers.DictField(child=serializers.FloatField())
    auto_dispatch = serializers.BooleanField()
    required_fields = serializers.ListField(child=serializers.CharField())
    extra_fields = serializers.ListField(child=serializers.DictField())
    stages = serializers.ListField(child=serializers.CharField())


class CategorySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One node of the category tree; ``children`` holds nodes of the same shape."""

    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CategoryKind.choices)
    kind_label = serializers.CharField()
    description = serializers.CharField()
    parent = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    is_leaf = serializers.BooleanField(help_text="Only leaves may be reported.")
    effective = EffectiveSettingsSerializer()
    children = serializers.ListField(child=serializers.DictField())


def category_tree(categories: list[EventCategory]) -> list[dict[str, Any]]:
    """The active categories as a tree with their effective settings, from one query's rows
    (the inheritance walks the loaded rows, not the database)."""
    by_pk = {c.pk: c for c in categories}
    children: dict[int | None, list[EventCategory]] = {}
    for category in categories:
        parent = category.parent_id if category.parent_id in by_pk else None
        children.setdefault(parent, []).append(category)

    def lineage(category: EventCategory) -> list[EventCategory]:
        chain: list[EventCategory] = []
        node: EventCategory | None = category
        while node is not None and node not in chain:
            chain.append(node)
            node = by_pk.get(node.parent_id) if node.parent_id else None
        return chain

    def effective(category: EventCategory, name: str) -> Any:
        for node in lineage(category):
            value = getattr(node, name)
            if value not in (None, "", [], {}):
                return value
        return getattr(category, name)

    def limits(category: EventCategory) -> tuple[str, dict[str, float]]:
        for node in lineage(category):
            if node.limits:
                return node.limit_unit, {k: float(v) for k, v in node.limits.items()}
        return category.limit_unit, {}

    def node(category: EventCategory) -> dict[str, Any]:
        department = effective(category, "default_department")
        if department is not None and department.retired_at is not None:
            department = None
        unit, amounts = limits(category)
        kids = children.get(category.pk, [])
        return {
            "code": category.code,
            "name": category.name,
            "kind": category.kind,
            "kind_label": str(category.get_kind_display()),
            "description": category.description,
            "parent": by_pk[category.parent_id].code if category.parent_id in by_pk else None,
            "is_leaf": not kids,
            "effective": {
                "default_department": department.pk if department else None,
                "default_department_name": department.name if department else None,
                "priority": effective(category, "priority"),
                "limit_unit": unit,
                "limits": amounts,
                "auto_dispatch": bool(effective(category, "auto_dispatch")),
                "required_fields": list(effective(category, "required_fields") or []),
                "extra_fields": list(effective(category, "extra_fields") or []),
                "stages": [str(s) for s in effective(category, "stages") or []],
            },
            "children": [node(child) for child in kids],
        }

    return [node(root) for root in children.get(None, [])]


# ---------------------------------------------------------------- departments and rules


class DepartmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region = serializers.CharField(source="region.code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    members = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Department
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "region",
            "region_name",
            "phone",
            "members",
            "is_active",
            "created_at",
            "retired_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MemberSerializer(many=True))
    def get_members(self, obj: Department) -> list[dict[str, Any]]:
        return MemberSerializer(list(obj.members.all()), many=True).data  # type: ignore[return-value]


class DepartmentInput(serializers.Serializer):  # type: ignore[type-arg]
    region = ActiveRegionField(help_text="The area it serves.")
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(
        choices=DepartmentKind.choices, default=DepartmentKind.FUNCTIONAL
    )
    phone = serializers.CharField(required=False, allow_blank=True, max_length=30, default="")
    members = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)


class DepartmentUpdate(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=DepartmentKind.choices, required=False)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=30)
    members = serializers.ListField(child=serializers.IntegerField(), required=False)


class DispatchRuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region = serializers.CharField(source="region.code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    category: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    category_name = serializers.CharField(source="category.name", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True)

    class Meta:
        model = DispatchRule
        fields = [
            "id",
            "region",
            "region_name",
            "category",
            "category_name",
            "department",
            "department_name",
            "created_at",
        ]
        read_only_fields = fields


class DispatchRuleInput(serializers.Serializer):  # type: ignore[type-arg]
    region = ActiveRegionField(help_text="The area the rule covers.")
    category = CategoryField()
    department = serializers.IntegerField()


class DispatchRuleUpdate(serializers.Serializer):  # type: ignore[type-arg]
    department = serializers.IntegerField()


# ---------------------------------------------------------------- the 12345 hotline


class HotlineTicketInput(serializers.Serializer):  # type: ignore[type-arg]
    """A ticket pushed by the 12345 platform. The place is a region code, or a map position
    (matched to the nearest community or grid of the account's area)."""

    ticket = serializers.CharField(max_length=64, help_text="The platform's ticket number.")
    category = CategoryField()
    title = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    description = serializers.CharField(max_length=4000)
    caller_name = serializers.CharField(required=False, allow_blank=True, max_length=50, default="")
    caller_phone = serializers.CharField(
        required=False, allow_blank=True, max_length=30, default=""
    )
    region = ActiveRegionField(required=False, allow_null=True, default=None)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    latitude = serializers.FloatField(required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, default=None)
    priority = serializers.ChoiceField(
        choices=EventPriority.choices, required=False, allow_blank=True, default=""
    )
    deadline = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="The platform's deadline hint."
    )
    extra = serializers.JSONField(required=False, default=dict)
    photos = uploads_field()

    def validate_ticket(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError(_("Give the ticket number."))
        return value

    def validate_extra(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Give the extra fields as an object."))
        return value


class HotlineStepSerializer(serializers.Serializer):  # type: ignore[type-arg]
    action = serializers.CharField()
    action_label = serializers.CharField()
    status = serializers.ChoiceField(choices=EventStatus.choices)
    status_label = serializers.CharField()
    note = serializers.CharField()
    department = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()


class HotlineTicketSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A hotline ticket's state as the 12345 platform reads it back."""

    ticket = serializers.CharField()
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=EventStatus.choices)
    status_label = serializers.CharField()
    category = serializers.CharField()
    department = serializers.CharField(allow_null=True)
    expected_at = serializers.DateTimeField(allow_null=True)
    deadline_hint = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    rating = serializers.CharField()
    rating_comment = serializers.CharField()
    updated_at = serializers.DateTimeField()
    steps = HotlineStepSerializer(many=True)
