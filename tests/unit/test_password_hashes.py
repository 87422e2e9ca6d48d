"""Our standard-library password hashes and werkzeug's read each other: every stored hash still verifies."""

from __future__ import annotations

import re

from werkzeug.security import check_password_hash, generate_password_hash

from schulden.users.password_hashes import hash_password, password_matches

PASSWORD = "een zin van vier woorden é"


def test_a_werkzeug_scrypt_hash_verifies_with_ours() -> None:
    stored = generate_password_hash(PASSWORD, method="scrypt")
    assert password_matches(stored, PASSWORD)
    assert not password_matches(stored, PASSWORD + "x")


def test_our_hash_verifies_with_werkzeug() -> None:
    stored = hash_password(PASSWORD)
    assert check_password_hash(stored, PASSWORD)
    assert not check_password_hash(stored, "iets anders")


def test_our_hash_has_werkzeugs_format() -> None:
    assert re.fullmatch(r"scrypt:32768:8:1\$[A-Za-z0-9]{16}\$[0-9a-f]{128}", hash_password(PASSWORD))


def test_a_werkzeug_pbkdf2_hash_verifies_with_ours() -> None:
    stored = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    assert password_matches(stored, PASSWORD)
    assert not password_matches(stored, "iets anders")


def test_a_malformed_hash_never_matches() -> None:
    for stored in ("", "scrypt", "scrypt:x:8:1$salt$00", "md5$salt$00", "plain-text"):
        assert not password_matches(stored, PASSWORD)
