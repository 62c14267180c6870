"""Settings come only from the environment: production refuses the public development secrets,
malformed values stop start-up naming the variable, and ``*_FILE`` secrets are read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from linli.core.management.commands.keys import generate_env_lines

ROOT = Path(__file__).resolve().parent.parent
PRINT = "import linli.settings as s; print(s.SECRET_KEY); print(s.LINLI_AUDIT_CHECKPOINT_MINUTES)"


def _settings_process(env: dict[str, str], code: str = PRINT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "DATABASE_URL"))}
    clean.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _fresh_keys() -> dict[str, str]:
    """Fresh keys plus what production needs besides them: PostgreSQL and the served hosts."""
    return {
        **dict(line.split("=", 1) for line in generate_env_lines()),
        "DATABASE_URL": "postgres://linli@127.0.0.1:5432/linli",
        "LINLI_ALLOWED_HOSTS": "linli.example.gov.cn",
    }


def test_production_refuses_every_development_default_and_names_them() -> None:
    result = _settings_process({"LINLI_MODE": "production"})
    assert result.returncode != 0
    for name in (
        "LINLI_SECRET_KEY",
        "LINLI_SM4_KEYS",
        "LINLI_BLIND_INDEX_KEY",
        "LINLI_AUDIT_SIGNING_KEY",
        "LINLI_AUDIT_VERIFY_KEY",
    ):
        assert name in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "PostgreSQL"),
        ({"LINLI_DEBUG": "true"}, "LINLI_DEBUG"),
        ({"LINLI_ALLOWED_HOSTS": ""}, "LINLI_ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_unsafe_deployment_settings(
    change: dict[str, str], message: str
) -> None:
    result = _settings_process({"LINLI_MODE": "production", **_fresh_keys(), **change})
    assert result.returncode != 0
    assert message in result.stderr


def test_mismatched_audit_key_pair_stops_start_up() -> None:
    other = _fresh_keys()["LINLI_AUDIT_VERIFY_KEY"]
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='linli.settings'; django.setup()"
    )
    result = _settings_process({"LINLI_AUDIT_VERIFY_KEY": other}, code)
    assert result.returncode != 0
    assert "not one SM2 key pair" in result.stderr


def test_production_refuses_only_the_default_it_still_has() -> None:
    keys = _fresh_keys()
    keys.pop("LINLI_BLIND_INDEX_KEY")
    result = _settings_process({"LINLI_MODE": "production", **keys})
    assert result.returncode != 0
    assert "LINLI_BLIND_INDEX_KEY" in result.stderr
    assert "LINLI_SECRET_KEY" not in result.stderr.split("Production mode refuses")[-1]


def test_production_starts_with_fresh_keys() -> None:
    result = _settings_process({"LINLI_MODE": "production", **_fresh_keys()})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LINLI_DEBUG", "maybe"),
        ("LINLI_AUDIT_CHECKPOINT_MINUTES", "often"),
        ("LINLI_AUDIT_CHECKPOINT_MINUTES", "0"),
        ("LINLI_SM4_KEYS", "k1:0011"),
        ("LINLI_SM4_KEYS", "no-separator"),
        ("LINLI_BLIND_INDEX_KEY", "zz"),
        ("LINLI_SM4_ACTIVE_KEY", "missing"),
        ("LINLI_MODE", "staging"),
        ("LINLI_MAX_BODY_BYTES", "-1"),
    ],
)
def test_malformed_value_stops_startup_naming_the_variable(name: str, value: str) -> None:
    result = _settings_process({name: value})
    assert result.returncode != 0
    assert "ImproperlyConfiguredError" in result.stderr
    assert name in result.stderr


def test_secret_is_read_from_the_file_named_by_its_file_variable(tmp_path: Path) -> None:
    secret = "s" * 50
    (tmp_path / "secret").write_text(secret + "\n", encoding="utf-8")
    (tmp_path / "minutes").write_text("15", encoding="utf-8")
    result = _settings_process(
        {
            "LINLI_SECRET_KEY_FILE": str(tmp_path / "secret"),
            "LINLI_AUDIT_CHECKPOINT_MINUTES_FILE": str(tmp_path / "minutes"),
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [secret, "15"]


def test_unreadable_secret_file_stops_startup() -> None:
    result = _settings_process({"LINLI_SECRET_KEY_FILE": "/nonexistent/linli-secret"})
    assert result.returncode != 0
    assert "LINLI_SECRET_KEY_FILE" in result.stderr
