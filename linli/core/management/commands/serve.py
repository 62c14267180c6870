"""``linli serve``: migrate, collect static files in production, serve with waitress.

In the embedded mode the same process also runs the periodic jobs (no Redis, no Celery)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from linli.core import jobs

logger = logging.getLogger("linli.serve")


def _proxy_options() -> dict[str, Any]:
    """Behind nginx, let waitress take the client address from X-Forwarded-For sent by the
    trusted proxy; otherwise it strips the header and every client looks like 127.0.0.1."""
    if not settings.LINLI_TRUST_PROXY or not settings.LINLI_TRUSTED_PROXIES:
        return {}
    return {
        "trusted_proxy": settings.LINLI_TRUSTED_PROXIES[0],
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for"},
        "clear_untrusted_proxy_headers": True,
    }


class Command(BaseCommand):
    help = "Run the platform with waitress (embedded mode also runs the periodic jobs)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument(
            "--no-jobs", action="store_true", help="do not run periodic jobs in this process"
        )
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")

    def handle(self, *args: Any, **options: Any) -> None:
        from waitress import serve

        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        if settings.PRODUCTION:
            # The manifest storage needs collected files; collectstatic copies only what changed.
            call_command("collectstatic", interactive=False, verbosity=0)
        # Imported only now: WhiteNoise indexes the collected files when the app is built.
        from linli.wsgi import application

        scheduler = None
        if settings.LINLI_MODE == "embedded" and not options["no_jobs"]:
            scheduler = jobs.Scheduler()
            scheduler.start()
            self.stdout.write(f"Periodic jobs: {', '.join(sorted(jobs.registry()))}")

        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"Linli 邻里 is serving on {url} (Ctrl+C stops)"))
        self.stdout.flush()
        try:
            serve(
                application,
                host=options["host"],
                port=options["port"],
                threads=options["threads"],
                ident="linli",
                # Large Excel uploads are checked (and refused in Chinese) by the views.
                max_request_body_size=1024**3,
                **_proxy_options(),
            )
        finally:
            if scheduler is not None:
                scheduler.stop()
