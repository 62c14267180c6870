"""The county view of the self-assessment: every community of the user's scope with its latest
stored assessment, the subdistrict and county tables (communities per tier reached), the trend
across assessment dates, the Excel export, and the run that assesses every community in scope.

Everything here reads stored ``Assessment`` rows, never a live re-evaluation, and never their
``result`` JSON (a stored result is some 140 kB; the tables need four columns of it).

The run ("assess all communities in scope now") evaluates each community outside any
transaction and writes its result in a short one (``services.store_assessment``), so on SQLite
the pages' own writes slip in between; the encryption scan of the live security checks runs once
per run (``security.one_scan_per_run``), not once per community. It runs in the background (a
Celery worker in production, a thread of the embedded server, inline under tests). Its
progress lives in the shared cache (Redis in production) under a random run id; the run claims
itself with an atomic ``cache.add`` and skips the communities it has stored already, so a
retried message neither runs twice at once nor stores a community twice.
"""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from linli.assessment import security, services
from linli.assessment.choices import TIER_KEYS
from linli.assessment.models import Assessment
from linli.assessment.standard import load_standard
from linli.audit.choices import AuditAction
from linli.audit.services import record
from linli.core import jobs
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.utilities.scope import subtree_q

logger = logging.getLogger("linli.assessment")

NONE = "none"  # assessed, no tier reached
UNASSESSED = "unassessed"  # no stored assessment yet
# Columns of the tables and series of the trend, lowest first.
LEVELS = (UNASSESSED, NONE, *TIER_KEYS)
LEVEL_COLOURS = {
    UNASSESSED: "#cbd5e1",
    NONE: "#f87171",
    "basic": "#fbbf24",
    "growth": "#60a5fa",
    "benchmark": "#15803d",
}
TREND_DATES = 36  # the most recent assessment dates drawn
RUN_ID_RE = re.compile(r"[0-9a-f]{32}")
# A run renews its claim after every community. A worker that died stops renewing: its claim
# lapses, so the message delivered again resumes the run, and after STALE_SECONDS without
# progress the run no longer blocks a new one over the same scope.
CLAIM_SECONDS = 300
STALE_SECONDS = 600


def _require(actor: Any, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


def level_labels() -> dict[str, str]:
    names = {tier.key: tier.name for tier in load_standard().tiers}
    return {
        UNASSESSED: _("Not assessed"),
        NONE: _("No tier reached"),
        **{key: names.get(key, key) for key in TIER_KEYS},
    }


def level_of(assessment: Assessment | None) -> str:
    if assessment is None:
        return UNASSESSED
    return assessment.tier_reached or NONE


# ------------------------------------------------------------------ the tables


@dataclass
class CommunityRow:
    id: int
    code: str
    name: str
    subdistrict_code: str
    subdistrict_name: str
    county_code: str
    county_name: str
    assessment: Assessment | None

    @property
    def level(self) -> str:
        return level_of(self.assessment)


@dataclass
class TierCounts:
    """Communities of one subdistrict or county by the tier they have reached."""

    code: str
    name: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))

    @property
    def communities(self) -> int:
        return sum(self.counts.values())

    def add(self, level: str) -> None:
        self.counts[level] += 1

    def cells(self) -> list[int]:
        return [self.counts[level] for level in LEVELS]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "communities": self.communities,
            **self.counts,
        }


@dataclass
class CountyView:
    rows: list[CommunityRow]
    subdistricts: list[TierCounts]
    counties: list[TierCounts]
    trend: dict[str, Any]


def communities_in_scope(actor: Any, region: str = "") -> Any:
    """Active communities inside the actor's scope (and inside ``region`` when given)."""
    rows = (
        RegionNode.objects.within(actor.scope_codes()).active().filter(level=RegionLevel.COMMUNITY)
    )
    if region:
        rows = rows.filter(subtree_q("code", region)) if region.isdigit() else rows.none()
    return rows.order_by("code")


def _latest(actor: Any, region: str) -> dict[int, Assessment]:
    rows = Assessment.objects.visible_to(actor).latest_per_community()
    if region:
        rows = rows.filter(subtree_q("region__code", region))
    rows = rows.defer("result").select_related("computed_by")
    return {row.region_id: row for row in rows}


def _names(codes: Iterable[str]) -> dict[str, str]:
    return dict(RegionNode.objects.filter(code__in=set(codes)).values_list("code", "name"))


def county_view(actor: Any, region: str = "") -> CountyView:
    """The tables and the trend for the actor's scope, from stored assessments only."""
    _require(actor, "assessment.view_assessment")
    communities = list(communities_in_scope(actor, region).values_list("id", "code", "name"))
    latest = _latest(actor, region)
    names = _names(
        [code[:9] for _id, code, _name in communities] + [c[:6] for _i, c, _n in communities]
    )
    rows = [
        CommunityRow(
            id=pk,
            code=code,
            name=name,
            subdistrict_code=code[:9],
            subdistrict_name=names.get(code[:9], code[:9]),
            county_code=code[:6],
            county_name=names.get(code[:6], code[:6]),
            assessment=latest.get(pk),
        )
        for pk, code, name in communities
    ]
    subdistricts: dict[str, TierCounts] = {}
    counties: dict[str, TierCounts] = {}
    for row in rows:
        subdistricts.setdefault(
            row.subdistrict_code, TierCounts(row.subdistrict_code, row.subdistrict_name)
        ).add(row.level)
        counties.setdefault(row.county_code, TierCounts(row.county_code, row.county_name)).add(
            row.level
        )
    return CountyView(
        rows=rows,
        subdistricts=list(subdistricts.values()),
        counties=list(counties.values()),
        trend=trend(actor, {row.id for row in rows}, region),
    )


def trend(actor: Any, community_ids: set[int], region: str = "") -> dict[str, Any]:
    """Communities per tier on each assessment date: on a date, a community counts with its
    latest assessment of that date or before (those not assessed yet count as such)."""
    rows = Assessment.objects.visible_to(actor)
    if region:
        rows = rows.filter(subtree_q("region__code", region))
    history = rows.order_by("on", "computed_at", "id").values_list(
        "region_id", "on", "tier_reached"
    )
    state: dict[int, str] = {}
    by_date: dict[date, list[tuple[int, str]]] = defaultdict(list)
    for region_id, on, tier in history.iterator(chunk_size=2000):
        if region_id in community_ids:
            by_date[on].append((region_id, tier or NONE))
    dates: list[str] = []
    series: dict[str, list[int]] = {level: [] for level in LEVELS}
    for on in sorted(by_date):
        for region_id, level in by_date[on]:
            state[region_id] = level
        counts = dict.fromkeys(LEVELS, 0)
        for level in state.values():
            counts[level] += 1
        counts[UNASSESSED] = len(community_ids) - len(state)
        dates.append(on.isoformat())
        for level in LEVELS:
            series[level].append(counts[level])
    keep = slice(-TREND_DATES, None)
    return {
        "dates": dates[keep],
        "series": {level: values[keep] for level, values in series.items()},
    }


def filter_rows(rows: list[CommunityRow], level: str) -> list[CommunityRow]:
    return [row for row in rows if row.level == level] if level in LEVELS else rows


# ------------------------------------------------------------------ the Excel export


def export_headers() -> list[str]:
    return [
        _("County"),
        _("Subdistrict"),
        _("Subdistrict code"),
        _("Community"),
        _("Community code"),
        _("Assessment date"),
        _("Tier reached"),
        _("Next tier"),
        _("Items missing for the next tier"),
        _("Standard"),
        _("Computed at"),
        _("Computed by"),
    ]


def _export_rows(rows: list[CommunityRow], labels: dict[str, str]) -> Iterator[list[Any]]:
    for row in rows:
        found = row.assessment
        yield [
            row.county_name,
            row.subdistrict_name,
            row.subdistrict_code,
            row.name,
            row.code,
            found.on.isoformat() if found else "",
            labels[row.level],
            labels.get(found.next_tier, "") if found and found.next_tier else "",
            found.gap_count if found else "",
            found.standard if found else "",
            timezone.localtime(found.computed_at).strftime("%Y-%m-%d %H:%M") if found else "",
            str(found.computed_by) if found and found.computed_by else "",
        ]


def export_communities(
    actor: Any, *, region: str = "", level: str = ""
) -> tuple[IO[bytes], str, int]:
    """The community table as a workbook in a temporary file (at 0), its name and row count;
    needs ``assessment.export_assessment`` and is audited."""
    from linli.registry.excel.templates import write_rows

    if not actor.has_perm("assessment.export_assessment"):
        raise PermissionDeniedError(
            "permission_denied",
            _(
                "You may not export self-assessment tables; the security administrator can "
                "grant it."
            ),
        )
    view = county_view(actor, region)
    rows = filter_rows(view.rows, level)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    count = write_rows(
        handle, _("Self-assessment"), export_headers(), _export_rows(rows, level_labels())
    )
    handle.seek(0)
    filters = ", ".join(f"{k}={v}" for k, v in (("region", region), ("tier", level)) if v)
    record(
        AuditAction.EXPORT,
        actor=actor,
        object_type=Assessment._meta.label_lower,
        object_repr=str(Assessment._meta.verbose_name_plural),
        note=f"{count} rows" + (f"; filters: {filters}" if filters else ""),
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return handle, f"self-assessment-{stamp}.xlsx", count


# ------------------------------------------------------------------ assessing every community


def _state_key(run_id: str) -> str:
    return f"linli:assessment:run:{run_id}"


def _claim_key(run_id: str) -> str:
    return f"linli:assessment:run:{run_id}:claimed"


def _scope_key(actor: Any) -> str:
    return "linli:assessment:run-active:" + ",".join(actor.scope_codes())


def _timeout(total: int) -> int:
    # Long enough for a slow database (a few seconds per community), and a day to read the
    # outcome afterwards.
    return max(3600, total * 5) + 24 * 3600


def run_state(actor: Any, run_id: str) -> dict[str, Any]:
    """A run as its owner sees it; anyone else's, or an unknown id, does not exist."""
    state = cache.get(_state_key(run_id)) if RUN_ID_RE.fullmatch(run_id or "") else None
    if state is None or state["actor"] != actor.pk:
        raise NotFoundError("assessment.run_not_found", _("The run does not exist."))
    return state


def active_run(actor: Any) -> dict[str, Any] | None:
    """The run under way over exactly this actor's scope, if it is theirs to see."""
    run_id = cache.get(_scope_key(actor))
    if not run_id:
        return None
    try:
        state = run_state(actor, run_id)
    except NotFoundError:
        return None
    if state["status"] not in ("pending", "running"):
        return None
    quiet = timezone.now() - datetime.fromisoformat(state["updated_at"])
    return state if quiet.total_seconds() < STALE_SECONDS else None


def start_run(actor: Any, *, on: date | None = None) -> dict[str, Any]:
    """Assess every community in the actor's scope on ``on`` (today by default), after this
    transaction commits. A run already under way over the same scope is returned instead of
    starting a second one."""
    _require(actor, "assessment.add_assessment")
    on = services.check_assessment_date(on)
    codes = list(communities_in_scope(actor).values_list("code", flat=True))
    if not codes:
        raise ServiceError(
            "assessment.no_communities", _("There is no community in your scope to assess.")
        )
    run_id = uuid.uuid4().hex
    timeout = _timeout(len(codes))
    if not cache.add(_scope_key(actor), run_id, timeout=timeout):
        current = active_run(actor)
        if current is not None:
            return current
        cache.set(_scope_key(actor), run_id, timeout=timeout)
    state = {
        "id": run_id,
        "actor": actor.pk,
        "on": on.isoformat(),
        "codes": codes,
        "total": len(codes),
        "done": 0,
        "stored": 0,
        "failed": [],
        "status": "pending",
        "message": "",
        "started_at": timezone.now().isoformat(),
        "updated_at": timezone.now().isoformat(),
        "finished_at": None,
        "scope_key": _scope_key(actor),
    }
    cache.set(_state_key(run_id), state, timeout=timeout)
    record(
        AuditAction.CREATE,
        actor=actor,
        object_type=Assessment._meta.label_lower,
        object_repr=str(_("Assessment of every community in scope")),
        note=f"run {run_id}: {len(codes)} communities on {on.isoformat()}",
    )
    _schedule(run_id)
    return state


def _schedule(run_id: str) -> None:
    """Celery in production; in the embedded server a thread, so the page answers at once and
    polls the progress; inline under tests."""
    if settings.CELERY_TASK_ALWAYS_EAGER and not settings.TESTING:
        import threading

        def start() -> None:
            threading.Thread(
                target=_run_in_thread, args=(run_id,), name=f"assess-{run_id[:8]}", daemon=True
            ).start()

        transaction.on_commit(start)
    else:
        jobs.enqueue("linli.assessment.county.assess_communities", run_id)


def _run_in_thread(run_id: str) -> None:
    try:
        assess_communities(run_id)
    finally:
        close_old_connections()
        connection.close()


def _save(run_id: str, state: dict[str, Any]) -> None:
    state["updated_at"] = timezone.now().isoformat()
    cache.set(_state_key(run_id), state, timeout=_timeout(state["total"]))
    if state["status"] == "running":
        cache.set(_claim_key(run_id), "1", timeout=CLAIM_SECONDS)


@jobs.background
def assess_communities(run_id: str) -> None:
    """Store an assessment of every community of the run, as the user who started it (their
    permission and scope are checked again for each community)."""
    from linli.accounts.models import User

    state = cache.get(_state_key(run_id))
    if state is None or state["status"] in ("done", "failed"):
        return
    if not cache.add(_claim_key(run_id), "1", timeout=CLAIM_SECONDS):
        return  # another worker runs it
    on = date.fromisoformat(state["on"])
    started = datetime.fromisoformat(state["started_at"])
    state["status"] = "running"
    _save(run_id, state)
    actor = User.objects.filter(pk=state["actor"], is_active=True).first()
    with translation.override(settings.LANGUAGE_CODE):
        try:
            if actor is None:
                raise PermissionDeniedError(
                    "permission_denied", _("The account that started the run is not active.")
                )
            # A message delivered twice resumes: communities this run stored are skipped.
            done_already = set(
                Assessment.objects.filter(
                    region__code__in=state["codes"], on=on, computed_at__gte=started
                ).values_list("region__code", flat=True)
            )
            with security.one_scan_per_run():
                for code in state["codes"]:
                    if code not in done_already:
                        try:
                            services.store_assessment(actor, code, on=on)
                            state["stored"] += 1
                        except PermissionDeniedError:
                            raise
                        except ServiceError as exc:
                            state["failed"].append([code, str(exc.message)])
                    state["done"] += 1
                    _save(run_id, state)
            state["status"] = "done"
        except PermissionDeniedError as exc:
            state["status"] = "failed"
            state["message"] = str(exc.message)
        except Exception:
            logger.exception("assessment run %s failed", run_id)
            state["status"] = "failed"
            state["message"] = _("The run stopped because of an internal error.")
        finally:
            state["finished_at"] = timezone.now().isoformat()
            _save(run_id, state)
            if cache.get(state["scope_key"]) == run_id:
                cache.delete(state["scope_key"])
