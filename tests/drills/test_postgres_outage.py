"""Drill 3: PostgreSQL restarted fast (`pg_ctl restart -m fast`) and crashed (kill -9 of the postmaster, down for
three seconds, then started again with its crash recovery) under a steady load of API writes and letters
(docs/drills.md).

While PostgreSQL is away the web node answers 503 with Retry-After (never 500, never a dropped connection) and
/healthz says 503; nothing that answered 201 is lost; the workers and the scheduler stay alive and carry on, and
every letter asked for is made exactly once, without anyone retrying anything.
"""

from __future__ import annotations

import time
from collections import Counter

from tests.drills.harness import (
    Deployment,
    Load,
    Monitor,
    check_no_write_lost,
    check_one_pdf_each,
    wait_for,
    wait_rendered,
)

CRASHED_FOR = 3
#: From PostgreSQL back to the next write answered 201.
WRITE_BOUND = 15
#: From the end of the load to every letter made: a job that failed on the outage is retried by RQ after 10 s, or
#: 60 s after that.
RECOVERY_BOUND = 120


def test_postgres_restarted_and_crashed_under_load(d: Deployment) -> None:
    d.start_web()
    workers = [d.start_worker(wait=False) for _ in range(2)]
    d.wait_workers_ready(*workers)
    ticker = d.start_ticker()
    d.wait_ticking()
    monitor = Monitor(d).start()
    load = Load(d).start()
    wait_for(lambda: load.ledger.statuses()[201] >= 15, 60, "the load to get going")

    restarted = time.monotonic()
    d.pg.restart_fast()
    back = time.monotonic()
    before = load.ledger.statuses()[201]
    after_restart = wait_for(lambda: load.ledger.statuses()[201] > before, WRITE_BOUND, "a write after the restart")
    d.note(f"pg_ctl restart -m fast took {back - restarted:.1f} s; the next 201 {after_restart:.1f} s later")

    wait_for(lambda: load.ledger.statuses()[201] >= before + 15, 60, "the load to carry on")
    crashed = time.monotonic()
    d.pg.crash()
    time.sleep(CRASHED_FOR)
    d.pg.start()  # crash recovery
    back = time.monotonic()
    before = load.ledger.statuses()[201]
    after_crash = wait_for(lambda: load.ledger.statuses()[201] > before, WRITE_BOUND, "a write after the crash")
    d.note(f"crashed {back - crashed:.1f} s (recovery included); the next 201 {after_crash:.1f} s later")
    wait_for(lambda: load.ledger.statuses()[201] >= before + 15, 60, "the load to carry on")
    ledger = load.finish()
    seen = monitor.finish()

    statuses = ledger.statuses()
    d.note(f"answers {dict(statuses)}; /healthz {dict(Counter(status for _, status, _ in seen))}")
    assert not ledger.refusals(), f"answers other than 2xx or 503 with Retry-After: {ledger.refusals()[:3]}"
    assert statuses[503] >= 1, "the outage was never seen by a client"
    assert any(status == 503 for _, status, _ in seen), "/healthz never said 503 during the outage"
    took = wait_rendered(d, ledger.letters_asked, RECOVERY_BOUND)
    d.note(f"every letter made {took:.1f} s after the load ended")
    assert all(w.running() for w in workers), "a worker exited"
    assert ticker.running(), "the scheduler exited"
    d.wait_ticking()
    check_one_pdf_each(d, ledger.letters_asked)
    check_no_write_lost(d, ledger)
