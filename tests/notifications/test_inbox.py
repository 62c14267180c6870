"""The in-app inbox: newest first, unread marked, read one by one or all at once, each opening
its subject; nobody reads another's notifications."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils.translation import gettext

from linli.notifications.models import Notification
from linli.notifications.services import notify, unread_count

pytestmark = pytest.mark.django_db


def body(response: Any) -> str:
    return response.content.decode()


def test_the_inbox_lists_newest_first_and_marks_the_unread(login: Any, personas: Any) -> None:
    user = personas.community_worker_a
    notify([user], "第一条通知", "较早", link="/events/")
    notify([user], "第二条通知", "较新", link="/events/list/")
    notify([personas.community_worker_b], "别人的通知")
    page = body(login(user).get(reverse("notifications:inbox")))
    assert page.index("第二条通知") < page.index("第一条通知")
    assert "别人的通知" not in page
    assert page.count('class="unread"') == 2
    assert gettext("Mark all as read") in page
    # The navigation carries the unread count.
    assert gettext("Notifications (%(count)d unread)") % {"count": 2} in page


def test_marking_read_one_and_all(login: Any, personas: Any) -> None:
    user = personas.community_worker_a
    first, _second = (notify([user], title)[0] for title in ("甲", "乙"))
    client = login(user)
    assert client.post(reverse("notifications:mark_read", args=[first.pk])).status_code == 302
    first.refresh_from_db()
    assert first.read_at is not None and unread_count(user) == 1
    unread_page = body(client.get(reverse("notifications:inbox"), {"unread": "1"}))
    assert "乙" in unread_page and ">甲<" not in unread_page
    assert client.post(reverse("notifications:mark_all_read")).status_code == 302
    assert unread_count(user) == 0
    page = body(client.get(reverse("notifications:inbox")))
    assert 'class="unread"' not in page
    assert gettext("Notifications (%(count)d unread)") % {"count": 1} not in page
    # Reading is a POST: a GET changes nothing.
    assert client.get(reverse("notifications:mark_all_read")).status_code == 405


def test_opening_a_notification_marks_it_read_and_goes_to_its_subject(
    login: Any, personas: Any
) -> None:
    user = personas.community_worker_a
    note = notify([user], "事件已分拨", link="/events/list/")[0]
    response = login(user).post(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 302 and response["Location"] == "/events/list/"
    note.refresh_from_db()
    assert note.read_at is not None
    # A link to another site is never followed.
    outside = notify([user], "外链", link="https://example.com/phish")[0]
    response = login(user).post(reverse("notifications:open", args=[outside.pk]))
    assert response["Location"] == reverse("notifications:inbox")


def test_nobody_reads_or_marks_another_users_notifications(login: Any, personas: Any) -> None:
    note = notify([personas.community_worker_b], "锦东社区的通知")[0]
    client = login(personas.community_worker_a)
    assert client.post(reverse("notifications:mark_read", args=[note.pk])).status_code == 404
    assert client.post(reverse("notifications:open", args=[note.pk])).status_code == 404
    client.post(reverse("notifications:mark_all_read"))
    note.refresh_from_db()
    assert note.read_at is None
    assert Notification.objects.filter(recipient=personas.community_worker_b).count() == 1


def test_every_signed_in_user_has_an_inbox(login: Any, personas: Any, client: Any) -> None:
    for persona in (personas.resident, personas.department_handler, personas.audit_admin):
        assert login(persona).get(reverse("notifications:inbox")).status_code == 200
    client.logout()
    assert client.get(reverse("notifications:inbox")).status_code == 302
