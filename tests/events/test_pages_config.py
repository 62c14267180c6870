"""The configuration pages of the event hub: the category tree (county only), departments and
their members, dispatch rules (within the area) and holidays — each change audited, each refusal
a Chinese message with nothing stored."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.urls import reverse
from django.utils.translation import gettext

from linli.audit.models import AuditEntry
from linli.events import calendar, services
from linli.events.models import Department, DispatchRule, EventCategory, Holiday

pytestmark = pytest.mark.django_db


def body(response: Any) -> str:
    return response.content.decode()


def audited(obj: Any) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


def category_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "占道经营",
        "code": "street-vending",
        "parent": "",
        "kind": "enforcement",
        "default_department": "",
        "priority": "normal",
        "limit_unit": "hours",
        "sort_order": "0",
        "is_active": "on",
        "limit_reported": "2",
        "limit_signed_for": "48",
        "required_fields": ["photo"],
        "extra_fields": "shop|店铺名称|text|required\nlevel|情节|choice||轻微,一般,严重",
        "stages": "立案\n调查\n处罚\n结案",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- categories


def test_the_county_builds_the_category_tree(login: Any, personas: Any, hub: Any) -> None:
    client = login(personas.county_operator)
    tree_page = body(client.get(reverse("events:categories")))
    assert "暴露垃圾" in tree_page and "市容环境" in tree_page
    response = client.post(
        reverse("events:category_create"),
        category_data(parent=hub.environment.pk, default_department=hub.urban.pk),
    )
    assert response.status_code == 302
    created = EventCategory.objects.get(code="street-vending")
    assert created.parent == hub.environment and created.limits == {"reported": 2, "signed_for": 48}
    assert created.required_fields == ["photo"]
    assert created.extra_fields == [
        {"key": "shop", "label": "店铺名称", "type": "text", "required": True},
        {"key": "level", "label": "情节", "type": "choice", "required": False,
         "choices": ["轻微", "一般", "严重"]},
    ]  # fmt: skip
    assert created.stages == ["立案", "调查", "处罚", "结案"]
    assert audited(created) == ["create"]

    # The edit form shows the same values back, and a change is audited with what changed.
    form = body(client.get(reverse("events:category_edit", args=[created.pk])))
    assert "level|情节|choice||轻微,一般,严重" in form
    response = client.post(
        reverse("events:category_edit", args=[created.pk]),
        category_data(parent=hub.environment.pk, name="占道经营（流动摊贩）", limit_reported=""),
    )
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.name == "占道经营（流动摊贩）" and created.limits == {"signed_for": 48}
    assert audited(created) == ["create", "update"]
    update = AuditEntry.objects.filter(object_id=str(created.pk), action="update").get()
    assert "name" in update.changes and "limits" in update.changes


def test_bad_category_input_is_refused_in_chinese(login: Any, personas: Any, hub: Any) -> None:
    client = login(personas.county_operator)
    taken = client.post(reverse("events:category_create"), category_data(code="garbage"))
    assert taken.status_code == 400 and gettext("Another category has this code.") in body(taken)
    bad_line = client.post(
        reverse("events:category_create"), category_data(extra_fields="Bad Key|名称|text")
    )
    assert bad_line.status_code == 400 and "第 1 行" in body(bad_line)
    no_choices = client.post(
        reverse("events:category_create"), category_data(extra_fields="level|情节|choice")
    )
    assert no_choices.status_code == 400
    # A category cannot move under its own child.
    cycle = client.post(
        reverse("events:category_edit", args=[hub.environment.pk]),
        category_data(code="environment", name="市容环境", parent=hub.garbage.pk),
    )
    assert cycle.status_code == 400
    assert not EventCategory.objects.filter(code="street-vending").exists()
    hub.environment.refresh_from_db()
    assert hub.environment.parent is None


def test_only_the_county_configures_categories_and_holidays(
    login: Any, personas: Any, hub: Any
) -> None:
    for persona in (personas.subdistrict_manager, personas.community_worker_a, personas.resident):
        client = login(persona)
        assert client.get(reverse("events:categories")).status_code == 403
        assert client.post(reverse("events:category_create"), category_data()).status_code == 403
        assert client.get(reverse("events:holidays")).status_code == 403
        assert (
            client.post(
                reverse("events:holidays"), {"date": "2026-10-01", "name": "国庆节"}
            ).status_code
            == 403
        )
    assert not EventCategory.objects.filter(code="street-vending").exists()
    assert not Holiday.objects.exists()


# ---------------------------------------------------------------- departments


def test_a_subdistrict_creates_a_department_and_manages_its_members(
    login: Any, personas: Any, hub: Any, tree: Any
) -> None:
    p = personas
    client = login(p.subdistrict_manager)
    response = client.post(
        reverse("events:department_create"),
        {"region": tree.subdistrict_1.code, "name": "榆山街道城管中队", "kind": "functional"},
    )
    assert response.status_code == 302
    department = Department.objects.get(name="榆山街道城管中队")
    assert audited(department) == ["create"]
    page = body(client.get(reverse("events:department_detail", args=[department.pk])))
    # Property staff of community A may handle events: offered as a member.
    assert f'value="{p.property_staff.pk}"' in page
    # A resident cannot handle events and a county account is outside the area: not offered.
    assert f'value="{p.resident.pk}"' not in page
    assert f'value="{p.department_handler.pk}"' not in page
    response = client.post(
        reverse("events:department_member_add", args=[department.pk]), {"user": p.property_staff.pk}
    )
    assert response.status_code == 302
    assert list(department.members.all()) == [p.property_staff]
    refused = client.post(
        reverse("events:department_member_add", args=[department.pk]),
        {"user": p.department_handler.pk},
    )
    assert refused.status_code == 400
    assert gettext("Choose an account of your area that may handle events.") in body(refused)
    response = client.post(
        reverse("events:department_member_remove", args=[department.pk, p.property_staff.pk])
    )
    assert response.status_code == 302 and not department.members.exists()
    assert audited(department) == ["create", "update", "update"]
    response = client.post(
        reverse("events:department_detail", args=[department.pk]),
        {"name": "榆山街道综合执法中队", "kind": "functional", "phone": "0531-87881234"},
    )
    assert response.status_code == 302
    department.refresh_from_db()
    assert department.name == "榆山街道综合执法中队"


def test_departments_outside_the_area_are_404_and_busy_ones_stay(
    login: Any, personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    services.transition(p.community_worker_a, event, "accept")
    services.transition(p.community_worker_a, event, "dispatch", department=hub.committee_a)
    other = Department.objects.create(region=tree.community_c, name="玫瑰苑社区居委会")
    manager = login(p.subdistrict_manager)
    assert manager.get(reverse("events:department_detail", args=[other.pk])).status_code == 404
    assert (
        manager.post(
            reverse("events:department_member_add", args=[other.pk]), {"user": p.property_staff.pk}
        ).status_code
        == 404
    )
    # The committee still has an open event: it cannot be retired.
    response = manager.post(
        reverse("events:department_retire", args=[hub.committee_a.pk]), follow=True
    )
    assert "还有 1 件未办结的事件" in body(response)
    hub.committee_a.refresh_from_db()
    assert hub.committee_a.retired_at is None
    # A community worker sees departments but may not create or change them.
    worker = login(p.community_worker_a)
    assert worker.get(reverse("events:departments")).status_code == 200
    assert worker.get(reverse("events:department_create")).status_code == 403
    assert (
        worker.post(
            reverse("events:department_member_add", args=[hub.committee_a.pk]),
            {"user": p.property_staff.pk},
        ).status_code
        == 403
    )
    assert login(p.department_handler).get(reverse("events:departments")).status_code == 403


def test_an_idle_department_is_retired_and_no_longer_offered(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    client = login(personas.subdistrict_manager)
    response = client.post(reverse("events:department_retire", args=[hub.property_a.pk]))
    assert response.status_code == 302
    hub.property_a.refresh_from_db()
    assert hub.property_a.retired_at is not None and audited(hub.property_a) == ["retire"]
    event = report_event(personas.grid_worker, hub.garbage)
    assert hub.property_a not in services.departments_for(event)


# ---------------------------------------------------------------- dispatch rules


def test_dispatch_rules_are_made_changed_and_removed_within_the_area(
    login: Any, personas: Any, hub: Any, tree: Any
) -> None:
    p = personas
    client = login(p.subdistrict_manager)
    response = client.post(
        reverse("events:rule_create"),
        {"region": tree.community_b.code, "category": hub.garbage.pk, "department": hub.urban.pk},
    )
    assert response.status_code == 302
    rule = DispatchRule.objects.get(region=tree.community_b)
    assert services.dispatch_target(hub.garbage, tree.grid_b1.code) == hub.urban
    # A department inside another community does not serve community B.
    refused = client.post(
        reverse("events:rule_edit", args=[rule.pk]),
        {
            "region": tree.community_b.code,
            "category": hub.garbage.pk,
            "department": hub.property_a.pk,
        },
    )
    assert refused.status_code == 400
    assert gettext("That department does not serve this place.") in body(refused)
    # The same area and category twice is refused.
    twice = client.post(
        reverse("events:rule_create"),
        {"region": tree.community_b.code, "category": hub.garbage.pk, "department": hub.police.pk},
    )
    assert twice.status_code == 400
    response = client.post(
        reverse("events:rule_edit", args=[rule.pk]),
        {"region": tree.community_b.code, "category": hub.garbage.pk, "department": hub.police.pk},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.department == hub.police
    # Outside the area: the rule of community C does not exist for this manager.
    other = DispatchRule.objects.create(
        region=tree.community_c, category=hub.garbage, department=hub.urban
    )
    assert client.post(reverse("events:rule_delete", args=[other.pk])).status_code == 404
    assert client.post(reverse("events:rule_delete", args=[rule.pk])).status_code == 302
    assert not DispatchRule.objects.filter(pk=rule.pk).exists()
    assert DispatchRule.objects.filter(pk=other.pk).exists()
    assert (
        AuditEntry.objects.filter(object_type="events.dispatchrule", object_id=str(rule.pk)).count()
        == 3
    )
    # A community worker reads the rules of the area but does not change them.
    worker = login(p.community_worker_a)
    page = body(worker.get(reverse("events:rules")))
    assert "锦源社区居委会" in page
    assert worker.get(reverse("events:rule_create")).status_code == 403


# ---------------------------------------------------------------- holidays


def test_holidays_change_the_working_day_calendar(login: Any, personas: Any) -> None:
    client = login(personas.county_operator)
    national_day = date(2026, 10, 1)  # a Thursday
    assert calendar.is_workday(national_day)
    response = client.post(reverse("events:holidays"), {"date": "2026-10-01", "name": "国庆节"})
    assert response.status_code == 302
    assert not calendar.is_workday(national_day)
    worked_sunday = date(2026, 10, 11)
    client.post(
        reverse("events:holidays"), {"date": "2026-10-11", "is_workday": "on", "name": "调休"}
    )
    assert calendar.is_workday(worked_sunday)
    twice = client.post(reverse("events:holidays"), {"date": "2026-10-01", "name": "重复"})
    assert twice.status_code == 400
    assert gettext("This date is already in the calendar.") in body(twice)
    page = body(client.get(reverse("events:holidays")))
    assert "国庆节" in page and "调休" in page
    day = Holiday.objects.get(date=national_day)
    assert client.post(reverse("events:holiday_delete", args=[day.pk])).status_code == 302
    assert calendar.is_workday(national_day)
    assert audited(day) == ["create", "retire"]
