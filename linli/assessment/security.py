"""The platform's own security controls, checked live for indicator 信息安全 (basic 21,
growth 26, benchmark 29) — never asserted by anyone, and never overridden by a figure:

- personal data encrypted: SM4 and SM3 work in this process (``crypto.self_check`` and a round
  trip under the active key), and no encrypted column in the database holds anything but SM4
  ciphertext;
- administrators separated (三员分立): system, security and audit administrators each exist,
  no account holds an administrator role together with any other kind of role, and no role holds
  a permission reserved to another administrator;
- audit trail tamper-evident: the hash chain and signed checkpoints verify, the database's
  append-only triggers are in place, and operations are being recorded at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import apps
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.assessment.choices import FigureSource
from linli.assessment.figures import Computation, Figure
from linli.utilities.fields import EncryptedCharField

CIPHERTEXT_PREFIX = "sm4gcm$"
# Inside ``one_scan_per_run`` the encryption scan's outcome is reused for this long at most.
SCAN_REUSE_SECONDS = 300
# The scan of the current run: (monotonic time, local time text, outcome); None outside a run.
_run_scan: ContextVar[dict[str, tuple[float, str, tuple[bool, str]]] | None] = ContextVar(
    "assessment_run_scan", default=None
)


@contextmanager
def one_scan_per_run() -> Iterator[None]:
    """Within this block (a run over many communities: "assess every community", one command
    invocation) the encryption check scans the database once and every community's evaluation
    reuses the outcome, for at most ``SCAN_REUSE_SECONDS`` (then it scans again). The check is a
    fact about the whole platform, and at county scale each scan reads every encrypted column of
    a million people, which a run would otherwise repeat for each of hundreds of communities.
    Outside such a block — one community's page, API call or ``linli assess`` — every
    evaluation scans afresh. Nested blocks share the outer block's scan."""
    if _run_scan.get() is not None:
        yield
        return
    token = _run_scan.set({})
    try:
        yield
    finally:
        _run_scan.reset(token)


def _figure(source: str, ok: bool | None, description: str, evidence: str) -> Figure:
    return Figure(
        metric=source,
        value=ok,
        source=FigureSource.PLATFORM,
        evidence=evidence if ok else "",
        computation=Computation(description=description),
    )


def encrypted_columns() -> list[tuple[str, str]]:
    """(table, column) of every SM4-encrypted field of every installed model."""
    columns = []
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedCharField):
                columns.append((model._meta.db_table, str(model_field.column)))
    return sorted(columns)


def check_encryption() -> tuple[bool, str]:
    from linli.utilities import crypto

    try:
        crypto.self_check()
        probe = "linli-assessment-probe"
        if crypto.sm4_decrypt(crypto.sm4_encrypt(probe)) != probe:
            return False, _("SM4 encryption does not round-trip under the active key.")
    except Exception as exc:  # any failure of the national algorithms fails the indicator
        return False, _("The SM4/SM3 self-check failed: %(error)s") % {
            "error": exc.__class__.__name__
        }
    quote = connection.ops.quote_name
    columns = encrypted_columns()
    plaintext = []
    with connection.cursor() as cursor:
        for table, column in columns:
            # Scans the column once; stops at the first value that is not ciphertext.
            cursor.execute(
                f"SELECT 1 FROM {quote(table)} WHERE {quote(column)} <> '' "  # noqa: S608
                f"AND {quote(column)} NOT LIKE %s LIMIT 1",
                [CIPHERTEXT_PREFIX + "%"],
            )
            if cursor.fetchone() is not None:
                plaintext.append(f"{table}.{column}")
    if plaintext:
        return False, _("Personal data stored without encryption in: %(columns)s.") % {
            "columns": ", ".join(plaintext)
        }
    return True, _(
        "SM4-GCM and SM3 self-check passed; all %(count)s personal-data columns hold SM4 "
        "ciphertext only."
    ) % {"count": len(columns)}


def check_separation() -> tuple[bool, str]:
    from linli.accounts.choices import ADMIN_KINDS, RoleKind
    from linli.accounts.models import Role, RoleAssignment
    from linli.accounts.permissions import forbidden_for_kind

    held: dict[int, set[str]] = {}
    for user_id, kind in RoleAssignment.objects.filter(
        role__is_active=True, user__is_active=True
    ).values_list("user_id", "role__kind"):
        held.setdefault(user_id, set()).add(kind)
    problems = []
    counts = {kind: sum(1 for kinds in held.values() if kind in kinds) for kind in ADMIN_KINDS}
    for kind in (RoleKind.SYSTEM_ADMIN, RoleKind.SECURITY_ADMIN, RoleKind.AUDIT_ADMIN):
        if not counts[kind]:
            problems.append(_("no active %(kind)s") % {"kind": RoleKind(kind).label})
    doubled = sum(1 for kinds in held.values() if kinds & ADMIN_KINDS and len(kinds) > 1)
    if doubled:
        problems.append(
            _("%(count)s accounts hold an administrator role together with another role")
            % {"count": doubled}
        )
    for role in Role.objects.filter(is_active=True):
        clash = set(role.permissions) & forbidden_for_kind(role.kind)
        if clash:
            problems.append(
                _("role “%(role)s” holds another administrator's permissions: %(perms)s")
                % {"role": role.name, "perms": ", ".join(sorted(clash))}
            )
    if problems:
        return False, _("Three-administrator separation is broken: %(problems)s.") % {
            "problems": "; ".join(problems)
        }
    return True, _(
        "System administrators %(system)s, security administrators %(security)s, audit "
        "administrators %(audit)s; none holds another role, and no role holds another "
        "administrator's permissions."
    ) % {
        "system": counts[RoleKind.SYSTEM_ADMIN],
        "security": counts[RoleKind.SECURITY_ADMIN],
        "audit": counts[RoleKind.AUDIT_ADMIN],
    }


def append_only_triggers() -> list[str]:
    """The audit tables whose append-only triggers are missing (or disabled)."""
    from linli.audit import protection

    missing = []
    with connection.cursor() as cursor:
        for table in protection.PROTECTED_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass "
                    "AND tgname IN (%s, %s) AND tgenabled = 'A'",
                    [table, f"{table}_no_change", f"{table}_no_truncate"],
                )
                ok = cursor.fetchone()[0] == 2
            else:
                cursor.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                    "AND name IN (%s, %s)",
                    [table, f"{table}_no_update", f"{table}_no_delete"],
                )
                ok = cursor.fetchone()[0] == 2
            if not ok:
                missing.append(table)
    return missing


def check_audit(*, fresh: bool) -> tuple[bool | None, str]:
    from linli.audit import services as audit

    if fresh:
        result = audit.verify_chain()
        ok, entries, checkpoints = result.ok, result.entries, result.checkpoints
        first_bad, problems = result.first_bad_seq, result.problems
        checked = _("just now")
    else:
        status = audit.verification_status()
        if status.is_pending:
            return None, _(
                "The audit trail is being verified in the background; try again shortly."
            )
        ok, entries, checkpoints = status.ok, status.entries, status.checkpoints
        first_bad, problems = status.first_bad_seq, status.problems
        checked = status.checked_at.isoformat(timespec="seconds")
    if not ok:
        return False, _(
            "The audit trail does not verify: first bad entry #%(seq)s (%(problem)s)."
        ) % {"seq": first_bad, "problem": problems[0] if problems else ""}
    if entries == 0:
        return False, _("The audit trail is empty: no operation has been recorded.")
    missing = append_only_triggers()
    if missing:
        return False, _(
            "The database does not refuse changes to the audit records (append-only triggers "
            "missing on %(tables)s)."
        ) % {"tables": ", ".join(missing)}
    return True, _(
        "Audit trail verified (%(entries)s entries, %(checkpoints)s signed checkpoints, checked "
        "%(checked)s); the database refuses to change or delete audit records."
    ) % {"entries": entries, "checkpoints": checkpoints, "checked": checked}


def encryption_for_this_evaluation() -> tuple[bool, str]:
    """``check_encryption()``, or inside ``one_scan_per_run`` the run's scan while it is recent
    (the description then says when it was made)."""
    scans = _run_scan.get()
    if scans is None:
        return check_encryption()
    now = time.monotonic()
    found = scans.get("encryption")
    if found is None or now - found[0] >= SCAN_REUSE_SECONDS:
        found = (now, timezone.localtime().strftime("%H:%M:%S"), check_encryption())
        scans["encryption"] = found
    ok, description = found[2]
    return ok, description + _(" (scanned once for this run, at %(time)s)") % {"time": found[1]}


def security_figures(*, fresh_audit: bool = False) -> tuple[dict[str, Figure], dict[str, str]]:
    figures: dict[str, Figure] = {}
    unavailable: dict[str, str] = {}
    checks: list[tuple[str, Any]] = [
        ("security.personal_data_encrypted", encryption_for_this_evaluation),
        ("security.administrators_separated", check_separation),
        ("security.audit_trail_tamper_evident", lambda: check_audit(fresh=fresh_audit)),
    ]
    for source, run in checks:
        ok, description = run()
        if ok is None:
            unavailable[source] = description
            continue
        figures[source] = _figure(source, ok, description, description)
    return figures, unavailable
