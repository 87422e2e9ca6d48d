"""A tick makes its new history and timer rows as plain records and writes them at the end of the batch
(workflows/batch_writes.py). A process's own code that runs inside the batch, a guard or an effect, must still
find in the database what the batch has done so far, as it did when the ORM flushed those rows before each query.

The process here: a `watcher` instance whose timer, when it fires, stops every `worker` that is waiting. The
guard of that transition reads the workers' pending timers, and its effect fires `stop` on each worker. In the
same batch, earlier, each worker's own timer moved it to `waiting`, which started a new `reminder` timer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import NOW, actor
from workflows import (
    START_EVENT,
    SYSTEM_ROLE,
    After,
    Context,
    Effect,
    Engine,
    Guard,
    Process,
    Registry,
    State,
    TimerRow,
    TimerSpec,
    TimerStatus,
    Transition,
    WorkflowInstance,
    replay,
)

STARTER = actor("starter")


def _waiting_workers(ctx: Context) -> list[WorkflowInstance]:
    return list(
        ctx.session.scalars(
            select(WorkflowInstance)
            .where(WorkflowInstance.process == "worker", WorkflowInstance.state == "waiting")
            .order_by(WorkflowInstance.id)
        )
    )


def _reminders_are_running(ctx: Context) -> str | None:
    running = ctx.session.scalar(
        select(func.count()).where(TimerRow.name == "reminder", TimerRow.status == TimerStatus.PENDING)
    )
    return None if running else "Er loopt geen herinnering."


def _stop_waiting_workers(ctx: Context) -> Mapping[str, Any]:
    workers = _waiting_workers(ctx)
    for worker in workers:
        ctx.engine.fire(ctx.session, worker, "stop", actor=ctx.actor, now=ctx.now)
    return {"stopped": len(workers)}


WORKER = Process(
    name="worker",
    version=1,
    title="Worker",
    initial="busy",
    start_roles=frozenset({"starter"}),
    states=(
        State("busy", "Bezig", timers=(TimerSpec("pause", "wait", After(timedelta(hours=1))),)),
        State("waiting", "Wacht", timers=(TimerSpec("reminder", "remind", After(timedelta(days=1))),)),
        State("stopped", "Gestopt", final=True),
    ),
    transitions=(
        Transition("wait", "busy", "waiting", roles={SYSTEM_ROLE}),
        Transition("remind", "waiting", "waiting", roles={SYSTEM_ROLE}, internal=True),
        Transition("stop", "waiting", "stopped", roles={SYSTEM_ROLE}),
    ),
)

WATCHER = Process(
    name="watcher",
    version=1,
    title="Watcher",
    initial="watching",
    start_roles=frozenset({"starter"}),
    states=(
        State("watching", "Let op", timers=(TimerSpec("sweep", "sweep", After(timedelta(hours=2))),)),
        State("done", "Klaar", final=True),
    ),
    transitions=(
        Transition(
            "sweep",
            "watching",
            "done",
            roles={SYSTEM_ROLE},
            guards=[Guard("er loopt een herinnering", _reminders_are_running)],
            effects=[Effect("stop_waiting_workers", _stop_waiting_workers)],
        ),
    ),
)


def test_guards_and_effects_in_a_tick_see_the_rows_the_batch_made_before_them(
    committed: sessionmaker[Session],
) -> None:
    engine = Engine(Registry(WORKER, WATCHER))
    with committed() as s:
        workers = [engine.start(s, "worker", actor=STARTER, now=NOW).id for _ in range(3)]
        watcher = engine.start(s, "watcher", actor=STARTER, now=NOW).id
        s.commit()

    # One batch: the workers' timers (due first) move them to `waiting`, which starts their reminders; then the
    # watcher's timer passes its guard only if it sees those reminders, and its effect stops the workers.
    report = engine.tick(committed, now=NOW + timedelta(hours=3), batch_size=10)

    assert (report.fired, report.refused, report.failed, report.batches) == (4, 0, 0, 1)
    with committed() as s:
        assert s.get_one(WorkflowInstance, watcher).state == "done"
        [sweep] = [h for h in engine.history(s, s.get_one(WorkflowInstance, watcher)) if h.event == "sweep"]
        assert sweep.effects == [{"effect": "stop_waiting_workers", "stopped": 3}]
        for worker_id in workers:
            worker = s.get_one(WorkflowInstance, worker_id)
            history = engine.history(s, worker)
            assert [h.event for h in history] == [START_EVENT, "wait", "stop"]
            assert (worker.state, worker.previous_state) == ("stopped", "waiting")
            assert replay(engine.process_of(worker), history) == ("stopped", "waiting")
            # The reminder that the batch started was stopped with its state, not left running.
            timers = {t.name: t.status for t in engine.timers(s, worker, active_only=False)}
            assert timers == {"pause": TimerStatus.FIRED, "reminder": TimerStatus.CANCELLED}
        assert not s.scalar(select(func.count()).where(TimerRow.status == TimerStatus.PENDING))
