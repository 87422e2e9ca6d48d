"""What is left after a job dies, and what the queue does when Redis is gone: files no letter points at, a Redis
that never answers, what the sweeper counts, and how the default worker runs letter jobs (issue 4)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from integrations import queue as queue_module
from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from integrations.letters import jobs
from integrations.letters.job_ids import render_job_id
from integrations.queue import InProcessQueue, QueueUnavailable, RedisQueue
from integrations.runtime import Runtime
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter, LetterStatus
from tests.conftest import NOW, actor, make_settings
from tests.factories import make_case, make_debt
from workflows.store import utcnow

COUNSELLOR = actor("counsellor", "user:cns")
OLD = 10 * 60  # seconds: older than STALE_CLAIM, so no live job can still own the file


@pytest.fixture
def rt(committed: sessionmaker[Session], committed_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on the test database with the in-process queue and a file store in a temp folder."""
    runtime = build_runtime(make_settings(committed_url, letter_store=tmp_path / "store"))
    runtime_module.configure(runtime)
    yield runtime
    runtime_module._current = None
    if runtime.database.engine is not None:
        runtime.database.engine.dispose()


def _queued_letters(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[Letter]:
    """A case with two debts whose first letters (an L1 each) are asked for and committed, with no job run for them."""
    with monkeypatch.context() as patch:
        patch.setattr(InProcessQueue, "enqueue", lambda *args, **kwargs: True)
        with rt.database.session() as s:
            case = make_case(s, rt.engine)
            for debt in (make_debt(s, rt.engine, case), make_debt(s, rt.engine, case)):
                fire_debt_event(s, rt.engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
            s.commit()
            letters = list(s.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)))
    assert {lt.status for lt in letters} == {LetterStatus.QUEUED.value}
    return letters


def _plant(rt: Runtime, key: str, *, age: float = 0) -> str:
    """A file in the store as a killed job leaves it, `age` seconds old."""
    path = rt.store.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4 left behind")
    moment = time.time() - age
    os.utime(path, (moment, moment))
    return key


def _files(rt: Runtime) -> set[str]:
    root = rt.store.root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_rendering_removes_the_files_earlier_attempts_left(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    letter, other = _queued_letters(rt, monkeypatch)
    folder = f"letters/{letter.case_id}"
    # A job killed after writing its PDF, one killed in the middle of writing, and the other letter's own file.
    left = {
        _plant(rt, f"{folder}/{letter.id}-0123456789abcdef.pdf"),
        _plant(rt, f"{folder}/.tmp-{letter.id}-0123456789abcdef.pdf-k1ll3d"),
    }
    kept = _plant(rt, f"{folder}/{other.id}-fedcba9876543210.pdf")

    key = jobs.render_letter(letter.id)

    assert key.startswith(f"{folder}/{letter.id}-")
    assert _files(rt) == {key, kept}
    assert not left & _files(rt)


def test_the_sweeper_removes_old_files_of_letters_no_job_is_working_on(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered, cancelled = _queued_letters(rt, monkeypatch)
    assert jobs.render_letter(rendered.id).endswith(".pdf")
    with rt.database.session() as s:
        # The rendered letter took two attempts (a killed job before it); the other was cancelled with consent.
        s.execute(update(Letter).where(Letter.id == rendered.id).values(attempts=2))
        s.execute(update(Letter).where(Letter.id == cancelled.id).values(status=LetterStatus.CANCELLED.value))
        s.commit()
        recorded = s.get_one(Letter, rendered.id).storage_key
    folder = f"letters/{rendered.case_id}"
    old = {
        _plant(rt, f"{folder}/{rendered.id}-0123456789abcdef.pdf", age=OLD),
        _plant(rt, f"{folder}/{cancelled.id}-0123456789abcdef.pdf", age=OLD),
        _plant(rt, f"{folder}/.tmp-{cancelled.id}-0123456789abcdef.pdf-k1ll3d", age=OLD),
    }
    young = _plant(rt, f"{folder}/.tmp-{cancelled.id}-fedcba9876543210.pdf-wr1t1ng")

    assert jobs.sweep_letters() == {"render": 0, "email": 0}

    assert _files(rt) == {recorded, young}, "old leftovers go; the recorded PDF and a file a job may still own stay"
    assert not old & _files(rt)
    jobs.sweep_letters(now=utcnow() + timedelta(minutes=10))
    assert _files(rt) == {recorded}


def test_a_redis_that_never_answers_costs_a_request_its_timeouts_not_a_hang(
    committed: sessionmaker[Session], committed_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_module, "REDIS_CONNECT_TIMEOUT", 0.5)
    monkeypatch.setattr(queue_module, "REDIS_SOCKET_TIMEOUT", 0.5)
    with socket.socket() as silent:
        # The kernel completes the connections (backlog); nobody ever reads or answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        runtime = build_runtime(make_settings(committed_url, redis_url=url, letter_store=tmp_path / "store"))
        runtime_module.configure(runtime)
        try:
            started = time.monotonic()
            with runtime.database.session() as s:
                for _ in range(3):
                    case = make_case(s, runtime.engine)
                    fire_debt_event(s, runtime.engine, make_debt(s, runtime.engine, case), "send_letters",
                                    actor=COUNSELLOR, now=NOW)  # fmt: skip
                s.commit()  # six letters: one enqueue times out, the others are left to the sweeper at once
                statuses = set(s.scalars(select(Letter.status)))
            took = time.monotonic() - started

            assert statuses == {LetterStatus.QUEUED.value}
            assert took < 4, f"the commit took {took:.1f} s with a Redis that never answers"
            with pytest.raises(QueueUnavailable):
                runtime.queue.enqueue(os.getpid, queue="letters", job_id="never")
            assert jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER * 2) == {"render": 0, "email": 0}
        finally:
            runtime_module._current = None
            if runtime.database.engine is not None:
                runtime.database.engine.dispose()


@pytest.fixture
def rq_rt(committed: sessionmaker[Session], committed_url: str, redis_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime that enqueues to the test Redis (no worker: jobs wait there)."""
    runtime = build_runtime(make_settings(committed_url, redis_url=redis_url, letter_store=tmp_path / "store"))
    runtime_module.configure(runtime)
    yield runtime
    runtime_module._current = None
    if runtime.database.engine is not None:
        runtime.database.engine.dispose()


def _ask(rt: Runtime) -> list[int]:
    """Two letters in one commit: the first letter (L1) of each of a case's two debts."""
    with rt.database.session() as s:
        case = make_case(s, rt.engine)
        for debt in (make_debt(s, rt.engine, case), make_debt(s, rt.engine, case)):
            fire_debt_event(s, rt.engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
        s.commit()
        return list(s.scalars(select(Letter.id).where(Letter.case_id == case.id).order_by(Letter.id)))


def test_the_sweeper_counts_only_the_letters_it_enqueued(rq_rt: Runtime) -> None:
    queue = rq_rt.queue
    assert isinstance(queue, RedisQueue)
    letters_queue: Queue = queue.queues["letters"]
    ids = _ask(rq_rt)
    assert letters_queue.job_ids == [render_job_id(ids)]  # one job for the commit's letters

    # Their job still waits in Redis: nothing to enqueue, nothing counted.
    assert jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER * 2) == {"render": 0, "email": 0}
    assert letters_queue.count == 1

    # The job was taken by a worker that died before claiming: RQ holds it as started.
    job = Job.fetch(render_job_id(ids), connection=queue.connection)
    letters_queue.remove(job)
    job.set_status(JobStatus.STARTED)
    job.started_at = utcnow()
    job.save()
    # Started a moment ago: it may be running, and stays.
    assert jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER * 2) == {"render": 0, "email": 0}
    # Started longer ago than any job may run: dead, replaced.
    later = utcnow() + jobs.STALE_CLAIM + timedelta(minutes=1)
    assert jobs.sweep_letters(now=later) == {"render": 2, "email": 0}
    assert letters_queue.job_ids == [render_job_id(ids)]


def test_the_sweeper_leaves_letters_alone_that_a_waiting_chunk_names(rq_rt: Runtime) -> None:
    """The sweeper's chunks need not be the dispatched ones: it reads the letters from the waiting jobs' ids."""
    queue = rq_rt.queue
    assert isinstance(queue, RedisQueue)
    letters_queue: Queue = queue.queues["letters"]
    first = _ask(rq_rt)
    second = _ask(rq_rt)
    # Lose the first commit's job only; the second's still waits.
    letters_queue.remove(render_job_id(first))
    Job.fetch(render_job_id(first), connection=queue.connection).delete()

    assert jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER * 2) == {"render": 2, "email": 0}
    assert sorted(letters_queue.job_ids) == sorted([render_job_id(second), render_job_id(first)])


def test_a_job_lost_between_a_workers_pop_and_its_start_is_replaced(rq_rt: Runtime) -> None:
    """Issue 14's zombie: a worker on several queues pops a job with a multi-queue BLPOP (no intermediate list)
    and is killed before it moves the job to `started`. The job's hash stays `queued` in no list: no worker will
    take it, and before the fix the sweeper's enqueue met DuplicateJobError and left it, for good."""
    queue = rq_rt.queue
    assert isinstance(queue, RedisQueue)
    letters_queue: Queue = queue.queues["letters"]
    ids = _ask(rq_rt)
    job_id = render_job_id(ids)
    queue.connection.lrem(letters_queue.key, 0, job_id)  # popped by the killed worker; the hash is kept
    assert Job.fetch(job_id, connection=queue.connection).get_status() == JobStatus.QUEUED
    assert letters_queue.job_ids == []

    # Within the claim's staleness the job could still be in a live worker's hands: left alone.
    assert jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER * 2) == {"render": 0, "email": 0}
    # Past it, no live worker holds a popped job that long: replaced, and waiting in its queue again.
    later = utcnow() + jobs.STALE_CLAIM + timedelta(minutes=1)
    assert jobs.sweep_letters(now=later) == {"render": 2, "email": 0}
    assert letters_queue.job_ids == [job_id]
    # A job that does wait in its list is never taken for lost, however old.
    assert jobs.sweep_letters(now=later + timedelta(hours=1)) == {"render": 0, "email": 0}
    assert letters_queue.job_ids == [job_id]


def test_a_stale_claim_replaces_the_job_rq_still_holds_as_started(rq_rt: Runtime) -> None:
    queue = rq_rt.queue
    assert isinstance(queue, RedisQueue)
    ids = _ask(rq_rt)
    job = Job.fetch(render_job_id(ids), connection=queue.connection)
    queue.queues["letters"].remove(job)
    job.set_status(JobStatus.STARTED)
    job.started_at = utcnow()
    job.save()
    with rq_rt.database.session() as s:  # its worker claimed the letters, then was killed
        s.execute(
            update(Letter)
            .where(Letter.id.in_(ids))
            .values(status=LetterStatus.RENDERING.value, claimed_by="gone:1", claimed_at=utcnow(), attempts=1)
        )
        s.commit()

    assert jobs.sweep_letters()["render"] == 0  # a fresh claim: its job may be running
    swept = jobs.sweep_letters(now=utcnow() + jobs.STALE_CLAIM + timedelta(seconds=30))

    assert swept["render"] == 2
    assert Job.fetch(render_job_id(ids), connection=queue.connection).get_status() == JobStatus.QUEUED


def test_the_default_worker_runs_letter_jobs_itself_and_forks_for_the_others(
    rq_rt: Runtime, committed_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.worker import PreloadedWorker

    queue = rq_rt.queue
    assert isinstance(queue, RedisQueue)
    [first, second] = _ask(rq_rt)
    other = queue.queues["default"].enqueue(os.getpid, result_ttl=60)
    for key, value in {
        "DATABASE_URL": committed_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SCHULDROUTE_ENV": "test",
        "LETTER_STORE": str(tmp_path / "store"),
        "SCHULDROUTE_INSTANCE": str(tmp_path / "instance"),
    }.items():
        monkeypatch.setenv(key, value)
    worker = PreloadedWorker([queue.queues["letters"], queue.queues["default"]], connection=queue.connection)
    try:
        worker.kill_horse()  # no horse: must not signal our own process group (we are still here)
        worker.work(burst=True)
    finally:
        worker_rt = runtime_module.runtime()
        if worker_rt.database.engine is not None:
            worker_rt.database.engine.dispose()

    with rq_rt.database.session() as s:
        letters: list[Any] = [s.get_one(Letter, i) for i in (first, second)]
    assert {lt.status for lt in letters} == {LetterStatus.RENDERED.value}
    assert {lt.claimed_by.rsplit(":", 1)[1] for lt in letters} == {str(os.getpid())}, "letters: in the worker"
    assert other.latest_result() is not None
    assert other.return_value() != os.getpid(), "other queues: in a forked work horse"
