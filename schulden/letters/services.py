"""Asking for letters, cancelling them and recording that they went out. Services never commit.

A letter is asked for by a workflow effect, in the transaction of the step that needs it; its idempotency key is
that step (instance and history sequence) plus the type, so a step can never ask twice. Rendering and delivery
happen after commit, in jobs that take the letter id only.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from schulden.cases.models import Case
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.letters.models import Channel, Letter, LetterStatus
from workflows import SYSTEM, Engine, TransitionRefused, WorkflowInstance

#: Letters the detainee signs or keeps go to him in the PI (by post through the PI's mailroom).
TO_DETAINEE = frozenset({"L9", "L10"})
#: The first contact with a creditor; when one of these is sent, the creditor's answer clock starts.
FIRST_CONTACT = frozenset({"L1", "L2", "L6", "L7"})
OPEN = (LetterStatus.QUEUED.value, LetterStatus.RENDERING.value, LetterStatus.RENDERED.value)


def recipient_of(session: Session, debt: Debt | None) -> Creditor | None:
    """A debt's letters go to the collecting party when one collects for the creditor, else to the creditor."""
    if debt is None:
        return None
    return session.get(Creditor, debt.collecting_party_id or debt.creditor_id)


def recipient_copy(creditor: Creditor) -> dict[str, Any]:
    """The creditor's address as the letter keeps it: fixed when the letter is made, so a later change in the
    shared directory (a correction, or someone redirecting another organisation's post) only reaches new letters."""
    return {
        "recipient_name": creditor.name,
        "recipient_department": creditor.department,
        "recipient_address_line": creditor.address_line,
        "recipient_postcode": creditor.postcode,
        "recipient_city": creditor.city,
        "recipient_email": creditor.email,
        "recipient_may_receive_bsn": creditor.may_receive_bsn,
    }


def request_letter(
    session: Session,
    *,
    case: Case,
    letter_type: str,
    key: str,
    requested_by: str,
    letter_date: date,
    debt: Debt | None = None,
    organisation_id: int | None = None,
    round_: int = 1,
) -> Letter:
    """The letter for this key, created queued if it does not exist yet (a second ask returns the first)."""
    existing = session.scalar(select(Letter).where(Letter.idempotency_key == key))
    if existing is not None:
        return existing
    creditor = recipient_of(session, debt)
    if letter_type in TO_DETAINEE or letter_type == "L8":
        # L8 goes to the municipality's team by e-mail (or its case system); the detainee's letters by post.
        channel = Channel.EMAIL if letter_type == "L8" else Channel.POST
    else:
        channel = Channel.EMAIL if creditor is not None and creditor.takes_email else Channel.POST
    letter = Letter(
        case_id=case.id,
        debt_id=debt.id if debt else None,
        creditor_id=creditor.id if creditor else None,
        organisation_id=organisation_id,
        **(recipient_copy(creditor) if creditor is not None else {}),
        letter_type=letter_type,
        round=round_,
        idempotency_key=key,
        status=LetterStatus.QUEUED.value,
        channel=channel.value,
        letter_date=letter_date,
        requested_by=requested_by,
    )
    session.add(letter)
    session.flush()
    return letter


def cancel_open_letters(session: Session, case_id: int, *, reason: str) -> int:
    """Stop every letter of the case that has not gone out yet (consent withdrawn, case closed)."""
    result = session.execute(
        update(Letter)
        .where(Letter.case_id == case_id, Letter.status.in_(OPEN))
        .values(status=LetterStatus.CANCELLED.value, last_error=reason)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_sent(session: Session, engine: Engine, letters: Iterable[Letter], *, at: datetime) -> None:
    """Record that letters went out; a first contact starts the creditor's answer clock (the debt's workflow)."""
    for letter in letters:
        letter.status = LetterStatus.SENT.value
        letter.sent_at = at
        if letter.debt_id is not None and letter.letter_type in FIRST_CONTACT:
            debt = session.get_one(Debt, letter.debt_id)
            instance = session.get_one(WorkflowInstance, debt.instance_id)
            if instance.state == "letters_requested":
                # Refused (e.g. consent withdrawn meanwhile): the debt stays where it is.
                with suppress(TransitionRefused):
                    engine.fire(
                        session, instance, "letters_sent", actor=SYSTEM, payload={"letter_id": letter.id}, now=at
                    )
    session.flush()
