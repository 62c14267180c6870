"""The standard as data: loading and strictly validating a version file from ``standards/``.

A version is one YAML file named by its id (``DB37T3890.3-2020.yaml``); a revision of the
standard is a new file beside the old one, and ``available_versions()`` lists them. The loader
refuses anything it does not understand — an unknown key, a missing field, a metric referenced
but not defined, a threshold whose wording is not the requirement's own words or disagrees with
the comparison declared — and names every problem with its place in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from linli.assessment.choices import TIER_KEYS, Unit
from linli.assessment.sources import PLATFORM_SOURCES

STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
DEFAULT_VERSION = "DB37T3890.3-2020"
OPS = (">=", ">", "<", "<=")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_ITEM_RE = re.compile(r"(\d+)\.(.*)", re.DOTALL)
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
# How the standard's words state a comparison. "以上" is inclusive (2000 人以上 → ≥ 2000).
_STRICT_WORDS = ("超过", "大于")
_BELOW_WORDS = ("以下", "少于", "低于")
_AT_LEAST_WORDS = ("达到", "不低于", "不少于", "至少", "以上")
_ALL_WORDS = ("全覆盖", "所有", "每个", "全部")


class StandardFileError(ValueError):
    """A standard file that cannot be used; ``problems`` lists every one found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Implication:
    """A stronger figure that settles a weaker one nobody reported: a yes/no item in place with
    its evidence (``op`` empty), or a comparison that holds (``subject op value``). The implied
    figure takes ``gives`` (yes for a yes/no item); ``reading`` says why, in the standard's words.
    E.g. 12层及以上住宅 all monitored (100 %) settles 19层及以上住宅 all monitored."""

    subject: str
    reading: str
    op: str = ""
    value: Fraction | None = None
    gives: Fraction | None = None

    def holds(self, value: Any) -> bool:
        if not self.op:
            return value is True
        assert self.value is not None
        return Comparison(self.subject, self.op, self.value, "").holds(value)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    meaning: str
    counter: str = ""
    platform: str | None = None
    at_least: tuple[str, ...] = ()
    at_most: tuple[str, ...] = ()
    future_source: str | None = None
    overridable: bool = True
    implied_by: tuple[Implication, ...] = ()

    is_formula = False


@dataclass(frozen=True)
class Formula:
    """A rate in percent: numerator / denominator, both metrics."""

    name: str
    label: str
    numerator: str
    denominator: str
    meaning: str
    implied_by: tuple[Implication, ...] = ()

    is_formula = True
    unit = Unit.PERCENT.value
    counter = ""
    platform = None
    overridable = True
    future_source = None


Quantity = Metric | Formula


@dataclass(frozen=True)
class Comparison:
    subject: str
    op: str
    value: Fraction
    wording: str
    reading: str = ""

    def holds(self, value: Fraction) -> bool:
        if self.op == ">=":
            return value >= self.value
        if self.op == ">":
            return value > self.value
        if self.op == "<":
            return value < self.value
        return value <= self.value


@dataclass(frozen=True)
class Check:
    """One machine-checkable part of a requirement item."""

    key: str
    kind: str  # "threshold" | "evidence" | "any_of"
    item: int | None
    item_text: str
    when: Comparison | None = None
    threshold: Comparison | None = None
    evidence: str | None = None
    options: tuple[Check, ...] = ()

    def subjects(self) -> list[str]:
        names = [self.when.subject] if self.when else []
        if self.threshold:
            names.append(self.threshold.subject)
        if self.evidence:
            names.append(self.evidence)
        for option in self.options:
            names += option.subjects()
        return names


@dataclass(frozen=True)
class Indicator:
    tier: str
    number: int
    category: str
    name: str
    definition: str
    requirement: str
    requirement_variants: tuple[str, ...]
    checks: tuple[Check, ...]

    @property
    def key(self) -> str:
        return f"{self.tier}.{self.number}"

    def subjects(self) -> list[str]:
        seen: dict[str, None] = {}
        for check in self.checks:
            for name in check.subjects():
                seen.setdefault(name)
        return list(seen)


@dataclass(frozen=True)
class Tier:
    key: str
    name: str
    rank: int
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Standard:
    id: str
    code: str
    title: str
    issuer: str
    transcribed_from: str
    metrics: dict[str, Metric] = field(hash=False)
    formulas: dict[str, Formula] = field(hash=False)
    tiers: tuple[Tier, ...] = ()

    def quantity(self, name: str) -> Quantity:
        return self.metrics.get(name) or self.formulas[name]

    def names(self) -> list[str]:
        return [*self.metrics, *self.formulas]

    def tier(self, key_or_name: str) -> Tier:
        for tier in self.tiers:
            if key_or_name in (tier.key, tier.name):
                return tier
        raise KeyError(key_or_name)

    def next_tier(self, tier: Tier | None) -> Tier | None:
        rank = tier.rank if tier else 0
        return next((t for t in self.tiers if t.rank == rank + 1), None)

    def tier_metrics(self, tier: Tier) -> list[str]:
        """Every metric a tier reads, formulas expanded into their parts, in indicator order.
        A bound the tier does not read itself (在省级层面推广的场景 for 基础型's 创新应用场景)
        is left out: the template asks for the tier's own figures."""
        seen: dict[str, None] = {}
        for indicator in tier.indicators:
            for name in indicator.subjects():
                quantity = self.quantity(name)
                if isinstance(quantity, Formula):
                    seen.setdefault(quantity.denominator)
                    seen.setdefault(quantity.numerator)
                seen.setdefault(name)
        return list(seen)


# ------------------------------------------------------------------ loading


def available_versions() -> list[str]:
    """The ids of the standard files shipped, oldest first."""
    return sorted(path.stem for path in STANDARDS_DIR.glob("*.yaml"))


@cache
def load_standard(version: str | None = None) -> Standard:
    version = version or DEFAULT_VERSION
    if version not in available_versions():
        raise StandardFileError(
            version, [f"no such standard version; available: {', '.join(available_versions())}"]
        )
    path = STANDARDS_DIR / f"{version}.yaml"
    return load_standard_file(path)


def load_standard_file(path: Path) -> Standard:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StandardFileError(path.name, [f"not valid YAML: {exc}"]) from exc
    return parse_standard(data, source=path.name, expected_id=path.stem)


def parse_standard(data: Any, source: str = "<data>", expected_id: str | None = None) -> Standard:
    parser = _Parser(source)
    standard = parser.parse(data, expected_id)
    if parser.problems:
        raise StandardFileError(source, parser.problems)
    assert standard is not None
    return standard


def requirement_items(requirement: str) -> dict[int, str]:
    """The numbered items of a requirement ("1.…", "2.…"); {} when it is not numbered.

    Numbering must run 1, 2, 3… at line starts; other lines continue the item before them, so
    "1.5G 网络覆盖率…" is item 1 and "2.60岁及以上…" is item 2.
    """
    items: dict[int, str] = {}
    expected = 1
    for line in requirement.splitlines():
        match = _ITEM_RE.fullmatch(line)
        if match and int(match.group(1)) == expected:
            items[expected] = match.group(2)
            expected += 1
        elif items:
            items[expected - 1] += "\n" + line
        else:
            return {}
    return items


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.metrics: dict[str, Metric] = {}
        self.formulas: dict[str, Formula] = {}
        self.used: set[str] = set()
        self.implications: dict[str, Any] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def mapping(
        self,
        value: Any,
        where: str,
        required: set[str],
        optional: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(where, f"expected a mapping, got {type(value).__name__}")
            return None
        for key in sorted(set(value) - required - optional, key=str):
            self.problem(where, f"unknown key {key!r}")
        for key in sorted(required - set(value)):
            self.problem(where, f"missing field {key!r}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.problem(where, "expected non-empty text")
            return ""
        return value

    def names(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(where, "expected a list of metric names")
            return ()
        return tuple(value)

    # -- top level

    def parse(self, data: Any, expected_id: str | None) -> Standard | None:
        top = self.mapping(data, "file", {"standard", "metrics", "formulas", "tiers"})
        if top is None:
            return None
        head = (
            self.mapping(
                top.get("standard"),
                "standard",
                {"id", "code", "title"},
                {"issuer", "transcribed_from"},
            )
            or {}
        )
        standard_id = self.text(head.get("id"), "standard.id")
        if expected_id is not None and standard_id and standard_id != expected_id:
            self.problem(
                "standard.id", f"{standard_id!r} differs from the file name {expected_id!r}"
            )
        self.parse_metrics(top.get("metrics"))
        self.parse_formulas(top.get("formulas"))
        self.parse_implications()
        tiers = self.parse_tiers(top.get("tiers"))
        for name in sorted(set(self.metrics) | set(self.formulas)):
            if name not in self.used:
                self.problem(f"metrics.{name}", "defined but used by no check, formula or bound")
        return Standard(
            id=standard_id,
            code=self.text(head.get("code"), "standard.code"),
            title=self.text(head.get("title"), "standard.title"),
            issuer=str(head.get("issuer", "")),
            transcribed_from=str(head.get("transcribed_from", "")),
            metrics=self.metrics,
            formulas=self.formulas,
            tiers=tuple(tiers),
        )

    def parse_metrics(self, data: Any) -> None:
        if not isinstance(data, dict) or not data:
            self.problem("metrics", "expected a non-empty mapping of metric name to definition")
            return
        for name, spec in data.items():
            where = f"metrics.{name}"
            if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                self.problem(where, "names are lower-case English snake_case identifiers")
                continue
            spec = self.mapping(
                spec,
                where,
                {"label", "unit", "meaning"},
                {
                    "counter",
                    "platform",
                    "at_least",
                    "at_most",
                    "future_source",
                    "overridable",
                    "implied_by",
                },
            )
            if spec is None:
                continue
            unit = spec.get("unit")
            if unit not in Unit.values:
                self.problem(where, f"unit {unit!r} is not one of {', '.join(Unit.values)}")
            counter = spec.get("counter")
            if unit == Unit.COUNT and not counter:
                self.problem(where, "a count needs its counter (the measure word, e.g. 户)")
            if unit != Unit.COUNT and counter:
                self.problem(where, "only counts have a counter")
            platform = spec.get("platform")
            if platform is not None and platform not in PLATFORM_SOURCES:
                self.problem(where, f"platform source {platform!r} does not exist")
            overridable = spec.get("overridable", True)
            if not isinstance(overridable, bool):
                self.problem(where, "overridable is true or false")
            self.metrics[name] = Metric(
                name=name,
                label=self.text(spec.get("label"), f"{where}.label"),
                unit=str(unit),
                meaning=self.text(spec.get("meaning"), f"{where}.meaning"),
                counter=str(counter or ""),
                platform=platform,
                at_least=self.names(spec.get("at_least"), f"{where}.at_least"),
                at_most=self.names(spec.get("at_most"), f"{where}.at_most"),
                future_source=spec.get("future_source"),
                overridable=bool(overridable),
            )
            self.implications[name] = spec.get("implied_by")
        for metric in self.metrics.values():
            for bound in (*metric.at_least, *metric.at_most):
                if bound not in self.metrics:
                    self.problem(f"metrics.{metric.name}", f"bound {bound!r} is not a metric")
                elif self.metrics[bound].unit != metric.unit:
                    self.problem(f"metrics.{metric.name}", f"bound {bound!r} has another unit")
                self.used.add(bound)

    def parse_formulas(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.problem("formulas", "expected a mapping of formula name to definition")
            return
        for name, spec in data.items():
            where = f"formulas.{name}"
            if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                self.problem(where, "names are lower-case English snake_case identifiers")
                continue
            if name in self.metrics:
                self.problem(where, "a metric has the same name")
            spec = self.mapping(
                spec, where, {"label", "numerator", "denominator", "meaning"}, {"implied_by"}
            )
            if spec is None:
                continue
            for part in ("numerator", "denominator"):
                value = spec.get(part)
                if value not in self.metrics:
                    self.problem(f"{where}.{part}", f"{value!r} is not a defined metric")
                elif self.metrics[value].unit not in (Unit.COUNT, Unit.AREA_KM2):
                    self.problem(f"{where}.{part}", f"{value!r} is not a count or an area")
                self.used.add(str(value))
            numerator, denominator = spec.get("numerator"), spec.get("denominator")
            if (
                numerator in self.metrics
                and denominator in self.metrics
                and self.metrics[numerator].unit != self.metrics[denominator].unit
            ):
                self.problem(where, "numerator and denominator have different units")
            self.formulas[name] = Formula(
                name=name,
                label=self.text(spec.get("label"), f"{where}.label"),
                numerator=str(numerator),
                denominator=str(denominator),
                meaning=self.text(spec.get("meaning"), f"{where}.meaning"),
            )
            self.implications[name] = spec.get("implied_by")

    def parse_implications(self) -> None:
        """``implied_by`` of metrics and formulas, once every quantity is defined."""
        for name, raw in self.implications.items():
            if raw is None:
                continue
            where = f"{'formulas' if name in self.formulas else 'metrics'}.{name}.implied_by"
            quantity: Quantity = self.metrics.get(name) or self.formulas[name]
            if not isinstance(raw, list) or not raw:
                self.problem(where, "expected a non-empty list")
                continue
            found = []
            for index, spec in enumerate(raw):
                implication = self.parse_implication(spec, f"{where}[{index}]", quantity)
                if implication is not None:
                    found.append(implication)
            if isinstance(quantity, Metric):
                self.metrics[name] = replace(quantity, implied_by=tuple(found))
            else:
                self.formulas[name] = replace(quantity, implied_by=tuple(found))

    def parse_implication(self, spec: Any, where: str, implied: Quantity) -> Implication | None:
        spec = self.mapping(spec, where, {"subject", "reading"}, {"op", "value", "gives"})
        if spec is None:
            return None
        subject = spec.get("subject")
        quantity = (
            self.metrics.get(subject) or self.formulas.get(subject)
            if isinstance(subject, str)
            else None
        )
        if quantity is None:
            self.problem(f"{where}.subject", f"{subject!r} is not a defined metric or formula")
            return None
        if subject == implied.name:
            self.problem(f"{where}.subject", "a figure cannot imply itself")
            return None
        self.used.add(str(subject))
        reading = self.text(spec.get("reading"), f"{where}.reading")
        op, value = spec.get("op"), spec.get("value")
        if quantity.unit == Unit.BOOLEAN:
            if op is not None or value is not None:
                self.problem(where, f"{subject!r} is yes/no: it implies when in place, no op")
            op, number = "", None
        else:
            if op not in OPS:
                self.problem(f"{where}.op", f"{op!r} is not one of {', '.join(OPS)}")
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.problem(f"{where}.value", "expected a number")
                return None
            number = Fraction(str(value))
        gives = spec.get("gives")
        given: Fraction | None = None
        if implied.unit == Unit.BOOLEAN:
            if gives is not None:
                self.problem(f"{where}.gives", "a yes/no figure is implied as yes; no gives")
        elif isinstance(gives, bool) or not isinstance(gives, int | float):
            self.problem(f"{where}.gives", "the value the implied figure takes is needed")
        else:
            given = Fraction(str(gives))
            if implied.unit == Unit.PERCENT and not 0 <= given <= 100:
                self.problem(f"{where}.gives", "a percentage lies between 0 and 100")
        return Implication(
            subject=str(subject), reading=reading, op=str(op), value=number, gives=given
        )

    # -- tiers, indicators, checks

    def parse_tiers(self, data: Any) -> list[Tier]:
        if not isinstance(data, list) or not data:
            self.problem("tiers", "expected a non-empty list of tiers")
            return []
        tiers: list[Tier] = []
        for index, spec in enumerate(data):
            where = f"tiers[{index}]"
            spec = self.mapping(spec, where, {"key", "name", "rank", "indicators"})
            if spec is None:
                continue
            key = spec.get("key")
            if key not in TIER_KEYS:
                self.problem(f"{where}.key", f"{key!r} is not one of {', '.join(TIER_KEYS)}")
            if spec.get("rank") != index + 1:
                self.problem(
                    f"{where}.rank", f"expected {index + 1} (tiers are listed in rank order)"
                )
            indicators = self.parse_indicators(spec.get("indicators"), f"{where}", str(key))
            tiers.append(
                Tier(
                    key=str(key),
                    name=self.text(spec.get("name"), f"{where}.name"),
                    rank=index + 1,
                    indicators=tuple(indicators),
                )
            )
        keys = [tier.key for tier in tiers]
        if len(set(keys)) != len(keys):
            self.problem("tiers", "tier keys repeat")
        return tiers

    def parse_indicators(self, data: Any, where: str, tier: str) -> list[Indicator]:
        if not isinstance(data, list) or not data:
            self.problem(f"{where}.indicators", "expected a non-empty list")
            return []
        indicators = []
        for index, spec in enumerate(data):
            here = f"{where}.indicators[{index}]"
            spec = self.mapping(
                spec,
                here,
                {"number", "category", "name", "definition", "requirement", "checks"},
                {"requirement_variants"},
            )
            if spec is None:
                continue
            if spec.get("number") != index + 1:
                self.problem(f"{here}.number", f"expected {index + 1} (numbers run 1, 2, 3…)")
            requirement = self.text(spec.get("requirement"), f"{here}.requirement")
            variants = spec.get("requirement_variants") or []
            if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
                self.problem(f"{here}.requirement_variants", "expected a list of texts")
                variants = []
            items = requirement_items(requirement)
            checks = self.parse_checks(
                spec.get("checks"), here, requirement, items, f"{tier}.{index + 1}"
            )
            covered = {check.item for check in checks}
            for number in sorted(set(items) - covered):
                self.problem(f"{here}.checks", f"requirement item {number} has no check")
            indicators.append(
                Indicator(
                    tier=tier,
                    number=index + 1,
                    category=self.text(spec.get("category"), f"{here}.category"),
                    name=self.text(spec.get("name"), f"{here}.name"),
                    definition=self.text(spec.get("definition"), f"{here}.definition"),
                    requirement=requirement,
                    requirement_variants=tuple(variants),
                    checks=tuple(checks),
                )
            )
        return indicators

    def parse_checks(
        self, data: Any, where: str, requirement: str, items: dict[int, str], key: str
    ) -> list[Check]:
        if not isinstance(data, list) or not data:
            self.problem(f"{where}.checks", "expected a non-empty list")
            return []
        checks = []
        for index, spec in enumerate(data):
            check = self.parse_check(
                spec, f"{where}.checks[{index}]", requirement, items, f"{key}.{index + 1}"
            )
            if check is not None:
                checks.append(check)
        return checks

    def parse_check(
        self,
        spec: Any,
        where: str,
        requirement: str,
        items: dict[int, str] | None,
        key: str,
    ) -> Check | None:
        # items is None for the options of an any_of: they take the item and condition of
        # the check that holds them.
        optional = {"threshold", "evidence", "any_of"}
        if items is not None:
            optional |= {"item", "when"}
        spec = self.mapping(spec, where, set(), optional)
        if spec is None:
            return None
        kinds = [kind for kind in ("threshold", "evidence", "any_of") if kind in spec]
        if len(kinds) != 1:
            self.problem(where, "a check is exactly one of threshold, evidence, any_of")
            return None
        kind = kinds[0]
        item = spec.get("item")
        item_text = requirement
        if items is not None:
            if items:
                if item not in items:
                    self.problem(
                        f"{where}.item",
                        f"the requirement is numbered 1–{len(items)}; name the item checked",
                    )
                else:
                    item_text = items[item]
            elif item is not None:
                self.problem(f"{where}.item", "the requirement has no numbered items")
        when = None
        if "when" in spec:
            when = self.parse_comparison(spec["when"], f"{where}.when", requirement, condition=True)
        threshold = evidence = None
        options: tuple[Check, ...] = ()
        if kind == "threshold":
            threshold = self.parse_comparison(spec["threshold"], f"{where}.threshold", requirement)
        elif kind == "evidence":
            evidence = spec["evidence"]
            metric = self.metrics.get(evidence) if isinstance(evidence, str) else None
            if metric is None:
                self.problem(f"{where}.evidence", f"{evidence!r} is not a defined metric")
            elif metric.unit != Unit.BOOLEAN:
                self.problem(f"{where}.evidence", f"{evidence!r} is not a yes/no metric")
            else:
                self.used.add(evidence)
        else:
            raw = spec["any_of"]
            if not isinstance(raw, list) or len(raw) < 2:
                self.problem(f"{where}.any_of", "expected a list of at least two checks")
            else:
                parsed = [
                    self.parse_check(
                        option, f"{where}.any_of[{n}]", requirement, None, f"{key}.{n + 1}"
                    )
                    for n, option in enumerate(raw)
                ]
                options = tuple(option for option in parsed if option is not None)
        return Check(
            key=key,
            kind=kind,
            item=item if isinstance(item, int) else None,
            item_text=item_text,
            when=when,
            threshold=threshold,
            evidence=evidence if isinstance(evidence, str) else None,
            options=options,
        )

    def parse_comparison(
        self, spec: Any, where: str, requirement: str, *, condition: bool = False
    ) -> Comparison | None:
        spec = self.mapping(spec, where, {"subject", "op", "value", "wording"}, {"reading"})
        if spec is None:
            return None
        subject = spec.get("subject")
        quantity: Quantity | None = None
        if isinstance(subject, str):
            quantity = self.metrics.get(subject) or self.formulas.get(subject)
        if quantity is None:
            self.problem(f"{where}.subject", f"{subject!r} is not a defined metric or formula")
        else:
            self.used.add(str(subject))
            if quantity.unit == Unit.BOOLEAN:
                self.problem(f"{where}.subject", f"{subject!r} is yes/no: use an evidence check")
        op = spec.get("op")
        if op not in OPS:
            self.problem(f"{where}.op", f"{op!r} is not one of {', '.join(OPS)}")
        raw = spec.get("value")
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.problem(f"{where}.value", "expected a number")
            return None
        value = Fraction(str(raw))
        if quantity is not None and quantity.unit == Unit.COUNT and value.denominator != 1:
            self.problem(f"{where}.value", "a count is compared with a whole number")
        if quantity is not None and quantity.unit == Unit.PERCENT and not 0 <= value <= 100:
            self.problem(f"{where}.value", "a percentage lies between 0 and 100")
        wording = self.text(spec.get("wording"), f"{where}.wording")
        reading = spec.get("reading") or ""
        if wording and wording not in requirement:
            self.problem(f"{where}.wording", f"{wording!r} is not the requirement's own words")
        elif wording and op in OPS:
            self.check_wording(where, wording, str(op), value, bool(reading), condition)
        return Comparison(
            subject=str(subject), op=str(op), value=value, wording=wording, reading=str(reading)
        )

    def check_wording(
        self, where: str, wording: str, op: str, value: Fraction, has_reading: bool, condition: bool
    ) -> None:
        """The declared comparison must say what the words say."""
        if condition and op == ">" and value == 0:
            return  # "社区内有电动自行车的…", "19层及以上住宅…": the set is not empty
        if any(word in wording for word in _STRICT_WORDS):
            expected = ">"
        elif any(word in wording for word in _AT_LEAST_WORDS):
            expected = ">="  # before the "below" words: 不少于 contains 少于
        elif any(word in wording for word in _BELOW_WORDS):
            expected = "<"
        else:
            expected = op if op == ">=" else ""
        if expected != op:
            self.problem(f"{where}.op", f"{op!r} does not match the wording {wording!r}")
        if has_reading:
            return
        numbers = {Fraction(n) for n in _NUMBER_RE.findall(wording)}
        if value in numbers:
            return
        if value == 100 and any(word in wording for word in _ALL_WORDS):
            return
        self.problem(
            f"{where}.value",
            f"{value} is not stated in {wording!r}; give a reading that explains the value",
        )
