"""Recording a creditor's answer and what it does to the debt. Services flush and never commit.

The same function serves the creditor on the reply page and the counsellor typing in a paper or phone answer, so
both land the same way: a reply row, and the debt's workflow moved where the answer allows (no cooperation,
suspension granted or refused). Every reply also fires the internal `reply_received` event, so the history and the
outcome figures see it even when the state stays as it is (a correction of an earlier balance, say).

Amounts are different: they replace the estimate and are called confirmed only by a counsellor's act (issue 13).
A creditor's amounts from the reply page wait, the debt "Antwoord ontvangen, te controleren", until a counsellor
takes them over (`confirm_reply`: the debt process's `confirm_balance` with the answer's id); amounts a counsellor
types in from paper or the phone are taken over by that entry, after its check page.

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
from schulden.debts.models import Debt
from schulden.debts.queries import get_debt

# The states in which a creditor's balance waits for the counsellor: the debt process says which they are.
from schulden.debts.workflow import ANSWERABLE
from schulden.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from schulden.letters.models import Letter
from schulden.letters.queries import scoped_letter
from schulden.ports import FileStore
from schulden.replies import codes
from schulden.replies.models import CreditorReply, NoCooperation, ReplyChannel
from schulden.replies.schemas import NOTICE_TYPES
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
    "arrangement_decision",
    "arrangement_reason",
    "termination_confirmed",
    "termination_date",
    "termination_reason",
    "insurance_suspended",
    "insurance_suspended_from",
    "change_confirmed",
    "reclaim_cents",
    "note",
)
#: Answers in their own right, without a balance: a decision on our letter, a confirmation, a note.
_ANSWERS = (
    "collection_suspended",
    "interest_suspended",
    "arrangement_offered",
    "arrangement_decision",
    "termination_confirmed",
    "insurance_suspended",
    "change_confirmed",
    "reclaim_cents",
    "note",
    "has_judgment",
    # The creditor's own numbers alone are an answer too: Schuldenknooppunt's Kennisgeving antwoord.
    "creditor_customer_number",
    "creditor_invoice_number",
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
        data.get(k) not in (None, "", False) or (k in _DECISIONS and data.get(k) is False) for k in _ANSWERS
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
    _check_decisions(data, errors)
    if errors:
        raise ValidationFailed(errors)


#: A "no" to these is an answer as much as a "yes".
_DECISIONS = frozenset({"termination_confirmed", "insurance_suspended", "change_confirmed"})


def _check_decisions(data: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """The decisions' rules, for every channel: a refusal names its reason, a counter-proposal its amount, a date
    belongs to a confirmation, a reclaim is an amount."""
    decision = data.get("arrangement_decision")
    if decision == "refuse" and not data.get("arrangement_reason"):
        errors["arrangement_reason"] = ["Bij 'niet akkoord' hoort de reden (arrangement_reason)."]
    if decision == "counter" and data.get("arrangement_monthly_cents") is None:
        errors["arrangement_monthly_cents"] = ["Bij een ander voorstel hoort het bedrag per maand."]
    if data.get("arrangement_reason") and decision != "refuse":
        errors["arrangement_reason"] = ["Een reden hoort bij 'niet akkoord' (arrangement_decision refuse)."]
    if data.get("termination_date") is not None and not data.get("termination_confirmed"):
        errors["termination_date"] = ["Een einddatum hoort bij een bevestigde opzegging."]
    if data.get("termination_reason") and data.get("termination_confirmed") is not False:
        errors["termination_reason"] = ["Een reden hoort bij een opzegging die niet is bevestigd."]
    if data.get("insurance_suspended_from") is not None and not data.get("insurance_suspended"):
        errors["insurance_suspended_from"] = ["Een begindatum hoort bij een bevestigde schorsing."]


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
        if reply.has_balance and channel is ReplyChannel.WEB:
            # The creditor's word: the debt keeps its amounts until a counsellor takes these over.
            if state in ANSWERABLE and _fire(
                session, engine, instance, "balance_received", actor=actor, payload={"reply_id": reply.id}, now=now
            ):
                fired.append("balance_received")
        # Typed in by the counsellor from paper, the phone or an e-mail, after the check page showed the amounts:
        # the entry is the counsellor's taking over.
        elif reply.has_balance and _fire(
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


def record_notice_reply(
    session: Session,
    *,
    actor: Actor,
    letter: Letter,
    data: Mapping[str, Any],
    today: date,
    attachment: StoredAttachment | None = None,
    now: datetime,
) -> CreditorReply:
    """Store the answer to a notice about the case, not a debt (L6 to the insurer, L7 to a benefit office): the
    case's answer, versioned per letter. No debt process moves; the counsellor reads it (and may add a reclaim as
    a debt, replies.decisions). Raises ValidationFailed (nothing written) on bad input. Does not commit."""
    check_answer(data, today=today)
    # The letter's row is the lock here: two answers to it at once get versions n+1 and n+2.
    session.execute(select(Letter.id).where(Letter.id == letter.id).with_for_update())
    same_letter = (CreditorReply.letter_id == letter.id, CreditorReply.debt_id.is_(None))
    latest = session.scalar(select(func.max(CreditorReply.version)).where(*same_letter)) or 0
    if latest:
        session.execute(
            update(CreditorReply)
            .where(*same_letter, CreditorReply.superseded_at.is_(None))
            .values(superseded_at=now)
            .execution_options(synchronize_session="fetch")
        )
    reply = CreditorReply(
        case_id=letter.case_id,
        debt_id=None,
        letter_id=letter.id,
        channel=ReplyChannel.WEB.value,
        received_on=today,
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
    session: Session,
    engine: Engine,
    *,
    actor: UserActor,
    debt_id: int,
    data: Mapping[str, Any],
    origin: str | None,
    attachment: StoredAttachment | None = None,
    case_id: int | None = None,
) -> CreditorReply:
    """A counsellor types in an answer that came on paper, by phone or by e-mail (`data` as ReplyCreate loads it):
    the creditor's answer's effect on the debt, its amounts taken over (the counsellor checked them before saving),
    and read by definition. `case_id`: the debt must belong to it (the page's address names both). Does not
    commit."""
    _require_keeper(actor, "een antwoord van een schuldeiser vastleggen")
    debt = get_debt(session, actor, debt_id)
    if case_id is not None and debt.case_id != case_id:
        raise NotFound("debt", debt_id)
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
        attachment=attachment,
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
    """The creditor answers the letter on the reply page (`data` as ReplyAnswer loads it). The letter is about a
    debt, or is a notice about the case (L6, L7: schemas.NOTICE_TYPES); the submission is counted for the
    per-letter limit (replies/codes.py). Raises ValidationFailed with nothing written. Does not commit."""
    actor = CreditorActor(letter.id)
    today = today_of(engine)
    if letter.debt_id is None:
        if letter.letter_type not in NOTICE_TYPES:
            raise ValidationFailed({"_form": [NOT_ABOUT_A_DEBT]})
        reply = record_notice_reply(
            session, actor=actor, letter=letter, data=data, today=today, attachment=attachment, now=engine.clock()
        )
    else:
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


class AmountsNotTakenOver(DomainError):
    """The answer's amounts cannot become the debt's (now): the Dutch text says why."""


def take_over_amounts(
    session: Session, engine: Engine, reply: CreditorReply, *, actor: Actor, now: datetime | None = None
) -> CreditorReply:
    """Make the answer's amounts and peildatum the debt's, with amount status confirmed: the debt process's
    `confirm_balance` with the answer's id, so the history says who did it and when, and the debt moves to
    'Saldo bevestigd' where the answer was awaited. Once per answer, and only for the newest answer of its debt;
    AmountsNotTakenOver otherwise (nothing written). Does not commit."""
    if reply.debt_id is None:
        raise AmountsNotTakenOver("Dit antwoord hoort niet bij een schuld.")
    # The debt's row is the lock, as for a new answer: a racing answer or a second click waits, then sees this one.
    session.execute(select(Debt.id).where(Debt.id == reply.debt_id).with_for_update())
    session.refresh(reply)
    debt = session.get_one(Debt, reply.debt_id)
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    if instance.is_final:
        label = engine.process_of(instance).state(instance.state).label
        raise AmountsNotTakenOver(f"De schuld is afgesloten ({label}): er worden geen bedragen meer overgenomen.")
    try:
        engine.fire(session, instance, "confirm_balance", actor=actor, payload={"reply_id": reply.id}, now=now)
    except TransitionRefused as refused:
        raise AmountsNotTakenOver(refused.reason) from refused
    debt.updated_at = now or engine.clock()
    session.flush()
    return reply


def confirm_reply(
    session: Session, engine: Engine, *, actor: UserActor, reply_id: int, origin: str | None
) -> CreditorReply:
    """'Bedragen overnemen': the counsellor takes the answer's amounts over after the check page (POST
    /replies/{id}/confirm). NotPermitted for other roles, NotFound out of scope, AmountsNotTakenOver when the
    answer cannot be taken over. Writes the `reply.confirm` audit row; does not commit."""
    _require_keeper(actor, "de bedragen van een antwoord overnemen")
    reply = get_reply(session, actor, reply_id)
    take_over_amounts(session, engine, reply, actor=actor)
    audit.record(session, actor=actor, action="reply.confirm", object_type="reply", object_id=reply.id,
                 case_id=reply.case_id, origin=origin, details={"debt_id": reply.debt_id})  # fmt: skip
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
