"""Job dispatch: RQ on Redis in production, a background thread in the embedded default.

Jobs take ids, never personal data: what sits in Redis must not contain a BSN or a name (security.md 1.5).
Dispatch happens only after the transaction that asked for the job has committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)

#: Every queue a worker must listen on; tests check that the run scripts name them all.
QUEUE_NAMES = ("default", "letters", "mail", "municipal")


class JobQueue(Protocol):
    """What the application needs from a queue."""

    mode: str

    def enqueue(
        self, func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str | None = None
    ) -> None: ...

    def ping(self) -> bool: ...


class InProcessQueue:
    """Runs a job at once, in the calling thread, right after the commit that asked for it.

    The embedded default has no Redis: a request that asks for letters renders them before it answers (tens of
    milliseconds each), and the ticker thread does the same for reminders. A failing job is logged, never raised
    into the caller (its transaction is already committed); the database row says what is left to do, and the
    sweeper in the tick picks it up again.
    """

    mode = "in-process"

    def __init__(self) -> None:
        self._running = threading.local()

    def enqueue(self, func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str | None = None) -> None:
        pending = getattr(self._running, "pending", None)
        if pending is not None:
            # A job that asks for another job (render, then e-mail): run it after this one, not inside it.
            pending.append((func, args, job_id))
            return
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

    def ping(self) -> bool:
        return True


class RedisQueue:
    """RQ queues on one Redis connection."""

    mode = "rq"

    def __init__(self, url: str) -> None:
        self.connection = Redis.from_url(url)
        self.queues = {name: Queue(name, connection=self.connection) for name in QUEUE_NAMES}

    def enqueue(self, func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str | None = None) -> None:
        """Enqueue once per job id: a job still waiting or running is not enqueued again; a finished or failed
        one is replaced (the database decides whether there is work; the job checks before it acts)."""
        options: dict[str, Any] = {
            "retry": Retry(max=2, interval=[10, 60]),
            "job_timeout": 120,
            "result_ttl": 0,  # results are in the database; a finished job id must not block a later re-run
            "failure_ttl": 7 * 24 * 3600,  # failures hold ids only, no personal data; a week is enough to look
        }
        if job_id is None:
            self.queues[queue].enqueue(func, *args, **options)
            return
        try:
            self.queues[queue].enqueue(func, *args, job_id=job_id, unique=True, **options)
        except DuplicateJobError:
            job = Job.fetch(job_id, connection=self.connection)
            if job.get_status(refresh=True) in (
                JobStatus.FINISHED,
                JobStatus.FAILED,
                JobStatus.STOPPED,
                JobStatus.CANCELED,
            ):
                job.delete()
                self.queues[queue].enqueue(func, *args, job_id=job_id, unique=True, **options)

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except Exception:
            return False


def make_queue(redis_url: str | None) -> JobQueue:
    """RedisQueue when a Redis URL is configured, else the in-process queue."""
    return RedisQueue(redis_url) if redis_url else InProcessQueue()
