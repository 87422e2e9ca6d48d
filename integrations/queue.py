"""Job dispatch: RQ on Redis in production, a background thread in the embedded default.

Jobs take ids, never personal data: what sits in Redis must not contain a BSN or a name (security.md 1.5).
Dispatch happens only after the transaction that asked for the job has committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from schulden.ports import JobQueue

log = logging.getLogger(__name__)

#: Every queue a worker must listen on; tests check that the run scripts name them all.
QUEUE_NAMES = ("default", "letters", "mail", "municipal")
#: Seconds to wait for Redis before a web request gives up on it. Enqueueing happens after a commit: a dead or
#: unreachable Redis must cost a request a moment, not hang it (the sweeper enqueues what was missed). An rq worker
#: raises the read timeout on its own connection above its blocking dequeue (rq's Worker._set_connection).
REDIS_CONNECT_TIMEOUT = 2.0
REDIS_SOCKET_TIMEOUT = 5.0
#: Seconds a job may run; the sweeper's STALE_CLAIM (integrations/letters/jobs.py) must stay well above it.
JOB_TIMEOUT = 120


class QueueUnavailable(Exception):
    """The queue could not be reached: nothing was enqueued."""


class InProcessQueue:
    """Runs a job at once, in the calling thread, right after the commit that asked for it (a JobQueue of
    schulden/ports.py).

    The embedded default has no Redis: a request that asks for letters renders them before it answers (tens of
    milliseconds each), and the ticker thread does the same for reminders. A failing job is logged, never raised
    into the caller (its transaction is already committed); the database row says what is left to do, and the
    sweeper in the tick picks it up again.
    """

    mode = "in-process"

    def __init__(self) -> None:
        self._running = threading.local()

    def enqueue(
        self,
        func: Callable[..., Any],
        *args: Any,
        queue: str = "default",
        job_id: str | None = None,
        replace_started_before: datetime | None = None,
    ) -> bool:
        """Run the job now (or right after the job that asks for it); always True: there is no queue to miss."""
        pending = getattr(self._running, "pending", None)
        if pending is not None:
            # A job that asks for another job (render, then e-mail): run it after this one, not inside it.
            pending.append((func, args, job_id))
            return True
        self._running.pending = [(func, args, job_id)]
        try:
            while self._running.pending:
                next_func, next_args, next_id = self._running.pending.pop(0)
                try:
                    next_func(*next_args)
                except Exception as exc:
                    log.error("job failed", extra={"job": next_id or next_func.__name__, "error": type(exc).__name__})
        finally:
            self._running.pending = None
        return True

    def waiting_job_ids(self, queue: str, *, started_after: datetime) -> set[str]:
        """Nothing waits here: a job runs when it is enqueued."""
        return set()

    def ping(self) -> bool:
        return True


class RedisQueue:
    """A JobQueue (schulden/ports.py) of RQ queues on one Redis connection."""

    mode = "rq"

    def __init__(self, url: str) -> None:
        self.connection = Redis.from_url(
            url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT, socket_timeout=REDIS_SOCKET_TIMEOUT
        )
        self.queues = {name: Queue(name, connection=self.connection) for name in QUEUE_NAMES}

    def enqueue(
        self,
        func: Callable[..., Any],
        *args: Any,
        queue: str = "default",
        job_id: str | None = None,
        replace_started_before: datetime | None = None,
    ) -> bool:
        """Enqueue once per job id; returns whether a job was put on the queue. Raises QueueUnavailable when Redis
        cannot be reached.

        A job of that id still waiting (or scheduled for a retry) is left alone: it will run. A finished or failed
        one is replaced: the database decides whether there is work, and the job checks before it acts. A job RQ
        still holds as started is replaced only when it started before `replace_started_before`: the caller (the
        sweeper) knows from the database that the worker running it died, which RQ itself notices only in its
        maintenance, minutes later.
        """
        options: dict[str, Any] = {
            "retry": Retry(max=2, interval=[10, 60]),
            "job_timeout": JOB_TIMEOUT,
            "result_ttl": 0,  # results are in the database; a finished job id must not block a later re-run
            "failure_ttl": 7 * 24 * 3600,  # failures hold ids only, no personal data; a week is enough to look
        }
        target = self.queues[queue]
        try:
            if job_id is None:
                target.enqueue(func, *args, **options)
                return True
            try:
                target.enqueue(func, *args, job_id=job_id, unique=True, **options)
                return True
            except DuplicateJobError:
                if not self._replaceable(target, job_id, replace_started_before):
                    return False
                try:
                    target.enqueue(func, *args, job_id=job_id, unique=True, **options)
                except DuplicateJobError:  # another process replaced it first: that job will do
                    return False
                return True
        except RedisError as exc:
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _replaceable(self, queue: Queue, job_id: str, started_before: datetime | None) -> bool:
        """Delete the job of this id if it is over (or, see `enqueue`, dead while started); whether it is gone."""
        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return True  # gone between our enqueue and the fetch (its TTL ran out)
        status = job.get_status(refresh=False)
        if status == JobStatus.STARTED:
            started = job.started_at or job.enqueued_at
            if started_before is None or (started is not None and _aware(started) >= started_before):
                return False
        elif status == JobStatus.QUEUED:
            if started_before is None or not self._lost_in_transit(queue, job, started_before):
                return False  # still in its queue: it will run
        elif status not in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            return False  # scheduled for a retry, deferred: it will still run
        job.delete()
        # A dead job's id can stay in the queue's intermediate list; RQ's maintenance would fail the new job of the
        # same id as "stuck in intermediate queue".
        queue.intermediate_queue.remove(job_id)
        return True

    def _lost_in_transit(self, queue: Queue, job: Job, enqueued_before: datetime) -> bool:
        """A job RQ still calls `queued` that no worker will ever take: in neither its queue's list nor the
        intermediate list, and enqueued before `enqueued_before`. A worker listening on several queues takes a job
        with a multi-queue BLPOP, which has no intermediate list: killed between that pop and the started registry,
        it leaves such a job behind (issue 14: a letter stayed queued for good while every tick found nothing to
        do). A live worker moves a popped job to `started` within milliseconds, so the caller's bound (the claim's
        staleness, minutes) cannot mistake one in a live worker's hands for lost."""
        enqueued = job.enqueued_at or job.created_at
        if enqueued is None or _aware(enqueued) >= enqueued_before:
            return False
        if queue.get_job_position(job.id) is not None:
            return False
        return job.id not in queue.intermediate_queue.get_job_ids()

    def waiting_job_ids(self, queue: str, *, started_after: datetime) -> set[str]:
        """Ids of the jobs of this queue that will still run: waiting, scheduled for a retry, or started after
        `started_after` (one started before it is taken for dead, as in `enqueue`). Raises QueueUnavailable.

        The sweeper asks this once per tick instead of looking up a job per letter: a render job's id names its
        letters (integrations/letters/dispatch.py), and chunks it builds need not match the ones dispatched."""
        target = self.queues[queue]
        try:
            found = set(target.job_ids) | set(target.scheduled_job_registry.get_job_ids())
            for job_id in target.started_job_registry.get_job_ids():
                job = target.fetch_job(job_id)
                started = None if job is None else job.started_at or job.enqueued_at
                if started is not None and _aware(started) >= started_after:
                    found.add(job_id)
        except RedisError as exc:
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return found

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except Exception:
            return False


def _aware(moment: datetime) -> datetime:
    """RQ's timestamps are UTC, naive or aware depending on the version."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def make_queue(redis_url: str | None) -> JobQueue:
    """RedisQueue when a Redis URL is configured, else the in-process queue."""
    return RedisQueue(redis_url) if redis_url else InProcessQueue()
