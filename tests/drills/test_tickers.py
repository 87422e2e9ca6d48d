"""Drill 7: the scheduler killed and started again, and two schedulers at once (docs/drills.md).

Twelve debts have had their first letters printed (a print batch: the letters count as sent, each debt waits for an
answer with an `answer_due` timer of 10 working days). The scheduler is killed (kill -9); the drill moves the timers'
clock so that all are due (the database's `due_at`, as if the ten working days had passed). While no scheduler runs,
/metrics shows the timers due and a last tick that does not move. Then two schedulers start at once, one of them is
killed again right away and started again: every timer fires exactly once, and each debt gets exactly one reminder
letter (L3), rendered with one PDF.
"""

from __future__ import annotations

import signal
import time

from sqlalchemy import func, select, text, update

from schulden.debts.models import Debt
from schulden.organisations.models import Organisation
from tests.drills.harness import (
    PI_CODE,
    TICK_EVERY,
    Deployment,
    Ledger,
    check_no_write_lost,
    check_one_pdf_each,
    letters_for,
    metric,
    wait_for,
    wait_rendered,
)
from workflows.store import HistoryEntry, TimerRow, TimerStatus

#: From the schedulers' start to every reminder rendered (measured: a few seconds).
RECOVERY_BOUND = 60


def test_a_killed_scheduler_and_two_at_once_fire_every_timer_once(d: Deployment) -> None:
    d.start_web()
    d.start_worker()
    first = d.start_ticker()
    d.wait_ticking()
    ledger = Ledger()
    debts = letters_for(d, ledger, cases=6, debts_per_case=2)
    wait_rendered(d, debts, 60)
    pi_id = d.scalar(select(Organisation.id).where(Organisation.code == PI_CODE))
    batch = d.http("POST", "/api/v1/print-batches", user="pi.drill", body={"pi_id": pi_id})
    assert batch.status == 201, (batch.status, batch.body[:300])
    instances = {row.instance_id: row.id for row in _debts(d, debts)}
    with d.engine.connect() as conn:
        timers = list(conn.execute(select(TimerRow.id).where(TimerRow.instance_id.in_(instances),
                                                             TimerRow.status == TimerStatus.PENDING,
                                                             TimerRow.event == "reply_overdue")).scalars())  # fmt: skip
    assert len(timers) == len(debts), "each sent letter starts its debt's answer timer"

    d.kill(first, signal.SIGKILL)
    with d.engine.begin() as conn:  # ten working days later, for the database
        conn.execute(
            update(TimerRow).where(TimerRow.id.in_(timers)).values(due_at=func.now() - text("interval '1 minute'"))
        )
    # What the operator sees while no scheduler runs: the timers due, and a last tick that stays where it was.
    seen = d.metrics()
    assert metric(seen, "schuldroute_timers_due") == len(timers)
    time.sleep(2 * TICK_EVERY + 1)
    assert metric(d.metrics(), "schuldroute_tick_last_run_timestamp_seconds") == metric(
        seen, "schuldroute_tick_last_run_timestamp_seconds"
    )

    started = time.monotonic()
    second, third = d.start_ticker(), d.start_ticker()  # two at once
    time.sleep(1.5)  # mid-start or mid-tick: whatever it was doing, gone
    d.kill(second, signal.SIGKILL)
    d.start_ticker()

    def fired() -> bool:
        with d.engine.connect() as conn:
            pending = select(func.count()).where(TimerRow.id.in_(timers), TimerRow.status == TimerStatus.PENDING)
            return not conn.execute(pending).scalar()

    wait_for(fired, RECOVERY_BOUND, "every due timer to fire")
    took = wait_rendered(d, debts, RECOVERY_BOUND, what="the reminders", letter_type="L3") + (
        time.monotonic() - started
    )
    assert third.running()
    with d.engine.connect() as conn:
        statuses = set(conn.execute(select(TimerRow.status).where(TimerRow.id.in_(timers))).scalars())
        overdue = dict(conn.execute(select(HistoryEntry.instance_id, func.count()).where(
            HistoryEntry.instance_id.in_(instances), HistoryEntry.event == "reply_overdue"
        ).group_by(HistoryEntry.instance_id)).all())  # fmt: skip
    assert statuses == {TimerStatus.FIRED}
    assert overdue == dict.fromkeys(instances, 1), "a timer fired twice, or not at all"
    check_one_pdf_each(d, debts, letter_type="L3")
    check_one_pdf_each(d, debts, letter_type="L1")
    check_no_write_lost(d, ledger)
    assert metric(d.metrics(), "schuldroute_timers_due") == 0
    d.note(f"{len(timers)} timers fired once each and their reminders rendered within {took:.1f} s of the "
           f"schedulers' start")  # fmt: skip


def _debts(d: Deployment, debt_ids: list[int]) -> list[Debt]:
    with d.engine.connect() as conn:
        return list(conn.execute(select(Debt.id, Debt.instance_id).where(Debt.id.in_(debt_ids))).all())  # type: ignore[arg-type]
