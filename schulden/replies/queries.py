"""The reads of creditor answers, for both front doors: staff reading a case's answers, and the creditor reading
the one letter it answers (the reply page). Each writes its audit row (NEN 7513: who viewed what) in the caller's
transaction; nothing here commits. The operations that change answers are in services.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import CreditorActor, UserActor
from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.letters.compose import DEBT_TYPE_LABELS, our_reference
from schulden.letters.models import Letter
from schulden.replies import codes
from schulden.replies.models import CreditorReply
from schulden.replies.services import get_reply, replies_of_case

# -- staff ------------------------------------------------------------------------------------------------------------


def read_replies(session: Session, actor: UserActor, case: Case, *, origin: str | None = None) -> list[CreditorReply]:
    """GET /cases/{id}/replies and the case page: every answer of a case the caller holds under the actor's scope,
    in the order received (older versions too), with the `reply.list` row. Does not commit."""
    replies = replies_of_case(session, case.id)
    audit.record(session, actor=actor, action="reply.list", object_type="case", object_id=case.id, case_id=case.id,
                 origin=origin)  # fmt: skip
    return replies


def read_reply(session: Session, actor: UserActor, reply_id: int, *, origin: str | None = None) -> CreditorReply:
    """One answer, if its case is in the actor's scope (NotFound otherwise), with the `reply.read` row."""
    reply = get_reply(session, actor, reply_id)
    audit.record(session, actor=actor, action="reply.read", object_type="reply", object_id=reply.id,
                 case_id=reply.case_id, origin=origin)  # fmt: skip
    return reply


# -- the creditor, on the reply page ----------------------------------------------------------------------------------


def _record(session: Session, letter: Letter, action: str, origin: str | None, **details: Any) -> None:
    """The creditor's row: the actor is the letter's creditor (no account), the object the letter. Neither the code
    nor the token is ever part of it."""
    audit.record(session, actor=CreditorActor(letter.id), action=action, object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=origin, details=details or None)  # fmt: skip


def open_with_code(session: Session, typed: str, *, now: datetime, origin: str | None) -> Letter | None:
    """The letter whose printed code the creditor typed, if it can still be answered (None otherwise), counted as
    used and with the `reply.open` row. Every attempt is recorded against the limits, so the caller commits even on
    None; codes.TooManyAttempts when the letter or the address (`origin`) has used up its failures."""
    letter = codes.letter_for_code(session, typed, now=now, address=origin)
    if letter is not None:
        codes.note_use(letter, now=now)
        _record(session, letter, "reply.open", origin, via="code")
    return letter


def open_with_link(session: Session, token: str, *, now: datetime, origin: str | None) -> Letter | None:
    """The letter of the QR link's token, if it can still be answered (None otherwise), counted as used and with
    the `reply.open` row. Does not commit."""
    letter = codes.letter_for_token(session, token, now=now)
    if letter is not None:
        codes.note_use(letter, now=now)
        _record(session, letter, "reply.open", origin, via="link")
    return letter


def letter_as_sent(session: Session, letter: Letter) -> dict[str, Any]:
    """What the creditor may see of its letter: what the letter itself says, and nothing more (no BSN, no other
    debts). For the form shown again after a refused answer; the first view is `read_letter`."""
    debt = session.get_one(Debt, letter.debt_id) if letter.debt_id is not None else None
    case = session.get_one(Case, letter.case_id)
    detainee = session.get_one(Detainee, case.detainee_id)
    initials = "".join(f"{part[0]}." for part in detainee.given_names.split() if part)
    surname = f"{detainee.surname_prefix} {detainee.surname}" if detainee.surname_prefix else detainee.surname
    return {
        "letter": letter,
        "reference": our_reference(letter),
        # The name the letter was addressed to (fixed when it was made), not today's directory entry.
        "creditor_name": letter.recipient_name,
        "client": f"{initials} {surname}",
        "date_of_birth": detainee.date_of_birth,
        "debt": debt,
        "debt_type": DEBT_TYPE_LABELS.get(debt.debt_type, debt.debt_type) if debt is not None else None,
    }


def read_letter(session: Session, letter: Letter, *, origin: str | None) -> dict[str, Any]:
    """The creditor opens the answer form of the letter of its reply session: `letter_as_sent`, with the
    `reply.view` row. Does not commit."""
    _record(session, letter, "reply.view", origin)
    return letter_as_sent(session, letter)


def letter_file(session: Session, letter: Letter, *, origin: str | None) -> str | None:
    """The file store's key of the letter's PDF for the creditor of its reply session, with the `reply.download`
    row; None (and no row) while the letter has no PDF. Does not commit."""
    if letter.storage_key is None:
        return None
    _record(session, letter, "reply.download", origin)
    return letter.storage_key
