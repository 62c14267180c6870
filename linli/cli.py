"""The ``linli`` command: every management command, plus ``linli serve``, ``linli demo`` and
``linli keys``."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _prepare_sqlite_directory() -> None:
    """The embedded database lives in LINLI_DATA_DIR, which a fresh checkout does not have yet."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) != ":memory:":
        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    from django.core.management import execute_from_command_line

    args = sys.argv[1:] if argv is None else argv
    _prepare_sqlite_directory()
    execute_from_command_line(["linli", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
