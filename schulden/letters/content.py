"""What goes into one letter, as plain frozen values: no database, no Flask.

The letter job fills a `LetterContent` from the case; `schulden.letters.templates` turns it into text blocks and
`integrations.letters.render` into a PDF. The same content always gives the same text and the same PDF bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

#: The ten standard letters of domain.md section 4.
LETTER_TYPES: tuple[str, ...] = tuple(f"L{n}" for n in range(1, 11))

#: How an amount status is shown in a letter.
AMOUNT_STATUS_NL: Mapping[str, str] = {
    "estimated": "geschat",
    "confirmed": "bevestigd",
    "disputed": "betwist",
}


@dataclass(frozen=True)
class Address:
    """Postal address lines as printed: ("CJIB", "t.a.v. Incasso", "Postbus 1794", "8901 CB  LEEUWARDEN")."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class DebtLine:
    """One row of the debt table. Money in integer cents."""

    creditor: str
    reference: str | None
    description: str  # e.g. "CJIB-boete"
    principal_cents: int
    interest_cents: int
    costs_cents: int
    amount_status: str  # estimated / confirmed / disputed

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.costs_cents


@dataclass(frozen=True)
class LetterContent:
    """Everything one letter shows. `fields` are the merge fields of the text (see texts/README.md)."""

    letter_type: str  # "L1".."L10"
    letter_id: int
    our_reference: str  # one per client and debt, e.g. "SR-000123-45" (case 123, debt 45); "SR-000123" for the case
    their_reference: str | None  # the creditor's klantnummer / dossiernummer / CJIB-beschikkingsnummer
    date: date  # the letter date; also the PDF's creation date
    sender: Address  # our organisation + team; the first line is the organisation (PDF author)
    sender_contact: tuple[str, ...]  # counsellor name, phone, e-mail
    recipient: Address
    fields: Mapping[str, Any]
    debts: tuple[DebtLine, ...] = ()
    attachments: tuple[str, ...] = ()
    reply_code: str | None = None  # short human code, e.g. "K7QM-4TXD-9P"
    reply_url: str | None = None  # link in the QR code
    signature: tuple[str, ...] = field(default=())  # name and role of the signer

    def __post_init__(self) -> None:
        if self.letter_type not in LETTER_TYPES:
            raise ValueError(f"unknown letter type {self.letter_type!r}; expected one of {', '.join(LETTER_TYPES)}")
        if not self.recipient.lines:
            raise ValueError("the recipient address has no lines")
        if not self.sender.lines:
            raise ValueError("the sender address has no lines")
        if self.reply_url is not None and not self.reply_code:
            raise ValueError("a reply_url needs a reply_code: the letter prints the code next to the QR code")
        for debt in self.debts:
            if debt.amount_status not in AMOUNT_STATUS_NL:
                raise ValueError(f"unknown amount status {debt.amount_status!r}")

    @property
    def debts_total_cents(self) -> int:
        return sum(d.total_cents for d in self.debts)
