"""Ticking: every due timer fires exactly once, also with two tickers at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import NOW
from tests.ticket_process import AGENT, EXPLODING, open_tickets, ticket_engine
from workflows import HistoryEntry, TimerRow, TimerStatus, WorkflowInstance


def test_a_due_timer_fires_once_and_records_itself(committed: sessionmaker[Session]) -> None:
    engine = ticket_engine()
    [instance_id] = open_tickets(committed, 1)

    early = engine.tick(committed, now=NOW + timedelta(minutes=59))
    first = engine.tick(committed, now=NOW + timedelta(hours=2))
    second = engine.tick(committed, now=NOW + timedelta(hours=3))

    assert (early.fired, first.fired, second.fired) == (0, 1, 0)
    with committed() as s:
        instance = s.get_one(WorkflowInstance, instance_id)
        assert instance.state == "expired"
        [timer] = engine.timers(s, instance, active_only=False)
        assert timer.status == TimerStatus.FIRED
        last = engine.history(s, instance)[-1]
        assert (last.event, last.actor_id, last.timer_id) == ("expire", "system", timer.id)


def test_a_refused_timer_is_marked_with_the_reason(committed: sessionmaker[Session]) -> None:
    engine = ticket_engine()
    [instance_id] = open_tickets(committed, 1)
    with committed() as s:
        # A timer whose event the system may not fire (only a lead may cancel).
        s.add(TimerRow(instance_id=instance_id, name="odd", event="cancel", state="open", due_at=NOW, rule="test"))
        s.commit()

    report = engine.tick(committed, now=NOW + timedelta(minutes=1))

    assert (report.fired, report.refused) == (0, 1)
    with committed() as s:
        odd = s.scalars(select(TimerRow).where(TimerRow.name == "odd")).one()
        assert (odd.status, odd.outcome) == ("refused", "Uw rol mag deze actie niet uitvoeren.")


def test_one_failing_timer_does_not_stop_the_others(committed: sessionmaker[Session]) -> None:
    engine = ticket_engine()
    ids = open_tickets(committed, 3)
    with committed() as s:
        for instance_id in ids:
            engine.fire(s, s.get_one(WorkflowInstance, instance_id), "begin", actor=AGENT, now=NOW)
        s.commit()
    EXPLODING.add(ids[1])
    try:
        report = engine.tick(committed, now=NOW + timedelta(days=10))
    finally:
        EXPLODING.clear()

    assert (report.fired, report.failed) == (2, 1)
    with committed() as s:
        statuses = dict(s.execute(select(TimerRow.instance_id, TimerRow.status).where(TimerRow.name == "sla")).all())
        assert statuses == {ids[0]: "fired", ids[1]: "failed", ids[2]: "fired"}


def test_two_tickers_at_once_fire_every_timer_exactly_once(
    pg_database: object, committed: sessionmaker[Session]
) -> None:
    engine = ticket_engine()
    ids = open_tickets(committed, 400)
    barrier = threading.Barrier(2)
    reports = []

    def ticker() -> None:
        barrier.wait(timeout=10)
        reports.append(engine.tick(committed, now=NOW + timedelta(hours=2), batch_size=25))

    threads = [threading.Thread(target=ticker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert sum(r.fired for r in reports) == 400
    assert all(r.fired > 0 for r in reports), "SKIP LOCKED should let both tickers take a share"
    with committed() as s:
        expires = s.execute(
            select(HistoryEntry.instance_id, func.count())
            .where(HistoryEntry.event == "expire")
            .group_by(HistoryEntry.instance_id)
        ).all()
        assert sorted(expires) == [(i, 1) for i in sorted(ids)]
        pending = s.scalar(select(func.count()).select_from(TimerRow).where(TimerRow.status == "pending"))
        assert pending == 0
