"""What the event hub keeps about the systems it talks to: how an event came in from another
system (an Open311 client or the 12345 hotline platform), and the status updates owed to the
12345 platform's callback.

Neither model is placed in the region tree on its own: both are read through their event, which
goes through the gate.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExternalChannel(models.TextChoices):
    OPEN311 = "open311", _("Open311 client")
    HOTLINE = "hotline", _("12345 hotline")


class ExternalReport(models.Model):
    """What another system sent with a report that the event itself does not keep: the Open311
    client's account id and media link, the hotline's deadline hint (办结时限)."""

    event = models.OneToOneField(
        "events.Event", on_delete=models.CASCADE, related_name="external", primary_key=True
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ExternalChannel.choices)
    account_ref = models.CharField(_("account in the other system"), max_length=64, blank=True)
    media_url = models.URLField(_("media link"), max_length=500, blank=True)
    deadline = models.DateTimeField(_("deadline given by the other system"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("external report")
        verbose_name_plural = _("external reports")

    def __str__(self) -> str:
        return f"{self.channel} {self.event_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Given up")


class HotlineDelivery(models.Model):
    """One status update owed to the 12345 platform (``LINLI_HOTLINE_CALLBACK_URL``). Kept with
    its attempts, so a failed push is retried in order and the record shows what was sent when."""

    event = models.ForeignKey(
        "events.Event", on_delete=models.CASCADE, related_name="hotline_deliveries"
    )
    step = models.ForeignKey(
        "events.EventStep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("hotline status update")
        verbose_name_plural = _("hotline status updates")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="events_hotline_due",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.status}"
