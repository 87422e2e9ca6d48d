"""Recording a creditor's answer and what it does to the debt. Services flush and never commit.

The same function serves the creditor on the reply page and the counsellor typing in a paper or phone answer, so
both land the same way: a reply row, the debt's amounts when a balance was given, and the debt's workflow moved
where the answer allows (balance confirmed, no cooperation, suspension granted or refused). Every reply also
fires the internal `reply_received` event, so the history and the outcome figures see it even when the state
stays as it is (a correction of an earlier balance, say).

Answering again adds the next version of the debt's answer and marks the earlier one superseded; the earlier rows
stay as they were (the history lists them all), the debt takes the newest balance, and only the newest waits on
the counsellor's task list.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import case_scope
from schulden.actors import CreditorActor, UserActor
from schulden.cases.models import Case
from schulden.debts.models import AmountStatus, Debt
from schulden.debts.queries import get_debt

# The states in which an answer with a balance confirms the debt: the debt process says which they are.
from schulden.debts.workflow import ANSWERABLE
from schulden.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from schulden.letters.models import Letter
from schulden.letters.queries import scoped_letter
from schulden.ports import FileStore
from schulden.replies import codes
from schulden.replies.models import CreditorReply, NoCooperation, ReplyChannel
from schulden.roles import Role
from workflows import Actor, Engine, TransitionRefused, WorkflowInstance
from workflows.store import utcnow

#: The answer fields (the schemas of the API and the reply page both load into these names).
FIELDS = (
    "principal_cents",
    "interest_cents",
    "costs_cents",
    "peildatum",
    "collection_suspended",
    "collection_suspended_until",
    "interest_suspended",
    "interest_suspended_until",
    "has_judgment",
    "has_attachment",
    "original_creditor",
    "creditor_customer_number",
    "creditor_invoice_number",
    "arrangement_offered",
    "arrangement_monthly_cents",
    "arrangement_terms",
    "contact_name",
    "contact_phone",
    "contact_email",
    "no_cooperation",
    "no_cooperation_note",
    "note",
)
_BALANCE = ("principal_cents", "interest_cents", "costs_cents")


@dataclass(frozen=True)
class StoredAttachment:
    """A PDF the web layer checked and put in the file store before calling us."""

    key: str
    name: str
    sha256: str
    size: int


def check_answer(data: Mapping[str, Any], *, today: date) -> None:
    """Rules across fields; each failure names its field, in Dutch."""
    errors: dict[str, list[str]] = {}
    has_balance = any(data.get(k) is not None for k in _BALANCE)
    if data.get("no_cooperation"):
        if has_balance:
            errors["no_cooperation"] = ["Geef een saldo óf 'geen medewerking', niet allebei."]
        if data["no_cooperation"] == NoCooperation.OTHER.value and not data.get("no_cooperation_note"):
            errors["no_cooperation_note"] = ["Licht de reden toe als u 'andere reden' kiest."]
    elif not has_balance and not any(
        data.get(k) not in (None, "", False)
        # The creditor's own numbers alone are an answer too: Schuldenknooppunt's Kennisgeving antwoord.
        for k in (
            "collection_suspended",
            "interest_suspended",
            "arrangement_offered",
            "note",
            "has_judgment",
            "creditor_customer_number",
            "creditor_invoice_number",
        )
    ):
        errors["principal_cents"] = ["Geef het saldo, of kies 'geen medewerking', of schrijf een toelichting."]
    if has_balance and data.get("peildatum") is None:
        errors["peildatum"] = ["Bij een saldo hoort de datum waarop het geldt (peildatum)."]
    if data.get("peildatum") is not None and data["peildatum"] > today:
        errors["peildatum"] = ["De peildatum ligt in de toekomst."]
    for flag, until in (
        ("collection_suspended", "collection_suspended_until"),
        ("interest_suspended", "interest_suspended_until"),
    ):
        if data.get(until) is not None:
            if not data.get(flag):
                errors[until] = ["Een einddatum hoort alleen bij een opschorting."]
            elif data[until] < today:
                errors[until] = ["De einddatum van de opschorting ligt in het verleden."]
    if data.get("arrangement_monthly_cents") is not None and not data.get("arrangement_offered"):
        errors["arrangement_monthly_cents"] = ["Een maandbedrag hoort bij een aangeboden betalingsregeling."]
    if errors:
        raise ValidationFailed(errors)


def _fire(session: Session, engine: Engine, instance: WorkflowInstance, event: str, **kwargs: Any) -> bool:
    with suppress(TransitionRefused):
        engine.fire(session, instance, event, **kwargs)
        return True
    return False


def record_reply(
    session: Session,
    engine: Engine,
    *,
    actor: Actor,
    debt: Debt,
    letter_id: int | None,
    channel: ReplyChannel,
    data: Mapping[str, Any],
    received_on: date,
    today: date,
    attachment: StoredAttachment | None = None,
    now: datetime | None = None,
) -> CreditorReply:
    """Store the answer and apply it to the debt. Raises ValidationFailed (nothing written) on bad input."""
    check_answer(data, today=today)
    moment = now or engine.clock()
    # The debt's row is the lock: two answers at once get versions n+1 and n+2, not both n+1.
    session.execute(select(Debt.id).where(Debt.id == debt.id).with_for_update())
    latest = session.scalar(select(func.max(CreditorReply.version)).where(CreditorReply.debt_id == debt.id)) or 0
    if latest:
        session.execute(
            update(CreditorReply)
            .where(CreditorReply.debt_id == debt.id, CreditorReply.superseded_at.is_(None))
            .values(superseded_at=moment)
            .execution_options(synchronize_session="fetch")
        )
    reply = CreditorReply(
        case_id=debt.case_id,
        debt_id=debt.id,
        letter_id=letter_id,
        channel=channel.value,
        received_on=received_on,
        entered_by=actor.actor_id,
        version=latest + 1,
        **{name: data.get(name) for name in FIELDS},
    )
    if attachment is not None:
        reply.attachment_key = attachment.key
        reply.attachment_name = attachment.name
        reply.attachment_sha256 = attachment.sha256
        reply.attachment_bytes = attachment.size
    session.add(reply)
    session.flush()

    instance = session.get_one(WorkflowInstance, debt.instance_id)
    fired = ["reply_received"]
    engine.fire(
        session, instance, "reply_received", actor=actor, payload={"reply_id": reply.id, "channel": channel.value},
        now=now,
    )  # fmt: skip
    state = instance.state
    if data.get("no_cooperation"):
        reason = NoCooperation(data["no_cooperation"]).label
        if data.get("no_cooperation_note"):
            reason = f"{reason}: {data['no_cooperation_note']}"
        if _fire(session, engine, instance, "decline", actor=actor, reason=reason[:500], now=now):
            fired.append("decline")
    else:
        if any(data.get(k) is not None for k in _BALANCE):
            for name in _BALANCE:
                setattr(debt, name, data.get(name) or 0)
            debt.peildatum = data.get("peildatum")
            debt.amount_status = AmountStatus.CONFIRMED.value
            if state in ANSWERABLE and _fire(
                session, engine, instance, "confirm_balance", actor=actor, payload={"reply_id": reply.id}, now=now
            ):
                fired.append("confirm_balance")
        if instance.state == "suspension_requested" and data.get("collection_suspended") is not None:
            event = "grant_suspension" if data["collection_suspended"] else "refuse_suspension"
            if _fire(session, engine, instance, event, actor=actor, payload={"reply_id": reply.id}, now=now):
                fired.append(event)
    if data.get("has_attachment") and debt.threat is None:
        # Beslag: the counsellor must see it at once (domain.md 9.2, threat_type attachment).
        debt.threat = "attachment"
    reply.events = ",".join(fired)
    session.flush()
    return reply


def replies_of_case(session: Session, case_id: int, *, latest_only: bool = False) -> list[CreditorReply]:
    """Every answer of the case in the order received (the history), or only the newest version per debt."""
    query = select(CreditorReply).where(CreditorReply.case_id == case_id).order_by(CreditorReply.id)
    if latest_only:
        query = query.where(CreditorReply.superseded_at.is_(None))
    return list(session.scalars(query))


def mark_reviewed(reply: CreditorReply, *, actor: Actor, now: datetime) -> None:
    """The counsellor has read the answer; it leaves the task list."""
    if reply.reviewed_at is None:
        reply.reviewed_at = now
        reply.reviewed_by = actor.actor_id


# -- the operations of the two front doors -----------------------------------------------------------------------------

NOT_ABOUT_A_DEBT = "Deze brief hoort niet bij een schuld; bel ons (zie de brief)."
#: Who types in answers that came on paper, by phone or by e-mail, marks answers as read and revokes a reply code.
REPLY_KEEPERS = frozenset({Role.COUNSELLOR})


class NoAttachment(DomainError):
    """The answer came without a PDF."""

    def __init__(self) -> None:
        super().__init__("Bij dit antwoord zit geen bijlage.")


def today_of(engine: Engine) -> date:
    """Today in the engine's time zone: the day an answer is received on, and the latest a peildatum may be."""
    return engine.today()


def get_reply(session: Session, actor: UserActor, reply_id: int) -> CreditorReply:
    """The answer if the actor may read it: its case is in the actor's scope (access.case_scope). NotFound else."""
    reply = session.scalar(
        select(CreditorReply)
        .join(Case, Case.id == CreditorReply.case_id)
        .where(CreditorReply.id == reply_id, case_scope(actor))
    )
    if reply is None:
        raise NotFound("reply", reply_id)
    return reply


def _require_keeper(actor: UserActor, what: str) -> None:
    if actor.role not in REPLY_KEEPERS:
        raise NotPermitted(f"Uw rol mag {what} niet uitvoeren.")


def enter_reply(
    session: Session, engine: Engine, *, actor: UserActor, debt_id: int, data: Mapping[str, Any], origin: str | None
) -> CreditorReply:
    """A counsellor types in an answer that came on paper, by phone or by e-mail (`data` as ReplyCreate loads it):
    the same effect on the debt as the creditor's own answer, and read by definition. Does not commit."""
    _require_keeper(actor, "een antwoord van een schuldeiser vastleggen")
    debt = get_debt(session, actor, debt_id)
    today = today_of(engine)
    answer = dict(data)
    if answer["received_on"] > today:
        raise ValidationFailed({"received_on": ["De ontvangstdatum ligt in de toekomst."]})
    letter_id = answer.pop("letter_id", None)
    if (
        letter_id is not None
        and session.scalar(select(Letter.id).where(Letter.id == letter_id, Letter.debt_id == debt.id)) is None
    ):
        raise ValidationFailed({"letter_id": ["Deze brief hoort niet bij deze schuld."]})
    reply = record_reply(
        session,
        engine,
        actor=actor,
        debt=debt,
        letter_id=letter_id,
        channel=ReplyChannel(answer.pop("channel")),
        received_on=answer.pop("received_on"),
        data=answer,
        today=today,
    )
    mark_reviewed(reply, actor=actor, now=utcnow())
    audit.record(session, actor=actor, action="reply.create", object_type="reply", object_id=reply.id,
                 case_id=debt.case_id, origin=origin, details={"events": reply.events})  # fmt: skip
    return reply


def submit_answer(
    session: Session,
    engine: Engine,
    *,
    letter: Letter,
    data: Mapping[str, Any],
    attachment: StoredAttachment | None,
    origin: str | None,
) -> CreditorReply:
    """The creditor answers the letter on the reply page (`data` as ReplyAnswer loads it). The letter must be about
    a debt; the submission is counted for the per-letter limit (replies/codes.py). Raises ValidationFailed with
    nothing written. Does not commit."""
    if letter.debt_id is None:
        raise ValidationFailed({"_form": [NOT_ABOUT_A_DEBT]})
    actor = CreditorActor(letter.id)
    today = today_of(engine)
    reply = record_reply(
        session,
        engine,
        actor=actor,
        debt=session.get_one(Debt, letter.debt_id),
        letter_id=letter.id,
        channel=ReplyChannel.WEB,
        data=data,
        received_on=today,
        today=today,
        attachment=attachment,
    )
    audit.record(session, actor=actor, action="reply.submit", object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=origin,
                 details={"reply_id": reply.id, "version": reply.version, "events": reply.events})  # fmt: skip
    codes.note_submission(session, letter, now=utcnow(), address=origin, accepted=True)
    return reply


def review_reply(session: Session, *, actor: UserActor, reply_id: int, origin: str | None) -> CreditorReply:
    """The counsellor has read this answer: it leaves the task list. Does not commit."""
    _require_keeper(actor, "een antwoord als gelezen markeren")
    reply = get_reply(session, actor, reply_id)
    mark_reviewed(reply, actor=actor, now=utcnow())
    audit.record(session, actor=actor, action="reply.review", object_type="reply", object_id=reply.id,
                 case_id=reply.case_id, origin=origin)  # fmt: skip
    return reply


def read_attachment(
    session: Session, store: FileStore, *, actor: UserActor, reply_id: int, origin: str | None
) -> tuple[CreditorReply, bytes]:
    """The PDF the creditor attached, with the read audited. Raises NotFound or NoAttachment. Does not commit."""
    reply = get_reply(session, actor, reply_id)
    if reply.attachment_key is None:
        raise NoAttachment
    data = store.get(reply.attachment_key)
    audit.record(session, actor=actor, action="reply.attachment", object_type="reply", object_id=reply.id,
                 case_id=reply.case_id, origin=origin)  # fmt: skip
    return reply, data


def revoke_reply_code(session: Session, *, actor: UserActor, letter_id: int, origin: str | None) -> Letter:
    """Revoke a letter's reply code and QR link (sent to the wrong address, answered otherwise); an open reply
    session of that letter ends at its next request. Does not commit."""
    _require_keeper(actor, "een antwoordcode intrekken")
    letter = scoped_letter(session, actor, letter_id)
    codes.revoke(session, letter, now=utcnow())
    audit.record(session, actor=actor, action="letter.reply_revoked", object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=origin)  # fmt: skip
    return letter
