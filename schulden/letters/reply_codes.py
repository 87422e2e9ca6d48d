"""Reply codes and links for creditor letters (security.md 2.2).

A letter carries two ways to answer: a QR link with a 256-bit token, and a short code a person can type. The
code is `LLLLL` + `SSSSSSS` in an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B): the first five
characters find the letter (stored as they are, unique), the last seven are the secret (stored only as an
scrypt hash). The token is stored as its SHA-256, which is enough for 256 random bits (ASVS 6.5.2); the short
secret is too short for that, so it gets a password hash and, on the reply page, a rate limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"  # 23 symbols a person reads and types without confusing them
LOOKUP_LENGTH = 5
SECRET_LENGTH = 7
# scrypt cost: n=2**10, r=8 costs ~4 ms here, paid once per letter and once per typed attempt; with the attempts
# rate limited and codes expiring, that makes an offline search of a leaked table slow without making a batch of
# letters slow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**10, 8, 1


@dataclass(frozen=True)
class ReplySecrets:
    """What is printed (code, token) and what is stored (lookup, code hash, token hash)."""

    code: str  # formatted for print: XXXX-XXXX-XXXX
    lookup: str
    code_hash: str
    token: str
    token_hash: str


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def format_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_code(typed: str) -> str:
    """What a person typed, as stored: upper case, no spaces or dashes."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encode = base64.urlsafe_b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of a typed secret against its stored hash."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        decode = base64.urlsafe_b64decode
        computed = hashlib.scrypt(secret.encode(), salt=decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
        return hmac.compare_digest(computed, decode(digest))
    except (ValueError, TypeError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_reply_secrets() -> ReplySecrets:
    """Fresh secrets for one letter."""
    lookup, secret = _random(LOOKUP_LENGTH), _random(SECRET_LENGTH)
    token = secrets.token_urlsafe(32)
    return ReplySecrets(
        code=format_code(lookup + secret),
        lookup=lookup,
        code_hash=hash_secret(secret),
        token=token,
        token_hash=token_hash(token),
    )
