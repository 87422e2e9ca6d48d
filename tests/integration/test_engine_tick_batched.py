"""The tick's own batched writes (workflows/batch_writes.py): versioned instance UPDATEs in one statement, and
history and timer rows made as plain records and inserted in one statement per table, with ids from the columns'
own defaults. They must keep what the ORM guaranteed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from tests.conftest import NOW
from tests.ticket_process import AGENT, open_tickets, ticket_engine
from workflows import ConcurrentUpdate, HistoryEntry, TimerRow, TimerStatus, WorkflowInstance, replay
from workflows import engine as engine_module
from workflows.batch_writes import NewHistory, NewTimer, insert_rows, update_instances


def test_a_batch_of_instances_is_written_once_each_under_its_version(committed: sessionmaker[Session]) -> None:
    ids = open_tickets(committed, 3)
    with committed() as s:
        instances = [s.get_one(WorkflowInstance, i) for i in ids]
        versions = [i.row_version for i in instances]
        for instance in instances:
            instance.state = "working"
            instance.last_seq += 1
        # The first instance twice, as when it has two due timers in a batch: written (and versioned) once.
        assert update_instances(s, [instances[0], *instances]) == 3
        assert not any(s.is_modified(i) for i in instances), "the flush must not write them again"
        s.commit()
    with committed() as s:
        rows = s.execute(select(WorkflowInstance.id, WorkflowInstance.state, WorkflowInstance.row_version)).all()
        assert sorted(rows) == [(i, "working", v + 1) for i, v in zip(ids, versions, strict=True)]


def test_a_stale_version_in_a_batch_refuses_the_whole_batch(committed: sessionmaker[Session]) -> None:
    ids = open_tickets(committed, 3)
    with committed() as s:
        instances = [s.get_one(WorkflowInstance, i) for i in ids]
        # Another writer changes the second instance after this session read it (through this session's own
        # connection: SQLite would make a second writer wait for this transaction).
        s.connection().execute(
            update(WorkflowInstance)
            .where(WorkflowInstance.id == ids[1])
            .values(row_version=WorkflowInstance.row_version + 1)
        )
        for instance in instances:
            instance.state = "working"
        with pytest.raises(StaleDataError):
            update_instances(s, instances)
        s.rollback()
    with committed() as s:
        assert s.scalars(select(WorkflowInstance.state)).all() == ["open"] * 3


def test_a_tick_batch_over_a_moved_version_is_a_concurrent_update(
    committed: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no row lock holds the instance (SQLite), its version still decides: the batch is refused whole, and
    on PostgreSQL its one statement writes no history or timer row either."""
    engine = ticket_engine()
    ids = open_tickets(committed, 2)
    real = engine_module.write_changes

    def after_another_writer(session: Session, *args: Any) -> list[int]:
        # Another writer moves the second instance's version between the batch's read and its write.
        session.connection().execute(
            update(WorkflowInstance).where(WorkflowInstance.id == ids[1]).values(row_version=99)
        )
        written = real(session, *args)
        raise AssertionError(f"the batch was written: {written}")

    monkeypatch.setattr(engine_module, "write_changes", after_another_writer)
    with committed() as s, pytest.raises(ConcurrentUpdate):
        engine.tick_batch(s, now=NOW + timedelta(hours=2))
    with committed() as s:
        assert s.scalars(select(WorkflowInstance.state)).all() == ["open", "open"]
        assert s.scalar(select(func.count()).select_from(HistoryEntry)) == 2


def test_tick_rows_match_what_the_orm_would_write(committed: sessionmaker[Session]) -> None:
    engine = ticket_engine()
    ids = open_tickets(committed, 5)
    report = engine.tick(committed, now=NOW + timedelta(hours=2), batch_size=2)
    assert (report.fired, report.refused, report.failed) == (5, 0, 0)
    with committed() as s:
        for instance_id in ids:
            instance = s.get_one(WorkflowInstance, instance_id)
            history = engine.history(s, instance)
            assert replay(engine.process_of(instance), history) == (instance.state, instance.previous_state)
            assert [h.seq for h in history] == [1, 2]
            assert instance.last_seq == 2
            assert instance.row_version == 2  # start, then one fire: one version step per write
            [timer] = engine.timers(s, instance, active_only=False)
            last = history[-1]
            assert (last.timer_id, last.payload, last.effects) == (timer.id, {"timer": "expiry"}, [])
            assert last.at == NOW + timedelta(hours=2)
            assert (timer.status, timer.fired_at) == (TimerStatus.FIRED, NOW + timedelta(hours=2))


def test_ids_from_the_sequence_never_collide_with_concurrent_inserts(
    pg_database: object, committed: sessionmaker[Session]
) -> None:
    engine = ticket_engine()
    [instance_id] = open_tickets(committed, 1)
    made: list[NewHistory | NewTimer] = [
        NewHistory(
            instance_id=instance_id,
            seq=seq,
            event="bump",
            from_state="open",
            to_state="open",
            actor_id="test",
            at=NOW,
            reason=None,
            payload={"n": seq},
            effects=[],
            timer_id=None,
        )
        for seq in range(2, 12)
    ]
    made.append(
        NewTimer(
            instance_id=instance_id,
            name="t",
            event="expire",
            state="open",
            status=TimerStatus.PENDING,
            due_at=NOW,
            deadline=None,
            rule="test",
            created_at=NOW,
        )
    )
    with committed() as batch:
        assert insert_rows(batch, made) == 11
        # Meanwhile another session inserts rows with the columns' own defaults, and commits first.
        with committed() as other:
            for _ in range(3):
                engine.start(other, "ticket", actor=AGENT, now=NOW)
            other.commit()
        batch.commit()
    with committed() as s:
        history_ids = s.scalars(select(HistoryEntry.id)).all()
        timer_ids = s.scalars(select(TimerRow.id)).all()
        assert len(history_ids) == len(set(history_ids)) == 1 + 10 + 3
        assert len(timer_ids) == len(set(timer_ids)) == 1 + 1 + 3
        # The rows were stored as made, and their ids rise in the order they were made.
        bumps = s.execute(select(HistoryEntry.id, HistoryEntry.payload).where(HistoryEntry.event == "bump")).all()
        assert [payload for _, payload in sorted(bumps)] == [{"n": seq} for seq in range(2, 12)]
        timer = s.execute(select(TimerRow).where(TimerRow.name == "t")).scalar_one()
        assert (timer.status, timer.due_at, timer.deadline, timer.fired_at) == (TimerStatus.PENDING, NOW, None, None)


def test_two_instants_that_share_a_local_clock_time_are_stored_apart(committed: sessionmaker[Session]) -> None:
    """02:30 in Amsterdam on the night the clocks go back happens twice, an hour apart (fold 0 and 1); written as
    plain rows in one batch they must stay an hour apart."""
    [instance_id] = open_tickets(committed, 1)
    amsterdam = ZoneInfo("Europe/Amsterdam")
    first = datetime(2026, 10, 25, 2, 30, tzinfo=amsterdam)
    second = first.replace(fold=1)
    made = [
        NewTimer(
            instance_id=instance_id,
            name=name,
            event="expire",
            state="open",
            status=TimerStatus.PENDING,
            due_at=due,
            deadline=None,
            rule="test",
            created_at=NOW,
        )
        for name, due in (("first", first), ("second", second))
    ]
    with committed() as s:
        insert_rows(s, made)
        s.commit()
    with committed() as s:
        rows = s.execute(select(TimerRow.name, TimerRow.due_at).where(TimerRow.name.in_(["first", "second"])))
        stored = {row.name: row.due_at for row in rows}
    assert stored["second"] - stored["first"] == timedelta(hours=1)
    assert stored["first"] == first.astimezone(UTC)


def test_a_fire_rolled_back_in_a_savepoint_leaves_the_instance_as_stored(committed: sessionmaker[Session]) -> None:
    engine = ticket_engine()
    [instance_id] = open_tickets(committed, 1)
    with committed() as s:
        instance = s.get_one(WorkflowInstance, instance_id)
        savepoint = s.begin_nested()
        engine.fire(s, instance, "begin", actor=AGENT, now=NOW)
        savepoint.rollback()  # the rest of the request failed
        assert (instance.state, instance.row_version) == ("open", 1)
        engine.fire(s, instance, "begin", actor=AGENT, now=NOW)  # and it can be fired again
        s.commit()
    with committed() as s:
        assert [h.event for h in engine.history(s, s.get_one(WorkflowInstance, instance_id))] == ["start", "begin"]
