"""``linli keys generate`` prints fresh keys as environment lines; ``linli keys rotate``
re-encrypts every stored SM4 value that is not under the active key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.utilities import crypto
from linli.utilities.fields import EncryptedCharField


@dataclass
class RotationReport:
    rotated: int = 0
    skipped_concurrent: int = 0
    failed: int = 0
    per_field: dict[str, int] = field(default_factory=dict)


def generate_env_lines() -> list[str]:
    key_id = f"k{date.today():%Y%m%d}{secrets.token_hex(2)}"
    private, public = crypto.sm2_generate_key_pair()
    return [
        f"LINLI_SECRET_KEY={secrets.token_urlsafe(48)}",
        f"LINLI_SM4_KEYS={key_id}:{secrets.token_hex(16)}",
        f"LINLI_SM4_ACTIVE_KEY={key_id}",
        f"LINLI_BLIND_INDEX_KEY={secrets.token_hex(32)}",
        f"LINLI_AUDIT_SIGNING_KEY={private.hex()}",
        f"LINLI_AUDIT_VERIFY_KEY={public.hex()}",
    ]


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedCharField]]:
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedCharField):
                found.append((model, model_field))
    return found


def _rotate_field(
    model: type[models.Model],
    model_field: EncryptedCharField,
    batch_size: int,
    report: RotationReport,
) -> None:
    quote = connection.ops.quote_name
    primary_key = model._meta.pk
    assert primary_key is not None and model_field.column and primary_key.column
    table, column, pk = model._meta.db_table, model_field.column, primary_key.column
    active = crypto.active_key_id()
    current_prefix = f"{crypto.PREFIX}${active}$"
    select = (
        f"SELECT {quote(pk)}, {quote(column)} FROM {quote(table)} "  # noqa: S608 - quoted names
        f"WHERE {quote(pk)} > %s AND {quote(column)} LIKE %s AND {quote(column)} NOT LIKE %s "
        f"ORDER BY {quote(pk)} LIMIT %s"
    )
    update = (
        f"UPDATE {quote(table)} SET {quote(column)} = %s "  # noqa: S608 - quoted names
        f"WHERE {quote(pk)} = %s AND {quote(column)} = %s"
    )
    label = f"{model._meta.label}.{model_field.name}"
    last_pk: Any = 0 if isinstance(primary_key, models.AutoField | models.BigAutoField) else ""
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                select, [last_pk, f"{crypto.PREFIX}$%", current_prefix + "%", batch_size]
            )
            rows = cursor.fetchall()
        if not rows:
            return
        with transaction.atomic():
            for row_pk, stored in rows:
                last_pk = row_pk
                if stored.startswith(current_prefix):
                    continue
                try:
                    fresh = crypto.sm4_encrypt(crypto.sm4_decrypt(stored), active)
                except crypto.DecryptionError:
                    report.failed += 1
                    continue
                with connection.cursor() as cursor:
                    # Compare-and-set: a value rewritten meanwhile already uses the active key,
                    # so losing the race is the right outcome and the newer write survives.
                    cursor.execute(update, [fresh, row_pk, stored])
                    if cursor.rowcount == 1:
                        report.rotated += 1
                        report.per_field[label] = report.per_field.get(label, 0) + 1
                    else:
                        report.skipped_concurrent += 1


def rotate_keys(batch_size: int = 500) -> RotationReport:
    report = RotationReport()
    for model, model_field in encrypted_fields():
        _rotate_field(model, model_field, batch_size, report)
    with transaction.atomic():
        audit.record(
            AuditAction.KEY_ROTATE,
            object_type="crypto.sm4",
            object_repr=f"active key {crypto.active_key_id()}",
            changes={"rotated": str(report.rotated), "failed": str(report.failed)},
            note=", ".join(f"{name}: {count}" for name, count in sorted(report.per_field.items())),
        )
    return report


class Command(BaseCommand):
    help = "Generate keys (linli keys generate) or re-encrypt data under the active key (rotate)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("generate", help="print fresh keys as environment variable lines")
        rotate = sub.add_parser("rotate", help="re-encrypt values whose key is not the active one")
        rotate.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate":
            self.stdout.write(
                "# Fresh keys for Linli. Keep them secret; store them in the environment"
            )
            self.stdout.write(
                "# or in files named by the *_FILE variables. When rotating SM4, append"
            )
            self.stdout.write("# the new entry to the existing LINLI_SM4_KEYS ring, switch")
            self.stdout.write("# LINLI_SM4_ACTIVE_KEY, then run `linli keys rotate`.")
            for line in generate_env_lines():
                self.stdout.write(line)
            return
        report = rotate_keys(batch_size=options["batch_size"])
        for name, count in sorted(report.per_field.items()):
            self.stdout.write(f"{name}: {count} re-encrypted")
        self.stdout.write(
            f"Re-encrypted {report.rotated} values under key {crypto.active_key_id()}; "
            f"{report.skipped_concurrent} changed meanwhile; {report.failed} unreadable."
        )
        if report.failed:
            raise CommandError(
                f"{report.failed} values could not be decrypted (is an old key missing from "
                "LINLI_SM4_KEYS?)"
            )
