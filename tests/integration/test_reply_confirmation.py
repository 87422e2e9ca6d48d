"""Confirming a debt's amounts is the counsellor's act (issue 13 item 1): a creditor's answer from the reply page
waits ("Antwoord ontvangen, te controleren") with the debt's estimate unchanged; taking its amounts over is the
debt process's `confirm_balance` with the answer's id, once, for the newest answer only; an answer the counsellor
types in is taken over by that entry."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from schulden.actors import CreditorActor
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.replies.models import CreditorReply, ReplyChannel, ReviewStatus
from schulden.replies.services import AmountsNotTakenOver, record_reply, take_over_amounts
from schulden.roles import Role
from tests.conftest import NOW, actor
from tests.factories import make_case, make_debt
from workflows import SYSTEM, Engine, TransitionRefused, WorkflowInstance

COUNSELLOR = actor(Role.COUNSELLOR.value, "user:counsellor")
CREDITOR = CreditorActor(letter_id=1)
TODAY = NOW.date()
BALANCE = {"principal_cents": 1_100_000, "interest_cents": 30_000, "costs_cents": 20_000, "peildatum": TODAY}


def _debt(session: Session, engine: Engine, *path: str) -> Debt:
    """A debt of € 12.500 (the client's estimate), brought along `path` (events fired as the counsellor, the
    system's as the system)."""
    debt = make_debt(session, engine, make_case(session, engine), principal_cents=1_250_000)
    for event in path:
        who = SYSTEM if event in ("letters_sent", "reply_overdue") else COUNSELLOR
        fire_debt_event(session, engine, debt, event, actor=who, now=NOW)
    return debt


def _state(session: Session, debt: Debt) -> str:
    return session.get_one(WorkflowInstance, debt.instance_id).state


def _answer(
    session: Session, engine: Engine, debt: Debt, *, who: Any = CREDITOR, channel: ReplyChannel = ReplyChannel.WEB,
    now: datetime = NOW, **data: Any,
) -> CreditorReply:  # fmt: skip
    return record_reply(
        session, engine, actor=who, debt=debt, letter_id=None, channel=channel, data=data or BALANCE,
        received_on=TODAY, today=TODAY, now=now,
    )  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [("send_letters",), ("send_letters", "letters_sent"), ("send_letters", "letters_sent", "reply_overdue")],
    ids=["letters_requested", "notified", "reminded"],
)
def test_a_creditors_balance_leaves_the_estimate_and_stops_the_reminders(
    session: Session, wf_engine: Engine, path: tuple[str, ...]
) -> None:
    debt = _debt(session, wf_engine, *path)

    reply = _answer(session, wf_engine, debt)

    assert (debt.total_cents, debt.amount_status) == (1_250_000, "estimated")
    assert _state(session, debt) == "answer_received"
    assert reply.events == "reply_received,balance_received"
    assert (reply.review_status, reply.awaits_take_over) == (ReviewStatus.NEW, True)
    assert wf_engine.timers(session, session.get_one(WorkflowInstance, debt.instance_id)) == []


def test_taking_the_amounts_over_confirms_the_debt_once(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "send_letters", "letters_sent")
    reply = _answer(session, wf_engine, debt)

    take_over_amounts(session, wf_engine, reply, actor=COUNSELLOR, now=NOW + timedelta(hours=1))

    assert (debt.principal_cents, debt.interest_cents, debt.costs_cents) == (1_100_000, 30_000, 20_000)
    assert (debt.peildatum, debt.amount_status, _state(session, debt)) == (TODAY, "confirmed", "balance_confirmed")
    assert (reply.review_status, reply.reviewed_by) == (ReviewStatus.TAKEN_OVER, "user:counsellor")
    entry = wf_engine.history(session, session.get_one(WorkflowInstance, debt.instance_id))[-1]
    assert (entry.event, entry.actor_id, entry.payload) == (
        "confirm_balance",
        "user:counsellor",
        {"reply_id": reply.id},
    )
    assert entry.effects == [
        {"effect": "amount_confirmed", "amount_status": "confirmed", "reply_id": reply.id, "total_cents": 1_150_000}
    ]

    with pytest.raises(AmountsNotTakenOver, match="al overgenomen"):
        take_over_amounts(session, wf_engine, reply, actor=COUNSELLOR)
    events = [e.event for e in wf_engine.history(session, session.get_one(WorkflowInstance, debt.instance_id))]
    assert events.count("confirm_balance") == 1


def test_the_bare_confirm_step_cannot_confirm_a_waiting_answer(session: Session, wf_engine: Engine) -> None:
    """The old "Saldo ontvangen" without an answer would call the estimate confirmed: refused while one waits."""
    debt = _debt(session, wf_engine, "send_letters", "letters_sent")
    _answer(session, wf_engine, debt)

    with pytest.raises(TransitionRefused) as refused:
        fire_debt_event(session, wf_engine, debt, "confirm_balance", actor=COUNSELLOR, now=NOW)

    assert refused.value.code == "guard"
    assert debt.amount_status == "estimated"


def test_only_the_newest_answer_is_taken_over(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "send_letters", "letters_sent")
    first = _answer(session, wf_engine, debt)
    second = _answer(session, wf_engine, debt, now=NOW + timedelta(hours=2), **{**BALANCE, "principal_cents": 900_000})

    assert (second.version, _state(session, debt)) == (2, "answer_received")
    with pytest.raises(AmountsNotTakenOver, match="nieuwer antwoord"):
        take_over_amounts(session, wf_engine, first, actor=COUNSELLOR)
    take_over_amounts(session, wf_engine, second, actor=COUNSELLOR)
    assert debt.total_cents == 950_000


def test_a_newer_balance_during_a_suspension_changes_the_amounts_and_keeps_the_state(
    session: Session, wf_engine: Engine
) -> None:
    debt = _debt(session, wf_engine, "send_letters", "letters_sent", "request_suspension")
    reply = _answer(session, wf_engine, debt, **{**BALANCE, "collection_suspended": True})

    # The suspension is the creditor's own decision; its amounts wait for the counsellor.
    assert _state(session, debt) == "suspended"
    assert debt.amount_status == "estimated"
    take_over_amounts(session, wf_engine, reply, actor=COUNSELLOR)

    assert (_state(session, debt), debt.total_cents, debt.amount_status) == ("suspended", 1_150_000, "confirmed")


def test_a_closed_debt_takes_no_amounts_over(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "send_letters", "letters_sent")
    reply = _answer(session, wf_engine, debt)
    fire_debt_event(session, wf_engine, debt, "hand_over", actor=COUNSELLOR, now=NOW)

    with pytest.raises(AmountsNotTakenOver, match="afgesloten"):
        take_over_amounts(session, wf_engine, reply, actor=COUNSELLOR)
    assert debt.amount_status == "estimated"


def test_an_answer_the_counsellor_types_in_is_taken_over_by_the_entry(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "send_letters", "letters_sent")

    reply = _answer(session, wf_engine, debt, who=COUNSELLOR, channel=ReplyChannel.POST)

    assert reply.events == "reply_received,confirm_balance"
    assert reply.amounts_taken_over
    assert (debt.total_cents, debt.amount_status, _state(session, debt)) == (
        1_150_000,
        "confirmed",
        "balance_confirmed",
    )


def test_an_answer_without_amounts_changes_no_amount(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "send_letters", "letters_sent")

    reply = _answer(session, wf_engine, debt, note="Wij zoeken het uit.")

    assert (reply.has_balance, reply.awaits_take_over, reply.review_status) == (False, False, ReviewStatus.NEW)
    assert (_state(session, debt), debt.amount_status) == ("notified", "estimated")
    with pytest.raises(AmountsNotTakenOver, match="geen bedragen"):
        take_over_amounts(session, wf_engine, reply, actor=COUNSELLOR)


def test_a_date_and_peildatum_are_those_of_the_answer(session: Session, wf_engine: Engine) -> None:
    debt = _debt(session, wf_engine, "send_letters", "letters_sent")
    reply = _answer(session, wf_engine, debt, **{**BALANCE, "peildatum": date(2026, 2, 1)})

    take_over_amounts(session, wf_engine, reply, actor=COUNSELLOR)

    assert debt.peildatum == date(2026, 2, 1)
