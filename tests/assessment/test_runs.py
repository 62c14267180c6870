"""Storing assessments at county scale: the evaluation reads outside any transaction and only
the insert and its audit entry are written in one (SQLite's single write lock is not held while
a community is evaluated); the encryption scan of the live security checks runs once per run
over many communities, and afresh for every single evaluation."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from transactional import transactional_db_with_audit  # noqa: F401  (fixture)

from linli.assessment import county, security, services
from linli.assessment.choices import Verdict
from linli.assessment.models import Assessment
from linli.audit import services as audit

DAY = date(2024, 10, 1)


def test_storing_evaluates_outside_a_transaction_and_writes_in_a_short_one(
    transactional_db_with_audit: None,  # noqa: F811
    tree: Any,
    personas: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_transaction: dict[str, list[bool]] = {"evaluate": [], "scan": [], "write": []}
    evaluate, scan, write = (
        services._community_figures,
        security.check_encryption,
        audit.record,
    )

    def spy(name: str, function: Any) -> Any:
        def spied(*args: Any, **kwargs: Any) -> Any:
            in_transaction[name].append(connection.in_atomic_block)
            return function(*args, **kwargs)

        return spied

    monkeypatch.setattr(services, "_community_figures", spy("evaluate", evaluate))
    monkeypatch.setattr(security, "check_encryption", spy("scan", scan))
    monkeypatch.setattr(services.audit, "record", spy("write", write))
    assessment = services.store_assessment(personas.county_operator, tree.community_a, on=DAY)
    assert in_transaction == {"evaluate": [False], "scan": [False], "write": [True]}
    assert Assessment.objects.get().pk == assessment.pk


def test_a_community_retired_while_it_was_evaluated_is_not_stored(
    tree: Any, personas: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluate = services._community_figures

    def retired_meanwhile(*args: Any, **kwargs: Any) -> Any:
        figures = evaluate(*args, **kwargs)
        type(tree.community_a).objects.filter(pk=tree.community_a.pk).update(
            retired_at="2024-10-01T08:00:00+08:00"
        )
        return figures

    monkeypatch.setattr(services, "_community_figures", retired_meanwhile)
    with pytest.raises(services.ServiceError, match="该区划已撤销"):
        services.store_assessment(personas.county_operator, tree.community_a, on=DAY)
    assert not Assessment.objects.exists()


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the encryption scans (each call of ``check_encryption``)."""
    calls: list[int] = []
    scan = security.check_encryption

    def counted() -> tuple[bool, str]:
        calls.append(1)
        return scan()

    monkeypatch.setattr(security, "check_encryption", counted)
    return calls


def test_assessing_every_community_scans_the_encryption_once(
    personas: Any,
    tree: Any,
    audit_protected: None,
    scans: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        county.start_run(personas.county_operator, on=DAY)
    assert Assessment.objects.count() == 3
    assert len(scans) == 1
    # Every stored result still carries the check, saying it was scanned once for the run.
    for assessment in Assessment.objects.all():
        figure = assessment.result["basic"]["figures"]["personal_data_encrypted"]
        assert (
            figure["value"] is True
            and "本次批量自评只扫描一次" in figure["computation"]["description"]
        )


def test_a_single_evaluation_always_scans_afresh(
    personas: Any, tree: Any, audit_protected: None, scans: list[int]
) -> None:
    first = services.assess_community(personas.county_operator, tree.community_a, tier="basic")
    # Personal data written in plaintext behind the platform's back: the next page view sees it.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_user SET phone = %s WHERE id = %s",
            ["13800000000", personas.resident.pk],
        )
    second = services.assess_community(personas.county_operator, tree.community_a, tier="basic")
    assert len(scans) == 2
    security_ok = [r.tier.indicators[20].checks[0].verdict for r in (first, second)]
    assert security_ok == [Verdict.MET, Verdict.NOT_MET]
    assert "accounts_user.phone" in second.tier.indicators[20].checks[0].reason


def test_within_a_run_the_scan_is_reused_only_for_a_short_while(
    personas: Any,
    tree: Any,
    audit_protected: None,
    scans: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: clock[0])
    with security.one_scan_per_run():
        for community in (tree.community_a, tree.community_b):
            services.evaluate_community(community, tier="basic", on=DAY)
        assert len(scans) == 1
        with security.one_scan_per_run():  # a nested block shares the outer block's scan
            services.evaluate_community(tree.community_c, tier="basic", on=DAY)
        assert len(scans) == 1
        clock[0] += security.SCAN_REUSE_SECONDS
        services.evaluate_community(tree.community_a, tier="basic", on=DAY)
        assert len(scans) == 2
    services.evaluate_community(tree.community_a, tier="basic", on=DAY)
    assert len(scans) == 3
