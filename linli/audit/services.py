"""Writing and verifying the audit trail. Every state-changing service calls ``record`` inside
its own transaction, so an entry exists exactly when the change it describes was committed."""

from __future__ import annotations

import functools
import ipaddress
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.utils import timezone

from linli.audit.choices import AuditAction
from linli.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry
from linli.core.context import current_actor
from linli.core.jobs import background, enqueue
from linli.utilities import crypto
from linli.utilities.bulk import RowWriter
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


# Values ``_plain`` keeps as they are, by exact type (a subclass goes through ``_plain``).
_KEPT_TYPES = frozenset({type(None), bool, str})


def _plain_change(value: Any) -> Any:
    kind = type(value)
    if kind is list or kind is tuple:
        # Bulk work passes thousands of [old, new] pairs that are plain already.
        return [item if type(item) in _KEPT_TYPES else _plain(item) for item in value]
    return value if kind in _KEPT_TYPES else _plain(value)


def _plain_changes(changes: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``changes`` with every value ``_plain_change``d; as it is when the values are [old, new]
    pairs of plain values already (what bulk work passes), which is checked, not assumed."""
    if not changes:
        return {}
    kept = _KEPT_TYPES
    for value in changes.values():
        if type(value) is not list or len(value) != 2:
            break
        if type(value[0]) not in kept or type(value[1]) not in kept:
            break
    else:
        return changes
    return {key: _plain_change(value) for key, value in changes.items()}


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
    """One entry per object, chained under a single lock and inserted together: bulk work
    (imports, bulk tagging, key rotation) keeps a per-record history at batch speed.

    The entries are exactly those ``record`` would write one by one (same content, same
    ``AuditEntry.compute_hash``), built as rows rather than model instances: each entry's
    changes are JSON-encoded once, for its hash and for storage alike."""
    if not items:
        return 0
    context = current_actor()
    actor = actor if actor is not None else context.user
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    actor_id = actor.pk if actor is not None else None
    actor_name = _name_of(actor)
    source_ip = _clean_ip(context.source_ip)
    action = str(action)
    # json.dumps(content, sort_keys=True, ...) of ``AuditEntry.content()``, assembled from its
    # parts: the keys in sorted order, the values encoded by the same encoder. What all
    # entries of the call share is encoded once.
    encode = _CANONICAL.encode
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
        seq = last.seq if last else 0
        prev_hash = last.hash if last else GENESIS_HASH
        now = timezone.now()
        head = (
            f'{{"action":{encode(action)},"actor_id":{encode(actor_id)},'
            f'"actor_name":{encode(actor_name)},'
            f'"at":{encode(now.isoformat(timespec="microseconds"))},"changes":'
        )
        middle = f',"note":{encode(note)},"object_id":'
        tail = f',"source_ip":{encode(source_ip)}}}'
        writer = _ENTRIES
        at = writer.db_value("at", now)
        text = _encode_text
        types: dict[type[models.Model], tuple[str, str]] = {}
        rows = []
        for obj, changes in items:
            seq += 1
            described = types.get(type(obj))
            if described is None:
                label = obj._meta.label_lower
                described = types[type(obj)] = (label, text(label))
            object_type, object_type_json = described
            object_id = str(obj.pk)
            object_repr = str(obj)[:200]
            region_code = _region_code_of(obj)
            plain = _plain_changes(changes)
            changes_json = encode(plain)
            canonical = (
                f"{head}{changes_json}{middle}{text(object_id)},"
                f'"object_repr":{text(object_repr)},"object_type":{object_type_json},'
                f'"region_code":{text(region_code)},"seq":{seq}{tail}'
            )
            entry_hash = crypto.sm3_hex((prev_hash + canonical).encode("utf-8"))
            rows.append(
                [
                    seq,
                    at,
                    actor_id,
                    actor_name,
                    action,
                    object_type,
                    object_id,
                    object_repr,
                    region_code,
                    source_ip,
                    # Stored as this text: it reads back as ``plain`` (key order aside, which
                    # neither the hash, sorted, nor the pages, sorted, depend on).
                    changes_json,
                    note,
                    prev_hash,
                    entry_hash,
                ]
            )
            prev_hash = entry_hash
        writer.insert_rows(rows, returning=False)
    return len(rows)


# The encoder of ``AuditEntry.compute_hash`` (json.dumps with these arguments uses exactly it),
# and the function it encodes every text with (ensure_ascii=False), called directly.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_encode_text = json.encoder.encode_basestring  # type: ignore[attr-defined]
_ENTRIES = RowWriter(AuditEntry)
_ENTRY_COLUMNS = [
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "region_code",
    "source_ip",
    "changes",
    "note",
    "prev_hash",
    "hash",
]
if _ENTRIES.column_names() != _ENTRY_COLUMNS:  # the order ``record_many`` builds rows in
    raise ImproperlyConfigured(f"AuditEntry columns changed: {_ENTRIES.column_names()}")


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
    for part in _scope_parts(str(getattr(obj, "scope_path", "region__code"))):
        value = getattr(value, part, None)
        if value is None:
            break
    code = value if value is not None else getattr(obj, "code", None)
    return str(code) if code and str(code).isdigit() else ""


@functools.cache
def _scope_parts(scope_path: str) -> tuple[str, ...]:
    return tuple(scope_path.split("__"))


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
        transaction.on_commit(lambda: append_anchor(checkpoint))
        return checkpoint


def anchor_path() -> Path | None:
    configured = str(getattr(settings, "LINLI_AUDIT_ANCHOR_FILE", "") or "")
    return Path(configured) if configured else None


def append_anchor(checkpoint: AuditCheckpoint) -> None:
    """Copy a checkpoint outside the database, so removing the tail together with the
    checkpoint rows is still detected. Append-only; ship it to other storage in production."""
    path = anchor_path()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {
            "seq": checkpoint.seq,
            "head_hash": checkpoint.head_hash,
            "created_at": checkpoint.created_at.isoformat(timespec="microseconds"),
            "key_fingerprint": checkpoint.key_fingerprint,
            "signature": checkpoint.signature,
        },
        sort_keys=True,
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_anchors(path: Path, result: Verification) -> list[AuditCheckpoint]:
    anchors: list[AuditCheckpoint] = []
    if not path.exists():
        return anchors
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            anchors.append(
                AuditCheckpoint(
                    seq=int(data["seq"]),
                    head_hash=str(data["head_hash"]),
                    created_at=datetime.fromisoformat(data["created_at"]),
                    key_fingerprint=str(data.get("key_fingerprint", "")),
                    signature=str(data["signature"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            result.fail(f"anchor file {path} line {number} is malformed")
    return anchors


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


def verify_chain(batch_size: int = 5000, anchors: Path | None = None) -> Verification:
    """Recompute every hash and link, then check every checkpoint's signature and head —
    those in the database and those copied to the anchor file."""
    result = Verification()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    heads: dict[int, tuple[str, int]] = {}
    checkpoints = list(AuditCheckpoint.objects.order_by("seq", "id"))
    anchor_file = anchors or anchor_path()
    if anchor_file is not None:
        known = {(cp.seq, cp.signature) for cp in checkpoints}
        checkpoints += [
            cp for cp in read_anchors(anchor_file, result) if (cp.seq, cp.signature) not in known
        ]
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
            result.fail(f"checkpoint {_name(cp)} at #{cp.seq}: signature is not valid", cp.seq)
        if cp.seq > last_seq:
            result.fail(
                f"checkpoint {_name(cp)} vouches for {cp.seq} entries but only {last_seq} exist "
                "(the tail was removed)",
                last_seq + 1,
            )
        else:
            head_hash, head_id = heads.get(cp.seq, ("", None))
            if head_hash != cp.head_hash:
                result.fail(
                    f"checkpoint {_name(cp)}: entry #{cp.seq} is not the one it signed",
                    cp.seq,
                    head_id,
                )
    return result


def _name(checkpoint: AuditCheckpoint) -> str:
    return str(checkpoint.id) if checkpoint.id else "(anchor file)"


VERIFICATION_CACHE_KEY = "linli:audit:verification"
# The periodic job refreshes it well within this; a page never shows an older result.
VERIFICATION_CACHE_SECONDS = 3600
VERIFY_EVERY_SECONDS = 600
# Above this many entries a page request does not verify inline (a full pass reads every entry).
INLINE_VERIFY_LIMIT = 50_000


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

    @property
    def is_pending(self) -> bool:
        return self.entries < 0

    @classmethod
    def pending(cls) -> VerificationStatus:
        return cls(True, -1, -1, None, None, [], timezone.now())

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
        if AuditEntry.objects.count() > INLINE_VERIFY_LIMIT:
            # Too long for a page request: the periodic job (or a requested re-run in the
            # background) fills the cache; the page says it is pending meanwhile.
            enqueue("linli.audit.services.refresh_verification")
            return VerificationStatus.pending()
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


@background
def refresh_verification() -> None:
    """Verify the whole chain and keep the result for the pages (periodic and on request)."""
    verification_status(refresh=True)
