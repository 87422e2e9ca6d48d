"""Database wiring: the declarative base, engines with per-backend settings, and session handling.

One code path for both backends: SQLite (embedded default) gets WAL, foreign keys and a busy timeout; PostgreSQL
gets a check of every pooled connection before use (with a deadline for the app's engines), so a restarted server
does not surface as an error on the next request and a frozen one as a hang.
"""

from __future__ import annotations

import math
import re
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from workflows.store import WorkflowBase

# The application's models share the engine's metadata, so one Alembic history covers every table.
Base = WorkflowBase


def make_engine(
    url: str,
    *,
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
    pool_timeout: float | None = None,
    **kwargs: Any,
) -> Engine:
    """An Engine configured for `url`'s backend. The timeouts (seconds; Settings.database_engine_options) apply to
    PostgreSQL: libpq's connect_timeout, the server's statement_timeout for every session of this engine, and how
    long a checkout waits for a pooled connection. SQLite has its busy_timeout instead (10 s, below)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # With timeouts, our own ping with a deadline replaces SQLAlchemy's pre-ping (see `_ping_within`).
    kwargs.setdefault("pool_pre_ping", connect_timeout is None)
    connect_args: dict[str, Any] = dict(kwargs.pop("connect_args", {}))
    if connect_timeout is not None:
        connect_args["connect_timeout"] = max(1, math.ceil(connect_timeout))  # libpq takes whole seconds
    if statement_timeout is not None:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"
    if pool_timeout is not None:
        kwargs["pool_timeout"] = pool_timeout
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _commit_reads_without_waiting(engine)
    if connect_timeout is not None and engine.dialect.driver == "psycopg":
        event.listen(engine, "checkout", _ping_within(min(PING_DEADLINE, connect_timeout)))
    return engine


#: The one table a transaction may write and still commit without waiting for the disk (see below).
AUDIT_TABLE = "audit_entry"
_DML = ("INSERT", "UPDATE", "DELETE", "MERGE")
_WRITES_IN_CTE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def _commit_reads_without_waiting(engine: Engine) -> None:
    """A transaction whose only write is INSERT INTO audit_entry (a read and its NEN 7513 row: a case opened, a
    letter downloaded) commits with `synchronous_commit = off` for that transaction alone (issue 16).

    Every read of a case writes its audit row, so with durable commits every read waited for a WAL flush: the case
    detail reached 78-85 % of the bare read's requests/s. Without the wait, the commit returns once the WAL record is
    in PostgreSQL's buffers; the WAL writer flushes it within 3 x wal_writer_delay (600 ms by default). What a crash
    of the server or the machine can cost is the audit rows of the reads of that last fraction of a second, never a
    half row, never anything else: a transaction with any other write (a case changed, a login attempt, a timer
    fired) keeps the durable commit, also when it writes audit rows too. The statements themselves tell: every DML
    statement the connection sends in the transaction is looked at, whoever sends it (ORM, Core, text)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _note(conn: Connection, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        head = statement.lstrip()[:6].upper()
        if head.startswith("WITH"):
            # A data-modifying CTE (the engine writes a fire or a tick batch in one such statement) is a write;
            # a plain query with a CTE is not.
            if _WRITES_IN_CTE.search(statement):
                conn.info["durable"] = True
            return
        if not head.startswith(_DML):
            return
        words = statement.split(None, 3)
        if head.startswith("INSERT") and len(words) > 2 and words[2].strip('"') == AUDIT_TABLE:
            conn.info["audited"] = True
        else:
            conn.info["durable"] = True

    @event.listens_for(engine, "commit")
    def _commit(conn: Connection) -> None:
        audited, durable = conn.info.pop("audited", False), conn.info.pop("durable", False)
        if audited and not durable:
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    @event.listens_for(engine, "begin")
    @event.listens_for(engine, "rollback")
    def _forget(conn: Connection) -> None:
        # conn.info outlives the transaction (it is the pooled connection's): every transaction starts afresh.
        conn.info.pop("audited", None)
        conn.info.pop("durable", None)


#: Seconds a pooled connection may take to answer its check before it is thrown away. `SELECT 1` takes well under a
#: millisecond on a healthy server; a frozen one (SIGSTOP, a hung host whose kernel still acknowledges) never answers.
PING_DEADLINE = 2.0


def _ping_within(seconds: float) -> Any:
    """A checkout check with a deadline, in place of SQLAlchemy's pool_pre_ping.

    The pre-ping waits for its `SELECT 1` without limit, and neither libpq's connect_timeout (the connection exists)
    nor the server's statement_timeout (the server does not run) applies: the fault drills saw a request on a pooled
    connection hang until the database thawed or gunicorn killed the worker (31.8 s, no answer at all). Here the
    ping is sent and its answer awaited on the socket for at most `seconds`; on silence the connection is closed and
    the pool told it is gone (DisconnectionError), so it opens a new one, which the connect timeout turns into an
    error, and the request into a 503 with Retry-After (schulden/http/errors.py)."""
    import psycopg
    from sqlalchemy.exc import DisconnectionError

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        pgconn = dbapi_connection.pgconn
        try:
            pgconn.send_query(b"SELECT 1")
            deadline = time.monotonic() + seconds
            while pgconn.flush():  # the query is tiny: this is one round at most
                if not _readable_or_writable(pgconn.socket, deadline, write=True):
                    raise TimeoutError
            while True:
                if not _readable_or_writable(pgconn.socket, deadline):
                    raise TimeoutError
                pgconn.consume_input()
                if not pgconn.is_busy():
                    break
            while (result := pgconn.get_result()) is not None:
                if result.status != psycopg.pq.ExecStatus.TUPLES_OK:  # e.g. the server is shutting down
                    raise psycopg.OperationalError("the connection check was answered with an error")
        except (TimeoutError, OSError, psycopg.Error) as exc:
            dbapi_connection.close()
            raise DisconnectionError(f"the database did not answer the connection check within {seconds:g} s") from exc

    return checkout


def _readable_or_writable(fd: int, deadline: float, *, write: bool = False) -> bool:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    readable, writable, _ = select.select([] if write else [fd], [fd] if write else [], [], remaining)
    return bool(writable if write else readable)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, emit BEGIN: pysqlite's own transaction handling breaks SAVEPOINTs.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock at BEGIN: two writers queue on busy_timeout instead of one failing later
    # with "database is locked" when it upgrades its read lock.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Engine and session factory for one database URL."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker[Session] | None = None

    def configure(self, url: str, **engine_kwargs: Any) -> None:
        """Create the engine and session factory (replaces earlier ones)."""
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def bind(self, connection: Connection) -> None:
        """Open every session on `connection`, inside the transaction it is in; a session's commit then only
        releases a savepoint (tests: whatever the app commits is rolled back with that transaction).

        The session factory stays the same object, so what listens to its commits (letter dispatch) still does.
        """
        if self.sessionmaker is None:
            raise RuntimeError("database is not configured")
        self.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")

    def unbind(self) -> None:
        """Sessions get their own connection from the engine again (undoes `bind`)."""
        if self.sessionmaker is None:
            return
        self.sessionmaker.configure(bind=self.engine)
        self.sessionmaker.kw.pop("join_transaction_mode", None)

    def session(self) -> Session:
        """A new session; the caller closes it (prefer session_scope)."""
        if self.sessionmaker is None:
            raise RuntimeError("database is not configured")
        return self.sessionmaker()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises (CLI, jobs)."""
        session = self.session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @property
    def is_sqlite(self) -> bool:
        return self.engine is not None and self.engine.dialect.name == "sqlite"
