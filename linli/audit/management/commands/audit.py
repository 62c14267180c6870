"""``linli audit verify`` and ``linli audit checkpoint``."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from linli.audit import services


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and checkpoints, or sign a new checkpoint."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser(
            "verify",
            help="Recompute every hash and checkpoint; exit 1 naming the first bad entry.",
        )
        verify.add_argument(
            "--anchors",
            type=Path,
            help="anchor file to check too (default: LINLI_AUDIT_ANCHOR_FILE)",
        )
        sub.add_parser("checkpoint", help="Sign the chain's current length and head.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "checkpoint":
            self.checkpoint()
        else:
            self.verify(options.get("anchors"))

    def checkpoint(self) -> None:
        checkpoint = services.create_checkpoint()
        if checkpoint is None:
            self.stdout.write("Nothing new to sign: the last checkpoint covers the whole chain.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint {checkpoint.id} signed: {checkpoint.seq} entries, "
                f"head {checkpoint.head_hash}"
            )
        )

    def verify(self, anchors: Path | None = None) -> None:
        if anchors is not None and not anchors.exists():
            self.stderr.write(self.style.ERROR(f"Anchor file {anchors} does not exist."))
            sys.exit(2)
        result = services.verify_chain(anchors=anchors)
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Audit trail intact: {result.entries} entries, "
                    f"{result.checkpoints} checkpoints verified."
                )
            )
            return
        where = f"seq {result.first_bad_seq}"
        where += f", id {result.first_bad_id}" if result.first_bad_id is not None else " (removed)"
        self.stderr.write(self.style.ERROR(f"Audit trail TAMPERED: first bad entry {where}."))
        for problem in result.problems:
            self.stderr.write(f"  - {problem}")
        self.stderr.write(
            f"{result.entries} entries and {result.checkpoints} checkpoints read, "
            f"{len(result.problems)} problems."
        )
        sys.exit(1)
