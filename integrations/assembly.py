"""Builds a process's Runtime (schulden/ports.py): every port bound to its implementation here.

Called once per process by its entry point: the app factory (schulden/app.py, for the web process and the
in-process jobs of the embedded default) and the rq worker (integrations/worker.py); tests call it as they do.
No job module imports this one: the jobs find the runtime in integrations/runtime.py, which imports none of them,
so the integrations import each other in one direction only.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from integrations.letters import dispatch
from integrations.letters.batch import create_print_batch
from integrations.letters.storage import DatabaseStore, FileStore
from integrations.mail.client import SmtpMailer
from integrations.municipal.zgw import ZgwClient
from integrations.queue import make_queue
from integrations.referrals import delivery
from integrations.status import SystemProbe
from schulden.cases.access_export import AccessExport
from schulden.db import Database
from schulden.letters.models import PrintBatch
from schulden.letters.services import NothingToPrint
from schulden.ports import FileStore as FileStorePort
from schulden.ports import JobQueue, Runtime
from schulden.processes import build_engine
from schulden.settings import Settings
from workflows import Actor, Engine


def build_runtime(
    settings: Settings,
    database: Database | None = None,
    engine: Engine | None = None,
    *,
    queue: JobQueue | None = None,
    store: FileStorePort | None = None,
) -> Runtime:
    """A runtime for `settings`: connects the database (unless given one) and the queue, and hooks the dispatch of
    new letters and referrals to the commits of the database's sessions. A given queue and store are kept (a test
    that changes a setting mid-way keeps its jobs and files)."""
    if database is None:
        database = Database()
        database.configure(settings.database_url, **settings.database_engine_options)
    engine = engine or build_engine(settings)
    queue = queue or make_queue(settings.redis_url)
    if store is None:
        assert database.engine is not None
        store = (
            DatabaseStore(database.engine)
            if settings.file_store == "database"
            else FileStore(settings.letter_store_path)
        )
    # Each hook is installed once per session factory and queue: a second build on the same pair adds none.
    assert database.sessionmaker is not None
    dispatch.install(database.sessionmaker, queue)
    delivery.install(database.sessionmaker, queue)
    return Runtime(
        settings=settings,
        database=database,
        engine=engine,
        store=store,
        queue=queue,
        mailer=SmtpMailer(settings),
        municipal=ZgwClient(),
        print_batch=_PrintBatchMaker(engine, store),
        probe=SystemProbe(queue, store),
        access_pdf=_render_access_pdf,
    )


def _render_access_pdf(export: AccessExport) -> bytes:
    """schulden.ports.AccessPdfRenderer: reportlab is imported on the first export, not when a process starts."""
    from integrations.cases.access_pdf import render_access_pdf

    return render_access_pdf(export)


class _PrintBatchMaker:
    """schulden.ports.PrintBatchMaker over integrations/letters/batch.py, with the process's engine and store."""

    def __init__(self, engine: Engine, store: FileStorePort) -> None:
        self.engine = engine
        self.store = store

    def __call__(self, session: Session, *, pi_id: int, actor: Actor, today: date, now: datetime) -> PrintBatch | None:
        try:
            return create_print_batch(session, self.engine, self.store, pi_id=pi_id, actor=actor, today=today, now=now)
        except NothingToPrint:
            return None
