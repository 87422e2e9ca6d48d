"""Schuldenknooppunt's vocabulary (issue 12 item 8): every letter type and every 'geen medewerking' reason has its
Schuldenknooppunt message, or says explicitly that it has none; a creditor's answer is named by what it says and
the letter it answers. No database: the mapping is data."""

from __future__ import annotations

from pathlib import Path

import pytest

from schulden.effects import LETTER_TITLES
from schulden.letters.compose import TO_CREDITOR
from schulden.replies.knooppunt import (
    LETTER_MESSAGES,
    NO_COOPERATION_REASONS,
    SknAnswer,
    SknMessage,
    answer_type,
    messages_for_letter,
)
from schulden.replies.models import CreditorReply, NoCooperation

DOC = Path(__file__).resolve().parents[2] / "docs" / "schuldenknooppunt.md"
ALL_TYPES = [f"L{n}" for n in range(1, 11)]


def test_every_letter_type_has_a_mapping_or_an_explicit_none() -> None:
    assert sorted(LETTER_MESSAGES, key=lambda t: int(t[1:])) == ALL_TYPES
    assert set(LETTER_MESSAGES) == set(LETTER_TITLES)
    for letter_type, mapping in LETTER_MESSAGES.items():
        assert mapping.letter_type == letter_type
        # A none is explicit: it says why, in Dutch, starting with the words a reader looks for.
        if not mapping.messages:
            assert mapping.note.startswith("Geen SKN-bericht:"), letter_type
        assert mapping.note


@pytest.mark.parametrize(
    ("letter_type", "expected"),
    [
        ("L1", ("Kennisgeving", "Saldoverzoek")),
        ("L2", ("Saldoverzoek",)),
        ("L3", ("Statusverzoek",)),
        ("L4", ("Betaalvoorstel",)),
        ("L5", ()),
        ("L6", ()),
        ("L7", ()),
        ("L8", ()),
        ("L9", ()),
        ("L10", ()),
    ],
)
def test_the_message_of_each_letter_type(letter_type: str, expected: tuple[str, ...]) -> None:
    assert tuple(m.value for m in messages_for_letter(letter_type)) == expected


def test_only_letters_to_creditors_are_messages() -> None:
    # L8 (the municipality), L9 and L10 (the detainee) never go to a creditor, so they are never a SKN message.
    assert {t for t, m in LETTER_MESSAGES.items() if m.messages} <= TO_CREDITOR


def test_a_creditor_that_works_with_the_bsn_gets_kennisgeving_publiek() -> None:
    assert messages_for_letter("L1", creditor_uses_bsn=True) == (
        SknMessage.KENNISGEVING_PUBLIEK,
        SknMessage.SALDOVERZOEK,
    )
    # The other messages have no public variant.
    assert messages_for_letter("L4", creditor_uses_bsn=True) == (SknMessage.BETAALVOORSTEL,)


def test_every_no_cooperation_reason_has_a_skn_reason_or_an_explicit_none() -> None:
    assert set(NO_COOPERATION_REASONS) == set(NoCooperation)
    mapped = {reason for reason, skn in NO_COOPERATION_REASONS.items() if skn is not None}
    # SKN's four reasons (process agreements for creditors, 5); 'other' is ours and has none.
    assert mapped == set(NoCooperation) - {NoCooperation.OTHER}
    assert NO_COOPERATION_REASONS[NoCooperation.OTHER] is None
    codes = [skn.code for skn in NO_COOPERATION_REASONS.values() if skn is not None]
    assert len(set(codes)) == 4


def _reply(**fields: object) -> CreditorReply:
    return CreditorReply(**fields)


@pytest.mark.parametrize(
    ("fields", "letter_type", "expected"),
    [
        pytest.param({"principal_cents": 100}, "L1", SknAnswer.SALDOVERZOEK_ANTWOORD, id="balance-to-L1"),
        pytest.param({"principal_cents": 100}, None, SknAnswer.SALDOVERZOEK_ANTWOORD, id="balance-on-paper"),
        pytest.param({"costs_cents": 0}, "L2", SknAnswer.SALDOVERZOEK_ANTWOORD, id="zero-balance-is-a-balance"),
        pytest.param(
            {"creditor_customer_number": "K-1", "creditor_invoice_number": "F-9"},
            "L1",
            SknAnswer.KENNISGEVING_ANTWOORD,
            id="only-the-numbers",
        ),
        pytest.param({"collection_suspended": True}, "L3", SknAnswer.KENNISGEVING_ANTWOORD, id="suspension-only"),
        pytest.param({"arrangement_offered": False}, "L4", SknAnswer.BETAALVOORSTEL_ANTWOORD, id="answer-to-L4"),
        pytest.param({"principal_cents": 100}, "L4", SknAnswer.BETAALVOORSTEL_ANTWOORD, id="balance-in-answer-to-L4"),
        pytest.param({"no_cooperation": "client_unknown"}, "L1", SknAnswer.GEEN_MEDEWERKING, id="geen-medewerking"),
        pytest.param({"no_cooperation": "other"}, "L4", SknAnswer.GEEN_MEDEWERKING, id="other-is-still-declining"),
        pytest.param({"principal_cents": 100}, "L5", None, id="answer-to-termination"),
        pytest.param({"note": "ok"}, "L6", None, id="answer-to-insurer-letter"),
    ],
)
def test_the_answer_type_follows_what_the_answer_says(
    fields: dict[str, object], letter_type: str | None, expected: SknAnswer | None
) -> None:
    assert answer_type(_reply(**fields), letter_type) == expected


def test_the_documentation_names_every_message_answer_and_reason() -> None:
    text = DOC.read_text(encoding="utf-8")
    for message in SknMessage:
        assert message.value in text
    for answer in SknAnswer:
        assert answer.value in text
    for skn in NO_COOPERATION_REASONS.values():
        if skn is not None:
            assert f"`{skn.code}`" in text
    for letter_type in ALL_TYPES:
        assert f"| {letter_type} |" in text
