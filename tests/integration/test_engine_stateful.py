"""Hypothesis drives random event sequences, random actors, stale (concurrent) fires and ticks against the engine.

The machine keeps its own model of the ticket process (tests/ticket_process.py MODEL, written independently of
the engine) and checks after every step:
- the engine allows exactly what the model allows, refuses the rest, and says why;
- the stored state equals the replay of the history, and history sequence numbers have no gaps;
- the active timers are exactly those of the current state (paused while held), none in a final state;
- after a tick nothing due is left pending, and no timer fired twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import NOW, FakeActor
from tests.ticket_process import EVENTS, MODEL, TICKET, TIMERS_OF, ticket_engine
from workflows import (
    SYSTEM_ROLE,
    ConcurrentUpdate,
    HistoryEntry,
    TimerRow,
    TimerStatus,
    TransitionRefused,
    WorkflowInstance,
    replay,
)

ROLES = ["agent", "lead", SYSTEM_ROLE, "visitor"]


class TicketMachine(RuleBasedStateMachine):
    instances = Bundle("instances")

    def __init__(self, factory: sessionmaker[Session]) -> None:
        super().__init__()
        self.factory = factory
        self.engine = ticket_engine()
        self.now = NOW
        # instance id -> (state, previous state) as the model expects it
        self.model: dict[int, tuple[str, str | None]] = {}

    @initialize()
    def begin_clock(self) -> None:
        self.now = NOW

    @rule(target=instances)
    def start(self) -> int:
        with self.factory() as s:
            instance = self.engine.start(s, "ticket", actor=FakeActor("u:1", frozenset({"agent"})), now=self.now)
            s.commit()
            self.model[instance.id] = ("open", None)
            return instance.id

    @rule(
        instance_id=instances,
        event=st.sampled_from([*EVENTS, "unknown"]),
        role=st.sampled_from(ROLES),
        reason=st.sampled_from([None, "", "omdat het moet"]),
        ok=st.booleans(),
    )
    def fire(self, instance_id: int, event: str, role: str, reason: str | None, ok: bool) -> None:
        state, previous = self.model[instance_id]
        rule_ = MODEL.get((event, state))
        expected_ok = (
            rule_ is not None
            and role in rule_[1]
            and not (rule_[2] and not reason)
            and not (rule_[3] and not ok)
            and not (rule_[0] == "<" and previous is None)
        )
        with self.factory() as s:
            instance = s.get_one(WorkflowInstance, instance_id)
            try:
                self.engine.fire(
                    s,
                    instance,
                    event,
                    actor=FakeActor(f"u:{role}", frozenset({role})),
                    payload={"ok": ok},
                    reason=reason,
                    now=self.now,
                )
                s.commit()
                allowed, why = True, ""
            except TransitionRefused as refused:
                s.rollback()
                allowed = False
                why = refused.reason
        assert allowed == expected_ok, (event, state, role, reason, ok)
        assert allowed or why, "a refusal always says why"
        if allowed and rule_ is not None:
            target = {"=": state, "<": previous}.get(rule_[0], rule_[0])
            assert target is not None
            self.model[instance_id] = (target, previous) if rule_[0] == "=" else (target, state)

    @rule(instance_id=instances)
    def stale_fire_loses(self, instance_id: int) -> None:
        """Two users act on one instance: the one holding an old copy gets a conflict, nobody's work is lost."""
        state, _ = self.model[instance_id]
        if state not in ("open", "working"):
            return
        with self.factory() as stale_session, self.factory() as winner_session:
            stale = stale_session.get_one(WorkflowInstance, instance_id)
            stale_session.commit()
            winner = winner_session.get_one(WorkflowInstance, instance_id)
            self.engine.fire(
                winner_session, winner, "pause", actor=FakeActor("u:a", frozenset({"agent"})), reason="r", now=self.now
            )
            winner_session.commit()
            self.model[instance_id] = ("paused", state)
            try:
                self.engine.fire(
                    stale_session, stale, "cancel", actor=FakeActor("u:l", frozenset({"lead"})), now=self.now
                )
                stale_session.commit()
                raise AssertionError("a stale fire must not win")
            except ConcurrentUpdate:
                stale_session.rollback()

    @rule(hours=st.integers(min_value=0, max_value=24 * 9))
    def tick(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self.engine.tick(self.factory, now=self.now, batch_size=7)
        with self.factory() as s:
            for instance_id in self.model:
                instance = s.get_one(WorkflowInstance, instance_id)
                self.model[instance_id] = (instance.state, instance.previous_state)
            left = s.scalar(
                select(func.count())
                .select_from(TimerRow)
                .where(TimerRow.status == TimerStatus.PENDING, TimerRow.due_at <= self.now)
            )
            assert left == 0, "a tick leaves nothing due behind"

    @rule(instance_id=consumes(instances))
    def forget(self, instance_id: int) -> None:
        """Stop driving one instance (keeps the bundle small); its invariants are still checked."""

    @invariant()
    def stored_state_matches_model_replay_and_timers(self) -> None:
        if not self.model:
            return
        with self.factory() as s:
            for instance_id, (state, previous) in self.model.items():
                instance = s.get_one(WorkflowInstance, instance_id)
                history = self.engine.history(s, instance)
                assert (instance.state, instance.previous_state) == (state, previous)
                assert replay(TICKET, history) == (state, previous)
                assert [e.seq for e in history] == list(range(1, len(history) + 1))
                assert instance.last_seq == len(history)
                active = self.engine.timers(s, instance)
                if state == "paused":
                    assert all(t.status == TimerStatus.PAUSED for t in active)
                    assert {t.state for t in active} <= {previous}
                else:
                    assert all(t.status == TimerStatus.PENDING for t in active)
                    names = Counter(t.name for t in active)
                    assert set(names) <= TIMERS_OF[state]
                    assert all(n == 1 for n in names.values())
                    # A state's timer that is no longer active must have fired since the state was entered.
                    since = [e.at for e in history if e.to_state == state and e.from_state != state][-1]
                    for name in TIMERS_OF[state] - set(names):
                        done = s.scalars(
                            select(TimerRow.status).where(
                                TimerRow.instance_id == instance_id, TimerRow.name == name, TimerRow.fired_at >= since
                            )
                        ).all()
                        assert set(done) & {TimerStatus.FIRED, TimerStatus.REFUSED}, (name, done)
            fired_twice = s.execute(
                select(HistoryEntry.timer_id)
                .where(HistoryEntry.timer_id.is_not(None))
                .group_by(HistoryEntry.timer_id)
                .having(func.count() > 1)
            ).all()
            assert fired_twice == []


def test_engine_state_machine(committed: sessionmaker[Session]) -> None:
    machine_settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )

    class Machine(TicketMachine):
        def __init__(self) -> None:
            super().__init__(committed)

    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(Machine, settings=machine_settings)


@pytest.fixture(autouse=True)
def _quiet_engine_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="workflows.engine")
