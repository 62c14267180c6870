"""The shipped category tree: a valid file, loaded idempotently (only missing codes are
created, nothing a county changed is overwritten), and usable by the services as it is."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from linli.audit.models import AuditEntry
from linli.core.errors import ServiceError
from linli.events import calendar
from linli.events.choices import TIMED_STATUSES, CategoryKind, EventSource, LimitUnit
from linli.events.defaults import (
    DefaultCategoriesError,
    load_default_categories,
    read_default_categories,
)
from linli.events.models import EventCategory

TOP_LEVELS = [
    "cityscape",
    "facilities",
    "safety",
    "public-order",
    "disputes",
    "enforcement",
    "livelihood",
    "property",
    "alarms",
    "hotline",
    "other",
]


@pytest.fixture
def empty_tree(db: Any) -> None:
    """No categories: as before the data migration ran."""
    EventCategory.objects.filter(parent__isnull=False).delete()
    EventCategory.objects.all().delete()


def test_the_shipped_file_is_a_valid_tree() -> None:
    specs = read_default_categories()
    codes = [s.code for s in specs]
    assert len(codes) == len(set(codes))
    assert [s.code for s in specs if s.parent is None] == TOP_LEVELS
    by_code = {s.code: s for s in specs}
    for spec in specs:
        if spec.parent is not None:
            assert codes.index(spec.parent) < codes.index(spec.code)  # parents come first
            # What a child takes from its parent is resolved in the file already.
            assert spec.kind == by_code[spec.parent].kind
    # The device-alarm kinds of the IoT issue are all there, and dispatched automatically.
    for code in (
        "alarms-smoke",
        "alarms-gas",
        "alarms-manhole",
        "alarms-elevator-ebike",
        "alarms-high-throw",
        "alarms-sos",
        "alarms-water-level",
    ):
        assert by_code[code].parent == "alarms" and by_code[code].auto_dispatch
    assert by_code["safety-ebike-indoor"].priority == "high"
    assert by_code["safety-gas"].priority == "urgent"


def test_every_leaf_has_time_limits_for_every_state(empty_tree: None) -> None:
    load_default_categories(record=False)
    leaves = [c for c in EventCategory.objects.all() if not c.children.exists()]
    assert len(leaves) > 70
    for leaf in leaves:
        unit, limits = leaf.effective_limits()
        assert set(limits) == set(TIMED_STATUSES), leaf.code
        assert unit in LimitUnit.values


def test_loading_creates_the_tree_once_and_records_it(empty_tree: None) -> None:
    before = AuditEntry.objects.count()

    created = load_default_categories()

    assert created == len(read_default_categories()) == EventCategory.objects.count()
    assert AuditEntry.objects.count() == before + created
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None and entry.note == "default event categories"
    assert load_default_categories() == 0
    assert EventCategory.objects.count() == created
    assert AuditEntry.objects.count() == before + created
    gas = EventCategory.objects.get(code="safety-gas")
    assert gas.parent is not None and gas.parent.code == "safety"
    assert gas.name == "燃气安全隐患"


def test_a_countys_changes_are_never_overwritten_and_missing_codes_come_back(
    empty_tree: None,
) -> None:
    load_default_categories(record=False)
    litter = EventCategory.objects.get(code="cityscape-litter")
    litter.name = "垃圾乱堆"
    litter.limits = {"signed_for": 12}
    litter.is_active = False
    litter.save(update_fields=["name", "limits", "is_active"])
    EventCategory.objects.filter(code="cityscape-livestock").delete()

    assert load_default_categories(record=False) == 1

    litter.refresh_from_db()
    assert (litter.name, litter.limits, litter.is_active) == ("垃圾乱堆", {"signed_for": 12}, False)
    assert EventCategory.objects.get(code="cityscape-livestock").parent.code == "cityscape"  # type: ignore[union-attr]


def test_the_data_migration_loads_the_tree(empty_tree: None) -> None:
    migration = importlib.import_module("linli.events.migrations.0003_default_categories")
    migration.load(apps, None)
    assert EventCategory.objects.filter(parent__isnull=True).count() == len(TOP_LEVELS)
    assert EventCategory.objects.count() == len(read_default_categories())


def test_mediation_and_enforcement_carry_their_fields_and_stages(empty_tree: None) -> None:
    load_default_categories(record=False)
    dispute = EventCategory.objects.get(code="disputes-general")
    assert dispute.effective("kind") == CategoryKind.MEDIATION
    assert dispute.effective("stages") == ["登记", "分类", "调解", "归档"]
    keys = [f["key"] for f in dispute.effective("extra_fields")]
    assert keys[:4] == ["parties", "dispute_type", "people_involved", "amount"]
    assert "mediation_result" in keys
    assert dispute.effective_limits()[0] == LimitUnit.WORKDAYS
    case = EventCategory.objects.get(code="enforcement-building")
    assert case.effective("kind") == CategoryKind.ENFORCEMENT
    assert case.effective("stages") == ["立案", "调查取证", "处罚决定", "执行", "结案"]
    assert {"party_name", "violation", "penalty_kind", "penalty_amount"} <= {
        f["key"] for f in case.effective("extra_fields")
    }


def test_a_mediation_case_is_reported_in_a_default_category(
    tree: Any, personas: Any, report_event: Any
) -> None:
    load_default_categories(record=False)
    dispute = EventCategory.objects.get(code="disputes-general")
    with pytest.raises(ServiceError) as refused:
        report_event(
            personas.grid_worker,
            dispute,
            extra={"parties": "王某、赵某", "dispute_type": "宠物纠纷"},
        )
    assert "纠纷类型" in str(refused.value)

    event = report_event(
        personas.grid_worker,
        dispute,
        extra={"parties": "王某、赵某", "dispute_type": "邻里纠纷", "amount": "3000"},
    )

    assert event.stage == "登记"
    assert event.extra == {"parties": "王某、赵某", "dispute_type": "邻里纠纷", "amount": 3000.0}
    # One working day to accept (reported on a working day or not, the clock is in workdays).
    assert event.state_deadline == calendar.add_limit(event.status_changed_at, 1, "workdays")


def test_a_cityscape_report_needs_a_photo_and_an_alarm_does_not(
    tree: Any, personas: Any, report_event: Any
) -> None:
    load_default_categories(record=False)
    with pytest.raises(ServiceError) as refused:
        report_event(personas.grid_worker, EventCategory.objects.get(code="cityscape-litter"))
    assert refused.value.code == "photo_required"
    smoke = report_event(
        personas.grid_worker,
        EventCategory.objects.get(code="alarms-smoke"),
        source=EventSource.DEVICE,
        description="3号楼2单元烟感告警",
    )
    assert smoke.priority == "urgent"
    # 15 minutes to accept an alarm.
    assert (smoke.state_deadline - smoke.status_changed_at).total_seconds() == 15 * 60  # type: ignore[operator]


def test_a_top_level_category_is_not_reportable(
    tree: Any, personas: Any, report_event: Any
) -> None:
    load_default_categories(record=False)
    with pytest.raises(ServiceError) as refused:
        report_event(personas.grid_worker, EventCategory.objects.get(code="public-order"))
    assert refused.value.code == "category_invalid"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("categories: {}", "list under 'categories'"),
        ("categories: [{code: a, name: 甲, colour: red}]", "unknown keys colour"),
        ("categories: [{code: A_b, name: 甲}]", "lower-case"),
        ("categories: [{code: a, name: 甲}, {code: a, name: 乙}]", "used twice"),
        ("categories: [{code: a, name: 甲, limits: {closed: 2}}]", "not a state"),
        ("categories: [{code: a, name: 甲, limits: {reported: 0}}]", "positive number"),
        ("categories: [{code: a, name: 甲, priority: top}]", "priority"),
        ("categories: [{code: a, name: 甲, required_fields: [video]}]", "required_fields"),
        (
            "categories: [{code: a, name: 甲, extra_fields: [{key: x, label: X, type: choice}]}]",
            "distinct choices",
        ),
        (
            "categories: [{code: a, name: 甲, extra_fields: [{key: x, label: X, type: colour}]}]",
            "unknown type",
        ),
        ("categories: [{code: a, name: 甲, stages: [一, 一]}]", "distinct"),
        ("categories: [", "cannot read"),
    ],
)
def test_an_invalid_file_is_refused_before_anything_is_written(
    tmp_path: Path, empty_tree: None, text: str, problem: str
) -> None:
    path = tmp_path / "categories.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefaultCategoriesError) as refused:
        load_default_categories(path=path)
    assert problem in str(refused.value)
    assert EventCategory.objects.count() == 0


def test_a_child_takes_kind_priority_and_unit_from_its_parent(
    tmp_path: Path, empty_tree: None
) -> None:
    path = tmp_path / "categories.yaml"
    path.write_text(
        """
categories:
  - code: top
    name: 上级
    kind: mediation
    priority: high
    auto_dispatch: true
    limit_unit: workdays
    limits: {reported: 1}
    children:
      - {code: top-a, name: 甲, limits: {reported: 2}}
      - {code: top-b, name: 乙, priority: low, auto_dispatch: false}
""",
        encoding="utf-8",
    )
    assert load_default_categories(path=path, record=False) == 3
    a = EventCategory.objects.get(code="top-a")
    b = EventCategory.objects.get(code="top-b")
    assert (a.kind, a.priority, a.auto_dispatch, a.limit_unit) == (
        "mediation",
        "high",
        True,
        "workdays",
    )
    assert a.effective_limits() == ("workdays", {"reported": 2.0})
    assert (b.priority, b.auto_dispatch, b.limits) == ("low", False, {})
    assert b.effective_limits() == ("workdays", {"reported": 1.0})
    assert (a.sort_order, b.sort_order) == (10, 20)
