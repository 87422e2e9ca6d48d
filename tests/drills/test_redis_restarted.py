"""Drill 2: Redis restarted without its data (no AOF) in the middle of a batch of letters (docs/drills.md).

Two workers render twenty letters (each PDF write slowed to 0.1-0.2 s, so that the batch lasts); after the first
few, Redis shuts down without saving, stays down for three seconds (a request asks for letters meanwhile), and
starts again empty: the queued jobs are gone. The workers stay alive and carry on (they wait for Redis and register
again); the letters whose jobs were lost are enqueued again by the sweeper once they have waited LOST_AFTER
(2 minutes; the drill moves the letters' clock instead of waiting). None is lost, none is made twice.
"""

from __future__ import annotations

import time

from integrations.letters.jobs import LOST_AFTER
from schulden.letters.models import LetterStatus
from tests.drills.harness import (
    PROBLEM_REDIS,
    Deployment,
    Ledger,
    Postgres,
    add_debt,
    ask_letters,
    check_no_write_lost,
    check_one_pdf_each,
    deployment,
    intake,
    metric,
    wait_for,
    wait_rendered,
)

DOWN = 3
#: Workers back in RQ's registry after Redis returned: they retry with a growing pause of up to 30 s.
REGISTER_BOUND = 45
RECOVERY_BOUND = 90


def test_redis_restarted_without_its_data_loses_no_letter(template: Postgres) -> None:
    with deployment(template, aof=False) as d:
        _drill(d)


def _drill(d: Deployment) -> None:
    d.start_web()
    workers = [d.start_worker(put_delay="0.1,0.2", wait=False) for _ in range(2)]
    d.wait_workers_ready(*workers)
    ticker = d.start_ticker()
    d.wait_ticking()
    ledger = Ledger()
    debts = []
    for _ in range(10):
        case_id = intake(d, ledger)
        assert case_id is not None
        debts += [debt for debt in (add_debt(d, ledger, case_id), add_debt(d, ledger, case_id)) if debt]
    for debt_id in debts:  # twenty letters, a job each, within a second or two
        assert ask_letters(d, ledger, debt_id)
    wait_for(lambda: sum(lt.status == LetterStatus.RENDERED.value for lt in d.letters()) >= 3, 60, "the first letters")

    d.redis.shutdown_nosave()
    down = time.monotonic()
    during = intake(d, ledger)
    assert during is not None, ledger.answers[-1]
    late = add_debt(d, ledger, during)
    assert late is not None, ledger.answers[-1]
    assert ask_letters(d, ledger, late), ledger.answers[-1]
    health = d.http("GET", "/healthz")
    status = d.status().json()
    time.sleep(max(0.0, DOWN - (time.monotonic() - down)))
    d.redis.start()  # same port, empty
    d.note(f"Redis down {time.monotonic() - down:.1f} s: /healthz {health.status} {health.json()['status']}; "
           f"/status {status['problems']}")  # fmt: skip
    assert health.status == 200
    assert health.json()["status"] == "degraded"
    assert any(PROBLEM_REDIS in p for p in status["problems"])
    debts.append(late)

    took_register = wait_for(lambda: metric(d.metrics(), "schuldroute_workers") >= 2, REGISTER_BOUND,
                             "the workers to register again", every=1)  # fmt: skip
    assert all(w.running() for w in workers), "a worker exited when Redis went away"
    # Two minutes later for the database: the letters whose jobs went with Redis are swept up again.
    moved = d.move_letters_back(LOST_AFTER.total_seconds() + 10, status=LetterStatus.QUEUED.value)
    took = wait_rendered(d, debts, RECOVERY_BOUND)
    d.note(f"workers registered again {took_register:.1f} s after Redis returned; {moved} letters without a job "
           f"were swept and every letter made {took:.1f} s after they were LOST_AFTER old")  # fmt: skip
    assert all(w.running() for w in workers), "a worker exited"
    assert ticker.running(), "the scheduler exited"
    check_one_pdf_each(d, debts)
    check_no_write_lost(d, ledger)
