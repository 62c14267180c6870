"""The Celery app for production: ``celery -A linli worker`` and ``celery -A linli beat``.

Configured from Django settings (``CELERY_*``); beat's schedule is the periodic job registry of
``linli.core.jobs``, so a job declared once runs the same way under beat and under ``linli serve``.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")

app = Celery("linli")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["linli.core"])


def beat_schedule() -> dict[str, dict[str, Any]]:
    from linli.core.jobs import registry

    return {
        name: {
            "task": "linli.core.tasks.run_periodic_job",
            "schedule": float(job.seconds),
            "args": (name,),
            # A tick that waited longer than its interval is superseded by the next one.
            "options": {"expires": float(job.seconds)},
        }
        for name, job in sorted(registry().items())
    }


@app.on_after_configure.connect
def _configure_beat(sender: Celery, **kwargs: Any) -> None:
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()
    sender.conf.beat_schedule = beat_schedule()
