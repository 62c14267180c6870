"""Event hub API: events (list, detail, report, lifecycle steps, timeline, attachments,
duplicates, my reports, the department's queue, supervision), the category tree, departments and
dispatch rules. The 12345 hotline's endpoints live in ``hotline.py`` and are registered here.

Lists come through the gate (``Event.objects.visible_to``). One event is found through the gate,
as a member of its department, or as its reporter (``services.visible_event``); the reporter
gets the resident-facing version. Every change goes through ``services`` or ``config``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from linli.accounts.api import PermissionMap
from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.api import ScopedViewSet
from linli.core.errors import NotFoundError, ServiceError
from linli.events import config, filters, services
from linli.events import serializers as s
from linli.events.choices import EventSource
from linli.events.models import Department, DispatchRule, Event, EventCategory
from linli.utilities.scope import subtree_q

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Up to 64 characters; the same key from the same account answers the event "
    "made the first time (200 instead of 201).",
)


class EventFilter(filters.EventFilter):
    """The event list page's filters (``filters.EventFilter``) for the API, where the user is
    the request's. They only narrow rows that came through the gate."""

    def __init__(
        self,
        data: Any = None,
        queryset: Any = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, queryset, request=request, prefix=prefix, user=request.user)


def _department(pk: Any) -> Department | None:
    return Department.objects.filter(pk=pk).select_related("region").first()


# ---------------------------------------------------------------- events


class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Events. ``list`` is the gate's view of the area; one event is also shown to the members
    of its department and to its reporter (the reporter's version: public steps only)."""

    queryset = Event.objects.all()
    serializer_class = s.EventSerializer
    filterset_class = EventFilter
    lookup_value_regex = r"[0-9]+"
    permission_classes = [permissions.IsAuthenticated, PermissionMap]
    # None: any signed-in account; what it may see or do is the event's question.
    required_perms: dict[str, str | None] = {
        "list": "events.view_event",
        "create": "events.add_event",
        "retrieve": None,
        "transition": None,
        "timeline": None,
        "attachment": None,
        "mine": None,
        "departments": "events.dispatch_event",
        "duplicates": "events.view_event",
        "handling": "events.handle_event",
        "supervision": "events.supervise_event",
    }

    def get_queryset(self) -> Any:
        user: Any = self.request.user
        if self.action == "list":
            return self.decorate(Event.objects.visible_to(user))
        reach = Event.objects.visible_to(user) | Event.objects.filter(reporter=user)
        return self.decorate(Event.objects.filter(pk__in=reach.values("pk")))

    def decorate(self, queryset: Any, *, one: bool | None = None) -> Any:
        queryset = queryset.select_related("category", "region", "department", "handler")
        if self.detail if one is None else one:
            queryset = queryset.select_related("external").prefetch_related("attachments__step")
        return queryset

    def _staff_view(self, event: Event) -> bool:
        """Staff who reach the event through the gate or its department see all of it."""
        return Event.objects.visible_to(self.request.user).filter(pk=event.pk).exists()

    def _detail(self, event: Event, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.decorate(Event.objects.filter(pk=event.pk), one=True).get()
        full = self._staff_view(fresh)
        context = {
            **self.get_serializer_context(),
            "full": full,
            "actions": services.actions_for(self.request.user, fresh),
        }
        return Response(s.EventDetailSerializer(fresh, context=context).data, status=code)

    def _page(self, queryset: Any, *, full: bool = True) -> Response:
        queryset = self.filter_queryset(queryset)
        page = self.paginate_queryset(queryset)
        context = {**self.get_serializer_context(), "full": full}
        data = s.EventSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(responses={200: s.EventDetailSerializer})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._detail(self.get_object())

    @extend_schema(
        request={"application/json": s.EventInput, "multipart/form-data": s.EventInput},
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: s.EventDetailSerializer, 200: s.EventDetailSerializer},
    )
    def create(self, request: Request) -> Response:
        """Report an event (``services.report``). Photos and files as multipart."""
        body = s.EventInput(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user: Any = request.user
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 64:
            raise ServiceError(
                "idempotency_key", _("The Idempotency-Key header is longer than 64 characters.")
            )
        existed = bool(key) and Event.objects.filter(reporter=user, idempotency_key=key).exists()
        started = timezone.now()
        source = data.get("source") or (
            EventSource.GRID if user.has_perm("events.view_event") else EventSource.RESIDENT
        )
        event = services.report(
            user,
            category=data["category"],
            place=services.Place(
                region=data["region"],
                compound=data.get("compound"),
                building=data.get("building"),
                house=data.get("house"),
                address=data["address"],
                latitude=s.coordinate(data["latitude"]),
                longitude=s.coordinate(data["longitude"]),
            ),
            description=data["description"],
            source=source,
            title=data["title"],
            priority=data["priority"],
            reporter_name=data["reporter_name"],
            reporter_phone=data["reporter_phone"],
            photos=data["photos"],
            files=data["files"],
            extra=data["extra"],
            idempotency_key=key,
        )
        repeated = existed or event.created_at < started
        return self._detail(event, status.HTTP_200_OK if repeated else status.HTTP_201_CREATED)

    @extend_schema(
        request={"application/json": s.TransitionInput, "multipart/form-data": s.TransitionInput},
        responses={
            200: s.EventDetailSerializer,
            409: OpenApiResponse(description="Somebody acted on the event first."),
        },
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        """One step of the lifecycle. A stale ``version`` answers 409 and changes nothing."""
        event = self.get_object()
        body = s.TransitionInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        event = services.transition(
            request.user,
            event.pk,
            data["action"],
            version=data["version"],
            note=data["note"],
            department=data["department"],
            handler=data["handler"],
            until=data["until"],
            rating=data["rating"],
            into=data["into"],
            stage=data["stage"],
            files=data["files"],
        )
        return self._detail(event)

    @extend_schema(responses={200: s.StepSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        """Every step for staff; the public steps for the reporter."""
        event = self.get_object()
        full = self._staff_view(event)
        steps = services.timeline(event, public_only=not full)
        return Response(s.StepSerializer(steps, many=True, context={"full": full}).data)

    @extend_schema(
        parameters=[OpenApiParameter("attachment_id", int, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_id>[0-9]+)",
        filter_backends=[],
    )
    def attachment(
        self, request: Request, pk: str | None = None, attachment_id: str | None = None
    ) -> FileResponse:
        """One photo or file; the reporter gets only those shown on their timeline."""
        event = self.get_object()
        found = event.attachments.select_related("step").filter(pk=attachment_id).first()
        if found is not None and not self._staff_view(event):
            shown = found.public and (found.step is None or found.step.public)
            found = found if shown else None
        if found is None:
            raise NotFoundError("not_found", _("The record does not exist."))
        audit.record(
            AuditAction.DOWNLOAD,
            event,
            actor=request.user,
            note=f"event attachment {found.pk}",
        )
        inline = found.content_type.startswith("image/")
        return FileResponse(
            found.file.open("rb"),
            content_type=found.content_type,
            as_attachment=not inline,
            filename=found.name,
        )

    @extend_schema(
        operation_id="events_dispatch_choices",
        responses={200: s.DispatchChoiceSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def departments(self, request: Request, pk: str | None = None) -> Response:
        """The departments this event may be dispatched or transferred to, with their people."""
        event = self.get_object()
        choices = services.departments_for(event).prefetch_related("members")
        return Response(s.DispatchChoiceSerializer(choices, many=True).data)

    @extend_schema(responses={200: s.EventSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def mine(self, request: Request) -> Response:
        """The caller's own reports (residents, integrations), newest first."""
        user: Any = request.user
        return self._page(self.decorate(Event.objects.filter(reporter=user)), full=False)

    @extend_schema(responses={200: s.EventSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def handling(self, request: Request) -> Response:
        """Events now with one of the caller's departments (the department's queue)."""
        user: Any = request.user
        departments = user.departments.filter(retired_at__isnull=True).values("pk")
        return self._page(self.decorate(Event.objects.filter(department__in=departments)))

    @extend_schema(responses={200: s.EventSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def supervision(self, request: Request) -> Response:
        """Open events in the caller's area that need a supervisor, most overdue first."""
        return self._page(self.decorate(services.supervision_list(request.user)))

    @extend_schema(parameters=[s.DuplicatesQuery], responses={200: s.EventSerializer(many=True)})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def duplicates(self, request: Request) -> Response:
        """Open events of the category near a new report (within the radius, or in the same
        building), nearest first — the ones the caller may see."""
        query = s.DuplicatesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        found = services.duplicates_for(
            data["category"],
            data["region"].code,
            latitude=data["latitude"],
            longitude=data["longitude"],
            building=data["building"],
            exclude=data["exclude"],
        )
        ids = [event.pk for event in found]
        visible = {
            event.pk: event
            for event in self.decorate(Event.objects.visible_to(request.user).filter(pk__in=ids))
        }
        rows = [visible[pk] for pk in ids if pk in visible]
        return Response(s.EventSerializer(rows, many=True, context={"full": True}).data)


# ---------------------------------------------------------------- categories


class CategoryViewSet(viewsets.ViewSet):
    """The category tree with each node's settings as they apply (inherited from above)."""

    permission_classes = [permissions.IsAuthenticated]
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def _tree(self) -> list[dict[str, Any]]:
        rows = list(
            EventCategory.objects.filter(is_active=True)
            .select_related("default_department")
            .order_by("sort_order", "code")
        )
        return s.category_tree(rows)

    @extend_schema(responses={200: s.CategorySerializer(many=True)})
    def list(self, request: Request) -> Response:
        return Response(self._tree())

    @extend_schema(
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH)],
        responses={200: s.CategorySerializer},
    )
    def retrieve(self, request: Request, code: str | None = None) -> Response:
        pending = self._tree()
        while pending:
            node = pending.pop()
            if node["code"] == code:
                return Response(node)
            pending.extend(node["children"])
        raise NotFoundError("not_found", _("The category does not exist."))


# ---------------------------------------------------------------- departments and rules


class DepartmentFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(label=gettext_lazy("Region code"), method="filter_region")
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("Status"),
        choices=[("active", gettext_lazy("Active")), ("retired", gettext_lazy("Retired"))],
        method="filter_status",
    )
    q = django_filters.CharFilter(
        label=gettext_lazy("Search"), field_name="name", lookup_expr="icontains"
    )

    class Meta:
        model = Department
        fields = ["region", "status", "kind", "q"]

    def filter_region(self, queryset: QuerySet[Department], name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        return (
            queryset.filter(subtree_q("region__code", value))
            if value.isdigit()
            else queryset.none()
        )

    def filter_status(self, queryset: QuerySet[Department], name: str, value: str) -> Any:
        if value == "retired":
            return queryset.filter(retired_at__isnull=False)
        if value == "active":
            return queryset.filter(retired_at__isnull=True)
        return queryset


class DepartmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Departments serving places in the caller's area; created, changed and retired through
    ``config`` with ``events.*_department``."""

    queryset = Department.objects.all()
    serializer_class = s.DepartmentSerializer
    filterset_class = DepartmentFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region").prefetch_related("members")

    def _respond(self, department: Department, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.decorate(Department.objects.filter(pk=department.pk)).get()
        return Response(s.DepartmentSerializer(fresh).data, status=code)

    @extend_schema(request=s.DepartmentInput, responses={201: s.DepartmentSerializer})
    def create(self, request: Request) -> Response:
        body = s.DepartmentInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        members = data.pop("members")
        with transaction.atomic():
            department = config.create_department(request.user, **data)
            for member in members:
                config.add_member(request.user, department, member)
        return self._respond(department, status.HTTP_201_CREATED)

    @extend_schema(request=s.DepartmentUpdate, responses={200: s.DepartmentSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change the name, kind or phone; ``members`` replaces the whole list."""
        department = self.get_object()
        body = s.DepartmentUpdate(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user: Any = request.user
        with transaction.atomic():
            if {"name", "kind", "phone"} & set(data):
                department = config.update_department(
                    user,
                    department,
                    name=data.get("name", department.name),
                    kind=data.get("kind", department.kind),
                    phone=data.get("phone", department.phone),
                )
            if "members" in data:
                wanted = set(data["members"])
                present = set(department.members.values_list("pk", flat=True))
                for member in sorted(present - wanted):
                    config.remove_member(user, department, member)
                for member in sorted(wanted - present):
                    config.add_member(user, department, member)
        return self._respond(department)

    @extend_schema(request=None, responses={200: s.DepartmentSerializer})
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        department = config.retire_department(request.user, self.get_object())
        return self._respond(department)


class DispatchRuleFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(label=gettext_lazy("Region code"), method="filter_region")
    category = django_filters.CharFilter(
        label=gettext_lazy("Category"), field_name="category__code"
    )

    class Meta:
        model = DispatchRule
        fields = ["region", "category", "department"]

    def filter_region(self, queryset: QuerySet[DispatchRule], name: str, value: str) -> Any:
        value = value.strip()
        if not value:
            return queryset
        return (
            queryset.filter(subtree_q("region__code", value))
            if value.isdigit()
            else queryset.none()
        )


class DispatchRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Dispatch rules (area × category → department) in the caller's area."""

    queryset = DispatchRule.objects.all()
    serializer_class = s.DispatchRuleSerializer
    filterset_class = DispatchRuleFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def decorate(self, queryset: Any) -> Any:
        return queryset.select_related("region", "category", "department").order_by(
            "region__code", "category__code"
        )

    def _respond(self, rule: DispatchRule, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.decorate(DispatchRule.objects.filter(pk=rule.pk)).get()
        return Response(s.DispatchRuleSerializer(fresh).data, status=code)

    @extend_schema(request=s.DispatchRuleInput, responses={201: s.DispatchRuleSerializer})
    def create(self, request: Request) -> Response:
        body = s.DispatchRuleInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        rule = config.save_rule(
            request.user,
            region=data["region"],
            category=data["category"],
            department=_department(data["department"]),  # type: ignore[arg-type]
        )
        return self._respond(rule, status.HTTP_201_CREATED)

    @extend_schema(request=s.DispatchRuleUpdate, responses={200: s.DispatchRuleSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Route the rule's events to another department."""
        rule = self.get_object()
        body = s.DispatchRuleUpdate(data=request.data)
        body.is_valid(raise_exception=True)
        rule = config.save_rule(
            request.user,
            rule,
            region=rule.region,
            category=rule.category,
            department=_department(body.validated_data["department"]),  # type: ignore[arg-type]
        )
        return self._respond(rule)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        """Remove the rule (the audit trail keeps what it said)."""
        config.delete_rule(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router: DefaultRouter) -> None:
    from linli.events import hotline

    router.register("events/categories", CategoryViewSet, basename="events-category")
    router.register("events/departments", DepartmentViewSet, basename="events-department")
    router.register("events/dispatch-rules", DispatchRuleViewSet, basename="events-dispatchrule")
    router.register("events", EventViewSet, basename="events-event")
    router.register("hotline/tickets", hotline.HotlineTicketViewSet, basename="events-hotline")
