"""The reads of creditor answers, for both front doors: staff reading a case's answers, and the creditor reading
the one letter it answers (the reply page). Each writes its audit row (NEN 7513: who viewed what) in the caller's
transaction; nothing here commits. The operations that change answers are in services.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import CreditorActor, UserActor
from schulden.cases.models import Case, Detainee
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.debts.queries import get_debt
from schulden.errors import NotFound
from schulden.letters.compose import DEBT_TYPE_LABELS, our_reference
from schulden.letters.models import Letter
from schulden.letters.reply_codes import ReplyCodeKey
from schulden.replies import codes
from schulden.replies.decisions import decided as decided_entry
from schulden.replies.models import TAKEN_OVER_EVENT, CreditorReply
from schulden.replies.services import get_reply, replies_of_case
from schulden.users.models import User
from workflows import Engine, HistoryEntry, WorkflowInstance

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


@dataclass(frozen=True)
class TakeOver:
    """Who took the answer's amounts over, and when (the debt's history row of `confirm_balance`)."""

    actor_id: str
    at: datetime


@dataclass(frozen=True)
class AnswerView:
    """One answer as the counsellor reads it: the debt and creditor it is about, the letter it answers, the debt's
    state now, every version of the debt's answers (oldest first), and who took its amounts over."""

    reply: CreditorReply
    case: Case
    detainee: Detainee
    debt: Debt | None
    creditor: str | None
    collecting_party: str | None
    debt_type: str | None
    debt_state: str | None
    debt_state_label: str | None
    letter: Letter | None
    versions: list[CreditorReply]
    taken_over: TakeOver | None
    #: Who recorded the debt's step from the answer's decision (agree_arrangement, ...), and when.
    decided: TakeOver | None
    #: The letter type whose questions the answer answers (a reminder's: the letter it chased); None: no letter.
    asked: str | None
    #: The display names of the staff named by actor id (entered, read, taken over); a creditor is "De schuldeiser".
    people: dict[str, str]

    def person(self, actor_id: str | None) -> str:
        if actor_id is None:
            return ""
        if actor_id.startswith("creditor:"):
            return "De schuldeiser (antwoordpagina)"
        return self.people.get(actor_id, "Onbekende gebruiker")


def _names(session: Session, actor_ids: set[str]) -> dict[str, str]:
    ids = {int(a.split(":", 1)[1]) for a in actor_ids if a.startswith("user:") and a.split(":", 1)[1].isdigit()}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {f"user:{user_id}": name for user_id, name in rows}


def _taken_over(engine: Engine, session: Session, instance: WorkflowInstance, reply_id: int) -> TakeOver | None:
    entries: list[HistoryEntry] = engine.history(session, instance)
    for entry in entries:
        if entry.event == TAKEN_OVER_EVENT and (entry.payload or {}).get("reply_id") == reply_id:
            return TakeOver(entry.actor_id, entry.at)
    return None


def read_answer(
    session: Session, engine: Engine, actor: UserActor, *, case_id: int, reply_id: int, origin: str | None = None
) -> AnswerView:
    """The answer page: `read_reply` (scope by the answer's case, the `reply.read` row) for an answer of this
    case, with what the page shows around it. NotFound for another case's answer, absent or out of scope alike.
    Does not commit."""
    reply = get_reply(session, actor, reply_id)
    if reply.case_id != case_id:
        raise NotFound("reply", reply_id)
    audit.record(session, actor=actor, action="reply.read", object_type="reply", object_id=reply.id,
                 case_id=reply.case_id, origin=origin)  # fmt: skip
    case = session.get_one(Case, reply.case_id)
    detainee = session.get_one(Detainee, case.detainee_id)
    debt = session.get(Debt, reply.debt_id) if reply.debt_id is not None else None
    creditor = collector = state = state_label = None
    versions = [reply]
    taken_over = None
    if debt is not None:
        creditor = session.scalar(select(Creditor.name).where(Creditor.id == debt.creditor_id))
        if debt.collecting_party_id is not None:
            collector = session.scalar(select(Creditor.name).where(Creditor.id == debt.collecting_party_id))
        instance = session.get_one(WorkflowInstance, debt.instance_id)
        state = instance.state
        state_label = engine.process_of(instance).state(state).label or state
        versions = list(
            session.scalars(
                select(CreditorReply).where(CreditorReply.debt_id == debt.id).order_by(CreditorReply.version)
            )
        )
        if reply.amounts_taken_over:
            taken_over = _taken_over(engine, session, instance, reply.id)
    letter = session.get(Letter, reply.letter_id) if reply.letter_id is not None else None
    if debt is None and letter is not None:
        # A notice about the case (L6, L7): its recipient answered, versioned per letter.
        creditor = letter.recipient_name
        versions = list(
            session.scalars(
                select(CreditorReply)
                .where(CreditorReply.letter_id == letter.id, CreditorReply.debt_id.is_(None))
                .order_by(CreditorReply.version)
            )
        )
    decided = None
    if debt is not None and reply.decision_taken is not None:
        entry = decided_entry(engine, session, reply)
        decided = TakeOver(entry.actor_id, entry.at) if entry is not None else None
    return AnswerView(
        reply=reply,
        case=case,
        detainee=detainee,
        debt=debt,
        creditor=creditor,
        collecting_party=collector,
        debt_type=DEBT_TYPE_LABELS.get(debt.debt_type, debt.debt_type) if debt is not None else None,
        debt_state=state,
        debt_state_label=state_label,
        letter=letter,
        versions=versions,
        taken_over=taken_over,
        decided=decided,
        asked=codes.asked_type(session, letter) if letter is not None else None,
        people=_names(
            session,
            {
                a
                for a in (
                    reply.entered_by,
                    reply.reviewed_by,
                    taken_over.actor_id if taken_over else None,
                    decided.actor_id if decided else None,
                )
                if a
            },
        ),
    )


@dataclass(frozen=True)
class EntryContext:
    """What the paper/phone answer form shows of its debt: creditor, type, amounts now, and the debt's letters to
    choose the one answered."""

    case: Case
    detainee: Detainee
    debt: Debt
    creditor: str
    debt_type: str
    letters: list[Letter]


def read_entry_context(
    session: Session, actor: UserActor, *, case_id: int, debt_id: int, origin: str | None = None
) -> EntryContext:
    """The debt an answer is typed in for, if it is of this case and in the actor's scope (NotFound otherwise),
    with the `debt.read` row the API's GET of a debt writes. Does not commit."""
    debt = get_debt(session, actor, debt_id)
    if debt.case_id != case_id:
        raise NotFound("debt", debt_id)
    audit.record(session, actor=actor, action="debt.read", object_type="debt", object_id=debt.id,
                 case_id=debt.case_id, origin=origin)  # fmt: skip
    case = session.get_one(Case, debt.case_id)
    letters = list(session.scalars(select(Letter).where(Letter.debt_id == debt.id).order_by(Letter.id)))
    return EntryContext(
        case=case,
        detainee=session.get_one(Detainee, case.detainee_id),
        debt=debt,
        creditor=session.scalar(select(Creditor.name).where(Creditor.id == debt.creditor_id)) or "",
        debt_type=DEBT_TYPE_LABELS.get(debt.debt_type, debt.debt_type),
        letters=letters,
    )


# -- the creditor, on the reply page ----------------------------------------------------------------------------------


def _record(session: Session, letter: Letter, action: str, origin: str | None, **details: Any) -> None:
    """The creditor's row: the actor is the letter's creditor (no account), the object the letter. Neither the code
    nor the token is ever part of it."""
    audit.record(session, actor=CreditorActor(letter.id), action=action, object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=origin, details=details or None)  # fmt: skip


def open_with_code(
    session: Session, typed: str, *, key: ReplyCodeKey, now: datetime, origin: str | None
) -> Letter | None:
    """The letter whose printed code the creditor typed, if it can still be answered (None otherwise), counted as
    used and with the `reply.open` row. Every attempt is recorded against the limits, so the caller commits even on
    None; codes.TooManyAttempts when the letter or the address (`origin`) has used up its failures."""
    letter = codes.letter_for_code(session, typed, key=key, now=now, address=origin)
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
