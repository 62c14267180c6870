"""Manual figures with evidence: who may enter, withdraw and override them, what is refused,
what the audit trail records, and how stored figures take part in an evaluation."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.files.base import ContentFile

from linli.accounts.permissions import BUILTIN_ROLES
from linli.assessment import services
from linli.assessment.choices import FigureSource, Verdict
from linli.assessment.figures import BadFigures
from linli.assessment.models import ManualFigure
from linli.audit.models import AuditEntry
from linli.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from linli.registry.models import House

DAY = date(2024, 10, 1)


def _enter(actor: Any, region: Any, **extra: Any) -> ManualFigure:
    values: dict[str, Any] = {
        "metric": "publicity_activities_per_year",
        "value": 2,
        "evidence": "2024年3月、9月两次智慧社区宣传活动（签到表、照片）",
        "valid_from": "2024-01-01",
        "valid_until": "2024-12-31",
    }
    values.update(extra)
    return services.enter_manual_figure(actor, region=region, **values)


def test_a_community_worker_enters_a_figure_with_evidence_and_it_is_audited(
    personas: Any, tree: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    worker = personas.community_worker_a
    figure = _enter(
        worker, tree.community_a, attachment=ContentFile(b"%PDF-1.4", name="签到表.pdf")
    )
    figure.refresh_from_db()
    assert (figure.metric, figure.number, figure.unit, figure.is_override) == (
        "publicity_activities_per_year",
        2,
        "count",
        False,
    )
    assert figure.entered_by == worker and figure.attachment.name.endswith(".pdf")
    entry = AuditEntry.objects.filter(
        object_type="assessment.manualfigure", object_id=str(figure.pk)
    ).get()
    assert entry.action == "create" and entry.actor == worker
    assert entry.region_code == tree.community_a.code
    assert entry.changes["value"] == "2 次"


def test_every_problem_of_a_figure_is_listed_and_nothing_is_written(
    personas: Any, tree: Any
) -> None:
    with pytest.raises(BadFigures) as caught:
        services.enter_manual_figure(
            personas.community_worker_a,
            region=tree.community_a,
            metric="resident_satisfaction",
            value=0.85,
            evidence="  ",
            valid_from="2024-12-01",
            valid_until="2024-01-01",
        )
    problems = caught.value.problems
    assert len(problems) == 3
    assert "像是小数比例" in problems[0]
    assert problems[1] == "请说明数据依据（证明材料），不能为空。"
    assert problems[2] == "失效日期不能早于生效日期。"
    assert not ManualFigure.objects.exists()


def test_an_unknown_metric_is_refused_with_a_suggestion(personas: Any, tree: Any) -> None:
    with pytest.raises(BadFigures, match="是否应为“resident_satisfaction”"):
        _enter(personas.community_worker_a, tree.community_a, metric="resident_satisfation")


def test_outside_the_scope_the_community_does_not_exist(personas: Any, tree: Any) -> None:
    with pytest.raises(NotFoundError):
        _enter(personas.community_worker_b, tree.community_a)
    with pytest.raises(PermissionDeniedError):
        _enter(personas.grid_worker, tree.community_a)
    with pytest.raises(ServiceError, match="不是社区"):
        _enter(personas.county_operator, tree.subdistrict_1)
    assert not ManualFigure.objects.exists()


def test_a_figure_the_platform_computes_needs_an_override(
    personas: Any, tree: Any, register: Any
) -> None:
    worker, operator = personas.community_worker_a, personas.county_operator
    with pytest.raises(ServiceError, match="平台根据记录计算社区家庭总数（2024-01-01 为 2 户）"):
        _enter(worker, tree.community_a, metric="households_total", value=350, evidence="社区台账")
    with pytest.raises(PermissionDeniedError):
        _enter(
            worker,
            tree.community_a,
            metric="households_total",
            value=350,
            evidence="社区台账",
            override=True,
        )
    # More households than people registered contradicts the register: refused, nothing written.
    with pytest.raises(BadFigures, match="社区常住人口 4 人 小于社区家庭总数 350 户"):
        _enter(
            operator,
            tree.community_a,
            metric="households_total",
            value=350,
            evidence="入户普查",
            override=True,
        )
    figure = _enter(
        operator,
        tree.community_a,
        metric="households_total",
        value=3,
        evidence="2024年入户普查",
        override=True,
    )
    assert figure.is_override is True
    assert ManualFigure.objects.count() == 1
    result = services.assess_community(operator, tree.community_a, tier="basic", on=DAY)
    households = result.figures.get("households_total")
    assert households is not None and households.value == 3
    assert households.source == FigureSource.OVERRIDE
    assert households.notes == ["覆盖平台数据 2 户。"]


def test_the_live_security_checks_cannot_be_entered_at_all(personas: Any, tree: Any) -> None:
    with pytest.raises(ServiceError, match="由平台实时检查"):
        _enter(
            personas.county_operator,
            tree.community_a,
            metric="audit_trail_tamper_evident",
            value=True,
            evidence="我们的审计没问题",
            override=True,
        )


def test_only_a_figures_validity_period_counts(personas: Any, tree: Any, register: Any) -> None:
    worker = personas.community_worker_a
    _enter(worker, tree.community_a, value=1, valid_from="2023-01-01", valid_until="2023-12-31")
    _enter(worker, tree.community_a, value=3, valid_from="2024-01-01", valid_until="2024-12-31")
    in_2024 = services.assess_community(worker, tree.community_a, tier="growth", on=DAY)
    publicity = in_2024.tier.indicators[24]
    assert (
        publicity.verdict == Verdict.MET
        and publicity.reason == "每年智慧社区宣传普及活动次数 3 次 ≥ 2 次"
    )
    in_2023 = services.assess_community(
        worker, tree.community_a, tier="growth", on=date(2023, 6, 1)
    )
    assert in_2023.tier.indicators[24].verdict == Verdict.NOT_MET
    in_2025 = services.assess_community(
        worker, tree.community_a, tier="growth", on=date(2025, 2, 1)
    )
    assert in_2025.tier.indicators[24].verdict == Verdict.EVIDENCE_MISSING


def test_the_latest_figure_counts_and_a_withdrawn_one_no_longer(
    personas: Any, tree: Any, register: Any
) -> None:
    worker = personas.community_worker_a
    _enter(worker, tree.community_a, value=1)
    latest = _enter(worker, tree.community_a, value=4)
    result = services.assess_community(worker, tree.community_a, tier="basic", on=DAY)
    figure = result.figures.get("publicity_activities_per_year")
    assert figure is not None and figure.value == 4 and figure.source == FigureSource.MANUAL
    assert figure.entered_by == str(worker) and "签到表" in figure.evidence
    services.retire_manual_figure(worker, latest)
    latest.refresh_from_db()
    assert latest.retired_by == worker and latest.retired_at is not None
    assert AuditEntry.objects.filter(action="retire", object_id=str(latest.pk)).exists()
    result = services.assess_community(worker, tree.community_a, tier="basic", on=DAY)
    assert result.figures.get("publicity_activities_per_year").value == 1  # type: ignore[union-attr]
    with pytest.raises(ServiceError, match="已撤回"):
        services.retire_manual_figure(worker, latest)


def test_withdrawing_needs_the_permission_and_the_scope(personas: Any, tree: Any) -> None:
    figure = _enter(personas.community_worker_a, tree.community_a)
    with pytest.raises(NotFoundError):
        services.retire_manual_figure(personas.community_worker_b, figure)
    with pytest.raises(PermissionDeniedError):
        services.retire_manual_figure(personas.subdistrict_manager, figure)
    override = _enter(
        personas.county_operator, tree.community_a, metric="elderly_share", value=35, override=True
    )
    with pytest.raises(PermissionDeniedError):
        services.retire_manual_figure(personas.community_worker_a, override)
    figure.refresh_from_db()
    assert figure.retired_at is None


def test_assessing_needs_the_permission_and_the_community_in_scope(
    personas: Any, tree: Any, register: Any
) -> None:
    assert services.assess_community(
        personas.subdistrict_manager, tree.community_a, tier="basic", on=DAY
    )
    with pytest.raises(NotFoundError):
        services.assess_community(
            personas.community_worker_b, tree.community_a, tier="basic", on=DAY
        )
    with pytest.raises(NotFoundError):
        services.assess_community(
            personas.subdistrict_manager, tree.community_c, tier="basic", on=DAY
        )
    with pytest.raises(PermissionDeniedError):
        services.assess_community(personas.property_staff, tree.community_a, tier="basic", on=DAY)
    with pytest.raises(ServiceError, match="未知类型"):
        services.assess_community(personas.county_operator, tree.community_a, tier="金牌型", on=DAY)


@pytest.mark.parametrize(
    ("persona", "sees_a", "sees_c"),
    [
        ("county_operator", True, True),
        ("subdistrict_manager", True, False),
        ("community_worker_a", True, False),
        ("community_worker_b", False, False),
        ("grid_worker", False, False),
        ("property_staff", False, False),
        ("resident", False, False),
        ("system_admin", False, False),
        ("audit_admin", False, False),
    ],
)
def test_manual_figures_go_through_the_gate(
    personas: Any, tree: Any, persona: str, sees_a: bool, sees_c: bool
) -> None:
    in_a = _enter(personas.county_operator, tree.community_a)
    in_c = _enter(personas.county_operator, tree.community_c)
    visible = set(
        ManualFigure.objects.visible_to(getattr(personas, persona)).values_list("pk", flat=True)
    )
    assert (in_a.pk in visible, in_c.pk in visible) == (sees_a, sees_c)


def test_built_in_roles_get_the_assessment_permissions_of_their_work() -> None:
    def perms(role: str) -> set[str]:
        return {p for p in BUILTIN_ROLES[role]["permissions"] if p.startswith("assessment.")}  # type: ignore[attr-defined]

    read = {
        "assessment.view_assessment",
        "assessment.view_manualfigure",
        "assessment.view_publication",
    }
    evidence = read | {
        "assessment.add_manualfigure",
        "assessment.retire_manualfigure",
        "assessment.add_assessment",
        "assessment.add_publication",
        "assessment.change_publication",
    }
    organise = {
        "assessment.add_assessment",
        "assessment.export_assessment",
        "assessment.issue_publication",
    }
    # The county operator organises the acceptance and alone may override platform figures.
    assert perms("county_operator") == evidence | organise | {"assessment.override_manualfigure"}
    assert perms("subdistrict_manager") == read | organise
    # The community worker gathers evidence and drafts, but neither issues nor overrides.
    assert perms("community_worker") == evidence
    for role in (
        "grid_worker",
        "property_staff",
        "resident",
        "system_admin",
        "security_admin",
        "audit_admin",
    ):
        assert perms(role) == set(), role


def test_a_manual_figure_entered_before_the_platform_had_records_gives_way(
    personas: Any, tree: Any, register: Any
) -> None:
    # Community C has no houses yet: the worker's figure is what there is.
    operator = personas.county_operator
    _enter(
        operator,
        tree.community_c,
        metric="gigabit_households",
        value=10,
        evidence="运营商证明",
        valid_from="2024-01-01",
    )
    figures = services.assess_community(operator, tree.community_c, tier="basic", on=DAY).figures
    assert figures.get("gigabit_households").source == FigureSource.MANUAL  # type: ignore[union-attr]
    # Community A's register has houses: there the platform's figure is used, the manual one noted.
    House.objects.filter(pk=register.house_a101.pk).update(has_gigabit=True)
    _row = ManualFigure.objects.create(
        region=tree.community_a,
        metric="gigabit_households",
        unit="count",
        number=2,
        evidence="旧台账",
        valid_from=date(2024, 1, 1),
    )
    figures = services.assess_community(operator, tree.community_a, tier="basic", on=DAY).figures
    gigabit = figures.get("gigabit_households")
    assert gigabit is not None and gigabit.value == 1 and gigabit.source == FigureSource.PLATFORM
    assert "以平台数据为准" in gigabit.notes[0]
