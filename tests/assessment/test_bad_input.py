"""The issue's bad input, through every door a figure comes in — a figures file (``linli
assess``), the figure form and the API: a percentage written as a ratio (percentages are
accepted, ratios refused, and the message says so), a count written as a percentage, a negative
count, a covered area larger than the total area, an unknown metric name, and a yes/no item
without evidence. Each gives a clear Chinese error — or, for the file's item without evidence,
"evidence missing" — never a silent pass, and nothing is stored."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from linli.assessment.models import ManualFigure

DAY = "2024-10-01"
EVIDENCE = "社区2024年工作台账"
# (case, figures entered first, the bad figure, what every door must say)
CASES = [
    (
        "ratio",
        {},
        ("tv_coverage", "0.682"),
        "像是小数比例，但本项填写百分数：57.6% 请写作 57.6 或“57.6%”，不要写 0.576",
    ),
    ("ratio-one", {}, ("resident_satisfaction", "1"), "不大于 1 的数值须带 % 号才按百分数接受"),
    (
        "percent-count",
        {},
        ("gigabit_households", "98%"),
        "具备千兆接入能力的家庭数（gigabit_households）：本项是数量（户），不是百分数",
    ),
    ("negative", {}, ("households_total", "-5"), "社区家庭总数（households_total）：不能为负数"),
    (
        "area",
        {"community_area_km2": "1.1"},
        ("mobile_5g_area_km2", "1.2"),
        "5G信号覆盖的区域面积 1.2 平方公里 大于社区总面积 1.1 平方公里。",
    ),
]


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("assess", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _file(tmp_path: Path, figures: dict[str, Any]) -> str:
    path = tmp_path / "figures.yaml"
    path.write_text(
        yaml.safe_dump({"community": "泉韵社区", "figures": figures}, allow_unicode=True),
        encoding="utf-8",
    )
    return str(path)


def _typed(value: str) -> Any:
    """The value as a figures file or a JSON body would carry it (a number where it is one)."""
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


@pytest.mark.parametrize(("case", "before", "bad", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_figures_file_with_bad_input_is_refused_with_every_problem(
    db: Any, tmp_path: Path, case: str, before: dict[str, str], bad: tuple[str, str], message: str
) -> None:
    figures = {name: _typed(value) for name, value in before.items()}
    figures[bad[0]] = _typed(bad[1])
    code, out, err = _run("--figures", _file(tmp_path, figures), "--tier", "基础型")
    assert (code, out) == (2, "")
    assert message in err


@pytest.mark.parametrize(("case", "before", "bad", "message"), CASES, ids=[c[0] for c in CASES])
def test_the_figure_form_refuses_bad_input_in_chinese_and_stores_nothing(
    login: Any,
    personas: Any,
    tree: Any,
    case: str,
    before: dict[str, str],
    bad: tuple[str, str],
    message: str,
) -> None:
    client = login(personas.county_operator)
    url = reverse("assessment:figure_create", args=[tree.community_c.code]) + "?tier=growth"
    for name, value in before.items():
        body = {"metric": name, "value": value, "evidence": EVIDENCE, "valid_from": DAY}
        assert client.post(url, body).status_code == 302
    stored = ManualFigure.objects.count()
    response = client.post(
        url, {"metric": bad[0], "value": bad[1], "evidence": EVIDENCE, "valid_from": DAY}
    )
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert ManualFigure.objects.count() == stored


@pytest.mark.parametrize(("case", "before", "bad", "message"), CASES, ids=[c[0] for c in CASES])
def test_the_api_refuses_bad_input_in_chinese_and_stores_nothing(
    api: Any,
    personas: Any,
    tree: Any,
    case: str,
    before: dict[str, str],
    bad: tuple[str, str],
    message: str,
) -> None:
    client = api(personas.county_operator)
    url = reverse("api:assessment-manualfigure-list")

    def body(name: str, value: str) -> dict[str, Any]:
        return {
            "region": tree.community_c.code,
            "metric": name,
            "value": _typed(value),
            "evidence": EVIDENCE,
            "valid_from": DAY,
        }

    for name, value in before.items():
        assert client.post(url, body(name, value), format="json").status_code == 201
    stored = ManualFigure.objects.count()
    response = client.post(url, body(*bad), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert any(message in problem for problem in error["fields"]["problems"]), error
    assert ManualFigure.objects.count() == stored


def test_an_unknown_metric_name_is_refused_everywhere_with_the_closest_name(
    db: Any, tmp_path: Path, login: Any, api: Any, personas: Any, tree: Any
) -> None:
    code, _out, err = _run("--figures", _file(tmp_path, {"tv_coverge": 80}), "--tier", "基础型")
    assert (
        code == 2 and "未知指标数据项“tv_coverge”，是否应为“tv_coverage”（广播电视覆盖率）？" in err
    )
    response = api(personas.county_operator).post(
        reverse("api:assessment-manualfigure-list"),
        {
            "region": tree.community_c.code,
            "metric": "tv_coverge",
            "value": 80,
            "evidence": EVIDENCE,
            "valid_from": DAY,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "是否应为“tv_coverage”" in response.json()["error"]["message"]
    # The form offers only the standard's metrics: a name typed into the request is refused.
    response = login(personas.county_operator).post(
        reverse("assessment:figure_create", args=[tree.community_c.code]),
        {"metric": "tv_coverge", "value": "80", "evidence": EVIDENCE, "valid_from": DAY},
    )
    assert response.status_code == 400
    assert "选择一个有效的选项" in html.unescape(response.content.decode())
    assert not ManualFigure.objects.exists()


def test_a_yes_no_item_without_evidence_is_never_a_pass(
    db: Any, tmp_path: Path, login: Any, api: Any, personas: Any, tree: Any
) -> None:
    # In a figures file it is evaluated, as "evidence missing".
    code, out, _err = _run(
        "--figures",
        _file(tmp_path, {"online_utility_payment": True, "police_info_release": "是"}),
        "--tier",
        "基础型",
    )
    assert code == 0
    assert "? 10. 社区服务 / 物业（公共事业）服务：缺少证明材料" in out
    assert "水、电、气、暖、物业费等线上缴费服务：填报为已实现，但缺少证明材料" in out
    assert "? 11. 社区安全 / 社区警务：缺少证明材料" in out
    # A stored figure needs its evidence: the form and the API refuse it.
    body = {"metric": "online_utility_payment", "value": "是", "evidence": " ", "valid_from": DAY}
    response = login(personas.county_operator).post(
        reverse("assessment:figure_create", args=[tree.community_c.code]), body
    )
    assert response.status_code == 400
    assert "请说明数据依据（证明材料），不能为空。" in html.unescape(response.content.decode())
    response = api(personas.county_operator).post(
        reverse("api:assessment-manualfigure-list"),
        {**body, "value": True, "region": tree.community_c.code},
        format="json",
    )
    assert response.status_code == 400
    assert (
        "请说明数据依据（证明材料），不能为空。" in response.json()["error"]["fields"]["problems"]
    )
    assert not ManualFigure.objects.exists()
