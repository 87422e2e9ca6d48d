"""Drill 1: a worker killed between dequeue and start leaves a "zombie job" (docs/drills.md, issue 14).

A worker listening on several queues takes a job with a multi-queue BLPOP, which has no intermediate list; killed
between that pop and the started registry, it leaves the job's hash `queued` in no list. Reproduced as the issue
does: no worker running, letters asked for, `LREM rq:queue:letters 0 <job>` keeping the hash, then a worker starts.
The letters stay queued while the worker idles. The sweeper in the running scheduler (`schuldroute tick --every 1`)
replaces such a job once it was enqueued more than STALE_CLAIM (5 minutes) ago. The drill does not wait five
minutes: it moves the two clocks the sweeper reads, the letters' `updated_at` in the database and the job's
`enqueued_at` in Redis, by six minutes, one after the other, so that it can show that the letter is reported
stuck before the job is old enough to be replaced. Real bound: STALE_CLAIM + one tick after the enqueue.
"""

from __future__ import annotations

import time
from datetime import timedelta

from rq.utils import utcformat, utcparse

from integrations.letters.jobs import STALE_CLAIM
from schulden.letters.models import LetterStatus
from tests.drills.harness import (
    PROBLEM_OLD_LETTER,
    Deployment,
    Ledger,
    check_no_write_lost,
    check_one_pdf_each,
    letters_for,
    metric,
    wait_rendered,
)

#: Six minutes: past STALE_CLAIM, which the sweeper and the status report both use.
LATER = STALE_CLAIM + timedelta(minutes=1)
#: From the job being old enough to the letters rendered: a tick (1 s) and a render (measured: 1-2 s).
RECOVERY_BOUND = 30


def test_the_sweeper_replaces_a_job_lost_between_dequeue_and_start(d: Deployment) -> None:
    d.start_web()
    d.start_ticker()
    d.wait_ticking()
    ledger = Ledger()
    # One letter, as in the issue: the sweeper's job for it has the zombie's id (a job id names its letters), so
    # the zombie must be recognised and replaced. (Two lost letters would be swept as one new chunk of another id.)
    debts = letters_for(d, ledger, cases=1, debts_per_case=1)
    redis = d.redis.client()
    jobs = [_text(job) for job in redis.lrange("rq:queue:letters", 0, -1)]
    assert len(jobs) == 1, jobs
    for job in jobs:
        assert redis.lrem("rq:queue:letters", 0, job) == 1  # popped by a worker that then died
        assert redis.hget(f"rq:job:{job}", "status") == b"queued"

    d.start_worker()
    time.sleep(3)  # ticks and an idle worker: nothing happens to them
    assert {lt.status for lt in d.letters(debt_id=debts)} == {LetterStatus.QUEUED.value}

    # Six minutes later for the database: the status report calls the letters stuck; the sweeper still leaves a
    # job alone that was enqueued less than STALE_CLAIM ago (a live worker may be about to start it).
    d.move_letters_back(LATER.total_seconds(), debt_id=debts)
    status = d.status().json()
    assert PROBLEM_OLD_LETTER in status["problems"], status
    assert metric(d.metrics(), "schuldroute_oldest_queued_letter_age_seconds") > STALE_CLAIM.total_seconds()
    d.wait_ticking()
    d.wait_ticking()
    assert {lt.status for lt in d.letters(debt_id=debts)} == {LetterStatus.QUEUED.value}

    # And for Redis: the jobs were enqueued six minutes ago. The next tick replaces them.
    for job in jobs:
        enqueued = utcparse(_text(redis.hget(f"rq:job:{job}", "enqueued_at")))
        redis.hset(f"rq:job:{job}", "enqueued_at", utcformat(enqueued - LATER))
    redis.close()
    took = wait_rendered(d, debts, RECOVERY_BOUND)
    d.note(f"zombie jobs replaced and their letters rendered {took:.1f} s after they were old enough")

    check_one_pdf_each(d, debts)
    check_no_write_lost(d, ledger)
    assert PROBLEM_OLD_LETTER not in d.status().json()["problems"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
