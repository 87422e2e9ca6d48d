"""Drill 9: Redis paused (SIGSTOP redis-server for 10 seconds, then SIGCONT) (docs/drills.md).

Web requests still answer: asking for letters commits and gives up on the enqueue after the Redis client's timeouts
(integrations/queue.py: 2 s to connect, 5 s for an answer). /healthz answers 200 "degraded" within its 2-second
probe deadline, so the load balancer keeps the node. After SIGCONT the workers carry on and every letter is made
once: a job whose enqueue timed out may still have reached Redis (it runs), or the sweeper enqueues it after
LOST_AFTER (2 minutes; the drill moves the letters' clock instead of waiting).
"""

from __future__ import annotations

import signal
import time

from integrations.letters.jobs import LOST_AFTER
from schulden.letters.models import LetterStatus
from tests.drills.harness import (
    Deployment,
    Ledger,
    add_debt,
    ask_letters,
    check_no_write_lost,
    check_one_pdf_each,
    intake,
    letters_for,
    wait_rendered,
)

PAUSE = 10
#: A request that enqueues waits at most the client's socket timeout (5 s) for a paused Redis, plus its own work.
ANSWER_BOUND = 8
HEALTH_BOUND = 3.5
RECOVERY_BOUND = 60


def test_a_paused_redis_slows_requests_but_loses_nothing(d: Deployment) -> None:
    d.start_web()
    worker = d.start_worker()
    ticker = d.start_ticker()
    d.wait_ticking()
    ledger = Ledger()
    debts = letters_for(d, ledger, cases=2)
    wait_rendered(d, debts, 60)
    case_id = intake(d, ledger)
    assert case_id is not None
    paused_debts = [add_debt(d, ledger, case_id) for _ in range(2)]

    d.redis.send(signal.SIGSTOP)
    paused = time.monotonic()
    health = d.http("GET", "/healthz", timeout=30)
    asked = []
    for debt_id in paused_debts:
        assert debt_id is not None
        assert ask_letters(d, ledger, debt_id), ledger.answers[-1]
        asked.append(ledger.answers[-1])
    time.sleep(max(0.0, PAUSE - (time.monotonic() - paused)))
    d.redis.send(signal.SIGCONT)
    d.note(f"Redis paused {time.monotonic() - paused:.1f} s: /healthz {health.status} {health.json()} in "
           f"{health.seconds:.1f} s; asking for letters took {[round(a.seconds, 1) for a in asked]} s")  # fmt: skip

    assert health.status == 200, health
    assert health.json()["status"] == "degraded", health
    assert health.seconds < HEALTH_BOUND
    assert all(a.status == 201 and a.seconds < ANSWER_BOUND for a in asked), asked

    all_debts = debts + [debt for debt in paused_debts if debt is not None]
    try:
        took = wait_rendered(d, all_debts, 10, what="the letters asked for during the pause")
        how = "their jobs reached Redis after all"
    except AssertionError:
        # The enqueue gave up: the letters wait for the sweeper, LOST_AFTER later.
        moved = d.move_letters_back((LOST_AFTER.total_seconds() + 10), status=LetterStatus.QUEUED.value)
        took = wait_rendered(d, all_debts, RECOVERY_BOUND, what="the swept letters")
        how = f"{moved} swept after LOST_AFTER"
    d.note(f"after SIGCONT: every letter made within {took:.1f} s ({how})")
    assert worker.running(), "the worker exited"
    assert ticker.running(), "the scheduler exited"
    d.wait_ticking()
    check_one_pdf_each(d, all_debts)
    check_no_write_lost(d, ledger)
    assert d.http("GET", "/healthz").json()["status"] == "ok"
