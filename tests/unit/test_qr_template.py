"""The reply QR code made from a template (issue 16) is segno's symbol, module for module."""

from __future__ import annotations

import secrets
import string

import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.letters.qr import QR_MASK, qr_matrix

#: What a reply link is made of: our public URL and a token from secrets.token_urlsafe(32).
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


def reference_matrix(data: str) -> list[bytearray]:
    """segno's own symbol for `data`, made as `qr_matrix` promises: error correction M, no Micro QR, the fixed mask."""
    return list(segno.make(data, error="m", micro=False, boost_error=False, mask=QR_MASK).matrix)


@settings(max_examples=150)
@given(token=st.text(TOKEN_ALPHABET, min_size=43, max_size=43))
def test_a_reply_link_gives_segnos_symbol(token: str) -> None:
    url = f"https://schuldroute.example/antwoord/{token}"
    assert [bytes(row) for row in qr_matrix(url)] == [bytes(row) for row in reference_matrix(url)]


@settings(max_examples=60)
@given(data=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=300))
def test_any_text_of_any_version_gives_segnos_symbol(data: str) -> None:
    # Other hosts (PUBLIC_URL) make longer or shorter links, so other versions and other encodings.
    assert [bytes(row) for row in qr_matrix(data)] == [bytes(row) for row in reference_matrix(data)]


def test_real_tokens_give_segnos_symbol() -> None:
    for _ in range(50):
        url = f"http://127.0.0.1:5000/antwoord/{secrets.token_urlsafe(32)}"
        assert [bytes(row) for row in qr_matrix(url)] == [bytes(row) for row in reference_matrix(url)]
