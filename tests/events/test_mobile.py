"""The phone pages (/m/): who may open which page, reporting from the phone (photo, position,
place, the category's own fields, the double tap, bad photos, no place), residents' own reports
and their isolation, the department's tasks (sign for, handle, extension, return, conflicts)
and the reporter's rating."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from linli.events import services
from linli.events.choices import EventSource, EventStatus
from linli.events.models import Event, EventAttachment
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

REPORT = reverse("events_mobile:report")
TASKS = reverse("events_mobile:tasks")
HOME = reverse("events_mobile:home")
MINE = reverse("events_mobile:mine")


def zh(msgid: str, **values: Any) -> str:
    """The Chinese text a page shows for ``msgid`` (it must have a translation)."""
    with translation.override("zh-hans"):
        text = translation.gettext(msgid)
    assert text != msgid, f"{msgid!r} has no Chinese translation"
    return text % values if values else text


def png(name: str = "scene.png") -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def text(response: Any) -> str:
    return response.content.decode()


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture
def phone(client: Client) -> Any:
    """``phone(user)``: the test client signed in as that user, speaking Chinese."""

    def _phone(user: Any) -> Client:
        client.force_login(user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
        return client

    return _phone


@pytest.fixture
def other_resident(tree: Any, personas: Any) -> Any:
    return make_user("resident_a2", tree.community_a, "resident")


def dispatched(personas: Any, hub: Any, report_event: Any, **fields: Any) -> Event:
    """An event of grid A1 dispatched to the police, the department handler's department."""
    event = report_event(personas.grid_worker, hub.garbage, **fields)
    services.transition(personas.community_worker_a, event, "accept")
    services.transition(personas.community_worker_a, event, "dispatch", department=hub.police)
    event.refresh_from_db()
    return event


def closed(personas: Any, hub: Any, event: Event) -> Event:
    p = personas
    services.transition(p.department_handler, event, "sign")
    services.transition(p.department_handler, event, "handle", note="已清运")
    services.transition(p.community_worker_a, event, "review")
    services.transition(p.community_worker_a, event, "close")
    event.refresh_from_db()
    return event


def report_data(hub: Any, tree: Any, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": hub.garbage.pk,
        "region": tree.grid_a1.pk,
        "address": "锦源小区3号楼东侧",
        "description": "楼下垃圾堆放三天无人清理",
        "latitude": "36.2812345678",
        "longitude": "116.4512345678",
        "idempotency_key": "k-0001",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# ---------------------------------------------------------------- who may open what


def test_pages_need_a_sign_in(client: Client, hub: Any) -> None:
    for url in (HOME, REPORT, TASKS, MINE, reverse("events_mobile:mine_detail", args=[1])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_home_offers_each_persona_what_it_may_do(phone: Any, personas: Any, hub: Any) -> None:
    p = personas
    page = text(phone(p.grid_worker).get(HOME))
    assert REPORT in page and TASKS in page and MINE in page
    page = text(phone(p.resident).get(HOME))
    assert zh("Report a problem in my community") in page and TASKS not in page
    page = text(phone(p.department_handler).get(HOME))
    assert TASKS in page and REPORT not in page
    page = text(phone(p.audit_admin).get(HOME))
    assert REPORT not in page and TASKS not in page
    assert zh("Your account has nothing to do on these pages yet.") in page


def test_the_grid_workers_report_page_defaults_to_their_own_grid(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    response = phone(personas.grid_worker).get(REPORT)
    assert response.status_code == 200
    page = text(response)
    assert re.search(rf'<option value="{tree.grid_a1.pk}" selected>', page)
    # Only leaf categories, grouped under their parent; the parent itself is not a choice.
    assert f'<optgroup label="{hub.environment.name}">' in page
    assert f'value="{hub.environment.pk}"' not in page
    assert f'<option value="{hub.garbage.pk}">{hub.garbage.name}</option>' in page
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    # The place list holds the worker's own area only.
    assert tree.grid_b1.name not in page
    assert re.search(r'name="idempotency_key" value="[0-9a-f]{32}"', page)


def test_a_community_worker_chooses_among_the_grids_of_the_community(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    page = text(phone(personas.community_worker_a).get(REPORT))
    for node in (tree.community_a, tree.grid_a1, tree.grid_a2):
        assert f'<option value="{node.pk}">' in page
    assert tree.community_b.name not in page
    assert not re.search(r"<option value=\"\d+\" selected>", page.split('name="region"')[1])


@pytest.mark.parametrize("who", ["department_handler", "audit_admin", "nobody"])
def test_the_report_page_is_refused_without_the_right_to_report(
    phone: Any, personas: Any, hub: Any, tree: Any, who: str
) -> None:
    client = phone(getattr(personas, who))
    assert client.get(REPORT).status_code == 403
    assert client.post(REPORT, report_data(hub, tree)).status_code == 403
    assert not Event.objects.exists()


@pytest.mark.parametrize("who", ["resident", "nobody", "system_admin"])
def test_the_task_pages_are_refused_to_people_without_tasks(
    phone: Any, personas: Any, hub: Any, report_event: Any, who: str
) -> None:
    event = dispatched(personas, hub, report_event)
    client = phone(getattr(personas, who))
    assert client.get(TASKS).status_code == 403
    assert client.get(reverse("events_mobile:event", args=[event.pk])).status_code == 403
    sign = reverse("events_mobile:event_step", args=[event.pk, "sign"])
    assert client.post(sign, {"version": event.version}).status_code == 403
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHED


def test_an_event_outside_reach_does_not_exist(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    url = reverse("events_mobile:event", args=[event.pk])
    # Another community's worker, and property staff whose department it is not.
    for user in (personas.community_worker_b, personas.property_staff):
        client = phone(user)
        assert client.get(url).status_code == 404
        sign = reverse("events_mobile:event_step", args=[event.pk, "sign"])
        assert client.post(sign, {"version": event.version}).status_code == 404
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHED and event.signed_at is None
    assert phone(personas.department_handler).get(url).status_code == 200
    assert phone(personas.community_worker_a).get(url).status_code == 200


def test_an_unknown_step_is_not_a_page(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    client = phone(personas.community_worker_a)
    for action in ("dispatch", "review", "nonsense"):
        url = reverse("events_mobile:event_step", args=[event.pk, action])
        assert client.post(url, {"version": event.version}).status_code == 404
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHED


# ---------------------------------------------------------------- reporting


def test_a_grid_worker_reports_with_a_photo_and_a_position(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = phone(personas.grid_worker)
    response = client.post(REPORT, {**report_data(hub, tree), "photos": [png(), png("two.png")]})
    event = Event.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("events_mobile:mine_detail", args=[event.pk])
    assert event.source == EventSource.GRID and event.reporter == personas.grid_worker
    assert event.region == tree.grid_a1 and event.category == hub.garbage
    # The phone's many decimals are kept to the micro-degree.
    assert event.latitude == Decimal("36.281235") and event.longitude == Decimal("116.451235")
    assert event.attachments.filter(kind="photo").count() == 2
    page = text(client.get(response["Location"]))
    assert zh("Reported. Your report number is %(number)s.", number=event.number) in page
    assert event.description in page


def test_a_position_alone_is_enough_without_an_address(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    response = phone(personas.grid_worker).post(REPORT, report_data(hub, tree, address=""))
    assert response.status_code == 302
    event = Event.objects.get()
    assert event.address == "" and event.latitude is not None


def test_a_report_without_a_place_is_refused_and_the_values_are_kept(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    data = report_data(hub, tree, address="", latitude=None, longitude=None)
    response = phone(personas.grid_worker).post(REPORT, data)
    assert response.status_code == 400
    page = text(response)
    assert zh("Say where the problem is: an address, a position on the map or a house.") in page
    assert zh("The report was not sent. Please correct the items marked below.") in page
    assert "楼下垃圾堆放三天无人清理</textarea>" in page
    assert 'name="idempotency_key" value="k-0001"' in page
    assert not Event.objects.exists()


def test_a_photo_that_is_not_a_picture_is_refused_and_nothing_is_stored(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    fake = SimpleUploadedFile("scene.jpg", b"this is not a picture", content_type="image/jpeg")
    response = phone(personas.grid_worker).post(REPORT, {**report_data(hub, tree), "photos": fake})
    assert response.status_code == 400
    page = text(response)
    assert zh("%(name)s is not a picture.", name="scene.jpg") in page
    assert (
        zh("For safety the phone does not keep chosen photos: please take or choose them again.")
        in page
    )
    assert "锦源小区3号楼东侧" in page
    assert not Event.objects.exists() and not EventAttachment.objects.exists()


def test_a_photo_over_the_size_limit_is_refused(
    phone: Any, personas: Any, hub: Any, tree: Any, settings: Any
) -> None:
    settings.LINLI_EVENT_UPLOAD_MAX_MB = 1
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (1024 * 1024 + 10))
    response = phone(personas.grid_worker).post(REPORT, {**report_data(hub, tree), "photos": big})
    assert response.status_code == 400
    assert zh("%(name)s is larger than %(limit)d MB.", name="big.png", limit=1) in text(response)
    assert not Event.objects.exists()


def test_a_double_tap_makes_one_event(phone: Any, personas: Any, hub: Any, tree: Any) -> None:
    client = phone(personas.grid_worker)
    first = client.post(REPORT, {**report_data(hub, tree), "photos": png()})
    second = client.post(REPORT, {**report_data(hub, tree), "photos": png()})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    event = Event.objects.get()
    assert event.attachments.count() == 1 and event.steps.count() == 1
    # A new form carries a new key: the next report is a new event.
    client.post(REPORT, report_data(hub, tree, idempotency_key="k-0002"))
    assert Event.objects.count() == 2


def test_a_category_missing_or_not_a_leaf_is_refused(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = phone(personas.grid_worker)
    for category in ("", hub.environment.pk, 999999):
        response = client.post(REPORT, report_data(hub, tree, category=category))
        assert response.status_code == 400
        assert zh("Choose what kind of problem it is.") in text(response)
    assert not Event.objects.exists()


def test_a_place_outside_the_workers_area_is_refused(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    response = phone(personas.grid_worker).post(
        REPORT, report_data(hub, tree, region=tree.grid_b1.pk)
    )
    assert response.status_code == 400
    assert zh("Choose the community or grid where the problem is.") in text(response)
    assert not Event.objects.exists()


def test_the_categorys_own_fields_are_asked_and_checked(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = phone(personas.community_worker_a)
    fields = text(client.get(reverse("events_mobile:report_fields"), {"category": hub.dispute.pk}))
    assert (
        'name="extra_parties"' in fields and "当事人" in fields and 'name="extra_amount"' in fields
    )
    base = report_data(hub, tree, category=hub.dispute.pk)
    response = client.post(REPORT, {**base, "extra_amount": "abc"})
    assert response.status_code == 400
    page = text(response)
    assert zh("%(label)s is required.", label="当事人") in page
    assert zh("Enter a number.") in page
    assert not Event.objects.exists()
    response = client.post(REPORT, {**base, "extra_parties": "张某、李某", "extra_amount": "3000"})
    assert response.status_code == 302
    assert Event.objects.get().extra == {"parties": "张某、李某", "amount": 3000.0}


def test_a_category_that_needs_a_photo_says_so_and_refuses_without_one(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    hub.garbage.required_fields = ["photo"]
    hub.garbage.save(update_fields=["required_fields"])
    client = phone(personas.grid_worker)
    fields = text(client.get(reverse("events_mobile:report_fields"), {"category": hub.garbage.pk}))
    assert zh("This kind of problem needs a photo.") in fields
    response = client.post(REPORT, report_data(hub, tree))
    assert response.status_code == 400
    assert zh("This kind of problem needs a photo.") in text(response)
    assert not Event.objects.exists()


def test_open_duplicates_nearby_are_offered_to_the_grid_worker_only(
    phone: Any, personas: Any, hub: Any, tree: Any, report_event: Any
) -> None:
    place = services.Place(
        region=tree.grid_a1, latitude=Decimal("36.281200"), longitude=Decimal("116.451200")
    )
    earlier = report_event(personas.community_worker_a, hub.garbage, place=place)
    far = services.Place(
        region=tree.grid_a1, latitude=Decimal("36.300000"), longitude=Decimal("116.451200")
    )
    report_event(personas.community_worker_a, hub.garbage, place=far, description="远处的垃圾")
    query = {
        "category": hub.garbage.pk,
        "region": tree.grid_a1.pk,
        "latitude": "36.2813",
        "longitude": "116.4513",
    }
    url = reverse("events_mobile:report_duplicates")
    page = text(phone(personas.grid_worker).get(url, query))
    assert zh("This is the same problem") in page
    assert reverse("events_mobile:event", args=[earlier.pk]) + "?same=1" in page
    assert "远处的垃圾" not in page
    # The link opens the event with the invitation to add a note instead.
    same = text(
        phone(personas.grid_worker).get(
            reverse("events_mobile:event", args=[earlier.pk]), {"same": "1"}
        )
    )
    banner = "The same problem is already reported here. Add what you saw as a note below "
    assert zh(banner + "instead of reporting it again.") in same
    assert reverse("events_mobile:event_step", args=[earlier.pk, "comment"]) in same
    # A resident is never shown other people's events.
    page = text(phone(personas.resident).get(url, query))
    assert earlier.title not in page and "same=1" not in page


def test_a_grid_worker_adds_a_note_to_the_same_problem(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = report_event(personas.community_worker_a, hub.garbage)
    url = reverse("events_mobile:event_step", args=[event.pk, "comment"])
    response = phone(personas.grid_worker).post(
        url, {"version": event.version, "note": "今天又多了两袋", "photos": png()}
    )
    assert response.status_code == 302
    step = event.steps.get(action="comment")
    assert step.note == "今天又多了两袋" and step.attachments.count() == 1
    assert Event.objects.count() == 1


# ---------------------------------------------------------------- residents


def test_a_resident_reports_for_their_own_community(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    client = phone(personas.resident)
    page = text(client.get(REPORT))
    assert 'name="region"' not in page and tree.community_a.name in page
    data = report_data(hub, tree, region=tree.grid_c1.pk, latitude=None, longitude=None)
    response = client.post(REPORT, data)  # a tampered place is ignored: the community stands
    assert response.status_code == 302
    event = Event.objects.get()
    assert event.region == tree.community_a and event.source == EventSource.RESIDENT
    assert event.attachments.count() == 0  # the photo is optional


def test_residents_never_see_other_peoples_events(
    phone: Any, personas: Any, hub: Any, tree: Any, other_resident: Any
) -> None:
    client = phone(personas.resident)
    client.post(
        REPORT, {**report_data(hub, tree, description="我家门口的路灯坏了"), "photos": png()}
    )
    mine = Event.objects.get()
    photo = mine.attachments.get()
    neighbour = phone(other_resident)
    assert neighbour.get(reverse("events_mobile:mine_detail", args=[mine.pk])).status_code == 404
    assert neighbour.get(reverse("events_mobile:attachment", args=[photo.pk])).status_code == 404
    rate = reverse("events_mobile:rate", args=[mine.pk])
    assert neighbour.post(rate, {"rating": "unsatisfied"}).status_code == 404
    assert "我家门口的路灯坏了" not in text(neighbour.get(MINE))
    assert "我家门口的路灯坏了" not in text(neighbour.get(HOME))
    # The reporter sees the report, its photo, and it in the list.
    owner = phone(personas.resident)
    assert owner.get(reverse("events_mobile:attachment", args=[photo.pk])).status_code == 200
    assert "我家门口的路灯坏了" in text(owner.get(MINE))
    mine.refresh_from_db()
    assert mine.rating == ""


def test_my_reports_page_is_only_for_the_reporter(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    url = reverse("events_mobile:mine_detail", args=[event.pk])
    assert phone(personas.grid_worker).get(url).status_code == 200
    # Staff who see the event through the gate still use their own pages for it.
    assert phone(personas.community_worker_a).get(url).status_code == 404
    assert phone(personas.department_handler).get(url).status_code == 404


def test_the_reporter_sees_the_public_timeline_and_rates_after_closing(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    client = phone(personas.grid_worker)
    url = reverse("events_mobile:mine_detail", args=[event.pk])
    page = text(client.get(url))
    assert zh("Rate the result") not in page  # not before it is closed
    event = closed(personas, hub, event)
    page = text(client.get(url))
    assert zh("Rate the result") in page and "已清运" in page
    review = zh("Reviewed")
    assert f'<span class="what">{review}</span>' not in page  # an internal step
    assert f'<span class="what">{zh("Closed")}</span>' in page
    response = client.post(
        reverse("events_mobile:rate", args=[event.pk]),
        {"version": event.version, "rating": "satisfied", "comment": "处理很快"},
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.rating == "satisfied" and event.rating_comment == "处理很快"
    page = text(client.get(url))
    assert zh("Thank you. Your rating has been recorded.") in page
    assert zh("Rate the result") not in page and zh("Satisfied") in page


def test_a_rating_without_a_choice_is_refused(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = closed(personas, hub, dispatched(personas, hub, report_event))
    client = phone(personas.grid_worker)
    response = client.post(
        reverse("events_mobile:rate", args=[event.pk]), {"version": event.version, "comment": "x"}
    )
    assert response.status_code == 400
    assert zh("Choose a rating.") in text(response)
    event.refresh_from_db()
    assert event.rating == "" and event.rated_at is None


# ---------------------------------------------------------------- tasks


def test_the_department_sees_what_to_sign_for_and_signs_with_one_tap(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    client = phone(personas.department_handler)
    page = text(client.get(TASKS))
    assert event.title in page and zh("To sign for (%(n)s)", n=1) in page
    sign = reverse("events_mobile:event_step", args=[event.pk, "sign"])
    assert sign in page and f'name="version" value="{event.version}"' in page
    response = client.post(sign, {"version": event.version})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == EventStatus.SIGNED_FOR and event.handler == personas.department_handler
    page = text(client.get(response["Location"]))
    assert zh("Signed for %(number)s. The handling clock has started.", number=event.number) in page
    page = text(client.get(TASKS))
    assert zh("To sign for (%(n)s)", n=0) in page and zh("Being handled (%(n)s)", n=1) in page


def test_a_stale_version_is_told_in_chinese_and_changes_nothing(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    seen = event.version
    services.transition(personas.department_handler, event, "sign")
    client = phone(personas.department_handler)
    url = reverse("events_mobile:event_step", args=[event.pk, "handle"])
    response = client.post(url, {"version": seen, "note": "已处理"})
    assert response.status_code == 409
    assert zh(
        "Someone else has just acted on this event (it is now “%(status)s”). "
        "Reload the page and check before you go on.",
        status=zh("Being handled"),
    ) in text(response)
    event.refresh_from_db()
    assert event.status == EventStatus.SIGNED_FOR and event.handled_at is None


def test_handling_needs_a_note_and_keeps_the_photos(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    services.transition(personas.department_handler, event, "sign")
    event.refresh_from_db()
    client = phone(personas.department_handler)
    url = reverse("events_mobile:event_step", args=[event.pk, "handle"])
    response = client.post(url, {"version": event.version, "note": "  "})
    assert response.status_code == 400
    assert zh("Give a reason or a note.") in text(response)
    event.refresh_from_db()
    assert event.status == EventStatus.SIGNED_FOR
    bad = SimpleUploadedFile("after.jpg", b"nope", content_type="image/jpeg")
    response = client.post(url, {"version": event.version, "note": "已清运", "photos": bad})
    assert response.status_code == 400
    assert zh("%(name)s is not a picture.", name="after.jpg") in text(response)
    assert "已清运</textarea>" in text(response)
    response = client.post(
        url, {"version": event.version, "note": "已清运", "photos": png("after.png")}
    )
    assert response.status_code == 302 and response["Location"] == TASKS
    event.refresh_from_db()
    assert event.status == EventStatus.HANDLED
    step = event.steps.get(action="handle")
    assert step.note == "已清运" and step.attachments.get().kind == "photo"


def test_the_department_requests_an_extension_and_returns_with_a_reason(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    event = dispatched(personas, hub, report_event)
    services.transition(personas.department_handler, event, "sign")
    event.refresh_from_db()
    client = phone(personas.department_handler)
    url = reverse("events_mobile:event_step", args=[event.pk, "request_extension"])
    later = timezone.localtime(event.state_deadline) + timezone.timedelta(days=2)
    response = client.post(
        url,
        {
            "version": event.version,
            "until": later.strftime("%Y-%m-%dT%H:%M"),
            "note": "需要采购配件",
        },
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.extension_requested_until == later.replace(second=0, microsecond=0)
    url = reverse("events_mobile:event_step", args=[event.pk, "return"])
    response = client.post(url, {"version": event.version})
    assert response.status_code == 400
    assert zh("Give a reason or a note.") in text(response)
    response = client.post(url, {"version": event.version, "note": "不属于本单位职责"})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == EventStatus.ACCEPTED and event.department is None
    assert event.steps.get(action="return").note == "不属于本单位职责"


def test_a_grid_worker_sees_the_open_events_of_the_grid(
    phone: Any, personas: Any, hub: Any, tree: Any, report_event: Any
) -> None:
    ours = report_event(personas.community_worker_a, hub.garbage, description="一网格的问题")
    other_place = services.Place(region=tree.grid_a2, address="二网格")
    report_event(
        personas.community_worker_a, hub.garbage, place=other_place, description="二网格的问题"
    )
    page = text(phone(personas.grid_worker).get(TASKS))
    assert ours.title in page and "二网格的问题" not in page
    assert zh("Open events in my area") in page


# ---------------------------------------------------------------- query counts


def _queries(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # the first request after signing in also loads the session's user
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_list_pages_cost_the_same_for_two_events_or_six(
    phone: Any, personas: Any, hub: Any, report_event: Any
) -> None:
    """No query per row: the tasks lists, my reports and the home page."""
    pages = [
        (personas.department_handler, TASKS),
        (personas.department_handler, HOME),
        (personas.grid_worker, MINE),
        (personas.grid_worker, TASKS),
    ]
    for _ in range(2):
        dispatched(personas, hub, report_event)
    before = [_queries(phone(user), url) for user, url in pages]
    for _ in range(4):
        dispatched(personas, hub, report_event)
    assert [_queries(phone(user), url) for user, url in pages] == before


def test_a_resident_without_a_community_is_told_and_nothing_is_stored(
    phone: Any, personas: Any, hub: Any, tree: Any
) -> None:
    stray = make_user("resident_far", tree.subdistrict_1, "resident")
    client = phone(stray)
    message = zh("Your account is not linked to a community; ask the community.")
    page = text(client.get(REPORT))
    assert message in page and 'name="description"' not in page
    response = client.post(REPORT, report_data(hub, tree))
    assert response.status_code == 400 and message in text(response)
    assert not Event.objects.exists()
