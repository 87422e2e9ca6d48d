"""What this deployment's moving parts say about themselves: live rq workers, the scheduler's last tick, whether
the letter store takes a file. A schulden.ports.SystemProbe, read by the status report and /metrics.

The scheduler marks each tick in Redis (`schuldroute tick --every N` runs in a process of its own, often on
another machine); the embedded default ticks in the web process itself and keeps the moment in memory.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime

from redis.exceptions import RedisError
from rq import Worker

from integrations.queue import RedisQueue
from schulden.ports import FileStore, JobQueue

log = logging.getLogger(__name__)

TICK_KEY = "schuldroute:tick:last"
#: The marker outlives a dead scheduler long enough to be seen as old, then goes (no key: "never ticked").
TICK_TTL_SECONDS = 7 * 24 * 3600
_last_tick_in_process: datetime | None = None


def mark_tick(queue: JobQueue, at: datetime) -> None:
    """Record that a tick finished at `at` (never raises: a tick's work is done whether or not this is written)."""
    global _last_tick_in_process
    if isinstance(queue, RedisQueue):
        try:
            queue.connection.set(TICK_KEY, f"{at.timestamp():.3f}", ex=TICK_TTL_SECONDS)
        except RedisError as exc:
            log.warning("tick not marked: Redis unavailable", extra={"error": type(exc).__name__})
    else:
        _last_tick_in_process = at


class SystemProbe:
    def __init__(self, queue: JobQueue, store: FileStore) -> None:
        self.queue = queue
        self.store = store

    def workers(self) -> int | None:
        """rq workers that reported to Redis within their heartbeat; None where jobs run in-process; -1 when Redis
        cannot be asked."""
        if not isinstance(self.queue, RedisQueue):
            return None
        try:
            # Worker.all, not Worker.count: the registry set keeps a worker killed with -9 until RQ's maintenance
            # cleans it (up to 10 minutes), while its entry expires 60 s after its last report (`--worker-ttl`).
            return len(Worker.all(connection=self.queue.connection))
        except RedisError:
            return -1

    def last_tick(self) -> datetime | None:
        if not isinstance(self.queue, RedisQueue):
            return _last_tick_in_process
        try:
            raw = self.queue.connection.get(TICK_KEY)
        except RedisError:
            return None
        return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None

    def store_writable(self) -> bool:
        """Write, read back and remove a small file under `.probe/` (a full or read-only store says no)."""
        key = f".probe/{socket.gethostname()}-{os.getpid()}"
        try:
            self.store.put(key, b"ok")
            ok = self.store.get(key) == b"ok"
            self.store.delete(key)
            return ok
        except OSError as exc:
            log.warning("letter store not writable", extra={"error": type(exc).__name__})
            return False
