"""Vocabularies of the event hub (一切皆事件). Values are stable codes; labels are shown."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventSource(models.TextChoices):
    GRID = "grid", _("Grid worker")
    RESIDENT = "resident", _("Resident")
    DEVICE = "device", _("Device alarm")
    HOTLINE = "hotline", _("12345 hotline")
    PATROL = "patrol", _("Patrol")
    INSPECTION = "inspection", _("Inspection")
    WINDOW = "window", _("Service window")
    OPEN311 = "open311", _("Open311 client")


class EventStatus(models.TextChoices):
    REPORTED = "reported", _("Reported")
    ACCEPTED = "accepted", _("Accepted")
    DISPATCHED = "dispatched", _("Dispatched")
    SIGNED_FOR = "signed_for", _("Being handled")
    HANDLED = "handled", _("Handled")
    REVIEWED = "reviewed", _("Reviewed")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    MERGED = "merged", _("Merged")


OPEN_STATUSES = frozenset(
    {
        EventStatus.REPORTED,
        EventStatus.ACCEPTED,
        EventStatus.DISPATCHED,
        EventStatus.SIGNED_FOR,
        EventStatus.HANDLED,
        EventStatus.REVIEWED,
    }
)
FINAL_STATUSES = frozenset({EventStatus.CLOSED, EventStatus.REJECTED, EventStatus.MERGED})
# The states that carry a time limit of their own, in lifecycle order.
TIMED_STATUSES = (
    EventStatus.REPORTED,
    EventStatus.ACCEPTED,
    EventStatus.DISPATCHED,
    EventStatus.SIGNED_FOR,
    EventStatus.HANDLED,
    EventStatus.REVIEWED,
)


class EventPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class CategoryKind(models.TextChoices):
    GENERAL = "general", _("General event")
    MEDIATION = "mediation", _("Dispute mediation")
    ENFORCEMENT = "enforcement", _("Integrated enforcement case")


class LimitUnit(models.TextChoices):
    HOURS = "hours", _("Hours")
    WORKDAYS = "workdays", _("Working days")


class DepartmentKind(models.TextChoices):
    FUNCTIONAL = "functional", _("Functional department")
    SUBDISTRICT = "subdistrict", _("Subdistrict office")
    COMMUNITY = "community", _("Community committee")
    PROPERTY = "property", _("Property company")
    UTILITY = "utility", _("Utility company")
    OTHER = "other", _("Other")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASICALLY = "basically_satisfied", _("Basically satisfied")
    UNSATISFIED = "unsatisfied", _("Unsatisfied")


class EscalationLevel(models.IntegerChoices):
    COMMUNITY = 0, _("Community")
    SUBDISTRICT = 1, _("Subdistrict")
    COUNTY = 2, _("County")


class StepAction(models.TextChoices):
    REPORT = "report", _("Reported")
    ACCEPT = "accept", _("Accepted")
    REJECT = "reject", _("Rejected")
    DISPATCH = "dispatch", _("Dispatched")
    TRANSFER = "transfer", _("Transferred")
    SIGN = "sign", _("Signed for")
    RETURN = "return", _("Returned")
    REQUEST_EXTENSION = "request_extension", _("Extension requested")
    APPROVE_EXTENSION = "approve_extension", _("Extension approved")
    DENY_EXTENSION = "deny_extension", _("Extension refused")
    PROGRESS = "progress", _("Progress")
    HANDLE = "handle", _("Handled")
    REVIEW = "review", _("Reviewed")
    SEND_BACK = "send_back", _("Sent back for handling")
    CLOSE = "close", _("Closed")
    RATE = "rate", _("Rated")
    FOLLOW_UP = "follow_up", _("Follow-up call")
    REOPEN = "reopen", _("Reopened")
    CONFIRM_CLOSE = "confirm_close", _("Closure confirmed")
    URGE = "urge", _("Urged")
    OVERDUE = "overdue", _("Overdue")
    ESCALATE = "escalate", _("Escalated")
    MERGE = "merge", _("Merged")
    MERGED_IN = "merged_in", _("Duplicate merged in")
    COMMENT = "comment", _("Note")


class AttachmentKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    FILE = "file", _("File")
