"""Drill 4: PostgreSQL frozen (SIGSTOP to the postmaster and every process under it for 12 seconds, then SIGCONT)
(docs/drills.md).

A frozen server accepts connections and never answers, which no server-side timeout catches. /healthz must answer
503 within its 2-second probe deadline (the load balancer takes the node out), and an API write must answer 503
within a few seconds (the connect and pool timeouts), not hang. After SIGCONT everything resumes by itself.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

from tests.drills.harness import (
    Deployment,
    Ledger,
    check_no_write_lost,
    check_one_pdf_each,
    intake,
    intake_body,
    letters_for,
    wait_rendered,
)

FROZEN_FOR = 12
HEALTH_BOUND = 3.5
#: DATABASE_CONNECT_TIMEOUT and DATABASE_POOL_TIMEOUT are 5 s by default.
WRITE_BOUND = 8
RECOVERY_BOUND = 60


def test_a_frozen_postgres_answers_503_fast_and_everything_resumes(d: Deployment) -> None:
    d.start_web()
    worker = d.start_worker()
    ticker = d.start_ticker()
    d.wait_ticking()
    ledger = Ledger()
    debts = letters_for(d, ledger, cases=1)  # the pools hold connections now, as in production
    wait_rendered(d, debts, 60)
    bodies = [intake_body(d) for _ in range(2)]

    frozen = d.pg.send(signal.SIGSTOP)
    started = time.monotonic()
    health = d.http("GET", "/healthz", timeout=40)
    with ThreadPoolExecutor(2) as pool:  # both web workers get a write: each holds a pooled connection
        sent = [pool.submit(d.http, "POST", "/api/v1/cases", user="pi.drill", timeout=40, body=body)
                for body in bodies]  # fmt: skip
        time.sleep(max(0.0, FROZEN_FOR - (time.monotonic() - started)))
        d.pg.send(signal.SIGCONT)
        thawed = time.monotonic()
        writes = [future.result(timeout=60) for future in sent]
    d.note(f"{len(frozen)} PostgreSQL processes frozen {thawed - started:.1f} s: /healthz {health.status} in "
           f"{health.seconds:.1f} s; writes {[(w.status, round(w.seconds, 1)) for w in writes]}")  # fmt: skip

    case_id = None
    while case_id is None and time.monotonic() - thawed < RECOVERY_BOUND:
        case_id = intake(d, ledger)
    resumed = time.monotonic() - thawed
    assert case_id is not None, ledger.answers[-1]
    d.note(f"the first intake after SIGCONT answered 201 {resumed:.1f} s after it")
    more = letters_for(d, ledger, cases=1)
    wait_rendered(d, debts + more, RECOVERY_BOUND)
    assert worker.running(), "the worker exited"
    assert ticker.running(), "the scheduler exited"
    d.wait_ticking()
    check_one_pdf_each(d, debts + more)
    check_no_write_lost(d, ledger)

    # What the load balancer and a client saw while it was frozen.
    assert health.status == 503, health
    assert health.seconds < HEALTH_BOUND, health
    late = [(w.status, round(w.seconds, 1), w.error) for w in writes if w.status != 503 or w.seconds >= WRITE_BOUND]
    assert not late, f"writes that did not answer 503 within {WRITE_BOUND} s while PostgreSQL was frozen: {late}"
    assert all("retry-after" in w.headers for w in writes)
