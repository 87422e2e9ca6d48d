"""The debt process (domain.md 9.2) as a user meets it: first letters, the creditor's answer clock with its two
reminders, answers, declining and handing over. Timers are fired with `tick_batch` inside the rolled-back session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from schulden.cases.models import Case
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.debts.workflow import CREDITOR, build_debt_process
from schulden.roles import Role
from tests.conftest import NOW, actor
from tests.factories import make_case, make_debt
from workflows import (
    PREVIOUS,
    SYSTEM,
    SYSTEM_ROLE,
    Actor,
    Engine,
    HistoryEntry,
    TimerRow,
    TimerStatus,
    TransitionRefused,
    WorkflowInstance,
    replay,
)

AMS = ZoneInfo("Europe/Amsterdam")

COUNSELLOR = actor(Role.COUNSELLOR.value, "user:counsellor")
VOLUNTEER = actor(Role.VOLUNTEER.value, "user:volunteer")
MUNICIPALITY = actor(Role.MUNICIPALITY.value, "user:municipality")
CREDITOR_REPLY = actor(CREDITOR, "creditor:reply-code")


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment given in Amsterdam time, as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


def midnight(day: date) -> datetime:
    """00:00 in Amsterdam on `day`."""
    return datetime.combine(day, time(0, 0), tzinfo=AMS)


# -- helpers ---------------------------------------------------------------------------------------------------------


def instance_of(session: Session, debt: Debt) -> WorkflowInstance:
    return session.get_one(WorkflowInstance, debt.instance_id)


def state_of(session: Session, debt: Debt) -> str:
    return instance_of(session, debt).state


def fire(
    session: Session,
    engine: Engine,
    debt: Debt,
    event: str,
    who: Actor = COUNSELLOR,
    *,
    now: datetime = NOW,
    reason: str | None = None,
    payload: dict[str, object] | None = None,
) -> HistoryEntry:
    if event == "propose_arrangement" and payload is None:
        payload = ARRANGEMENT  # the proposal itself: what L4 states
    return fire_debt_event(session, engine, debt, event, actor=who, reason=reason, payload=payload, now=now)


#: A payment plan as a counsellor proposes it (e.g. CJIB: EUR 12.50 a month during detention).
ARRANGEMENT = {"monthly_cents": 1250, "months": 18, "start_date": "2026-04-01", "basis": "inkomen tijdens detentie"}


def timers(session: Session, engine: Engine, debt: Debt, *, active_only: bool = True) -> list[TimerRow]:
    return engine.timers(session, instance_of(session, debt), active_only=active_only)


def last_entry(session: Session, engine: Engine, debt: Debt) -> HistoryEntry:
    return engine.history(session, instance_of(session, debt))[-1]


def new_debt(session: Session, engine: Engine, *, debt_type: str = "huur", now: datetime = NOW) -> Debt:
    case: Case = make_case(session, engine, now=now)
    return make_debt(session, engine, case, debt_type=debt_type, now=now)


# How to bring a new debt (in `identified`) to each of the other open states; the timer events are fired by the
# system, as a tick would.
PATHS: Mapping[str, tuple[tuple[str, Actor], ...]] = {
    "identified": (),
    "letters_requested": (("send_letters", COUNSELLOR),),
    "notified": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
    ),
    "reminded": (("send_letters", COUNSELLOR), ("letters_sent", SYSTEM), ("reply_overdue", SYSTEM)),
    "reminded_again": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("reply_overdue", SYSTEM),
        ("second_reminder_due", SYSTEM),
    ),
    "no_response": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("reply_overdue", SYSTEM),
        ("second_reminder_due", SYSTEM),
        ("no_reply", SYSTEM),
    ),
    "declined": (("send_letters", COUNSELLOR), ("letters_sent", SYSTEM), ("decline", CREDITOR_REPLY)),
    # Issue 13: the creditor's amounts wait for the counsellor's check; confirming is the counsellor's act.
    "answer_received": (("send_letters", COUNSELLOR), ("letters_sent", SYSTEM), ("balance_received", CREDITOR_REPLY)),
    "balance_confirmed": (("send_letters", COUNSELLOR), ("letters_sent", SYSTEM), ("confirm_balance", COUNSELLOR)),
    "disputed": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("confirm_balance", COUNSELLOR),
        ("dispute", COUNSELLOR),
    ),
    "suspension_requested": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("request_suspension", COUNSELLOR),
    ),
    "suspended": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("request_suspension", COUNSELLOR),
        ("grant_suspension", CREDITOR_REPLY),
    ),
    "suspension_refused": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("request_suspension", COUNSELLOR),
        ("refuse_suspension", CREDITOR_REPLY),
    ),
    "arrangement_proposed": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("confirm_balance", COUNSELLOR),
        ("propose_arrangement", COUNSELLOR),
    ),
    "arrangement_agreed": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("confirm_balance", COUNSELLOR),
        ("propose_arrangement", COUNSELLOR),
        ("agree_arrangement", CREDITOR_REPLY),
    ),
    "arrangement_rejected": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("confirm_balance", COUNSELLOR),
        ("propose_arrangement", COUNSELLOR),
        ("reject_arrangement", CREDITOR_REPLY),
    ),
    "termination_requested": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("request_termination", COUNSELLOR),
    ),
    "terminated": (
        ("send_letters", COUNSELLOR),
        ("letters_sent", SYSTEM),
        ("request_termination", COUNSELLOR),
        ("confirm_termination", CREDITOR_REPLY),
    ),
}


def debt_in(session: Session, engine: Engine, state: str) -> Debt:
    debt = new_debt(session, engine)
    for event, who in PATHS[state]:
        fire(session, engine, debt, event, who, reason="geen medewerking" if event == "decline" else None)
    assert state_of(session, debt) == state
    return debt


# -- first contact ---------------------------------------------------------------------------------------------------


def test_add_debt_starts_identified_with_five_working_days_for_the_letters(session: Session, wf_engine: Engine) -> None:
    debt = new_debt(session, wf_engine, now=at(2026, 12, 18))  # a Friday

    assert state_of(session, debt) == "identified"
    [letters_due] = timers(session, wf_engine, debt)
    # Mon 21, Tue 22, Wed 23, Thu 24, (Christmas, Boxing Day, weekend) Mon 28 December.
    assert (letters_due.name, letters_due.deadline) == ("letters_due", date(2026, 12, 28))


def test_letters_overdue_flags_the_debt_and_keeps_it_identified(session: Session, wf_engine: Engine) -> None:
    debt = new_debt(session, wf_engine, now=at(2026, 12, 18))

    assert wf_engine.tick_batch(session, now=at(2026, 12, 28, 23, 0)).fired == 0
    assert wf_engine.tick_batch(session, now=at(2026, 12, 29, 0, 30)).fired == 1

    assert state_of(session, debt) == "identified"
    entry = last_entry(session, wf_engine, debt)
    assert (entry.event, entry.effects) == ("letters_overdue", [{"effect": "flag_letters_overdue", "status": "intent"}])


@pytest.mark.parametrize(
    ("debt_type", "letters"),
    [
        # One letter, one reply code, whatever the debt: L6 and L7 go at intake (test_intake_notices.py).
        ("huur", ["L1"]),
        ("cjib_boete", ["L1"]),
        ("zorgpremie", ["L1"]),
        ("toeslagen", ["L1"]),
        ("uitkering_terugvordering", ["L1"]),
    ],
)
def test_send_letters_notifies_the_creditor_with_the_first_contact_letters(
    session: Session, wf_engine: Engine, debt_type: str, letters: list[str]
) -> None:
    debt = new_debt(session, wf_engine, debt_type=debt_type)

    entry = fire(session, wf_engine, debt, "send_letters")

    assert state_of(session, debt) == "letters_requested"
    assert (entry.from_state, entry.to_state) == ("identified", "letters_requested")
    [effect] = entry.effects
    assert (effect["effect"], effect["types"], len(effect["letters"])) == (
        "request_letters:first_contact",
        letters,
        len(letters),
    )
    assert [(t.name, t.status) for t in timers(session, wf_engine, debt, active_only=False)] == [
        ("letters_due", TimerStatus.CANCELLED),
    ]
    # The answer clock starts when the letters went out (print batch or e-mail), not when they were asked for.
    fire(session, wf_engine, debt, "letters_sent", SYSTEM)
    assert state_of(session, debt) == "notified"
    assert [t.name for t in timers(session, wf_engine, debt)] == ["answer_due"]


@pytest.mark.parametrize("who", [VOLUNTEER, MUNICIPALITY, CREDITOR_REPLY])
def test_only_a_counsellor_may_send_letters(session: Session, wf_engine: Engine, who: Actor) -> None:
    debt = new_debt(session, wf_engine)

    with pytest.raises(TransitionRefused) as refused:
        fire(session, wf_engine, debt, "send_letters", who)

    assert refused.value.code == "role"
    assert state_of(session, debt) == "identified"


# -- the creditor clock ----------------------------------------------------------------------------------------------


def test_the_creditor_clock_reminds_twice_then_records_no_response(session: Session, wf_engine: Engine) -> None:
    debt = new_debt(session, wf_engine, now=at(2026, 12, 18))
    fire(session, wf_engine, debt, "send_letters", now=at(2026, 12, 18, 9))
    fire(session, wf_engine, debt, "letters_sent", SYSTEM, now=at(2026, 12, 18, 10))  # posted Friday 18 December

    [clock] = timers(session, wf_engine, debt)
    # 10 working days, skipping Christmas, Boxing Day, New Year's Day and the weekends: Tuesday 5 January 2027.
    assert (clock.name, clock.event, clock.deadline) == ("answer_due", "reply_overdue", date(2027, 1, 5))
    assert clock.due_at == midnight(date(2027, 1, 6))
    assert clock.rule == "10 werkdagen na 2026-12-18 (Algemene termijnenwet)"
    assert wf_engine.tick_batch(session, now=at(2027, 1, 5, 12)).fired == 0
    assert state_of(session, debt) == "notified"

    assert wf_engine.tick_batch(session, now=at(2027, 1, 6, 0, 30)).fired == 1
    assert state_of(session, debt) == "reminded"
    entry = last_entry(session, wf_engine, debt)
    assert (entry.event, entry.actor_id, entry.timer_id) == ("reply_overdue", "system", clock.id)
    [effect] = entry.effects
    assert (effect["effect"], effect["types"], len(effect["letters"])) == ("request_letters:L3", ["L3"], 1)
    [second] = timers(session, wf_engine, debt)
    assert (second.event, second.deadline) == ("second_reminder_due", date(2027, 1, 20))

    assert wf_engine.tick_batch(session, now=at(2027, 1, 20, 23, 0)).fired == 0
    assert wf_engine.tick_batch(session, now=at(2027, 1, 21, 0, 30)).fired == 1
    assert state_of(session, debt) == "reminded_again"
    [effect] = last_entry(session, wf_engine, debt).effects
    assert (effect["effect"], effect["types"]) == ("request_letters:L3", ["L3"])
    [third] = timers(session, wf_engine, debt)
    assert (third.event, third.deadline) == ("no_reply", date(2027, 2, 4))

    assert wf_engine.tick_batch(session, now=at(2027, 2, 5, 0, 30)).fired == 1
    assert state_of(session, debt) == "no_response"
    assert timers(session, wf_engine, debt) == []
    assert wf_engine.tick_batch(session, now=at(2027, 6, 1)).fired == 0


@pytest.mark.parametrize("state", ["notified", "reminded", "reminded_again", "no_response"])
def test_confirm_balance_stops_the_answer_clock(session: Session, wf_engine: Engine, state: str) -> None:
    debt = debt_in(session, wf_engine, state)
    running = timers(session, wf_engine, debt)

    fire(session, wf_engine, debt, "confirm_balance", COUNSELLOR)

    assert state_of(session, debt) == "balance_confirmed"
    assert debt.amount_status == "confirmed"
    assert timers(session, wf_engine, debt) == []
    assert all(t.status == TimerStatus.CANCELLED for t in running)
    assert wf_engine.tick_batch(session, now=at(2027, 6, 1)).fired == 0
    assert state_of(session, debt) == "balance_confirmed"


@pytest.mark.parametrize("state", ["notified", "reminded", "reminded_again", "no_response"])
def test_a_creditors_balance_stops_the_clock_but_confirms_nothing(
    session: Session, wf_engine: Engine, state: str
) -> None:
    """Issue 13: the creditor's amounts wait for the counsellor; no reminder goes to a creditor that answered."""
    debt = debt_in(session, wf_engine, state)

    with pytest.raises(TransitionRefused) as refused:
        fire(session, wf_engine, debt, "confirm_balance", CREDITOR_REPLY)
    assert refused.value.code == "role"
    fire(session, wf_engine, debt, "balance_received", CREDITOR_REPLY)

    assert state_of(session, debt) == "answer_received"
    assert debt.amount_status == "estimated"
    assert timers(session, wf_engine, debt) == []
    assert wf_engine.tick_batch(session, now=at(2027, 6, 1)).fired == 0
    # From there only with the answer whose amounts become the debt's (schulden.replies.services.confirm_reply).
    with pytest.raises(TransitionRefused) as refused:
        fire(session, wf_engine, debt, "confirm_balance", COUNSELLOR)
    assert refused.value.code == "guard"
    assert state_of(session, debt) == "answer_received"


def test_decline_requires_a_reason(session: Session, wf_engine: Engine) -> None:
    debt = debt_in(session, wf_engine, "notified")

    with pytest.raises(TransitionRefused) as refused:
        fire(session, wf_engine, debt, "decline", CREDITOR_REPLY, reason="")
    assert refused.value.code == "reason_required"
    assert state_of(session, debt) == "notified"

    entry = fire(session, wf_engine, debt, "decline", CREDITOR_REPLY, reason="recente finale kwijting")

    assert state_of(session, debt) == "declined"
    assert entry.reason == "recente finale kwijting"
    assert timers(session, wf_engine, debt) == []


# -- handing over ----------------------------------------------------------------------------------------------------


def test_the_paths_cover_every_open_debt_state() -> None:
    process = build_debt_process()

    assert set(PATHS) == {s.name for s in process.states if not s.final}


@pytest.mark.parametrize("state", list(PATHS))
def test_hand_over_from_any_open_state_is_final_and_stops_every_clock(
    session: Session, wf_engine: Engine, state: str
) -> None:
    debt = debt_in(session, wf_engine, state)

    entry = fire(session, wf_engine, debt, "hand_over")

    instance = instance_of(session, debt)
    assert (instance.state, instance.is_final) == ("handed_over", True)
    assert (entry.from_state, entry.to_state) == (state, "handed_over")
    assert timers(session, wf_engine, debt) == []
    assert replay(wf_engine.process_of(instance), wf_engine.history(session, instance)) == (
        instance.state,
        instance.previous_state,
    )


def test_the_system_may_hand_over_a_debt(session: Session, wf_engine: Engine) -> None:
    debt = debt_in(session, wf_engine, "reminded")

    fire(session, wf_engine, debt, "hand_over", SYSTEM)

    assert state_of(session, debt) == "handed_over"


def test_a_handed_over_debt_refuses_further_answers(session: Session, wf_engine: Engine) -> None:
    debt = debt_in(session, wf_engine, "notified")
    fire(session, wf_engine, debt, "hand_over")

    with pytest.raises(TransitionRefused) as refused:
        fire(session, wf_engine, debt, "confirm_balance", CREDITOR_REPLY)

    assert (refused.value.code, refused.value.reason) == (
        "state",
        "Niet mogelijk in de status 'Overgedragen aan gemeente'.",
    )


# -- the definition --------------------------------------------------------------------------------------------------


def test_every_open_debt_state_can_reach_a_final_state() -> None:
    process = build_debt_process()
    successors: dict[str, set[str]] = {s.name: set() for s in process.states}
    for source, target, transition in process.edges():
        assert target != PREVIOUS  # the debt process never returns to a previous state
        if not transition.internal:
            successors[source].add(target)
    finals = {s.name for s in process.states if s.final}

    for state in process.states:
        seen, todo = {state.name}, [state.name]
        while todo:
            for nxt in successors[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        assert seen & finals, f"{state.name} cannot reach a final state"


def test_every_debt_timer_fires_a_system_transition_from_its_state() -> None:
    process = build_debt_process()  # the definition checks this when it is built; building must succeed

    timed = [(s.name, timer) for s in process.states for timer in s.timers]
    assert timed
    for state, timer in timed:
        transition = process.transition(timer.event, state)
        assert transition is not None, (state, timer.event)
        assert SYSTEM_ROLE in transition.roles, (state, timer.event)


def test_an_arrangement_is_proposed_with_its_terms(session: Session, wf_engine: Engine) -> None:
    debt = debt_in(session, wf_engine, "balance_confirmed")

    with pytest.raises(TransitionRefused) as refused:
        fire(session, wf_engine, debt, "propose_arrangement", payload={"monthly_cents": 1250})

    assert refused.value.reason == (
        "Geef het voorstel mee: months (1 tot 120), start_date (JJJJ-MM-DD), basis (waarop het bedrag is gebaseerd)."
    )
    fire(session, wf_engine, debt, "propose_arrangement")
    assert state_of(session, debt) == "arrangement_proposed"
