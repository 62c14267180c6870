"""The statistics as an Excel workbook: one sheet per breakdown of the page, plus the events
themselves (事件明细), within the exporter's scope. Needs ``events.export_event``; every export
is audited with its range and region.

The workbook is written in openpyxl's write-only mode to a temporary file, the event rows
streamed from the database in chunks, so memory stays flat. The event list holds no personal
data of reporters (no names, no phone numbers) and stops at ``DETAIL_LIMIT`` rows, which the
summary sheet says.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core.errors import PermissionDeniedError
from linli.events import stats as event_stats
from linli.events.models import EventCategory
from linli.regions.models import RegionNode

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DETAIL_LIMIT = 100_000
CHUNK = 2000
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def may_export(actor: Any) -> bool:
    return bool(actor.has_perm("events.export_event"))


def _sheet(
    workbook: Workbook, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    sheet: WriteOnlyWorksheet = workbook.create_sheet(title)
    for index in range(1, len(headers) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 18
    sheet.freeze_panes = "A2"
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for row in rows:
        sheet.append(list(row))
        count += 1
    return count


def _percent(value: float | None) -> float | str:
    return round(value * 100, 1) if value is not None else ""


def _hours(value: Any) -> float | str:
    shown = event_stats.hours(value)
    return shown if shown is not None else ""


def _local(moment: Any) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else ""


def export_statistics(actor: Any, query: event_stats.StatsQuery) -> tuple[IO[bytes], str, int]:
    """Write the workbook to a temporary file; returns (open file at 0, file name, events
    listed). Refused without the export permission, before anything is read."""
    if not may_export(actor):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission to export events.")
        )
    figures = event_stats.event_stats(actor, query)
    workbook = Workbook(write_only=True)
    region = query.region
    region_label = f"{region.name}（{region.code}）" if region else _("Whole area")
    summary = [
        (_("Region"), region_label),
        (_("Reported from"), query.start.isoformat()),
        (_("Reported to"), query.end.isoformat()),
        (_("Counted at time"), _local(figures.computed_at)),
        (_("Events reported"), figures.total),
        (_("Not yet closed"), figures.open),
        (_("Closed"), figures.closed),
        (_("Overdue at some point"), figures.overdue),
        (_("Overdue share (%)"), _percent(figures.overdue_share)),
        (_("Open and overdue now"), figures.overdue_now),
        (_("Average handling time, sign-for to handled (hours)"), _hours(figures.average_handling)),
        (_("Events with a handling time"), figures.handled),
        (_("Average time from report to close (hours)"), _hours(figures.average_to_close)),
        (_("Closed events timed"), figures.closed_timed),
        (_("Rated"), figures.rated),
        (_("Satisfaction (%)"), _percent(figures.satisfaction_share)),
    ]
    _sheet(workbook, _("Statistics summary"), [_("Statistic"), _("Value")], summary)
    tally_headers = [_("Code"), _("Name"), _("Events reported"), _("Share (%)")]
    for title, tallies in (
        (_("By source"), figures.by_source),
        (_("By status"), figures.by_status),
        (_("By category"), figures.by_category),
        (_("By subcategory"), figures.by_leaf),
    ):
        _sheet(
            workbook,
            title,
            tally_headers,
            ([t.key, t.label, t.count, _percent(t.share)] for t in tallies),
        )
    group_headers = [
        _("Events reported"),
        _("Closed"),
        _("Not yet closed"),
        _("Overdue at some point"),
        _("Overdue share (%)"),
        _("Average handling time (hours)"),
        _("Rated"),
        _("Satisfaction (%)"),
    ]

    def group_rows(rows: list[event_stats.GroupRow], with_key: bool) -> Iterator[list[Any]]:
        for row in rows:
            cells: list[Any] = [row.key] if with_key else []
            yield [
                *cells,
                row.label,
                row.received,
                row.closed,
                row.open,
                row.overdue,
                _percent(row.overdue_share),
                _hours(row.average_handling),
                row.rated,
                _percent(row.satisfaction_share),
            ]

    _sheet(
        workbook,
        _("By department"),
        [_("Department"), *group_headers],
        group_rows(figures.departments, False),
    )
    if figures.areas:
        _sheet(
            workbook,
            _("By area"),
            [_("Region code"), figures.area_level, *group_headers],
            group_rows(figures.areas, True),
        )
    _sheet(
        workbook,
        _("By day"),
        [_("Report date"), _("Events reported")],
        ([day.isoformat(), n] for day, n in figures.per_day),
    )
    listed = _sheet(
        workbook,
        _("Event list"),
        [
            _("Number"),
            _("Reported at"),
            _("Source"),
            _("Top-level category"),
            _("Subcategory"),
            _("Title"),
            _("Region code"),
            _("Region"),
            _("Place"),
            _("Event priority"),
            _("Status"),
            _("Handling department"),
            _("Deadline of this state"),
            _("Overdue now"),
            _("Overdue at some point"),
            _("Signed for at"),
            _("Handled at"),
            _("Closed at"),
            _("Reporter's rating"),
        ],
        _event_rows(actor, query),
    )
    if listed >= DETAIL_LIMIT:
        note = _("The event list stops at %(limit)d rows; choose a shorter range.") % {
            "limit": DETAIL_LIMIT
        }
        _sheet(workbook, _("Note"), [_("Note")], [[note]])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    workbook.save(handle)
    handle.seek(0)
    record(
        AuditAction.EXPORT,
        actor=actor,
        object_type="events.event",
        object_repr=_("Event statistics"),
        region_code=region.code if region else "",
        note=(
            f"statistics {query.start.isoformat()}..{query.end.isoformat()}, "
            f"region {region.code if region else 'all'}, {figures.total} events, "
            f"{listed} listed"
        ),
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return handle, f"event-statistics-{stamp}.xlsx", listed


def _event_rows(actor: Any, query: event_stats.StatsQuery) -> Iterator[list[Any]]:
    """The events in the range, oldest first, as a worker reads them (labels, not codes)."""
    categories = {c.pk: c for c in EventCategory.objects.only("pk", "name", "parent_id")}

    def top(pk: int) -> str:
        node = categories[pk]
        while node.parent_id is not None and node.parent_id in categories:
            node = categories[node.parent_id]
        return node.name

    if query.region is not None:
        nodes = RegionNode.objects.filter(code__startswith=query.region.code)
    else:
        nodes = RegionNode.objects.within(actor.scope_codes())
    region_names = dict(nodes.values_list("code", "name"))
    events = (
        event_stats.events_in(actor, query)
        .select_related("department")
        .only(
            "pk",
            "created_at",
            "source",
            "category_id",
            "title",
            "region_code",
            "address",
            "priority",
            "status",
            "department__name",
            "state_deadline",
            "overdue",
            "ever_overdue",
            "signed_at",
            "handled_at",
            "closed_at",
            "rating",
        )
        .order_by("created_at", "pk")
    )
    yes, no = _("Yes"), _("No")
    for event in events[:DETAIL_LIMIT].iterator(chunk_size=CHUNK):
        yield [
            event.number,
            _local(event.created_at),
            event.get_source_display(),
            top(event.category_id),
            categories[event.category_id].name,
            event.title,
            event.region_code,
            region_names.get(event.region_code, ""),
            event.address,
            event.get_priority_display(),
            event.get_status_display(),
            event.department.name if event.department else "",
            _local(event.state_deadline) if event.is_open else "",
            yes if event.overdue and event.is_open else no,
            yes if event.ever_overdue else no,
            _local(event.signed_at),
            _local(event.handled_at),
            _local(event.closed_at),
            event.get_rating_display() if event.rating else "",
        ]
