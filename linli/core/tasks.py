"""Celery tasks: thin wrappers that run registered jobs and background functions."""

from __future__ import annotations

from typing import Any

from linli.celery import app
from linli.core import jobs


@app.task(name="linli.core.tasks.run_periodic_job", ignore_result=True)
def run_periodic_job(name: str) -> bool:
    return jobs.run_job(name)


@app.task(name="linli.core.tasks.run_background", ignore_result=True)
def run_background(path: str, args: list[Any]) -> None:
    jobs.resolve_background(path)(*args)
