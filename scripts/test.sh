#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this with CI=true):
#   lint (ruff), format check, types (mypy), migrations check, pytest on SQLite,
#   pytest on PostgreSQL, and the real-browser test in headless Chromium.
# Needs only Python 3.11+; installs the project with its dev extras into .venv-test.
# With CI=true a missing PostgreSQL, Redis or Chromium fails the run instead of skipping.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv-test"
PG_URL="${LINLI_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/linli_ci}"
CI="${CI:-false}"
LOGS="$ROOT/test-artifacts/logs"
mkdir -p "$LOGS"

say() { printf '\n==> %s\n' "$*"; }

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

PYTHON=$(find_python) || { echo "test.sh: Python 3.11 or newer is required" >&2; exit 1; }

# ---------------------------------------------------------------- environment
if [ ! -x "$VENV/bin/python" ]; then
    say "Creating $VENV"
    "$PYTHON" -m venv "$VENV" || exit 1
fi
STAMP="$VENV/.linli-installed"
WANT=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    say "Installing linli with its dev dependencies"
    "$VENV/bin/python" -m pip install -q --upgrade pip || exit 1
    "$VENV/bin/python" -m pip install -q -e '.[dev]' || exit 1
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"

BROWSER=yes
have_cjk_fonts() { command -v fc-list >/dev/null 2>&1 && fc-list : family | grep -i 'CJK' >/dev/null; }
if [ ! -x /usr/bin/chromium ] || ! have_cjk_fonts; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing Chromium and CJK fonts from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk || true
    fi
fi
if [ ! -x /usr/bin/chromium ]; then
    if [ "$CI" = "true" ]; then
        echo "test.sh: /usr/bin/chromium is missing and could not be installed (CI=true)" >&2
        exit 1
    fi
    BROWSER=no
    echo
    echo "!!!!!!!! /usr/bin/chromium is missing: THE BROWSER TESTS WILL BE SKIPPED !!!!!!!!"
    echo "!!!!!!!! install it with: sudo apt-get install chromium fonts-noto-cjk    !!!!!!!!"
fi

# ---------------------------------------------------------------- steps
FAILED_STEPS=()
PASSED_STEPS=()
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0

run_step() {
    local name=$1
    shift
    say "$name"
    local log="$LOGS/${name// /_}.log"
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    if [ "$status" -eq 0 ]; then PASSED_STEPS+=("$name"); else FAILED_STEPS+=("$name (exit $status)"); fi
    # Add up pytest's closing line ("3 failed, 120 passed, 2 skipped in 9.1s").
    local closing
    closing=$(grep -E '^=*\s*[0-9]+ (passed|failed|error|errors|skipped)' "$log" | tail -1 || true)
    if [ -n "$closing" ]; then
        local n
        n=$(grep -oE '[0-9]+ passed' <<<"$closing" | cut -d' ' -f1); TOTAL_PASSED=$((TOTAL_PASSED + ${n:-0}))
        n=$(grep -oE '[0-9]+ failed' <<<"$closing" | cut -d' ' -f1); TOTAL_FAILED=$((TOTAL_FAILED + ${n:-0}))
        n=$(grep -oE '[0-9]+ errors?' <<<"$closing" | cut -d' ' -f1); TOTAL_FAILED=$((TOTAL_FAILED + ${n:-0}))
        n=$(grep -oE '[0-9]+ skipped' <<<"$closing" | cut -d' ' -f1); TOTAL_SKIPPED=$((TOTAL_SKIPPED + ${n:-0}))
    fi
    return 0
}

postgres_reachable() {
    "$VENV/bin/python" - "$PG_URL" <<'PYEOF'
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg

url = urlsplit(sys.argv[1])
admin = urlunsplit((url.scheme.replace("postgres", "postgresql", 1) if url.scheme == "postgres" else url.scheme,
                    url.netloc, "/postgres", "", ""))
try:
    psycopg.connect(admin, connect_timeout=3).close()
except Exception as exc:  # any failure means: not usable for the test run
    print(f"PostgreSQL at {url.hostname}:{url.port or 5432} is unreachable: {exc}", file=sys.stderr)
    sys.exit(1)
PYEOF
}

run_step "ruff check" ruff check linli tests
run_step "ruff format" ruff format --check linli tests
run_step "mypy" mypy linli
run_step "migrations" env -u DATABASE_URL linli makemigrations --check --dry-run
run_step "pytest sqlite" env -u DATABASE_URL pytest -n auto -m "not browser" -q

if postgres_reachable; then
    run_step "pytest postgresql" env DATABASE_URL="$PG_URL" pytest -n auto -m "not browser" -q
elif [ "$CI" = "true" ]; then
    FAILED_STEPS+=("pytest postgresql (PostgreSQL unreachable at $PG_URL; CI=true requires it)")
    echo "test.sh: PostgreSQL is unreachable and CI=true: failing the run" >&2
else
    echo
    echo "!!!!!!!! PostgreSQL unreachable at $PG_URL: SKIPPING THE POSTGRESQL PASS !!!!!!!!"
fi

if [ "$BROWSER" = "yes" ]; then
    run_step "pytest browser" env -u DATABASE_URL pytest -m browser -q -p no:xdist
fi

# ---------------------------------------------------------------- summary
echo
echo "================================ summary ================================"
for step in "${PASSED_STEPS[@]}"; do echo "  ok      $step"; done
for step in "${FAILED_STEPS[@]+"${FAILED_STEPS[@]}"}"; do echo "  FAILED  $step"; done
echo "steps: ${#PASSED_STEPS[@]} ok, ${#FAILED_STEPS[@]} failed"
echo "tests: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
[ "${#FAILED_STEPS[@]}" -eq 0 ]
