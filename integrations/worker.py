"""The rq worker classes `schuldroute worker` runs.

RQ's default worker forks a fresh "work horse" per job. A horse that has to import reportlab and register fonts
first costs ~150 ms a job (performance.md); ours does that once, in the parent, before any fork. Database
connections are never shared across a fork: the parent's engine uses no pool, so each horse connects itself.
`SimpleWorker` runs jobs in the worker process itself: no fork at all, about twice the throughput, at the price
that a crash of the job takes the worker with it (the letter is then picked up by the sweeper).
"""

from __future__ import annotations

from typing import Any

from rq import SimpleWorker, Worker
from sqlalchemy.pool import NullPool

from integrations import runtime as runtime_module
from schulden.db import Database
from schulden.settings import Settings


def prepare(*, forking: bool) -> None:
    """Build this process's runtime and warm up the letter renderer before any job runs."""
    settings = Settings.from_env()
    database = Database()
    if forking:
        database.configure(settings.database_url, poolclass=NullPool)
    else:
        database.configure(settings.database_url)
    runtime_module.configure(runtime_module.build(settings, database=database))
    from integrations.letters.render import warm_up

    warm_up()


class PreloadedWorker(Worker):
    """RQ's forking worker, with the renderer loaded once in the parent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare(forking=True)


class InProcessWorker(SimpleWorker):
    """RQ's non-forking worker, with the renderer loaded once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prepare(forking=False)
