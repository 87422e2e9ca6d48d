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
the letter jobs it runs itself.
"""

from __future__ import annotations

import gc
import os
import signal
from typing import Any

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

_pooled: Engine | None = None


def _drop_inherited_pool() -> None:
    # SQLAlchemy's recipe for forking: the child drops the pool it inherited without closing the parent's
    # connections (close=False), and opens its own on first use.
    if _pooled is not None:
        _pooled.dispose(close=False)


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
        os.register_at_fork(after_in_child=_drop_inherited_pool)
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
            self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)
            self.pubsub.close()


class PreloadedWorker(UnsubscribesPromptly):
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


class InProcessWorker(SimpleWorker):
    """RQ's non-forking worker, with the renderer loaded once."""

    log_result_lifespan = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare()
