"""``linli assess``: evaluate a community against the standard's tiers from the command line.

    linli assess 370124001022 --tier 基础型 --format json
    linli assess 370124001022 --tier 成长型 --figures figures.yaml --date 2024-09-18
    linli assess --figures figures.yaml --tier 标杆型          (a community not in the register)
    linli assess --figures-template 成长型 > figures.yaml

Exit codes: 0 evaluated (whatever the verdict), 2 bad input (every problem on stderr).
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation
from django.utils.translation import gettext as _

from linli.assessment import services
from linli.assessment.figures import BadFigures, load_figures_file, parse_date
from linli.assessment.render import FORMATS, figures_template, render
from linli.assessment.standard import StandardFileError, available_versions, load_standard
from linli.core.errors import ServiceError
from linli.regions.models import RegionNode

BAD_INPUT = 2


class Command(BaseCommand):
    help = (
        "Evaluate a community against DB37/T 3890.3 (基础型/成长型/标杆型) from the platform's "
        "records, stored manual figures and a figures file; or print the figures template."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("code", nargs="?", help="community code (omit to use --figures alone)")
        parser.add_argument(
            "--tier", help="基础型 | 成长型 | 标杆型 (or basic | growth | benchmark)"
        )
        parser.add_argument("--figures", type=Path, help="figures file (YAML or JSON)")
        parser.add_argument("--date", help="assessment date, YYYY-MM-DD (default: today)")
        parser.add_argument("--format", default="text", help=f"one of {', '.join(FORMATS)}")
        parser.add_argument("--output", type=Path, help="write to this file instead of stdout")
        parser.add_argument(
            "--override",
            action="store_true",
            help="let the figures file replace figures the platform computes (marked override)",
        )
        parser.add_argument(
            "--standard", help=f"standard version (available: {', '.join(available_versions())})"
        )
        parser.add_argument(
            "--figures-template", metavar="TIER", help="print the figures template of a tier"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            try:
                output = self.run(options)
            except BadFigures as exc:
                self.fail(_("The figures cannot be evaluated:"), exc.problems)
            except StandardFileError as exc:
                self.fail(_("The standard cannot be loaded:"), exc.problems)
            except ServiceError as exc:
                self.fail(str(exc.message), [])
            else:
                self.emit(output, options.get("output"))

    def run(self, options: dict[str, Any]) -> str | bytes:
        standard = load_standard(options.get("standard"))
        if options.get("figures_template"):
            tier = services.resolve_tier(standard, options["figures_template"])
            fmt = "json" if options.get("format") == "json" else "yaml"
            return figures_template(standard, tier, fmt)
        problems: list[str] = []
        if not options.get("tier"):
            problems.append(_("Name the tier to evaluate with --tier (基础型, 成长型 or 标杆型)."))
        fmt = options.get("format") or "text"
        on = parse_date(options["date"], problems) if options.get("date") else None
        code = options.get("code")
        if not code and not options.get("figures"):
            problems.append(
                _(
                    "Give a community code, or --figures FILE to evaluate a community that is "
                    "not in the register."
                )
            )
        if problems:
            raise BadFigures(problems)
        document = (
            load_figures_file(standard, options["figures"]) if options.get("figures") else None
        )
        if code:
            region = RegionNode.objects.filter(code=code).first()
            if region is None:
                raise ServiceError(
                    "region.not_found",
                    _(
                        "There is no region with the code %(code)s; to evaluate a community that "
                        "is not in the register, give --figures without a code."
                    )
                    % {"code": code},
                )
            result = services.evaluate_community(
                region,
                tier=options["tier"],
                on=on or (document.on if document else None),
                given=document.figures if document else None,
                allow_override=bool(options.get("override")),
                standard=standard,
                fresh_audit=True,
            )
        else:
            assert document is not None
            result = services.evaluate_figures(
                document, tier=options["tier"], on=on, standard=standard
            )
        return render(result, fmt)

    def emit(self, output: str | bytes, path: Path | None) -> None:
        if path is not None:
            if isinstance(output, bytes):
                path.write_bytes(output)
            else:
                path.write_text(output, encoding="utf-8")
            return
        if isinstance(output, bytes):
            sys.stdout.buffer.write(output)
        else:
            self.stdout.write(output, ending="")

    def fail(self, headline: str, problems: list[str]) -> None:
        self.stderr.write(headline)
        for problem in problems:
            self.stderr.write(f"  - {problem}")
        sys.exit(BAD_INPUT)
