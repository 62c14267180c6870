"""Figures the platform computes itself: from the register on the assessment date, and the
security controls checked live (a broken audit chain, a plaintext column or a doubled
administrator fails 信息安全 at once)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection

from linli.accounts.models import Role, RoleAssignment
from linli.assessment import security
from linli.assessment.choices import FigureSource, Verdict
from linli.assessment.figures import platform_figures
from linli.assessment.services import evaluate_community
from linli.assessment.standard import Standard
from linli.audit import protection
from linli.audit.models import AuditEntry
from linli.registry import services as registry
from linli.registry.models import House, Person

DAY = date(2024, 10, 1)


def _figures(
    standard: Standard, code: str, on: date = DAY
) -> tuple[dict[str, Any], dict[str, str]]:
    return platform_figures(standard, code, on, fresh_audit=True)


def test_households_are_the_houses_lived_in_each_counted_once(
    standard: Standard, register: Any, tree: Any, audit_protected: None
) -> None:
    House.objects.filter(pk=register.house_a101.pk).update(has_gigabit=True, has_cable_tv=True)
    House.objects.filter(pk=register.house_a201.pk).update(has_gigabit=True)  # vacant: not a home
    figures, _missing = _figures(standard, tree.community_a.code)
    assert figures["households_total"].value == 2  # 101 (two people) and 102; 201 and 601 vacant
    assert figures["households_total"].source == FigureSource.PLATFORM
    assert figures["gigabit_households"].value == 1
    assert figures["tv_households"].value == 1
    assert figures["remote_meter_households"].value == 0
    link = figures["gigabit_households"].computation.link
    assert link.startswith("/registry/houses/?") and "has_gigabit=true" in link
    assert f"region={tree.community_a.code}" in link


def test_the_gigabit_rate_shows_how_it_was_computed(
    standard: Standard, register: Any, tree: Any, audit_protected: None
) -> None:
    House.objects.filter(pk=register.house_a101.pk).update(has_gigabit=True)
    result = evaluate_community(tree.community_a, tier="basic", on=DAY, fresh_audit=True)
    gigabit = result.tier.indicators[0]
    assert gigabit.verdict == Verdict.NOT_MET
    assert gigabit.reason == "家庭千兆光纤网络覆盖率 50%（1/2） < 70%"
    entry = result.as_dict()["indicators"][0]["figures"]
    rate = next(f for f in entry if f["metric"] == "gigabit_coverage")
    assert rate["source"] == "platform"
    assert (
        rate["computation"]["numerator_value"] == 1
        and rate["computation"]["denominator_value"] == 2
    )


def test_households_follow_the_assessment_date(
    standard: Standard, register: Any, tree: Any, audit_protected: None
) -> None:
    # The tenant moved into 102 on 2023-06-01: before that only 101 was lived in.
    figures, _missing = _figures(standard, tree.community_a.code, date(2022, 1, 1))
    assert figures["households_total"].value == 1


def test_the_60_plus_share_is_derived_from_birth_dates_at_the_date(
    standard: Standard, register: Any, tree: Any, audit_protected: None
) -> None:
    figures, _missing = _figures(standard, tree.community_a.code)
    assert figures["residents_total"].value == 4
    assert figures["elderly_residents"].value == 2  # born 1958 and 1962-09-30
    # On 2022-09-29 the spouse is 59.
    earlier, _missing = _figures(standard, tree.community_a.code, date(2022, 9, 29))
    assert earlier["elderly_residents"].value == 1
    result = evaluate_community(tree.community_a, tier="basic", on=DAY, fresh_audit=True)
    elderly = result.tier.indicators[7]
    # 50 % > 30 %: two elderly services are required, and none has been reported.
    assert elderly.verdict == Verdict.EVIDENCE_MISSING
    assert elderly.checks[0].reason.startswith("社区养老服务种数未提供")
    early = evaluate_community(
        tree.community_a, tier="basic", on=date(2018, 1, 1), fresh_audit=True
    )
    # On 2018-01-01 the owner (born 1958-05-12) is 59: nobody is 60 or over, so no services
    # are required.
    assert early.tier.indicators[7].verdict == Verdict.NOT_APPLICABLE


def test_unknown_birth_dates_widen_the_60_plus_share_instead_of_hiding_it(
    standard: Standard, register: Any, tree: Any, personas: Any, audit_protected: None
) -> None:
    for name in ("无名一", "无名二"):
        registry.create_person(personas.community_worker_a, region=tree.community_a, name=name)
    figures, _missing = _figures(standard, tree.community_a.code)
    elderly = figures["elderly_residents"]
    assert (elderly.value, elderly.upper) == (2, 4)
    assert "2 人无出生日期" in elderly.notes[0]


def test_elderly_living_alone_needs_the_tag_and_the_age(
    standard: Standard,
    register: Any,
    tree: Any,
    personas: Any,
    default_tags: Any,
    audit_protected: None,
) -> None:
    worker = personas.community_worker_a
    registry.tag_person(worker, register.owner_a, default_tags["elderly_living_alone"])
    registry.tag_person(worker, register.tenant_a, default_tags["elderly_living_alone"])  # aged 29
    figures, _missing = _figures(standard, tree.community_a.code)
    assert figures["elderly_living_alone"].value == 1


def test_compounds_and_buildings_come_from_the_register(
    standard: Standard, register: Any, tree: Any, audit_protected: None
) -> None:
    figures, _missing = _figures(standard, tree.community_a.code)
    assert figures["compounds_total"].value == 1
    assert figures["closed_compounds"].value == 1
    assert figures["open_compounds"].value == 0
    assert figures["residential_buildings"].value == 1
    assert figures["residential_buildings_7f"].value == 0  # 6 floors above ground


def test_party_and_worker_information_is_checked_in_the_register(
    standard: Standard, register: Any, tree: Any, audit_protected: None
) -> None:
    figures, _missing = _figures(standard, tree.community_a.code)
    assert figures["party_worker_info_collected"].value is False  # no party member registered
    Person.objects.filter(pk=register.owner_a.pk).update(is_party_member=True)
    figures, _missing = _figures(standard, tree.community_a.code)
    assert figures["party_worker_info_collected"].value is True
    assert "党员 1 人" in figures["party_worker_info_collected"].evidence


def test_an_empty_register_gives_no_figure_rather_than_zero(
    standard: Standard, register: Any, tree: Any, audit_protected: None
) -> None:
    figures, missing = _figures(standard, tree.community_c.code)
    assert "households_total" not in figures and "closed_compounds" not in figures
    assert "登记册中没有本社区的小区" in missing["closed_compounds"]
    result = evaluate_community(tree.community_c, tier="basic", on=DAY, fresh_audit=True)
    access = result.tier.indicators[11]
    # "No closed compounds" is not concluded from an empty register: the item stays in force.
    assert access.verdict == Verdict.EVIDENCE_MISSING


# ------------------------------------------------------------------ security, live


def _security(result: Any) -> Any:
    return next(i for i in result.tier.indicators if i.indicator.name == "信息安全")


def test_the_platforms_security_controls_pass_when_in_place(
    register: Any, tree: Any, audit_protected: None
) -> None:
    result = evaluate_community(tree.community_a, tier="basic", on=DAY, fresh_audit=True)
    info = _security(result)
    assert info.verdict == Verdict.MET, info.reason
    assert "SM4-GCM 与 SM3 自检通过" in info.completion_text
    assert "系统管理员 1 人、安全管理员 1 人、审计管理员 1 人" in info.completion_text
    assert "审计链校验通过" in info.completion_text


def test_a_broken_audit_chain_fails_information_security(
    register: Any, tree: Any, audit_protected: None
) -> None:
    entry = AuditEntry.objects.order_by("seq")[1]
    with connection.cursor() as cursor:
        for table in protection.PROTECTED_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        cursor.execute("UPDATE audit_auditentry SET note = 'edited' WHERE id = %s", [entry.pk])
    protection.install(connection)
    result = evaluate_community(tree.community_a, tier="basic", on=DAY, fresh_audit=True)
    info = _security(result)
    assert info.verdict == Verdict.NOT_MET
    assert f"审计链校验未通过：首条异常记录 #{entry.seq}" in info.reason


def test_missing_append_only_triggers_fail_information_security(
    register: Any, tree: Any, audit_protected: None
) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER ALL")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditentry_no_delete")
    ok, description = security.check_audit(fresh=True)
    assert ok is False
    assert "audit_auditentry" in description


def test_personal_data_stored_in_plaintext_fails_information_security(
    register: Any, tree: Any, audit_protected: None
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registry_person SET phone = %s WHERE id = %s",
            ["13905310009", register.tenant_a.pk],
        )
    result = evaluate_community(tree.community_a, tier="basic", on=DAY, fresh_audit=True)
    info = _security(result)
    assert info.verdict == Verdict.NOT_MET
    assert "registry_person.phone" in info.reason


def test_an_administrator_holding_a_second_role_breaks_the_separation(
    register: Any, tree: Any, personas: Any, audit_protected: None
) -> None:
    # Written directly: the services refuse it, which is exactly why the check looks at the data.
    RoleAssignment.objects.create(
        user=personas.system_admin, role=Role.objects.get(code="audit_admin"), region=tree.county
    )
    ok, description = security.check_separation()
    assert ok is False
    assert "1 个账号兼任管理员角色和其他角色" in description
    result = evaluate_community(tree.community_a, tier="basic", on=DAY, fresh_audit=True)
    assert _security(result).verdict == Verdict.NOT_MET


@pytest.mark.parametrize(
    "metric", ["personal_data_encrypted", "administrators_separated", "audit_trail_tamper_evident"]
)
def test_live_checks_cannot_be_asserted_by_a_figures_file(
    register: Any,
    tree: Any,
    personas: Any,
    metric: str,
    standard: Standard,
    audit_protected: None,
) -> None:
    """A transcribed publication may state its security controls; for a registered community
    the live check decides, even with ``--override``, and the claim is reported as not used."""
    from linli.assessment.figures import Figure

    # The separation is broken behind the platform's back; the file says all is well.
    RoleAssignment.objects.create(
        user=personas.system_admin, role=Role.objects.get(code="audit_admin"), region=tree.county
    )
    given = {
        metric: Figure(metric=metric, value=True, source=FigureSource.FILE, evidence="我们说有")
    }
    result = evaluate_community(
        tree.community_a, tier="basic", on=DAY, given=given, allow_override=True, fresh_audit=True
    )
    figure = result.figures.get(metric)
    assert figure is not None and figure.source == FigureSource.PLATFORM
    assert figure.evidence != "我们说有"
    assert any("由平台实时检查" in w and "不予采用" in w for w in result.figures.warnings)
    assert _security(result).verdict == Verdict.NOT_MET
