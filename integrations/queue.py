"""Job dispatch: RQ on Redis in production, a background thread in the embedded default.

Jobs take ids, never personal data: what sits in Redis must not contain a BSN or a name (security.md 1.5).
Dispatch happens only after the transaction that asked for the job has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from redis import Redis
from rq import Queue, Retry

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
    """Runs jobs on one background thread of this process: the embedded default needs no Redis.

    One thread keeps jobs in order and SQLite free of competing writers from our own process.
    """

    mode = "in-process"

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")

    def enqueue(self, func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str | None = None) -> None:
        future = self._executor.submit(func, *args)
        future.add_done_callback(_log_failure(job_id or str(getattr(func, "__name__", "job"))))

    def ping(self) -> bool:
        return True

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


def _log_failure(name: str) -> Callable[[Any], None]:
    def done(future: Any) -> None:
        exc = future.exception()
        if exc is not None:
            log.error("job failed", extra={"job": name, "error": type(exc).__name__})

    return done


class RedisQueue:
    """RQ queues on one Redis connection."""

    mode = "rq"

    def __init__(self, url: str) -> None:
        self.connection = Redis.from_url(url)
        self.queues = {name: Queue(name, connection=self.connection) for name in QUEUE_NAMES}

    def enqueue(self, func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str | None = None) -> None:
        self.queues[queue].enqueue(
            func,
            *args,
            job_id=job_id,
            retry=Retry(max=3, interval=[10, 60, 300]),
            job_timeout=120,
            # Failures keep no personal data (ids only), but need not stay a year either.
            failure_ttl=7 * 24 * 3600,
        )

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except Exception:
            return False


def make_queue(redis_url: str | None) -> JobQueue:
    """RedisQueue when a Redis URL is configured, else the in-process queue."""
    return RedisQueue(redis_url) if redis_url else InProcessQueue()
