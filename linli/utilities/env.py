"""Typed helpers that read settings from environment variables and fail loudly.

Every setting of the platform comes from the environment (or a ``*_FILE`` variable naming a
file that holds the value, for secrets mounted by the orchestrator). A malformed value stops
start-up with a message naming the variable instead of running with a surprise.
"""

from __future__ import annotations

import os
from pathlib import Path


class ImproperlyConfiguredError(RuntimeError):
    """A setting from the environment is missing or malformed."""


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfiguredError(
                f"{name}_FILE={file_name!r} cannot be read: {exc}"
            ) from exc
    return os.environ.get(name)


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfiguredError(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ImproperlyConfiguredError(f"{name}={value!r} is not an integer") from exc
    if minimum is not None and number < minimum:
        raise ImproperlyConfiguredError(f"{name}={number} is below the minimum {minimum}")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None or value.strip() == "":
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_hex_bytes(name: str, default: str, length: int) -> bytes:
    """A key given as hex; its decoded length is checked so a truncated key cannot slip in."""
    value = env_str(name, default)
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise ImproperlyConfiguredError(f"{name} is not valid hex") from exc
    if len(raw) != length:
        raise ImproperlyConfiguredError(f"{name} must be {length} bytes ({length * 2} hex digits)")
    return raw


def env_key_ring(name: str, default: str) -> dict[str, bytes]:
    """SM4 keys written as ``id:hex,id:hex``; old values stay readable after a rotation."""
    value = env_str(name, default)
    ring: dict[str, bytes] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, sep, hex_key = item.partition(":")
        if not sep or not key_id.isalnum():
            raise ImproperlyConfiguredError(f"{name}: entries must look like 'k1:<32 hex digits>'")
        try:
            key = bytes.fromhex(hex_key)
        except ValueError as exc:
            raise ImproperlyConfiguredError(f"{name}: key {key_id!r} is not valid hex") from exc
        if len(key) != 16:
            raise ImproperlyConfiguredError(f"{name}: key {key_id!r} must be 16 bytes")
        if key_id in ring:
            raise ImproperlyConfiguredError(f"{name}: key id {key_id!r} appears twice")
        ring[key_id] = key
    if not ring:
        raise ImproperlyConfiguredError(f"{name} holds no key")
    return ring
