"""The reply code's keyed hash (issue 16; docs/security.md "Reply codes: a keyed hash")."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schulden.letters.reply_codes import (
    ALPHABET,
    LOOKUP_LENGTH,
    SECRET_LENGTH,
    ReplyCodeKey,
    new_reply_secrets,
    normalise_code,
)

KEY = ReplyCodeKey.derive("test-secret-key-that-is-long-enough-0123456789")
lookups = st.text(ALPHABET, min_size=LOOKUP_LENGTH, max_size=LOOKUP_LENGTH)
secrets_ = st.text(ALPHABET, min_size=SECRET_LENGTH, max_size=SECRET_LENGTH)


def test_the_printed_code_verifies_and_the_hash_holds_neither_the_code_nor_the_key() -> None:
    made = new_reply_secrets(KEY)
    typed = normalise_code(made.code)
    assert typed[:LOOKUP_LENGTH] == made.lookup
    assert KEY.verify(made.lookup, typed[LOOKUP_LENGTH:], made.code_hash)
    assert typed[LOOKUP_LENGTH:] not in made.code_hash
    assert made.code_hash.startswith(f"hmac-sha256${KEY.key_id}$")
    assert KEY.key.hex() not in made.code_hash
    assert str(KEY.key) not in repr(KEY)  # the key stays out of logs and tracebacks


@given(lookup=lookups, secret=secrets_, other=secrets_)
def test_only_the_secret_itself_verifies(lookup: str, secret: str, other: str) -> None:
    stored = KEY.hash(lookup, secret)
    assert KEY.verify(lookup, secret, stored)
    assert KEY.verify(lookup, other, stored) is (other == secret)


@given(lookup=lookups, other_lookup=lookups, secret=secrets_)
def test_a_hash_copied_to_another_letter_matches_nothing_there(lookup: str, other_lookup: str, secret: str) -> None:
    assert KEY.verify(other_lookup, secret, KEY.hash(lookup, secret)) is (other_lookup == lookup)


@given(lookup=lookups, secret=secrets_)
def test_the_unmatchable_hash_matches_no_secret(lookup: str, secret: str) -> None:
    assert not KEY.verify(lookup, secret, KEY.unmatchable())


def test_another_key_does_not_verify_and_says_so_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    stored = KEY.hash("ACDEF", "HJKMNPQ")
    rotated = ReplyCodeKey.derive("another-secret-key-that-is-long-enough-987654")
    with caplog.at_level(logging.WARNING, logger="schulden.letters.reply_codes"):
        assert not rotated.verify("ACDEF", "HJKMNPQ", stored)
    assert "another key" in caplog.text
    assert "HJKMNPQ" not in caplog.text  # no secret in the log


def test_the_key_is_for_reply_codes_only() -> None:
    # Derived with its own label: not SECRET_KEY itself, nor the key of another use of it.
    secret_key = "test-secret-key-that-is-long-enough-0123456789"
    assert KEY.key != secret_key.encode()
    assert KEY.key != hashlib.sha256(secret_key.encode()).digest()
    assert ReplyCodeKey.derive(secret_key) == KEY


def test_a_hash_from_before_issue_16_still_verifies_until_its_code_expires() -> None:
    # The stored form scrypt$n$r$p$salt$digest that letters made before issue 16 carry.
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"HJKMNPQ", salt=salt, n=2**10, r=8, p=1, dklen=32)
    encode = base64.urlsafe_b64encode
    stored = f"scrypt$1024$8$1${encode(salt).decode()}${encode(digest).decode()}"
    assert KEY.verify("ACDEF", "HJKMNPQ", stored)
    assert not KEY.verify("ACDEF", "HJKMNPR", stored)


@pytest.mark.parametrize("stored", ["", "hmac-sha256$", "md5$x$y", "scrypt$bad", "hmac-sha256$a$b$c"])
def test_a_malformed_hash_verifies_nothing(stored: str) -> None:
    assert not KEY.verify("ACDEF", "HJKMNPQ", stored)
