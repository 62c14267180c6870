"""The event hub (一切皆事件，发现即处理，全程可视化): one record for every problem, from any
source, with one lifecycle (``lifecycle.py``), time limits per state (``calendar.py``), dispatch
rules, a timeline of steps and the reporter's rating.

Events are placed in the region tree by ``region_code`` (a grid or a community; the code is
denormalised so the gate and the supervision lists are one index range without a join). Staff see
events through the gate; a department's members also see the events dispatched to their
department wherever they lie; residents see their own reports only.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.events.choices import (
    OPEN_STATUSES,
    AttachmentKind,
    CategoryKind,
    DepartmentKind,
    EscalationLevel,
    EventPriority,
    EventSource,
    EventStatus,
    LimitUnit,
    Rating,
    StepAction,
)
from linli.utilities.fields import EncryptedCharField, PersonalCharField
from linli.utilities.scope import ScopedQuerySet, normalise_codes, subtree_q


class Department(models.Model):
    """A unit that handles events: a county department (城管, 派出所, 消防 …), a subdistrict
    office, a community committee, a property or utility company. ``region`` is the area it
    serves: a county-wide department hangs on the county node."""

    region = models.ForeignKey(
        "regions.RegionNode", verbose_name=_("serves"), on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=20, choices=DepartmentKind.choices, default=DepartmentKind.FUNCTIONAL
    )
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("members"),
        blank=True,
        related_name="departments",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["region__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="events_department_unique_name")
        ]
        permissions = [("retire_department", "Can retire a department")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.retired_at is None


class EventCategory(models.Model):
    """A node of the configurable category tree. A child without its own settings takes its
    parent's (``effective``): default department, priority, time limits, required fields."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=CategoryKind.choices, default=CategoryKind.GENERAL
    )
    description = models.TextField(_("description"), blank=True)
    default_department = models.ForeignKey(
        Department,
        verbose_name=_("default department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=EventPriority.choices, default=EventPriority.NORMAL
    )
    limit_unit = models.CharField(
        _("time limit unit"), max_length=10, choices=LimitUnit.choices, default=LimitUnit.HOURS
    )
    # {status: amount} — the time allowed in each state, in ``limit_unit``; a missing state has
    # no limit. Empty means "as the parent".
    limits = models.JSONField(_("time limits"), default=dict, blank=True)
    auto_dispatch = models.BooleanField(_("dispatch automatically"), default=False)
    # Event fields a report of this category must carry: "photo", "position", "house", "phone".
    required_fields = models.JSONField(_("required fields"), default=list, blank=True)
    # Fields of its own: [{"key", "label", "type": text|number|date|choice|bool, "required",
    # "choices": [...]}]. Mediation and enforcement cases keep their parties, amounts … here.
    extra_fields = models.JSONField(_("extra fields"), default=list, blank=True)
    # The named steps of its handling (mediation: 登记, 分类, 调解, 归档); empty for plain events.
    stages = models.JSONField(_("handling stages"), default=list, blank=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("event category")
        verbose_name_plural = _("event categories")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    def lineage(self) -> list[EventCategory]:
        """This category and its ancestors, nearest first."""
        chain: list[EventCategory] = []
        node: EventCategory | None = self
        while node is not None and node not in chain:
            chain.append(node)
            node = node.parent
        return chain

    def effective(self, name: str) -> Any:
        """A setting as it applies: the nearest of this category and its ancestors that sets it."""
        for node in self.lineage():
            value = getattr(node, name)
            if value not in (None, "", [], {}):
                return value
        return getattr(self, name)

    def effective_limits(self) -> tuple[str, dict[str, float]]:
        for node in self.lineage():
            if node.limits:
                return node.limit_unit, {k: float(v) for k, v in node.limits.items()}
        return self.limit_unit, {}


class DispatchRule(models.Model):
    """Routes a category's events in an area to a department; the most specific area wins
    (community over subdistrict over county), then the nearest category up the tree."""

    region = models.ForeignKey(
        "regions.RegionNode", verbose_name=_("area"), on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(
        EventCategory,
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        related_name="dispatch_rules",
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dispatch rule")
        verbose_name_plural = _("dispatch rules")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "category"], name="events_dispatchrule_unique_area_category"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} → {self.department}"


class Holiday(models.Model):
    """A day off that is not a weekend (public holiday), or a weekend day that is worked
    (调休上班). Working-day time limits skip weekends and holidays and count these days."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"), default=False)
    name = models.CharField(_("name"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class EventQuerySet(ScopedQuerySet):
    def open(self) -> EventQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def visible_to(self, user: Any, action: str = "view") -> EventQuerySet:
        """The gate, plus: a department's members see the events dispatched to it, now or
        before, wherever they lie (派出所 handles events of every community)."""
        if not user.is_authenticated:
            return self.none()
        if action != "view" or not user.has_perm("events.handle_event"):
            return super().visible_to(user, action)
        departments = list(
            user.departments.filter(retired_at__isnull=True).values_list("pk", flat=True)
        )
        if not departments:
            return super().visible_to(user, action)
        handled_before = EventStep.objects.filter(event=OuterRef("pk"), department__in=departments)
        reach = Q(department__in=departments) | Q(Exists(handled_before))
        codes = normalise_codes(user.scope_codes())
        if user.has_perm("events.view_event") and codes:
            reach |= reduce(or_, (subtree_q("region_code", code) for code in codes))
        return self.filter(reach)


class Event(models.Model):
    scope_path = "region_code"

    source = models.CharField(_("source"), max_length=20, choices=EventSource.choices)
    category = models.ForeignKey(
        EventCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="events"
    )
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"))
    # Place: the grid or community it lies in, optionally the house, building or compound, and
    # a map position.
    region = models.ForeignKey(
        "regions.RegionNode", verbose_name=_("region"), on_delete=models.PROTECT, related_name="+"
    )
    region_code = models.CharField(_("region code"), max_length=15, editable=False)
    compound = models.ForeignKey(
        "registry.Compound",
        verbose_name=_("compound"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    building = models.ForeignKey(
        "registry.Building",
        verbose_name=_("building"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    house = models.ForeignKey(
        "registry.House",
        verbose_name=_("house"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    address = models.CharField(_("place"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    # Who reported: an account (staff or resident), or a caller of the hotline by name and phone.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reported_events",
    )
    reporter_name = PersonalCharField(_("reporter name"), max_length=50, blank=True)
    reporter_phone = EncryptedCharField(_("reporter phone"), blank=True)
    external_id = models.CharField(_("external number"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True, editable=False)
    token = models.CharField(max_length=36, blank=True, editable=False)
    priority = models.CharField(
        _("priority"), max_length=10, choices=EventPriority.choices, default=EventPriority.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=20, choices=EventStatus.choices, default=EventStatus.REPORTED
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("handling department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handled_events",
    )
    status_changed_at = models.DateTimeField(_("in this state since"), default=timezone.now)
    state_deadline = models.DateTimeField(_("deadline of this state"), null=True, blank=True)
    expected_at = models.DateTimeField(_("expected completion"), null=True, blank=True)
    overdue = models.BooleanField(_("overdue"), default=False)
    overdue_since = models.DateTimeField(_("overdue since"), null=True, blank=True)
    ever_overdue = models.BooleanField(_("was overdue"), default=False)
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation level"), choices=EscalationLevel.choices, default=EscalationLevel.COMMUNITY
    )
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    supervised = models.BooleanField(_("supervised"), default=False)
    # The level above must rule: returned past the limit, or unsatisfied after a reopening.
    needs_ruling = models.BooleanField(_("awaiting a ruling"), default=False)
    return_count = models.PositiveSmallIntegerField(_("returns"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("reopenings"), default=0)
    extension_count = models.PositiveSmallIntegerField(_("extensions"), default=0)
    extension_requested_until = models.DateTimeField(
        _("extension requested until"), null=True, blank=True
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
    )
    stage = models.CharField(_("stage"), max_length=50, blank=True)
    extra = models.JSONField(_("extra fields"), default=dict, blank=True)
    rating = models.CharField(_("rating"), max_length=20, choices=Rating.choices, blank=True)
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed for"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(_("reported"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Optimistic concurrency: every transition names the version it saw; two people acting at
    # once find one version, and the second is told someone was first.
    version = models.PositiveIntegerField(default=0, editable=False)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["region_code", "-created_at"], name="events_region_created"),
            # Statistics and county-wide lists: a date range first (bench/README.md).
            models.Index(fields=["created_at"], name="events_created"),
            models.Index(fields=["status", "state_deadline"], name="events_status_deadline"),
            models.Index(fields=["department", "status"], name="events_department_status"),
            # Open events only: an urged event stays ``supervised`` after it closes, and a
            # county's closed history would otherwise fill the supervision list's index.
            models.Index(
                fields=["region_code", "state_deadline"],
                name="events_supervision",
                condition=(Q(overdue=True) | Q(supervised=True) | Q(needs_ruling=True))
                & Q(status__in=sorted(OPEN_STATUSES)),
            ),
            models.Index(fields=["category", "status"], name="events_category_status"),
            models.Index(fields=["reporter", "-created_at"], name="events_reporter"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="events_event_unique_external_id",
            ),
            models.UniqueConstraint(
                fields=["reporter", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="events_event_unique_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["token"], condition=~Q(token=""), name="events_event_unique_token"
            ),
        ]
        permissions = [
            ("accept_event", "Can accept, reject and merge events"),
            ("dispatch_event", "Can dispatch and transfer events"),
            ("handle_event", "Can sign for and handle events of own department"),
            ("review_event", "Can review and close events"),
            ("supervise_event", "Can urge, escalate and rule on events"),
            ("followup_event", "Can record follow-up calls"),
            ("export_event", "Can export events"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.region_id is not None and not self.region_code:
            self.region_code = self.region.code
        super().save(*args, **kwargs)

    @property
    def number(self) -> str:
        """The number people quote: report date and record id (20261123·0000042)."""
        if self.pk is None:
            return ""
        return f"{timezone.localtime(self.created_at):%Y%m%d}{self.pk:07d}"

    @staticmethod
    def pk_from_number(number: str) -> int | None:
        digits = number.strip()
        if len(digits) < 9 or not digits.isdigit():
            return None
        return int(digits[8:])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class EventStep(models.Model):
    """One entry of an event's timeline: who did what, when, with which note, and how long the
    state it ended took against the time it was allowed."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=20, choices=StepAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_name = models.CharField(_("by"), max_length=100, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    from_status = models.CharField(_("from"), max_length=20, choices=EventStatus.choices)
    to_status = models.CharField(_("to"), max_length=20, choices=EventStatus.choices)
    note = models.TextField(_("note"), blank=True)
    # Shown on the reporter's own timeline (the resident-facing version).
    public = models.BooleanField(_("shown to the reporter"), default=False)
    elapsed_seconds = models.PositiveIntegerField(_("time taken"), null=True, blank=True)
    allowed_seconds = models.PositiveIntegerField(_("time allowed"), null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("event step")
        verbose_name_plural = _("event steps")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["event", "created_at"], name="events_step_event")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.action}"

    @property
    def was_late(self) -> bool:
        return (
            self.elapsed_seconds is not None
            and self.allowed_seconds is not None
            and self.elapsed_seconds > self.allowed_seconds
        )


def attachment_path(instance: EventAttachment, filename: str) -> str:
    now = timezone.now()
    return f"events/{now:%Y/%m}/{instance.sha256[:2]}/{instance.sha256}{_suffix(filename)}"


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    suffix = filename[dot:].lower() if dot >= 0 else ""
    return suffix if len(suffix) <= 6 and suffix[1:].isalnum() else ""


class EventAttachment(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attachments")
    step = models.ForeignKey(
        EventStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=AttachmentKind.choices)
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    public = models.BooleanField(_("shown to the reporter"), default=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.name


# Kept in their own module (the integration interfaces); imported here so Django finds them.
from linli.events.models_integration import (  # noqa: E402, F401
    ExternalReport,
    HotlineDelivery,
)
