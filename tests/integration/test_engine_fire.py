"""Firing events: state, history, refusals with reasons, timers, holding clocks, conflicts."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import NOW, actor
from tests.ticket_process import TICKET, open_tickets, ticket_engine
from workflows import (
    ConcurrentUpdate,
    HistoryEntry,
    TimerRow,
    TimerStatus,
    TransitionRefused,
    WorkflowInstance,
    replay,
)
from workflows.store import ImmutableHistory

AGENT = actor("agent", "user:1")
LEAD = actor("lead", "user:2")


def test_start_writes_the_first_history_row_and_starts_the_initial_timers(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)

    [entry] = engine.history(session, instance)
    assert (entry.seq, entry.event, entry.from_state, entry.to_state, entry.actor_id) == (
        1,
        "start",
        None,
        "open",
        "user:1",
    )
    [timer] = engine.timers(session, instance)
    assert (timer.name, timer.event, timer.due_at) == ("expiry", "expire", NOW + timedelta(hours=1))


def test_fire_moves_state_records_history_and_swaps_timers(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)

    entry = engine.fire(session, instance, "begin", actor=AGENT, payload={"note": "x"}, now=NOW)

    assert instance.state == "working"
    assert (entry.seq, entry.from_state, entry.to_state, entry.payload) == (2, "open", "working", {"note": "x"})
    timers = engine.timers(session, instance, active_only=False)
    assert [(t.name, t.status) for t in timers] == [("expiry", "cancelled"), ("sla", "pending")]
    # Monday 2 March 2026 + 2 working days = Wednesday 4 March; the timer fires when that day is over.
    assert timers[1].deadline == date(2026, 3, 4)
    assert "2 werkdagen na 2026-03-02" in timers[1].rule


@pytest.mark.parametrize(
    ("event", "who", "reason", "payload", "code", "message"),
    [
        ("finish", AGENT, None, {}, "state", "Niet mogelijk in de status 'Open'."),
        ("begin", LEAD, None, {}, "role", "Uw rol mag deze actie niet uitvoeren."),
        ("pause", AGENT, "  ", {}, "reason_required", "Geef een reden op voor deze actie."),
        ("teleport", AGENT, None, {}, "unknown_event", "Onbekende actie 'teleport'."),
    ],
)
def test_refusals_say_why_and_change_nothing(
    session: Session, event: str, who: object, reason: str | None, payload: dict[str, object], code: str, message: str
) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)

    with pytest.raises(TransitionRefused) as refused:
        engine.fire(session, instance, event, actor=who, reason=reason, payload=payload, now=NOW)  # type: ignore[arg-type]

    assert (refused.value.code, refused.value.reason) == (code, message)
    assert instance.state == "open"
    assert len(engine.history(session, instance)) == 1


def test_a_guard_refuses_with_its_own_reason(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)
    engine.fire(session, instance, "begin", actor=AGENT, now=NOW)

    with pytest.raises(TransitionRefused, match="niet goedgekeurd"):
        engine.fire(session, instance, "finish", actor=LEAD, payload={"ok": False}, now=NOW)
    engine.fire(session, instance, "finish", actor=LEAD, payload={"ok": True}, now=NOW)

    assert instance.state == "done"
    assert instance.is_final
    assert engine.timers(session, instance) == []


def test_available_events_lists_every_event_allowed_or_with_its_reason(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)

    options = {o.event: o for o in engine.available_events(session, instance, AGENT, now=NOW)}

    assert set(options) == {"begin", "expire", "escalate", "bump", "pause", "resume", "finish", "cancel"}
    assert options["begin"].allowed
    assert options["begin"].label == "Beginnen"
    assert options["begin"].target == "working"
    assert options["pause"].allowed
    assert options["pause"].requires_reason
    assert (options["cancel"].allowed, options["cancel"].code) == (False, "role")
    assert (options["finish"].allowed, options["finish"].code) == (False, "state")


def test_history_rows_cannot_be_changed_through_the_orm(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)
    [entry] = engine.history(session, instance)

    entry.reason = "rewritten"
    with pytest.raises(ImmutableHistory):
        session.flush()


@pytest.mark.parametrize("statement", ["UPDATE wf_history SET reason = 'x'", "DELETE FROM wf_history"])
def test_history_rows_cannot_be_changed_in_the_database(session: Session, statement: str) -> None:
    engine = ticket_engine()
    engine.start(session, "ticket", actor=AGENT, now=NOW)
    session.flush()

    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement))


def test_holding_clocks_shifts_the_deadline_by_the_days_held(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)
    engine.fire(session, instance, "begin", actor=AGENT, now=NOW)
    [sla] = engine.timers(session, instance)
    assert sla.deadline == date(2026, 3, 4)

    engine.fire(session, instance, "pause", actor=AGENT, reason="overplaatsing", now=NOW + timedelta(hours=1))
    assert instance.state == "paused"
    assert sla.status == TimerStatus.PAUSED

    engine.fire(session, instance, "resume", actor=AGENT, now=NOW + timedelta(days=7))

    assert instance.state == "working"
    assert instance.held_since is None
    [resumed] = engine.timers(session, instance)
    assert resumed.id == sla.id  # the same clock runs on; it is not restarted
    assert resumed.deadline == date(2026, 3, 11)
    assert "7 dag(en) aangehouden" in resumed.rule


def test_resuming_into_a_weekend_moves_the_deadline_to_the_next_working_day(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)
    engine.fire(session, instance, "begin", actor=AGENT, now=NOW)  # deadline Wed 4 March
    engine.fire(session, instance, "pause", actor=AGENT, reason="r", now=NOW)
    engine.fire(session, instance, "resume", actor=AGENT, now=NOW + timedelta(days=3))  # 4 + 3 = Sat 7 March

    [timer] = engine.timers(session, instance)
    assert timer.deadline == date(2026, 3, 9)


def test_a_non_internal_self_transition_restarts_the_clock(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)
    engine.fire(session, instance, "begin", actor=AGENT, now=NOW)
    engine.fire(session, instance, "bump", actor=AGENT, now=NOW + timedelta(days=1))

    timers = engine.timers(session, instance, active_only=False)
    assert [(t.name, t.status) for t in timers][-2:] == [("sla", "cancelled"), ("sla", "pending")]
    assert timers[-1].deadline == date(2026, 3, 5)


def test_the_stored_state_equals_the_replay_of_the_history(session: Session) -> None:
    engine = ticket_engine()
    instance = engine.start(session, "ticket", actor=AGENT, now=NOW)
    for event, who, reason in [("pause", AGENT, "r"), ("resume", AGENT, None), ("begin", AGENT, None)]:
        engine.fire(session, instance, event, actor=who, reason=reason, now=NOW)
    session.flush()

    assert replay(TICKET, engine.history(session, instance)) == (instance.state, instance.previous_state)


def test_a_stale_fire_loses_with_a_conflict_and_changes_nothing(committed: sessionmaker[Session]) -> None:
    engine = ticket_engine()
    with committed() as s:
        instance_id = engine.start(s, "ticket", actor=AGENT, now=NOW).id
        s.commit()
    with committed() as stale_session:
        stale = stale_session.get_one(WorkflowInstance, instance_id)
        stale_session.commit()  # the reader's transaction ends; it keeps its (soon stale) copy
        with committed() as winner_session:
            winner = winner_session.get_one(WorkflowInstance, instance_id)
            engine.fire(winner_session, winner, "begin", actor=AGENT, now=NOW)
            winner_session.commit()

        with pytest.raises(ConcurrentUpdate):
            engine.fire(stale_session, stale, "pause", actor=AGENT, reason="r", now=NOW)
        stale_session.rollback()

    with committed() as s:
        instance = s.get_one(WorkflowInstance, instance_id)
        assert instance.state == "working"
        assert [e.event for e in engine.history(s, instance)] == ["start", "begin"]


def test_concurrent_fires_on_one_instance_have_exactly_one_winner(
    pg_database: object, committed: sessionmaker[Session]
) -> None:
    engine = ticket_engine()
    with committed() as s:
        instance_id = engine.start(s, "ticket", actor=AGENT, now=NOW).id
        s.commit()
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        with committed() as s:
            instance = s.get_one(WorkflowInstance, instance_id)
            barrier.wait(timeout=10)
            try:
                engine.fire(s, instance, "begin", actor=AGENT, now=NOW)
                s.commit()
                result = "won"
            except ConcurrentUpdate:
                s.rollback()
                result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == ["conflict"] * (threads_count - 1) + ["won"]
    with committed() as s:
        events = s.scalars(select(HistoryEntry.event).where(HistoryEntry.instance_id == instance_id)).all()
        assert events == ["start", "begin"]
        assert len(s.scalars(select(TimerRow).where(TimerRow.instance_id == instance_id)).all()) == 2


def test_a_fire_on_a_freshly_read_instance_writes_everything_and_returns_the_stored_entry(
    committed: sessionmaker[Session],
) -> None:
    """A request reads the instance and fires: on PostgreSQL the fire writes its rows in one statement, cancelling
    the old state's timers without reading them. What is stored is what the ORM would have stored."""
    engine = ticket_engine()
    [instance_id] = open_tickets(committed, 1)
    with committed() as s:
        instance = s.get_one(WorkflowInstance, instance_id)
        entry = engine.fire(s, instance, "begin", actor=AGENT, payload={"note": "x"}, now=NOW)
        s.commit()
        stored_id = entry.id
        assert stored_id is not None
    with committed() as s:
        instance = s.get_one(WorkflowInstance, instance_id)
        assert (instance.state, instance.previous_state, instance.last_seq, instance.row_version) == (
            "working",
            "open",
            2,
            2,
        )
        [start, begin] = engine.history(s, instance)
        assert (begin.id, begin.seq, begin.event, begin.payload, begin.actor_id) == (
            stored_id,
            2,
            "begin",
            {"note": "x"},
            "user:1",
        )
        timers = engine.timers(s, instance, active_only=False)
        assert [(t.name, t.status, t.outcome) for t in timers] == [
            ("expiry", TimerStatus.CANCELLED, "status verlaten: open -> working"),
            ("sla", TimerStatus.PENDING, None),
        ]
        assert replay(TICKET, [start, begin]) == (instance.state, instance.previous_state)


def test_timers_the_session_already_holds_stay_true_to_the_database_after_a_fire(
    committed: sessionmaker[Session],
) -> None:
    engine = ticket_engine()
    [instance_id] = open_tickets(committed, 1)
    with committed() as s:
        instance = s.get_one(WorkflowInstance, instance_id)
        [expiry] = engine.timers(s, instance)  # e.g. a page that showed the deadline before the button was pressed
        engine.fire(s, instance, "begin", actor=AGENT, now=NOW)
        assert (expiry.status, expiry.outcome) == (TimerStatus.CANCELLED, "status verlaten: open -> working")
        assert [t.name for t in engine.timers(s, instance)] == ["sla"]
        s.commit()
    with committed() as s:
        assert s.get_one(TimerRow, expiry.id).status == TimerStatus.CANCELLED
