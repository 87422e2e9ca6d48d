"""Reply codes and links for creditor letters (security.md 2.2).

A letter carries two ways to answer: a QR link with a 256-bit token, and a short code a person can type. The
code is `LLLLL` + `SSSSSSS` in an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B): the first five
characters find the letter (stored as they are, unique), the last seven are the secret. The token is stored as its
SHA-256, which is enough for 256 random bits (ASVS 6.5.2).

The secret has only 23**7 (about 2**31.7) values, too few for a plain hash. It is stored as an HMAC-SHA256 under a
key that never enters the database (`ReplyCodeKey`, derived from SECRET_KEY): a copy of the table, or of a backup,
cannot be searched at all without the key, where the scrypt hash used before issue 16 (1 ms a try) held out for
about 40 core-days per code and far less on a GPU. The typed attempts are rate limited on the reply page, and a code
stops working 60 days after its letter. The reasoning, and what a leaked key costs, are in docs/security.md
("Reply codes: a keyed hash"). Hashes written before issue 16 (`scrypt$...`) are still checked as they were.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"  # 23 symbols a person reads and types without confusing them
LOOKUP_LENGTH = 5
SECRET_LENGTH = 7
#: What the key is derived for: another use of SECRET_KEY (sessions, TOTP secrets) never yields the same key.
_KEY_PURPOSE = b"schuldroute reply-code key v1"
_HMAC_SCHEME = "hmac-sha256"


@dataclass(frozen=True)
class ReplyCodeKey:
    """The key of the reply codes' HMAC, and its id (8 hex digits of its SHA-256, stored with each hash, so that a
    code checked under another key, after SECRET_KEY was rotated, is told apart from a wrong code in the log)."""

    key: bytes = field(repr=False)
    key_id: str

    @classmethod
    def derive(cls, secret_key: str) -> ReplyCodeKey:
        key = hmac.new(secret_key.encode(), _KEY_PURPOSE, hashlib.sha256).digest()
        return cls(key, hashlib.sha256(key).hexdigest()[:8])

    def hash(self, lookup: str, secret: str) -> str:
        """The stored form of a letter's secret: bound to its lookup, so a hash copied to another row matches
        nothing there."""
        return f"{_HMAC_SCHEME}${self.key_id}${self._mac(lookup, secret)}"

    def unmatchable(self) -> str:
        """A stored hash of this key that no secret matches (44 characters, as a real one, but not base64 of a
        digest), to check unknown lookups with the same work as known ones."""
        return f"{_HMAC_SCHEME}${self.key_id}${'*' * 44}"

    def verify(self, lookup: str, secret: str, stored: str) -> bool:
        """Constant-time check of a typed secret against its stored hash (either scheme)."""
        if stored.startswith("scrypt$"):
            return _verify_scrypt(secret, stored)
        try:
            scheme, key_id, digest = stored.split("$")
        except ValueError:
            return False
        if scheme != _HMAC_SCHEME:
            return False
        if key_id != self.key_id:
            log.warning("reply code hashed under another key (was SECRET_KEY rotated?)",
                        extra={"stored_key_id": key_id, "key_id": self.key_id})  # fmt: skip
            return False
        return hmac.compare_digest(self._mac(lookup, secret), digest)

    def _mac(self, lookup: str, secret: str) -> str:
        mac = hmac.new(self.key, f"{lookup}:{secret}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode()


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


def _verify_scrypt(secret: str, stored: str) -> bool:
    """A hash written before issue 16: `scrypt$n$r$p$salt$digest`. Such codes expire 60 days after their letter;
    this branch can go once none is left."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        decode = base64.urlsafe_b64decode
        computed = hashlib.scrypt(secret.encode(), salt=decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
        return hmac.compare_digest(computed, decode(digest))
    except (ValueError, TypeError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_reply_secrets(key: ReplyCodeKey) -> ReplySecrets:
    """Fresh secrets for one letter."""
    lookup, secret = _random(LOOKUP_LENGTH), _random(SECRET_LENGTH)
    token = secrets.token_urlsafe(32)
    return ReplySecrets(
        code=format_code(lookup + secret),
        lookup=lookup,
        code_hash=key.hash(lookup, secret),
        token=token,
        token_hash=token_hash(token),
    )
