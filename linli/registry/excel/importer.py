"""Importing a sheet into the register: checked row by row, written in all-or-nothing batches.

Speed matters (a community's whole register in one file, ≥ 2,000 people a second), so the rows
are not fed one by one to the per-record service functions. Each importer applies the same rules
in bulk: the same validators, the same matching (people by the ID-number blind index, houses by
community + compound + building + unit + number), one current primary residence per person, house
use derived from residences unless set by hand. Each batch runs in its own transaction together
with its audit entries (``record_many``, personal fields masked) and the job's counters, so a
batch that fails leaves nothing behind and the progress bar never counts rows that were lost.

Importing the same file twice changes nothing: existing records are compared field by field and
only real changes are written; each row is counted created, updated, unchanged or rejected.
"""

from __future__ import annotations

import functools
import gc
import logging
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Count, F
from django.db.transaction import TransactionManagementError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from linli.audit.choices import AuditAction
from linli.audit.services import MASKED, changes_between, record, record_many, snapshot
from linli.core import jobs
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.models import RegionNode
from linli.registry import rules
from linli.registry.choices import (
    HouseUse,
    ImportKind,
    ImportStatus,
    PoliticalStatus,
)
from linli.registry.excel.cells import CellError, name_key, number_key, parse_cell, text_of
from linli.registry.excel.columns import ERROR_HEADER, IMPORT_PERMISSIONS, SHEETS, YES_NO, Sheet
from linli.registry.excel.reading import SheetData, looks_like_excel, open_sheet
from linli.registry.excel.templates import write_rows
from linli.registry.models import (
    Building,
    Compound,
    House,
    ImportJob,
    Organisation,
    Person,
    Residence,
    Unit,
    Vehicle,
)
from linli.registry.services import (
    REGISTERED_ELSEWHERE,
    REGISTERED_ELSEWHERE_NOTE,
    house_address,
    register_changed,
)
from linli.utilities.bulk import RowWriter
from linli.utilities.fields import blind_index_for
from linli.utilities.scope import code_in_scope

logger = logging.getLogger("linli.registry.import")


def max_upload_bytes() -> int:
    """The largest file accepted for import (LINLI_IMPORT_MAX_BYTES, default 50 MB)."""
    return int(settings.LINLI_IMPORT_MAX_BYTES)


def batch_size() -> int:
    return int(settings.LINLI_IMPORT_BATCH_SIZE)


def too_large_message(size: int | None = None) -> str:
    limit = max_upload_bytes() / (1024 * 1024)
    if size is None:
        return _(
            "The file is larger than the limit of %(limit).0f MB; split it and import the parts."
        ) % {"limit": limit}
    return _(
        "The file is %(size).1f MB, more than the limit of %(limit).0f MB; "
        "split it and import the parts."
    ) % {"size": size / (1024 * 1024), "limit": limit}


# --- access ------------------------------------------------------------------------------


def importable_kinds(user: Any) -> list[str]:
    return [kind for kind in SHEETS if user.has_perm(IMPORT_PERMISSIONS[kind])]


def jobs_visible_to(user: Any) -> Any:
    """Import jobs of the kinds the user may import, in the user's scope (the gate of jobs)."""
    kinds = importable_kinds(user) if user.is_authenticated else []
    if not kinds:
        return ImportJob.objects.none()
    return ImportJob.objects.within(user.scope_codes()).filter(kind__in=kinds)


def target_regions(user: Any) -> Any:
    """Regions an import may target: the user's scope, down to communities."""
    return (
        RegionNode.objects.within(user.scope_codes())
        .filter(retired_at__isnull=True, level__in=["county", "subdistrict", "community"])
        .order_by("code")
    )


def _check_import_permission(actor: Any, kind: str) -> None:
    if kind not in SHEETS:
        raise ServiceError("import.kind", _("Unknown import kind."))
    if not actor.has_perm(IMPORT_PERMISSIONS[kind]):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


# --- starting a job ----------------------------------------------------------------------


def start_import(
    actor: Any, *, kind: str, region: RegionNode, upload: UploadedFile[Any]
) -> ImportJob:
    """Check the upload (size, Excel, header row), store it and queue the import job.

    The header is checked here, so a wrong file is refused at once on the upload page instead
    of failing later in the background.
    """
    _check_import_permission(actor, kind)
    if not code_in_scope(region.code, actor.scope_codes()) or not region.is_active:
        raise NotFoundError("not_found", _("The record does not exist."))
    if upload.size is not None and upload.size > max_upload_bytes():
        raise ServiceError("import.too_large", too_large_message(upload.size))
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if not looks_like_excel(upload.name or "", head):
        raise ServiceError(
            "import.not_excel",
            _("Only Excel files (.xlsx) can be imported; download the template and fill it in."),
        )
    sheet = SHEETS[kind]
    with _local_copy(upload) as path:
        data = open_sheet(path, sheet)  # raises for an unreadable file or a wrong header row
    if data.total == 0:
        raise ServiceError("import.no_rows", _("The sheet has a header row but no data rows."))
    with transaction.atomic():
        job = ImportJob(
            region=region,
            kind=kind,
            original_name=(upload.name or "import.xlsx")[:200],
            total_rows=data.total,
            created_by=actor,
        )
        job.source.save(f"{kind}.xlsx", File(upload), save=False)
        job.save()
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # The job runs in this process: hand it the rows just read instead of reading the
            # file a second time (a Celery worker elsewhere reads the stored file). At most a
            # couple are kept, should an outer transaction roll back before the hooks run.
            while len(_READ) >= 2:
                _READ.pop(next(iter(_READ)))
            _READ[job.pk] = data
        try:
            schedule_import(job)
        except BaseException:
            _READ.pop(job.pk, None)
            raise
        # Registered after the job's own hook: an inline job has taken the rows by then; a
        # job on a thread that has not started yet reads the file instead. Nothing stays.
        transaction.on_commit(lambda: _READ.pop(job.pk, None), robust=True)
    return job


# Sheets read by ``start_import`` for a job that runs in this process, by job id; taken by
# ``_run``, dropped after the commit hooks in any case.
_READ: dict[int, SheetData] = {}


class _local_copy:
    """A filesystem path for an upload (calamine and openpyxl read paths, not streams)."""

    def __init__(self, upload: UploadedFile[Any]) -> None:
        self.upload = upload
        self.temp: Any = None

    def __enter__(self) -> Path:
        temporary_path = getattr(self.upload, "temporary_file_path", None)
        if temporary_path is not None:
            return Path(temporary_path())
        self.temp = tempfile.NamedTemporaryFile(suffix=".xlsx")
        self.upload.seek(0)
        for chunk in self.upload.chunks():
            self.temp.write(chunk)
        self.temp.flush()
        self.upload.seek(0)
        return Path(self.temp.name)

    def __exit__(self, *exc: object) -> None:
        if self.temp is not None:
            self.temp.close()


def schedule_import(job: ImportJob) -> None:
    """Run the job after commit: Celery in production; in the embedded server a thread, so the
    upload answers at once and the page can poll the progress; inline under tests."""
    if settings.CELERY_TASK_ALWAYS_EAGER and not settings.TESTING:
        import threading

        def start() -> None:
            threading.Thread(
                target=_run_in_thread, args=(job.pk,), name=f"import-{job.pk}", daemon=True
            ).start()

        transaction.on_commit(start)
    else:
        jobs.enqueue("linli.registry.excel.importer.run_import_job", job.pk)


def _run_in_thread(job_id: int) -> None:
    try:
        run_import_job(job_id)
    finally:
        close_old_connections()
        from django.db import connection

        connection.close()


# --- running a job -----------------------------------------------------------------------


@dataclass
class Rejected:
    row: int
    values: list[Any]
    reasons: list[str]


@dataclass
class Good:
    row: int
    values: list[Any]
    data: dict[str, Any]


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@jobs.background
def run_import_job(job_id: int) -> None:
    """Claim the job (pending → running) and import it; a second worker finds it claimed."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("region", "created_by").get(pk=job_id)
    with translation.override(settings.LANGUAGE_CODE):
        try:
            _run(job)
        except ServiceError as exc:
            _fail(job, str(exc.message))
        except Exception:
            logger.exception("import job %s failed", job.pk)
            _fail(
                job, _("The import stopped because of an internal error; nothing more was written.")
            )
        finally:
            _discard_source(job)


def _discard_source(job: ImportJob) -> None:
    """The uploaded workbook holds full ID numbers and phones in plain text: once its rows are
    in the (encrypted) register, it is deleted rather than kept on disk."""
    if job.source:
        job.source.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(source="")


@jobs.periodic("registry.purge_import_files", 3600)
def purge_import_error_files() -> int:
    """Error files hold the rejected rows in plain text; they expire after
    LINLI_IMPORT_ERROR_FILE_DAYS days (idempotent: an expired file is removed once)."""
    cutoff = timezone.now() - timedelta(days=settings.LINLI_IMPORT_ERROR_FILE_DAYS)
    purged = 0
    for job in ImportJob.objects.filter(finished_at__lt=cutoff).exclude(error_file=""):
        job.error_file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(error_file="")
        purged += 1
    for job in ImportJob.objects.filter(finished_at__lt=cutoff).exclude(source=""):
        _discard_source(job)
    return purged


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED, message=message, finished_at=timezone.now()
    )


def _run(job: ImportJob) -> None:
    sheet = SHEETS[job.kind]
    data = _READ.pop(job.pk, None) or open_sheet(Path(job.source.path), sheet)
    importer = IMPORTERS[job.kind](job)
    rows = list(data.rows)
    importer.prepare(rows)
    with _bulk_work():
        rejected, failures = _import_batches(job, importer, rows)
        # Outside the batches' transactions: what it records stays if a batch rolled back.
        importer.finish()
    _finish(job, sheet, rejected, failures)


# SQLite, for the job's connection: the blind-index B-trees are written at random places, so
# a page cache of 2 MB (the default) misses more the larger they grow; and a checkpoint
# every 1,000 WAL pages (4 MB, about one batch) copies the same index pages again and again.
_SQLITE_BULK_PRAGMAS = {"cache_size": -131072, "wal_autocheckpoint": 16384}


@contextmanager
def _bulk_work() -> Iterator[None]:
    """What a job of many batches runs under, restored afterwards.

    The sheet's rows and the lookups live for the whole job: ``gc.freeze`` takes them out of
    the collector's generations, so that the collections the batches trigger do not walk
    them again and again (a cost that grows with the size of the sheet).
    """
    gc.freeze()
    saved: dict[str, Any] = {}
    try:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                for name, value in _SQLITE_BULK_PRAGMAS.items():
                    cursor.execute(f"PRAGMA {name}")
                    saved[name] = cursor.fetchone()[0]
                    cursor.execute(f"PRAGMA {name} = {int(value)}")
        yield
    finally:
        gc.unfreeze()
        if saved and connection.connection is not None:
            # Settings of speed only: a connection that cannot take them back (a transaction
            # broken by the error on its way out) keeps them until it closes.
            with suppress(DatabaseError, TransactionManagementError), connection.cursor() as cursor:
                for name, value in saved.items():
                    cursor.execute(f"PRAGMA {name} = {int(value)}")


def _import_batches(
    job: ImportJob, importer: Importer, rows: list[tuple[int, list[Any]]]
) -> tuple[list[Rejected], list[str]]:
    """Check and store the rows batch by batch, each batch in its own transaction."""
    size = batch_size()
    rejected: list[Rejected] = []
    failures: list[str] = []
    for batch_number, start in enumerate(range(0, len(rows), size), start=1):
        chunk = rows[start : start + size]
        good: list[Good] = []
        bad: list[Rejected] = []
        for row_number, values in chunk:
            result = importer.check(row_number, values)
            (good if isinstance(result, Good) else bad).append(result)  # type: ignore[arg-type]
        first, last = chunk[0][0], chunk[-1][0]
        try:
            with transaction.atomic():
                outcome = importer.store(good)
                bad.extend(outcome.rejected)
                ImportJob.objects.filter(pk=job.pk).update(
                    processed_rows=F("processed_rows") + len(chunk),
                    created_count=F("created_count") + outcome.created,
                    updated_count=F("updated_count") + outcome.updated,
                    unchanged_count=F("unchanged_count") + outcome.unchanged,
                    rejected_count=F("rejected_count") + len(bad),
                )
        except Exception:
            logger.exception("import job %s: batch %s failed", job.pk, batch_number)
            importer.forget_batch()
            failures.append(
                _("batch %(number)s (rows %(first)s–%(last)s) failed and was rolled back")
                % {"number": batch_number, "first": first, "last": last}
            )
            reason = _(
                "Not imported: its batch (rows %(first)s–%(last)s) failed and was rolled back; "
                "import this row again."
            ) % {"first": first, "last": last}
            done = {item.row for item in bad}
            bad.extend(
                Rejected(item.row, item.values, [reason]) for item in good if item.row not in done
            )
            ImportJob.objects.filter(pk=job.pk).update(
                processed_rows=F("processed_rows") + len(chunk),
                rejected_count=F("rejected_count") + len(bad),
            )
        rejected.extend(bad)
        importer.after_batch()
    return rejected, failures


def _finish(job: ImportJob, sheet: Sheet, rejected: list[Rejected], failures: list[str]) -> None:
    job.refresh_from_db()
    if rejected:
        rejected.sort(key=lambda item: item.row)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "errors.xlsx"
            write_rows(
                path,
                sheet.name,
                [*sheet.headers, ERROR_HEADER],
                ([*(_error_cell(v) for v in item.values), _row_reasons(item)] for item in rejected),
                highlight_last=True,
            )
            with path.open("rb") as handle:
                job.error_file.save(f"{job.kind}-errors-{job.pk}.xlsx", File(handle), save=False)
    parts = [
        _(
            "%(total)s rows: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
            "%(rejected)s rejected."
        )
        % {
            "total": job.total_rows,
            "created": job.created_count,
            "updated": job.updated_count,
            "unchanged": job.unchanged_count,
            "rejected": job.rejected_count,
        }
    ]
    if rejected:
        shown = "、".join(str(item.row) for item in rejected[:20])
        more = "…" if len(rejected) > 20 else ""
        parts.append(
            _(
                "Rejected rows: %(rows)s%(more)s; download the error file, correct it "
                "and import it again."
            )
            % {"rows": shown, "more": more}
        )
    if failures:
        parts.append(_("Failed batches: %(batches)s.") % {"batches": "；".join(failures)})
    job.status = ImportStatus.DONE
    job.finished_at = timezone.now()
    job.message = " ".join(parts)
    if job.created_count or job.updated_count:
        register_changed()  # cached overview counts are stale
    with transaction.atomic():
        job.save(update_fields=["status", "finished_at", "message", "error_file"])
        record(
            AuditAction.CREATE,
            job,
            actor=job.created_by,
            note=f"import {job.kind}: {job.total_rows} rows, {job.created_count} created, "
            f"{job.updated_count} updated, {job.unchanged_count} unchanged, "
            f"{job.rejected_count} rejected",
        )


def _error_cell(value: Any) -> Any:
    # Everything goes back as text, so an ID number cannot turn into a rounded number.
    return text_of(value) if value is not None else None


def _row_reasons(item: Rejected) -> str:
    return _("Row %(row)s: %(reasons)s") % {"row": item.row, "reasons": "；".join(item.reasons)}


# --- the importers ---------------------------------------------------------------------


# Cell kinds whose values are unique to a row (nothing to gain from remembering them), and how
# many distinct values of any other column are remembered (a column of names fills it up).
_UNIQUE_KINDS = frozenset({"id_number", "mobile", "credit_code", "plate"})
_MEMO_SIZE = 4096


class Importer:
    """Checks rows (``check``, no writes) and stores a batch of good rows (``store``)."""

    sheet: Sheet

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.actor = job.created_by
        self.scope = self.actor.scope_codes() if self.actor is not None else ()
        self.target = job.region
        self.today = timezone.localdate()
        # Regions a row may name: the target's active communities and grids.
        self.regions: dict[str, RegionNode] = {
            node.code: node
            for node in RegionNode.objects.subtree(self.target.code).filter(
                retired_at__isnull=True, level__in=["community", "grid"]
            )
        }

    @functools.cached_property
    def _memos(self) -> list[dict[tuple[type, Any], tuple[bool, Any]] | None]:
        """Per column, the parsed value (or the reason) of each cell value seen: a sheet
        repeats the same codes, choices, dates and numbers on most rows, and parsing them once
        is a good part of checking a row. Identity numbers are unique, so not kept."""
        return [None if c.kind in _UNIQUE_KINDS else {} for c in self.sheet.columns]

    def prepare(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        """Load what checking needs in a few queries (lookups of existing records)."""

    def forget_batch(self) -> None:
        """Drop what a rolled-back batch added to the in-memory lookups."""

    def after_batch(self) -> None:
        """After each batch has committed or rolled back, outside its transaction."""

    def finish(self) -> None:
        """After the last batch, outside the batches' transactions."""

    def parse(self, row: int, values: list[Any]) -> tuple[dict[str, Any], list[str]]:
        data: dict[str, Any] = {}
        reasons: list[str] = []
        memos = self._memos
        for column, value, memo in zip(self.sheet.columns, values, memos, strict=True):
            if (value is None or value == "") and not column.required:
                # An empty optional cell (half of a typical sheet): what parse_cell gives.
                data[column.key] = None
                continue
            if memo is not None:
                key = (type(value), value)
                known = memo.get(key)
                if known is None:
                    try:
                        known = (True, parse_cell(column, value))
                    except CellError as exc:
                        known = (False, exc.message)
                    if len(memo) < _MEMO_SIZE:
                        memo[key] = known
                if known[0]:
                    data[column.key] = known[1]
                else:
                    reasons.append(known[1])
                    data[column.key] = None
                continue
            try:
                data[column.key] = parse_cell(column, value)
            except CellError as exc:
                reasons.append(exc.message)
                data[column.key] = None
        code = data.get("community_code")
        if code is not None:
            region = self.regions.get(str(code))
            if region is None:
                header = self.sheet.column("community_code").header
                if str(code).startswith(self.target.code):
                    reasons.append(
                        _("%(column)s is not an active community or grid of the register")
                        % {"column": header}
                    )
                else:
                    reasons.append(
                        _("%(column)s is outside the target region %(region)s of this import")
                        % {"column": header, "region": self.target.name}
                    )
            data["region"] = region
        return data, reasons

    def check(self, row: int, values: list[Any]) -> Good | Rejected:
        data, reasons = self.parse(row, values)
        if not reasons:
            reasons = self.check_rules(row, data)
        if reasons:
            return Rejected(row, values, reasons)
        return Good(row, values, data)

    def check_rules(self, row: int, data: dict[str, Any]) -> list[str]:
        return []

    def store(self, rows: list[Good]) -> Outcome:
        raise NotImplementedError

    def audit(self, action: str, items: list[tuple[Any, dict[str, Any]]]) -> None:
        if items:
            record_many(action, items, actor=self.actor, note=f"import job {self.job.pk}")


def registered_elsewhere() -> str:
    """Why a row with an ID number registered outside the importer's area is rejected: the
    register keeps one record per ID number county-wide, so the number cannot be registered
    again; the message tells no more (not where, not whom)."""
    return _(
        "this ID number is already in the register outside your area; to move the person "
        "into your area, ask the county operator (the attempt is recorded)"
    )


def _duplicate(header: str, first_row: int) -> str:
    return _("duplicate of row %(row)s (same %(column)s)") % {"row": first_row, "column": header}


def _touch(objects: Iterable[Any]) -> list[Any]:
    """bulk_update skips auto_now: stamp ``updated_at`` by hand."""
    now = timezone.now()
    stamped = []
    for obj in objects:
        obj.updated_at = now
        stamped.append(obj)
    return stamped


def _changes(obj: Any, data: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Fields of ``data`` whose value differs from ``obj``; None in ``data`` means keep."""
    changed = {}
    for name in fields:
        value = data.get(name)
        if value is not None and getattr(obj, name) != value:
            changed[name] = value
    return changed


# --- places ------------------------------------------------------------------------------

_HOUSE_FIELDS = (
    "floor",
    "area_m2",
    "has_gigabit",
    "has_cable_tv",
    "has_remote_water_meter",
    "has_remote_electricity_meter",
    "has_remote_gas_meter",
)


def address_codes(addresses: list[tuple[str, str]]) -> list[str]:
    """The address codes of new houses (``rules.address_code``, as ``services.create_house``
    gives them) for a batch in one query; a code taken by a retired house gets a suffix."""
    bases = [rules.address_code_base(code, text) for code, text in addresses]
    taken = set(House.objects.filter(address_code__in=bases).values_list("address_code", flat=True))
    for base in taken & set(bases):
        # Rare (a retired house at the same address): load the suffixed codes of that base.
        taken.update(
            House.objects.filter(address_code__startswith=base).values_list(
                "address_code", flat=True
            )
        )
    codes = []
    for base in bases:
        code = rules.free_address_code(base, taken)
        taken.add(code)
        codes.append(code)
    return codes


class PlacesImporter(Importer):
    sheet = SHEETS[ImportKind.PLACES]

    def prepare(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        regions = list(self.regions.values())
        self.compounds: dict[tuple[str, str], Compound] = {}
        for compound in Compound.objects.filter(
            region__in=regions, retired_at__isnull=True
        ).select_related("region__parent"):
            code = next(r.code for r in regions if r.pk == compound.region_id)
            self.compounds[(code, name_key(compound.name))] = compound
        compound_ids = [c.pk for c in self.compounds.values()]
        self.buildings: dict[tuple[int, str], Building] = {
            (b.compound_id, number_key(b.number)): b
            for b in Building.objects.filter(
                compound_id__in=compound_ids, retired_at__isnull=True
            ).select_related("compound", "region__parent")
        }
        building_ids = [b.pk for b in self.buildings.values()]
        self.units: dict[tuple[int, str], Unit] = {
            (u.building_id, number_key(u.number)): u
            for u in Unit.objects.filter(
                building_id__in=building_ids, retired_at__isnull=True
            ).select_related("building__compound", "region__parent")
        }
        self.houses: dict[tuple[int, str], House] = {
            (h.unit_id, number_key(h.number)): h
            for h in House.objects.filter(building_id__in=building_ids, retired_at__isnull=True)
        }
        self.seen: dict[tuple[str, ...], int] = {}
        # Highest floor of each new building in the file, for its floors above ground.
        self.top_floor: dict[tuple[str, str, str], int] = {}
        self.bottom_floor: dict[tuple[str, str, str], int] = {}
        columns = self.sheet.columns
        index = {c.key: i for i, c in enumerate(columns)}
        for _row, values in rows:
            key = (
                text_of(values[index["community_code"]]),
                name_key(text_of(values[index["compound"]])),
                number_key(text_of(values[index["building"]])),
            )
            try:
                floor = int(float(text_of(values[index["floor"]])))
            except ValueError:
                continue
            self.top_floor[key] = max(self.top_floor.get(key, 1), floor)
            self.bottom_floor[key] = min(self.bottom_floor.get(key, 0), floor)
        self._added: list[tuple[dict[Any, Any], Any]] = []
        self.path_cache: dict[int, str] = {}

    def forget_batch(self) -> None:
        for mapping, key in self._added:
            mapping.pop(key, None)
        self._added = []

    def check_rules(self, row: int, data: dict[str, Any]) -> list[str]:
        # An export writes the effective use with 用途为手工设定 = 否: reading it back must not
        # pin a use that follows the residences. (否 never un-pins a use set by hand: that is
        # done on the house's page.)
        if data.get("use_set_by_hand") == YES_NO["否"]:
            data["use"] = None
        key = (
            data["region"].code,
            name_key(data["compound"]),
            number_key(data["building"]),
            number_key(data["unit"]),
            number_key(data["house"]),
        )
        first = self.seen.get(key)
        if first is not None:
            return [_duplicate(_("house address"), first)]
        self.seen[key] = row
        if data.get("floors_above") is not None and data["floor"] > data["floors_above"]:
            return [
                _("%(column)s is above the building's floors above ground")
                % {"column": self.sheet.column("floor").header}
            ]
        return []

    def _remember(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        mapping[key] = value
        self._added.append((mapping, key))

    def store(self, rows: list[Good]) -> Outcome:
        self._added = []
        outcome = Outcome()
        created_audit: list[tuple[Any, dict[str, Any]]] = []
        # 1. compounds, buildings and units the batch needs and the register lacks.
        for level in ("compound", "building", "unit"):
            new: dict[Any, Any] = {}
            for item in rows:
                d = item.data
                region: RegionNode = d["region"]
                ckey = (region.code, name_key(d["compound"]))
                if level == "compound":
                    if ckey not in self.compounds and ckey not in new:
                        new[ckey] = Compound(
                            region=region,
                            name=d["compound"],
                            kind=d.get("compound_kind") or "closed",
                        )
                    continue
                compound = self.compounds[ckey]
                bkey = (compound.pk, number_key(d["building"]))
                if level == "building":
                    if bkey not in self.buildings and bkey not in new:
                        top = self.top_floor.get(
                            (region.code, name_key(d["compound"]), number_key(d["building"])), 1
                        )
                        new[bkey] = Building(
                            region=compound.region,
                            compound=compound,
                            number=d["building"],
                            floors_above=d.get("floors_above") or max(top, 1),
                            floors_below=d.get("floors_below")
                            or -self.bottom_floor.get(
                                (region.code, name_key(d["compound"]), number_key(d["building"])),
                                0,
                            ),
                            has_elevator=bool(d.get("has_elevator")),
                        )
                    continue
                building = self.buildings[bkey]
                ukey = (building.pk, number_key(d["unit"]))
                if ukey not in self.units and ukey not in new:
                    unit_number = d["unit"]
                    new[ukey] = Unit(
                        region=building.region,
                        building=building,
                        number=f"{unit_number}单元" if unit_number.isdigit() else unit_number,
                    )
            if new:
                model: Any = {"compound": Compound, "building": Building, "unit": Unit}[level]
                created = model.objects.bulk_create(list(new.values()))
                targets: dict[str, dict[Any, Any]] = {
                    "compound": self.compounds,
                    "building": self.buildings,
                    "unit": self.units,
                }
                target = targets[level]
                for key, obj in zip(new.keys(), created, strict=True):
                    self._remember(target, key, obj)
                    created_audit.append((obj, changes_between(model, {}, snapshot(obj))))
        # 2. houses: create the new ones, update the ones whose fields differ.
        new_houses: list[House] = []
        updated: list[tuple[House, dict[str, Any]]] = []
        update_fields: set[str] = set()
        for item in rows:
            d = item.data
            compound = self.compounds[(d["region"].code, name_key(d["compound"]))]
            building = self.buildings[(compound.pk, number_key(d["building"]))]
            unit = self.units[(building.pk, number_key(d["unit"]))]
            hkey = (unit.pk, number_key(d["house"]))
            if d["floor"] == 0 or not -building.floors_below <= d["floor"] <= building.floors_above:
                outcome.rejected.append(
                    Rejected(
                        item.row,
                        item.values,
                        [
                            _("%(column)s must be from %(low)s to %(high)s, without 0")
                            % {
                                "column": self.sheet.column("floor").header,
                                "low": -building.floors_below,
                                "high": building.floors_above,
                            }
                        ],
                    )
                )
                continue
            house = self.houses.get(hkey)
            if house is None:
                house = House(
                    region=building.region,
                    building=building,
                    unit=unit,
                    number=d["house"],
                    floor=d["floor"],
                    area_m2=d.get("area_m2"),
                    use=d.get("use") or HouseUse.VACANT,
                    use_is_explicit=d.get("use") is not None,
                    address=house_address(unit, d["house"], self.path_cache),
                    **{
                        name: bool(d.get(name)) for name in _HOUSE_FIELDS if name.startswith("has_")
                    },
                )
                new_houses.append(house)
                self._remember(self.houses, hkey, house)
                continue
            before = snapshot(house, [*_HOUSE_FIELDS, "use", "use_is_explicit"])
            changed = _changes(house, d, _HOUSE_FIELDS)
            if d.get("use") is not None and (house.use != d["use"] or not house.use_is_explicit):
                changed["use"] = d["use"]
                changed["use_is_explicit"] = True
            if changed:
                for name, value in changed.items():
                    setattr(house, name, value)
                update_fields.update(changed)
                updated.append(
                    (house, changes_between(House, before, snapshot(house, list(before))))
                )
            else:
                outcome.unchanged += 1
        if new_houses:
            codes = address_codes([(h.region.code, h.address) for h in new_houses])
            for house, code in zip(new_houses, codes, strict=True):
                house.address_code = code
            House.objects.bulk_create(new_houses)
            created_audit.extend(
                (house, changes_between(House, {}, snapshot(house))) for house in new_houses
            )
        if updated:
            House.objects.bulk_update(
                _touch([house for house, _c in updated]), sorted(update_fields | {"updated_at"})
            )
        outcome.created = len(new_houses)
        outcome.updated = len(updated)
        self.audit(AuditAction.CREATE, created_audit)
        self.audit(AuditAction.UPDATE, updated)
        return outcome


# --- people ------------------------------------------------------------------------------

_PERSON_FIELDS = (
    "name",
    "registration_type",
    "ethnicity",
    "education",
    "employment",
    "political_status",
    "head_relation",
)
_PERSON_AUDIT_FIELDS = [
    *_PERSON_FIELDS,
    "id_number",
    "phone",
    "gender",
    "birth_date",
    "is_party_member",
    "region_id",
]
_PARTY = {PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY}


class TableStatistics:
    """PostgreSQL chooses how to run each batch's lookups (people by a thousand blind indexes,
    their current residences) from the tables' statistics. A first import into a new register
    grows the tables far beyond what the statistics say, autovacuum may not catch up within
    the job, and the planner, still believing the tables tiny, scans them whole for every
    batch: each batch then costs more than the last. So each time the job has added as many
    people as the statistics knew of (1,000 at least), the tables are analysed again: a few
    times for a first import, never for an import into a register of a million."""

    FIRST = 1000

    def __init__(self, models: list[type[Any]]) -> None:
        self.tables = [model._meta.db_table for model in models]
        self.enabled = connection.vendor == "postgresql"
        self.known = 0.0
        if self.enabled:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [self.tables[0]]
                )
                row = cursor.fetchone()
            self.known = max(0.0, float(row[0])) if row else 0.0
        self.since = 0  # rows added (committed) since the statistics were taken
        self.batch = 0

    def added(self, rows: int) -> None:
        self.batch += rows

    def forget_batch(self) -> None:
        self.batch = 0

    def after_batch(self) -> None:
        self.since += self.batch
        self.batch = 0
        if not self.enabled or self.since < max(self.known, self.FIRST):
            return
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(quote(table) for table in self.tables)}")
        self.known += self.since
        self.since = 0


class HouseResidents:
    """The relations of each touched house's current residences, kept across the batches of a
    job, so that deriving a house's use after a batch (``rules.house_use``) reads nothing for a
    house seen before: the file's later rows would otherwise re-read every resident the earlier
    rows added, and a batch would cost more the further the job got.

    A house is loaded when a batch first touches it, after the batch's writes (the load sees
    them); the changes a batch makes to houses loaded before are applied in memory. A batch
    that fails forgets the houses it touched, so they are read again from what was kept.
    """

    def __init__(self, today: date) -> None:
        self.today = today
        self.uses: dict[int, tuple[str, bool]] = {}  # house id → (use, set by hand)
        self.relations: dict[int, Counter[str]] = {}  # of houses whose use follows residences
        self.touched: set[int] = set()
        self.pending: list[tuple[int, str, int]] = []

    def begin_batch(self) -> None:
        self.touched = set()
        self.pending = []

    def forget_batch(self) -> None:
        for pk in self.touched:
            self.uses.pop(pk, None)
            self.relations.pop(pk, None)
        self.begin_batch()

    def is_current(self, moved_in: date, moved_out: date | None = None) -> bool:
        """As ``Residence.objects.current()`` on the job's day."""
        return moved_in <= self.today and (moved_out is None or moved_out > self.today)

    def arrive(self, house_id: int, relation: str, moved_in: date) -> None:
        self.touched.add(house_id)
        if self.is_current(moved_in):
            self.pending.append((house_id, relation, 1))

    def leave(self, house_id: int, relation: str, moved_in: date) -> None:
        """A residence that was open (no move-out date) is closed or changed."""
        self.touched.add(house_id)
        if self.is_current(moved_in):
            self.pending.append((house_id, relation, -1))

    def settle(self) -> list[tuple[int, str, str]]:
        """(house, old use, new use) of the batch's touched houses whose use changes."""
        loaded = [pk for pk in self.touched if pk not in self.uses]
        if loaded:
            following = []
            for pk, use, explicit in House.objects.filter(pk__in=loaded).values_list(
                "id", "use", "use_is_explicit"
            ):
                self.uses[pk] = (use, explicit)
                if not explicit:
                    following.append(pk)
                    self.relations[pk] = Counter()
            counts = (
                Residence.objects.active()
                .current(self.today)
                .filter(house_id__in=following)
                .order_by()
                .values("house_id", "relation")
                .annotate(n=Count("id"))
                .values_list("house_id", "relation", "n")
            )
            for pk, relation, n in counts:
                self.relations[pk][relation] = n
        fresh = set(loaded)
        for pk, relation, step in self.pending:
            if pk not in fresh and pk in self.relations:
                self.relations[pk][relation] += step
        changes = []
        for pk in self.touched:
            use, explicit = self.uses[pk]
            found = self.relations.get(pk)
            relations = [r for r, n in found.items() if n > 0] if found is not None else []
            new = rules.house_use(use, explicit, relations)
            if new != use:
                changes.append((pk, use, new))
                self.uses[pk] = (new, explicit)
        self.pending = []
        return changes


def _created_person(person: Person) -> dict[str, Any]:
    """What ``changes_between(Person, {}, ...)`` gives for a new person, built directly
    (it runs once per imported row): personal fields masked."""
    return {
        "birth_date": [None, str(person.birth_date)],
        "education": [None, person.education],
        "employment": [None, person.employment],
        "ethnicity": [None, person.ethnicity],
        "gender": [None, person.gender],
        "head_relation": [None, person.head_relation],
        "id_number": ["", MASKED],
        "is_party_member": [None, person.is_party_member],
        "name": ["", MASKED],
        "phone": ["", MASKED if person.phone else ""],
        "political_status": [None, person.political_status],
        "region_id": [None, str(person.region_id)],
        "registration_type": [None, person.registration_type],
    }


_PEOPLE = RowWriter(Person)
_RESIDENCES = RowWriter(Residence)


def _phone_index(phone: str) -> str:
    return blind_index_for(Person, "phone_index", phone) if phone else ""


class PeopleImporter(Importer):
    sheet = SHEETS[ImportKind.PEOPLE]

    def prepare(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        regions = list(self.regions.values())
        self.houses: dict[tuple[str, str, str, str, str], tuple[int, int]] = {}
        # Audit entries name each record and its region: keep them in memory, not one query each.
        self.regions_by_pk = {node.pk: node for node in regions}
        self.house_objects: dict[int, House] = {}
        houses = House.objects.filter(region__in=regions, retired_at__isnull=True).values_list(
            "id",
            "region_id",
            "address",
            "number",
            "unit__number",
            "building__number",
            "building__compound__name",
            "building__compound__region__code",
        )
        for pk, region_id, address, number, unit, building, compound, code in houses:
            self.house_objects[pk] = House(
                pk=pk, region=self.regions_by_pk[region_id], address=address
            )
            key = (
                code[:12],
                name_key(compound),
                number_key(building),
                number_key(unit),
                number_key(number),
            )
            self.houses[key] = (pk, region_id)
        self.seen: dict[str, int] = {}
        self.address_keys: dict[tuple[str, ...], tuple[str, str, str, str, str]] = {}
        self.residents = HouseResidents(self.today)
        self.statistics = TableStatistics([Person, Residence])
        # Rows whose ID number is registered outside the importer's area (one audit entry).
        self.elsewhere_rows: list[int] = []
        self.elsewhere_people: dict[int, Person] = {}
        self.id_index = self.sheet.column("id_number")
        self.address_columns = [
            self.sheet.column(key) for key in ("compound", "building", "unit", "house")
        ]

    def check_rules(self, row: int, data: dict[str, Any]) -> list[str]:
        reasons: list[str] = []
        info = data["id_number"]
        index = blind_index_for(Person, "id_number_index", info.number)
        data["id_index"] = index
        first = self.seen.get(index)
        if first is not None:
            return [_duplicate(self.id_index.header, first)]
        self.seen[index] = row
        address = [data.get(key) or "" for key in ("compound", "building", "unit", "house")]
        data["house"] = None
        if any(address):
            if not all(address):
                reasons.append(
                    _("%(columns)s must all be filled in, or all left empty")
                    % {"columns": "、".join(c.header for c in self.address_columns)}
                )
            else:
                # A sheet names the same houses again and again: normalise each address once.
                written = (data["region"].code[:12], *address)
                key = self.address_keys.get(written)
                if key is None:
                    key = self.address_keys[written] = (
                        written[0],
                        name_key(address[0]),
                        number_key(address[1]),
                        number_key(address[2]),
                        number_key(address[3]),
                    )
                house = self.houses.get(key)
                if house is None:
                    reasons.append(
                        _("no house %(address)s in this community; import the house first")
                        % {"address": f"{address[0]}{address[1]}-{address[2]}-{address[3]}"}
                    )
                data["house"] = house
            if not data.get("relation"):
                reasons.append(
                    _("%(column)s is required when a house is given") % {"column": "与房屋关系"}
                )
            moved_in = data.get("moved_in")
            if moved_in is None:
                reasons.append(
                    _("%(column)s is required when a house is given") % {"column": "入住日期"}
                )
            elif moved_in > self.today:
                reasons.append(_("%(column)s is in the future") % {"column": "入住日期"})
            elif moved_in < info.birth_date:
                reasons.append(
                    _("%(column)s is before the birth date in the ID number")
                    % {"column": "入住日期"}
                )
        return reasons

    def forget_batch(self) -> None:
        self.residents.forget_batch()
        self.statistics.forget_batch()

    def after_batch(self) -> None:
        self.statistics.after_batch()

    def store(self, rows: list[Good]) -> Outcome:
        outcome = Outcome()
        residents = self.residents
        residents.begin_batch()
        indexes = [item.data["id_index"] for item in rows]
        existing = {
            p.id_number_index: p
            for p in Person.objects.filter(id_number_index__in=indexes).select_related("region")
        }
        current = {
            r.person_id: r
            for r in Residence.objects.filter(
                person_id__in=[p.pk for p in existing.values()],
                is_primary=True,
                moved_out__isnull=True,
                retired_at__isnull=True,
            ).select_related("person", "house", "region")
        }
        new_people: list[Person] = []
        new_rows: list[Good] = []
        changed_people: list[tuple[Person, dict[str, Any]]] = []
        person_fields: set[str] = set()
        closed: list[tuple[Residence, dict[str, Any]]] = []
        edited: list[tuple[Residence, dict[str, Any]]] = []
        residence_fields: set[str] = set()
        pending_residences: list[tuple[Good, Person | None]] = []
        for item in rows:
            d = item.data
            info = d["id_number"]
            party = d["political_status"] in _PARTY if d.get("political_status") else None
            house = d.get("house")
            person = existing.get(d["id_index"])
            if person is None:
                region_id = house[1] if house else d["region"].pk
                phone = d.get("phone") or ""
                new_people.append(
                    _PEOPLE.build(
                        {
                            "region_id": region_id,
                            "name": d["name"],
                            "id_number": info.number,
                            # Computed once in check_rules; the insert does not redo it.
                            "id_number_index": d["id_index"],
                            "gender": info.gender,
                            "birth_date": info.birth_date,
                            "phone": phone,
                            "phone_index": _phone_index(phone),
                            "registration_type": d["registration_type"],
                            "ethnicity": d.get("ethnicity") or "汉族",
                            "education": d.get("education") or "unknown",
                            "employment": d.get("employment") or "unknown",
                            "political_status": d.get("political_status") or "masses",
                            "is_party_member": bool(party),
                            "head_relation": d.get("head_relation") or "",
                        },
                        {"region": self.regions_by_pk[region_id]},
                    )
                )
                new_rows.append(item)
                if house:
                    pending_residences.append((item, None))
                    residents.arrive(house[0], d["relation"], d["moved_in"])
                continue
            if not code_in_scope(person.region.code, self.scope):
                # One record per ID number county-wide, so the row cannot succeed; it says no
                # more than that (not where, not whom, not even whether retired) and the
                # attempt is audited once per job (``finish``).
                outcome.rejected.append(Rejected(item.row, item.values, [registered_elsewhere()]))
                self.elsewhere_rows.append(item.row)
                self.elsewhere_people[person.pk] = person
                continue
            if person.retired_at is not None:
                outcome.rejected.append(
                    Rejected(item.row, item.values, [_("this person is retired in the register")])
                )
                continue
            before = snapshot(person, _PERSON_AUDIT_FIELDS)
            changed = _changes(person, d, _PERSON_FIELDS)
            if party is not None and person.is_party_member != party:
                changed["is_party_member"] = party
            phone = d.get("phone")
            if phone and blind_index_for(Person, "phone_index", phone) != person.phone_index:
                changed["phone"] = phone
                changed["phone_index"] = blind_index_for(Person, "phone_index", phone)
            residence = current.get(person.pk)
            region_id = person.region_id
            moved = False
            if house:
                region_id = house[1]
                if residence is not None and residence.house_id == house[0]:
                    res_changes = {}
                    if residence.relation != d["relation"]:
                        res_changes["relation"] = d["relation"]
                    if residence.moved_in != d["moved_in"]:
                        res_changes["moved_in"] = d["moved_in"]
                    if res_changes:
                        residents.leave(house[0], residence.relation, residence.moved_in)
                        residents.arrive(house[0], d["relation"], d["moved_in"])
                        res_before = snapshot(residence, ["relation", "moved_in"])
                        for name, value in res_changes.items():
                            setattr(residence, name, value)
                        residence_fields.update(res_changes)
                        edited.append(
                            (
                                residence,
                                changes_between(
                                    Residence, res_before, snapshot(residence, list(res_before))
                                ),
                            )
                        )
                        moved = True
                elif residence is not None:
                    if d["moved_in"] < residence.moved_in:
                        outcome.rejected.append(
                            Rejected(
                                item.row,
                                item.values,
                                [
                                    _(
                                        "%(column)s is before the move-in date of the person's "
                                        "current home"
                                    )
                                    % {"column": "入住日期"}
                                ],
                            )
                        )
                        continue
                    residents.leave(residence.house_id, residence.relation, residence.moved_in)
                    residents.arrive(house[0], d["relation"], d["moved_in"])
                    residence.moved_out = d["moved_in"]
                    closed.append((residence, {"moved_out": [None, str(d["moved_in"])]}))
                    pending_residences.append((item, person))
                    moved = True
                else:
                    residents.arrive(house[0], d["relation"], d["moved_in"])
                    pending_residences.append((item, person))
                    moved = True
            elif residence is None and person.region_id != d["region"].pk:
                region_id = d["region"].pk
            if region_id != person.region_id:
                changed["region_id"] = region_id
                person.region = self.regions_by_pk[region_id]
            if changed:
                for name, value in changed.items():
                    setattr(person, name, value)
                person_fields.update(name for name in changed if name != "phone_index")
                if "phone" in changed:
                    person_fields.add("phone_index")
                changed_people.append(
                    (
                        person,
                        changes_between(Person, before, snapshot(person, _PERSON_AUDIT_FIELDS)),
                    )
                )
            if changed or moved:
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        # Writes: people first (new ids), then close old homes before opening new ones, since
        # the database allows one current primary residence per person.
        _PEOPLE.insert(new_people)
        if changed_people:
            Person.objects.bulk_update(
                _touch([p for p, _c in changed_people]),
                sorted(person_fields | {"updated_at"}),
                batch_size=1000,
            )
        if closed:
            Residence.objects.bulk_update(
                _touch([r for r, _c in closed]), ["moved_out", "updated_at"]
            )
        if edited:
            Residence.objects.bulk_update(
                _touch([r for r, _c in edited]), sorted(residence_fields | {"updated_at"})
            )
        created_by_row = {
            item.row: person for item, person in zip(new_rows, new_people, strict=True)
        }
        residences = []
        for item, person in pending_residences:
            d = item.data
            owner = person or created_by_row[item.row]
            house_id, region_id = d["house"]
            residences.append(
                _RESIDENCES.build(
                    {
                        "region_id": region_id,
                        "person_id": owner.pk,
                        "house_id": house_id,
                        "relation": d["relation"],
                        "is_primary": True,
                        "moved_in": d["moved_in"],
                    },
                    {
                        "region": self.regions_by_pk[region_id],
                        "person": owner,
                        "house": self.house_objects[house_id],
                    },
                )
            )
        _RESIDENCES.insert(residences)
        house_changes = self._follow_residences()
        outcome.created = len(new_people)
        self.statistics.added(len(new_people))
        self.audit(AuditAction.CREATE, [(p, _created_person(p)) for p in new_people])
        self.audit(AuditAction.UPDATE, changed_people)
        self.audit(
            AuditAction.CREATE,
            [
                (
                    r,
                    {
                        "person": [None, str(r.person_id)],
                        "house": [None, str(r.house_id)],
                        "relation": [None, r.relation],
                        "moved_in": [None, str(r.moved_in)],
                    },
                )
                for r in residences
            ],
        )
        self.audit(AuditAction.UPDATE, [*closed, *edited])
        self.audit(AuditAction.UPDATE, house_changes)
        return outcome

    def _follow_residences(self) -> list[tuple[House, dict[str, Any]]]:
        """The use of each house the batch touched, as its residences now say, unless set by
        hand (``rules.house_use``); written with one UPDATE per use (at most five)."""
        uses = self.residents.settle()
        if not uses:
            return []
        # The audit entries name each house and its region, in memory from ``prepare``; a house
        # outside it (an existing resident's old home elsewhere) is loaded.
        missing = [pk for pk, _old, _new in uses if pk not in self.house_objects]
        if missing:
            self.house_objects.update(
                (house.pk, house)
                for house in House.objects.filter(pk__in=missing)
                .select_related("region")
                .only("id", "address", "region__code")
            )
        changed: list[tuple[House, dict[str, Any]]] = []
        by_use: dict[str, list[int]] = {}
        for pk, old, use in uses:
            changed.append((self.house_objects[pk], {"use": [old, use]}))
            by_use.setdefault(use, []).append(pk)
        now = timezone.now()
        for use, ids in by_use.items():
            House.objects.filter(pk__in=ids).update(use=use, updated_at=now)
        return changed

    def finish(self) -> None:
        if not self.elsewhere_rows:
            return
        rows = sorted(set(self.elsewhere_rows))
        # One entry on each existing record that a row tried to register again, in that
        # record's region, so its community and the auditors see the attempt; the note says
        # which job and rows, never the names or ID numbers the rows held.
        record_many(
            REGISTERED_ELSEWHERE,
            [(person, None) for person in self.elsewhere_people.values()],
            actor=self.actor,
            note=f"{REGISTERED_ELSEWHERE_NOTE}: {len(rows)} rows of import job {self.job.pk}; "
            f"rows {', '.join(str(row) for row in rows)}",
        )


# --- vehicles ----------------------------------------------------------------------------


class VehiclesImporter(Importer):
    sheet = SHEETS[ImportKind.VEHICLES]

    def prepare(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        regions = list(self.regions.values())
        self.compounds = {
            (c.region.code[:12], name_key(c.name)): c
            for c in Compound.objects.filter(
                region__in=regions, retired_at__isnull=True
            ).select_related("region")
        }
        self.seen: dict[str, int] = {}
        self.owners = self._owners(rows)

    def _owners(self, rows: Sequence[tuple[int, list[Any]]]) -> dict[str, int]:
        """The people (in the importer's area, not retired) the sheet names as owners, by
        ID-number blind index: one query per batch of rows rather than one per row."""
        column = self.sheet.column("owner_id_number")
        position = self.sheet.columns.index(column)
        indexes = []
        for _row, values in rows:
            value = values[position]
            if value is None or value == "":
                continue
            try:
                number = parse_cell(column, value).number
            except CellError:
                continue  # rejected with its reason when the row is checked
            indexes.append(blind_index_for(Person, "id_number_index", number))
        owners: dict[str, int] = {}
        size = batch_size()
        for start in range(0, len(indexes), size):
            owners.update(
                Person.objects.within(self.scope)
                .filter(id_number_index__in=indexes[start : start + size], retired_at__isnull=True)
                .values_list("id_number_index", "pk")
            )
        return owners

    def check_rules(self, row: int, data: dict[str, Any]) -> list[str]:
        first = self.seen.get(data["plate"])
        if first is not None:
            return [_duplicate("车牌号", first)]
        self.seen[data["plate"]] = row
        reasons = []
        data["compound_obj"] = None
        if data.get("compound"):
            compound = self.compounds.get((data["region"].code[:12], name_key(data["compound"])))
            if compound is None:
                reasons.append(_("no compound of that name in this community"))
            data["compound_obj"] = compound
        data["owner_id"] = None
        if data.get("owner_id_number"):
            index = blind_index_for(Person, "id_number_index", data["owner_id_number"].number)
            owner_id = self.owners.get(index)
            if owner_id is None:
                reasons.append(_("the owner is not in the register; import the person first"))
            data["owner_id"] = owner_id
        return reasons

    def store(self, rows: list[Good]) -> Outcome:
        outcome = Outcome()
        existing = {
            v.plate: v
            for v in Vehicle.objects.filter(
                plate__in=[item.data["plate"] for item in rows], retired_at__isnull=True
            ).select_related("region")
        }
        new: list[Vehicle] = []
        updated: list[tuple[Vehicle, dict[str, Any]]] = []
        for item in rows:
            d = item.data
            region = d["compound_obj"].region if d["compound_obj"] else d["region"]
            values = {
                "region_id": region.pk,
                "compound_id": d["compound_obj"].pk if d["compound_obj"] else None,
                "owner_id": d["owner_id"],
                "description": d.get("description") or "",
            }
            vehicle = existing.get(d["plate"])
            if vehicle is None:
                vehicle = Vehicle(plate=d["plate"], **values)
                vehicle.region = region  # the audit entry names it: no query per vehicle
                new.append(vehicle)
                continue
            if not code_in_scope(vehicle.region.code, self.scope):
                outcome.rejected.append(
                    Rejected(
                        item.row, item.values, [_("this plate is registered outside your area")]
                    )
                )
                continue
            before = snapshot(vehicle, list(values))
            changed = {
                k: v
                for k, v in values.items()
                if getattr(vehicle, k) != v and (v or k == "region_id")
            }
            if changed:
                for name, value in changed.items():
                    setattr(vehicle, name, value)
                updated.append(
                    (vehicle, changes_between(Vehicle, before, snapshot(vehicle, list(values))))
                )
            else:
                outcome.unchanged += 1
        Vehicle.objects.bulk_create(new)
        if updated:
            Vehicle.objects.bulk_update(
                _touch([v for v, _c in updated]),
                ["region_id", "compound_id", "owner_id", "description", "updated_at"],
            )
        outcome.created, outcome.updated = len(new), len(updated)
        self.audit(
            AuditAction.CREATE, [(v, changes_between(Vehicle, {}, snapshot(v))) for v in new]
        )
        self.audit(AuditAction.UPDATE, updated)
        return outcome


# --- organisations -----------------------------------------------------------------------

_ORGANISATION_FIELDS = ("name", "kind", "address", "contact_name", "contact_phone")


class OrganisationsImporter(Importer):
    sheet = SHEETS[ImportKind.ORGANISATIONS]

    def prepare(self, rows: Sequence[tuple[int, list[Any]]]) -> None:
        self.seen: dict[tuple[str, ...], int] = {}

    def check_rules(self, row: int, data: dict[str, Any]) -> list[str]:
        key = (
            ("code", data["credit_code"])
            if data.get("credit_code")
            else ("name", data["region"].code, name_key(data["name"]))
        )
        first = self.seen.get(key)
        if first is not None:
            header = "统一社会信用代码" if key[0] == "code" else "名称"
            return [_duplicate(header, first)]
        self.seen[key] = row
        return []

    def store(self, rows: list[Good]) -> Outcome:
        outcome = Outcome()
        codes = [item.data["credit_code"] for item in rows if item.data.get("credit_code")]
        by_code = {
            o.credit_code: o
            for o in Organisation.objects.filter(credit_code__in=codes).select_related("region")
        }
        by_name = {
            (o.region_id, name_key(o.name)): o
            for o in Organisation.objects.filter(
                region__in=[item.data["region"] for item in rows], retired_at__isnull=True
            ).select_related("region")
        }
        new: list[Organisation] = []
        updated: list[tuple[Organisation, dict[str, Any]]] = []
        for item in rows:
            d = item.data
            organisation = (
                by_code.get(d["credit_code"])
                if d.get("credit_code")
                else by_name.get((d["region"].pk, name_key(d["name"])))
            )
            if organisation is None:
                new.append(
                    Organisation(
                        region=d["region"],
                        credit_code=d.get("credit_code") or "",
                        **{name: d.get(name) or "" for name in _ORGANISATION_FIELDS},
                    )
                )
                continue
            if not code_in_scope(organisation.region.code, self.scope) or organisation.retired_at:
                outcome.rejected.append(
                    Rejected(
                        item.row,
                        item.values,
                        [
                            _(
                                "this credit code belongs to an organisation outside "
                                "your area or retired"
                            )
                        ],
                    )
                )
                continue
            before = snapshot(organisation, list(_ORGANISATION_FIELDS))
            changed = _changes(organisation, d, _ORGANISATION_FIELDS)
            if changed:
                for name, value in changed.items():
                    setattr(organisation, name, value)
                updated.append(
                    (
                        organisation,
                        changes_between(Organisation, before, snapshot(organisation, list(before))),
                    )
                )
            else:
                outcome.unchanged += 1
        Organisation.objects.bulk_create(new)
        if updated:
            Organisation.objects.bulk_update(
                _touch([o for o, _c in updated]), [*_ORGANISATION_FIELDS, "updated_at"]
            )
        outcome.created, outcome.updated = len(new), len(updated)
        self.audit(
            AuditAction.CREATE, [(o, changes_between(Organisation, {}, snapshot(o))) for o in new]
        )
        self.audit(AuditAction.UPDATE, updated)
        return outcome


IMPORTERS: dict[str, type[Importer]] = {
    ImportKind.PLACES: PlacesImporter,
    ImportKind.PEOPLE: PeopleImporter,
    ImportKind.VEHICLES: VehiclesImporter,
    ImportKind.ORGANISATIONS: OrganisationsImporter,
}
