"""Real acceptance publications re-evaluated from their own figures: every verdict follows the
numbers, including where a publication claims 达标 but its own figures fall short."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management import call_command

from assessment.helpers import PUBLICATIONS
from linli.assessment.choices import Verdict
from linli.assessment.figures import load_figures_file
from linli.assessment.services import evaluate_figures
from linli.assessment.standard import Standard

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
