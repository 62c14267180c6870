"""Figures: each metric's value for a community on a date, with where it came from.

Sources, in order of precedence for one metric:

1. an **override** — a figure an authorised user entered in place of the platform's (marked so);
2. the **platform** — computed live from the register (households, coverage flags of houses,
   60+ share, elderly living alone, compounds, buildings) or by the platform's own security
   self-checks (never asserted by anyone);
3. a **manual** figure — entered with evidence through ``services.enter_manual_figure``;
4. the **file** given to ``linli assess --figures``.

A figure from a lower source for a metric the platform computes is refused unless it is an
explicit override, and the security self-checks cannot be overridden at all. A rate is computed
from its numerator and denominator when both are known (the counts decide, a reported rate that
disagrees is a warning); otherwise a rate reported directly is used.

What counts as a household (社区家庭总数): a house in the register (not commercial premises)
that on the assessment date is lived in — it has a current residence or a household (户) is
attached to it. Each house counts once, as the standard counts each family once. A count over
an empty register is no figure at all (not zero), so a community whose records are not entered
yet cannot pass a condition such as "no closed compounds" by accident.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.assessment.choices import FigureSource, Unit
from linli.assessment.standard import Formula, Metric, Quantity, Standard
from linli.assessment.values import (
    Value,
    ValueProblem,
    parse_value,
    percent_text,
    plain,
    value_text,
)
from linli.core.errors import ServiceError

# Least trusted last: a rate takes the source of its least trusted part.
_TRUST = [FigureSource.PLATFORM, FigureSource.OVERRIDE, FigureSource.MANUAL, FigureSource.FILE]
# A reported rate may differ this much (percentage points) from its counts without a warning:
# publications round to one decimal.
RATE_TOLERANCE = Fraction(1, 20)
FIGURE_KEYS = {"value", "evidence", "attachment"}
DOCUMENT_KEYS = {"standard", "community", "code", "date", "figures", "_help"}


class BadFigures(ServiceError):
    """Figures that cannot be evaluated; ``problems`` lists every one, in Chinese."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "assessment.figures",
            _("The figures cannot be evaluated:") + "\n" + "\n".join(f"- {p}" for p in problems),
            problems=problems,
        )
        self.problems = problems


@dataclass
class Computation:
    """How a figure was obtained: the parts of a rate and/or the records counted."""

    description: str = ""
    link: str = ""
    numerator: str = ""
    denominator: str = ""
    numerator_value: Fraction | None = None
    denominator_value: Fraction | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "link": self.link,
            "numerator": self.numerator or None,
            "denominator": self.denominator or None,
            "numerator_value": _json_number(self.numerator_value),
            "denominator_value": _json_number(self.denominator_value),
        }


@dataclass
class Figure:
    metric: str
    value: Value | None
    source: str
    evidence: str = ""
    attachment: str = ""
    entered_by: str = ""
    entered_at: datetime | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    computation: Computation | None = None
    # At most this much: e.g. the 60+ count when some birth dates are unknown.
    upper: Fraction | None = None
    notes: list[str] = field(default_factory=list)
    manual_figure_id: int | None = None
    # Settled by a stronger figure nobody had to repeat (the standard's ``implied_by``): the
    # label of that figure, shown in the reason.
    implied_from: str = ""
    # Being given right now (a figures file, a figure being entered): a contradiction involving
    # it is refused; one among stored or platform figures only is reported as a warning.
    is_input: bool = False

    @property
    def known(self) -> bool:
        return self.value is not None

    def as_dict(self, standard: Standard) -> dict[str, Any]:
        quantity = standard.quantity(self.metric)
        return {
            "metric": self.metric,
            "label": quantity.label,
            "unit": quantity.unit,
            "value": _json_value(self.value),
            "text": value_text(quantity, self.value) if self.value is not None else None,
            "source": self.source,
            "source_label": str(FigureSource(self.source).label),
            "evidence": self.evidence,
            "attachment": self.attachment,
            "entered_by": self.entered_by,
            "entered_at": self.entered_at.isoformat() if self.entered_at else None,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "computation": self.computation.as_dict() if self.computation else None,
            "upper": _json_number(self.upper),
            "notes": self.notes,
            # The stored ManualFigure behind a manual or override figure (None otherwise):
            # the API and the pages link the figure to its record and its evidence.
            "manual_figure_id": self.manual_figure_id,
            "implied_from": self.implied_from or None,
        }


def _json_number(value: Fraction | None) -> float | int | None:
    if value is None:
        return None
    if value.denominator == 1:
        return int(value)
    return float(value)


def _json_value(value: Value | None) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    return _json_number(value)


@dataclass
class FigureSet:
    """The figures of one evaluation, rates included, and what the platform could not say."""

    standard: Standard
    figures: dict[str, Figure]
    # metric → why the platform has no figure (shown instead of a bare "not reported").
    unavailable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def get(self, name: str) -> Figure | None:
        figure = self.figures.get(name)
        return figure if figure is not None and figure.known else None

    def bounds(self, name: str) -> tuple[Fraction | None, Fraction | None]:
        """What is known of a numeric figure: (at least, at most); None where unknown.

        A metric with ``at_least`` bounds is at least their largest known value even when not
        reported itself (the population is at least the number of households)."""
        figure = self.get(name)
        if figure is not None and isinstance(figure.value, Fraction):
            return figure.value, figure.upper if figure.upper is not None else figure.value
        low = self.lower_bound(name)
        return (low[0] if low else None), None

    def lower_bound(self, name: str) -> tuple[Fraction, str, Fraction | None] | None:
        """What a figure nobody reported is known to be at least, from the figures it can never
        fall below (``at_least``): (value, the bound's metric, for a rate its denominator).
        A rate is at least its numerator's bound over its denominator."""
        quantity = self.standard.quantity(name)
        if isinstance(quantity, Formula):
            found = self.lower_bound(quantity.numerator)
            denominator = self.get(quantity.denominator)
            if found is None or denominator is None or not denominator.value:
                return None
            assert isinstance(denominator.value, Fraction)
            rate = min(Fraction(100), found[0] * 100 / denominator.value)
            return rate, found[1], denominator.value
        lows = [
            (bound.value, other)
            for other in getattr(quantity, "at_least", ())
            if (bound := self.get(other)) is not None and isinstance(bound.value, Fraction)
        ]
        if not lows:
            return None
        value, other = max(lows)
        return value, other, None


# ------------------------------------------------------------------ reading a figures document


def load_figures_file(standard: Standard, path: Path) -> FiguresDocument:
    """A figures file (YAML or JSON) read and checked; ``BadFigures`` lists every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFigures(
            [_("The figures file cannot be read: %(error)s") % {"error": exc}]
        ) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise BadFigures(
            [_("The figures file is not valid YAML or JSON: %(error)s") % {"error": exc}]
        ) from exc
    return read_figures_document(standard, data)


@dataclass
class FiguresDocument:
    community: str
    code: str
    on: date | None
    figures: dict[str, Figure]


def read_figures_document(standard: Standard, data: Any) -> FiguresDocument:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise BadFigures([_("The figures file must be a mapping with a “figures” section.")])
    for key in sorted(set(data) - DOCUMENT_KEYS, key=str):
        problems.append(
            _("Unknown section “%(key)s”; allowed: %(allowed)s.")
            % {"key": key, "allowed": ", ".join(sorted(DOCUMENT_KEYS - {"_help"}))}
        )
    declared = data.get("standard")
    if declared not in (None, "", standard.id, standard.code):
        problems.append(
            _("The file is for the standard “%(declared)s”, not %(standard)s.")
            % {"declared": declared, "standard": standard.code}
        )
    on = None
    if data.get("date") not in (None, ""):
        on = parse_date(data["date"], problems)
    raw = data.get("figures")
    figures: dict[str, Figure] = {}
    if raw is None:
        problems.append(_("The file has no “figures” section."))
    elif not isinstance(raw, dict):
        problems.append(_("“figures” must map metric names to values."))
    else:
        figures = read_figures(standard, raw, FigureSource.FILE, problems)
        if problems:
            # The file's own contradictions too (a covered area above the total area…), so
            # every problem is listed at once and not one round after another.
            try:
                assemble(standard, given=figures)
            except BadFigures as exc:
                problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise BadFigures(problems)
    return FiguresDocument(
        community=str(data.get("community") or ""),
        code=str(data.get("code") or ""),
        on=on,
        figures=figures,
    )


def parse_date(raw: Any, problems: list[str]) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        problems.append(_("“%(value)s” is not a date (write 2024-09-18).") % {"value": raw})
        return None


def suggestion(standard: Standard, name: str) -> str | None:
    """The metric a mistyped name most likely meant (by identifier or by Chinese label)."""
    names = standard.names()
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return close[0]
    labels = {standard.quantity(n).label: n for n in names}
    close = difflib.get_close_matches(name, list(labels), n=1, cutoff=0.5)
    return labels[close[0]] if close else None


def read_figures(
    standard: Standard, raw: Mapping[Any, Any], source: str, problems: list[str]
) -> dict[str, Figure]:
    """Figures by metric name; every problem is appended to ``problems`` in Chinese.

    A value is given bare (``households_total: 4515``) or with its evidence
    (``fire_alarm_coverage: {value: "100%", evidence: "…"}``); ``null`` means not reported."""
    figures: dict[str, Figure] = {}
    for name, entry in raw.items():
        if not isinstance(name, str) or name not in standard.names():
            hint = suggestion(standard, str(name))
            problems.append(
                _("Unknown metric “%(name)s”; did you mean “%(hint)s” (%(label)s)?")
                % {"name": name, "hint": hint, "label": standard.quantity(hint).label}
                if hint
                else _("Unknown metric “%(name)s”; “linli assess --figures-template” lists them.")
                % {"name": name}
            )
            continue
        quantity = standard.quantity(name)
        evidence = attachment = ""
        value_raw = entry
        if isinstance(entry, dict):
            for key in sorted(set(entry) - FIGURE_KEYS, key=str):
                problems.append(
                    _("%(metric)s: unknown key “%(key)s” (value, evidence, attachment).")
                    % {"metric": name, "key": key}
                )
            value_raw = entry.get("value")
            evidence = str(entry.get("evidence") or "").strip()
            attachment = str(entry.get("attachment") or "").strip()
        if value_raw is None or value_raw == "":
            continue  # not reported (a template left blank)
        try:
            value = parse_value(quantity, value_raw)
        except ValueProblem as exc:
            problems.append(str(exc))
            continue
        figures[name] = Figure(
            metric=name,
            value=value,
            source=source,
            evidence=evidence,
            attachment=attachment,
            is_input=True,
        )
    return figures


# ------------------------------------------------------------------ the platform's own figures


def _day_after(on: date) -> datetime:
    return timezone.make_aware(datetime.combine(on + timedelta(days=1), time.min))


def _alive(on: date, prefix: str = "") -> Q:
    """Records not retired by the end of the assessment date."""
    return Q(**{f"{prefix}retired_at__isnull": True}) | Q(
        **{f"{prefix}retired_at__gte": _day_after(on)}
    )


def _link(name: str, **params: Any) -> str:
    try:
        return reverse(name) + "?" + urlencode(params)
    except NoReverseMatch:
        return ""


def _count(value: int) -> Fraction:
    return Fraction(value)


def registry_figures(code: str, on: date) -> tuple[dict[str, Figure], dict[str, str]]:
    """Figures from the register for the community ``code`` on ``on`` (aggregates only: no
    personal data leaves this function), and the reasons for those it cannot give."""
    from linli.accounts.choices import BuiltinRole
    from linli.accounts.models import RoleAssignment
    from linli.registry.choices import ELDERLY_AGE, CompoundKind, HouseUse
    from linli.registry.models import (
        Building,
        Compound,
        House,
        Household,
        Person,
        PersonTag,
        Residence,
        years_ago,
    )

    figures: dict[str, Figure] = {}
    unavailable: dict[str, str] = {}
    day = on.isoformat()

    def platform(source: str, value: Value, description: str, link: str = "", **extra: Any) -> None:
        figures[source] = Figure(
            metric=source,
            value=value,
            source=FigureSource.PLATFORM,
            computation=Computation(description=description, link=link),
            **extra,
        )

    # Households: houses lived in on the date, each once.
    lived_in = Residence.objects.filter(_alive(on), moved_in__lte=on).filter(
        Q(moved_out__isnull=True) | Q(moved_out__gt=on)
    )
    attached = Household.objects.filter(_alive(on), house__isnull=False)
    houses = (
        House.objects.within([code])
        .filter(_alive(on))
        .exclude(use=HouseUse.COMMERCIAL)
        .filter(Q(pk__in=lived_in.values("house_id")) | Q(pk__in=attached.values("house_id")))
    )
    meters = (
        Q(has_remote_water_meter=True)
        | Q(has_remote_electricity_meter=True)
        | Q(has_remote_gas_meter=True)
    )
    homes = houses.aggregate(
        total=Count("id"),
        gigabit=Count("id", filter=Q(has_gigabit=True)),
        tv=Count("id", filter=Q(has_cable_tv=True)),
        meters=Count("id", filter=meters),
    )
    household_sources = (
        "registry.households",
        "registry.gigabit_households",
        "registry.tv_households",
        "registry.remote_meter_households",
    )
    if homes["total"]:
        platform(
            "registry.households",
            _count(homes["total"]),
            _(
                "Houses in the register lived in on %(date)s (a current residence or a "
                "household), each counted once; commercial premises excluded."
            )
            % {"date": day},
            _link("registry:house_list", region=code),
        )
        for source, key, flag, text in (
            (
                "registry.gigabit_households",
                "gigabit",
                "has_gigabit",
                _("Of the houses lived in, those marked with gigabit fibre access."),
            ),
            (
                "registry.tv_households",
                "tv",
                "has_cable_tv",
                _("Of the houses lived in, those marked with cable TV or IPTV access."),
            ),
            (
                "registry.remote_meter_households",
                "meters",
                "has_remote_electricity_meter",
                _(
                    "Of the houses lived in, those with at least one remote water, electricity "
                    "or gas meter (a house with several meters counts once)."
                ),
            ),
        ):
            platform(
                source,
                _count(homes[key]),
                text,
                _link("registry:house_list", region=code, **{flag: "true"}),
            )
    else:
        for source in household_sources:
            unavailable[source] = _("the register holds no house lived in on %(date)s") % {
                "date": day
            }

    # People: everyone placed in the community on the date; ages at the date.
    people = Person.objects.within([code]).filter(_alive(on))
    people = people.filter(Q(birth_date__isnull=True) | Q(birth_date__lte=on))
    elderly_q = Q(birth_date__lte=years_ago(on, ELDERLY_AGE))
    # A tag records when it was entered, not since when it is true: it counts unless it was
    # removed by the date (like the houses' facility flags, which keep no history either).
    alone_ids = (
        PersonTag.objects.filter(tag__code="elderly_living_alone")
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gte=_day_after(on)))
        .values("person_id")
    )
    census = people.aggregate(
        total=Count("id"),
        elderly=Count("id", filter=elderly_q),
        unknown=Count("id", filter=Q(birth_date__isnull=True)),
        alone=Count("id", filter=elderly_q & Q(pk__in=alone_ids)),
        party=Count("id", filter=Q(is_party_member=True)),
    )
    person_sources = (
        "registry.residents",
        "registry.elderly_residents",
        "registry.elderly_living_alone",
        "registry.party_worker_info",
    )
    if census["total"]:
        unknown_note = (
            [
                _("%(count)s people have no birth date and are counted as of unknown age.")
                % {"count": census["unknown"]}
            ]
            if census["unknown"]
            else []
        )
        platform(
            "registry.residents",
            _count(census["total"]),
            _("People placed in the community in the register on %(date)s.") % {"date": day},
            _link("registry:person_list", region=code),
        )
        platform(
            "registry.elderly_residents",
            _count(census["elderly"]),
            _("People aged 60 or over on %(date)s (age from the birth date).") % {"date": day},
            _link("registry:person_list", region=code, elderly="true"),
            upper=_count(census["elderly"] + census["unknown"]) if census["unknown"] else None,
            notes=unknown_note,
        )
        platform(
            "registry.elderly_living_alone",
            _count(census["alone"]),
            _("People aged 60 or over on %(date)s tagged as elderly living alone.") % {"date": day},
            _link("registry:person_list", region=code, elderly="true", tag="elderly_living_alone"),
            notes=unknown_note,
        )
        workers = (
            RoleAssignment.objects.within([code])
            .filter(
                role__code=BuiltinRole.COMMUNITY_WORKER,
                role__is_active=True,
                user__is_active=True,
            )
            .values("user_id")
            .distinct()
            .count()
        )
        platform(
            "registry.party_worker_info",
            census["party"] > 0 and workers > 0,
            _(
                "Party members in the register: %(party)s; community worker accounts on the "
                "platform: %(workers)s (both are needed)."
            )
            % {"party": census["party"], "workers": workers},
            _link("registry:person_list", region=code, is_party_member="true"),
            evidence=_(
                "The platform holds %(party)s party members and %(workers)s community worker "
                "accounts of this community."
            )
            % {"party": census["party"], "workers": workers},
        )
    else:
        for source in person_sources:
            unavailable[source] = _("the register holds nobody in this community on %(date)s") % {
                "date": day
            }

    compounds = (
        Compound.objects.within([code])
        .filter(_alive(on))
        .aggregate(
            total=Count("id"),
            closed=Count("id", filter=Q(kind=CompoundKind.CLOSED)),
            open=Count("id", filter=Q(kind=CompoundKind.OPEN)),
        )
    )
    if compounds["total"]:
        platform(
            "registry.compounds",
            _count(compounds["total"]),
            _("Compounds in the register."),
            _link("registry:compound_list", region=code),
        )
        platform(
            "registry.closed_compounds",
            _count(compounds["closed"]),
            _("Closed compounds in the register."),
            _link("registry:compound_list", region=code, kind=CompoundKind.CLOSED),
        )
        platform(
            "registry.open_compounds",
            _count(compounds["open"]),
            _("Open compounds in the register."),
            _link("registry:compound_list", region=code, kind=CompoundKind.OPEN),
        )
    else:
        for source in (
            "registry.compounds",
            "registry.closed_compounds",
            "registry.open_compounds",
        ):
            unavailable[source] = _("the register holds no compound of this community")

    buildings = (
        Building.objects.within([code])
        .filter(_alive(on), is_residential=True)
        .aggregate(
            total=Count("id"),
            f19=Count("id", filter=Q(floors_above__gte=19)),
            f12=Count("id", filter=Q(floors_above__gte=12)),
            f7=Count("id", filter=Q(floors_above__gte=7)),
        )
    )
    building_link = _link("registry:building_list", region=code, is_residential="true")
    if buildings["total"]:
        platform(
            "registry.residential_buildings",
            _count(buildings["total"]),
            _("Residential buildings in the register."),
            building_link,
        )
        for floors in (19, 12, 7):
            platform(
                f"registry.residential_buildings_{floors}f",
                _count(buildings[f"f{floors}"]),
                _(
                    "Residential buildings in the register with %(floors)s or more floors "
                    "above ground."
                )
                % {"floors": floors},
                building_link,
            )
    else:
        for source in (
            "registry.residential_buildings",
            "registry.residential_buildings_19f",
            "registry.residential_buildings_12f",
            "registry.residential_buildings_7f",
        ):
            unavailable[source] = _("the register holds no residential building of this community")
    return figures, unavailable


def platform_figures(
    standard: Standard, code: str, on: date, *, fresh_audit: bool = False
) -> tuple[dict[str, Figure], dict[str, str]]:
    """The platform's figures for every metric the standard says it computes, by metric name."""
    from linli.assessment import security

    wanted = {m.platform: m.name for m in standard.metrics.values() if m.platform}
    found: dict[str, Figure] = {}
    missing: dict[str, str] = {}
    if any(source.startswith("registry.") for source in wanted):
        registry, why = registry_figures(code, on)
        found.update(registry)
        missing.update(why)
    if any(source.startswith("security.") for source in wanted):
        checks, why = security.security_figures(fresh_audit=fresh_audit)
        found.update(checks)
        missing.update(why)
    figures = {
        metric: replace(found[source], metric=metric)
        for source, metric in wanted.items()
        if source in found
    }
    unavailable = {
        metric: missing[source] for source, metric in wanted.items() if source in missing
    }
    return figures, unavailable


# ------------------------------------------------------------------ putting the figures together


def assemble(
    standard: Standard,
    *,
    platform: Mapping[str, Figure] | None = None,
    unavailable: Mapping[str, str] | None = None,
    recorded: Mapping[str, Figure] | None = None,
    given: Mapping[str, Figure] | None = None,
    allow_override: bool = False,
) -> FigureSet:
    """One figure per metric by precedence, rates computed, every figure checked against the
    others (a part larger than its whole, a count above its bound). ``recorded`` are the
    stored manual figures (some marked override), ``given`` those of a figures file.
    ``BadFigures`` lists every contradiction that involves a figure being given now; those
    among stored and platform figures only are warnings (to be corrected where they are kept),
    and a rate whose part exceeds its whole is not computed, so it can never pass."""
    platform = dict(platform or {})
    problems: list[str] = []
    warnings: list[str] = []
    chosen: dict[str, Figure] = dict(platform)
    for layer in (recorded or {}, given or {}):
        for name, figure in layer.items():
            quantity = standard.quantity(name)
            current = platform.get(name)
            is_override = figure.source == FigureSource.OVERRIDE or (
                figure.source == FigureSource.FILE and allow_override
            )
            if current is not None and current.known:
                if not quantity.overridable:
                    if figure.source == FigureSource.FILE:
                        # A transcribed publication states its security controls; the live
                        # check decides, and the claim is shown as not used.
                        warnings.append(
                            _(
                                "%(label)s (%(name)s) is checked live by the platform "
                                "(%(value)s); the figures file's %(claimed)s is not used."
                            )
                            % {
                                "label": quantity.label,
                                "name": name,
                                "value": value_text(quantity, current.value),  # type: ignore[arg-type]
                                "claimed": value_text(quantity, figure.value),  # type: ignore[arg-type]
                            }
                        )
                        continue
                    problems.append(
                        _(
                            "%(label)s (%(name)s) is checked live by the platform and cannot be "
                            "reported or overridden."
                        )
                        % {"label": quantity.label, "name": name}
                    )
                    continue
                if not is_override:
                    if figure.source == FigureSource.FILE:
                        problems.append(
                            _(
                                "%(label)s (%(name)s): the platform's records give %(value)s; "
                                "to replace it, evaluate with --override (the figure is then "
                                "marked as an override)."
                            )
                            % {
                                "label": quantity.label,
                                "name": name,
                                "value": value_text(quantity, current.value),  # type: ignore[arg-type]
                            }
                        )
                    else:
                        note = _(
                            "A manual figure (%(value)s) was entered before the platform had "
                            "records; the platform's figure is used."
                        ) % {"value": value_text(quantity, figure.value)}  # type: ignore[arg-type]
                        chosen[name] = replace(chosen[name], notes=[*chosen[name].notes, note])
                    continue
                note = _("Overrides the platform's figure %(value)s.") % {
                    "value": value_text(quantity, current.value)  # type: ignore[arg-type]
                }
                figure = replace(figure, source=FigureSource.OVERRIDE, notes=[*figure.notes, note])
            elif name in chosen and chosen[name].source != FigureSource.PLATFORM:
                note = _("Replaces the stored figure %(value)s for this evaluation.") % {
                    "value": value_text(quantity, chosen[name].value)  # type: ignore[arg-type]
                }
                figure = replace(figure, notes=[*figure.notes, note])
            chosen[name] = figure
    figure_set = FigureSet(
        standard=standard,
        figures=chosen,
        unavailable={k: v for k, v in (unavailable or {}).items() if k not in chosen},
        warnings=warnings,
    )
    _compute_rates(figure_set, problems)
    _apply_implications(figure_set, problems)
    _check_bounds(figure_set, problems)
    if problems:
        raise BadFigures(problems)
    return figure_set


def _weakest(sources: Iterable[str]) -> str:
    return max(sources, key=lambda source: _TRUST.index(FigureSource(source)))


def _compute_rates(figure_set: FigureSet, problems: list[str]) -> None:
    standard = figure_set.standard
    for formula in standard.formulas.values():
        numerator = figure_set.get(formula.numerator)
        denominator = figure_set.get(formula.denominator)
        direct = figure_set.figures.get(formula.name)
        if numerator is None or denominator is None:
            continue
        num, den = numerator.value, denominator.value
        assert isinstance(num, Fraction) and isinstance(den, Fraction)
        num_q, den_q = standard.quantity(formula.numerator), standard.quantity(formula.denominator)
        if num > den:
            message = _("%(part)s %(num)s is larger than %(whole)s %(den)s.") % {
                "part": num_q.label,
                "num": value_text(num_q, num),
                "whole": den_q.label,
                "den": value_text(den_q, den),
            }
            if numerator.is_input or denominator.is_input:
                problems.append(message)
            else:
                figure_set.warnings.append(message)
            continue
        if den == 0:
            figure_set.unavailable[formula.name] = _("%(whole)s is 0, so the rate is undefined") % {
                "whole": den_q.label
            }
            continue
        rate = num * 100 / den
        upper = None
        if numerator.upper is not None:
            upper = min(Fraction(100), numerator.upper * 100 / den)
        notes = []
        if direct is not None and direct.known and direct.source != FigureSource.PLATFORM:
            assert isinstance(direct.value, Fraction)
            if abs(direct.value - rate) > RATE_TOLERANCE:
                figure_set.warnings.append(
                    _(
                        "%(label)s: the reported %(reported)s does not match its counts "
                        "%(num)s/%(den)s = %(computed)s; the counts decide."
                    )
                    % {
                        "label": formula.label,
                        "reported": percent_text(direct.value),
                        "num": plain(num),
                        "den": plain(den),
                        "computed": percent_text(rate),
                    }
                )
                notes.append(
                    _("Reported as %(reported)s; computed from the counts.")
                    % {"reported": percent_text(direct.value)}
                )
        figure_set.figures[formula.name] = Figure(
            metric=formula.name,
            value=rate,
            source=_weakest([numerator.source, denominator.source]),
            evidence=direct.evidence if direct is not None else "",
            computation=Computation(
                description=formula.meaning,
                numerator=formula.numerator,
                denominator=formula.denominator,
                numerator_value=num,
                denominator_value=den,
            ),
            upper=upper,
            notes=notes,
            is_input=numerator.is_input or denominator.is_input,
        )


def _apply_implications(figure_set: FigureSet, problems: list[str]) -> None:
    """Figures settled by a stronger one (``implied_by`` in the standard): 12层及以上住宅 all
    monitored settles 19层及以上; 网上选民登记、网络投票 settles 网上选民登记. Only a figure nobody
    reported is filled in, with the stronger figure's source and evidence; a reported figure that
    says less than the stronger one implies is a contradiction (refused when either is being
    given now, a warning otherwise). Repeated until nothing changes, so chains settle
    (7 floors → 12 → 19)."""
    standard = figure_set.standard
    quantities: list[Quantity] = [*standard.metrics.values(), *standard.formulas.values()]
    implied = [q for q in quantities if q.implied_by]
    reported = {q.name for q in implied if figure_set.get(q.name) is not None}
    settled: set[str] = set()
    for _round in range(len(implied) + 1):
        changed = False
        for quantity in implied:
            if quantity.name in settled:
                continue
            for implication in quantity.implied_by:
                source = figure_set.get(implication.subject)
                if source is None or not implication.holds(source.value):
                    continue
                subject = standard.quantity(implication.subject)
                value: Value = True if implication.gives is None else implication.gives
                if quantity.name in reported:
                    _contradiction(figure_set, quantity, subject, source, value, problems)
                    settled.add(quantity.name)
                    break
                # "由“采用网上选民登记、网络投票等方式开展民主选举”推出", "由…覆盖率 100%推出"
                shown = (
                    f"“{subject.label}”"
                    if isinstance(source.value, bool)
                    else f"{subject.label} {value_text(subject, source.value)}"  # type: ignore[arg-type]
                )
                # A rate's evidence is its counted part's (the sites counted, their report).
                origin = source
                if not source.evidence and isinstance(subject, Formula):
                    origin = figure_set.get(subject.numerator) or source
                figure_set.figures[quantity.name] = Figure(
                    metric=quantity.name,
                    value=value,
                    source=source.source,
                    evidence=origin.evidence,
                    attachment=origin.attachment,
                    entered_by=origin.entered_by,
                    entered_at=origin.entered_at,
                    computation=Computation(
                        description=_("Settled by %(figure)s: %(reading)s")
                        % {"figure": shown, "reading": implication.reading}
                    ),
                    notes=[_("Not reported itself; settled by %(figure)s.") % {"figure": shown}],
                    manual_figure_id=origin.manual_figure_id,
                    implied_from=shown,
                    is_input=source.is_input,
                )
                figure_set.unavailable.pop(quantity.name, None)
                settled.add(quantity.name)
                changed = True
                break
        if not changed:
            return


def _contradiction(
    figure_set: FigureSet,
    quantity: Quantity,
    subject: Quantity,
    source: Figure,
    implied: Value,
    problems: list[str],
) -> None:
    figure = figure_set.figures[quantity.name]
    value = figure.value
    says_less = (
        value is False
        if isinstance(implied, bool)
        else isinstance(value, Fraction) and value < implied
    )
    if not says_less:
        return
    stronger = (
        f"“{subject.label}”"
        if isinstance(source.value, bool)
        else f"{subject.label} {value_text(subject, source.value)}"  # type: ignore[arg-type]
    )
    message = _("%(label)s is reported as %(value)s, but %(figure)s means %(implied)s.") % {
        "label": quantity.label,
        "value": value_text(quantity, value),  # type: ignore[arg-type]
        "figure": stronger,
        "implied": value_text(quantity, implied),
    }
    if figure.is_input or source.is_input:
        problems.append(message)
    else:
        figure_set.warnings.append(message)


def _check_bounds(figure_set: FigureSet, problems: list[str]) -> None:
    standard = figure_set.standard
    for metric in standard.metrics.values():
        figure = figure_set.get(metric.name)
        if figure is None or not isinstance(figure.value, Fraction):
            continue
        for bound_name, larger in [(b, False) for b in metric.at_most] + [
            (b, True) for b in metric.at_least
        ]:
            bound = figure_set.get(bound_name)
            if bound is None or not isinstance(bound.value, Fraction):
                continue
            if metric.name in _formula_pairs(standard, bound_name):
                continue  # reported already as a part larger than its whole
            wrong = figure.value < bound.value if larger else figure.value > bound.value
            if not wrong:
                continue
            bound_q = standard.quantity(bound_name)
            template = (
                _("%(metric)s %(value)s is smaller than %(bound)s %(bound_value)s.")
                if larger
                else _("%(metric)s %(value)s is larger than %(bound)s %(bound_value)s.")
            )
            message = template % {
                "metric": metric.label,
                "value": value_text(metric, figure.value),
                "bound": bound_q.label,
                "bound_value": value_text(bound_q, bound.value),
            }
            if figure.is_input or bound.is_input:
                problems.append(message)
            else:
                figure_set.warnings.append(message)


def _formula_pairs(standard: Standard, denominator: str) -> set[str]:
    return {f.numerator for f in standard.formulas.values() if f.denominator == denominator}


def describe(quantity: Quantity) -> str:
    """“label（unit）：meaning” — one line of the figures template."""
    unit = {
        Unit.PERCENT: _("percent, 0–100"),
        Unit.COUNT: _("count, whole number"),
        Unit.BOOLEAN: _("true or false, with evidence"),
        Unit.AREA_KM2: _("square kilometres"),
    }[Unit(quantity.unit)]
    if isinstance(quantity, Metric) and quantity.counter:
        unit = f"{unit}，{quantity.counter}"
    if isinstance(quantity, Formula):
        unit = _("percent, 0–100; or give the numerator and denominator")
    return f"{quantity.label}（{unit}）：{quantity.meaning}"
