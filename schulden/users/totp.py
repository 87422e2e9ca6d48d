"""TOTP second factor (RFC 6238, 30-second steps, 6 digits) and recovery codes, without Flask.

The TOTP secret is stored encrypted with a key derived from SECRET_KEY, so a copy of the database alone (a backup,
a read-only SQL injection) does not give the second factor away. The cipher is HMAC-SHA256 in counter mode with an
HMAC-SHA256 tag over nonce and ciphertext (encrypt-then-MAC), from the standard library: the project has no
`cryptography` dependency, and a 20-byte secret needs no more. Changing SECRET_KEY makes stored secrets unreadable:
every enrolled user then enrols again (docs/accounts.md).

Recovery codes carry 60 bits, so they are hashed with scrypt and a salt per code (ASVS 6.5.2), not a fast hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

STEP_SECONDS = 30
#: Codes of the step before and after the current one are accepted too (clock drift of a phone).
DRIFT_STEPS = 1
ISSUER = "Schuldroute"
RECOVERY_CODE_COUNT = 10
# Recovery codes: 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as xxxx-xxxx-xxxx.
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_RECOVERY_LENGTH = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class SecretUnreadable(Exception):
    """The stored secret does not decrypt with this SECRET_KEY (the key changed, or the row was altered)."""


def _keys(secret_key: str) -> tuple[bytes, bytes]:
    master = hashlib.sha256(b"schuldroute-totp-v1:" + secret_key.encode()).digest()
    return (
        hmac.new(master, b"encrypt", hashlib.sha256).digest(),
        hmac.new(master, b"authenticate", hashlib.sha256).digest(),
    )


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(length // 32 + 1))
    return b"".join(blocks)[:length]


def seal(plain: str, *, secret_key: str) -> str:
    """The encrypted form of a TOTP secret, for the totp_secret column."""
    enc_key, mac_key = _keys(secret_key)
    nonce = secrets.token_bytes(16)
    data = plain.encode()
    cipher = bytes(a ^ b for a, b in zip(data, _keystream(enc_key, nonce, len(data)), strict=True))
    tag = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()
    return "v1:" + base64.urlsafe_b64encode(nonce + cipher + tag).decode()


def unseal(sealed: str, *, secret_key: str) -> str:
    """The TOTP secret back from the column; raises SecretUnreadable when it does not check out."""
    if not sealed.startswith("v1:"):
        raise SecretUnreadable
    try:
        raw = base64.urlsafe_b64decode(sealed[3:].encode())
    except ValueError as exc:
        raise SecretUnreadable from exc
    if len(raw) < 16 + 32:
        raise SecretUnreadable
    enc_key, mac_key = _keys(secret_key)
    nonce, cipher, tag = raw[:16], raw[16:-32], raw[-32:]
    if not hmac.compare_digest(tag, hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()):
        raise SecretUnreadable
    return bytes(a ^ b for a, b in zip(cipher, _keystream(enc_key, nonce, len(cipher)), strict=True)).decode()


def new_secret() -> str:
    """A new base32 TOTP secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, username: str) -> str:
    """The otpauth:// address the QR code holds (authenticator apps read issuer and account name from it)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def normalise_code(typed: str) -> str:
    """Digits only: people type "123 456" as an app shows it."""
    return "".join(ch for ch in typed if not ch.isspace() and ch != "-")


def matching_step(secret: str, typed: str, *, now: datetime, after_step: int | None) -> int | None:
    """The time step whose code was typed, if it is within the drift and later than `after_step` (the last used
    one: a code is never accepted twice); None otherwise."""
    code = normalise_code(typed)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """RECOVERY_CODE_COUNT fresh codes as shown to the user (xxxx-xxxx-xxxx)."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalise_recovery_code(typed: str) -> str:
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def looks_like_recovery_code(typed: str) -> bool:
    return len(normalise_recovery_code(typed)) == _RECOVERY_LENGTH


def hash_recovery_code(code: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(normalise_recovery_code(code).encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt1${salt.hex()}${digest.hex()}"


def recovery_code_matches(code: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        expected = hashlib.scrypt(normalise_recovery_code(code).encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
        return hmac.compare_digest(expected.hex(), digest)
    except ValueError:
        return False
