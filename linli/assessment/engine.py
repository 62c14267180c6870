"""Evaluating a community's figures against the standard.

Per check: met / not met / evidence missing / not applicable, with the reason in numbers
("广播电视覆盖率 57.6%（2820/4900）< 70%"). Comparisons are exact (fractions: 70.0 ≥ 70 is met,
69.99 is not). A condition that the figures show to be false makes its check not applicable; a
condition the figures cannot decide leaves the check in force (nobody is exempted on a figure
they did not give). An indicator is not met when any of its checks is not met, evidence missing
when otherwise any is missing, and not applicable only when none of its checks applies.

A tier is reached when every one of its indicators is met or not applicable (each tier is a
complete list of its own, indicators.md's preamble); the tier reached is the highest such tier.
The gap to the next tier lists what is missing, cheapest first: numeric shortfalls by relative
shortfall, then missing figures or evidence, then capabilities declared absent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from django.utils.translation import gettext as _

from linli.assessment.choices import SATISFIED, Unit, Verdict
from linli.assessment.figures import Figure, FigureSet
from linli.assessment.standard import Check, Comparison, Formula, Indicator, Standard, Tier
from linli.assessment.values import plain, threshold_text, value_text

SYMBOL = {">=": "≥", ">": ">", "<": "<", "<=": "≤"}
NEGATION = {">=": "<", ">": "≤", "<": "≥", "<=": ">"}
GAP_ORDER = {"shortfall": 0, "evidence": 1, "absent": 2}


@dataclass
class CheckResult:
    check: Check
    verdict: Verdict
    reason: str
    statement: str = ""
    # What the figure rests on, written once in the completion text however many checks use it.
    evidence: str = ""
    needed: str = ""
    gap_kind: str = ""  # shortfall | evidence | absent
    shortfall: Fraction | None = None
    options: list[CheckResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.check.key,
            "item": self.check.item,
            "requirement_item": self.check.item_text,
            "kind": self.check.kind,
            "verdict": self.verdict.value,
            "verdict_label": str(self.verdict.label),
            "reason": self.reason,
            "needed": self.needed or None,
        }


@dataclass
class IndicatorResult:
    indicator: Indicator
    verdict: Verdict
    checks: list[CheckResult]

    @property
    def reason(self) -> str:
        return "；".join(check.reason for check in self.checks)

    @property
    def completion_text(self) -> str:
        """The 本社区完成情况 cell of the acceptance publication, composed from the figures."""
        prefix = {
            Verdict.MET: _("Met."),
            Verdict.NOT_MET: _("Not met."),
            Verdict.EVIDENCE_MISSING: _("Evidence to be supplied."),
            Verdict.NOT_APPLICABLE: _("Not applicable."),
        }[self.verdict]
        sentences: list[str] = []
        for check in self.checks:
            for part in (check.statement, check.evidence):
                text = part.strip().rstrip("。；;")
                if text and text not in sentences:
                    sentences.append(text)
        return prefix + ("；".join(sentences) + "。" if sentences else "")

    def as_dict(self, figures: FigureSet) -> dict[str, Any]:
        indicator = self.indicator
        return {
            "tier": indicator.tier,
            "number": indicator.number,
            "category": indicator.category,
            "name": indicator.name,
            "definition": indicator.definition,
            "requirement": indicator.requirement,
            "verdict": self.verdict.value,
            "verdict_label": str(self.verdict.label),
            "reason": self.reason,
            "completion_text": self.completion_text,
            "checks": [check.as_dict() for check in self.checks],
            "figures": [
                figure_entry(figures, name) for name in _indicator_figures(figures, indicator)
            ],
        }


def _indicator_figures(figures: FigureSet, indicator: Indicator) -> list[str]:
    names: dict[str, None] = {}
    for name in indicator.subjects():
        quantity = figures.standard.quantity(name)
        if isinstance(quantity, Formula):
            names.setdefault(quantity.numerator)
            names.setdefault(quantity.denominator)
        names.setdefault(name)
    return list(names)


def figure_entry(figures: FigureSet, name: str) -> dict[str, Any]:
    figure = figures.get(name)
    if figure is not None:
        return figure.as_dict(figures.standard)
    quantity = figures.standard.quantity(name)
    return {
        "metric": name,
        "label": quantity.label,
        "unit": quantity.unit,
        "value": None,
        "source": None,
        "missing": figures.unavailable.get(name) or _("not reported"),
    }


@dataclass
class TierResult:
    tier: Tier
    indicators: list[IndicatorResult]

    @property
    def met(self) -> bool:
        return all(result.verdict in SATISFIED for result in self.indicators)

    def counts(self) -> dict[str, int]:
        counts = {verdict.value: 0 for verdict in Verdict}
        for result in self.indicators:
            counts[result.verdict.value] += 1
        return counts


@dataclass
class GapItem:
    indicator: Indicator
    check: CheckResult

    @property
    def kind(self) -> str:
        return self.check.gap_kind

    def sort_key(self) -> tuple[int, Fraction, int, str]:
        return (
            GAP_ORDER[self.kind],
            self.check.shortfall if self.check.shortfall is not None else Fraction(0),
            self.indicator.number,
            self.check.check.key,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.indicator.tier,
            "number": self.indicator.number,
            "category": self.indicator.category,
            "name": self.indicator.name,
            "item": self.check.check.item,
            "kind": self.kind,
            "verdict": self.check.verdict.value,
            "reason": self.check.reason,
            "needed": self.check.needed,
            "relative_shortfall": (
                round(float(self.check.shortfall), 4) if self.check.shortfall is not None else None
            ),
        }


@dataclass
class AssessmentResult:
    standard: Standard
    community_name: str
    community_code: str
    in_register: bool
    on: date
    tier: TierResult
    tiers: list[TierResult]
    figures: FigureSet

    @property
    def reached(self) -> Tier | None:
        met = [result.tier for result in self.tiers if result.met]
        return max(met, key=lambda tier: tier.rank) if met else None

    @property
    def next_tier(self) -> Tier | None:
        return self.standard.next_tier(self.reached)

    def gap(self) -> list[GapItem]:
        target = self.next_tier
        if target is None:
            return []
        result = next(r for r in self.tiers if r.tier.key == target.key)
        items = [
            GapItem(indicator_result.indicator, check)
            for indicator_result in result.indicators
            if indicator_result.verdict not in SATISFIED
            for check in indicator_result.checks
            if check.verdict in (Verdict.NOT_MET, Verdict.EVIDENCE_MISSING)
        ]
        return sorted(items, key=GapItem.sort_key)

    def as_dict(self) -> dict[str, Any]:
        reached, target = self.reached, self.next_tier
        return {
            "standard": {
                "id": self.standard.id,
                "code": self.standard.code,
                "title": self.standard.title,
            },
            "community": {
                "code": self.community_code or None,
                "name": self.community_name,
                "in_register": self.in_register,
            },
            "date": self.on.isoformat(),
            "tier": self.tier.tier.name,
            "tier_key": self.tier.tier.key,
            "tier_met": self.tier.met,
            "counts": self.tier.counts(),
            "tier_reached": reached.name if reached else None,
            "tier_reached_key": reached.key if reached else None,
            "tiers": [
                {"tier": r.tier.name, "key": r.tier.key, "met": r.met, "counts": r.counts()}
                for r in self.tiers
            ],
            "indicators": [result.as_dict(self.figures) for result in self.tier.indicators],
            "gap": {
                "tier": target.name if target else None,
                "tier_key": target.key if target else None,
                "items": [item.as_dict() for item in self.gap()],
            },
            "figures": {
                name: figure.as_dict(self.standard)
                for name, figure in sorted(self.figures.figures.items())
                if figure.known
            },
            "unavailable": dict(sorted(self.figures.unavailable.items())),
            "warnings": self.figures.warnings,
        }


# ------------------------------------------------------------------ evaluation


def evaluate(
    standard: Standard,
    figures: FigureSet,
    tier: str,
    *,
    on: date,
    community_name: str = "",
    community_code: str = "",
    in_register: bool = False,
) -> AssessmentResult:
    """Every tier evaluated from ``figures``; ``tier`` (key or Chinese name) is the one shown."""
    evaluator = _Evaluator(standard, figures)
    results = [
        TierResult(t, [evaluator.indicator(indicator) for indicator in t.indicators])
        for t in standard.tiers
    ]
    requested = standard.tier(tier)
    return AssessmentResult(
        standard=standard,
        community_name=community_name,
        community_code=community_code,
        in_register=in_register,
        on=on,
        tier=next(r for r in results if r.tier.key == requested.key),
        tiers=results,
        figures=figures,
    )


class _Evaluator:
    def __init__(self, standard: Standard, figures: FigureSet) -> None:
        self.standard = standard
        self.figures = figures

    def indicator(self, indicator: Indicator) -> IndicatorResult:
        checks = [self.check(check) for check in indicator.checks]
        verdicts = {check.verdict for check in checks}
        if Verdict.NOT_MET in verdicts:
            verdict = Verdict.NOT_MET
        elif Verdict.EVIDENCE_MISSING in verdicts:
            verdict = Verdict.EVIDENCE_MISSING
        elif Verdict.MET in verdicts:
            verdict = Verdict.MET
        else:
            verdict = Verdict.NOT_APPLICABLE
        return IndicatorResult(indicator, verdict, checks)

    def check(self, check: Check) -> CheckResult:
        applies, condition_text = True, ""
        if check.when is not None:
            holds, condition_text = self.condition(check.when)
            if holds is False:
                values = {"condition": condition_text, "wording": check.when.wording}
                reason = _("Not applicable: %(condition)s, so “%(wording)s” does not hold") % values
                statement = (
                    _("%(condition)s, so “%(wording)s” does not hold and the item does not apply")
                    % values
                )
                return CheckResult(check, Verdict.NOT_APPLICABLE, reason, statement=statement)
            applies = holds is True
        if check.kind == "threshold":
            assert check.threshold is not None
            result = self.threshold(check, check.threshold)
        elif check.kind == "evidence":
            assert check.evidence is not None
            result = self.evidence(check, check.evidence)
        else:
            result = self.any_of(check)
        if check.when is not None and not applies:
            result.reason += _(" (%(condition)s; the requirement applies)") % {
                "condition": condition_text
            }
        return result

    # -- conditions

    def condition(self, when: Comparison) -> tuple[bool | None, str]:
        """Whether the condition holds (None: the figures cannot tell) and the figures said."""
        quantity = self.standard.quantity(when.subject)
        low, high = self.figures.bounds(when.subject)
        figure = self.figures.get(when.subject)
        if figure is not None:
            assert isinstance(figure.value, Fraction)
            text = f"{quantity.label} {value_text(quantity, figure.value, when.value, when.op)}"
            if figure.upper is not None and figure.upper != figure.value:
                text += _(" (at most %(upper)s)") % {
                    "upper": value_text(quantity, figure.upper, when.value, when.op)
                }
        elif low is not None:
            bounds = [b for b in getattr(quantity, "at_least", ()) if self.figures.get(b)]
            bound = self.standard.quantity(bounds[0]) if bounds else quantity
            text = _("%(label)s not reported, but at least %(bound)s %(value)s") % {
                "label": quantity.label,
                "bound": bound.label,
                "value": value_text(quantity, low),
            }
        else:
            return None, _("%(label)s not reported") % {"label": quantity.label}
        if when.op in (">=", ">"):
            if low is not None and when.holds(low):
                return True, text
            if high is not None and not when.holds(high):
                return False, text
        else:
            if high is not None and when.holds(high):
                return True, text
            if low is not None and not when.holds(low):
                return False, text
        return None, text

    # -- the three kinds of check

    def missing(self, check: Check, name: str) -> CheckResult:
        quantity = self.standard.quantity(name)
        why = self.figures.unavailable.get(name)
        reason = _("%(label)s not reported") % {"label": quantity.label}
        if why:
            reason += _(" (platform: %(why)s)") % {"why": why}
        return CheckResult(
            check,
            Verdict.EVIDENCE_MISSING,
            reason,
            statement=reason,
            needed=_("Report %(label)s") % {"label": quantity.label},
            gap_kind="evidence",
        )

    def threshold(self, check: Check, cmp: Comparison) -> CheckResult:
        quantity = self.standard.quantity(cmp.subject)
        figure = self.figures.get(cmp.subject)
        if figure is None:
            return self.from_lower_bound(check, cmp) or self.missing(check, cmp.subject)
        value = figure.value
        assert isinstance(value, Fraction)
        met = cmp.holds(value)
        parts = ""
        computation = figure.computation
        if computation and computation.numerator and computation.denominator_value is not None:
            assert computation.numerator_value is not None
            parts = (
                f"（{plain(computation.numerator_value)}/{plain(computation.denominator_value)}）"
            )
        shown = value_text(quantity, value, cmp.value, cmp.op)
        symbol = SYMBOL[cmp.op] if met else NEGATION[cmp.op]
        reason = f"{quantity.label} {shown}{parts} {symbol} {threshold_text(quantity, cmp.value)}"
        if figure.implied_from:
            reason += _(" (settled by %(figure)s)") % {"figure": figure.implied_from}
        result = CheckResult(
            check,
            Verdict.MET if met else Verdict.NOT_MET,
            reason,
            statement=self.statement(quantity, figure, cmp),
            evidence=figure.evidence,
        )
        if not met:
            result.gap_kind = "shortfall"
            result.shortfall = _relative_shortfall(value, cmp)
            result.needed = self.needed(quantity, figure, cmp)
        return result

    def from_lower_bound(self, check: Check, cmp: Comparison) -> CheckResult | None:
        """A figure nobody reported that is met all the same, because a figure it can never fall
        below (``at_least``) already meets the threshold — e.g. 在省级层面推广的创新应用场景 1 项
        for "不少于1项创新应用场景". Undecided otherwise (evidence missing, never a pass)."""
        if cmp.op not in (">=", ">"):
            return None
        found = self.figures.lower_bound(cmp.subject)
        if found is None or not cmp.holds(found[0]):
            return None
        low, bound_name, denominator = found
        quantity = self.standard.quantity(cmp.subject)
        bound = self.standard.quantity(bound_name)
        bound_figure = self.figures.get(bound_name)
        assert bound_figure is not None and isinstance(bound_figure.value, Fraction)
        bound_text = f"{bound.label} {value_text(bound, bound_figure.value)}"
        if denominator is not None:
            assert isinstance(quantity, Formula)
            whole = self.standard.quantity(quantity.denominator)
            bound_text += f"/{whole.label} {value_text(whole, denominator)}"
        reason = _(
            "%(label)s not reported, but at least %(value)s (%(bound)s) %(symbol)s %(threshold)s"
        ) % {
            "label": quantity.label,
            "value": value_text(quantity, low, cmp.value, cmp.op),
            "bound": bound_text,
            "symbol": SYMBOL[cmp.op],
            "threshold": threshold_text(quantity, cmp.value),
        }
        return CheckResult(
            check, Verdict.MET, reason, statement=reason, evidence=bound_figure.evidence
        )

    def statement(self, quantity: Any, figure: Figure, cmp: Comparison) -> str:
        shown = value_text(quantity, figure.value, cmp.value, cmp.op)  # type: ignore[arg-type]
        computation = figure.computation
        if (
            isinstance(quantity, Formula)
            and computation is not None
            and computation.numerator_value is not None
            and computation.denominator_value is not None
        ):
            whole = self.standard.quantity(quantity.denominator)
            part = self.standard.quantity(quantity.numerator)
            text = _("%(whole)s %(whole_value)s, %(part)s %(part_value)s, %(label)s %(value)s") % {
                "whole": whole.label,
                "whole_value": value_text(whole, computation.denominator_value),
                "part": part.label,
                "part_value": value_text(part, computation.numerator_value),
                "label": quantity.label,
                "value": shown,
            }
        else:
            text = _("%(label)s %(value)s") % {"label": quantity.label, "value": shown}
        return text

    def needed(self, quantity: Any, figure: Figure, cmp: Comparison) -> str:
        value = figure.value
        assert isinstance(value, Fraction)
        computation = figure.computation
        if (
            isinstance(quantity, Formula)
            and computation is not None
            and computation.numerator_value is not None
            and computation.denominator_value is not None
        ):
            part = self.standard.quantity(quantity.numerator)
            target = cmp.value * computation.denominator_value / 100
            if part.unit == Unit.COUNT:
                wanted = Fraction(math.floor(target) + 1 if cmp.op == ">" else math.ceil(target))
                amount = value_text(part, wanted - computation.numerator_value)
            else:
                amount = value_text(part, target - computation.numerator_value)
                if cmp.op == ">":
                    amount = _("more than %(amount)s") % {"amount": amount}
            return _("%(part)s needs %(amount)s more") % {"part": part.label, "amount": amount}
        if quantity.unit == Unit.PERCENT:
            points = cmp.value - value + (Fraction(1, 10) if cmp.op == ">" else 0)
            return _("%(label)s needs %(points)s more percentage points") % {
                "label": quantity.label,
                "points": plain(points, 2),
            }
        step = 1 if quantity.unit == Unit.COUNT and cmp.op == ">" else 0
        return _("%(part)s needs %(amount)s more") % {
            "part": quantity.label,
            "amount": value_text(quantity, cmp.value - value + step),
        }

    def evidence(self, check: Check, name: str) -> CheckResult:
        quantity = self.standard.quantity(name)
        figure = self.figures.get(name)
        if figure is None:
            return self.missing(check, name)
        if figure.value is False:
            reason = _("%(label)s: not in place") % {"label": quantity.label}
            if figure.computation and figure.computation.description:
                reason += f"（{figure.computation.description}）"
            return CheckResult(
                check,
                Verdict.NOT_MET,
                reason,
                statement=reason,
                needed=_("Put in place: %(label)s") % {"label": quantity.label},
                gap_kind="absent",
            )
        if not figure.evidence.strip():
            reason = _("%(label)s: reported as in place, but without evidence") % {
                "label": quantity.label
            }
            return CheckResult(
                check,
                Verdict.EVIDENCE_MISSING,
                reason,
                statement=reason,
                needed=_("Provide evidence for %(label)s") % {"label": quantity.label},
                gap_kind="evidence",
            )
        reason = _("%(label)s: in place, with evidence") % {"label": quantity.label}
        if figure.implied_from:
            reason += _(" (settled by %(figure)s)") % {"figure": figure.implied_from}
        return CheckResult(check, Verdict.MET, reason, statement=figure.evidence)

    def any_of(self, check: Check) -> CheckResult:
        options = [self.check(option) for option in check.options]
        met = [option for option in options if option.verdict == Verdict.MET]
        if met:
            result = CheckResult(
                check,
                Verdict.MET,
                met[0].reason,
                statement=met[0].statement,
                evidence=met[0].evidence,
            )
        else:
            verdict = (
                Verdict.EVIDENCE_MISSING
                if any(option.verdict == Verdict.EVIDENCE_MISSING for option in options)
                else Verdict.NOT_MET
            )
            reason = _("none of: %(options)s") % {
                "options": "；".join(option.reason for option in options)
            }
            shortfalls = [o.shortfall for o in options if o.shortfall is not None]
            result = CheckResult(
                check,
                verdict,
                reason,
                statement=reason,
                needed=_(" or ").join(option.needed for option in options if option.needed),
                gap_kind="evidence" if verdict == Verdict.EVIDENCE_MISSING else "shortfall",
                shortfall=min(shortfalls) if shortfalls else None,
            )
        result.options = options
        return result


def _relative_shortfall(value: Fraction, cmp: Comparison) -> Fraction:
    if cmp.value == 0:
        return Fraction(1)
    if cmp.op in (">=", ">"):
        return max(Fraction(0), (cmp.value - value) / cmp.value)
    return max(Fraction(0), (value - cmp.value) / cmp.value)
