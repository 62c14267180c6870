"""Periodic jobs, the tick claim, the embedded scheduler, background tasks and Celery."""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache

from linli.audit.models import AuditCheckpoint
from linli.audit.services import record
from linli.core import jobs

CALLS: list[Any] = []
CELERY_SEEN: dict[str, threading.Event] = {}


@jobs.background
def remember_call(value: Any) -> None:
    CALLS.append(value)


@jobs.background
def signal_from_worker(token: str) -> None:
    CELERY_SEEN[token].set()


@pytest.fixture(autouse=True)
def _clean_state() -> Any:
    cache.clear()
    CALLS.clear()
    yield
    cache.clear()
    jobs._PERIODIC.pop("test.failing", None)
    jobs._PERIODIC.pop("test.counting", None)


def test_audit_checkpoint_is_registered_at_the_configured_interval() -> None:
    job = jobs.registry()["audit.checkpoint"]
    assert job.seconds == settings.LINLI_AUDIT_CHECKPOINT_MINUTES * 60


def test_checkpoint_job_signs_the_chain_once_per_tick(db: Any) -> None:
    record("create", object_type="test.thing", object_repr="first")
    assert jobs.run_job("audit.checkpoint", now=1_000_000.0) is True
    assert AuditCheckpoint.objects.count() == 1
    # A second worker in the same tick finds the tick claimed and does nothing.
    assert jobs.run_job("audit.checkpoint", now=1_000_001.0) is False
    record("create", object_type="test.thing", object_repr="second")
    assert jobs.run_job("audit.checkpoint", now=1_000_001.0) is False
    assert AuditCheckpoint.objects.count() == 1


def test_checkpoint_job_run_twice_in_later_ticks_adds_nothing_new(db: Any) -> None:
    record("create", object_type="test.thing", object_repr="only")
    seconds = jobs.registry()["audit.checkpoint"].seconds
    assert jobs.run_job("audit.checkpoint", now=0.0)
    assert jobs.run_job("audit.checkpoint", now=float(seconds))
    assert AuditCheckpoint.objects.count() == 1
    assert AuditCheckpoint.objects.get().seq == 1


def test_failing_job_gives_its_tick_back_for_a_retry() -> None:
    attempts: list[int] = []

    @jobs.periodic("test.failing", 60)
    def failing() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    with pytest.raises(RuntimeError):
        jobs.run_job("test.failing", now=120.0)
    assert jobs.run_job("test.failing", now=121.0) is True
    assert len(attempts) == 2


def test_scheduler_logs_a_failing_job_and_keeps_running_the_others(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    counted: list[float] = []

    @jobs.periodic("test.failing", 60)
    def failing() -> None:
        raise RuntimeError("boom")

    @jobs.periodic("test.counting", 60)
    def counting() -> None:
        counted.append(1.0)

    scheduler = jobs.Scheduler()
    ran = scheduler.run_pending(1_000.0)
    assert "test.counting" in ran and "test.failing" not in ran
    assert "job test.failing failed" in caplog.text
    # Not due again before the interval has passed, due again after it.
    assert "test.counting" not in scheduler.run_pending(1_030.0)
    assert "test.counting" in scheduler.run_pending(1_061.0)
    assert len(counted) == 2


def test_periodic_name_cannot_be_taken_by_another_function() -> None:
    with pytest.raises(ValueError, match="registered twice"):

        @jobs.periodic("audit.checkpoint", 60)
        def impostor() -> None:
            pass


def test_enqueue_runs_eager_tasks_only_after_commit(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        jobs.enqueue(f"{__name__}.remember_call", 7)
        assert CALLS == []
    assert len(callbacks) == 1
    assert CALLS == [7]


def test_enqueue_refuses_a_function_that_is_not_registered(db: Any) -> None:
    with pytest.raises(LookupError):
        jobs.enqueue("os.system", "true")


def test_beat_schedule_comes_from_the_job_registry() -> None:
    from linli.celery import beat_schedule

    schedule = beat_schedule()
    entry = schedule["audit.checkpoint"]
    assert entry["task"] == "linli.core.tasks.run_periodic_job"
    assert entry["args"] == ("audit.checkpoint",)
    assert entry["schedule"] == settings.LINLI_AUDIT_CHECKPOINT_MINUTES * 60


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis at {settings.CELERY_BROKER_URL} is unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_enqueue_sends_to_celery_through_redis_and_a_worker_runs_it(
    db: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _redis_or_skip()
    from celery.contrib.testing.worker import start_worker

    from linli.celery import app

    token = uuid.uuid4().hex
    CELERY_SEEN[token] = threading.Event()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            with django_capture_on_commit_callbacks(execute=True):
                jobs.enqueue(f"{__name__}.signal_from_worker", token)
            assert CELERY_SEEN[token].wait(timeout=30), "the worker never ran the task"
    finally:
        app.conf.task_always_eager = True
        CELERY_SEEN.pop(token, None)
