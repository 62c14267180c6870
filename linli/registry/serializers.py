"""Serializers of the register's API.

Output serializers mask personal data by default (name 张*, ID 370102********1234, phone
138****5678); the plain value only comes from the audited ``reveal`` action. Input serializers
only parse: every reference is looked up through the access gate (outside the scope it does not
exist, and nothing is written) and the services hold the rules.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from linli.accounts.api import ScopedRegionField
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
from linli.registry.models import (
    Building,
    Compound,
    House,
    Household,
    Organisation,
    Person,
    PersonTag,
    Rental,
    Residence,
    Tag,
    TagCategory,
    Unit,
    Vehicle,
)
from linli.utilities.masking import mask_id_number, mask_name, mask_phone

OUT_OF_SCOPE = _("The record does not exist or is outside your scope.")
REGISTER_FIELDS = ["region", "region_name", "is_active", "created_at", "updated_at", "retired_at"]


@extend_schema_field(OpenApiTypes.INT)
class ScopedRecordField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A reference by record id, only to active records the requesting user may see."""

    default_error_messages = {
        "does_not_exist": OUT_OF_SCOPE,
        "incorrect_type": _("Enter a record number."),
    }

    def __init__(self, model: type[Any], **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        request = self.context["request"]
        return self.model.objects.visible_to(request.user).active()


class MaskedName(serializers.CharField):
    """A person's name, masked (张*)."""

    def to_representation(self, value: Any) -> str:
        return mask_name(str(value or ""))


class RegisterSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    region: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    region_name = serializers.CharField(source="region.name", read_only=True)
    is_active = serializers.BooleanField(read_only=True)


class OrganisationSerializer(RegisterSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    contact_name = MaskedName(read_only=True)
    contact_phone = serializers.SerializerMethodField(help_text="Masked.")

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "credit_code",
            "address",
            "contact_name",
            "contact_phone",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_contact_phone(self, obj: Organisation) -> str:
        return mask_phone(obj.contact_phone or "")


class CompoundSerializer(RegisterSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    property_company_name = serializers.CharField(
        source="property_company.name", read_only=True, default=None
    )

    class Meta:
        model = Compound
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "property_company",
            "property_company_name",
            "address",
            "latitude",
            "longitude",
            "area_m2",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields


class BuildingSerializer(RegisterSerializer):
    compound_name = serializers.CharField(source="compound.name", read_only=True)

    class Meta:
        model = Building
        fields = [
            "id",
            "compound",
            "compound_name",
            "number",
            "floors_above",
            "floors_below",
            "is_residential",
            "has_elevator",
            "latitude",
            "longitude",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields


class UnitSerializer(RegisterSerializer):
    class Meta:
        model = Unit
        fields = ["id", "building", "number", *REGISTER_FIELDS]
        read_only_fields = fields


class HouseSerializer(RegisterSerializer):
    use_label = serializers.CharField(source="get_use_display", read_only=True)
    unit_number = serializers.CharField(source="unit.number", read_only=True)

    class Meta:
        model = House
        fields = [
            "id",
            "building",
            "unit",
            "unit_number",
            "number",
            "floor",
            "area_m2",
            "use",
            "use_label",
            "use_is_explicit",
            "has_gigabit",
            "has_cable_tv",
            "has_remote_water_meter",
            "has_remote_electricity_meter",
            "has_remote_gas_meter",
            "address",
            "address_code",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields


class HouseholdSerializer(RegisterSerializer):
    house_address = serializers.CharField(source="house.address", read_only=True, default=None)
    head_name = MaskedName(source="head.name", read_only=True, default="")

    class Meta:
        model = Household
        fields = ["id", "number", "house", "house_address", "head", "head_name", *REGISTER_FIELDS]
        read_only_fields = fields


class PersonSerializer(RegisterSerializer):
    name = MaskedName(read_only=True)
    id_number = serializers.SerializerMethodField(help_text="Masked; reveal it with reveal.")
    phone = serializers.SerializerMethodField(help_text="Masked; reveal it with reveal.")
    gender_label = serializers.CharField(source="get_gender_display", read_only=True)
    age = serializers.SerializerMethodField()
    age_band = serializers.SerializerMethodField()
    registration_type_label = serializers.CharField(
        source="get_registration_type_display", read_only=True
    )
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Person
        # No birth date: it is the middle of the ID number, which stays masked.
        fields = [
            "id",
            "name",
            "id_number",
            "phone",
            "gender",
            "gender_label",
            "age",
            "age_band",
            "registration_type",
            "registration_type_label",
            "ethnicity",
            "education",
            "employment",
            "political_status",
            "is_party_member",
            "household",
            "head_relation",
            "tags",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_id_number(self, obj: Person) -> str:
        return mask_id_number(obj.id_number or "")

    @extend_schema_field(OpenApiTypes.STR)
    def get_phone(self, obj: Person) -> str:
        return mask_phone(obj.phone or "")

    @extend_schema_field(OpenApiTypes.INT)
    def get_age(self, obj: Person) -> int | None:
        return obj.age()

    @extend_schema_field(OpenApiTypes.STR)
    def get_age_band(self, obj: Person) -> str:
        return obj.age_band()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, obj: Person) -> list[str]:
        links = getattr(obj, "current_tags", None)
        if links is None:
            links = obj.tag_links.filter(removed_at__isnull=True).select_related("tag")
        return [link.tag.code for link in links]


class ResidenceSerializer(RegisterSerializer):
    person_name = MaskedName(source="person.name", read_only=True)
    house_address = serializers.CharField(source="house.address", read_only=True)
    relation_label = serializers.CharField(source="get_relation_display", read_only=True)

    class Meta:
        model = Residence
        fields = [
            "id",
            "person",
            "person_name",
            "house",
            "house_address",
            "relation",
            "relation_label",
            "is_primary",
            "moved_in",
            "moved_out",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields


class VehicleSerializer(RegisterSerializer):
    owner_name = MaskedName(source="owner.name", read_only=True, default="")
    compound_name = serializers.CharField(source="compound.name", read_only=True, default=None)

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "plate",
            "owner",
            "owner_name",
            "compound",
            "compound_name",
            "description",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields


class RentalSerializer(RegisterSerializer):
    house_address = serializers.CharField(source="house.address", read_only=True)
    tenants = serializers.SerializerMethodField()

    class Meta:
        model = Rental
        fields = [
            "id",
            "house",
            "house_address",
            "tenants",
            "mode",
            "channel",
            "monthly_rent",
            "start",
            "end",
            *REGISTER_FIELDS,
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_tenants(self, obj: Rental) -> list[int]:
        return [person.pk for person in obj.tenants.all()]


class TagCategorySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = TagCategory
        fields = ["id", "code", "name", "order", "is_active"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    category: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    category_name = serializers.CharField(source="category.name", read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "category", "category_name", "code", "name", "order", "is_active"]
        read_only_fields = fields


class PersonTagSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    person_name = MaskedName(source="person.name", read_only=True)
    tag: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    tag_name = serializers.CharField(source="tag.name", read_only=True)
    tagged_by = serializers.CharField(source="tagged_by.username", read_only=True, default=None)
    removed_by = serializers.CharField(source="removed_by.username", read_only=True, default=None)

    class Meta:
        model = PersonTag
        fields = [
            "id",
            "person",
            "person_name",
            "tag",
            "tag_name",
            "note",
            "tagged_by",
            "tagged_at",
            "removed_by",
            "removed_at",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------- input


def _decimal(max_digits: int, decimal_places: int = 2, **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=max_digits, decimal_places=decimal_places, allow_null=True, **kwargs
    )


class OrganisationInput(serializers.Serializer):  # type: ignore[type-arg]
    region = ScopedRegionField()
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=OrganisationKind.choices)
    credit_code = serializers.CharField(max_length=18, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)


class CompoundInput(serializers.Serializer):  # type: ignore[type-arg]
    region = ScopedRegionField()
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=CompoundKind.choices, required=False)
    property_company = ScopedRecordField(Organisation, required=False, allow_null=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    latitude = _decimal(9, 6, required=False)
    longitude = _decimal(9, 6, required=False)
    area_m2 = _decimal(12, required=False, min_value=0)


class BuildingInput(serializers.Serializer):  # type: ignore[type-arg]
    compound = ScopedRecordField(Compound)
    number = serializers.CharField(max_length=20)
    floors_above = serializers.IntegerField(min_value=1, max_value=200)
    floors_below = serializers.IntegerField(min_value=0, max_value=20, required=False)
    is_residential = serializers.BooleanField(required=False)
    has_elevator = serializers.BooleanField(required=False)
    units = serializers.IntegerField(min_value=1, max_value=50, required=False)
    latitude = _decimal(9, 6, required=False)
    longitude = _decimal(9, 6, required=False)


class BuildingUpdate(BuildingInput):
    compound = None  # type: ignore[assignment]
    units = None  # type: ignore[assignment]


class UnitInput(serializers.Serializer):  # type: ignore[type-arg]
    building = ScopedRecordField(Building)
    number = serializers.CharField(max_length=20)


class UnitUpdate(UnitInput):
    building = None  # type: ignore[assignment]


class HouseInput(serializers.Serializer):  # type: ignore[type-arg]
    unit = ScopedRecordField(Unit)
    number = serializers.CharField(max_length=20)
    floor = serializers.IntegerField(min_value=-20, max_value=200)
    area_m2 = _decimal(8, required=False, min_value=0)
    use = serializers.ChoiceField(choices=HouseUse.choices, required=False, allow_null=True)
    has_gigabit = serializers.BooleanField(required=False)
    has_cable_tv = serializers.BooleanField(required=False)
    has_remote_water_meter = serializers.BooleanField(required=False)
    has_remote_electricity_meter = serializers.BooleanField(required=False)
    has_remote_gas_meter = serializers.BooleanField(required=False)


class HouseUpdate(HouseInput):
    unit = None  # type: ignore[assignment]


class PersonInput(serializers.Serializer):  # type: ignore[type-arg]
    region = ScopedRegionField()
    name = serializers.CharField(max_length=50)
    id_number = serializers.CharField(max_length=18, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    registration_type = serializers.ChoiceField(choices=RegistrationType.choices, required=False)
    ethnicity = serializers.CharField(max_length=20, required=False, allow_blank=True)
    education = serializers.ChoiceField(choices=Education.choices, required=False)
    employment = serializers.ChoiceField(choices=Employment.choices, required=False)
    political_status = serializers.ChoiceField(choices=PoliticalStatus.choices, required=False)
    is_party_member = serializers.BooleanField(required=False)


class HouseholdInput(serializers.Serializer):  # type: ignore[type-arg]
    region = ScopedRegionField()
    number = serializers.CharField(max_length=30)
    house = ScopedRecordField(House, required=False, allow_null=True)
    head = ScopedRecordField(Person, required=False, allow_null=True)


class ResidenceInput(serializers.Serializer):  # type: ignore[type-arg]
    person = ScopedRecordField(Person)
    house = ScopedRecordField(House)
    relation = serializers.ChoiceField(choices=ResidenceRelation.choices)
    moved_in = serializers.DateField()
    is_primary = serializers.BooleanField(required=False, default=True)
    head_relation = serializers.ChoiceField(
        choices=HeadRelation.choices, required=False, allow_null=True
    )


class ResidenceUpdate(serializers.Serializer):  # type: ignore[type-arg]
    relation = serializers.ChoiceField(choices=ResidenceRelation.choices, required=False)
    is_primary = serializers.BooleanField(required=False)
    moved_in = serializers.DateField(required=False)


class MoveOutInput(serializers.Serializer):  # type: ignore[type-arg]
    moved_out = serializers.DateField()


class VehicleInput(serializers.Serializer):  # type: ignore[type-arg]
    region = ScopedRegionField()
    plate = serializers.CharField(max_length=10)
    owner = ScopedRecordField(Person, required=False, allow_null=True)
    compound = ScopedRecordField(Compound, required=False, allow_null=True)
    description = serializers.CharField(max_length=100, required=False, allow_blank=True)


class RentalInput(serializers.Serializer):  # type: ignore[type-arg]
    house = ScopedRecordField(House)
    tenants = ScopedRecordField(Person, many=True)
    mode = serializers.ChoiceField(choices=RentalMode.choices)
    channel = serializers.ChoiceField(choices=RentalChannel.choices)
    monthly_rent = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)  # type: ignore[arg-type]
    start = serializers.DateField()
    end = serializers.DateField(required=False, allow_null=True)


class RentalUpdate(RentalInput):
    house = None  # type: ignore[assignment]


class HouseUseInput(serializers.Serializer):  # type: ignore[type-arg]
    use = serializers.ChoiceField(choices=HouseUse.choices, allow_null=True)


class PersonSearchInput(serializers.Serializer):  # type: ignore[type-arg]
    id_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("id_number")) == bool(attrs.get("phone")):
            raise serializers.ValidationError(_("Give either an ID number or a mobile phone."))
        return attrs


class RevealInput(serializers.Serializer):  # type: ignore[type-arg]
    field = serializers.ChoiceField(choices=["id_number", "phone"])


class TagPersonInput(serializers.Serializer):  # type: ignore[type-arg]
    tag: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", queryset=Tag.objects.filter(is_active=True)
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class PersonTagInput(TagPersonInput):
    person = ScopedRecordField(Person)


class BulkTagInput(serializers.Serializer):  # type: ignore[type-arg]
    tag: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", queryset=Tag.objects.filter(is_active=True)
    )
    people = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1)


class TagCategoryInput(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=50)


class TagInput(serializers.Serializer):  # type: ignore[type-arg]
    category: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", queryset=TagCategory.objects.all()
    )
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=50)


class TagUpdate(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=50, required=False)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    is_active = serializers.BooleanField(required=False)


class OverviewQuery(serializers.Serializer):  # type: ignore[type-arg]
    region = serializers.CharField(max_length=15, required=False)
    on = serializers.DateField(required=False)
