"""The operator commands: ``linli demo``, ``linli keys generate`` and ``linli keys rotate``."""

from __future__ import annotations

import io
from typing import Any

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from linli.accounts.models import RoleAssignment, User
from linli.audit.models import AuditEntry
from linli.core.management.commands import demo, keys
from linli.regions.models import RegionNode
from linli.utilities import crypto
from linli.utilities.env import env_hex_bytes, env_key_ring

RING = "old1:00112233445566778899aabbccddeeff,new2:ffeeddccbbaa99887766554433221100"


def _stored_phone(user: User) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM accounts_user WHERE id = %s", [user.pk])
        value: str = cursor.fetchone()[0]
    return value


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# ---------------------------------------------------------------- demo


def test_demo_creates_one_usable_account_per_persona_with_scope(db: Any) -> None:
    output = _run("demo")
    assert "DEMO CREDENTIALS" in output and demo.DEMO_PASSWORD in output
    for spec in demo.ALL_ACCOUNTS:
        user = User.objects.get(username=spec.username)
        assert user.check_password(demo.DEMO_PASSWORD)
        assert user.must_change_password is False
        assert spec.username in output
    worker = User.objects.get(username="jinyuan_worker")
    assert worker.scope_codes() == ("370124001022",)
    grid_worker = User.objects.get(username="jinyuan_grid1")
    assert grid_worker.scope_codes()[0].startswith("370124001022")
    assert RegionNode.objects.get(code="370124001022001").name == "锦源社区第1网格"
    assert AuditEntry.objects.filter(object_type="core.demo").count() == 1


def test_demo_run_twice_changes_nothing_the_second_time(db: Any) -> None:
    _run("demo")
    counts = (User.objects.count(), RegionNode.objects.count(), RoleAssignment.objects.count())
    passwords = dict(User.objects.values_list("username", "password"))
    output = _run("demo")
    assert "grids created: 0, accounts created: 0" in output
    assert (
        User.objects.count(),
        RegionNode.objects.count(),
        RoleAssignment.objects.count(),
    ) == counts
    assert dict(User.objects.values_list("username", "password")) == passwords


def test_demo_reset_passwords_restores_a_changed_demo_password(db: Any) -> None:
    _run("demo")
    user = User.objects.get(username="county_op")
    user.set_password("Something-Else-99!")
    user.save(update_fields=["password"])
    _run("demo", "--reset-passwords")
    user.refresh_from_db()
    assert user.check_password(demo.DEMO_PASSWORD)


# ---------------------------------------------------------------- keys generate


def test_keys_generate_prints_keys_the_settings_accept(db: Any) -> None:
    output = _run("keys", "generate")
    values = dict(
        line.split("=", 1) for line in output.splitlines() if line and not line.startswith("#")
    )
    assert len(values["LINLI_SECRET_KEY"]) >= 40
    monkey = pytest.MonkeyPatch()
    try:
        for name, value in values.items():
            monkey.setenv(name, value)
        ring = env_key_ring("LINLI_SM4_KEYS", "")
        assert values["LINLI_SM4_ACTIVE_KEY"] in ring
        assert len(env_hex_bytes("LINLI_BLIND_INDEX_KEY", "", 32)) == 32
        private = env_hex_bytes("LINLI_AUDIT_SIGNING_KEY", "", 32)
        public = env_hex_bytes("LINLI_AUDIT_VERIFY_KEY", "", 64)
    finally:
        monkey.undo()
    signature = crypto.sm2_sign(private, public, b"checkpoint")
    assert crypto.sm2_verify(public, b"checkpoint", signature)
    assert _run("keys", "generate") != output


# ---------------------------------------------------------------- keys rotate


@pytest.fixture
def two_key_ring(settings: Any) -> Any:
    settings.LINLI_SM4_KEYS = _ring()
    settings.LINLI_SM4_ACTIVE_KEY = "old1"
    return settings


def _ring() -> dict[str, bytes]:
    ring = {}
    for item in RING.split(","):
        key_id, hex_key = item.split(":")
        ring[key_id] = bytes.fromhex(hex_key)
    return ring


def _user_with_phone(tree: Any, username: str, phone: str) -> User:
    return User.objects.create_user(
        username=username, password="x", phone=phone, home_region=tree.community_a
    )


def test_rotate_reencrypts_old_values_under_the_active_key_and_audits(
    tree: Any, two_key_ring: Any
) -> None:
    alice = _user_with_phone(tree, "alice", "13800000001")
    bob = _user_with_phone(tree, "bob", "13800000002")
    assert crypto.key_id_of(_stored_phone(alice)) == "old1"
    two_key_ring.LINLI_SM4_ACTIVE_KEY = "new2"

    output = _run("keys", "rotate", "--batch-size", "1")

    assert "Re-encrypted 2 values under key new2" in output
    for user, phone in ((alice, "13800000001"), (bob, "13800000002")):
        assert crypto.key_id_of(_stored_phone(user)) == "new2"
        assert User.objects.get(pk=user.pk).phone == phone
    entry = AuditEntry.objects.filter(action="key_rotate").get()
    assert entry.changes["rotated"] == "2"


def test_rotate_run_again_rewrites_nothing(tree: Any, two_key_ring: Any) -> None:
    alice = _user_with_phone(tree, "alice", "13800000001")
    two_key_ring.LINLI_SM4_ACTIVE_KEY = "new2"
    _run("keys", "rotate")
    stored = _stored_phone(alice)
    assert "Re-encrypted 0 values" in _run("keys", "rotate")
    assert _stored_phone(alice) == stored


def test_rotate_keeps_a_value_written_concurrently(
    tree: Any, two_key_ring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = _user_with_phone(tree, "alice", "13800000001")
    two_key_ring.LINLI_SM4_ACTIVE_KEY = "new2"
    real_decrypt = crypto.sm4_decrypt

    def decrypt_while_someone_writes(stored: str) -> str:
        # Another request saves a new phone between rotate's read and its write.
        User.objects.filter(pk=alice.pk).update(phone="13900000009")
        return real_decrypt(stored)

    monkeypatch.setattr(crypto, "sm4_decrypt", decrypt_while_someone_writes)
    report = keys.rotate_keys()
    monkeypatch.undo()
    assert report.rotated == 0 and report.skipped_concurrent == 1
    assert User.objects.get(pk=alice.pk).phone == "13900000009"


def test_rotate_fails_loudly_when_a_key_is_missing_from_the_ring(
    tree: Any, two_key_ring: Any
) -> None:
    alice = _user_with_phone(tree, "alice", "13800000001")
    two_key_ring.LINLI_SM4_KEYS = {"new2": _ring()["new2"]}
    two_key_ring.LINLI_SM4_ACTIVE_KEY = "new2"
    with pytest.raises(Exception, match="could not be decrypted"):
        _run("keys", "rotate")
    assert crypto.key_id_of(_stored_phone(alice)) == "old1"


# ---------------------------------------------------------------- start-up check


def test_startup_refuses_to_run_without_sm4(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sm4(*args: Any, **kwargs: Any) -> Any:
        raise UnsupportedAlgorithm("SM4 is not supported by this backend")

    monkeypatch.setattr(crypto.algorithms, "SM4", no_sm4)
    with pytest.raises(crypto.CryptoUnavailableError):
        apps.get_app_config("core").ready()


def test_client_ip_ignores_forged_and_malformed_forwarded_addresses(settings: Any) -> None:
    from django.test import RequestFactory

    from linli.core.middleware import client_ip

    settings.LINLI_TRUST_PROXY = True
    settings.LINLI_TRUSTED_PROXIES = ["127.0.0.1"]
    factory = RequestFactory()
    # The client claims 1.2.3.4; nginx appends the address it really saw.
    forged = factory.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7", REMOTE_ADDR="127.0.0.1")
    assert client_ip(forged) == "203.0.113.7"
    malformed = factory.get("/", HTTP_X_FORWARDED_FOR="notanip", REMOTE_ADDR="127.0.0.1")
    assert client_ip(malformed) == "127.0.0.1"
    # A peer that is not our proxy cannot speak for anyone else.
    direct = factory.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR="198.51.100.9")
    assert client_ip(direct) == "198.51.100.9"


def test_demo_refuses_to_run_in_production(settings: Any, db: Any) -> None:
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run in production"):
        call_command("demo", "--scale", "0")
    assert not User.objects.filter(username="sysadmin").exists()
