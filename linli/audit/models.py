"""The audit trail: append-only, SM3 hash-chained entries and SM2-signed checkpoints.

The database refuses UPDATE, DELETE and TRUNCATE on both tables (triggers installed by the
migrations, see ``linli.audit.protection``); the chain and the checkpoints make any change
that gets past the database detectable by ``linli audit verify``.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.audit.choices import AuditAction
from linli.utilities.crypto import sm3_hex

GENESIS_HASH = "0" * 64


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def for_object(self, obj: models.Model) -> AuditEntryQuerySet:
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


class AuditEntry(models.Model):
    seq = models.PositiveBigIntegerField(_("sequence"), unique=True)
    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        # Entries outlive accounts and must never cascade or block: no database constraint.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        # No query looks entries up by account id (the pages search the stored name).
        db_index=False,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    region_code = models.CharField(_("region code"), max_length=15, blank=True)
    source_ip = models.GenericIPAddressField(_("source address"), null=True, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)
    prev_hash = models.CharField(max_length=64)
    # Not a unique index: the hash covers the unique seq, so two equal hashes would take an
    # SM3 collision, and an index of random values is the dearest one to append to.
    hash = models.CharField(max_length=64)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-seq"]
        # Every index is paid for by every append (an import writes one entry per record), so
        # only what a query needs: seq (unique) for the chain's head, the list order and the
        # neighbours of an entry; a record's history (object type and id); the audit pages'
        # filters by action and by time. Verification walks the primary key.
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["action", "at"]),
        ]
        permissions = [("verify_auditentry", "Can verify the audit trail")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_repr}"

    def content(self) -> dict[str, Any]:
        """Everything the hash covers, in a form that survives a round trip through the DB."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "region_code": self.region_code,
            "source_ip": self.source_ip,
            "changes": self.changes,
            "note": self.note,
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(
            self.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return sm3_hex((self.prev_hash + canonical).encode("utf-8"))


class AuditCheckpoint(models.Model):
    """A signed statement of the chain's length and head, so a removed tail is detected too."""

    created_at = models.DateTimeField(_("time"))
    seq = models.PositiveBigIntegerField(_("chain length"))
    head_hash = models.CharField(_("head hash"), max_length=64)
    key_fingerprint = models.CharField(_("key fingerprint"), max_length=64)
    signature = models.CharField(_("signature"), max_length=256)

    class Meta:
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        ordering = ["-seq", "-id"]

    def __str__(self) -> str:
        return f"checkpoint {self.seq}"

    def message(self) -> bytes:
        stamp = self.created_at.isoformat(timespec="microseconds")
        return f"linli-audit-checkpoint|{self.seq}|{self.head_hash}|{stamp}".encode()
