"""``linli regions load [--file F]``: load a region slice (idempotent)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from linli.regions import services


class Command(BaseCommand):
    help = "Manage the region tree from the command line."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        load = sub.add_parser("load", help="Load a region slice; codes already present are kept.")
        load.add_argument(
            "--file",
            type=Path,
            default=None,
            help="JSON slice (default: the shipped Pingyin county).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path | None = options.get("file")
        if path is not None and not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            created, total = services.load_slice(path)
        except (ValueError, KeyError) as exc:
            raise CommandError(f"The slice is not valid: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"{created} regions created, {total - created} already present.")
        )
