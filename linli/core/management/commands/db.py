"""``linli db harden --app-role R --owner-role O``: the PostgreSQL side of the append-only audit
trail — a separate owner for the audit tables and only SELECT and INSERT for the app's role."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from linli.audit import protection


class Command(BaseCommand):
    help = "Database administration tasks."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        harden = sub.add_parser(
            "harden",
            help="Give the audit tables a separate owner and revoke UPDATE/DELETE/TRUNCATE "
            "from the application role (PostgreSQL; run as a superuser).",
        )
        harden.add_argument("--app-role", required=True, help="The role the platform connects as.")
        harden.add_argument(
            "--owner-role",
            required=True,
            help="The audit tables' new owner (created NOLOGIN if missing).",
        )
        harden.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            raise CommandError(
                f"linli db harden works on PostgreSQL only; this database is {connection.vendor}. "
                "On SQLite the audit tables are protected by triggers alone."
            )
        try:
            with transaction.atomic(using=options["database"]):
                # Triggers first (re-enabled ALWAYS if anyone disabled them), then ownership.
                protection.install(connection)
                done = protection.harden_postgres(
                    connection, options["app_role"], options["owner_role"]
                )
        except protection.HardeningError as exc:
            raise CommandError(str(exc)) from exc
        for line in done:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Audit tables hardened."))
