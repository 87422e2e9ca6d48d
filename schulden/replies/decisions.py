"""What a creditor decided, in words, and the step a counsellor records on the debt from it (issue 13 item 8).

A payment proposal (L4) is answered with accept, refuse or a counter-proposal, a termination (L5) with its
confirmation and end date; the answer stores them as data (CreditorReply.arrangement_decision, ...). The debt
moves only by the counsellor's act, behind a check page, as taking amounts over does: accept -> `agree_arrangement`,
refuse -> `reject_arrangement`, a counter-proposal -> `agree_arrangement` (its amount) or `reject_arrangement`
followed by `propose_arrangement` with a new plan (a new L4), a confirmed termination -> `confirm_termination`.
Every step names the answer (`reply_id` in its payload), so the debt's history says which answer it came from, and
counts as reading the answer. A step is possible only in its debt state (arrangement_proposed,
termination_requested): the engine refuses it otherwise, and DecisionRefused carries the Dutch sentence.

The notices about the case (L6, L7) move no debt; a reclaim an office names (L7) may become a debt of the case
(`add_reclaim_debt`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.notices import office_of_letter
from schulden.debts.models import AmountStatus, Debt
from schulden.debts.services import add_known_debt
from schulden.errors import DomainError, NotPermitted, ValidationFailed
from schulden.letters.models import Letter
from schulden.letters.templates import bedrag, datum
from schulden.replies.models import STEP_EVENTS, ArrangementDecision, CreditorReply, DecisionStep
from schulden.replies.services import REPLY_KEEPERS, get_reply
from workflows import Actor, Engine, HistoryEntry, TransitionRefused, WorkflowInstance
from workflows.store import utcnow

#: The debt state each step needs (debts/workflow.py).
STEP_STATES = {
    DecisionStep.AGREE: "arrangement_proposed",
    DecisionStep.REJECT: "arrangement_proposed",
    DecisionStep.PROPOSE_AGAIN: "arrangement_proposed",
    DecisionStep.CONFIRM_TERMINATION: "termination_requested",
}
#: What the counsellor records, as the button and the check page's title say it.
STEP_LABELS = {
    DecisionStep.AGREE: "Regeling akkoord vastleggen",
    DecisionStep.REJECT: "Afwijzing van de regeling vastleggen",
    DecisionStep.PROPOSE_AGAIN: "Opnieuw voorstellen",
    DecisionStep.CONFIRM_TERMINATION: "Opzegging bevestigd vastleggen",
}
COUNTER_AGREE_LABEL = "Tegenvoorstel aannemen"
#: The event a reclaim added as a debt leaves in the answer's `events`.
RECLAIM_EVENT = "reclaim_added"


class DecisionRefused(DomainError):
    """The step cannot be recorded (now): the Dutch text says why. Nothing was written."""


# -- in words -------------------------------------------------------------------------------------------------------


def said(reply: CreditorReply) -> str | None:
    """The creditor's decision in one sentence, for the counsellor (None: the answer holds no decision)."""
    if reply.no_cooperation:
        return None
    decision = reply.arrangement_decision
    monthly = reply.arrangement_monthly_cents
    if decision == ArrangementDecision.ACCEPT:
        plan = f"de regeling van {bedrag(monthly)} per maand" if monthly is not None else "de voorgestelde regeling"
        return f"De schuldeiser gaat akkoord met {plan}."
    if decision == ArrangementDecision.REFUSE:
        return f"Niet akkoord: {reply.arrangement_reason or 'geen reden genoemd'}"
    if decision == ArrangementDecision.COUNTER:
        amount = f": {bedrag(monthly)} per maand" if monthly is not None else ""
        return f"De schuldeiser doet een ander voorstel{amount}."
    if reply.termination_confirmed is True:
        when = f" per {datum(reply.termination_date)}" if reply.termination_date else ""
        return f"Opzegging bevestigd{when}."
    if reply.termination_confirmed is False:
        return f"Opzegging niet bevestigd: {reply.termination_reason or 'geen reden genoemd'}"
    if reply.insurance_suspended is True:
        when = f" per {datum(reply.insurance_suspended_from)}" if reply.insurance_suspended_from else ""
        return f"De zorgverzekeraar bevestigt de schorsing van de basisverzekering{when}."
    if reply.insurance_suspended is False:
        return "De zorgverzekeraar schorst de basisverzekering niet (zie de opmerking)."
    if reply.change_confirmed is not None:
        done = "heeft de wijziging verwerkt" if reply.change_confirmed else "heeft de wijziging niet verwerkt"
        reclaim = (
            f" Zij vordert {bedrag(reply.reclaim_cents)} terug." if reply.reclaim_cents else " Geen terugvordering."
        )
        return f"De instantie {done}.{reclaim}"
    return None


def step_label(reply: CreditorReply, step: DecisionStep) -> str:
    if step is DecisionStep.AGREE and reply.arrangement_decision == ArrangementDecision.COUNTER:
        return COUNTER_AGREE_LABEL
    return STEP_LABELS[step]


# -- which steps now ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """The steps the answer's decision asks, those possible now, and why none is possible (None: no reason)."""

    asked: tuple[DecisionStep, ...]
    possible: tuple[DecisionStep, ...]
    refusal: str | None


def _state_label(engine: Engine, instance: WorkflowInstance, state: str) -> str:
    return engine.process_of(instance).state(state).label or state


def _not_now(engine: Engine, instance: WorkflowInstance, step: DecisionStep) -> str:
    needed = _state_label(engine, instance, STEP_STATES[step])
    now = _state_label(engine, instance, instance.state)
    what = "De opzegging" if step is DecisionStep.CONFIRM_TERMINATION else "Het besluit over de regeling"
    return f"{what} kan niet worden vastgelegd: de schuld staat op '{now}', niet op '{needed}'."


def offer(session: Session, engine: Engine, reply: CreditorReply) -> Offer:
    """What the answer page offers: a step only on the newest answer, once, and in the debt state it needs."""
    asked = reply.decision_steps
    if not asked or reply.debt_id is None:
        return Offer((), (), None)
    if reply.decision_taken is not None:
        return Offer(asked, (), None)
    if reply.superseded_at is not None:
        return Offer(asked, (), "Er is een nieuwer antwoord van deze schuldeiser; leg het besluit daarvan vast.")
    debt = session.get_one(Debt, reply.debt_id)
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    possible = tuple(step for step in asked if instance.state == STEP_STATES[step])
    return Offer(asked, possible, None if possible else _not_now(engine, instance, asked[0]))


def decided(engine: Engine, session: Session, reply: CreditorReply) -> HistoryEntry | None:
    """The debt's history row of the step recorded from this answer (who and when), or None."""
    if reply.debt_id is None or reply.decision_taken is None:
        return None
    debt = session.get_one(Debt, reply.debt_id)
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    for entry in engine.history(session, instance):
        if entry.event == reply.decision_taken and (entry.payload or {}).get("reply_id") == reply.id:
            return entry
    return None


def last_proposal(session: Session, debt_id: int) -> dict[str, Any]:
    """The plan of the debt's latest `propose_arrangement` (monthly_cents, months, start_date, basis), or {}: the
    start of a new proposal."""
    payload = session.scalar(
        select(HistoryEntry.payload)
        .join(Debt, Debt.instance_id == HistoryEntry.instance_id)
        .where(Debt.id == debt_id, HistoryEntry.event == "propose_arrangement")
        .order_by(HistoryEntry.seq.desc())
        .limit(1)
    )
    return {k: payload.get(k) for k in ("monthly_cents", "months", "start_date", "basis")} if payload else {}


# -- recording the step ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A new payment proposal (propose_arrangement's payload, as debts/workflow.py checks it)."""

    monthly_cents: int
    months: int
    start_date: date
    basis: str


def _require_keeper(actor: UserActor, what: str) -> None:
    if actor.role not in REPLY_KEEPERS:
        raise NotPermitted(f"Uw rol mag {what} niet uitvoeren.")


def _note_event(reply: CreditorReply, event: str, *, actor: Actor, now: datetime) -> None:
    """The answer records what was done from it, and counts as read (as taking its amounts over does)."""
    reply.events = ",".join([*(reply.events or "").split(","), event]).strip(",")
    if reply.reviewed_at is None:
        reply.reviewed_at = now
        reply.reviewed_by = actor.actor_id


def _fire(
    session: Session,
    engine: Engine,
    instance: WorkflowInstance,
    step: DecisionStep,
    event: str,
    *,
    actor: Actor,
    payload: Mapping[str, Any],
    reason: str | None,
    now: datetime,
) -> None:
    try:
        engine.fire(session, instance, event, actor=actor, payload=payload, reason=reason, now=now)
    except TransitionRefused as refused:
        if refused.code == "state":
            raise DecisionRefused(_not_now(engine, instance, step)) from refused
        raise DecisionRefused(refused.reason) from refused


def take_step(
    session: Session,
    engine: Engine,
    reply: CreditorReply,
    step: DecisionStep,
    *,
    actor: Actor,
    plan: Plan | None = None,
    now: datetime | None = None,
) -> None:
    """Record the step on the answer's debt: the debt event(s) with `reply_id` in the payload, the answer marked
    read. DecisionRefused (nothing written) when the answer does not ask this step, is not the newest, was decided
    already, or the debt is not in the state the step needs. Does not commit."""
    moment = now or engine.clock()
    if reply.debt_id is None:
        raise DecisionRefused("Dit antwoord hoort niet bij een schuld: er is geen stap om vast te leggen.")
    # The debt's row is the lock, as for a new answer: a racing answer or a second click waits, then sees this one.
    session.execute(select(Debt.id).where(Debt.id == reply.debt_id).with_for_update())
    session.refresh(reply)
    if step not in reply.decision_steps:
        raise DecisionRefused(f"Dit antwoord vraagt niet om '{STEP_LABELS[step]}'.")
    if reply.decision_taken is not None:
        raise DecisionRefused("Het besluit van dit antwoord is al vastgelegd.")
    if reply.superseded_at is not None:
        raise DecisionRefused("Er is een nieuwer antwoord van deze schuldeiser; leg het besluit daarvan vast.")
    if step is DecisionStep.PROPOSE_AGAIN and plan is None:
        raise DecisionRefused("Geef het nieuwe voorstel: bedrag per maand, aantal termijnen, eerste betaling en basis.")
    debt = session.get_one(Debt, reply.debt_id)
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    event = STEP_EVENTS[step]
    payload: dict[str, Any] = {"reply_id": reply.id}
    reason = None
    if step is DecisionStep.AGREE and reply.arrangement_monthly_cents is not None:
        payload["monthly_cents"] = reply.arrangement_monthly_cents
    elif step is DecisionStep.REJECT:
        reason = (reply.arrangement_reason or "")[:500] or None
    elif step is DecisionStep.PROPOSE_AGAIN:
        reason = "Tegenvoorstel van de schuldeiser niet aangenomen; nieuw voorstel gedaan."
    elif step is DecisionStep.CONFIRM_TERMINATION and reply.termination_date is not None:
        payload["termination_date"] = reply.termination_date.isoformat()
    _fire(session, engine, instance, step, event, actor=actor, payload=payload, reason=reason, now=moment)
    _note_event(reply, event, actor=actor, now=moment)
    if plan is not None and step is DecisionStep.PROPOSE_AGAIN:
        proposal = {
            "monthly_cents": plan.monthly_cents,
            "months": plan.months,
            "start_date": plan.start_date.isoformat(),
            "basis": plan.basis,
            "reply_id": reply.id,
        }
        _fire(session, engine, instance, step, "propose_arrangement", actor=actor, payload=proposal, reason=None,
              now=moment)  # fmt: skip
        _note_event(reply, "propose_arrangement", actor=actor, now=moment)
    debt.updated_at = moment
    session.flush()


def decide(
    session: Session,
    engine: Engine,
    *,
    actor: UserActor,
    reply_id: int,
    step: DecisionStep,
    plan: Plan | None = None,
    origin: str | None,
) -> CreditorReply:
    """The counsellor records the step of the answer's decision after its check page (the answer page, POST
    /replies/{id}/decision). NotPermitted for other roles, NotFound out of scope, DecisionRefused when it cannot be
    recorded. Writes the `reply.decision` audit row; does not commit."""
    _require_keeper(actor, "het besluit van een schuldeiser vastleggen")
    reply = get_reply(session, actor, reply_id)
    take_step(session, engine, reply, step, actor=actor, plan=plan)
    audit.record(session, actor=actor, action="reply.decision", object_type="reply", object_id=reply.id,
                 case_id=reply.case_id, origin=origin,
                 details={"debt_id": reply.debt_id, "step": step.value})  # fmt: skip
    return reply


# -- a reclaim as a debt (L7) ---------------------------------------------------------------------------------------


def reclaim_refusal(session: Session, reply: CreditorReply) -> str | None:
    """Why the answer's reclaim cannot become a debt (None: it can)."""
    letter = session.get(Letter, reply.letter_id) if reply.letter_id is not None else None
    if letter is None or letter.letter_type != "L7" or not reply.reclaim_cents:
        return "Dit antwoord noemt geen terugvordering."
    if RECLAIM_EVENT in (reply.events or "").split(","):
        return "De terugvordering van dit antwoord staat al als schuld in het dossier."
    if reply.superseded_at is not None:
        return "Er is een nieuwer antwoord van deze instantie; neem de terugvordering daarvan over."
    if letter.creditor_id is None:
        return (
            f"{letter.recipient_name or 'Deze instantie'} staat niet in de lijst van schuldeisers: voeg de "
            "terugvordering als schuld toe bij de schulden van het dossier."
        )
    return None


def reclaim_debt_type(session: Session, letter: Letter) -> str:
    """Toeslagen reclaims an allowance; UWV and SVB (and a municipality) a benefit."""
    return "toeslagen" if office_of_letter(session, letter) == "toeslagen" else "uitkering_terugvordering"


def add_reclaim_debt(session: Session, engine: Engine, *, actor: UserActor, reply_id: int, origin: str | None) -> Debt:
    """The reclaim a benefit office named in its answer (L7) becomes a debt of the case, with the office as its
    creditor and the amount as the office stated it (confirmed: the counsellor checked it on the check page).
    Once per answer, from the newest. DecisionRefused otherwise (nothing written). Does not commit."""
    _require_keeper(actor, "een terugvordering als schuld toevoegen")
    reply = get_reply(session, actor, reply_id)
    session.execute(select(Letter.id).where(Letter.id == reply.letter_id).with_for_update())
    session.refresh(reply)
    refusal = reclaim_refusal(session, reply)
    if refusal is not None:
        raise DecisionRefused(refusal)
    letter = session.get_one(Letter, reply.letter_id)
    # reclaim_refusal checked both.
    assert letter.creditor_id is not None
    assert reply.reclaim_cents is not None
    data = {
        "creditor_id": letter.creditor_id,
        "debt_type": reclaim_debt_type(session, letter),
        "principal_cents": reply.reclaim_cents,
        "interest_cents": 0,
        "costs_cents": 0,
        "amount_status": AmountStatus.CONFIRMED.value,
        "peildatum": reply.received_on,
        "source": "creditor",
    }
    try:
        debt = add_known_debt(session, engine, session.get_one(Case, reply.case_id), actor=actor, data=data,
                              origin=origin)  # fmt: skip
    except ValidationFailed as failed:
        # The office's directory entry was retired meanwhile: say so, instead of a field the page does not have.
        raise DecisionRefused(" ".join(m for messages in failed.errors.values() for m in messages)) from failed
    _note_event(reply, RECLAIM_EVENT, actor=actor, now=utcnow())
    session.flush()
    audit.record(session, actor=actor, action="reply.reclaim_debt", object_type="reply", object_id=reply.id,
                 case_id=reply.case_id, origin=origin, details={"debt_id": debt.id})  # fmt: skip
    return debt
