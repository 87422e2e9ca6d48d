"""A creditor's decision is data on its answer, and the debt moves only by the counsellor's step from it (issue 13
item 8): an accepted proposal is agreed, a refused one rejected, a counter-proposal agreed or answered with a new
proposal, a confirmed termination confirmed; each step names the answer in the debt's history, once, from the
newest answer, and only in the debt state it belongs to. The answers to the notices about the case (L6, L7) are
stored as data too, versioned per letter, and move no debt."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden.actors import CreditorActor
from schulden.cases.models import Case
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.errors import ValidationFailed
from schulden.letters.models import Letter
from schulden.letters.templates import datum
from schulden.replies.decisions import DecisionRefused, Plan, offer, reclaim_refusal, said, take_step
from schulden.replies.models import CreditorReply, DecisionStep, ReplyChannel, ReviewStatus
from schulden.replies.schemas import Proposal, stored_answer
from schulden.replies.services import record_notice_reply, record_reply
from schulden.roles import Role
from tests.conftest import NOW, actor
from tests.factories import make_case, make_creditor, make_debt
from workflows import SYSTEM, Engine, HistoryEntry, WorkflowInstance

COUNSELLOR = actor(Role.COUNSELLOR.value, "user:counsellor")
CREDITOR = CreditorActor(letter_id=1)
TODAY = NOW.date()
PROPOSAL = {"monthly_cents": 1_250, "months": 18, "start_date": "2026-04-01", "basis": "inkomen tijdens detentie"}
ACCEPT = {"arrangement_decision": "accept", "arrangement_offered": True, "arrangement_monthly_cents": 1_250}
REFUSE = {"arrangement_decision": "refuse", "arrangement_offered": False, "arrangement_reason": "Te laag bedrag."}
COUNTER = {"arrangement_decision": "counter", "arrangement_offered": True, "arrangement_monthly_cents": 2_500,
           "arrangement_terms": "Vanaf de vrijlating."}  # fmt: skip
CONFIRMED = {"termination_confirmed": True, "termination_date": date(2027, 1, 1), "note": "Modem retour."}


def _debt(session: Session, engine: Engine, state: str) -> Debt:
    """A debt brought to `arrangement_proposed` (by the counsellor's proposal) or `termination_requested`."""
    debt = make_debt(session, engine, make_case(session, engine), principal_cents=50_000)
    path: list[tuple[str, dict[str, Any] | None]] = [("send_letters", None), ("letters_sent", None)]
    if state == "arrangement_proposed":
        path += [("confirm_balance", None), ("propose_arrangement", PROPOSAL)]
    elif state == "termination_requested":
        path += [("request_termination", None)]
    elif state == "balance_confirmed":
        path += [("confirm_balance", None)]
    for event, payload in path:
        who = SYSTEM if event == "letters_sent" else COUNSELLOR
        fire_debt_event(session, engine, debt, event, actor=who, payload=payload, now=NOW)
    assert _state(session, debt) == state
    return debt


def _state(session: Session, debt: Debt) -> str:
    return session.get_one(WorkflowInstance, debt.instance_id).state


def _history(session: Session, engine: Engine, debt: Debt) -> list[HistoryEntry]:
    return engine.history(session, session.get_one(WorkflowInstance, debt.instance_id))


def _answer(session: Session, engine: Engine, debt: Debt, data: dict[str, Any]) -> CreditorReply:
    return record_reply(
        session, engine, actor=CREDITOR, debt=debt, letter_id=None, channel=ReplyChannel.WEB, data=data,
        received_on=TODAY, today=TODAY, now=NOW,
    )  # fmt: skip


def test_an_accepted_proposal_is_agreed_once_and_the_history_names_the_answer(
    session: Session, wf_engine: Engine
) -> None:
    debt = _debt(session, wf_engine, "arrangement_proposed")
    reply = _answer(session, wf_engine, debt, ACCEPT)
    # The creditor's word moves nothing: the counsellor records it.
    assert _state(session, debt) == "arrangement_proposed"
    assert said(reply) == "De schuldeiser gaat akkoord met de regeling van €\xa012,50 per maand."
    assert offer(session, wf_engine, reply).possible == (DecisionStep.AGREE,)

    take_step(session, wf_engine, reply, DecisionStep.AGREE, actor=COUNSELLOR, now=NOW + timedelta(hours=1))

    assert _state(session, debt) == "arrangement_agreed"
    entry = _history(session, wf_engine, debt)[-1]
    assert (entry.event, entry.actor_id, entry.payload) == (
        "agree_arrangement", "user:counsellor", {"reply_id": reply.id, "monthly_cents": 1_250})  # fmt: skip
    # Recording the decision is reading the answer.
    assert (reply.decision_taken, reply.review_status, reply.reviewed_by) == (
        "agree_arrangement", ReviewStatus.READ, "user:counsellor")  # fmt: skip
    assert offer(session, wf_engine, reply).possible == ()
    with pytest.raises(DecisionRefused, match="al vastgelegd"):
        take_step(session, wf_engine, reply, DecisionStep.AGREE, actor=COUNSELLOR)


def test_a_refused_proposal_is_rejected_with_the_creditors_reason(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "arrangement_proposed")
    reply = _answer(session, wf_engine, debt, REFUSE)
    assert said(reply) == "Niet akkoord: Te laag bedrag."
    with pytest.raises(DecisionRefused, match="vraagt niet om"):
        take_step(session, wf_engine, reply, DecisionStep.AGREE, actor=COUNSELLOR)

    take_step(session, wf_engine, reply, DecisionStep.REJECT, actor=COUNSELLOR)

    entry = _history(session, wf_engine, debt)[-1]
    assert (_state(session, debt), entry.event, entry.payload, entry.reason) == (
        "arrangement_rejected", "reject_arrangement", {"reply_id": reply.id}, "Te laag bedrag.")  # fmt: skip


def test_a_counter_proposal_is_agreed_at_its_own_amount(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "arrangement_proposed")
    reply = _answer(session, wf_engine, debt, COUNTER)
    assert said(reply) == "De schuldeiser doet een ander voorstel: €\xa025,00 per maand."
    assert offer(session, wf_engine, reply).possible == (DecisionStep.AGREE, DecisionStep.PROPOSE_AGAIN)

    take_step(session, wf_engine, reply, DecisionStep.AGREE, actor=COUNSELLOR)

    assert _state(session, debt) == "arrangement_agreed"
    assert _history(session, wf_engine, debt)[-1].payload == {"reply_id": reply.id, "monthly_cents": 2_500}


def test_a_counter_proposal_can_be_answered_with_a_new_proposal(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "arrangement_proposed")
    reply = _answer(session, wf_engine, debt, COUNTER)
    letters_before = session.scalar(select(func.count()).select_from(Letter).where(Letter.debt_id == debt.id))

    with pytest.raises(DecisionRefused, match="nieuwe voorstel"):
        take_step(session, wf_engine, reply, DecisionStep.PROPOSE_AGAIN, actor=COUNSELLOR)
    plan = Plan(monthly_cents=1_800, months=24, start_date=date(2026, 6, 1), basis="verwacht inkomen na vrijlating")
    take_step(session, wf_engine, reply, DecisionStep.PROPOSE_AGAIN, actor=COUNSELLOR, plan=plan)

    rejected, proposed = _history(session, wf_engine, debt)[-2:]
    assert (rejected.event, rejected.payload) == ("reject_arrangement", {"reply_id": reply.id})
    assert (proposed.event, proposed.payload) == (
        "propose_arrangement",
        {"monthly_cents": 1_800, "months": 24, "start_date": "2026-06-01", "basis": "verwacht inkomen na vrijlating",
         "reply_id": reply.id},
    )  # fmt: skip
    assert _state(session, debt) == "arrangement_proposed"
    # The new proposal is a new letter to the creditor.
    letters = session.scalars(select(Letter.letter_type).where(Letter.debt_id == debt.id)).all()
    assert len(letters) == (letters_before or 0) + 1
    assert "L4" in letters


def test_a_confirmed_termination_is_confirmed_with_its_end_date(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "termination_requested")
    reply = _answer(session, wf_engine, debt, CONFIRMED)
    assert said(reply) == "Opzegging bevestigd per 1 januari 2027."
    assert reply.note == "Modem retour."

    take_step(session, wf_engine, reply, DecisionStep.CONFIRM_TERMINATION, actor=COUNSELLOR)

    entry = _history(session, wf_engine, debt)[-1]
    assert (_state(session, debt), entry.event, entry.payload) == (
        "terminated", "confirm_termination", {"reply_id": reply.id, "termination_date": "2027-01-01"})  # fmt: skip


def test_a_step_in_the_wrong_debt_state_is_refused_in_dutch_and_writes_nothing(
    session: Session, wf_engine: Engine
) -> None:
    debt = _debt(session, wf_engine, "balance_confirmed")  # no proposal was made
    reply = _answer(session, wf_engine, debt, ACCEPT)
    before = len(_history(session, wf_engine, debt))
    expected = "de schuld staat op 'Saldo bevestigd', niet op 'Regeling voorgesteld'"

    found = offer(session, wf_engine, reply)
    assert (found.asked, found.possible) == ((DecisionStep.AGREE,), ())
    assert found.refusal is not None
    assert expected in found.refusal
    with pytest.raises(DecisionRefused, match=expected):
        take_step(session, wf_engine, reply, DecisionStep.AGREE, actor=COUNSELLOR)

    assert len(_history(session, wf_engine, debt)) == before
    assert (reply.decision_taken, reply.reviewed_at) == (None, None)


def test_only_the_newest_answer_decides(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "arrangement_proposed")
    first = _answer(session, wf_engine, debt, REFUSE)
    second = _answer(session, wf_engine, debt, ACCEPT)

    with pytest.raises(DecisionRefused, match="nieuwer antwoord"):
        take_step(session, wf_engine, first, DecisionStep.REJECT, actor=COUNSELLOR)
    take_step(session, wf_engine, second, DecisionStep.AGREE, actor=COUNSELLOR)
    assert _state(session, debt) == "arrangement_agreed"


def test_declining_asks_no_decision_step(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "arrangement_proposed")
    reply = _answer(session, wf_engine, debt, {"no_cooperation": "client_unknown"})

    assert (reply.decision_steps, said(reply), offer(session, wf_engine, reply).asked) == ((), None, ())


def test_the_decisions_rules_hold_for_every_channel(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "arrangement_proposed")
    with pytest.raises(ValidationFailed) as failed:
        _answer(session, wf_engine, debt, {"arrangement_decision": "refuse", "termination_date": date(2027, 1, 1)})
    assert set(failed.value.errors) == {"arrangement_reason", "termination_date"}
    with pytest.raises(ValidationFailed) as failed:
        _answer(session, wf_engine, debt, {"arrangement_decision": "counter", "arrangement_offered": True})
    assert set(failed.value.errors) == {"arrangement_monthly_cents"}


# -- the notices about the case: L6 to the insurer, L7 to a benefit office ------------------------------------------


def _notice(session: Session, case: Case, kind: str, creditor_id: int | None) -> Letter:
    letter = Letter(
        case_id=case.id, debt_id=None, creditor_id=creditor_id, recipient_name="Zorgverzekeraar Test",
        letter_type=kind, idempotency_key=f"test-{kind}-{case.id}", letter_date=TODAY, requested_by="user:1",
    )  # fmt: skip
    session.add(letter)
    session.flush()
    return letter


def test_the_insurers_answer_is_stored_as_data_and_a_correction_is_its_next_version(
    session: Session, wf_engine: Engine
) -> None:
    case = make_case(session, wf_engine)
    letter = _notice(session, case, "L6", None)
    start = TODAY - timedelta(days=10)
    data, errors = stored_answer("L6", {"insurance_suspended": True, "insurance_suspended_from": start}, None)
    assert errors == {}

    first = record_notice_reply(session, actor=CreditorActor(letter.id), letter=letter, data=data, today=TODAY,
                                now=NOW)  # fmt: skip
    second = record_notice_reply(
        session, actor=CreditorActor(letter.id), letter=letter, data={**data, "note": "Ook aanvullend geschorst."},
        today=TODAY, now=NOW + timedelta(hours=1),
    )  # fmt: skip
    session.refresh(first)

    assert (first.debt_id, first.case_id, first.insurance_suspended, first.insurance_suspended_from) == (
        None, case.id, True, start)  # fmt: skip
    assert (first.version, first.superseded_at is not None, second.version, second.superseded_at) == (1, True, 2, None)
    assert said(second) == f"De zorgverzekeraar bevestigt de schorsing van de basisverzekering per {datum(start)}."
    assert offer(session, wf_engine, second).asked == ()


def test_the_notices_ask_their_own_questions() -> None:
    assert stored_answer("L6", {}, None)[1] == {"insurance_suspended": ["Kies of u de basisverzekering schorst."]}
    assert "insurance_suspended_from" in stored_answer("L6", {"insurance_suspended": True}, None)[1]
    assert "note" in stored_answer("L6", {"insurance_suspended": False}, None)[1]
    assert stored_answer("L7", {}, None)[1] == {"change_confirmed": ["Kies of u de wijziging hebt verwerkt."]}
    data, errors = stored_answer("L7", {"change_confirmed": True, "reclaim_cents": 45_000}, None)
    assert (errors, data["change_confirmed"], data["reclaim_cents"]) == ({}, True, 45_000)
    # A decision that another letter asks is not stored with this one.
    data, _errors = stored_answer("L1", {"arrangement_decision": "accept", "note": "x"}, Proposal(1, 1, TODAY))
    assert "arrangement_decision" not in data


def test_a_reclaim_can_become_a_debt_only_from_the_newest_l7_answer_of_a_known_office(
    session: Session, wf_engine: Engine
) -> None:
    case = make_case(session, wf_engine)
    office = make_creditor(session)
    letter = _notice(session, case, "L7", office.id)
    unknown = _notice(session, case, "L6", None)
    data = {"change_confirmed": True, "reclaim_cents": 45_000}

    reply = record_notice_reply(session, actor=CREDITOR, letter=letter, data=data, today=TODAY, now=NOW)
    assert reclaim_refusal(session, reply) is None
    assert said(reply) == "De instantie heeft de wijziging verwerkt. Zij vordert €\xa0450,00 terug."
    nothing = record_notice_reply(session, actor=CREDITOR, letter=unknown, data={"insurance_suspended": True,
                                  "insurance_suspended_from": TODAY}, today=TODAY, now=NOW)  # fmt: skip
    assert reclaim_refusal(session, nothing) == "Dit antwoord noemt geen terugvordering."
    newer = record_notice_reply(session, actor=CREDITOR, letter=letter, data=data, today=TODAY, now=NOW)
    session.refresh(reply)
    assert reclaim_refusal(session, reply) is not None
    assert reclaim_refusal(session, newer) is None
