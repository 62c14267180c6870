"""Register API (人地物组织): organisations, compounds, buildings (with their floor plan), units,
houses, households, people (exact search, reveal, tags), residences (move in / out), vehicles,
rentals, the tag taxonomy, person tags and the community overview (import and export are in
``api_excel``).

Rows come through the access gate (``ScopedViewSet``): an id outside the caller's scope answers
404 like one that does not exist. Every change goes through ``linli.registry.services``;
personal fields are masked in every response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.accounts.api import PermissionMap
from linli.core.api import ScopedViewSet
from linli.core.errors import NotFoundError
from linli.regions.models import RegionNode
from linli.registry import serializers as s
from linli.registry import services
from linli.registry.filters import (
    BuildingFilter,
    CompoundFilter,
    HouseFilter,
    HouseholdFilter,
    OrganisationFilter,
    PersonFilter,
    PersonTagFilter,
    RentalFilter,
    ResidenceFilter,
    UnitFilter,
    VehicleFilter,
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


def current_tags_prefetch() -> Prefetch[Any]:
    return Prefetch(
        "tag_links",
        queryset=PersonTag.objects.filter(removed_at__isnull=True).select_related("tag"),
        to_attr="current_tags",
    )


def plain_floor_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The service's floor plan without model instances, ready for JSON."""
    building = plan["building"]
    return {
        "building": {
            "id": building.pk,
            "number": building.number,
            "compound": building.compound_id,
        },
        "on": plan["on"],
        "floors": plan["floors"],
        "units": [
            {"id": unit["id"], "number": unit["number"], "floors": unit["floors"]}
            for unit in plan["units"]
        ],
        "houses": plan["houses"],
        "occupants": plan["occupants"],
        "uses": plan["uses"],
    }


class RegisterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """List, fetch, create, partially update and retire one kind of register record.

    Subclasses name the input serializers and the create service; the update and retire go
    through ``services.update_record`` / ``services.retire_record``.
    """

    http_method_names = ["get", "post", "patch", "head", "options"]
    input_class: type[serializers.Serializer] | None = None  # type: ignore[type-arg]
    update_class: type[serializers.Serializer] | None = None  # type: ignore[type-arg]
    create_service: Callable[..., Any] | None = None

    def _fresh(self, obj: Any) -> Any:
        # Read back through the gate with the list's joins, so the answer is shaped the same.
        return self.decorate(type(obj).objects.filter(pk=obj.pk)).get()

    def _respond(self, obj: Any, code: int = status.HTTP_200_OK) -> Response:
        serializer = self.get_serializer(self._fresh(obj))
        return Response(serializer.data, status=code)

    def create(self, request: Request) -> Response:
        assert self.input_class is not None and self.create_service is not None
        body = self.input_class(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        obj = type(self).create_service(request.user, **body.validated_data)  # type: ignore[misc]
        return self._respond(obj, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        update_class = self.update_class or self.input_class
        assert update_class is not None
        body = update_class(data=request.data, partial=True, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        obj = self.apply_update(obj, dict(body.validated_data))
        return self._respond(obj)

    def apply_update(self, obj: Any, values: dict[str, Any]) -> Any:
        if values:
            obj = services.update_record(self.request.user, obj, **values)
        return obj

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        obj = services.retire_record(request.user, self.get_object())
        return self._respond(obj)


class OrganisationViewSet(RegisterViewSet):
    queryset = Organisation.objects.all()
    serializer_class = s.OrganisationSerializer
    filterset_class = OrganisationFilter
    input_class = s.OrganisationInput
    create_service = staticmethod(services.create_organisation)  # type: ignore[assignment]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region")


class CompoundViewSet(RegisterViewSet):
    queryset = Compound.objects.all()
    serializer_class = s.CompoundSerializer
    filterset_class = CompoundFilter
    input_class = s.CompoundInput
    create_service = staticmethod(services.create_compound)  # type: ignore[assignment]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "property_company")


class BuildingViewSet(RegisterViewSet):
    queryset = Building.objects.all()
    serializer_class = s.BuildingSerializer
    filterset_class = BuildingFilter
    input_class = s.BuildingInput
    update_class = s.BuildingUpdate
    create_service = staticmethod(services.create_building)  # type: ignore[assignment]
    action_perm_map = {"floor_plan": "view"}

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "compound")

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The building's floor plan (楼盘表): units × floors from the top floor down.",
    )
    @action(detail=True, methods=["get"], url_path="floor-plan")
    def floor_plan(self, request: Request, pk: str | None = None) -> Response:
        plan = services.floor_plan(request.user, self.get_object())
        return Response(plain_floor_plan(plan))


class UnitViewSet(RegisterViewSet):
    queryset = Unit.objects.all()
    serializer_class = s.UnitSerializer
    filterset_class = UnitFilter
    input_class = s.UnitInput
    update_class = s.UnitUpdate
    create_service = staticmethod(services.create_unit)  # type: ignore[assignment]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region")


class HouseViewSet(RegisterViewSet):
    queryset = House.objects.all()
    serializer_class = s.HouseSerializer
    filterset_class = HouseFilter
    input_class = s.HouseInput
    update_class = s.HouseUpdate
    create_service = staticmethod(services.create_house)  # type: ignore[assignment]
    action_perm_map = {"use": "change"}

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "unit")

    def apply_update(self, obj: Any, values: dict[str, Any]) -> Any:
        # The use has its own rule (set by hand, or null to follow the residences).
        if "use" in values:
            obj = services.set_house_use(self.request.user, obj, values.pop("use"))
        return super().apply_update(obj, values)

    @extend_schema(request=s.HouseUseInput, responses={200: s.HouseSerializer})
    @action(detail=True, methods=["post"])
    def use(self, request: Request, pk: str | None = None) -> Response:
        house = self.get_object()
        body = s.HouseUseInput(data=request.data)
        body.is_valid(raise_exception=True)
        house = services.set_house_use(request.user, house, body.validated_data["use"])
        return self._respond(house)


class HouseholdViewSet(RegisterViewSet):
    queryset = Household.objects.all()
    serializer_class = s.HouseholdSerializer
    filterset_class = HouseholdFilter
    input_class = s.HouseholdInput
    create_service = staticmethod(services.create_household)  # type: ignore[assignment]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "house", "head")


class PersonViewSet(RegisterViewSet):
    queryset = Person.objects.all()
    serializer_class = s.PersonSerializer
    filterset_class = PersonFilter
    input_class = s.PersonInput
    create_service = staticmethod(services.create_person)  # type: ignore[assignment]
    action_perm_map = {
        "search": "view",
        "reveal": "reveal",
        "tag": "tag",
        "untag": "tag",
        "bulk_tag": "tag",
    }

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region").prefetch_related(current_tags_prefetch())

    @extend_schema(request=s.PersonSearchInput, responses={200: s.PersonSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def search(self, request: Request) -> Response:
        """Exact search by ID number or mobile phone through the blind index (POST, so the
        value never lands in a URL or an access log)."""
        body = s.PersonSearchInput(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("id_number"):
            person = services.find_person_by_id_number(
                request.user, body.validated_data["id_number"]
            )
            ids = [person.pk] if person is not None else []
        else:
            found = services.find_people_by_phone(request.user, body.validated_data["phone"])
            ids = [p.pk for p in found]
        rows = self.get_queryset().filter(pk__in=ids)
        return Response(self.get_serializer(rows, many=True).data)

    @extend_schema(
        request=s.RevealInput,
        responses={
            200: inline_serializer(
                "RevealedField",
                {"field": serializers.CharField(), "value": serializers.CharField()},
            )
        },
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str | None = None) -> Response:
        """One personal field in plain text; audited (REVEAL) on every call."""
        person = self.get_object()
        body = s.RevealInput(data=request.data)
        body.is_valid(raise_exception=True)
        field = body.validated_data["field"]
        value = services.reveal_person_field(request.user, person, field)
        response = Response({"field": field, "value": value})
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=s.TagPersonInput, responses={201: s.PersonTagSerializer})
    @action(detail=True, methods=["post"])
    def tag(self, request: Request, pk: str | None = None) -> Response:
        person = self.get_object()
        body = s.TagPersonInput(data=request.data)
        body.is_valid(raise_exception=True)
        link = services.tag_person(
            request.user, person, body.validated_data["tag"], body.validated_data["note"]
        )
        return Response(s.PersonTagSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TagPersonInput, responses={204: None})
    @action(detail=True, methods=["post"])
    def untag(self, request: Request, pk: str | None = None) -> Response:
        person = self.get_object()
        body = s.TagPersonInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.untag_person(request.user, person, body.validated_data["tag"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=s.BulkTagInput,
        responses={200: inline_serializer("BulkTagged", {"tagged": serializers.IntegerField()})},
    )
    @action(detail=False, methods=["post"], url_path="bulk-tag")
    def bulk_tag(self, request: Request) -> Response:
        body = s.BulkTagInput(data=request.data)
        body.is_valid(raise_exception=True)
        ids = set(body.validated_data["people"])
        people = list(Person.objects.visible_to(request.user).active().filter(pk__in=ids))
        if len(people) != len(ids):
            # All or nothing: one id outside the scope refuses the whole request.
            raise NotFoundError(
                "person.not_found",
                _("Some selected people do not exist or are outside your scope."),
            )
        count = services.bulk_tag(request.user, people, body.validated_data["tag"])
        return Response({"tagged": count})


class ResidenceViewSet(RegisterViewSet):
    queryset = Residence.objects.all()
    serializer_class = s.ResidenceSerializer
    filterset_class = ResidenceFilter
    input_class = s.ResidenceInput
    update_class = s.ResidenceUpdate
    action_perm_map = {"move_out": "change"}

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "person", "house")

    @extend_schema(request=s.ResidenceInput, responses={201: s.ResidenceSerializer})
    def create(self, request: Request) -> Response:
        """Move a person into a house (人房关联)."""
        body = s.ResidenceInput(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        residence = services.move_in(
            request.user,
            person=data["person"],
            house=data["house"],
            relation=data["relation"],
            moved_in=data["moved_in"],
            is_primary=data.get("is_primary", True),
            head_relation=data.get("head_relation") or None,
        )
        return self._respond(residence, status.HTTP_201_CREATED)

    @extend_schema(request=s.MoveOutInput, responses={200: s.ResidenceSerializer})
    @action(detail=True, methods=["post"], url_path="move-out")
    def move_out(self, request: Request, pk: str | None = None) -> Response:
        residence = self.get_object()
        body = s.MoveOutInput(data=request.data)
        body.is_valid(raise_exception=True)
        residence = services.move_out(request.user, residence, body.validated_data["moved_out"])
        return self._respond(residence)


class VehicleViewSet(RegisterViewSet):
    queryset = Vehicle.objects.all()
    serializer_class = s.VehicleSerializer
    filterset_class = VehicleFilter
    input_class = s.VehicleInput
    create_service = staticmethod(services.create_vehicle)  # type: ignore[assignment]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "owner", "compound")


class RentalViewSet(RegisterViewSet):
    queryset = Rental.objects.all()
    serializer_class = s.RentalSerializer
    filterset_class = RentalFilter
    input_class = s.RentalInput
    update_class = s.RentalUpdate
    create_service = staticmethod(services.create_rental)  # type: ignore[assignment]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "house").prefetch_related("tenants")


# ---------------------------------------------------------------- tags


class TagCategoryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """The categories of the tag taxonomy; any register reader may read them."""

    queryset = TagCategory.objects.all()
    serializer_class = s.TagCategorySerializer
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {
        "list": "registry.view_person",
        "retrieve": "registry.view_person",
        "create": "registry.change_tag",
    }
    pagination_class = None

    @extend_schema(request=s.TagCategoryInput, responses={201: s.TagCategorySerializer})
    def create(self, request: Request) -> Response:
        body = s.TagCategoryInput(data=request.data)
        body.is_valid(raise_exception=True)
        category = services.create_tag_category(request.user, **body.validated_data)
        return Response(s.TagCategorySerializer(category).data, status=status.HTTP_201_CREATED)


class TagViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    queryset = Tag.objects.select_related("category")
    serializer_class = s.TagSerializer
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_perms = {
        "list": "registry.view_person",
        "retrieve": "registry.view_person",
        "create": "registry.change_tag",
        "partial_update": "registry.change_tag",
    }
    pagination_class = None

    @extend_schema(request=s.TagInput, responses={201: s.TagSerializer})
    def create(self, request: Request) -> Response:
        body = s.TagInput(data=request.data)
        body.is_valid(raise_exception=True)
        tag = services.create_tag(request.user, **body.validated_data)
        return Response(s.TagSerializer(tag).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TagUpdate, responses={200: s.TagSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        tag = self.get_object()
        body = s.TagUpdate(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        tag = services.update_tag(request.user, tag, **body.validated_data)
        return Response(s.TagSerializer(tag).data)


class PersonTagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Tags on people with who tagged and when. Readable with the person's view permission and
    scope; tagging and untagging need ``registry.tag_person``."""

    queryset = PersonTag.objects.all()
    serializer_class = s.PersonTagSerializer
    filterset_class = PersonTagFilter
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {
        "list": "registry.view_person",
        "retrieve": "registry.view_person",
        "create": "registry.tag_person",
        "retire": "registry.tag_person",
    }

    def get_queryset(self) -> Any:
        user: Any = self.request.user
        # PersonTag has no permissions of its own: the person's gate decides.
        if not user.has_perm("registry.view_person"):
            return PersonTag.objects.none()
        return PersonTag.objects.within(user.scope_codes()).select_related(
            "person", "tag", "tagged_by", "removed_by"
        )

    @extend_schema(request=s.PersonTagInput, responses={201: s.PersonTagSerializer})
    def create(self, request: Request) -> Response:
        body = s.PersonTagInput(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        link = services.tag_person(request.user, data["person"], data["tag"], data["note"])
        return Response(s.PersonTagSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.PersonTagSerializer})
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        """Remove the tag from the person; the row stays with who removed it and when."""
        link = self.get_object()
        services.untag_person(request.user, link.person, link.tag)
        return Response(s.PersonTagSerializer(self.get_queryset().get(pk=link.pk)).data)


# ---------------------------------------------------------------- overview


class OverviewViewSet(viewsets.ViewSet):
    """The community overview: people by registration type, age band and gender, the 60+
    share, houses by use and the register's counts, for one region of the caller's scope."""

    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    required_perms = {"list": "registry.view_person"}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "region", str, description="Region code (default: the top of the caller's scope)"
            ),
            OpenApiParameter("on", OpenApiTypes.DATE, description="Ages at this date"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request: Request) -> Response:
        query = s.OverviewQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        regions = RegionNode.objects.visible_to(request.user)
        code = query.validated_data.get("region") or ""
        region = (
            regions.filter(code=code).first()
            if code
            else regions.filter(code__in=request.user.scope_codes()).order_by("code").first()  # type: ignore[union-attr]
        )
        if region is None:
            raise NotFoundError("region.not_found", _("The region does not exist."))
        data = services.community_overview(request.user, region, on=query.validated_data.get("on"))
        data["region"] = {"code": region.code, "name": region.name, "level": region.level}
        return Response(data)


def register(router: DefaultRouter) -> None:
    router.register("registry/organisations", OrganisationViewSet, basename="registry-organisation")
    router.register("registry/compounds", CompoundViewSet, basename="registry-compound")
    router.register("registry/buildings", BuildingViewSet, basename="registry-building")
    router.register("registry/units", UnitViewSet, basename="registry-unit")
    router.register("registry/houses", HouseViewSet, basename="registry-house")
    router.register("registry/households", HouseholdViewSet, basename="registry-household")
    router.register("registry/people", PersonViewSet, basename="registry-person")
    router.register("registry/residences", ResidenceViewSet, basename="registry-residence")
    router.register("registry/vehicles", VehicleViewSet, basename="registry-vehicle")
    router.register("registry/rentals", RentalViewSet, basename="registry-rental")
    router.register("registry/tag-categories", TagCategoryViewSet, basename="registry-tagcategory")
    router.register("registry/tags", TagViewSet, basename="registry-tag")
    router.register("registry/person-tags", PersonTagViewSet, basename="registry-persontag")
    router.register("registry/overview", OverviewViewSet, basename="registry-overview")
