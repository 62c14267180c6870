"""The staff pages of the event hub: the workbench queues, the list, the event page with its
steps, the report form and the reporter's view — for the right people, 403/404 for the others,
and every refusal a Chinese message with nothing changed."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext

from linli.events import services
from linli.events.choices import EventStatus
from linli.events.models import Event, EventAttachment, EventStep

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def png(name: str = "scene.png") -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "green").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def body(response: Any) -> str:
    return response.content.decode()


def report_data(hub: Any, tree: Any, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": "k-" + str(overrides.pop("key", "1")),
        "source": "grid",
        "category": hub.garbage.pk,
        "region": tree.grid_a1.code,
        "address": "锦源小区3号楼东侧",
        "description": "楼下垃圾堆放三天无人清理",
        "priority": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def step(client: Any, event: Event, action: str, **fields: Any) -> Any:
    event.refresh_from_db()
    data = {"version": event.version, **fields}
    return client.post(reverse("events:act", args=[event.pk, action]), data)


# ---------------------------------------------------------------- who sees which page


def test_the_workbench_gives_each_persona_its_own_queues(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    reported = report_event(p.grid_worker, hub.garbage, description="井盖缺失")
    dispatched = report_event(p.grid_worker, hub.garbage, description="路灯不亮")
    services.transition(p.community_worker_a, dispatched, "accept")
    services.transition(p.community_worker_a, dispatched, "dispatch", department=hub.police)

    page = body(login(p.community_worker_a).get(reverse("events:workbench")))
    assert gettext("To accept") in page and reported.number in page
    assert gettext("To dispatch") in page
    # The community worker is a dispatcher, not the police: no sign-for queue of the police.
    assert gettext("Supervision: overdue, urged or awaiting a ruling") not in page

    handler_page = body(login(p.department_handler).get(reverse("events:workbench")))
    assert gettext("My department: to sign for") in handler_page
    assert dispatched.number in handler_page
    assert reported.number not in handler_page  # not the police's event
    assert gettext("To accept") not in handler_page

    manager_page = body(login(p.subdistrict_manager).get(reverse("events:workbench")))
    assert gettext("Supervision: overdue, urged or awaiting a ruling") in manager_page

    other_page = body(login(p.community_worker_b).get(reverse("events:workbench")))
    assert reported.number not in other_page and dispatched.number not in other_page

    for persona in (p.resident, p.nobody, p.audit_admin):
        assert login(persona).get(reverse("events:workbench")).status_code == 403


def test_the_workbench_shows_overdue_time_in_red(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = report_event(personas.grid_worker, hub.garbage)
    Event.objects.filter(pk=event.pk).update(
        state_deadline=timezone.now() - timedelta(hours=3, minutes=5), overdue=True
    )
    page = body(login(personas.community_worker_a).get(reverse("events:workbench")))
    row = page[page.index(event.number) :]
    assert re.search(r'class="clock late">[^<]*3', row[:2000])
    assert gettext("Overdue by %(time)s").split("%")[0] in row[:2000]


def test_navigation_offers_events_to_handlers_and_the_inbox_to_everyone(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    report_event(p.grid_worker, hub.garbage)  # notifies the community's dispatchers
    page = body(login(p.department_handler).get(reverse("core:workbench")))
    assert f'href="{reverse("events:workbench")}"' in page
    worker = body(login(p.community_worker_a).get(reverse("core:workbench")))
    assert gettext("Notifications (%(count)d unread)") % {"count": 1} in worker
    resident = body(login(p.resident).get(reverse("core:workbench")))
    assert f'href="{reverse("events:workbench")}"' not in resident
    assert f'href="{reverse("notifications:inbox")}"' in resident


def test_the_list_filters_within_the_gate(
    login: Any, personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    p = personas
    a1 = report_event(p.grid_worker, hub.garbage, description="A1 垃圾")
    a2 = report_event(
        p.community_worker_a,
        hub.dispute,
        description="A2 邻里纠纷",
        place=services.Place(region=tree.grid_a2, address="锦源小区5号楼"),
        extra={"parties": "张某、李某"},
    )
    b1 = report_event(
        p.community_worker_b,
        hub.garbage,
        description="B1 垃圾",
        place=services.Place(region=tree.grid_b1, address="锦东小区"),
    )
    Event.objects.filter(pk=a2.pk).update(overdue=True)
    client = login(p.community_worker_a)
    url = reverse("events:list")
    page = body(client.get(url))
    assert a1.number in page and a2.number in page and b1.number not in page
    assert a1.number not in body(client.get(url, {"category": hub.dispute.pk}))
    assert a2.number in body(client.get(url, {"category": hub.dispute.pk}))
    only_a2 = body(client.get(url, {"region": tree.grid_a2.code}))
    assert a2.number in only_a2 and a1.number not in only_a2
    overdue = body(client.get(url, {"overdue": "on"}))
    assert a2.number in overdue and a1.number not in overdue
    by_number = body(client.get(url, {"q": a1.number}))
    assert a1.number in by_number and a2.number not in by_number
    by_title = body(client.get(url, {"q": "纠纷"}))
    assert a2.number in by_title and a1.number not in by_title
    # A number outside the scope finds nothing.
    outside = body(client.get(url, {"q": b1.number}))
    assert reverse("events:detail", args=[b1.pk]) not in outside
    queue = body(client.get(url, {"queue": "accept"}))
    assert a1.number in queue
    assert login(p.resident).get(url).status_code == 403
    # The county sees everything.
    county = body(login(p.county_operator).get(url))
    assert all(e.number in county for e in (a1, a2, b1))


def test_the_event_page_is_404_outside_the_gate(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage, photos=[png()])
    url = reverse("events:detail", args=[event.pk])
    page = body(login(p.community_worker_a).get(url))
    assert event.title in page and gettext("Timeline") in page
    assert gettext("Accept") in page and 'name="version"' in page
    photo = event.attachments.get()
    assert reverse("events:attachment", args=[photo.pk]) in page
    for persona in (p.community_worker_b, p.department_handler, p.nobody, p.property_staff):
        assert login(persona).get(url).status_code == 404
        assert login(persona).get(reverse("events:attachment", args=[photo.pk])).status_code == 404
    assert (
        login(p.community_worker_a).get(reverse("events:detail", args=[999999])).status_code == 404
    )


def test_photos_are_served_through_the_gate_only(
    login: Any, personas: Any, hub: Any, report_event: Any, client: Any
) -> None:
    event = report_event(personas.resident, hub.garbage, photos=[png()])
    photo = event.attachments.get()
    url = reverse("events:attachment", args=[photo.pk])
    response = login(personas.community_worker_a).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    # The reporter sees the photo of the own report; a stranger does not.
    assert login(personas.resident).get(url).status_code == 200
    assert login(personas.community_worker_b).get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page
    # The stored file is not under a public URL.
    assert not photo.file.name.startswith("/")
    assert "/media/" not in body(
        login(personas.community_worker_a).get(reverse("events:detail", args=[event.pk]))
    )


# ---------------------------------------------------------------- the whole way through the pages


def test_a_report_goes_the_whole_way_through_the_pages(
    login: Any, personas: Any, hub: Any, tree: Any
) -> None:
    p = personas
    grid = login(p.grid_worker)
    form = body(grid.get(reverse("events:new")))
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', form)
    assert key, "the form carries a fresh idempotency key"
    response = grid.post(
        reverse("events:new"),
        {**report_data(hub, tree, idempotency_key=key.group(1)), "photos": [png()]},
    )
    event = Event.objects.get()
    assert response.status_code == 302
    assert event.reporter == p.grid_worker and event.attachments.count() == 1

    worker = login(p.community_worker_a)
    assert step(worker, event, "accept").status_code == 302
    detail = body(worker.get(reverse("events:detail", args=[event.pk])))
    # The rule for garbage in community A suggests the committee; it is preselected.
    assert re.search(rf'<option value="{hub.committee_a.pk}" selected>', detail)
    members = worker.get(
        reverse("events:members", args=[event.pk]),
        {"department": hub.police.pk, "action": "dispatch"},
    )
    assert f'value="{p.department_handler.pk}"' in body(members)
    response = step(
        worker, event, "dispatch", department=hub.police.pk, handler=p.department_handler.pk
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.department == hub.police and event.handler == p.department_handler

    police = login(p.department_handler)
    assert step(police, event, "sign").status_code == 302
    report = SimpleUploadedFile("结果.pdf", b"%PDF-1.4 done", content_type="application/pdf")
    response = police.post(
        reverse("events:act", args=[event.pk, "handle"]),
        {"version": Event.objects.get(pk=event.pk).version, "note": "已清运", "files": [report]},
    )
    assert response.status_code == 302

    worker = login(p.community_worker_a)
    assert step(worker, event, "review").status_code == 302
    assert step(worker, event, "close").status_code == 302

    grid = login(p.grid_worker)
    mine = body(grid.get(reverse("events:mine_detail", args=[event.pk])))
    assert gettext("Rate the result") in mine
    response = step(grid, event, "rate", rating="satisfied", note="处理及时", next="mine")
    assert response.status_code == 302
    assert response["Location"] == reverse("events:mine_detail", args=[event.pk])

    event.refresh_from_db()
    assert event.status == EventStatus.CLOSED and event.rating == "satisfied"
    assert list(event.steps.values_list("action", flat=True)) == [
        "report", "accept", "dispatch", "sign", "handle", "review", "close", "rate",
    ]  # fmt: skip
    page = body(login(p.community_worker_a).get(reverse("events:detail", args=[event.pk])))
    assert "已清运" in page and "结果.pdf" in page
    # The reporter's view leaves the internal steps out.
    mine = body(login(p.grid_worker).get(reverse("events:mine_detail", args=[event.pk])))
    assert "已清运" in mine and "step-review" not in mine and "step-dispatch" in mine


def test_a_stale_version_is_refused_with_a_message_and_nothing_changes(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    services.transition(p.community_worker_a, event, "accept")
    event.refresh_from_db()
    seen = event.version
    # Someone else dispatches first.
    services.transition(p.subdistrict_manager, event, "dispatch", department=hub.urban)
    response = login(p.community_worker_a).post(
        reverse("events:act", args=[event.pk, "dispatch"]),
        {"version": seen, "department": hub.police.pk, "note": "请派出所处理"},
    )
    assert response.status_code == 409
    page = body(response)
    assert "他人刚刚处理了此事件" in page
    assert "请派出所处理" in page  # what was typed is shown again, to copy
    event.refresh_from_db()
    assert event.department == hub.urban
    assert event.steps.filter(action="dispatch").count() == 1


def test_a_return_past_the_limit_is_refused_in_chinese(
    login: Any, personas: Any, hub: Any, report_event: Any, settings: Any
) -> None:
    settings.LINLI_EVENT_RETURN_LIMIT = 2
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    services.transition(p.community_worker_a, event, "accept")
    police = login(p.department_handler)
    for _ in range(2):
        services.transition(p.subdistrict_manager, event, "dispatch", department=hub.police)
        # A return without a reason is refused next to the field.
        refused = step(police, event, "return", note="")
        assert refused.status_code == 400 and "请填写原因或说明" in body(refused)
        assert step(police, event, "return", note="非本单位职责").status_code == 302
    event.refresh_from_db()
    assert event.needs_ruling and event.return_count == 2
    # The community may no longer dispatch: the level above rules.
    worker = body(login(p.community_worker_a).get(reverse("events:detail", args=[event.pk])))
    assert gettext("Awaiting a ruling") in worker
    services.transition(p.subdistrict_manager, event, "dispatch", department=hub.police)
    police = login(p.department_handler)  # one test client: sign the handler in again
    page = body(police.get(reverse("events:detail", args=[event.pk])))
    assert 'id="action-return"' not in page  # no longer offered
    response = step(police, event, "return", note="还是不归我们")
    assert response.status_code == 400
    assert "此事件已退回 2 次，达到上限" in body(response)
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHED and event.return_count == 2


def test_a_step_that_is_not_allowed_changes_nothing(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    p = personas
    event = report_event(p.grid_worker, hub.garbage)
    # The grid worker sees the event but may not accept it.
    response = step(login(p.grid_worker), event, "accept")
    assert response.status_code == 403
    # Another community does not even see it.
    assert step(login(p.community_worker_b), event, "accept").status_code == 404
    assert (
        login(p.community_worker_a)
        .post(reverse("events:act", args=[event.pk, "fly"]), {"version": 0})
        .status_code
        == 404
    )
    event.refresh_from_db()
    assert event.status == EventStatus.REPORTED and event.steps.count() == 1


def test_extension_merge_urge_and_follow_up_forms(
    login: Any, personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    p = personas
    place = services.Place(
        region=tree.grid_a1, address="锦源小区", latitude=36.28, longitude=116.45
    )
    first = report_event(p.grid_worker, hub.garbage, place=place)
    second = report_event(p.community_worker_a, hub.garbage, place=place, description="同一处垃圾")
    worker = login(p.community_worker_a)
    page = body(worker.get(reverse("events:detail", args=[second.pk])))
    assert f'<option value="{first.pk}">{first.number}' in page  # offered as its duplicate
    assert step(worker, second, "merge", into=first.pk).status_code == 302
    second.refresh_from_db()
    assert second.status == EventStatus.MERGED and second.merged_into == first
    assert second.number in body(worker.get(reverse("events:detail", args=[first.pk])))

    services.transition(p.community_worker_a, first, "accept")
    services.transition(p.community_worker_a, first, "dispatch", department=hub.police)
    services.transition(p.department_handler, first, "sign")
    police = login(p.department_handler)
    bad = step(police, first, "request_extension", until="明天", note="需要协调")
    assert bad.status_code == 400 and gettext("Enter a date and time.") in body(bad)
    until = timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    assert step(police, first, "request_extension", until=until, note="需要协调").status_code == 302
    manager = login(p.subdistrict_manager)
    assert gettext("Extension requests") in body(manager.get(reverse("events:workbench")))
    assert step(manager, first, "approve_extension").status_code == 302
    assert step(manager, first, "urge", note="请尽快处置").status_code == 302
    first.refresh_from_db()
    assert first.extension_count == 1 and first.supervised
    urged = body(login(p.department_handler).get(reverse("events:detail", args=[first.pk])))
    assert "请尽快处置" in urged


# ---------------------------------------------------------------- the report form


def test_a_report_without_a_place_is_refused_and_nothing_is_stored(
    login: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = login(personas.grid_worker)
    response = client.post(reverse("events:new"), report_data(hub, tree, address=""))
    assert response.status_code == 400
    page = body(response)
    assert "请说明问题在哪里" in page
    assert "楼下垃圾堆放三天无人清理" in page  # what was typed is kept
    assert not Event.objects.exists()
    no_region = client.post(reverse("events:new"), report_data(hub, tree, region=""))
    assert no_region.status_code == 400 and "请选择问题所在的社区或网格" in body(no_region)
    # A region outside the scope is not a choice.
    outside = client.post(reverse("events:new"), report_data(hub, tree, region=tree.grid_b1.code))
    assert outside.status_code == 400 and not Event.objects.exists()


def test_a_bad_photo_is_refused_and_nothing_is_stored(
    login: Any, personas: Any, hub: Any, tree: Any
) -> None:
    fake = SimpleUploadedFile("scene.png", b"not a picture at all", content_type="image/png")
    response = login(personas.grid_worker).post(
        reverse("events:new"), {**report_data(hub, tree), "photos": [fake]}
    )
    assert response.status_code == 400
    assert "scene.png 不是图片" in body(response)
    assert not Event.objects.exists() and not EventAttachment.objects.exists()


def test_a_double_submit_makes_one_event(login: Any, personas: Any, hub: Any, tree: Any) -> None:
    client = login(personas.grid_worker)
    data = report_data(hub, tree, key="twice")
    first = client.post(reverse("events:new"), data)
    second = client.post(reverse("events:new"), data, follow=True)
    assert first.status_code == 302 and second.status_code == 200
    event = Event.objects.get()
    assert first["Location"] == reverse("events:detail", args=[event.pk])
    assert gettext("This report had already been sent; it was stored once (%(number)s).") % {
        "number": event.number
    } in body(second)
    assert EventStep.objects.filter(action="report").count() == 1


def test_a_hotline_report_needs_the_caller_and_masks_the_phone(
    login: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    response = client.post(reverse("events:new"), report_data(hub, tree, source="hotline"))
    assert response.status_code == 400
    assert escape(gettext("A hotline report needs the caller's phone.")) in body(response)
    response = client.post(
        reverse("events:new"),
        report_data(
            hub, tree, source="hotline", reporter_name="王建国", reporter_phone="13800138000"
        ),
    )
    event = Event.objects.get()
    page = body(client.get(reverse("events:detail", args=[event.pk])))
    assert "138****8000" in page and "13800138000" not in page
    assert "王**" in page and "王建国" not in page


def test_the_category_brings_its_own_fields_and_they_are_checked(
    login: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = login(personas.community_worker_a)
    fields = body(client.get(reverse("events:new_extra"), {"category": hub.dispute.pk}))
    assert "当事人" in fields and 'name="extra_parties"' in fields
    missing = client.post(reverse("events:new"), report_data(hub, tree, category=hub.dispute.pk))
    assert missing.status_code == 400 and "请填写当事人" in body(missing)
    client.post(
        reverse("events:new"),
        report_data(
            hub, tree, category=hub.dispute.pk, extra_parties="张某、李某", extra_amount="300"
        ),
    )
    event = Event.objects.get()
    assert event.extra == {"parties": "张某、李某", "amount": 300.0}
    page = body(client.get(reverse("events:detail", args=[event.pk])))
    assert "涉及金额" in page and "张某、李某" in page
    # The environment group is not a leaf: it is not offered.
    form = body(client.get(reverse("events:new")))
    assert f'<option value="{hub.environment.pk}"' not in form
    assert f'<option value="{hub.garbage.pk}"' in form


def test_the_form_offers_open_duplicates_nearby(
    login: Any, personas: Any, hub: Any, report_event: Any, tree: Any
) -> None:
    place = services.Place(
        region=tree.grid_a1, address="锦源小区", latitude=36.28, longitude=116.45
    )
    earlier = report_event(personas.grid_worker, hub.garbage, place=place)
    client = login(personas.community_worker_a)
    near = body(
        client.get(
            reverse("events:new_duplicates"),
            {
                "category": hub.garbage.pk,
                "region": tree.grid_a1.code,
                "latitude": "36.2801",
                "longitude": "116.4501",
            },
        )
    )
    assert earlier.number in near
    far = body(
        client.get(
            reverse("events:new_duplicates"),
            {
                "category": hub.garbage.pk,
                "region": tree.grid_a1.code,
                "latitude": "36.4",
                "longitude": "116.6",
            },
        )
    )
    assert earlier.number not in far
    # Residents and department handlers do not use the staff form.
    for persona in (personas.resident, personas.department_handler, personas.nobody):
        assert login(persona).get(reverse("events:new")).status_code == 403


# ---------------------------------------------------------------- query counts


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_workbench_and_list_query_counts_stay_flat(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    def add(count: int) -> None:
        for number in range(count):
            event = report_event(personas.grid_worker, hub.garbage, description=f"问题 {number}")
            if number % 2:
                services.transition(personas.community_worker_a, event, "accept")

    # More than a queue shows in both, so each queue is counted in both.
    add(18)
    client = login(personas.community_worker_a)
    client.get(reverse("events:workbench"))  # the first request after signing in does more
    few = {name: _queries(client, reverse(name)) for name in ("events:workbench", "events:list")}
    add(12)
    many = {name: _queries(client, reverse(name)) for name in ("events:workbench", "events:list")}
    assert many == few
    assert few["events:workbench"] <= 24 and few["events:list"] <= 18


# ---------------------------------------------------------------- signing in, the reporter's view


def test_every_page_needs_signing_in(client: Any) -> None:
    from linli.events.urls import urlpatterns

    for pattern in urlpatterns:
        route = str(pattern.pattern)
        kwargs = {
            name: ("dispatch" if name == "action" else 1)
            for name in re.findall(r"<(?:\w+:)?(\w+)>", route)
        }
        url = reverse(f"events:{pattern.name}", kwargs=kwargs)
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_the_reporter_follows_the_report_on_its_own_page(
    login: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = report_event(personas.resident, hub.garbage, photos=[png()])
    services.transition(personas.community_worker_a, event, "accept", note="已受理，尽快处理")
    client = login(personas.resident)
    mine = body(client.get(reverse("events:mine")))
    assert event.number in mine and event.title in mine
    # The staff page sends the reporter to the own view, which shows the public steps only.
    response = client.get(reverse("events:detail", args=[event.pk]))
    assert response["Location"] == reverse("events:mine_detail", args=[event.pk])
    page = body(client.get(reverse("events:mine_detail", args=[event.pk])))
    assert "已受理，尽快处理" in page
    assert reverse("events:attachment", args=[event.attachments.get().pk]) in page
    assert gettext("Open the full record") not in page
    assert gettext("Rate the result") not in page  # not closed yet
    # Another resident's report does not exist for this one.
    other = report_event(personas.community_worker_a, hub.garbage)
    assert client.get(reverse("events:mine_detail", args=[other.pk])).status_code == 404
