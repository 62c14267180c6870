"""Output of an evaluation in each format, and the figures template.

Each format is a renderer registered here (``@renderer("json")``). The acceptance publication
(Word and web page, ``publication_render``) registers "docx" and "html"; it is imported at the
end of this module, so every caller of ``render`` has them. A format named in ``FORMATS``
without a renderer answers that it is not available, rather than producing something else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from linli.assessment.choices import Unit, Verdict
from linli.assessment.engine import AssessmentResult
from linli.assessment.figures import describe
from linli.assessment.standard import Formula, Standard
from linli.core.errors import ServiceError

Renderer = Callable[[AssessmentResult], str | bytes]
RENDERERS: dict[str, Renderer] = {}
# Formats the command line accepts; those without a renderer are not available yet.
FORMATS = ("json", "text", "docx", "html")


class FormatUnavailable(ServiceError):
    pass


def renderer(name: str) -> Callable[[Renderer], Renderer]:
    def register(function: Renderer) -> Renderer:
        RENDERERS[name] = function
        return function

    return register


def render(result: AssessmentResult, fmt: str) -> str | bytes:
    function = RENDERERS.get(fmt)
    if function is None:
        if fmt in FORMATS:
            raise FormatUnavailable(
                "assessment.format_unavailable",
                _(
                    "The %(format)s format (the acceptance publication) is not available yet; "
                    "use json or text."
                )
                % {"format": fmt},
            )
        raise ServiceError(
            "assessment.format",
            _("Unknown format “%(format)s”; choose one of %(formats)s.")
            % {"format": fmt, "formats": ", ".join(FORMATS)},
        )
    return function(result)


@renderer("json")
def render_json(result: AssessmentResult) -> str:
    return json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n"


_MARK = {
    Verdict.MET: "✔",
    Verdict.NOT_MET: "✘",
    Verdict.EVIDENCE_MISSING: "?",
    Verdict.NOT_APPLICABLE: "–",
}


@renderer("text")
def render_text(result: AssessmentResult) -> str:
    lines = [
        f"{result.standard.code} {result.standard.title}",
        _("Community: %(name)s %(code)s  Date: %(date)s")
        % {
            "name": result.community_name or "—",
            "code": result.community_code,
            "date": result.on.isoformat(),
        },
        _("Tier evaluated: %(tier)s — %(verdict)s")
        % {
            "tier": result.tier.tier.name,
            "verdict": _("met") if result.tier.met else _("not met"),
        },
        "",
    ]
    for indicator in result.tier.indicators:
        head = indicator.indicator
        lines.append(
            f"{_MARK[indicator.verdict]} {head.number}. {head.category} / {head.name}："
            f"{indicator.verdict.label}"
        )
        lines.append(f"    {indicator.reason}")
    reached = result.reached
    lines += [
        "",
        _("Tier reached: %(tier)s") % {"tier": reached.name if reached else _("none")},
    ]
    gap = result.gap()
    if result.next_tier is not None:
        lines.append(
            _("Gap to %(tier)s (%(count)s items, cheapest first):")
            % {"tier": result.next_tier.name, "count": len(gap)}
        )
        for item in gap:
            lines.append(
                f"  - {item.indicator.number}. {item.indicator.name}："
                f"{item.check.needed or item.check.reason}"
            )
    for warning in result.figures.warnings:
        lines.append(_("Warning: %(warning)s") % {"warning": warning})
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the figures template


def template_metrics(standard: Standard, tier_key: str) -> list[tuple[str, list[str]]]:
    """(indicator heading, metric names first used there) in the tier's order."""
    tier = standard.tier(tier_key)
    own = set(standard.tier_metrics(tier))
    seen: set[str] = set()
    sections = []
    for indicator in tier.indicators:
        names: list[str] = []
        for name in indicator.subjects():
            quantity = standard.quantity(name)
            parts = (
                [quantity.denominator, quantity.numerator] if isinstance(quantity, Formula) else []
            )
            # A bound comes first (households before the population it bounds), but only one
            # the tier reads itself: 基础型 does not ask for province-wide scenarios.
            bounds = [b for b in getattr(quantity, "at_least", ()) if b in own]
            for part in [*bounds, *parts, name]:
                if part not in seen:
                    seen.add(part)
                    names.append(part)
        if names:
            sections.append((f"{indicator.number}. {indicator.category} / {indicator.name}", names))
    return sections


def figures_template(standard: Standard, tier_key: str, fmt: str = "yaml") -> str:
    tier = standard.tier(tier_key)
    sections = template_metrics(standard, tier_key)
    if fmt == "json":
        figures: dict[str, Any] = {}
        help_: dict[str, str] = {}
        for _heading, names in sections:
            for name in names:
                quantity = standard.quantity(name)
                figures[name] = (
                    {"value": None, "evidence": ""} if quantity.unit == Unit.BOOLEAN else None
                )
                help_[name] = describe(quantity) + _platform_note(quantity)
        document = {
            "standard": standard.id,
            "community": "",
            "code": "",
            "date": "",
            "figures": figures,
            "_help": help_,
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    lines = [
        "# "
        + _("Self-assessment figures: %(tier)s, %(standard)s")
        % {"tier": tier.name, "standard": standard.code},
        "# " + _('Percentages: 57.6 or "57.6%" (a bare value up to 1, such as 0.576, is refused).'),
        "# "
        + _('Counts: whole numbers. Areas: square kilometres, or with a unit ("210000平方米").'),
        "# "
        + _(
            'Yes/no items: {value: true, evidence: "what it rests on"}; without evidence '
            "they count as evidence missing."
        ),
        "# "
        + _(
            "Leave a figure null when it is not known; a rate may be given directly or by "
            "its counts."
        ),
        f"standard: {standard.id}",
        'community: ""',
        'code: ""',
        'date: ""',
        "figures:",
    ]
    for heading, names in sections:
        lines.append(f"  # —— {heading} ——")
        for name in names:
            quantity = standard.quantity(name)
            lines.append(f"  # {describe(quantity)}{_platform_note(quantity)}")
            if quantity.unit == Unit.BOOLEAN:
                lines.append(f'  {name}: {{value: null, evidence: ""}}')
            else:
                lines.append(f"  {name}: null")
    return "\n".join(lines) + "\n"


def _platform_note(quantity: Any) -> str:
    if getattr(quantity, "platform", None):
        return _(" [computed by the platform for a registered community]")
    return ""


# The acceptance publication's "docx" and "html" (imported last: it registers with ``renderer``).
from linli.assessment import publication_render  # noqa: E402, F401
