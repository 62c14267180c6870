"""``linli assess`` as an operator or an integration uses it: JSON for a registered community,
the figures template, a community known only from its figures, and bad input (exit 2)."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from linli.assessment.standard import load_standard
from linli.registry.models import House


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("assess", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_json_lists_every_indicator_with_verdict_figures_sources_and_reason(
    register: Any, tree: Any, audit_protected: None
) -> None:
    House.objects.filter(pk=register.house_a101.pk).update(has_gigabit=True, has_cable_tv=True)
    code, out, err = _run(
        tree.community_a.code, "--tier", "基础型", "--date", "2024-10-01", "--format", "json"
    )
    assert (code, err) == (0, "")
    body = json.loads(out)
    assert body["standard"]["code"] == "DB37/T 3890.3-2020"
    assert body["community"] == {
        "code": tree.community_a.code,
        "name": "锦源社区",
        "in_register": True,
    }
    assert body["date"] == "2024-10-01" and body["tier"] == "基础型" and body["tier_met"] is False
    assert len(body["indicators"]) == 22
    first = body["indicators"][0]
    assert (first["number"], first["category"], first["name"]) == (1, "基础设施", "有线宽带网络")
    assert first["verdict"] == "not_met" and first["verdict_label"] == "未达标"
    assert first["reason"] == "家庭千兆光纤网络覆盖率 50%（1/2） < 70%"
    assert first["requirement"] == "家庭千兆光纤网络覆盖率达到 70%"
    sources = {f["metric"]: f["source"] for f in first["figures"]}
    assert sources == {
        "gigabit_households": "platform",
        "households_total": "platform",
        "gigabit_coverage": "platform",
    }
    security = body["indicators"][20]
    assert security["verdict"] == "met", security["reason"]
    assert body["tier_reached"] is None
    assert body["gap"]["tier"] == "基础型" and body["gap"]["items"]
    assert body["gap"]["items"][0]["kind"] == "shortfall"


def test_a_figures_file_completes_a_registered_community(
    register: Any, tree: Any, audit_protected: None, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "f.yaml",
        {"figures": {"publicity_activities_per_year": {"value": 2, "evidence": "活动照片"}}},
    )
    code, out, _err = _run(
        tree.community_a.code, "--tier", "成长型", "--figures", str(path), "--format", "json"
    )
    assert code == 0
    publicity = json.loads(out)["indicators"][24]
    assert publicity["verdict"] == "met"
    assert publicity["figures"][0]["source"] == "file"


def test_a_figures_file_cannot_silently_replace_the_platforms_figures(
    register: Any, tree: Any, audit_protected: None, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "f.yaml", {"figures": {"households_total": 2, "gigabit_households": 2}}
    )
    code, out, err = _run(
        tree.community_a.code, "--tier", "基础型", "--figures", str(path), "--format", "json"
    )
    assert code == 2 and out == ""
    assert (
        "具备千兆接入能力的家庭数（gigabit_households）：平台记录为 0 户；如需替换，请加 --override"
        in err
    )
    code, out, _err = _run(
        tree.community_a.code,
        "--tier",
        "基础型",
        "--figures",
        str(path),
        "--override",
        "--format",
        "json",
    )
    assert code == 0
    first = json.loads(out)["indicators"][0]
    assert first["verdict"] == "met"
    assert {f["source"] for f in first["figures"]} == {"override"}


def test_the_template_lists_every_metric_with_unit_and_meaning_and_reads_back(
    tmp_path: Path, db: Any
) -> None:
    code, out, _err = _run("--figures-template", "成长型")
    assert code == 0
    standard = load_standard()
    metrics = standard.tier_metrics(standard.tier("growth"))
    for name in metrics:
        assert f"\n  {name}:" in out, name
    assert "# 社区家庭总数（数量，整数，户）：社区内的家庭（户）总数" in out
    assert "〔已登记社区由平台自动计算〕" in out
    assert "不接受 0.576 这类不大于 1 的小数比例" in out
    # Filled in, the template is a figures file.
    template = yaml.safe_load(out)
    assert set(template["figures"]) == set(metrics)
    template["figures"]["households_total"] = 1000
    template["figures"]["tv_households"] = 850
    template["figures"]["gov_one_stop_service"] = {"value": True, "evidence": "便民服务中心"}
    template["community"] = "模板社区"
    path = _write(tmp_path / "filled.yaml", template)
    code, out, err = _run("--figures", str(path), "--tier", "成长型", "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    assert body["community"] == {"code": None, "name": "模板社区", "in_register": False}
    assert body["indicators"][2]["verdict"] == "met"
    assert body["indicators"][8]["verdict"] == "met"


def test_the_json_template_carries_the_meanings_beside_the_figures(db: Any) -> None:
    code, out, _err = _run("--figures-template", "basic", "--format", "json")
    assert code == 0
    body = json.loads(out)
    assert body["figures"]["gov_one_stop_service"] == {"value": None, "evidence": ""}
    assert body["_help"]["tv_coverage"].startswith(
        "广播电视覆盖率（百分数，0–100；或填写分子和分母）"
    )


def test_figures_alone_evaluate_a_community_not_in_the_register(tmp_path: Path, db: Any) -> None:
    path = _write(
        tmp_path / "f.yaml",
        {
            "community": "外县社区",
            "date": date(2023, 12, 1),
            "figures": {"tv_households": 2820, "households_total": 4900},
        },
    )
    code, out, _err = _run("--figures", str(path), "--tier", "基础型", "--format", "json")
    assert code == 0
    body = json.loads(out)
    assert body["date"] == "2023-12-01" and body["community"]["in_register"] is False
    assert body["indicators"][2]["reason"] == "广播电视覆盖率 57.6%（2820/4900） < 70%"
    assert body["indicators"][2]["figures"][0]["source"] == "file"


def test_bad_input_exits_2_listing_every_problem(tmp_path: Path, db: Any) -> None:
    path = _write(
        tmp_path / "f.yaml",
        {
            "figures": {
                "tv_coverage": 0.576,
                "households_total": -1,
                "community_area_km2": 1,
                "mobile_5g_area_km2": 2,
                "tv_coverge": 80,
                "gov_one_stop_service": "达标",
            }
        },
    )
    code, out, err = _run("--figures", str(path), "--tier", "基础型", "--format", "json")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == "填报数据无法评估："
    assert any("广播电视覆盖率（tv_coverage）：0.576 像是小数比例" in line for line in lines)
    assert any("社区家庭总数（households_total）：不能为负数" in line for line in lines)
    assert any("“tv_coverge”，是否应为“tv_coverage”" in line for line in lines)
    assert any("请填写 true 或 false（是/否），填写的是 “达标”" in line for line in lines)
    # Read errors come first; consistency (5G area larger than the community) is checked once
    # the values are readable.
    path = _write(
        tmp_path / "g.yaml", {"figures": {"community_area_km2": 1, "mobile_5g_area_km2": 2}}
    )
    code, _out, err = _run("--figures", str(path), "--tier", "基础型")
    assert code == 2 and "5G信号覆盖的区域面积 2 平方公里 大于社区总面积 1 平方公里。" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tier", "基础型"), "请给出社区代码"),
        (("370124001022",), "请用 --tier 指定评估类型"),
        (("999999999999", "--tier", "基础型"), "没有代码为 999999999999 的区划"),
        (("370124001022", "--tier", "金牌型"), "未知类型“金牌型”"),
        (("370124001", "--tier", "基础型"), "不是社区"),
        (("370124001022", "--tier", "基础型", "--date", "2024-13-01"), "不是日期"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    tree: Any, args: tuple[str, ...], message: str
) -> None:
    code, out, err = _run(*args)
    assert code == 2 and out == ""
    assert message in err


def test_the_publication_formats_render_and_unknown_ones_are_refused(
    tmp_path: Path, db: Any
) -> None:
    # docx / html are the acceptance publication (tests/assessment/test_publication_documents.py).
    path = _write(tmp_path / "f.yaml", {"figures": {"households_total": 10}})
    code, out, err = _run("--figures", str(path), "--tier", "基础型", "--format", "html")
    assert (code, err) == (0, "") and "山东省智慧社区建设指标（基础型）" in out
    code, _out, err = _run("--figures", str(path), "--tier", "基础型", "--format", "pdf")
    assert code == 2 and "未知格式“pdf”" in err


def test_text_output_and_output_file(tmp_path: Path, db: Any) -> None:
    path = _write(tmp_path / "f.yaml", {"figures": {"gigabit_coverage": 70}})
    target = tmp_path / "out.txt"
    code, out, _err = _run("--figures", str(path), "--tier", "基础型", "--output", str(target))
    assert code == 0 and out == ""
    text = target.read_text(encoding="utf-8")
    assert "✔ 1. 基础设施 / 有线宽带网络：达标" in text
    assert "家庭千兆光纤网络覆盖率 70% ≥ 70%" in text
    assert "已达到：无" in text
