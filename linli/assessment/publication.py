"""The acceptance publication (验收结果公示): composing it from a stored assessment, editing its
free text while a draft, issuing it.

A publication shows one tier of one stored ``Assessment``. Its table (一级指标 / 序号 / 二级指标 /
指标释义 / 标准要求 / 本社区完成情况) is read from the assessment's frozen result and is never
editable: the completion text is the engine's, composed from the figures, so a publication cannot
say 达标 where the numbers do not. The text around it — title, organiser, opening paragraph,
notice period, contact lines, closing — is the operator's, with defaults written in the style of
the real publications (shared/seeds), editable while a draft; issuing freezes it.

A tier the assessment does not meet can still be drafted, but only as a self-check document
(自评文件): its title and a fixed notice that no one can edit say 未达标 with the counts, its
default opening reports the shortfall, its free text may not claim the requirements are met
(已满足/已达到…建设要求, 通过验收), and it cannot be issued.

Every state change goes through ``draft_publication``, ``edit_publication`` or
``issue_publication``: permission, scope (outside it the record "does not exist"), validation
before anything is written, ``update_fields``, and the audit entry in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from linli.assessment.choices import Verdict
from linli.assessment.models import Assessment, Publication, PublicationStatus
from linli.assessment.standard import StandardFileError, load_standard
from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ServiceError
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode

# The free-text parts an operator edits while the publication is a draft.
TEXT_FIELDS = (
    "title",
    "organiser",
    "opening",
    "notice_start",
    "notice_end",
    "contact",
    "closing",
)
MAX_LENGTHS = {"title": 200, "organiser": 200, "opening": 4000, "contact": 1000, "closing": 500}
# A part the operator still has to fill in is written 【…】; issuing refuses while one remains.
PLACEHOLDER = re.compile(r"【[^】]*】")
# A claim that the requirements are met, refused in the text of a tier that is not met.
CLAIM_MET = re.compile(r"已(?:经)?(?:满足|达到|符合)[^。；;未]*建设要求|通过(?:了)?验收|验收合格")
DEFAULT_NOTICE_DAYS = 5


def placeholder(label: str) -> str:
    return f"【{label}】"


def long_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _short_date(day: date, other: date | None) -> str:
    # "9月26日" as the seeds write it; the year only when the period crosses into another year.
    if other is not None and other.year != day.year:
        return long_date(day)
    return f"{day.month}月{day.day}日"


# ------------------------------------------------------------------ the document


@dataclass(frozen=True)
class Row:
    """One indicator of the table; ``category_span`` is the number of rows the 一级指标 cell
    covers from this row (0 on the rows it is merged into)."""

    category: str
    number: int
    name: str
    definition: str
    requirement: str
    completion_text: str
    verdict: str
    category_span: int


@dataclass
class PublicationDocument:
    """Everything a renderer needs, whichever the source (a stored publication or the command
    line's live result)."""

    title: str
    community: str
    tier: str
    tier_met: bool
    counts: dict[str, int]
    standard_code: str
    on: date
    heading: str
    opening: str
    rows: list[Row]
    notice: str
    contact: list[str]
    closing: list[str]
    self_check_note: str = ""
    draft_note: str = ""
    columns: list[str] = field(default_factory=list)


@dataclass
class PublicationTexts:
    title: str
    organiser: str
    opening: str
    notice_start: date | None
    notice_end: date | None
    contact: str
    closing: str

    @classmethod
    def of(cls, publication: Publication) -> PublicationTexts:
        return cls(**{name: getattr(publication, name) for name in TEXT_FIELDS})


def table_rows(result: dict[str, Any]) -> list[Row]:
    indicators = result["indicators"]
    rows = []
    for index, indicator in enumerate(indicators):
        category = indicator["category"]
        starts = index == 0 or indicators[index - 1]["category"] != category
        span = 0
        if starts:
            span = 1
            while index + span < len(indicators) and indicators[index + span]["category"] == (
                category
            ):
                span += 1
        rows.append(
            Row(
                category=category,
                number=int(indicator["number"]),
                name=indicator["name"],
                definition=indicator["definition"],
                requirement=indicator["requirement"],
                completion_text=indicator["completion_text"],
                verdict=indicator["verdict"],
                category_span=span,
            )
        )
    return rows


def columns() -> list[str]:
    return [
        _("First-level indicator"),
        _("No."),
        _("Second-level indicator"),
        _("Indicator definition"),
        _("Standard requirement"),
        _("Completion in this community"),
    ]


def community_name(result: dict[str, Any], region: RegionNode | None = None) -> str:
    name = (result.get("community") or {}).get("name") or (region.name if region else "")
    return str(name) or _("this community")


def _place(result: dict[str, Any], region: RegionNode | None) -> str:
    """ "王府街道马驿山社区": the subdistrict before the community, as the seeds name it."""
    name = community_name(result, region)
    parent = region.parent if region is not None else None
    if parent is not None and parent.level == RegionLevel.SUBDISTRICT:
        return f"{parent.name}{name}"
    return name


def default_organiser(region: RegionNode | None) -> str:
    """The county's big-data centre (青州市大数据中心, 市中区大数据中心 in the seeds)."""
    if region is None or len(region.code) < 6:
        return ""
    county = RegionNode.objects.filter(code=region.code[:6]).first()
    return _("%(county)s Big Data Centre") % {"county": county.name} if county else ""


def default_texts(
    result: dict[str, Any], region: RegionNode | None, *, today: date | None = None
) -> PublicationTexts:
    """The draft's text in the seeds' style; 【…】 marks what the operator has to fill in."""
    today = today or timezone.localdate()
    organiser = default_organiser(region)
    shown_organiser = organiser or placeholder(_("organiser"))
    counts = result.get("counts") or {}
    values = {
        "place": _place(result, region),
        "community": community_name(result, region),
        "organiser": shown_organiser,
        "date": long_date(date.fromisoformat(result["date"])),
        "tier": result["tier"],
        "standard": (result.get("standard") or {}).get("code", ""),
        "total": len(result["indicators"]),
        "met": counts.get(Verdict.MET, 0),
        "not_applicable": counts.get(Verdict.NOT_APPLICABLE, 0),
        "not_met": counts.get(Verdict.NOT_MET, 0),
        "missing": counts.get(Verdict.EVIDENCE_MISSING, 0),
    }
    if result["tier_met"]:
        title = _("Smart community construction acceptance results publication")
        opening = (
            _(
                "In accordance with the Implementing Opinions on Accelerating the Construction "
                "of Smart Communities (Lu Shu Fa [2022] No. 16), on the application of "
                "%(place)s, %(organiser)s formed a working group of residents' representatives "
                "on %(date)s and carried out the acceptance of the smart community "
                "construction. The working group unanimously found that %(community)s meets the "
                "construction requirements of the “%(tier)s smart community” of the Shandong "
                "Smart Community Construction Indicators. The details are published as follows:"
            )
            % values
        )
    else:
        title = _("Smart community indicator self-assessment (not met)")
        opening = (
            _(
                "In accordance with the Shandong Smart Community Construction Indicators "
                "(%(standard)s), %(organiser)s assessed %(place)s against the “%(tier)s smart "
                "community” on %(date)s from the records of the smart community information "
                "platform and the evidence the community provided. Of %(total)s indicators, "
                "%(met)s are met, %(not_applicable)s do not apply, %(not_met)s are not met and "
                "%(missing)s await evidence; the construction requirements are not yet met. The "
                "details are as follows:"
            )
            % values
        )
    contact = "\n".join(
        [
            _("Contact unit: %(unit)s") % {"unit": shown_organiser},
            _("Contact person: %(name)s") % {"name": placeholder(_("contact person"))},
            _("Telephone: %(phone)s") % {"phone": placeholder(_("telephone"))},
            _("Supervision telephone: %(phone)s")
            % {"phone": placeholder(_("supervision telephone"))},
            _("Address: %(address)s") % {"address": placeholder(_("address"))},
        ]
    )
    return PublicationTexts(
        title=title,
        organiser=organiser,
        opening=opening,
        notice_start=None,
        notice_end=None,
        contact=contact,
        closing=f"{shown_organiser}\n{long_date(today)}",
    )


def notice_text(texts: PublicationTexts) -> str:
    """ "公示期5天（自9月26日始—9月30日止）。如有异议，请在公示期内向…反馈。" """
    start, end = texts.notice_start, texts.notice_end
    values = {
        "days": (end - start).days + 1 if start and end else placeholder(_("days")),
        "start": _short_date(start, end) if start else placeholder(_("start date")),
        "end": _short_date(end, start) if end else placeholder(_("end date")),
        "organiser": texts.organiser or placeholder(_("organiser")),
    }
    return (
        _(
            "The notice period is %(days)s days (from %(start)s to %(end)s). Objections may be "
            "raised with %(organiser)s during the notice period."
        )
        % values
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def compose(
    result: dict[str, Any],
    texts: PublicationTexts,
    *,
    region: RegionNode | None = None,
    draft: bool = False,
) -> PublicationDocument:
    """The document of one tier's result (``AssessmentResult.as_dict()``) with its texts, in the
    installation's language (the result's texts are in it already)."""
    with translation.override(settings.LANGUAGE_CODE):
        counts = dict(result.get("counts") or {})
        met = bool(result["tier_met"])
        name = community_name(result, region)
        title = texts.title.strip()
        note = ""
        if not met:
            marker = _("(not met)")
            if "未达标" not in title and marker not in title:
                title = f"{title}{marker}"
            note = _(
                "Self-check document, not an acceptance publication: by its figures "
                "%(community)s does not meet the requirements of the “%(tier)s smart "
                "community” (%(not_met)s not met, %(missing)s awaiting evidence)."
            ) % {
                "community": name,
                "tier": result["tier"],
                "not_met": counts.get(Verdict.NOT_MET, 0),
                "missing": counts.get(Verdict.EVIDENCE_MISSING, 0),
            }
        return PublicationDocument(
            title=title,
            community=name,
            tier=result["tier"],
            tier_met=met,
            counts=counts,
            standard_code=(result.get("standard") or {}).get("code", ""),
            on=date.fromisoformat(result["date"]),
            heading=_("Shandong Smart Community Construction Indicators (%(tier)s)")
            % {"tier": result["tier"]},
            opening=texts.opening.strip(),
            rows=table_rows(result),
            # A self-check document is not put on public notice.
            notice=notice_text(texts) if met else "",
            contact=_lines(texts.contact),
            closing=_lines(texts.closing),
            self_check_note=note,
            draft_note=_("Draft, not issued") if draft else "",
            columns=columns(),
        )


def tier_result(assessment: Assessment, tier: str) -> dict[str, Any]:
    """The stored result of one tier (by key or Chinese name); an unknown tier is refused."""
    results = assessment.result if isinstance(assessment.result, dict) else {}
    for key, result in results.items():
        if tier in (key, result.get("tier")):
            return dict(result)
    message = _("Unknown tier “%(tier)s”; choose one of %(tiers)s.") % {
        "tier": tier,
        "tiers": "、".join(str(r.get("tier", k)) for k, r in results.items()),
    }
    raise ServiceError("assessment.tier", message, tier=message)


def document_for(publication: Publication) -> PublicationDocument:
    return compose(
        tier_result(publication.assessment, publication.tier),
        PublicationTexts.of(publication),
        region=publication.region,
        draft=publication.status == PublicationStatus.DRAFT,
    )


def tier_met(publication: Publication) -> bool:
    annotated = getattr(publication, "tier_met", None)
    if isinstance(annotated, bool):
        return annotated
    return bool(tier_result(publication.assessment, publication.tier)["tier_met"])


def tier_name(publication: Publication) -> str:
    try:
        return load_standard(publication.assessment.standard).tier(publication.tier).name
    except (KeyError, StandardFileError):
        return publication.tier


def for_listing(queryset: QuerySet[Publication]) -> QuerySet[Publication]:
    """Publications for a list: the joins it shows, whether the tier is met read inside the
    database, and not the assessments' full results (tens of kilobytes each)."""
    keys = [tier.key for tier in load_standard().tiers]
    met = Case(
        *[
            When(Q(tier=key) & Q(**{f"assessment__result__{key}__tier_met": True}), then=True)
            for key in keys
        ],
        default=Value(False),
        output_field=BooleanField(),
    )
    return (
        queryset.select_related("region", "assessment", "created_by", "issued_by")
        .defer("assessment__result")
        .annotate(tier_met=met)
    )


# ------------------------------------------------------------------ state changes


def _require(actor: Any, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(
            "permission_denied", _("You do not have permission for this action.")
        )


def _texts_problems(values: dict[str, Any], met: bool) -> dict[str, str]:
    """Field → what is wrong with it, for the free-text parts being set."""
    problems: dict[str, str] = {}
    if "title" in values and not str(values["title"] or "").strip():
        problems["title"] = _("The title cannot be empty.")
    for name, limit in MAX_LENGTHS.items():
        if name in values and len(str(values[name] or "")) > limit:
            problems.setdefault(
                name,
                _("At most %(limit)s characters (%(count)s given).")
                % {"limit": limit, "count": len(str(values[name]))},
            )
    for name in ("notice_start", "notice_end"):
        if name in values and values[name] is not None and not isinstance(values[name], date):
            problems[name] = _("Give a date.")
    start, end = values.get("notice_start"), values.get("notice_end")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        problems["notice_end"] = _("The notice period cannot end before it starts.")
    if not met:
        for name in ("title", "opening", "contact", "closing"):
            text = str(values.get(name) or "")
            claim = CLAIM_MET.search(text)
            if claim:
                problems.setdefault(
                    name,
                    _(
                        "The assessment does not meet this tier, so the text cannot claim it "
                        "does (“%(claim)s”)."
                    )
                    % {"claim": claim.group(0)},
                )
    return problems


def _refuse(problems: dict[str, str]) -> None:
    if problems:
        raise ServiceError("assessment.publication_text", "；".join(problems.values()), **problems)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (value.strip() if isinstance(value, str) else value) for name, value in values.items()
    }


@transaction.atomic
def draft_publication(actor: Any, assessment: Any, tier: str, **texts: Any) -> Publication:
    """A draft publication of one tier of a stored assessment in the actor's scope, with the
    default texts unless given. A tier the assessment does not meet is drafted as a self-check
    document (see the module's docstring)."""
    _require(actor, "assessment.add_publication")
    unknown = sorted(set(texts) - set(TEXT_FIELDS))
    if unknown:
        raise ServiceError(
            "assessment.publication_fields",
            _("These fields cannot be set: %(fields)s.") % {"fields": "、".join(unknown)},
        )
    pk = getattr(assessment, "pk", assessment)
    found = (
        Assessment.objects.visible_to(actor, "view")
        .select_related("region__parent")
        .filter(pk=pk)
        .first()
        if str(pk).isdigit()
        else None
    )
    if found is None:
        raise NotFoundError("not_found", _("The assessment does not exist."))
    result = tier_result(found, str(tier))
    with translation.override(settings.LANGUAGE_CODE):
        defaults = default_texts(result, found.region)
    values = {name: getattr(defaults, name) for name in TEXT_FIELDS}
    values.update(_clean({name: value for name, value in texts.items() if value is not None}))
    _refuse(_texts_problems(values, bool(result["tier_met"])))
    publication = Publication(
        region=found.region,
        assessment=found,
        tier=result["tier_key"],
        status=PublicationStatus.DRAFT,
        created_by=actor,
        created_at=timezone.now(),
        **values,
    )
    publication.save(force_insert=True)
    audit.record(
        AuditAction.CREATE,
        publication,
        actor=actor,
        changes={
            "assessment": [None, found.pk],
            "tier": [None, publication.tier],
            "tier_met": [None, bool(result["tier_met"])],
            "status": [None, publication.status],
        },
    )
    return publication


def _locked(actor: Any, publication: Any, action: str) -> Publication:
    pk = getattr(publication, "pk", publication)
    found = (
        Publication.objects.visible_to(actor, action)
        .select_for_update(of=("self",))
        .select_related("assessment", "region")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFoundError("not_found", _("The record does not exist."))
    if found.status == PublicationStatus.ISSUED:
        raise ConflictError(
            "assessment.publication_issued",
            _("The publication was issued on %(date)s and can no longer be changed.")
            % {"date": long_date(timezone.localdate(found.issued_at))},
        )
    return found


@transaction.atomic
def edit_publication(actor: Any, publication: Any, **changes: Any) -> Publication:
    """Change the free-text parts of a draft; an issued publication answers 409."""
    _require(actor, "assessment.change_publication")
    found = _locked(actor, publication, "change")
    unknown = sorted(set(changes) - set(TEXT_FIELDS))
    if unknown:
        raise ServiceError(
            "assessment.publication_fields",
            _("These fields cannot be changed: %(fields)s.") % {"fields": "、".join(unknown)},
        )
    changes = _clean(changes)
    for name in ("title", "organiser", "opening", "contact", "closing"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    merged = {name: getattr(found, name) for name in TEXT_FIELDS} | changes
    problems = _texts_problems(merged, tier_met(found))
    # Only the parts being changed, or the period they form, can be wrong now.
    _refuse(
        {
            name: message
            for name, message in problems.items()
            if name in changes or name == "notice_end"
        }
    )
    before = audit.snapshot(found, TEXT_FIELDS)
    changed = [name for name in TEXT_FIELDS if name in changes and before[name] != changes[name]]
    if not changed:
        return found
    for name in changed:
        setattr(found, name, changes[name])
    found.save(update_fields=changed)
    audit.record(
        AuditAction.UPDATE,
        found,
        actor=actor,
        changes=audit.changes_between(Publication, before, audit.snapshot(found, TEXT_FIELDS)),
    )
    return found


def issue_problems(publication: Publication) -> list[str]:
    """What stands in the way of issuing: a tier not met, missing organiser or notice period,
    parts still marked 【…】."""
    problems = []
    result = tier_result(publication.assessment, publication.tier)
    if not result["tier_met"]:
        problems.append(
            _(
                "The assessment does not meet the %(tier)s tier: this is a self-check document "
                "and cannot be issued as an acceptance publication."
            )
            % {"tier": result["tier"]}
        )
    if not publication.organiser.strip():
        problems.append(_("Name the organiser."))
    if publication.notice_start is None or publication.notice_end is None:
        problems.append(_("Set the notice period (start and end)."))
    if not publication.contact.strip():
        problems.append(_("Give the contact lines."))
    left = sorted(
        {
            mark
            for name in ("title", "organiser", "opening", "contact", "closing")
            for mark in PLACEHOLDER.findall(str(getattr(publication, name)))
        }
    )
    if left:
        problems.append(
            _("Fill in or remove the parts still marked: %(parts)s.") % {"parts": "、".join(left)}
        )
    return problems


@transaction.atomic
def issue_publication(actor: Any, publication: Any) -> Publication:
    """Freeze a complete draft of a met tier: from now on it is read-only."""
    _require(actor, "assessment.issue_publication")
    found = _locked(actor, publication, "issue")
    problems = issue_problems(found)
    if problems:
        raise ServiceError("assessment.publication_incomplete", "；".join(problems))
    found.status = PublicationStatus.ISSUED
    found.issued_by = actor
    found.issued_at = timezone.now()
    found.save(update_fields=["status", "issued_by", "issued_at"])
    audit.record(
        AuditAction.UPDATE,
        found,
        actor=actor,
        changes={"status": [PublicationStatus.DRAFT, PublicationStatus.ISSUED]},
        note="issued",
    )
    return found
