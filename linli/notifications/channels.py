"""Outside notification channels as provider interfaces.

A provider is a class with ``channel`` ("sms", "wechat"), ``name`` and ``send(user, title,
body) -> (ok, detail)``. ``LINLI_NOTIFY_PROVIDERS`` lists dotted paths; the default mode uses
the logging providers, which write what would be sent to the log (never the phone number).
A real SMS gateway or WeChat template-message provider is one class away.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("linli.notifications")


class Provider(Protocol):
    channel: str
    name: str

    def send(self, user: Any, title: str, body: str) -> tuple[bool, str]: ...


class LoggingSmsProvider:
    channel = "sms"
    name = "logging"

    def send(self, user: Any, title: str, body: str) -> tuple[bool, str]:
        log.debug("sms to user %s: %s", user.pk, title)
        return True, "logged"


class LoggingWeChatProvider:
    channel = "wechat"
    name = "logging"

    def send(self, user: Any, title: str, body: str) -> tuple[bool, str]:
        log.debug("wechat to user %s: %s", user.pk, title)
        return True, "logged"


DEFAULT_PROVIDERS = (
    "linli.notifications.channels.LoggingSmsProvider",
    "linli.notifications.channels.LoggingWeChatProvider",
)


@cache
def providers() -> tuple[Provider, ...]:
    paths = getattr(settings, "LINLI_NOTIFY_PROVIDERS", DEFAULT_PROVIDERS)
    return tuple(import_string(path)() for path in paths)
