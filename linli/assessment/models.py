"""Manual figures of the self-assessment (指标自评), with their evidence.

A figure the platform cannot compute (cameras, deliberations, surveys… until their modules
exist) is entered by a person with its evidence — text and optionally an attachment — and the
period it is valid for. Figures are never edited: a correction is a new figure (the latest valid
one counts) and a wrong one is withdrawn (retired), so every evaluation can be traced to who
entered what, when. Replacing a figure the platform computes is an override, which needs its
own permission and is marked as such.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.assessment.choices import Unit
from linli.utilities.scope import ScopedQuerySet


class ManualFigureQuerySet(ScopedQuerySet):
    def active(self) -> Any:
        return self.filter(retired_at__isnull=True)

    def valid_on(self, on: date) -> Any:
        """Figures whose validity period contains ``on``."""
        return self.filter(valid_from__lte=on).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=on)
        )


class ManualFigure(models.Model):
    region = models.ForeignKey(
        "regions.RegionNode",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    metric = models.CharField(_("metric"), max_length=64)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices)
    # Exactly one of the two holds the value: a number (percent, count, area) or yes/no.
    number = models.DecimalField(_("value"), max_digits=20, decimal_places=6, null=True, blank=True)
    flag = models.BooleanField(_("yes or no"), null=True, blank=True)
    evidence = models.TextField(_("evidence"))
    attachment = models.FileField(
        _("attachment"), upload_to="assessment/evidence/%Y/%m/", blank=True
    )
    is_override = models.BooleanField(_("overrides the platform's figure"), default=False)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    entered_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("entered by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    retired_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("withdrawn by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    retired_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    objects = ManualFigureQuerySet.as_manager()

    class Meta:
        verbose_name = _("manual figure")
        verbose_name_plural = _("manual figures")
        ordering = ["region", "metric", "-entered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(number__isnull=False) & Q(flag__isnull=True))
                | (Q(number__isnull=True) & Q(flag__isnull=False)),
                name="assessment_manualfigure_one_value",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="assessment_manualfigure_valid_period",
            ),
        ]
        indexes = [models.Index(fields=["region", "metric", "valid_from"])]
        permissions = [
            ("retire_manualfigure", "Can withdraw a manual figure"),
            ("override_manualfigure", "Can override a platform figure"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} @ {self.region.code}"

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    @property
    def value(self) -> Any:
        return self.flag if self.flag is not None else self.number


class AssessmentQuerySet(ScopedQuerySet):
    def latest_per_community(self) -> Any:
        """The newest assessment of each community (PostgreSQL and SQLite alike)."""
        newest = (
            self.model.objects.filter(region=models.OuterRef("region"))
            .order_by("-on", "-computed_at", "-id")
            .values("id")[:1]
        )
        return self.filter(id=models.Subquery(newest))


class Assessment(models.Model):
    """A stored evaluation of one community on one date against one version of the standard:
    the county view, its trends and every publication read these, never a live re-evaluation,
    so the figures a verdict rested on stay as they were. ``result`` is
    ``AssessmentResult.as_dict()`` of the highest tier (it lists every tier's verdict)."""

    region = models.ForeignKey(
        "regions.RegionNode",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    on = models.DateField(_("assessment date"))
    standard = models.CharField(_("standard"), max_length=64)
    tier_reached = models.CharField(_("tier reached"), max_length=16, blank=True)
    next_tier = models.CharField(_("next tier"), max_length=16, blank=True)
    gap_count = models.PositiveIntegerField(_("items missing for the next tier"), default=0)
    result = models.JSONField(_("result"))
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)
    computed_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("computed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        ordering = ["region", "-on", "-computed_at", "-id"]
        indexes = [models.Index(fields=["region", "on"])]

    def __str__(self) -> str:
        return f"{self.region.code} {self.on} {self.tier_reached or '-'}"


class PublicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued")


class PublicationQuerySet(ScopedQuerySet):
    pass


class Publication(models.Model):
    """The acceptance publication (验收结果公示) of one community for one tier, built from a
    stored ``Assessment``. The table is composed from the assessment's figures and cannot be
    edited; the free text around it (opening paragraph, notice period, contact lines) is the
    operator's, editable while a draft. Issuing freezes it."""

    region = models.ForeignKey(
        "regions.RegionNode",
        verbose_name=_("community"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    assessment = models.ForeignKey(
        Assessment, verbose_name=_("assessment"), on_delete=models.PROTECT, related_name="+"
    )
    tier = models.CharField(_("tier"), max_length=16)
    title = models.CharField(_("title"), max_length=200)
    organiser = models.CharField(_("organiser"), max_length=200, blank=True)
    opening = models.TextField(_("opening paragraph"), blank=True)
    notice_start = models.DateField(_("notice from"), null=True, blank=True)
    notice_end = models.DateField(_("notice until"), null=True, blank=True)
    contact = models.TextField(_("contact lines"), blank=True)
    closing = models.TextField(_("closing lines"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PublicationStatus.choices,
        default=PublicationStatus.DRAFT,
    )
    created_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    issued_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)

    objects = PublicationQuerySet.as_manager()

    class Meta:
        verbose_name = _("acceptance publication")
        verbose_name_plural = _("acceptance publications")
        ordering = ["region", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(notice_end__isnull=True)
                | Q(notice_start__isnull=True)
                | Q(notice_end__gte=models.F("notice_start")),
                name="assessment_publication_notice_period",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(issued_at__isnull=False),
                name="assessment_publication_issued_has_time",
            ),
        ]
        permissions = [("issue_publication", "Can issue an acceptance publication")]

    def __str__(self) -> str:
        return self.title
