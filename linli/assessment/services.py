"""The self-assessment's state changes and evaluations, as the only way in.

Entering a manual figure checks the permission (``assessment.add_manualfigure``), that the
community lies in the actor's scope (outside answers "does not exist"), reads the value in its
metric's unit, requires evidence, refuses to shadow a figure the platform computes unless the
actor overrides it with ``assessment.override_manualfigure`` (and never the live security
checks), and writes the audit entry in the same transaction. Evaluating needs
``assessment.view_assessment`` over the community; the command line evaluates as the server's
operator, without an account.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from fractions import Fraction
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.assessment.choices import FigureSource
from linli.assessment.engine import AssessmentResult, evaluate
from linli.assessment.figures import (
    BadFigures,
    Figure,
    FiguresDocument,
    FigureSet,
    assemble,
    parse_date,
    platform_figures,
    registry_figures,
    suggestion,
)
from linli.assessment.models import Assessment, ManualFigure
from linli.assessment.standard import Metric, Standard, load_standard
from linli.assessment.values import ValueProblem, parse_value, value_text
from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.utilities.scope import code_in_scope

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def _require(actor: Any, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


def _community(actor: Any, region: Any) -> RegionNode:
    """The community as the actor may see it; anything else is "does not exist"."""
    code = getattr(region, "code", region)
    found = RegionNode.objects.filter(code=str(code)).first()
    if found is None or (actor is not None and not code_in_scope(found.code, actor.scope_codes())):
        raise NotFoundError("region.not_found", _("The region does not exist."))
    return _usable_community(found)


def _usable_community(region: RegionNode) -> RegionNode:
    if region.level != RegionLevel.COMMUNITY:
        raise ServiceError(
            "assessment.region_level",
            _("%(region)s is not a community: indicators are assessed per community.")
            % {"region": region},
        )
    if region.retired_at is not None:
        raise ServiceError("region.retired", _("The region has been retired."))
    return region


def resolve_tier(standard: Standard, tier: str) -> str:
    try:
        return standard.tier(tier).key
    except KeyError:
        raise ServiceError(
            "assessment.tier",
            _("Unknown tier “%(tier)s”; choose one of %(tiers)s.")
            % {"tier": tier, "tiers": "、".join(t.name for t in standard.tiers)},
        ) from None


# ------------------------------------------------------------------ manual figures


@transaction.atomic
def enter_manual_figure(
    actor: Any,
    *,
    region: Any,
    metric: str,
    value: Any,
    evidence: str,
    valid_from: Any,
    valid_until: Any = None,
    attachment: File | None = None,  # type: ignore[type-arg]
    override: bool = False,
    standard: Standard | None = None,
) -> ManualFigure:
    """Record a figure with its evidence for a community, valid from ``valid_from`` (until
    ``valid_until`` when given: e.g. a year's count of publicity activities)."""
    _require(actor, "assessment.add_manualfigure")
    community = _community(actor, region)
    standard = standard or load_standard()
    problems: list[str] = []
    parsed: Any = None
    quantity = None
    if metric not in standard.names():
        hint = suggestion(standard, metric)
        problems.append(
            _("Unknown metric “%(name)s”; did you mean “%(hint)s” (%(label)s)?")
            % {"name": metric, "hint": hint, "label": standard.quantity(hint).label}
            if hint
            else _("Unknown metric “%(name)s”; “linli assess --figures-template” lists them.")
            % {"name": metric}
        )
    else:
        quantity = standard.quantity(metric)
        try:
            parsed = parse_value(quantity, value)
        except ValueProblem as exc:
            problems.append(str(exc))
    evidence = (evidence or "").strip()
    if not evidence:
        problems.append(_("Say what the figure rests on (the evidence); it cannot be empty."))
    start = parse_date(valid_from, problems) if valid_from not in (None, "") else None
    if start is None and valid_from in (None, ""):
        problems.append(_("Give the date from which the figure is valid."))
    end = parse_date(valid_until, problems) if valid_until not in (None, "") else None
    if start is not None and end is not None and end < start:
        problems.append(_("The figure cannot be valid until a date before it is valid from."))
    if attachment is not None and attachment.size and attachment.size > MAX_ATTACHMENT_BYTES:
        problems.append(_("The attachment is larger than 20 MB."))
    if problems:
        raise BadFigures(problems)
    assert quantity is not None and start is not None
    if isinstance(quantity, Metric) and quantity.platform:
        if not quantity.overridable:
            raise ServiceError(
                "assessment.live_check",
                _("%(label)s is checked live by the platform and cannot be reported or overridden.")
                % {"label": quantity.label},
            )
        if override:
            _require(actor, "assessment.override_manualfigure")
        else:
            computed, _missing = registry_figures(community.code, start)
            current = computed.get(quantity.platform)
            if current is not None and current.known:
                raise ServiceError(
                    "assessment.platform_figure",
                    _(
                        "The platform computes %(label)s from its records (%(value)s on "
                        "%(date)s); replacing it is an override, which needs the permission to "
                        "override platform figures."
                    )
                    % {
                        "label": quantity.label,
                        "value": value_text(quantity, current.value),  # type: ignore[arg-type]
                        "date": start.isoformat(),
                    },
                )
    elif override:
        _require(actor, "assessment.override_manualfigure")
    _check_against_other_figures(
        standard,
        community,
        start,
        metric,
        parsed,
        evidence,
        FigureSource.OVERRIDE if override else FigureSource.MANUAL,
    )
    figure = ManualFigure(
        region=community,
        metric=metric,
        unit=quantity.unit,
        number=None if isinstance(parsed, bool) else _decimal(parsed),
        flag=parsed if isinstance(parsed, bool) else None,
        evidence=evidence,
        is_override=override,
        valid_from=start,
        valid_until=end,
        entered_by=actor,
        entered_at=timezone.now(),
    )
    if attachment is not None:
        figure.attachment.save(attachment.name or "evidence", attachment, save=False)
    figure.save(force_insert=True)
    audit.record(
        AuditAction.CREATE,
        figure,
        actor=actor,
        changes={
            "metric": metric,
            "value": value_text(quantity, parsed),
            "override": override,
            "valid_from": start.isoformat(),
            "valid_until": end.isoformat() if end else "",
        },
        region_code=community.code,
    )
    return figure


def _check_against_other_figures(
    standard: Standard,
    community: RegionNode,
    on: date,
    metric: str,
    value: Any,
    evidence: str,
    source: str,
) -> None:
    """Refuse a figure that contradicts the others valid on its first day (a part larger than
    its whole, households above the population…), before anything is written."""
    platform, _missing = registry_figures(community.code, on)
    wanted = {m.platform: m.name for m in standard.metrics.values() if m.platform}
    stored = recorded_figures(standard, community, on)
    stored[metric] = Figure(
        metric=metric, value=value, source=source, evidence=evidence, is_input=True
    )
    assemble(
        standard,
        platform={
            wanted[key]: replace(f, metric=wanted[key])
            for key, f in platform.items()
            if key in wanted
        },
        recorded=stored,
    )


def _decimal(value: Fraction) -> Any:
    from decimal import Decimal

    exact = Decimal(value.numerator) / Decimal(value.denominator)
    quantised = exact.quantize(Decimal("0.000001"))
    if quantised != exact:
        raise BadFigures(
            [_("%(value)s has more than six decimal places.") % {"value": format(exact, "f")}]
        )
    return quantised


@transaction.atomic
def retire_manual_figure(actor: Any, figure: Any) -> ManualFigure:
    """Withdraw a figure (kept for the record; it no longer counts)."""
    _require(actor, "assessment.retire_manualfigure")
    pk = getattr(figure, "pk", figure)
    found = (
        ManualFigure.objects.visible_to(actor, "retire")
        .select_for_update(of=("self",))
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundError("not_found", _("The record does not exist."))
    if found.retired_at is not None:
        raise ServiceError("assessment.withdrawn", _("The figure has already been withdrawn."))
    if found.is_override:
        _require(actor, "assessment.override_manualfigure")
    found.retired_at = timezone.now()
    found.retired_by = actor
    found.save(update_fields=["retired_at", "retired_by"])
    audit.record(AuditAction.RETIRE, found, actor=actor, changes={"metric": found.metric})
    return found


def recorded_figures(standard: Standard, region: RegionNode, on: date) -> dict[str, Figure]:
    """The stored figures that count on ``on``: per metric the latest entered, valid one."""
    figures: dict[str, Figure] = {}
    rows = (
        ManualFigure.objects.filter(region=region)
        .active()
        .valid_on(on)
        .select_related("entered_by")
        .order_by("metric", "-entered_at", "-id")
    )
    for row in rows:
        if row.metric in figures or row.metric not in standard.names():
            continue
        value: Any = row.flag if row.flag is not None else Fraction(row.number)
        figures[row.metric] = Figure(
            metric=row.metric,
            value=value,
            source=FigureSource.OVERRIDE if row.is_override else FigureSource.MANUAL,
            evidence=row.evidence,
            attachment=row.attachment.name if row.attachment else "",
            entered_by=str(row.entered_by) if row.entered_by else "",
            entered_at=row.entered_at,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            manual_figure_id=row.pk,
        )
    return figures


# ------------------------------------------------------------------ evaluations


def assess_community(
    actor: Any,
    region: Any,
    *,
    tier: str,
    on: date | None = None,
    given: dict[str, Figure] | None = None,
    allow_override: bool = False,
    standard: Standard | None = None,
) -> AssessmentResult:
    """A community in the actor's scope, evaluated from the platform, its stored figures and
    any figures ``given`` for this evaluation."""
    _require(actor, "assessment.view_assessment")
    community = _community(actor, region)
    if allow_override and given:
        _require(actor, "assessment.override_manualfigure")
    return evaluate_community(
        community, tier=tier, on=on, given=given, allow_override=allow_override, standard=standard
    )


def evaluate_community(
    region: RegionNode,
    *,
    tier: str,
    on: date | None = None,
    given: dict[str, Figure] | None = None,
    allow_override: bool = False,
    standard: Standard | None = None,
    fresh_audit: bool = False,
) -> AssessmentResult:
    """The evaluation itself, without an actor (the command line runs it as the operator)."""
    standard = standard or load_standard()
    tier_key = resolve_tier(standard, tier)
    community = _usable_community(region)
    on = on or timezone.localdate()
    figures = _community_figures(
        standard, community, on, given=given, allow_override=allow_override, fresh_audit=fresh_audit
    )
    return _evaluate_registered(standard, figures, tier_key, community, on)


def _community_figures(
    standard: Standard,
    community: RegionNode,
    on: date,
    *,
    given: dict[str, Figure] | None = None,
    allow_override: bool = False,
    fresh_audit: bool = False,
) -> FigureSet:
    """The figures of a registered community on ``on``: the platform's, the stored manual
    ones and any ``given`` for this evaluation."""
    platform, unavailable = platform_figures(standard, community.code, on, fresh_audit=fresh_audit)
    return assemble(
        standard,
        platform=platform,
        unavailable=unavailable,
        recorded=recorded_figures(standard, community, on),
        given=given,
        allow_override=allow_override,
    )


def _evaluate_registered(
    standard: Standard, figures: FigureSet, tier_key: str, community: RegionNode, on: date
) -> AssessmentResult:
    return evaluate(
        standard,
        figures,
        tier_key,
        on=on,
        community_name=community.name,
        community_code=community.code,
        in_register=True,
    )


def evaluate_figures(
    document: FiguresDocument,
    *,
    tier: str,
    on: date | None = None,
    standard: Standard | None = None,
) -> AssessmentResult:
    """A community not in the register, from its figures alone."""
    standard = standard or load_standard()
    tier_key = resolve_tier(standard, tier)
    figures = assemble(standard, given=document.figures)
    return evaluate(
        standard,
        figures,
        tier_key,
        on=on or document.on or timezone.localdate(),
        community_name=document.community,
        community_code=document.code,
        in_register=False,
    )


# ------------------------------------------------------------------ stored assessments


def store_assessment(
    actor: Any,
    region: Any,
    *,
    on: date | None = None,
    standard: Standard | None = None,
) -> Assessment:
    """Evaluate a community in the actor's scope against every tier and keep the result: the
    county view, its trends and the publications read stored assessments, so a verdict keeps
    the figures it rested on. ``result`` maps each tier's key to ``AssessmentResult.as_dict()``
    for that tier.

    The evaluation only reads, so it runs before the transaction: on SQLite a transaction holds
    the one write lock from its first statement (IMMEDIATE), and an evaluation (register counts,
    the encryption scan) would keep every other writer waiting. Only the insert and its audit
    entry run in the transaction."""
    _require(actor, "assessment.add_assessment")
    community = _community(actor, region)
    return _store(community, on=on, standard=standard, actor=actor)


def _store(
    community: RegionNode, *, on: date | None, standard: Standard | None, actor: Any = None
) -> Assessment:
    standard = standard or load_standard()
    on = on or timezone.localdate()
    community = _usable_community(community)
    # The figures (platform counts, live security checks) once; every tier reads the same.
    figures = _community_figures(standard, community, on)
    results = {
        tier.key: _evaluate_registered(standard, figures, tier.key, community, on)
        for tier in standard.tiers
    }
    top = results[standard.tiers[-1].key]
    reached, target = top.reached, top.next_tier
    result = {key: result.as_dict() for key, result in results.items()}
    with transaction.atomic():
        # Retired while it was being evaluated: nothing is stored for it.
        if not RegionNode.objects.filter(pk=community.pk, retired_at__isnull=True).exists():
            raise ServiceError("region.retired", _("The region has been retired."))
        assessment = Assessment.objects.create(
            region=community,
            on=on,
            standard=standard.id,
            tier_reached=reached.key if reached else "",
            next_tier=target.key if target else "",
            gap_count=len(top.gap()),
            result=result,
            computed_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(
            AuditAction.CREATE,
            assessment,
            actor=actor,
            changes={
                "tier_reached": [None, assessment.tier_reached],
                "on": [None, on.isoformat()],
            },
        )
    return assessment


# ------------------------------------------------------------------ pages and API


def community_in_scope(actor: Any, code: Any) -> RegionNode:
    """The community ``code`` as ``actor`` may see it: ``NotFoundError`` when it does not exist
    or lies outside the actor's scope, ``ServiceError`` when it is not an active community."""
    return _community(actor, code)


def check_assessment_date(on: date | None) -> date:
    """The date an evaluation is for: today when not given; never in the future (the register
    holds no records of tomorrow, and a stored assessment of a future day would stand in the
    trends before that day came)."""
    today = timezone.localdate()
    if on is None:
        return today
    if on > today:
        raise ServiceError(
            "assessment.future_date",
            _("The assessment date %(date)s is in the future; choose today or an earlier day.")
            % {"date": on.isoformat()},
        )
    return on
