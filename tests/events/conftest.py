"""Fixtures for the event hub's tests.

``hub`` (needs ``personas``)::

    departments   police      平阴县公安局榆山派出所, serves the county; member: department_handler
                  urban       平阴县综合行政执法局, serves the county (default of 市容环境)
                  committee_a 锦源社区居委会, serves community A; member: community_worker_a
                  property_a  锦源物业, serves community A; member: property_staff
    categories    environment 市容环境 (hours: reported 2, accepted 2, dispatched 4,
                              signed_for 24, handled 8, reviewed 8; default urban)
                    garbage   暴露垃圾 (inherits)
                    noise     噪声扰民 (auto dispatch; rule: county → police)
                  dispute     矛盾纠纷 (mediation, working days: signed_for 10; stages 登记, 分类,
                              调解, 归档; extra fields parties (required), amount (number))
    rules         garbage in community A → committee_a

``report_event(actor, category, **overrides)`` reports one event in grid A1 with an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from linli.events import services
from linli.events.choices import CategoryKind, EventSource, LimitUnit
from linli.events.models import Department, DispatchRule, Event, EventCategory

LIMITS = {
    "reported": 2,
    "accepted": 2,
    "dispatched": 4,
    "signed_for": 24,
    "handled": 8,
    "reviewed": 8,
}


@dataclass
class Hub:
    police: Department
    urban: Department
    committee_a: Department
    property_a: Department
    environment: EventCategory
    garbage: EventCategory
    noise: EventCategory
    dispute: EventCategory


@pytest.fixture
def hub(tree: Any, personas: Any) -> Hub:
    police = Department.objects.create(region=tree.county, name="平阴县公安局榆山派出所")
    urban = Department.objects.create(region=tree.county, name="平阴县综合行政执法局")
    committee_a = Department.objects.create(
        region=tree.community_a, name="锦源社区居委会", kind="community"
    )
    property_a = Department.objects.create(
        region=tree.community_a, name="锦源物业", kind="property"
    )
    police.members.add(personas.department_handler)
    committee_a.members.add(personas.community_worker_a)
    property_a.members.add(personas.property_staff)
    environment = EventCategory.objects.create(
        code="environment", name="市容环境", limits=LIMITS, default_department=urban
    )
    garbage = EventCategory.objects.create(code="garbage", name="暴露垃圾", parent=environment)
    noise = EventCategory.objects.create(
        code="noise", name="噪声扰民", parent=environment, auto_dispatch=True
    )
    dispute = EventCategory.objects.create(
        code="dispute",
        name="矛盾纠纷",
        kind=CategoryKind.MEDIATION,
        limit_unit=LimitUnit.WORKDAYS,
        limits={"signed_for": 10},
        stages=["登记", "分类", "调解", "归档"],
        extra_fields=[
            {"key": "parties", "label": "当事人", "type": "text", "required": True},
            {"key": "amount", "label": "涉及金额", "type": "number"},
        ],
    )
    DispatchRule.objects.create(region=tree.county, category=noise, department=police)
    DispatchRule.objects.create(region=tree.community_a, category=garbage, department=committee_a)
    return Hub(police, urban, committee_a, property_a, environment, garbage, noise, dispute)


@pytest.fixture
def report_event(tree: Any) -> Any:
    def _report(actor: Any, category: EventCategory, **overrides: Any) -> Event:
        place = overrides.pop(
            "place", services.Place(region=tree.grid_a1, address="锦源小区3号楼东侧")
        )
        fields: dict[str, Any] = {
            "description": "楼下垃圾堆放三天无人清理",
            "source": EventSource.GRID,
        }
        fields.update(overrides)
        return services.report(actor, category=category, place=place, **fields)

    return _report
