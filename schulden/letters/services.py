"""Asking for letters and retrying a failed one. Services never commit; status changes are lifecycle.py's.

A letter is asked for by a workflow effect, in the transaction of the step that needs it; its idempotency key is
that step (instance and history sequence) plus the type, so a step can never ask twice. Rendering and delivery
happen after commit, in jobs that take the letter id only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import may_act_for_pi, pi_refusal
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from schulden.letters import lifecycle
from schulden.letters.models import Channel, Letter, LetterStatus, PrintBatch
from schulden.letters.queries import scoped_letter
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.ports import PrintBatchMaker
from schulden.reference import is_objection_desk
from schulden.roles import Role
from workflows import Actor, Engine

#: Letters the detainee signs or keeps go to him in the PI (by post through the PI's mailroom).
TO_DETAINEE = frozenset({"L9", "L10"})


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
        "recipient_channel_note": creditor.channel_note,
    }


def has_postal_address(creditor: Creditor) -> bool:
    return bool(creditor.address_line and creditor.postcode and creditor.city)


#: What the counsellor's task says when a creditor has neither an address nor a channel in the directory.
NO_CHANNEL = (
    "Geen adres of kanaal in de schuldeisersgids: zoek het correspondentieadres op en stel het voor in de gids."
)


def creditor_channel(creditor: Creditor) -> Channel:
    """How a letter reaches this creditor: e-mail where it takes it, post to a correspondence address, and else the
    counsellor's own task through the channel the directory names (issue 12: never an objection desk)."""
    if creditor.takes_email:
        return Channel.EMAIL
    return Channel.POST if has_postal_address(creditor) else Channel.MANUAL


class ObjectionDesk(ValidationFailed):
    """A letter would go to an objection or complaints desk, where it may be handled as an objection (Awb)."""

    def __init__(self, creditor: Creditor) -> None:
        super().__init__(
            {
                "creditor_id": [
                    f"'{creditor.name}, {creditor.department}' is een bezwaar- of klachtenadres: een brief daarheen "
                    "kan als bezwaar worden behandeld. Kies bij de schuld de schuldeiser met het correspondentieadres."
                ]
            }
        )


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
    recipient: Creditor | None = None,
    recipient_address: dict[str, Any] | None = None,
) -> Letter:
    """The letter for this key, created queued if it does not exist yet (a second ask returns the first).

    The recipient is the debt's (its collecting party or creditor), or `recipient` for a letter about the case (L6 to
    the health insurer, L7 to a benefit office), or `recipient_address` (Letter's recipient_* columns) for an office
    outside the creditor directory. A creditor without a correspondence address gets a letter the counsellor delivers
    through its channel (Channel.MANUAL); an objection desk gets none (ObjectionDesk)."""
    existing = session.scalar(select(Letter).where(Letter.idempotency_key == key))
    if existing is not None:
        return existing
    creditor = recipient_of(session, debt) if recipient is None else recipient
    if creditor is not None and is_objection_desk(creditor.department):
        raise ObjectionDesk(creditor)
    address: dict[str, Any] = recipient_copy(creditor) if creditor is not None else dict(recipient_address or {})
    if letter_type in TO_DETAINEE or letter_type == "L8":
        # L8 goes to the municipality's team by e-mail (or its case system); the detainee's letters by post.
        channel = Channel.EMAIL if letter_type == "L8" else Channel.POST
    elif creditor is not None:
        channel = creditor_channel(creditor)
    elif address:
        # An office that is not in the creditor directory (a municipality's income department, L7).
        has_address = address.get("recipient_address_line") and address.get("recipient_city")
        channel = Channel.POST if has_address else Channel.MANUAL
    else:
        channel = Channel.POST
    if channel is Channel.MANUAL and not address.get("recipient_channel_note"):
        address["recipient_channel_note"] = NO_CHANNEL
    letter = Letter(
        case_id=case.id,
        debt_id=debt.id if debt else None,
        creditor_id=creditor.id if creditor else None,
        organisation_id=organisation_id,
        **address,
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


class NothingToPrint(DomainError):
    """No rendered post letters are waiting for this PI."""


#: Who makes and downloads print batches (then only for a PI they may act for, `access.may_act_for_pi`).
PRINT_BATCH_ROLES = frozenset({Role.PI_STAFF, Role.COUNSELLOR})
#: Who may have a failed letter made again.
RETRY_ROLES = frozenset({Role.COUNSELLOR})
#: The print batch's own words for PI staff asking for another PI's batch; others get `access.pi_refusal`'s.
_OWN_PI_ONLY = "U maakt alleen de printbatch van uw eigen PI."


def retry_letter(session: Session, actor: UserActor, letter_id: int, *, origin: str | None = None) -> Letter:
    """Have a failed letter made again (after a person fixed the cause). It reaches the queue after commit, the
    way a new letter does."""
    if actor.role not in RETRY_ROLES:
        raise NotPermitted("Uw rol mag een brief opnieuw laten maken niet uitvoeren.")
    letter = scoped_letter(session, actor, letter_id)
    lifecycle.retry(letter)
    audit.record(session, actor=actor, action="letter.retry", object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=origin)  # fmt: skip
    session.flush()
    return letter


def downloadable_letter(session: Session, actor: UserActor, letter_id: int, *, origin: str | None = None) -> Letter:
    """The letter whose PDF the actor downloads (in scope, rendered or sent), with the download audited."""
    letter = scoped_letter(session, actor, letter_id)
    if letter.storage_key is None or letter.status not in lifecycle.PDF_READY:
        raise lifecycle.LetterStateError("Deze brief is nog niet klaar (of is gestopt).")
    audit.record(session, actor=actor, action="letter.download", object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=origin)  # fmt: skip
    return letter


def print_batch_pi(session: Session, actor: UserActor, pi_id: int) -> Organisation:
    """The PI whose print batch the actor asks for, if the role makes batches and the actor may act for it."""
    if actor.role not in PRINT_BATCH_ROLES:
        raise NotPermitted("Uw rol mag een printbatch maken niet uitvoeren.")
    pi = session.get(Organisation, pi_id)
    if pi is None or pi.kind != OrganisationKind.PI.value:
        raise ValidationFailed({"pi_id": [f"Geen PI met id {pi_id}."]})
    refusal = pi_refusal(actor, pi)
    if refusal is not None:
        raise ValidationFailed({"pi_id": [_OWN_PI_ONLY if actor.role is Role.PI_STAFF else refusal]})
    return pi


def make_print_batch(
    session: Session, actor: UserActor, pi_id: int, *, make: PrintBatchMaker, engine: Engine
) -> PrintBatch:
    """Today's print batch of a PI: every rendered letter for its post, merged; they count as sent from now."""
    pi = print_batch_pi(session, actor, pi_id)
    now = engine.clock()
    batch = make(session, pi_id=pi.id, actor=actor, today=engine.today(now), now=now)
    if batch is None:
        raise NothingToPrint("Er staan geen brieven voor de post klaar voor deze PI.")
    record_print_batch(session, actor, batch)
    return batch


def record_print_batch(session: Session, actor: Actor, batch: PrintBatch) -> None:
    """The audit row of a print batch made (by a person here, or by the CLI), naming its letters."""
    letter_ids = session.scalars(select(Letter.id).where(Letter.print_batch_id == batch.id).order_by(Letter.id))
    audit.record(session, actor=actor, action="print_batch.create", object_type="print_batch", object_id=batch.id,
                 details={"letters": list(letter_ids)})  # fmt: skip


def downloadable_print_batch(
    session: Session, actor: UserActor, batch_id: int, *, origin: str | None = None
) -> PrintBatch:
    """The print batch the actor downloads (PI staff of its PI, counsellors of its team), with the download
    audited; NotFound for anyone else, as for a batch that does not exist."""
    batch = session.get(PrintBatch, batch_id)
    pi = session.get(Organisation, batch.pi_id) if batch else None
    if batch is None or pi is None or actor.role not in PRINT_BATCH_ROLES or not may_act_for_pi(actor, pi):
        raise NotFound("print_batch", batch_id)
    audit.record(session, actor=actor, action="print_batch.download", object_type="print_batch",
                 object_id=batch.id, origin=origin)  # fmt: skip
    return batch
