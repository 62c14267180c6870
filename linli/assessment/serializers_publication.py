"""Serializers of the acceptance publication's API: the publication as read, the body that drafts
one, and the free-text parts a draft's PATCH may change (anything else is refused by name)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from linli.assessment.models import Publication
from linli.assessment.publication import TEXT_FIELDS, document_for, tier_met, tier_name


class PublicationSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region = serializers.CharField(source="region.code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    tier_name = serializers.SerializerMethodField()
    tier_met = serializers.SerializerMethodField()
    assessment_date = serializers.DateField(source="assessment.on", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    issued_by = serializers.CharField(source="issued_by.username", read_only=True, default=None)

    class Meta:
        model = Publication
        fields = [
            "id",
            "region",
            "region_name",
            "assessment",
            "assessment_date",
            "tier",
            "tier_name",
            "tier_met",
            "status",
            *TEXT_FIELDS,
            "created_by",
            "created_at",
            "issued_by",
            "issued_at",
        ]
        read_only_fields = fields

    def get_tier_name(self, publication: Publication) -> str:
        return tier_name(publication)

    def get_tier_met(self, publication: Publication) -> bool:
        return tier_met(publication)


class PublicationDetailSerializer(PublicationSerializer):
    """One publication with its document: the table as composed from the figures, the notice
    sentence and the self-check notice of a tier not met."""

    document = serializers.SerializerMethodField()

    class Meta(PublicationSerializer.Meta):
        fields = [*PublicationSerializer.Meta.fields, "document"]
        read_only_fields = fields

    def get_document(self, publication: Publication) -> dict[str, Any]:
        doc = document_for(publication)
        return {
            "title": doc.title,
            "heading": doc.heading,
            "self_check_note": doc.self_check_note,
            "columns": doc.columns,
            "rows": [
                {
                    "category": row.category,
                    "number": row.number,
                    "name": row.name,
                    "definition": row.definition,
                    "requirement": row.requirement,
                    "completion_text": row.completion_text,
                    "verdict": row.verdict,
                }
                for row in doc.rows
            ],
            "notice": doc.notice,
        }


class _Texts(serializers.Serializer):  # type: ignore[type-arg]
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    organiser = serializers.CharField(max_length=200, required=False, allow_blank=True)
    opening = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    notice_start = serializers.DateField(required=False, allow_null=True)
    notice_end = serializers.DateField(required=False, allow_null=True)
    contact = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    closing = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [_("This field cannot be set here.")]
                        for name in unknown  # e.g. status: issuing is its own action
                    }
                )
        return super().to_internal_value(data)


class PublicationCreateSerializer(_Texts):
    assessment = serializers.IntegerField(min_value=1)
    tier = serializers.CharField(max_length=16)


class PublicationTextSerializer(_Texts):
    """The free-text parts of a draft."""
