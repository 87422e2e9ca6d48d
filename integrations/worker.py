"""The rq worker classes `schuldroute worker` runs.

RQ's default worker forks a fresh "work horse" per job. For a letter that costs several times the letter itself
(docs/benchmarks.md): the fork copies pages, and the horse starts with a new PostgreSQL connection and cold statement
caches, ~140 core-ms a letter against ~23 in the worker process. So our default worker, `PreloadedWorker`, runs the
jobs of the `letters` queue in its own process, as RQ's `SimpleWorker` does, and forks a horse only for the other
queues (the tick, e-mail, municipal deliveries: few jobs, and a horse keeps a crash or a leak in those integrations
out of the worker). `--no-fork` (`InProcessWorker`) runs every job in the worker process.

A job run in the worker process can take the worker down with it if it crashes the interpreter; the letter is
then picked up by the sweeper. A job that runs too long is still stopped by RQ's timeout (SIGALRM in the process).

Database connections are never shared across a fork: the pool is emptied in every child right after the fork (without
closing the parent's connections), so a horse connects for itself and the parent keeps its pooled connections for
the letter jobs it runs itself. Every child (a horse, RQ's scheduler process) also dies with the worker: killed
with -9, RQ's worker left its scheduler running as an orphan that held the scheduler lock (issue 14).

A worker outlives Redis (`ComesBack`): RQ's own loop retries a failing dequeue, but any other Redis error (a
heartbeat, a job's bookkeeping, the registry maintenance) ends `work()`, and registering its death then raised too,
so the process exited for good while letters waited (issue 14's drills: 525 of them). Our workers wait for Redis
with a growing pause (up to 30 s) and start working again under a new name; only a stop request ends them.
A PostgreSQL outage never reaches the loop: a job that fails on it is retried by RQ and then by the sweeper.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus
from sqlalchemy import Engine

from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from schulden.db import Database
from schulden.settings import Settings
from schulden.startup_checks import check_production_database

log = logging.getLogger(__name__)

_pooled: Engine | None = None
#: Linux's prctl(PR_SET_PDEATHSIG): the kernel sends the child this signal when its parent dies.
_PR_SET_PDEATHSIG = 1


def _after_fork_in_child(parent: int) -> None:
    # SQLAlchemy's recipe for forking: the child drops the pool it inherited without closing the parent's
    # connections (close=False), and opens its own on first use.
    if _pooled is not None:
        _pooled.dispose(close=False)
    _die_with(parent)


def _die_with(parent: int) -> None:
    """Ask the kernel for SIGTERM when the worker dies, however it dies (kill -9 included). A supervisor's
    control-group kill (docs/operations.md) does the same for every process of the unit; this covers a worker
    started by hand or by a process manager that kills only the pid it started."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not glibc: the supervisor's group kill is the only guard
        return
    if os.getppid() != parent:  # the worker died before the request took effect
        os._exit(1)


def prepare() -> None:
    """Build this process's runtime and warm up the letter renderer before any job runs.

    SCHULDROUTE_ENV must be named (Settings.from_env refuses otherwise), and in production the worker refuses a
    database that holds the demo accounts, as the web app does.
    """
    settings = Settings.from_env()
    database = Database()
    database.configure(settings.database_url, **settings.database_engine_options)
    if settings.is_production:
        check_production_database(database.engine)
    global _pooled
    if _pooled is None:
        parent = os.getpid()
        os.register_at_fork(after_in_child=lambda: _after_fork_in_child(parent))
    _pooled = database.engine
    # The worker's ports, database and engine, bound once; the jobs (and forked horses) find them there.
    runtime_module.configure(build_runtime(settings, database=database))
    from integrations.letters.render import warm_up

    warm_up()
    # Everything loaded so far lives as long as the process: out of the garbage collector's sight, so that a
    # collection in a forked horse does not walk (and so copy) the parent's pages, nor one here walk them again.
    gc.collect()
    gc.freeze()


class UnsubscribesPromptly(Worker):
    """A worker that stops listening for commands within a second when it quits."""

    def unsubscribe(self) -> None:
        # RQ's unsubscribe relies on join(timeout=1), but redis-py 8.2's PubSubWorkerThread.stop() joins without a
        # limit first: when the UNSUBSCRIBE reply is read before the thread's next poll, the thread waits for a
        # subscription for RQ's sleep_time (60 s), and so did every burst run and warm shutdown. The thread is a
        # daemon: after a second, leave it.
        if self.pubsub_thread and self.pubsub is not None:
            self.log.info("Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name)
            with contextlib.suppress(RedisError):  # Redis is gone (ComesBack): the thread must stop all the same
                self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)
            self.pubsub.close()


class ComesBack(Worker):
    """A worker that waits for Redis when it goes away, and then works on, instead of exiting.

    RQ's `work()` ends on any Redis error outside its dequeue and then fails again registering its death. Here a
    `work()` that ended without a stop request (we run neither burst nor max_jobs in production) is an outage:
    the worker tears down what it can, waits for Redis with a pause that doubles up to `max_reconnect_wait`, and
    starts `work()` again. It comes back under a new name, as RQ refuses to register a name whose entry may still
    look alive. A job that was running when Redis went is the sweeper's (its claim goes stale); RQ's bookkeeping of
    it may be lost, the letter is not.
    """

    #: Seconds between attempts to reach Redis, at most: short enough that letters wait little after Redis is
    #: back, long enough not to fill the log during a long outage.
    max_reconnect_wait = 30.0
    first_reconnect_wait = 1.0
    #: RQ's own pause between failed dequeues grows to this (its default is 60 s).
    max_connection_wait_time = max_reconnect_wait

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._base_name = self.name
        self._comebacks = 0
        self._quitting = threading.Event()

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._quitting.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        worked = False
        while True:
            try:
                worked = super().work(burst, *args, **kwargs) or worked
            except RedisError as exc:  # Redis went while starting up: wait for it as below
                log.error("worker lost Redis while starting", extra={"error": type(exc).__name__})
            if burst or self._quitting.is_set() or kwargs.get("max_jobs") or kwargs.get("max_idle_time"):
                return worked
            if not self._wait_for_redis():
                return worked
            self._comebacks += 1
            # RQ refuses a name whose entry may still look alive (the death we could not register).
            self.name = f"{self._base_name}.{self._comebacks}"
            log.warning("worker working again after losing Redis", extra={"comebacks": self._comebacks})

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # A Redis that came back empty (restarted without its data) no longer knows this worker, while RQ's dequeue
        # loop, which rode out the outage, carries on: register again, or the status report counts no workers.
        if pipeline is None and not self.connection.hexists(self.key, "birth"):
            log.warning("worker registering again: Redis lost its entry")
            # What a pipelined heartbeat wrote meanwhile is a fragment, not another worker of this name.
            self.connection.delete(self.key)
            self.register_birth()  # type: ignore[no-untyped-call]
            self.set_state(WorkerStatus.IDLE)
        super().heartbeat(timeout, pipeline)

    def _wait_for_redis(self) -> bool:
        """Ping Redis until it answers (True) or the worker is told to stop (False)."""

        def stop(_signum: int, _frame: FrameType | None) -> None:
            self._quitting.set()

        # RQ's handlers ask Redis for the worker's state: during an outage a plain flag is what works.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        pause = self.first_reconnect_wait
        while not self._quitting.is_set():
            try:
                self.connection.ping()
                return True
            except RedisError as exc:
                log.error("worker waiting for Redis", extra={"error": type(exc).__name__, "retry_in": pause})
            self._quitting.wait(pause)
            pause = min(pause * 2, self.max_reconnect_wait)
        return False

    def teardown(self) -> None:
        # RQ's teardown stops at the first Redis error: the scheduler process and the command subscription must go
        # whatever Redis does, or a comeback would leave them behind.
        if self.is_horse:
            return
        for step in (self._stop_scheduler_if_any, self.register_death, self.unsubscribe):
            try:
                step()
            except RedisError as exc:
                log.warning("worker teardown without Redis", extra={"step": step.__name__,
                                                                    "error": type(exc).__name__})  # fmt: skip
        self.scheduler = None

    def _stop_scheduler_if_any(self) -> None:
        if self.scheduler:
            self.stop_scheduler()  # type: ignore[no-untyped-call]


class PreloadedWorker(ComesBack, UnsubscribesPromptly):
    """RQ's forking worker with the renderer loaded once, running letter jobs in its own process."""

    #: Queues whose jobs run in this process, without a fork.
    in_process_queues: frozenset[str] = frozenset({"letters"})
    #: Our jobs keep no result (result_ttl=0): a log line per job saying so says nothing.
    log_result_lifespan = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare()

    def execute_job(self, job: Job, queue: Queue) -> None:
        if queue.name not in self.in_process_queues:
            super().execute_job(job, queue)
            return
        # SimpleWorker.execute_job: no horse, the job runs here.
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        # RQ's kill_horse signals the process group of horse_pid: with no horse (pid 0) that is our own group.
        if self.horse_pid:
            super().kill_horse(sig)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.origin in self.in_process_queues:
            # Nobody sends heartbeats while the job runs in this process: the entry must outlive the job.
            return SimpleWorker.get_heartbeat_ttl(self, job, working_time)  # type: ignore[arg-type]
        return int(super().get_heartbeat_ttl(job, working_time))


class ForkingWorker(PreloadedWorker):
    """A work horse for every job, letters too (the isolation of RQ's default, at the cost of a fork, a new
    connection and cold caches per job of up to 25 letters). Not what `schuldroute worker` runs; for
    `rq worker -w integrations.worker.ForkingWorker`, the benchmark and the fault-injection tests, which kill
    horses."""

    in_process_queues: frozenset[str] = frozenset()


class InProcessWorker(ComesBack, UnsubscribesPromptly, SimpleWorker):
    """RQ's non-forking worker, with the renderer loaded once (and, like ours, quick to stop: without
    `UnsubscribesPromptly` a stop request could wait a minute for the command subscription, issue 16's CI run)."""

    log_result_lifespan = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare()
