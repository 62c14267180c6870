"""The self-assessment's pages: a community evaluated live with every indicator's verdict,
reason in numbers and figure sources; saving an assessment and its page rendered from the stored
JSON; manual figures listed, entered (errors in Chinese, nothing written) and withdrawn; the
attachment only through the gate. Outside the scope is 404, without the permission 403."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from linli.assessment import services
from linli.assessment.models import Assessment, ManualFigure
from linli.audit.models import AuditEntry
from linli.registry.models import House

DAY = date(2024, 10, 1)
FIVE_G_EVIDENCE = "中国移动平阴分公司2024年9月5G覆盖测试报告"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _page(tree: Any, community: Any = None, **params: str) -> str:
    url = reverse("assessment:community", args=[(community or tree.community_a).code])
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{url}?{query}" if query else url


def _text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def evaluated(register: Any, tree: Any, personas: Any, audit_protected: None) -> Any:
    """Community A with one of its two lived-in houses on gigabit fibre and cable TV, and a 5G
    coverage figure entered with evidence."""
    House.objects.filter(pk=register.house_a101.pk).update(has_gigabit=True, has_cable_tv=True)
    services.enter_manual_figure(
        personas.community_worker_a,
        region=tree.community_a,
        metric="mobile_5g_coverage",
        value="92.5%",
        evidence=FIVE_G_EVIDENCE,
        valid_from="2024-01-01",
    )
    return register


# ------------------------------------------------------------------ the community page


def test_the_community_page_shows_every_indicator_with_its_verdict_reason_and_sources(
    login: Any, personas: Any, tree: Any, evaluated: Any
) -> None:
    response = login(personas.community_worker_a).get(
        _page(tree, tier="basic", date=DAY.isoformat())
    )
    assert response.status_code == 200
    text = _text(response)
    # Reasons in numbers, verdicts coloured.
    assert "家庭千兆光纤网络覆盖率 50%（1/2） < 70%" in text
    assert "广播电视覆盖率 50%（1/2） < 70%" in text
    assert "5G网络覆盖率 92.5% ≥ 80%" in text
    assert text.count('class="verdict verdict-not_met">未达标') >= 2
    assert 'class="verdict verdict-met">达标' in text
    assert "缺少证明材料" in text
    # All 22 basic indicators with their requirement text.
    assert text.count('<tr id="indicator-') == 22
    assert "家庭千兆光纤网络覆盖率达到 70%" in text
    # Sources: the platform's count links to the records; the manual figure shows its evidence.
    assert "平台记录" in text and "人工填报" in text
    assert FIVE_G_EVIDENCE in text
    assert f"/registry/houses/?region={tree.community_a.code}&has_gigabit=true" in text
    # The gap to the next tier is listed.
    assert 'id="gap"' in text and "距基础型的差距" in text
    assert "具备千兆接入能力的家庭数还需增加 1 户" in text


def test_the_default_tier_is_the_one_above_the_tier_reached_and_another_can_be_chosen(
    login: Any, personas: Any, tree: Any, evaluated: Any
) -> None:
    client = login(personas.community_worker_a)
    text = _text(client.get(_page(tree, date=DAY.isoformat())))
    assert "基础型指标" in text and text.count('<tr id="indicator-') == 22
    text = _text(client.get(_page(tree, tier="标杆型", date=DAY.isoformat())))
    assert "标杆型指标" in text and text.count('<tr id="indicator-') == 32


def test_a_worker_lands_on_their_own_community(login: Any, personas: Any, tree: Any) -> None:
    response = login(personas.community_worker_a).get(reverse("assessment:index"))
    assert response.status_code == 302
    assert response.url == reverse("assessment:community", args=[tree.community_a.code])


def test_the_picker_goes_to_the_community_asked_for_and_refuses_one_outside(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.subdistrict_manager)
    index = reverse("assessment:index")
    response = client.get(index, {"community": tree.community_b.code, "tier": "growth"})
    assert response.status_code == 302
    assert response.url == _page(tree, tree.community_b, tier="growth")
    assert client.get(index, {"community": tree.community_c.code}).status_code == 404
    # A subdistrict is not assessed itself: its communities are in the county view.
    response = client.get(index, {"community": tree.subdistrict_1.code})
    assert response.status_code == 302 and "county" in response.url
    # A county operator has no community of their own: the picker lists them.
    response = login(personas.county_operator).get(index)
    assert response.status_code == 200
    assert tree.community_c.name in response.content.decode()


def test_outside_the_scope_is_404_and_without_the_permission_403(
    login: Any, personas: Any, tree: Any
) -> None:
    assert login(personas.community_worker_a).get(_page(tree, tree.community_b)).status_code == 404
    assert (
        login(personas.community_worker_a).get(_page(tree, tree.subdistrict_1)).status_code == 404
    )
    for persona in (personas.resident, personas.property_staff, personas.nobody):
        assert login(persona).get(_page(tree)).status_code == 403
        assert login(persona).get(reverse("assessment:index")).status_code == 403


def test_a_bad_tier_or_a_future_date_is_refused_in_chinese(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    response = client.get(_page(tree, tier="高级型"))
    assert response.status_code == 400
    assert "未知" in _text(response) and "基础型、成长型、标杆型" in _text(response)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.get(_page(tree, date=tomorrow))
    assert response.status_code == 400
    assert f"自评日期 {tomorrow} 晚于今天；请选择今天或更早的日期。" in _text(response)
    assert 'id="indicator-' not in _text(response)


def test_a_record_link_is_shown_only_to_readers_of_that_list(
    login: Any, personas: Any, tree: Any, evaluated: Any
) -> None:
    from linli.accounts.models import Role

    role = Role.objects.get(code="community_worker")
    role.permissions = [p for p in role.permissions if p != "registry.view_house"]
    role.save(update_fields=["permissions"])
    text = _text(login(personas.community_worker_a).get(_page(tree, date=DAY.isoformat())))
    assert "/registry/houses/?" not in text
    assert "/registry/people/?" in text  # the population still links to the people


def test_the_community_page_keeps_its_queries_bounded(
    login: Any, personas: Any, tree: Any, evaluated: Any, django_assert_max_num_queries: Any
) -> None:
    client = login(personas.community_worker_a)
    client.get(_page(tree, date=DAY.isoformat()))  # loads the standard once
    with django_assert_max_num_queries(45):
        assert client.get(_page(tree, tier="benchmark", date=DAY.isoformat())).status_code == 200


# ------------------------------------------------------------------ saving an assessment


def test_saving_stores_every_tier_and_its_page_renders_from_the_stored_json(
    login: Any, personas: Any, tree: Any, evaluated: Any
) -> None:
    client = login(personas.community_worker_a)
    response = client.post(
        reverse("assessment:store", args=[tree.community_a.code]),
        {"date": DAY.isoformat(), "tier": "basic"},
    )
    assessment = Assessment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("assessment:stored", args=[assessment.pk]) + "?tier=basic"
    assert set(assessment.result) == {"basic", "growth", "benchmark"}
    assert assessment.on == DAY and assessment.computed_by == personas.community_worker_a
    assert AuditEntry.objects.filter(
        object_type="assessment.assessment", object_id=str(assessment.pk), action="create"
    ).exists()
    # The register changes afterwards; the stored page still shows what the verdict rested on.
    House.objects.filter(pk=evaluated.house_a102.pk).update(has_cable_tv=True)
    text = _text(client.get(response.url))
    assert "广播电视覆盖率 50%（1/2） < 70%" in text
    assert "2024-10-01" in text and 'id="stored-meta"' in text
    live = _text(client.get(_page(tree, tier="basic", date=DAY.isoformat())))
    assert "广播电视覆盖率 100%（2/2） ≥ 70%" in live


def test_saving_needs_the_permission_and_the_scope_and_writes_nothing_otherwise(
    login: Any, personas: Any, tree: Any
) -> None:
    url = reverse("assessment:store", args=[tree.community_b.code])
    assert login(personas.community_worker_a).post(url).status_code == 404
    assert login(personas.resident).post(url).status_code == 403
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = login(personas.community_worker_b).post(url, {"date": future})
    assert response.status_code == 302  # back to the page, with the refusal as a message
    assert not Assessment.objects.exists()


def test_a_stored_assessment_outside_the_scope_is_404(login: Any, personas: Any, tree: Any) -> None:
    from assessment.publication_fixtures import stored_assessment

    stored = stored_assessment(tree.community_b)
    url = reverse("assessment:stored", args=[stored.pk])
    assert login(personas.community_worker_a).get(url).status_code == 404
    assert login(personas.resident).get(url).status_code == 403
    response = login(personas.community_worker_b).get(url + "?tier=growth")
    assert response.status_code == 200
    assert "成长型指标" in _text(response)


# ------------------------------------------------------------------ manual figures


def _figure_form(**extra: Any) -> dict[str, Any]:
    values = {
        "metric": "publicity_activities_per_year",
        "value": "2",
        "evidence": "2024年3月、9月两次宣传活动（签到表、照片）",
        "valid_from": "2024-01-01",
        "valid_until": "2024-12-31",
    }
    values.update(extra)
    return values


def test_entering_a_figure_with_an_attachment_through_the_form(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("assessment:figure_create", args=[tree.community_a.code])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="override"' not in page.content.decode()  # no override permission
    attachment = SimpleUploadedFile("签到表.pdf", b"%PDF-1.4 evidence", "application/pdf")
    response = client.post(url, _figure_form(attachment=attachment))
    assert response.status_code == 302
    figure = ManualFigure.objects.get()
    assert (figure.metric, figure.number, figure.entered_by) == (
        "publicity_activities_per_year",
        2,
        personas.community_worker_a,
    )
    listing = _text(client.get(reverse("assessment:figure_list", args=[tree.community_a.code])))
    assert "每年智慧社区宣传普及活动次数" in listing and "2 次" in listing
    assert "签到表" in listing and "/media/" not in listing
    download = reverse("assessment:figure_attachment", args=[figure.pk])
    assert download in listing


def test_form_problems_are_all_shown_in_chinese_and_nothing_is_written(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("assessment:figure_create", args=[tree.community_a.code])
    response = client.post(
        url,
        _figure_form(
            metric="mobile_5g_coverage",
            value="0.85",
            evidence=" ",
            valid_from="2024-12-01",
            valid_until="2024-01-01",
        ),
    )
    assert response.status_code == 400
    text = _text(response)
    assert "像是小数比例" in text
    assert "请说明数据依据（证明材料），不能为空。" in text
    assert "失效日期不能早于生效日期。" in text
    assert not ManualFigure.objects.exists()


def test_a_figure_the_platform_computes_needs_the_override_permission(
    login: Any, personas: Any, tree: Any, register: Any
) -> None:
    url = reverse("assessment:figure_create", args=[tree.community_a.code])
    body = _figure_form(metric="households_total", value="3", evidence="社区台账", valid_until="")
    # The worker cannot override; a tampered override field is ignored, the service refuses.
    response = login(personas.community_worker_a).post(url, {**body, "override": "on"})
    assert response.status_code == 400
    assert "覆盖" in _text(response) and "社区家庭总数" in _text(response)
    assert not ManualFigure.objects.exists()
    # The county operator sees the checkbox and may override.
    client = login(personas.county_operator)
    assert 'name="override"' in client.get(url).content.decode()
    assert client.post(url, {**body, "override": "on"}).status_code == 302
    assert ManualFigure.objects.get().is_override


def test_the_metric_picker_offers_the_tiers_metrics_but_never_the_live_security_checks(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("assessment:figure_create", args=[tree.community_a.code])
    text = client.get(url + "?tier=growth").content.decode()
    assert 'value="publicity_activities_per_year"' in text
    assert 'value="personal_data_encrypted"' not in text
    assert 'value="audit_trail_tamper_evident"' not in text
    help_url = reverse("assessment:metric_help")
    fragment = _text(client.get(help_url, {"metric": "households_total"}))
    assert "社区家庭总数" in fragment and "平台根据其记录计算该数据" in fragment
    fragment = _text(client.get(help_url, {"metric": "personal_data_encrypted"}))
    assert "<p>" not in fragment


def test_entering_needs_the_permission_and_the_scope(login: Any, personas: Any, tree: Any) -> None:
    url = reverse("assessment:figure_create", args=[tree.community_b.code])
    assert login(personas.community_worker_a).post(url, _figure_form()).status_code == 404
    assert login(personas.subdistrict_manager).post(url, _figure_form()).status_code == 403
    assert not ManualFigure.objects.exists()


def test_withdrawing_asks_first_then_keeps_the_figure_as_withdrawn(
    login: Any, personas: Any, tree: Any
) -> None:
    figure = services.enter_manual_figure(
        personas.community_worker_a,
        region=tree.community_a,
        metric="publicity_activities_per_year",
        value=3,
        evidence="宣传活动记录",
        valid_from="2024-01-01",
    )
    url = reverse("assessment:figure_withdraw", args=[figure.pk])
    assert login(personas.community_worker_b).post(url).status_code == 404
    assert login(personas.subdistrict_manager).post(url).status_code == 403
    figure.refresh_from_db()
    assert figure.retired_at is None
    client = login(personas.community_worker_a)
    confirm = client.get(url)
    assert confirm.status_code == 200 and "宣传活动记录" in _text(confirm)
    response = client.post(url, follow=True)
    figure.refresh_from_db()
    assert figure.retired_at is not None and figure.retired_by == personas.community_worker_a
    assert "数据已撤回。" in _text(response)
    again = client.post(url, follow=True)
    assert "该数据已撤回。" in _text(again)
    listing = _text(client.get(reverse("assessment:figure_list", args=[tree.community_a.code])))
    assert "宣传活动记录" in listing and f'href="{url}"' not in listing


def test_the_attachment_downloads_only_through_the_gate_and_is_audited(
    login: Any, personas: Any, tree: Any
) -> None:
    from django.core.files.base import ContentFile

    figure = services.enter_manual_figure(
        personas.community_worker_a,
        region=tree.community_a,
        metric="publicity_activities_per_year",
        value=2,
        evidence="签到表",
        valid_from="2024-01-01",
        attachment=ContentFile(b"%PDF-1.4 sign-in sheet", name="签到表.pdf"),
    )
    url = reverse("assessment:figure_attachment", args=[figure.pk])
    assert login(personas.community_worker_b).get(url).status_code == 404
    assert login(personas.resident).get(url).status_code == 403
    response = login(personas.subdistrict_manager).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 sign-in sheet"
    assert "attachment;" in response["Content-Disposition"]
    assert (
        AuditEntry.objects.filter(
            action="download", object_type="assessment.manualfigure", object_id=str(figure.pk)
        ).count()
        == 1
    )


def test_the_figure_list_is_404_outside_the_scope(login: Any, personas: Any, tree: Any) -> None:
    url = reverse("assessment:figure_list", args=[tree.community_b.code])
    assert login(personas.community_worker_a).get(url).status_code == 404
    assert login(personas.property_staff).get(url).status_code == 403


# ------------------------------------------------------------------ navigation


def test_the_main_navigation_offers_the_self_assessment_to_those_who_may_view_it(
    login: Any, personas: Any
) -> None:
    link = f'href="{reverse("assessment:index")}"'
    assert (
        link in login(personas.community_worker_a).get(reverse("core:workbench")).content.decode()
    )
    assert (
        link not in login(personas.property_staff).get(reverse("core:workbench")).content.decode()
    )


def test_an_attachment_declared_too_large_is_refused_before_the_body_is_read(
    login: Any, personas: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    url = reverse("assessment:figure_create", args=[tree.community_a.code])
    response = client.post(url, _figure_form(), CONTENT_LENGTH=str(30 * 1024 * 1024))
    assert response.status_code == 413
    assert "附件超过 20 MB。" in _text(response)
    assert not ManualFigure.objects.exists()
