"""Salted password hashes with the standard library, in the format werkzeug.security writes.

A stored hash reads `scrypt:32768:8:1$<salt>$<hex digest>` (method and parameters, a 16-character salt, the digest
of the UTF-8 password salted with the salt's UTF-8 bytes). That is werkzeug's own format, so every hash written
before the domain stopped importing werkzeug still verifies, and werkzeug could read ours. `pbkdf2:<hash>:<rounds>`
hashes, werkzeug's other method, are read too, though we never wrote any.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_SALT_CHARS = string.ascii_letters + string.digits
_SALT_LENGTH = 16
#: scrypt's cost parameters (werkzeug's defaults): n=2**15, r=8, p=1, about 32 MB and 50-100 ms a hash.
_SCRYPT = (2**15, 8, 1)
#: werkzeug's default rounds for a `pbkdf2` hash that names no rounds of its own.
_PBKDF2_ROUNDS = 1_000_000


def _digest(method: str, salt: str, password: str) -> str | None:
    """The hex digest that `method` (with its parameters) gives; None for a method we do not know."""
    name, *args = method.split(":")
    if name == "scrypt":
        try:
            n, r, p = map(int, args) if args else _SCRYPT
        except ValueError:
            return None
        # `hashlib.scrypt` looked up at call time: the tests remember its answers (tests/conftest.py).
        return hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p).hex()
    if name == "pbkdf2" and len(args) <= 2:
        algorithm = args[0] if args else "sha256"
        try:
            rounds = int(args[1]) if len(args) == 2 else _PBKDF2_ROUNDS
            return hashlib.pbkdf2_hmac(algorithm, password.encode(), salt.encode(), rounds).hex()
        except ValueError:
            return None
    return None


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, as werkzeug's generate_password_hash(password, "scrypt") writes it."""
    salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(_SALT_LENGTH))
    n, r, p = _SCRYPT
    digest = _digest(f"scrypt:{n}:{r}:{p}", salt, password)
    assert digest is not None
    return f"scrypt:{n}:{r}:{p}${salt}${digest}"


def password_matches(stored: str, password: str) -> bool:
    """Whether `password` gives the stored hash (werkzeug's check_password_hash); False for a malformed hash."""
    try:
        method, salt, expected = stored.split("$", 2)
    except ValueError:
        return False
    digest = _digest(method, salt, password)
    return digest is not None and hmac.compare_digest(digest, expected)
