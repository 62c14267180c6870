"""Writing and verifying the audit trail. Every state-changing service calls ``record`` inside
its own transaction, so an entry exists exactly when the change it describes was committed."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.utils import timezone

from linli.audit.choices import AuditAction
from linli.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry
from linli.core.context import current_actor
from linli.utilities import crypto
from linli.utilities.fields import personal_field_names

# Any constant works; it only has to be the same in every process of the installation.
_CHAIN_LOCK_ID = 0x4C494E4C49  # "LINLI"
MASKED = "******"


def _lock_chain() -> None:
    """Serialise appends so two transactions never chain onto the same previous entry."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
    # SQLite runs IMMEDIATE transactions: the write lock is already held here.


def _plain(value: Any) -> Any:
    """Change values as JSON-stable text, so the stored JSON hashes the same after a round trip."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)


def _plain_change(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return _plain(value)


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    names = fields or [f.attname for f in obj._meta.concrete_fields]
    return {name: getattr(obj, name) for name in names}


def changes_between(
    model: type[models.Model], before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """Field-level changes as {field: [old, new]}, personal fields masked."""
    personal = personal_field_names(model) | {name + "_id" for name in personal_field_names(model)}
    changed: dict[str, list[Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name in personal or name.removesuffix("_index") in personal:
            changed[name] = [MASKED if old else "", MASKED if new else ""]
        else:
            changed[name] = [_plain(old), _plain(new)]
    return changed


def record(
    action: AuditAction | str,
    obj: models.Model | None = None,
    *,
    changes: Mapping[str, Any] | None = None,
    note: str = "",
    actor: Any = None,
    actor_name: str | None = None,
    source_ip: str | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    region_code: str = "",
) -> AuditEntry:
    context = current_actor()
    actor = actor if actor is not None else context.user
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
        region_code = region_code or _region_code_of(obj)
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
        entry = AuditEntry(
            seq=(last.seq + 1) if last else 1,
            at=timezone.now(),
            actor=actor,
            actor_name=actor_name if actor_name is not None else _name_of(actor),
            action=str(action),
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr,
            region_code=region_code,
            source_ip=_clean_ip(source_ip or context.source_ip),
            changes={key: _plain_change(value) for key, value in (changes or {}).items()},
            note=note,
            prev_hash=last.hash if last else GENESIS_HASH,
        )
        entry.hash = entry.compute_hash()
        entry.save(force_insert=True)
    return entry


def record_many(
    action: AuditAction | str,
    items: Sequence[tuple[models.Model, Mapping[str, Any] | None]],
    *,
    actor: Any = None,
    note: str = "",
) -> int:
    """One entry per object, chained under a single lock and inserted in one statement: bulk
    work (imports, bulk tagging, key rotation) keeps a per-record history at batch speed."""
    if not items:
        return 0
    context = current_actor()
    actor = actor if actor is not None else context.user
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    actor_name = _name_of(actor)
    source_ip = _clean_ip(context.source_ip)
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
        seq = last.seq if last else 0
        prev_hash = last.hash if last else GENESIS_HASH
        now = timezone.now()
        entries = []
        for obj, changes in items:
            seq += 1
            entry = AuditEntry(
                seq=seq,
                at=now,
                actor=actor,
                actor_name=actor_name,
                action=str(action),
                object_type=obj._meta.label_lower,
                object_id=str(obj.pk),
                object_repr=str(obj)[:200],
                region_code=_region_code_of(obj),
                source_ip=source_ip,
                changes={key: _plain_change(value) for key, value in (changes or {}).items()},
                note=note,
                prev_hash=prev_hash,
            )
            entry.hash = entry.compute_hash()
            prev_hash = entry.hash
            entries.append(entry)
        AuditEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)


def _name_of(actor: Any) -> str:
    if actor is None:
        return "system"
    return str(getattr(actor, "username", actor))


def _clean_ip(value: str | None) -> str | None:
    """The address as the database will give it back (PostgreSQL's inet rewrites IPv6), so the
    hash computed now is the one ``verify_chain`` recomputes later."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _region_code_of(obj: models.Model) -> str:
    """The region the object hangs on, following the model's ``scope_path`` (as the gate does)."""
    value: Any = obj
    for part in str(getattr(obj, "scope_path", "region__code")).split("__"):
        value = getattr(value, part, None)
        if value is None:
            break
    code = value if value is not None else getattr(obj, "code", None)
    return str(code) if code and str(code).isdigit() else ""


def _key_fingerprint() -> str:
    return crypto.sm3_hex(settings.LINLI_AUDIT_VERIFY_KEY)[:16]


def create_checkpoint() -> AuditCheckpoint | None:
    """Sign the chain's current length and head; nothing to do when nothing was appended."""
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
        if last is None:
            return None
        previous = AuditCheckpoint.objects.order_by("-seq").first()
        if previous is not None and previous.seq >= last.seq:
            return None
        checkpoint = AuditCheckpoint(
            created_at=timezone.now(),
            seq=last.seq,
            head_hash=last.hash,
            key_fingerprint=_key_fingerprint(),
        )
        checkpoint.signature = crypto.sm2_sign(
            settings.LINLI_AUDIT_SIGNING_KEY, settings.LINLI_AUDIT_VERIFY_KEY, checkpoint.message()
        ).hex()
        checkpoint.save(force_insert=True)
        return checkpoint


@dataclass
class Verification:
    ok: bool = True
    entries: int = 0
    checkpoints: int = 0
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, problem: str, seq: int | None = None, entry_id: int | None = None) -> None:
        if self.ok:
            self.first_bad_seq = seq
            self.first_bad_id = entry_id
        self.ok = False
        self.problems.append(problem)


def verify_chain(batch_size: int = 5000) -> Verification:
    """Recompute every hash and link, then check every checkpoint's signature and head."""
    result = Verification()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    heads: dict[int, tuple[str, int]] = {}
    checkpoints = list(AuditCheckpoint.objects.order_by("seq", "id"))
    wanted = {cp.seq for cp in checkpoints}
    # Ordered by primary key, the order of insertion: a reordered seq shows up as a gap.
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=batch_size):
        result.entries += 1
        if entry.seq != expected_seq:
            result.fail(
                f"entry id {entry.id}: sequence {entry.seq}, expected {expected_seq} "
                "(entries removed or reordered)",
                entry.seq,
                entry.id,
            )
        if entry.prev_hash != prev_hash:
            result.fail(
                f"entry #{entry.seq} (id {entry.id}): link to the previous entry is broken",
                entry.seq,
                entry.id,
            )
        if entry.compute_hash() != entry.hash:
            result.fail(
                f"entry #{entry.seq} (id {entry.id}): content does not match its hash "
                "(changed after it was written)",
                entry.seq,
                entry.id,
            )
        if entry.seq in wanted:
            heads[entry.seq] = (entry.hash, entry.id)
        prev_hash = entry.hash
        expected_seq = entry.seq + 1
    last_seq = expected_seq - 1
    public_key = settings.LINLI_AUDIT_VERIFY_KEY
    for cp in checkpoints:
        result.checkpoints += 1
        if not crypto.sm2_verify(public_key, cp.message(), bytes.fromhex(cp.signature)):
            result.fail(f"checkpoint {cp.id} at #{cp.seq}: signature is not valid", cp.seq)
        if cp.seq > last_seq:
            result.fail(
                f"checkpoint {cp.id} vouches for {cp.seq} entries but only {last_seq} exist "
                "(the tail was removed)",
                last_seq + 1,
            )
        else:
            head_hash, head_id = heads.get(cp.seq, ("", None))
            if head_hash != cp.head_hash:
                result.fail(
                    f"checkpoint {cp.id}: entry #{cp.seq} is not the one it signed", cp.seq, head_id
                )
    return result


VERIFICATION_CACHE_KEY = "linli:audit:verification"
VERIFICATION_CACHE_SECONDS = 300


@dataclass
class VerificationStatus:
    """A verification result as shown on the audit pages, with when it was computed."""

    ok: bool
    entries: int
    checkpoints: int
    first_bad_seq: int | None
    first_bad_id: int | None
    problems: list[str]
    checked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat()
        return data


def verification_status(*, refresh: bool = False, actor: Any = None) -> VerificationStatus:
    """The last verification (kept a few minutes: a full pass reads every entry), or a new one.

    A requested re-run is itself audited (AuditAction.VERIFY) in the same transaction.
    """
    if not refresh:
        cached = cache.get(VERIFICATION_CACHE_KEY)
        if isinstance(cached, VerificationStatus):
            return cached
    result = verify_chain()
    status = VerificationStatus(
        ok=result.ok,
        entries=result.entries,
        checkpoints=result.checkpoints,
        first_bad_seq=result.first_bad_seq,
        first_bad_id=result.first_bad_id,
        problems=result.problems[:50],
        checked_at=timezone.now(),
    )
    if refresh:
        with transaction.atomic():
            record(
                AuditAction.VERIFY,
                actor=actor,
                object_type="audit.auditentry",
                object_repr="audit trail",
                note=(
                    f"intact: {result.entries} entries, {result.checkpoints} checkpoints"
                    if result.ok
                    else f"broken at #{result.first_bad_seq} (id {result.first_bad_id}): "
                    f"{len(result.problems)} problems"
                ),
            )
    cache.set(VERIFICATION_CACHE_KEY, status, VERIFICATION_CACHE_SECONDS)
    return status


def request_verification(actor: Any) -> VerificationStatus:
    """A re-run asked for by the audit administrator: needs the verify permission."""
    from django.utils.translation import gettext as _

    from linli.core.errors import PermissionDeniedError

    if not actor.has_perm("audit.verify_auditentry"):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )
    return verification_status(refresh=True, actor=actor)
