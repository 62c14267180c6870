"""The self-assessment's API: the live evaluation in the shape of ``linli assess --format
json``, manual figures (create, withdraw, attachment), stored assessments (store, list with
filters, retrieve, export) and the county tables; bad input is 400 in Chinese, outside the scope
404, and every change leaves nothing behind when refused."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from linli.assessment import services
from linli.assessment.models import Assessment, ManualFigure
from linli.assessment.render import render
from linli.audit.models import AuditEntry
from linli.registry.models import House

DAY = date(2024, 10, 1)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def url(basename: str, suffix: str = "list", *args: Any) -> str:
    return reverse(f"api:{basename}-{suffix}", args=args)


def evaluation_url(code: str) -> str:
    return url("assessment-community", "detail", code)


# ------------------------------------------------------------------ the live evaluation


def test_the_evaluation_has_the_shape_and_verdicts_of_the_command_line_json(
    api: Any, personas: Any, tree: Any, register: Any, audit_protected: None
) -> None:
    House.objects.filter(pk=register.house_a101.pk).update(has_gigabit=True)
    response = api(personas.community_worker_a).get(
        evaluation_url(tree.community_a.code), {"tier": "基础型", "date": DAY.isoformat()}
    )
    assert response.status_code == 200
    body = response.json()
    command = json.loads(
        render(services.evaluate_community(tree.community_a, tier="basic", on=DAY), "json")
    )
    assert body.keys() == command.keys()
    assert body["tier"] == "基础型" and body["date"] == "2024-10-01"
    assert body["community"] == {
        "code": tree.community_a.code,
        "name": tree.community_a.name,
        "in_register": True,
    }
    assert len(body["indicators"]) == 22
    assert [i["verdict"] for i in body["indicators"]] == [
        i["verdict"] for i in command["indicators"]
    ]
    gigabit = body["indicators"][0]
    assert gigabit["reason"] == "家庭千兆光纤网络覆盖率 50%（1/2） < 70%"
    assert gigabit["verdict_label"] == "未达标"
    households = next(f for f in gigabit["figures"] if f["metric"] == "households_total")
    assert households["source"] == "platform" and households["value"] == 2
    assert households["computation"]["link"].startswith("/registry/houses/?")


def test_without_a_tier_the_evaluation_shows_the_tier_above_the_one_reached(
    api: Any, personas: Any, tree: Any, audit_protected: None
) -> None:
    body = api(personas.community_worker_a).get(evaluation_url(tree.community_a.code)).json()
    assert body["tier_reached"] is None and body["tier_key"] == "basic"


def test_bad_query_values_are_400_with_chinese_messages(api: Any, personas: Any, tree: Any) -> None:
    client = api(personas.community_worker_a)
    target = evaluation_url(tree.community_a.code)
    response = client.get(target, {"tier": "高级型"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"] == "提交的数据无效。"
    assert "未知" in error["fields"]["tier"][0]
    response = client.get(target, {"date": "2024-13-01"})
    assert response.status_code == 400 and "日期" in response.json()["error"]["fields"]["date"][0]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.get(target, {"date": tomorrow})
    assert response.status_code == 400
    assert "晚于今天" in response.json()["error"]["fields"]["date"][0]


def test_a_community_outside_the_scope_is_404_and_a_subdistrict_is_400(
    api: Any, personas: Any, tree: Any
) -> None:
    client = api(personas.community_worker_a)
    response = client.get(evaluation_url(tree.community_b.code))
    assert response.status_code == 404 and response.json()["error"]["code"] == "region.not_found"
    assert client.get(evaluation_url("370124001999")).status_code == 404
    response = api(personas.subdistrict_manager).get(evaluation_url(tree.subdistrict_1.code))
    assert response.status_code == 400
    assert "不是社区" in response.json()["error"]["message"]
    assert api(personas.resident).get(evaluation_url(tree.community_a.code)).status_code == 403


# ------------------------------------------------------------------ manual figures


def _figure_body(tree: Any, **extra: Any) -> dict[str, Any]:
    body = {
        "region": tree.community_a.code,
        "metric": "publicity_activities_per_year",
        "value": 2,
        "evidence": "2024年两次宣传活动（签到表）",
        "valid_from": "2024-01-01",
        "valid_until": "2024-12-31",
    }
    body.update(extra)
    return body


def test_entering_a_figure_answers_it_with_its_value_in_words(
    api: Any, personas: Any, tree: Any
) -> None:
    response = api(personas.community_worker_a).post(
        url("assessment-manualfigure"), _figure_body(tree), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["metric_label"] == "每年智慧社区宣传普及活动次数"
    assert (body["value"], body["text"], body["unit"]) == (2, "2 次", "count")
    assert body["entered_by"] == "worker_a" and body["is_active"] is True
    assert body["region"] == tree.community_a.code and body["has_attachment"] is False


def test_bad_figures_are_400_with_every_problem_in_chinese_and_nothing_written(
    api: Any, personas: Any, tree: Any
) -> None:
    response = api(personas.community_worker_a).post(
        url("assessment-manualfigure"),
        _figure_body(
            tree,
            metric="mobile_5g_coverage",
            value=0.85,
            evidence="",
            valid_from="2024-12-01",
            valid_until="2024-01-01",
        ),
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "assessment.figures"
    problems = error["fields"]["problems"]
    assert len(problems) == 3 and "像是小数比例" in problems[0]
    response = api(personas.community_worker_a).post(
        url("assessment-manualfigure"),
        _figure_body(tree, metric="publicity_per_year"),
        format="json",
    )
    assert response.status_code == 400
    assert "publicity_activities_per_year" in response.json()["error"]["message"]
    response = api(personas.community_worker_a).post(
        url("assessment-manualfigure"), _figure_body(tree, value={"x": 1}), format="json"
    )
    assert response.status_code == 400
    assert not ManualFigure.objects.exists()


def test_a_figure_outside_the_scope_is_404_and_not_written(
    api: Any, personas: Any, tree: Any
) -> None:
    response = api(personas.community_worker_a).post(
        url("assessment-manualfigure"),
        _figure_body(tree, region=tree.community_b.code),
        format="json",
    )
    assert response.status_code == 404
    assert not ManualFigure.objects.exists()


def test_a_figure_with_an_attachment_by_multipart_and_its_audited_download(
    api: Any, personas: Any, tree: Any
) -> None:
    client = api(personas.community_worker_a)
    body = _figure_body(tree, valid_until="")
    del body["valid_until"]
    body["attachment"] = SimpleUploadedFile("签到表.pdf", b"%PDF-1.4 api", "application/pdf")
    response = client.post(url("assessment-manualfigure"), body, format="multipart")
    assert response.status_code == 201, response.content
    figure_id = response.json()["id"]
    assert response.json()["has_attachment"] is True
    download = client.get(url("assessment-manualfigure", "attachment", figure_id))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 api"
    assert AuditEntry.objects.filter(action="download", object_id=str(figure_id)).exists()
    other = api(personas.community_worker_b).get(
        url("assessment-manualfigure", "attachment", figure_id)
    )
    assert other.status_code == 404


def test_withdrawing_a_figure_and_the_lists_filters(api: Any, personas: Any, tree: Any) -> None:
    worker = personas.community_worker_a
    kept = services.enter_manual_figure(
        worker,
        region=tree.community_a,
        metric="innovation_scenarios",
        value=1,
        evidence="一项创新场景",
        valid_from="2024-01-01",
    )
    wrong = services.enter_manual_figure(
        worker,
        region=tree.community_a,
        metric="publicity_activities_per_year",
        value=9,
        evidence="录错了",
        valid_from="2024-01-01",
    )
    client = api(worker)
    response = client.post(url("assessment-manualfigure", "retire", wrong.pk))
    assert response.status_code == 200
    assert response.json()["is_active"] is False and response.json()["retired_by"] == "worker_a"
    again = client.post(url("assessment-manualfigure", "retire", wrong.pk))
    assert again.status_code == 400 and again.json()["error"]["code"] == "assessment.withdrawn"
    listed = client.get(url("assessment-manualfigure"), {"status": "active"}).json()["results"]
    assert [row["id"] for row in listed] == [kept.pk]
    listed = client.get(url("assessment-manualfigure"), {"status": "withdrawn"}).json()["results"]
    assert [row["id"] for row in listed] == [wrong.pk]
    assert (
        client.get(url("assessment-manualfigure"), {"region": tree.community_b.code}).json()[
            "results"
        ]
        == []
    )
    assert (
        api(personas.community_worker_b)
        .post(url("assessment-manualfigure", "retire", kept.pk))
        .status_code
        == 404
    )
    kept.refresh_from_db()
    assert kept.retired_at is None


# ------------------------------------------------------------------ stored assessments


def test_storing_an_assessment_and_reading_it_back(
    api: Any, personas: Any, tree: Any, register: Any, audit_protected: None
) -> None:
    client = api(personas.community_worker_a)
    response = client.post(
        url("assessment-assessment"),
        {"region": tree.community_a.code, "date": "2024-10-01"},
        format="json",
    )
    assert response.status_code == 201, response.content
    stored = response.json()
    assert stored["date"] == "2024-10-01" and stored["region"] == tree.community_a.code
    assert set(stored["result"]) == {"basic", "growth", "benchmark"}
    assert stored["result"]["basic"]["tier"] == "基础型"
    assert stored["computed_by"] == "worker_a"
    listed = client.get(url("assessment-assessment")).json()["results"]
    assert [row["id"] for row in listed] == [stored["id"]]
    assert "result" not in listed[0]
    detail = client.get(url("assessment-assessment", "detail", stored["id"])).json()
    assert detail["result"] == stored["result"]


def test_storing_refuses_bad_input_out_of_scope_and_without_permission(
    api: Any, personas: Any, tree: Any
) -> None:
    target = url("assessment-assessment")
    worker = api(personas.community_worker_a)
    assert worker.post(target, {"region": tree.community_b.code}, format="json").status_code == 404
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = worker.post(
        target, {"region": tree.community_a.code, "date": tomorrow}, format="json"
    )
    assert response.status_code == 400 and "晚于今天" in str(response.json()["error"]["fields"])
    assert worker.post(target, {}, format="json").status_code == 400
    assert (
        api(personas.resident)
        .post(target, {"region": tree.community_a.code}, format="json")
        .status_code
        == 403
    )
    assert not Assessment.objects.exists()


def test_the_list_filters_by_region_date_tier_and_latest(
    api: Any, personas: Any, tree: Any
) -> None:
    from assessment.publication_fixtures import stored_assessment

    old_a = stored_assessment(tree.community_a, on=date(2024, 1, 1))
    new_a = stored_assessment(tree.community_a, on=date(2024, 6, 1))
    b = stored_assessment(tree.community_b, on=date(2024, 1, 1))
    Assessment.objects.filter(pk=b.pk).update(tier_reached="")
    c = stored_assessment(tree.community_c, on=date(2024, 1, 1))
    client = api(personas.subdistrict_manager)

    def ids(**params: str) -> set[int]:
        rows = client.get(url("assessment-assessment"), params).json()["results"]
        return {row["id"] for row in rows}

    assert ids() == {old_a.pk, new_a.pk, b.pk}  # C lies in the other subdistrict
    assert ids(region=tree.community_a.code) == {old_a.pk, new_a.pk}
    assert ids(date="2024-01-01") == {old_a.pk, b.pk}
    assert ids(latest="true") == {new_a.pk, b.pk}
    assert ids(tier_reached="none") == {b.pk}
    assert ids(tier_reached="basic", latest="true") == {new_a.pk}
    assert c.pk not in ids(region=tree.community_c.code)
    response = client.get(url("assessment-assessment", "detail", c.pk))
    assert response.status_code == 404


def test_the_export_needs_its_permission_and_is_audited(api: Any, personas: Any, tree: Any) -> None:
    from assessment.publication_fixtures import stored_assessment

    stored_assessment(tree.community_a)
    assert (
        api(personas.community_worker_a).get(url("assessment-assessment", "export")).status_code
        == 403
    )
    assert not AuditEntry.objects.filter(action="export").exists()
    response = api(personas.subdistrict_manager).get(url("assessment-assessment", "export"))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][3:7] == ("社区", "社区代码", "评估日期", "达到等级")
    assert {row[4] for row in rows[1:]} == {tree.community_a.code, tree.community_b.code}
    assert (
        AuditEntry.objects.filter(action="export", object_type="assessment.assessment").count() == 1
    )


def test_the_county_tables_as_json(api: Any, personas: Any, tree: Any) -> None:
    from assessment.publication_fixtures import stored_assessment

    stored_assessment(tree.community_a)
    body = api(personas.county_operator).get(url("assessment-county")).json()
    rows = {row["code"]: row for row in body["communities"]}
    assert rows[tree.community_a.code]["tier_reached"] == "basic"
    assert rows[tree.community_c.code]["level"] == "unassessed"
    assert [group["code"] for group in body["subdistricts"]] == [
        tree.subdistrict_1.code,
        tree.subdistrict_2.code,
    ]
    assert body["counties"][0]["basic"] == 1 and body["counties"][0]["unassessed"] == 2
    assert body["trend"]["dates"] == ["2024-09-18"]
    response = api(personas.county_operator).get(url("assessment-county"), {"tier": "gold"})
    assert response.status_code == 400
    assert api(personas.resident).get(url("assessment-county")).status_code == 403


def test_the_openapi_schema_documents_the_assessment_api(api: Any, personas: Any) -> None:
    response = api(personas.county_operator).get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in (
        "/api/assessment/communities/{code}/",
        "/api/assessment/manual-figures/",
        "/api/assessment/manual-figures/{id}/withdraw/",
        "/api/assessment/assessments/",
        "/api/assessment/assessments/export/",
        "/api/assessment/county/",
    ):
        assert path in paths, path
    parameters = {
        p["name"] for p in paths["/api/assessment/communities/{code}/"]["get"]["parameters"]
    }
    assert {"code", "tier", "date"} <= parameters


def test_the_lists_keep_their_queries_flat(
    api: Any, personas: Any, tree: Any, django_assert_max_num_queries: Any
) -> None:
    from assessment.publication_fixtures import stored_assessment

    for day in range(1, 6):
        stored_assessment(tree.community_a, on=date(2024, 1, day))
        services.enter_manual_figure(
            personas.community_worker_a,
            region=tree.community_a,
            metric="publicity_activities_per_year",
            value=day,
            evidence=f"第{day}次记录",
            valid_from=f"2024-01-0{day}",
        )
    client = api(personas.county_operator)
    for basename in ("assessment-assessment", "assessment-manualfigure"):
        with django_assert_max_num_queries(8):
            response = client.get(url(basename))
        assert len(response.json()["results"]) == 5


def test_every_figure_names_the_stored_manual_figure_behind_it(
    api: Any, personas: Any, tree: Any, register: Any, audit_protected: None
) -> None:
    figure = services.enter_manual_figure(
        personas.community_worker_a,
        region=tree.community_a,
        metric="mobile_5g_coverage",
        value="92.5%",
        evidence="中国移动平阴分公司2024年9月5G覆盖测试报告",
        valid_from="2024-01-01",
    )
    body = (
        api(personas.community_worker_a)
        .get(evaluation_url(tree.community_a.code), {"tier": "basic", "date": DAY.isoformat()})
        .json()
    )
    assert body["figures"]["mobile_5g_coverage"]["manual_figure_id"] == figure.pk
    assert body["figures"]["households_total"]["manual_figure_id"] is None  # the platform's
    five_g = next(
        f for f in body["indicators"][1]["figures"] if f["metric"] == "mobile_5g_coverage"
    )
    assert five_g["manual_figure_id"] == figure.pk and five_g["source"] == "manual"
    # The id leads to the figure through the API.
    detail = api(personas.community_worker_a).get(
        url("assessment-manualfigure", "detail", five_g["manual_figure_id"])
    )
    assert detail.status_code == 200 and detail.json()["evidence"].startswith("中国移动")
