"""Periodic and background jobs.

``@periodic(name, seconds)`` registers a job. In production Celery beat sends one task per job and
interval (``linli.celery``); in the embedded mode ``linli serve`` runs :class:`Scheduler`, a daemon
thread inside the server process. Either way a job runs through :func:`run_job`, which claims the
current tick first so two workers (or a beat and an embedded scheduler) never run the same tick,
and every job is written so that running it twice does no harm.

``enqueue("module.function", *args)`` runs a background function after the current transaction
commits: in-process when tasks are eager (embedded mode, tests), through Celery otherwise.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction

logger = logging.getLogger("linli.jobs")

JobFunction = Callable[[], Any]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    seconds: int
    function: JobFunction


_PERIODIC: dict[str, PeriodicJob] = {}
_BACKGROUND: dict[str, Callable[..., Any]] = {}


def _qualified(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def periodic(name: str, seconds: int) -> Callable[[JobFunction], JobFunction]:
    """Register ``function`` to run every ``seconds``; names are unique across the platform."""
    if seconds < 1:
        raise ValueError("A periodic job needs an interval of at least one second.")

    def register(function: JobFunction) -> JobFunction:
        existing = _PERIODIC.get(name)
        if existing is not None and _qualified(existing.function) != _qualified(function):
            raise ValueError(f"periodic job {name!r} is registered twice")
        _PERIODIC[name] = PeriodicJob(name=name, seconds=seconds, function=function)
        return function

    return register


def background(function: Callable[..., Any]) -> Callable[..., Any]:
    """Allow ``enqueue`` to run ``function``; only registered functions run from a task message."""
    _BACKGROUND[_qualified(function)] = function
    return function


def autodiscover() -> None:
    """Import every installed app's ``jobs`` module so its jobs register themselves."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("jobs")


def registry() -> dict[str, PeriodicJob]:
    autodiscover()
    return dict(_PERIODIC)


def _claim(name: str, seconds: int, now: float) -> str | None:
    """Claim the job's current tick in the shared cache; None when someone already holds it."""
    tick = int(now // seconds)
    key = f"linli:job:{name}:{tick}"
    # cache.add is atomic (SET NX on Redis): exactly one caller wins the tick.
    return key if cache.add(key, "1", timeout=seconds + 60) else None


def run_job(name: str, *, now: float | None = None) -> bool:
    """Run a registered job unless its current tick is already claimed; True when it ran."""
    job = registry().get(name)
    if job is None:
        raise KeyError(f"no periodic job named {name!r}")
    key = _claim(name, job.seconds, time.time() if now is None else now)
    if key is None:
        logger.info("job %s: tick already claimed, skipped", name)
        return False
    try:
        job.function()
    except Exception:
        # Give the tick back so a retry (the next scheduler pass or worker) may run it.
        cache.delete(key)
        raise
    logger.info("job %s: done", name)
    return True


def resolve_background(path: str) -> Callable[..., Any]:
    function = _BACKGROUND.get(path)
    if function is None:
        module_name = path.rpartition(".")[0]
        if module_name:
            importlib.import_module(module_name)  # registers it if the module declares it
        function = _BACKGROUND.get(path)
    if function is None:
        raise LookupError(f"{path!r} is not a registered background function")
    return function


def enqueue(path: str, *args: Any) -> None:
    """Run a registered background function with JSON-able args once the transaction commits."""
    resolve_background(path)  # fail now, in the caller, rather than later in a worker

    def send() -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            resolve_background(path)(*args)
        else:
            from linli.core.tasks import run_background

            run_background.delay(path, list(args))

    transaction.on_commit(send)


class Scheduler(threading.Thread):
    """The embedded mode's beat: runs each periodic job at start and then every interval."""

    def __init__(self, poll_seconds: float = 1.0) -> None:
        super().__init__(name="linli-jobs", daemon=True)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.due: dict[str, float] = {}

    def run_pending(self, now: float) -> list[str]:
        ran = []
        for name, job in registry().items():
            if now < self.due.get(name, 0.0):
                continue
            self.due[name] = now + job.seconds
            try:
                if run_job(name, now=now):
                    ran.append(name)
            except Exception:
                # A failing job is logged and retried next interval; it never stops the server.
                logger.exception("job %s failed", name)
            finally:
                connections.close_all()  # this thread's connections only
        return ran

    def run(self) -> None:
        while not self.stopping.is_set():
            self.run_pending(time.time())
            self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()


@periodic("audit.checkpoint", settings.LINLI_AUDIT_CHECKPOINT_MINUTES * 60)
def audit_checkpoint() -> None:
    """Sign the audit chain's head so a removed tail is detected (idempotent when nothing new)."""
    from linli.audit.services import create_checkpoint

    checkpoint = create_checkpoint()
    if checkpoint is not None:
        logger.info("audit checkpoint at #%s", checkpoint.seq)


@periodic("audit.verify", 600)
def audit_verify() -> None:
    """Re-verify the whole audit chain so the audit pages show a fresh result without
    verifying inside a page request."""
    from linli.audit.services import verification_status

    verification_status(refresh=True)
