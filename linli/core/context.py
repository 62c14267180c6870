"""Who is acting and from where, for the audit trail, set once per request or command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)  # frozen, so the ContextVar default cannot be mutated
class Actor:
    user: Any = None
    source_ip: str | None = None
    channel: str = "web"


_SYSTEM = Actor(channel="system")
_current: ContextVar[Actor] = ContextVar("linli_actor", default=_SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(
    user: Any = None, source_ip: str | None = None, channel: str = "web"
) -> Iterator[Actor]:
    actor = Actor(user=user, source_ip=source_ip, channel=channel)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
