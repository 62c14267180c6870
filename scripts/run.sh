#!/usr/bin/env bash
# Run Linli 邻里 with demo data on this machine: SQLite in ./var, no other service needed.
# Needs only Python 3.11+. Creates .venv, installs the project, migrates, loads the demo county
# and accounts (printing the logins), then serves http://127.0.0.1:8000 (PORT=... to change).
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="$(pwd)/.venv"

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

PYTHON=$(find_python) || { echo "run.sh: Python 3.11 or newer is required" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> Creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.linli-installed"
WANT=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "==> Installing linli"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e .
    echo "$WANT" > "$STAMP"
fi

echo "==> Preparing the database"
"$VENV/bin/linli" migrate --verbosity 0
"$VENV/bin/linli" demo
echo
echo "==> Starting Linli on http://127.0.0.1:${PORT:-8000}/"
exec "$VENV/bin/linli" serve --host 127.0.0.1 --port "${PORT:-8000}"
