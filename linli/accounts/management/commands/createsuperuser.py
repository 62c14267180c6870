"""Refused: Linli has no superuser, and passwords follow the policy (三员分立)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Disabled in Linli; use 'linli accounts bootstrap' or 'linli accounts reset-password'."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("args", nargs="*")
        parser.add_argument("--noinput", "--no-input", action="store_true")
        parser.add_argument("--username")
        parser.add_argument("--email")
        parser.add_argument("--database")

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError(
            "Linli has no superuser: the system, security and audit administrators are kept "
            "apart. Use 'linli accounts bootstrap --region CODE' on a new installation and "
            "'linli accounts reset-password USERNAME' to reset a password."
        )
