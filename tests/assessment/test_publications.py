"""Real acceptance publications re-evaluated from their own figures: every verdict follows the
numbers, including where a publication claims 达标 but its own figures fall short."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from assessment.helpers import PUBLICATIONS
from linli.assessment.choices import Verdict
from linli.assessment.figures import load_figures_file
from linli.assessment.models import Assessment, ManualFigure, Publication
from linli.assessment.services import evaluate_figures
from linli.assessment.standard import Standard
from linli.audit.models import AuditEntry

MAYISHAN = PUBLICATIONS / "mayishan_2024.yaml"


def test_mayishan_claims_benchmark_but_its_own_figures_fall_short(standard: Standard) -> None:
    """马驿山社区 (2024): "已满足…标杆型智慧社区的建设要求"."""
    result = evaluate_figures(load_figures_file(standard, MAYISHAN), tier="标杆型")
    verdicts = {i.indicator.number: i.verdict for i in result.tier.indicators}
    # 4515 households, so at least 4515 residents: "2000 人以上" needs a smart library or two
    # smart book cabinets; the publication names one share-book corner.
    books = result.tier.indicators[12]
    assert books.verdict == Verdict.NOT_MET
    assert "社区常住人口未提供，但不少于社区家庭总数 4515 人" in books.reason
    assert "社区智慧图书馆数 0 个 < 1 个" in books.reason
    # Items it reports against another tier's wording or not at all: evidence missing.
    assert verdicts[19] == Verdict.EVIDENCE_MISSING  # reports 19+ floors; benchmark asks 7+
    assert verdicts[21] == Verdict.EVIDENCE_MISSING  # fire-hazard recognition not stated
    assert verdicts[6] == Verdict.EVIDENCE_MISSING  # only "自动断电", not 定时充电/故障报警
    assert verdicts[25] == Verdict.EVIDENCE_MISSING  # online deliberations per year not counted
    # What its figures do support.
    assert verdicts[1] == verdicts[3] == verdicts[7] == Verdict.MET
    assert result.tier.indicators[0].reason == "家庭千兆光纤网络覆盖率 100%（4515/4515） ≥ 90%"
    assert verdicts[11] == Verdict.MET  # 60+ share 20 %: the 4-services item does not apply
    assert "不适用：60岁及以上常住老年人占比 20%" in result.tier.indicators[10].reason
    assert (
        verdicts[28] == Verdict.MET and verdicts[32] == Verdict.MET
    )  # 8 ≥ 3 activities; 80 % ≥ 80 %
    assert result.tier.met is False
    assert result.reached is not None and result.reached.name == "基础型"
    assert result.next_tier is not None and result.next_tier.name == "成长型"
    assert [item.indicator.number for item in result.gap()] == [6, 10, 10, 17, 19, 22, 27]


def test_the_basic_tier_boundaries_of_pingyin_jinxiu(standard: Standard, tmp_path: Any) -> None:
    """锦绣社区 (平阴县答复, 2023): 千兆 and 广播电视 "达到70%", 视频 "均达到90%" — exactly the
    basic thresholds, which are met."""
    path = tmp_path / "jinxiu.yaml"
    path.write_text(
        "community: 锦绣社区\nfigures:\n  gigabit_coverage: 70%\n  tv_coverage: 70%\n"
        "  video_key_coverage_rate: 90\n  video_networking_rate: 90\n"
        "  video_camera_intact_rate: 90\n",
        encoding="utf-8",
    )
    result = evaluate_figures(load_figures_file(standard, path), tier="基础型")
    indicators = result.tier.indicators
    assert indicators[0].verdict == indicators[2].verdict == Verdict.MET
    assert indicators[0].reason == "家庭千兆光纤网络覆盖率 70% ≥ 70%"
    # Output and network rates are met, the image and compliance rates were not reported.
    assert indicators[3].verdict == Verdict.EVIDENCE_MISSING
    assert [c.verdict for c in indicators[3].checks][:3] == [Verdict.MET] * 3


def test_the_command_line_gives_the_same_verdicts(db: Any) -> None:
    out = io.StringIO()
    call_command(
        "assess", "--figures", str(MAYISHAN), "--tier", "标杆型", "--format", "json", stdout=out
    )
    body = json.loads(out.getvalue())
    assert body["community"]["name"] == "马驿山社区" and body["date"] == "2024-09-18"
    assert body["tier_met"] is False and body["tier_reached"] == "基础型"
    books = body["indicators"][12]
    assert (books["name"], books["verdict"]) == ("文体服务", "not_met")
    assert books["completion_text"].startswith("未达标。")
    assert {f["metric"]: f["source"] for f in books["figures"]}["book_corners"] == "file"


# ------------------------------------------------------------------ two publications re-evaluated
# tests/assessment/publications/ holds two synthetic publications written in the style of the
# real ones (the .txt) with their figures transcribed (the .yaml): 玫瑰苑社区 declares 成长型
# and its figures support it; 泉韵社区 declares 标杆型 and writes 达标 on every row, but its own
# table gives 广播电视覆盖率 68.2 % and 居民满意度 78.6 %.

MEIGUIYUAN = PUBLICATIONS / "meiguiyuan_2024_growth.yaml"
QUANYUN = PUBLICATIONS / "quanyun_2025_benchmark.yaml"
LIVE_CHECKS = {"personal_data_encrypted", "administrators_separated", "audit_trail_tamper_evident"}
SATISFIED = (Verdict.MET, Verdict.NOT_APPLICABLE)


def _figures_of(path: Any) -> dict[str, Any]:
    figures: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))["figures"]
    return figures


@pytest.mark.parametrize(("path", "claim"), [(MEIGUIYUAN, "成长型"), (QUANYUN, "标杆型")])
def test_each_transcription_takes_its_figures_from_its_own_publication(
    path: Any, claim: str
) -> None:
    text = path.with_suffix(".txt").read_text(encoding="utf-8")
    assert f"已满足《山东省智慧社区建设指标》中“{claim}智慧社区”的建设要求" in text
    for name, entry in _figures_of(path).items():
        value = entry["value"] if isinstance(entry, dict) else entry
        if isinstance(value, bool):
            continue
        number = re.match(r"\d+(?:\.\d+)?", str(value))
        assert number is not None and number.group() in text, name


def test_meiguiyuan_growth_is_supported_by_its_own_figures(standard: Standard) -> None:
    result = evaluate_figures(load_figures_file(standard, MEIGUIYUAN), tier="成长型")
    assert [i.verdict for i in result.tier.indicators if i.verdict not in SATISFIED] == []
    assert result.tier.met and result.reached is not None and result.reached.name == "成长型"
    reasons = {i.indicator.number: i.reason for i in result.tier.indicators}
    # Exactly on the thresholds as written: "社区内80%小区" is met by 4 of 5.
    assert "垃圾分类智能化小区覆盖率 80%（4/5） ≥ 80%" in reasons[13]
    assert "消防隐患自动识别小区覆盖率 80%（4/5） ≥ 80%" in reasons[19]
    assert "不适用：60岁及以上常住老年人占比 24.4%" in reasons[10]
    assert reasons[3] == "广播电视覆盖率 86.6%（1590/1836） ≥ 80%"
    # The way to 标杆型 starts with what costs least.
    gap = result.gap()
    assert result.next_tier is not None and result.next_tier.name == "标杆型"
    assert gap[0].check.needed == "具备千兆接入能力的家庭数还需增加 33 户"
    assert {item.kind for item in gap[:15]} == {"shortfall"}


def test_quanyun_claims_benchmark_but_its_own_table_falls_short_twice(standard: Standard) -> None:
    result = evaluate_figures(load_figures_file(standard, QUANYUN), tier="标杆型")
    short = {i.indicator.number: i for i in result.tier.indicators if i.verdict not in SATISFIED}
    assert {number: i.verdict for number, i in short.items()} == {
        3: Verdict.NOT_MET,
        32: Verdict.NOT_MET,
    }
    assert short[3].reason == "广播电视覆盖率 68.2%（1364/2000） < 95%"
    assert short[32].reason == "居民满意度 78.6% < 80%"
    assert short[3].completion_text.startswith("未达标。社区家庭总数 2000 户")
    # 68.2 % is below even 基础型's 70 %: no tier is reached, and the gap says by how much.
    assert result.reached is None and result.tier.met is False
    basic = next(t for t in result.tiers if t.tier.key == "basic")
    assert [i.indicator.number for i in basic.indicators if i.verdict not in SATISFIED] == [3]
    assert [(item.indicator.number, item.check.needed) for item in result.gap()] == [
        (3, "具备有线广播电视或交互式网络电视（IPTV）接入能力的家庭数还需增加 36 户")
    ]


def test_a_higher_tiers_figures_settle_the_lower_tiers_wording(standard: Standard) -> None:
    """The benchmark publication reports 网上选民登记、网络投票, five online deliberations, all
    7-floor buildings monitored and two perimeter kinds everywhere; the lower tiers ask for less
    of the same, and the reason says what settled each."""
    result = evaluate_figures(load_figures_file(standard, QUANYUN), tier="基础型")
    reasons = {i.indicator.number: i.reason for i in result.tier.indicators}
    assert "（由“采用网上选民登记、网络投票等方式开展民主选举”推出）" in reasons[18]
    assert "（由每年线上议事协商活动次数 5 次推出）" in reasons[18]
    assert reasons[13] == (
        "封闭式小区周界防范覆盖率未提供，但不少于 100%（具备至少两种周界防护设施的封闭式小区数 "
        "5 个/封闭式小区数 5 个） ≥ 100%"
    )
    assert "（由12层及以上住宅高空抛物监控覆盖率 100%推出）" in reasons[14]
    assert reasons[22] == (
        "创新应用场景数未提供，但不少于 1 项（在省级层面推广的创新应用场景数 1 项） ≥ 1 项"
    )
    growth = next(t for t in result.tiers if t.tier.key == "growth")
    settled = {i.indicator.number: i.verdict for i in growth.indicators}
    assert settled[17] == settled[27] == Verdict.MET  # 12 floors from 7; city from province
    # What no figure of the publication says stays missing: emergency-call devices, a book
    # corner or cabinet (it has a smart library).
    assert settled[10] == settled[11] == Verdict.EVIDENCE_MISSING


def test_both_publications_through_the_command_line(tmp_path: Any, db: Any) -> None:
    out = io.StringIO()
    call_command(
        "assess", "--figures", str(QUANYUN), "--tier", "标杆型", "--format", "json", stdout=out
    )
    body = json.loads(out.getvalue())
    assert (body["community"]["name"], body["date"]) == ("泉韵社区", "2025-06-18")
    assert body["tier_met"] is False and body["tier_reached"] is None
    assert [
        (i["number"], i["verdict"]) for i in body["indicators"] if i["verdict"] == "not_met"
    ] == [
        (3, "not_met"),
        (32, "not_met"),
    ]
    assert body["gap"]["tier"] == "基础型" and len(body["gap"]["items"]) == 1
    out = io.StringIO()
    call_command("assess", "--figures", str(MEIGUIYUAN), "--tier", "成长型", stdout=out)
    text = out.getvalue()
    assert "评估类型：成长型 — 达标" in text and "已达到：成长型" in text
    assert "✘" not in text.split("已达到")[0]


# ------------------------------------------------------------------ the same through the pages


def _verdicts(page: str) -> dict[int, str]:
    """Indicator number → the verdict class of its row in the community page's table."""
    return {
        int(number): verdict
        for number, verdict in re.findall(
            r'<tr id="indicator-(\d+)">.*?<span class="verdict verdict-(\w+)">', page, re.DOTALL
        )
    }


def _enter_through_the_form(client: Any, community: Any, path: Any, tier: str) -> int:
    """Every figure of a transcription entered as a manual figure through the figure form, with
    its evidence (the publication itself for a bare count); the live checks are the platform's."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    publication = f"《{data['community']}智慧社区建设验收结果公示》（{data['date']}）"
    form = reverse("assessment:figure_create", args=[community.code]) + f"?tier={tier}"
    entered = 0
    for name, entry in data["figures"].items():
        if name in LIVE_CHECKS:
            continue
        value = entry["value"] if isinstance(entry, dict) else entry
        evidence = entry.get("evidence") if isinstance(entry, dict) else None
        response = client.post(
            form,
            {
                "metric": name,
                "value": "是" if value is True else str(value),
                "evidence": evidence or publication,
                "valid_from": str(data["date"]),
            },
        )
        assert response.status_code == 302, (name, html.unescape(response.content.decode()))
        entered += 1
    return entered


@pytest.fixture
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.usefixtures("_media")
def test_the_growth_publication_entered_through_the_pages_reaches_growth(
    login: Any, personas: Any, tree: Any, audit_protected: None
) -> None:
    client = login(personas.county_operator)
    entered = _enter_through_the_form(client, tree.community_c, MEIGUIYUAN, "growth")
    figures = ManualFigure.objects.filter(region=tree.community_c)
    assert figures.count() == entered and all(f.evidence for f in figures)
    assert AuditEntry.objects.filter(object_type="assessment.manualfigure").count() == entered
    page = html.unescape(
        client.get(
            reverse("assessment:community", args=[tree.community_c.code]),
            {"tier": "growth", "date": "2024-11-12"},
        ).content.decode()
    )
    assert re.search(r'id="tier-reached">成长型<', page)
    verdicts = _verdicts(page)
    assert len(verdicts) == 28 and set(verdicts.values()) <= {"met", "not_applicable"}
    assert "垃圾分类智能化小区覆盖率 80%（4/5） ≥ 80%" in page
    assert "社区党群服务中心设有1个共享图书角" in page  # the evidence, beside its figure
    assert "距标杆型的差距" in page and "具备千兆接入能力的家庭数还需增加 33 户" in page


@pytest.mark.usefixtures("_media")
def test_the_benchmark_claim_entered_through_the_pages_reaches_no_tier(
    login: Any, personas: Any, tree: Any, audit_protected: None
) -> None:
    client = login(personas.county_operator)
    _enter_through_the_form(client, tree.community_b, QUANYUN, "benchmark")
    community = reverse("assessment:community", args=[tree.community_b.code])
    page = html.unescape(
        client.get(community, {"tier": "benchmark", "date": "2025-06-18"}).content.decode()
    )
    verdicts = _verdicts(page)
    assert len(verdicts) == 32
    assert {n for n, v in verdicts.items() if v not in ("met", "not_applicable")} == {3, 32}
    assert verdicts[3] == verdicts[32] == "not_met"
    assert "广播电视覆盖率 68.2%（1364/2000） < 95%" in page
    assert "居民满意度 78.6% < 80%" in page
    assert re.search(r'id="tier-reached">未达到任何等级<', page)
    gap = page[page.index('id="gap"') :]
    assert "距基础型的差距：共 1 项" in gap
    assert "具备有线广播电视或交互式网络电视（IPTV）接入能力的家庭数还需增加 36 户" in gap
    # Stored and drafted as a publication, the 标杆型 table says 未达标 where the figures do.
    response = client.post(
        reverse("assessment:store", args=[tree.community_b.code]), {"date": "2025-06-18"}
    )
    assert response.status_code == 302
    assessment = Assessment.objects.get(region=tree.community_b)
    assert assessment.tier_reached == "" and assessment.next_tier == "basic"
    response = client.post(
        reverse("assessment:publication_create"),
        {"assessment": assessment.pk, "tier": "benchmark"},
    )
    assert response.status_code == 302, html.unescape(response.content.decode())
    publication = Publication.objects.get(assessment=assessment)
    document = html.unescape(
        client.get(
            reverse("assessment:publication_document", args=[publication.pk])
        ).content.decode()
    )
    assert "未达标" in document and "已满足" not in document
    assert "未达标。社区家庭总数 2000 户" in document
