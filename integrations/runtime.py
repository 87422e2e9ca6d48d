"""What a job needs (settings, database, engine, queue, file store), configured once per process.

The app factory configures it for the web process (and the in-process jobs of the embedded default); an rq worker
or cron process builds it from the environment on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from schulden.db import Database
from schulden.processes import build_engine
from schulden.settings import Settings
from workflows import Engine

if TYPE_CHECKING:
    from integrations.letters.storage import FileStore
    from integrations.queue import JobQueue


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database
    engine: Engine
    queue: JobQueue
    store: FileStore


_current: Runtime | None = None


def configure(runtime_: Runtime) -> None:
    """Use this runtime in this process (the app factory calls it; tests too)."""
    global _current
    _current = runtime_


def build(settings: Settings, database: Database | None = None, engine: Engine | None = None) -> Runtime:
    """A runtime for `settings`: connects the database and the queue, and hooks letter dispatch to commits."""
    from integrations.letters.dispatch import install
    from integrations.letters.storage import FileStore
    from integrations.queue import make_queue
    from integrations.referrals.delivery import install as install_referrals

    if database is None:
        database = Database()
        database.configure(settings.database_url)
    queue = make_queue(settings.redis_url)
    rt = Runtime(
        settings=settings,
        database=database,
        engine=engine or build_engine(settings),
        queue=queue,
        store=FileStore(settings.letter_store_path),
    )
    assert database.sessionmaker is not None
    install(database.sessionmaker, queue)
    install_referrals(database.sessionmaker, queue)
    return rt


def runtime() -> Runtime:
    """This process's runtime; built from the environment the first time in a worker."""
    global _current
    if _current is None:
        _current = build(Settings.from_env())
    return _current
