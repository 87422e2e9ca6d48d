"""The L8 letter's handover fields: the basisvoorwaarden, the contacts, each creditor's state and the contracts
ended, in the words of the handover file (schulden/referrals/handover.py builds both, so the letter and the file
that goes with it say the same).

Every value is text and never empty: what is not known is "onbekend" (issue 12: before, six fields of the L8 text
were never filled, so the municipality read nothing where it needed "onbekend"). compose() calls `handover_fields`
for every letter; only L8 gets fields.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from schulden.cases.models import Case

#: The merge fields this module fills, in the order the L8 text uses them (schulden/letters/texts/README.md).
L8_HANDOVER_FIELDS: tuple[str, ...] = (
    "id_document",
    "bank_account",
    "income_after_release",
    "housing_after_release",
    "release_address",
    "health_insurance",
    "care_after_release",
    "contact_after_release",
    "casemanager",
    "probation_officer",
    "debt_details",
    "terminated_contracts",
)


def handover_fields(session: Session, kind: str, case: Case, letter_date: date) -> dict[str, Any]:
    """The L8's handover fields for `case` on the letter's date; an empty dict for every other letter type."""
    if kind != "L8":
        return {}
    # Imported here: schulden.referrals.handover imports schulden.letters.compose, which calls this module.
    from schulden.referrals.handover import (
        CASEMANAGER_ROLE,
        PROBATION_ROLE,
        Contact,
        build_handover,
        condition_rows,
        contract_text,
        follow_up_rows,
    )

    handover = build_handover(session, case.id, include_household=False, made_on=letter_date)
    rows = dict(condition_rows(handover.conditions))
    contacts = {c.role: c for c in handover.contacts}

    def person(contact: Contact | None) -> str | None:
        if contact is None:
            return None
        parts = [p for p in (contact.name, contact.organisation, contact.phone, contact.email) if p]
        return ", ".join(parts) or None

    income = rows["Inkomen"]
    if handover.conditions.income_after_release in ("benefit_applied", "benefit_granted"):
        income += f" (bij {rows['Uitkering aangevraagd bij']}, aangevraagd op {rows['Uitkering aangevraagd op']})"
    return {
        "id_document": rows["Identiteitsbewijs"],
        "bank_account": rows["Bankrekening"],
        "income_after_release": income,
        "housing_after_release": rows["Wonen"],
        "release_address": rows["Adres of postadres"],
        "health_insurance": rows["Zorgverzekering"],
        "care_after_release": rows["Zorg en begeleiding"],
        "contact_after_release": rows["Telefoon of e-mail"],
        "casemanager": person(contacts.get(CASEMANAGER_ROLE)) or "onbekend",
        # Not every case has a probation officer: the text leaves the row out rather than print "onbekend".
        "probation_officer": person(contacts.get(PROBATION_ROLE)),
        # One line per open debt: a text may not name parts of a list item (text_rules), so the parts are joined.
        "debt_details": [
            d.creditor
            + (f" (kenmerk {d.reference})" if d.reference else "")
            + ": "
            + "; ".join(f"{label.lower()}: {value}" for label, value in follow_up_rows(d.follow_up))
            for d in handover.debts
            if not d.settled
        ],
        "terminated_contracts": [contract_text(c) for c in handover.terminated_contracts],
    }
