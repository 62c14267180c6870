"""National cryptographic algorithms: SM4-GCM for personal data at rest, SM3 for hashing,
HMAC-SM3 for blind indexes, SM2 for signing audit checkpoints.

Stored ciphertexts look like ``sm4gcm$<key id>$<base64 of iv + ciphertext + tag>``: the key id
travels with each value so keys can rotate while old values stay readable.
"""

from __future__ import annotations

import base64
import functools
import hmac as std_hmac
import os

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

PREFIX = "sm4gcm"
IV_BYTES = 12
TAG_BYTES = 16


class CryptoUnavailableError(RuntimeError):
    """The linked OpenSSL lacks SM4 or SM3; the platform must not store personal data then."""


class DecryptionError(ValueError):
    """A stored value cannot be decrypted: unknown key id, malformed value or tampering."""


def _ring() -> dict[str, bytes]:
    ring: dict[str, bytes] = settings.LINLI_SM4_KEYS
    return ring


def active_key_id() -> str:
    key_id: str = settings.LINLI_SM4_ACTIVE_KEY
    return key_id


def sm4_encrypt(plaintext: str, key_id: str | None = None) -> str:
    key_id = key_id or active_key_id()
    key = _ring()[key_id]
    iv = os.urandom(IV_BYTES)
    # The key id is authenticated data, so moving a value to another key id breaks the tag.
    sealed = _seal(key, iv, key_id.encode(), plaintext.encode("utf-8"))
    blob = base64.b64encode(iv + sealed).decode("ascii")
    return f"{PREFIX}${key_id}${blob}"


def _seal(key: bytes, iv: bytes, aad: bytes, data: bytes) -> bytes:
    """SM4-GCM through ``cryptography`` (the project's one SM4 implementation): ciphertext +
    tag."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(data) + encryptor.finalize()
    return body + encryptor.tag


def key_id_of(stored: str) -> str | None:
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    return parts[1]


def sm4_decrypt(stored: str) -> str:
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not an SM4-GCM value")
    _, key_id, blob = parts
    key = _ring().get(key_id)
    if key is None:
        raise DecryptionError(f"unknown key id {key_id!r}")
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError as exc:
        raise DecryptionError("malformed ciphertext") from exc
    if len(raw) < IV_BYTES + TAG_BYTES:
        raise DecryptionError("ciphertext too short")
    iv, body, tag = raw[:IV_BYTES], raw[IV_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(iv, tag)).decryptor()
    decryptor.authenticate_additional_data(key_id.encode())
    try:
        return (decryptor.update(body) + decryptor.finalize()).decode("utf-8")
    except InvalidTag as exc:
        raise DecryptionError("ciphertext failed authentication") from exc


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def blind_index(purpose: str, value: str) -> str:
    """Keyed HMAC-SM3 of a normalised value; the purpose keeps indexes of different fields apart."""
    mac = _keyed_hmac(settings.LINLI_BLIND_INDEX_KEY, purpose).copy()
    mac.update(value.encode("utf-8"))
    return mac.finalize().hex()


@functools.lru_cache(maxsize=32)
def _keyed_hmac(key: bytes, purpose: str) -> hmac.HMAC:
    """An HMAC-SM3 already keyed and fed the purpose, to be copied for each value: the same
    MAC as keying a new one, at less than half the cost (imports index every row)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(purpose.encode() + b"\x00")
    return mac


def constant_time_equal(left: str, right: str) -> bool:
    return std_hmac.compare_digest(left.encode(), right.encode())


def sm2_sign(private_key: bytes, public_key: bytes, message: bytes) -> bytes:
    import gmssl_pyx

    signature: bytes = gmssl_pyx.sm2_sign(private_key, public_key, message)
    return signature


def sm2_generate_key_pair() -> tuple[bytes, bytes]:
    """A new (private, public) SM2 key pair for ``linli keys generate``."""
    import gmssl_pyx

    public, private = gmssl_pyx.sm2_key_generate()
    return bytes(private), bytes(public)


def sm2_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    import gmssl_pyx

    try:
        return bool(gmssl_pyx.sm2_verify(public_key, message, signature))
    except Exception:  # the library raises on malformed signatures; that is a failed check
        return False


def check_audit_key_pair() -> None:
    """The configured SM2 private and public keys must belong together, or every checkpoint
    written from now on would fail verification."""
    probe = b"linli-audit-key-probe"
    try:
        signature = sm2_sign(
            settings.LINLI_AUDIT_SIGNING_KEY, settings.LINLI_AUDIT_VERIFY_KEY, probe
        )
    except Exception as exc:  # gmssl raises its own errors for malformed keys
        raise CryptoUnavailableError(f"SM2 signing failed: {exc.__class__.__name__}") from exc
    if not sm2_verify(settings.LINLI_AUDIT_VERIFY_KEY, probe, signature):
        raise CryptoUnavailableError(
            "LINLI_AUDIT_SIGNING_KEY and LINLI_AUDIT_VERIFY_KEY are not one SM2 key pair"
        )


def self_check() -> None:
    """Refuse to run when SM4 or SM3 is missing from the linked OpenSSL (checked at start-up)."""
    try:
        probe = os.urandom(16)
        encryptor = Cipher(algorithms.SM4(probe), modes.GCM(probe[:IV_BYTES])).encryptor()
        encryptor.update(b"probe")
        encryptor.finalize()
        sm3_hex(b"probe")
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise CryptoUnavailableError(
            "SM4-GCM or SM3 is not available in this cryptography/OpenSSL build; "
            "Linli refuses to run without the national algorithms."
        ) from exc
