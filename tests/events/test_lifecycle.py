"""The lifecycle through the services: every transition's rule about who, what it needs, the
clock per state, returns and their limit, extensions, rating and reopening, merging, the sweep."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ServiceError
from linli.events import calendar, services
from linli.events.choices import EventSource, EventStatus, StepAction
from linli.events.models import Event, EventStep, Holiday
from linli.notifications.models import Notification

pytestmark = pytest.mark.django_db


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def actions(event: Event) -> list[str]:
    return list(event.steps.values_list("action", flat=True))


def inbox(user: Any) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("title", flat=True))


def test_a_grid_report_goes_the_whole_way_and_the_timeline_keeps_every_step(
    personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    photo = SimpleUploadedFile("scene.png", png_bytes(), content_type="image/png")
    event = report_event(p.grid_worker, hub.garbage, photos=[photo])
    assert event.status == EventStatus.REPORTED
    assert event.attachments.get().content_type == "image/png"
    # 2 hours to accept, then 2 + 4 + 24 + 8 + 8 more: the expected completion sums them.
    assert event.state_deadline == event.status_changed_at + timedelta(hours=2)
    assert event.expected_at == event.created_at + timedelta(hours=48)
    assert any("New event" in t or event.number in t for t in inbox(p.community_worker_a))

    event = services.transition(p.community_worker_a, event, "accept", version=event.version)
    event = services.transition(
        p.community_worker_a, event, "dispatch", version=event.version, department=hub.police
    )
    assert event.department == hub.police and event.status == EventStatus.DISPATCHED
    assert inbox(p.department_handler)
    event = services.transition(p.department_handler, event, "sign", version=event.version)
    assert event.handler == p.department_handler and event.signed_at is not None
    assert event.state_deadline == event.signed_at + timedelta(hours=24)
    event = services.transition(
        p.department_handler, event, "handle", version=event.version, note="已清运"
    )
    event = services.transition(p.community_worker_a, event, "review", version=event.version)
    event = services.transition(p.community_worker_a, event, "close", version=event.version)
    assert event.status == EventStatus.CLOSED and event.closed_at is not None
    event = services.transition(p.grid_worker, event, "rate", rating="satisfied", note="很快")
    assert event.rating == "satisfied"
    assert actions(event) == [
        "report", "accept", "dispatch", "sign", "handle", "review", "close", "rate",
    ]  # fmt: skip
    sign = event.steps.get(action="sign")
    assert sign.allowed_seconds == 4 * 3600 and sign.elapsed_seconds is not None
    # The reporter's version leaves out the internal steps.
    public = list(services.timeline(event, public_only=True).values_list("action", flat=True))
    assert "review" not in public and public[0] == "report" and "close" in public
    # Every change is in the audit trail.
    assert (
        AuditEntry.objects.filter(object_type="events.event", object_id=str(event.pk)).count() == 8
    )


def test_two_dispatchers_at_once_one_succeeds_and_the_other_is_told(
    personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    event = services.transition(p.community_worker_a, event, "accept")
    seen = event.version
    services.transition(
        p.community_worker_a, event, "dispatch", version=seen, department=hub.police
    )
    with pytest.raises(ConflictError, match=r"刚刚处理|Someone else"):
        services.transition(
            p.subdistrict_manager, event, "dispatch", version=seen, department=hub.urban
        )
    event.refresh_from_db()
    assert event.department == hub.police
    assert event.steps.filter(action="dispatch").count() == 1


def test_only_the_department_signs_and_handles(personas: Any, hub: Any, report_event: Any) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    services.transition(p.community_worker_a, event, "accept")
    services.transition(p.community_worker_a, event, "dispatch", department=hub.police)
    with pytest.raises(PermissionDeniedError):  # sees it, but is not in the department
        services.transition(p.community_worker_a, event, "sign")
    with pytest.raises(NotFoundError):  # another department does not even see it
        services.transition(p.property_staff, event, "sign")
    with pytest.raises(NotFoundError):
        services.transition(p.community_worker_b, event, "urge", note="x")  # other community
    services.transition(p.department_handler, event, "sign")


def test_returns_are_limited_then_the_level_above_rules(
    personas: Any, hub: Any, report_event: Any, settings: Any
) -> None:
    settings.LINLI_EVENT_RETURN_LIMIT = 2
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    services.transition(p.community_worker_a, event, "accept")
    for _ in range(2):
        services.transition(p.community_worker_a, event, "dispatch", department=hub.police)
        with pytest.raises(ServiceError, match=r"reason|原因"):
            services.transition(p.department_handler, event, "return")
        event = services.transition(p.department_handler, event, "return", note="非本单位职责")
    assert event.status == EventStatus.ACCEPTED
    assert event.needs_ruling and event.escalation_level == 1 and event.return_count == 2
    with pytest.raises(PermissionDeniedError):
        services.transition(p.community_worker_a, event, "dispatch", department=hub.police)
    event = services.transition(p.subdistrict_manager, event, "dispatch", department=hub.police)
    assert not event.needs_ruling
    with pytest.raises(ServiceError) as refused:
        services.transition(p.department_handler, event, "return", note="还是不归我们")
    assert refused.value.code == "return_limit"
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHED and event.return_count == 2


def test_extensions_are_asked_before_the_deadline_and_granted_by_the_level_above(
    personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    services.transition(p.community_worker_a, event, "accept")
    services.transition(p.community_worker_a, event, "dispatch", department=hub.police)
    event = services.transition(p.department_handler, event, "sign")
    old_deadline = event.state_deadline
    with pytest.raises(ServiceError, match=r"later|晚于"):
        services.transition(
            p.department_handler, event, "request_extension", until=old_deadline, note="需采购"
        )
    later = old_deadline + timedelta(days=2)
    event = services.transition(
        p.department_handler, event, "request_extension", until=later, note="需采购配件"
    )
    with pytest.raises(PermissionDeniedError):  # the community is not the level above
        services.transition(p.community_worker_a, event, "approve_extension")
    event = services.transition(p.subdistrict_manager, event, "approve_extension")
    assert event.state_deadline == later and event.extension_count == 1
    # Past the deadline no new request is taken.
    Event.objects.filter(pk=event.pk).update(state_deadline=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ServiceError) as late:
        services.transition(
            p.department_handler,
            event,
            "request_extension",
            until=later + timedelta(days=1),
            note="x",
        )
    assert late.value.code == "extension_late"


def test_unsatisfied_reopens_once_then_the_level_above_decides(
    personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    event = report_event(p.resident, hub.garbage, source=EventSource.RESIDENT)

    def run_to_closed(event: Event) -> Event:
        if event.status == EventStatus.REPORTED:
            services.transition(p.community_worker_a, event, "accept")
            services.transition(p.community_worker_a, event, "dispatch", department=hub.committee_a)
        services.transition(p.community_worker_a, event, "sign")
        services.transition(p.community_worker_a, event, "handle", note="已处理")
        services.transition(p.community_worker_a, event, "review")
        return services.transition(p.community_worker_a, event, "close")

    event = run_to_closed(event)
    event = services.transition(p.resident, event, "rate", rating="unsatisfied", note="没清干净")
    assert event.status == EventStatus.DISPATCHED and event.reopen_count == 1
    assert event.department == hub.committee_a
    event = run_to_closed(event)
    event = services.transition(p.resident, event, "rate", rating="unsatisfied", note="还是没清")
    assert event.status == EventStatus.CLOSED and event.needs_ruling
    assert inbox(p.subdistrict_manager)
    with pytest.raises(PermissionDeniedError):
        services.transition(p.community_worker_a, event, "confirm_close", note="x")
    event = services.transition(p.subdistrict_manager, event, "confirm_close", note="经核实已办结")
    assert not event.needs_ruling
    # The resident cannot rate someone else's event, nor see it.
    other = report_event(p.grid_worker, hub.garbage)
    with pytest.raises(NotFoundError):
        services.transition(p.resident, other, "rate", rating="satisfied")


def test_a_follow_up_call_records_the_rating(personas: Any, hub: Any, report_event: Any) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    for action, extra in [
        ("accept", {}),
        ("dispatch", {"department": hub.committee_a}),
        ("sign", {}),
        ("handle", {"note": "done"}),
        ("review", {}),
        ("close", {}),
    ]:
        event = services.transition(p.community_worker_a, event, action, **extra)
    with pytest.raises(ServiceError):
        services.transition(p.community_worker_a, event, "follow_up", rating="satisfied")
    event = services.transition(
        p.community_worker_a, event, "follow_up", rating="basically_satisfied", note="电话回访"
    )
    assert event.rating == "basically_satisfied"


def test_the_sweep_marks_overdue_escalates_after_grace_and_is_idempotent(
    personas: Any, hub: Any, report_event: Any, settings: Any
) -> None:
    settings.LINLI_EVENT_ESCALATION_GRACE_HOURS = 4
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    fresh = report_event(p.grid_worker, hub.garbage, idempotency_key="", description="另一处")
    start = event.state_deadline
    result = services.sweep(now=start + timedelta(minutes=1))
    assert result.overdue == 2 and result.escalated == 0
    assert services.sweep(now=start + timedelta(minutes=2)).overdue == 0
    event.refresh_from_db()
    assert event.overdue and event.ever_overdue and event.overdue_since == start
    assert event.steps.filter(action=StepAction.OVERDUE).count() == 1
    assert event in services.supervision_list(p.subdistrict_manager)
    # After the grace it goes to the subdistrict, four hours later to the county, then stops.
    assert services.sweep(now=start + timedelta(hours=4, minutes=2)).escalated == 2
    event.refresh_from_db()
    assert event.escalation_level == 1 and inbox(p.subdistrict_manager)
    assert services.sweep(now=start + timedelta(hours=5)).escalated == 0
    assert services.sweep(now=start + timedelta(hours=8, minutes=3)).escalated == 2
    assert services.sweep(now=start + timedelta(hours=20)).escalated == 0
    event.refresh_from_db()
    assert event.escalation_level == 2
    assert inbox(p.county_operator)
    fresh.refresh_from_db()
    assert fresh.escalation_level == 2
    # A supervisor urges; the note is on the timeline and the department is told.
    services.transition(p.community_worker_a, event, "accept")
    services.transition(p.county_operator, event, "dispatch", department=hub.police)
    event = services.transition(p.county_operator, event, "urge", note="请今日内处理")
    urge = event.steps.get(action="urge")
    assert urge.note == "请今日内处理" and event.supervised
    assert any(event.number in t for t in inbox(p.department_handler))


def test_the_same_submission_twice_makes_one_event(
    personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    first = report_event(p.grid_worker, hub.garbage, idempotency_key="k-1")
    again = report_event(p.grid_worker, hub.garbage, idempotency_key="k-1")
    assert first.pk == again.pk
    hotline = report_event(
        p.county_operator, hub.garbage, source=EventSource.HOTLINE, external_id="12345-0001"
    )
    assert (
        report_event(
            p.county_operator, hub.garbage, source=EventSource.HOTLINE, external_id="12345-0001"
        ).pk
        == hotline.pk
    )
    assert Event.objects.count() == 2


def test_bad_reports_are_refused_and_nothing_is_stored(
    personas: Any, hub: Any, report_event: Any, tree: Any, settings: Any
) -> None:
    p = personas
    with pytest.raises(ServiceError) as no_place:
        report_event(p.grid_worker, hub.garbage, place=services.Place(region=tree.grid_a1))
    assert no_place.value.code == "place_missing"
    not_image = SimpleUploadedFile("x.jpg", b"MZ\x90\x00 not a picture", content_type="image/jpeg")
    with pytest.raises(ServiceError) as bad_photo:
        report_event(p.grid_worker, hub.garbage, photos=[not_image])
    assert bad_photo.value.code == "attachment_not_image" and "x.jpg" in str(bad_photo.value)
    settings.LINLI_EVENT_UPLOAD_MAX_MB = 1
    big = SimpleUploadedFile("big.png", png_bytes() + b"\0" * (2 * 1024 * 1024))
    with pytest.raises(ServiceError) as too_big:
        report_event(p.grid_worker, hub.garbage, photos=[big])
    assert too_big.value.code == "attachment_too_large"
    with pytest.raises(ServiceError):
        report_event(p.grid_worker, hub.environment)  # not a leaf
    with pytest.raises(NotFoundError):
        report_event(
            p.grid_worker, hub.garbage, place=services.Place(region=tree.grid_b1, address="x")
        )
    with pytest.raises(ServiceError) as extra:
        report_event(p.community_worker_a, hub.dispute, extra={"amount": "12"})
    assert extra.value.code == "extra_required"
    assert Event.objects.count() == 0 and EventStep.objects.count() == 0


def test_auto_dispatch_follows_the_rules(personas: Any, hub: Any, report_event: Any) -> None:
    event = report_event(personas.grid_worker, hub.noise, description="夜间施工噪声")
    assert event.status == EventStatus.DISPATCHED and event.department == hub.police
    assert actions(event) == ["report", "accept", "dispatch"]
    # The garbage rule for community A beats the category default (urban).
    assert services.dispatch_target(hub.garbage, "370124001022001") == hub.committee_a
    assert services.dispatch_target(hub.garbage, "370124001018001") == hub.urban


def test_duplicates_are_offered_and_a_merge_tells_every_reporter(
    personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    p = personas
    here = services.Place(
        region=tree.grid_a1, latitude=Decimal("36.289000"), longitude=Decimal("116.456000")
    )
    first = report_event(p.grid_worker, hub.garbage, place=here)
    near = services.duplicates_for(
        hub.garbage, "370124001022001", latitude=36.2893, longitude=116.4561
    )  # about 35 m
    far = services.duplicates_for(hub.garbage, "370124001022001", latitude=36.30, longitude=116.46)
    assert near == [first] and far == []
    second = report_event(p.resident, hub.garbage, place=here, source=EventSource.RESIDENT)
    second = services.transition(p.community_worker_a, second, "merge", into=first.pk)
    assert second.status == EventStatus.MERGED and second.merged_into == first
    assert first.steps.filter(action="merged_in").exists()
    for action, extra in [
        ("accept", {}),
        ("dispatch", {"department": hub.committee_a}),
        ("sign", {}),
        ("handle", {"note": "done"}),
        ("review", {}),
        ("close", {}),
    ]:
        first = services.transition(p.community_worker_a, first, action, **extra)
    assert second.steps.filter(action="close", public=True).exists()
    assert any(first.number in title for title in inbox(p.resident))


def test_a_department_sees_its_events_wherever_they_lie(
    personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    other = report_event(
        p.community_worker_b, hub.garbage, place=services.Place(region=tree.grid_b1, address="b")
    )
    assert list(Event.objects.visible_to(p.department_handler)) == []
    services.transition(p.community_worker_a, event, "accept")
    services.transition(p.community_worker_a, event, "dispatch", department=hub.police)
    assert list(Event.objects.visible_to(p.department_handler)) == [event]
    assert list(Event.objects.visible_to(p.community_worker_b)) == [other]
    # After a return the department still sees what it once had.
    services.transition(p.department_handler, event, "return", note="非本单位")
    assert list(Event.objects.visible_to(p.department_handler)) == [event]
    assert services.visible_event(p.resident, event.pk) if event.reporter == p.resident else True
    with pytest.raises(NotFoundError):
        services.visible_event(p.resident, event.pk)


def test_mediation_cases_keep_their_stages_and_fields(
    personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    case = report_event(
        p.community_worker_a,
        hub.dispute,
        description="邻里漏水纠纷",
        source=EventSource.WINDOW,
        extra={"parties": "张某、李某", "amount": "1200"},
    )
    assert case.stage == "登记" and case.extra == {"parties": "张某、李某", "amount": 1200.0}
    services.transition(p.community_worker_a, case, "accept")
    services.transition(p.community_worker_a, case, "dispatch", department=hub.committee_a)
    case = services.transition(p.community_worker_a, case, "sign")
    case = services.transition(
        p.community_worker_a, case, "progress", stage="调解", note="双方到场"
    )
    assert case.stage == "调解"
    with pytest.raises(ServiceError):
        services.transition(p.community_worker_a, case, "progress", stage="判决", note="x")


def test_working_day_limits_skip_weekends_and_holidays_and_count_make_up_days(db: Any) -> None:
    tz = timezone.get_current_timezone()
    friday = datetime(2026, 9, 25, 10, 0, tzinfo=tz)
    # Plain: Friday + 1 working day = Monday, same time.
    assert calendar.add_limit(friday, 1, "workdays") == datetime(2026, 9, 28, 10, 0, tzinfo=tz)
    Holiday.objects.create(date=date(2026, 9, 28), name="假日")
    Holiday.objects.create(date=date(2026, 9, 27), is_workday=True, name="调休上班")
    calendar.holidays_changed()
    # Sunday 27th is worked, Monday 28th is off.
    assert calendar.add_limit(friday, 1, "workdays") == datetime(2026, 9, 27, 10, 0, tzinfo=tz)
    assert calendar.add_limit(friday, 2, "workdays") == datetime(2026, 9, 29, 10, 0, tzinfo=tz)
    # From a day off the clock starts when the next working day (Sunday 27th) begins; one
    # working day later the 28th is off, so it ends as the 29th begins.
    saturday = datetime(2026, 9, 26, 15, 0, tzinfo=tz)
    assert calendar.add_limit(saturday, 1, "workdays") == datetime(2026, 9, 29, 0, 0, tzinfo=tz)
    # Half a working day from a day off never ends before it starts.
    half = calendar.add_limit(saturday, 0.5, "workdays")
    assert half == datetime(2026, 9, 27, 12, 0, tzinfo=tz) and half > saturday
    # Half a working day from Friday evening lands on Saturday and moves to the same time on
    # Sunday, the make-up working day.
    evening = datetime(2026, 9, 25, 18, 0, tzinfo=tz)
    assert calendar.add_limit(evening, 0.5, "workdays") == datetime(2026, 9, 27, 6, 0, tzinfo=tz)
    assert calendar.add_limit(friday, 3, "hours") == friday + timedelta(hours=3)


def test_a_result_is_rated_once_and_rulings_need_a_reason_to_rule(
    personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    for action, extra in [
        ("accept", {}),
        ("dispatch", {"department": hub.committee_a}),
        ("sign", {}),
        ("handle", {"note": "done"}),
        ("review", {}),
        ("close", {}),
    ]:
        event = services.transition(p.community_worker_a, event, action, **extra)
    services.transition(p.grid_worker, event, "rate", rating="satisfied")
    with pytest.raises(ServiceError) as twice:
        services.transition(p.grid_worker, event, "rate", rating="unsatisfied")
    assert twice.value.code == "rated_already"
    with pytest.raises(ServiceError) as no_ruling:
        services.transition(p.subdistrict_manager, event, "reopen", note="再办")
    assert no_ruling.value.code == "ruling_none"
    event.refresh_from_db()
    assert event.status == EventStatus.CLOSED and event.rating == "satisfied"
