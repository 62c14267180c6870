"""The administrative region tree: province → city → county → subdistrict → community → grid.

Every record of the platform hangs on one node; a user's data scope is one or more subtrees.
The official code is the materialised path (a child's code extends its parent's).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.regions.choices import RegionLevel
from linli.utilities.scope import ScopedQuerySet


class RegionNodeQuerySet(ScopedQuerySet):
    def active(self) -> RegionNodeQuerySet:
        return self.filter(retired_at__isnull=True)

    def subtree(self, code: str) -> RegionNodeQuerySet:
        return self.within([code])

    def of_level(self, level: str) -> RegionNodeQuerySet:
        return self.filter(level=level)


class RegionNode(models.Model):
    scope_path = "code"

    code = models.CharField(_("code"), max_length=15, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    objects = RegionNodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"])]
        permissions = [
            ("retire_regionnode", "Can retire a region"),
            ("export_regionnode", "Can export regions"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    def ancestor_codes(self) -> list[str]:
        from linli.regions.choices import CODE_LENGTH

        return [self.code[:n] for n in CODE_LENGTH.values() if n < len(self.code)]

    def ancestors(self) -> models.QuerySet[RegionNode]:
        return RegionNode.objects.filter(code__in=self.ancestor_codes()).order_by("code")

    def path_names(self) -> str:
        return " / ".join([a.name for a in self.ancestors()] + [self.name])

    def descendants(self) -> RegionNodeQuerySet:
        return RegionNode.objects.subtree(self.code).exclude(pk=self.pk)

    def natural_key(self) -> tuple[Any, ...]:
        return (self.code,)
