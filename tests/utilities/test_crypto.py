from __future__ import annotations

import pytest
from django.test import override_settings

from linli.utilities import crypto

OTHER_RING = {"dev1": bytes.fromhex("00112233445566778899aabbccddeeff"), "k2": bytes(range(16))}


def test_sm4_round_trip_uses_random_iv() -> None:
    first = crypto.sm4_encrypt("370124199001011234")
    second = crypto.sm4_encrypt("370124199001011234")
    assert first != second  # a fresh IV per value: equal plaintexts give different ciphertexts
    assert crypto.sm4_decrypt(first) == crypto.sm4_decrypt(second) == "370124199001011234"
    assert "370124199001011234" not in first


def test_sm4_value_names_its_key() -> None:
    stored = crypto.sm4_encrypt("13800138000")
    assert crypto.key_id_of(stored) == "dev1"


def test_tampered_ciphertext_is_refused() -> None:
    stored = crypto.sm4_encrypt("13800138000")
    prefix, key_id, blob = stored.split("$")
    flipped = blob[:-6] + ("A" if blob[-6] != "A" else "B") + blob[-5:]
    with pytest.raises(crypto.DecryptionError):
        crypto.sm4_decrypt(f"{prefix}${key_id}${flipped}")


def test_value_moved_to_another_key_id_is_refused() -> None:
    with override_settings(LINLI_SM4_KEYS=OTHER_RING, LINLI_SM4_ACTIVE_KEY="k2"):
        stored = crypto.sm4_encrypt("secret")
        relabelled = stored.replace("$k2$", "$dev1$")
        with pytest.raises(crypto.DecryptionError):
            crypto.sm4_decrypt(relabelled)


def test_old_key_still_decrypts_after_rotation() -> None:
    old = crypto.sm4_encrypt("13800138000")
    with override_settings(LINLI_SM4_KEYS=OTHER_RING, LINLI_SM4_ACTIVE_KEY="k2"):
        assert crypto.key_id_of(crypto.sm4_encrypt("x")) == "k2"
        assert crypto.sm4_decrypt(old) == "13800138000"


def test_unknown_key_id_is_refused() -> None:
    with pytest.raises(crypto.DecryptionError):
        crypto.sm4_decrypt("sm4gcm$nokey$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")


@pytest.mark.parametrize("garbage", ["", "plain text", "sm4gcm$dev1$!!!", "sm4gcm$dev1$QUJD"])
def test_malformed_values_are_refused(garbage: str) -> None:
    with pytest.raises(crypto.DecryptionError):
        crypto.sm4_decrypt(garbage)


def test_sm3_matches_the_standard_test_vector() -> None:
    # GB/T 32905-2016 appendix A, example 1: SM3("abc").
    assert crypto.sm3_hex(b"abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_blind_index_is_keyed_and_separates_purposes() -> None:
    a = crypto.blind_index("person.phone", "13800138000")
    assert a == crypto.blind_index("person.phone", "13800138000")
    assert a != crypto.blind_index("person.id_number", "13800138000")
    with override_settings(LINLI_BLIND_INDEX_KEY=bytes(32)):
        assert crypto.blind_index("person.phone", "13800138000") != a


def test_sm2_signature_verifies_and_detects_changes() -> None:
    private, public = crypto.sm2_generate_key_pair()
    signature = crypto.sm2_sign(private, public, b"checkpoint|12|abc")
    assert crypto.sm2_verify(public, b"checkpoint|12|abc", signature)
    assert not crypto.sm2_verify(public, b"checkpoint|11|abc", signature)
    assert not crypto.sm2_verify(public, b"checkpoint|12|abc", b"\x00" * len(signature))


def test_self_check_passes_with_national_algorithms() -> None:
    crypto.self_check()
