"""Sending notifications: always to the in-app inbox, and through the configured providers after
the transaction commits (a rolled-back change notifies nobody)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from linli.core.jobs import background, enqueue
from linli.notifications.channels import log, providers
from linli.notifications.models import Delivery, Notification


def notify(
    recipients: Iterable[Any],
    title: str,
    body: str = "",
    *,
    link: str = "",
    subject: Any = None,
) -> list[Notification]:
    users = {user.pk: user for user in recipients if user is not None and user.is_active}
    if not users:
        return []
    subject_type = subject._meta.label_lower if subject is not None else ""
    subject_id = str(subject.pk) if subject is not None else ""
    created = Notification.objects.bulk_create(
        Notification(
            recipient_id=pk,
            title=title[:200],
            body=body,
            link=link[:300],
            subject_type=subject_type,
            subject_id=subject_id,
        )
        for pk in users
    )
    if providers():
        ids = [n.pk for n in created if n.pk is not None]
        if ids:
            enqueue("linli.notifications.services.deliver", ids)
    return created


def notify_many(
    messages: Iterable[tuple[Iterable[Any], str, str, str, Any]],
) -> list[Notification]:
    """Many notifications in one insert: (recipients, title, body, link, subject) each; the
    periodic sweep escalating a backlog uses it."""
    rows = []
    for recipients, title, body, link, subject in messages:
        subject_type = subject._meta.label_lower if subject is not None else ""
        subject_id = str(subject.pk) if subject is not None else ""
        for user in {u.pk: u for u in recipients if u is not None and u.is_active}.values():
            rows.append(
                Notification(
                    recipient_id=user.pk,
                    title=title[:200],
                    body=body,
                    link=link[:300],
                    subject_type=subject_type,
                    subject_id=subject_id,
                )
            )
    created = Notification.objects.bulk_create(rows, batch_size=1000)
    ids = [n.pk for n in created if n.pk is not None]
    if ids and providers():
        enqueue("linli.notifications.services.deliver", ids)
    return created


@background
def deliver(notification_ids: list[int]) -> None:
    """Hand notifications to the outside channels; a failing provider is recorded, not raised."""
    deliveries = []
    for notification in Notification.objects.filter(pk__in=notification_ids).select_related(
        "recipient"
    ):
        for provider in providers():
            try:
                ok, detail = provider.send(
                    notification.recipient, notification.title, notification.body
                )
            except Exception as exc:
                log.warning("provider %s failed: %s", provider.name, exc)
                ok, detail = False, type(exc).__name__
            deliveries.append(
                Delivery(
                    notification=notification,
                    channel=provider.channel,
                    provider=provider.name,
                    ok=ok,
                    detail=str(detail)[:300],
                )
            )
    Delivery.objects.bulk_create(deliveries)


def unread_count(user: Any) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user: Any, ids: Iterable[int] | None = None) -> int:
    queryset = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    return queryset.update(read_at=timezone.now())
