"""Serializers of the self-assessment's API. Input serializers only parse; the services hold the
rules (units, evidence, overrides, scope) and refuse in Chinese."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from linli.assessment import services
from linli.assessment.models import Assessment, ManualFigure
from linli.assessment.standard import load_standard
from linli.assessment.values import value_text
from linli.core.errors import ServiceError

REGION_CODE_HELP = _("Community code (12 digits).")


def _not_future(value: dt.date | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return services.check_assessment_date(value)
    except ServiceError as exc:
        raise serializers.ValidationError(str(exc.message)) from exc


class EvaluationQuery(serializers.Serializer):  # type: ignore[type-arg]
    tier = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=_(
            "基础型, 成长型 or 标杆型 (or basic, growth, benchmark); default: the tier above the "
            "one reached."
        ),
    )
    date = serializers.DateField(
        required=False, help_text=_("Assessment date (default: today; not in the future).")
    )

    def validate_date(self, value: dt.date | None) -> dt.date | None:
        return _not_future(value)

    def validate_tier(self, value: str) -> str:
        value = (value or "").strip()
        if not value:
            return ""
        try:
            return services.resolve_tier(load_standard(), value)
        except ServiceError as exc:
            raise serializers.ValidationError(str(exc.message)) from exc


@extend_schema_field(OpenApiTypes.ANY)
class FigureValueField(serializers.Field):  # type: ignore[type-arg]
    """A number, a text such as "57.6%" or "4515户", or true/false: read by the service in the
    metric's unit."""

    default_error_messages = {
        "invalid": _("Give the value as a number, a text or true/false."),
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict | list):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ManualFigureSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    region_name = serializers.CharField(source="region.name", read_only=True)
    metric_label = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField(
        method_name="value_of", help_text="A number, or true/false."
    )
    text = serializers.SerializerMethodField(help_text="The value in words, with its unit.")
    entered_by = serializers.CharField(source="entered_by.username", read_only=True, default=None)
    retired_by = serializers.CharField(source="retired_by.username", read_only=True, default=None)
    is_active = serializers.BooleanField(read_only=True)
    has_attachment = serializers.SerializerMethodField()

    class Meta:
        model = ManualFigure
        fields = [
            "id",
            "region",
            "region_name",
            "metric",
            "metric_label",
            "unit",
            "value",
            "text",
            "evidence",
            "has_attachment",
            "is_override",
            "valid_from",
            "valid_until",
            "entered_by",
            "entered_at",
            "is_active",
            "retired_by",
            "retired_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_metric_label(self, obj: ManualFigure) -> str:
        try:
            return load_standard().quantity(obj.metric).label
        except KeyError:
            return obj.metric

    @extend_schema_field(OpenApiTypes.ANY)
    def value_of(self, obj: ManualFigure) -> Any:
        if obj.flag is not None:
            return obj.flag
        number = obj.number
        assert number is not None
        return int(number) if number == number.to_integral_value() else float(number)

    @extend_schema_field(OpenApiTypes.STR)
    def get_text(self, obj: ManualFigure) -> str:
        from fractions import Fraction

        try:
            quantity = load_standard().quantity(obj.metric)
        except KeyError:
            return str(obj.value)
        value = obj.flag if obj.flag is not None else Fraction(str(obj.number))
        return value_text(quantity, value)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_has_attachment(self, obj: ManualFigure) -> bool:
        return bool(obj.attachment)


class ManualFigureInput(serializers.Serializer):  # type: ignore[type-arg]
    region = serializers.CharField(max_length=20, help_text=REGION_CODE_HELP)
    metric = serializers.CharField(
        max_length=64, help_text=_("Metric name, as `linli assess --figures-template` lists them.")
    )
    value = FigureValueField(help_text=_('In the metric\'s unit: 57.6 or "57.6%", 4515, true.'))
    evidence = serializers.CharField(allow_blank=True, required=False, default="")
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    override = serializers.BooleanField(required=False, default=False)
    attachment = serializers.FileField(
        required=False, allow_null=True, default=None, help_text=_("Multipart uploads only.")
    )


class AssessmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A stored assessment without its result (the list)."""

    region: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    region_name = serializers.CharField(source="region.name", read_only=True)
    date = serializers.DateField(source="on", read_only=True)
    tier_reached_name = serializers.SerializerMethodField()
    next_tier_name = serializers.SerializerMethodField()
    computed_by = serializers.CharField(source="computed_by.username", read_only=True, default=None)

    class Meta:
        model = Assessment
        fields = [
            "id",
            "region",
            "region_name",
            "date",
            "standard",
            "tier_reached",
            "tier_reached_name",
            "next_tier",
            "next_tier_name",
            "gap_count",
            "computed_at",
            "computed_by",
        ]
        read_only_fields = fields

    def _name(self, key: str) -> str | None:
        if not key:
            return None
        try:
            return load_standard().tier(key).name
        except KeyError:
            return key

    @extend_schema_field(OpenApiTypes.STR)
    def get_tier_reached_name(self, obj: Assessment) -> str | None:
        return self._name(obj.tier_reached)

    @extend_schema_field(OpenApiTypes.STR)
    def get_next_tier_name(self, obj: Assessment) -> str | None:
        return self._name(obj.next_tier)


class AssessmentDetailSerializer(AssessmentSerializer):
    """With ``result``: per tier key, the evaluation JSON (as ``linli assess --format json``)."""

    result = serializers.JSONField(read_only=True)

    class Meta(AssessmentSerializer.Meta):
        fields = [*AssessmentSerializer.Meta.fields, "result"]
        read_only_fields = fields


class AssessmentInput(serializers.Serializer):  # type: ignore[type-arg]
    region = serializers.CharField(max_length=20, help_text=REGION_CODE_HELP)
    date = serializers.DateField(
        required=False, allow_null=True, help_text=_("Default: today; not in the future.")
    )

    def validate_date(self, value: dt.date | None) -> dt.date | None:
        return _not_future(value)


class CountyQuery(serializers.Serializer):  # type: ignore[type-arg]
    region = serializers.RegexField(
        r"^\d{2,15}$",
        required=False,
        allow_blank=True,
        help_text=_("Only this region's subtree (default: the caller's whole scope)."),
    )
    tier = serializers.ChoiceField(
        choices=["unassessed", "none", "basic", "growth", "benchmark"],
        required=False,
        allow_blank=True,
        help_text=_("Only communities whose latest assessment reached this tier."),
    )
