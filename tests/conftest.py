"""Fixtures: every database test runs on SQLite and on a real PostgreSQL server; Redis is a real server too.

`scripts/test.sh` (make test) starts PostgreSQL and Redis on 127.0.0.1 and passes their URLs in
SCHULDEN_TEST_DATABASE_URL and SCHULDEN_TEST_REDIS_URL. Without them (pytest run by hand) the PostgreSQL and
Redis tests are skipped with a message saying so; `make test` never skips them.

Schemas are built only by the Alembic migrations, once per backend per run. Most tests get a `session` inside an
outer transaction that is rolled back (warehouse's savepoint pattern); tests of concurrency and ticking get
`committed`, a session factory with real commits on a database that is emptied afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from schulden.app import create_app
from schulden.cli import upgrade_database
from schulden.db import make_engine
from schulden.processes import build_engine
from schulden.settings import Settings
from workflows import Engine as WorkflowEngine

PG_URL = os.environ.get("SCHULDEN_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SCHULDEN_TEST_REDIS_URL")
BACKENDS = ["sqlite", "postgresql"]

#: A fixed moment for tests that do not care about the date: a Monday, no holiday near.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeActor:
    """An actor with a chosen role, for engine tests."""

    actor_id: str
    roles: frozenset[str]


def actor(role: str, actor_id: str | None = None) -> FakeActor:
    return FakeActor(actor_id or f"test:{role}", frozenset({role}))


# -- network guard (warehouse habit): tests talk to loopback only --------------------------------------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
        raise RuntimeError(f"test tried to reach {host}: only loopback is allowed")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _guard_network() -> Iterator[None]:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


# -- databases -------------------------------------------------------------------------------------------------------


@dataclass
class DatabaseUnderTest:
    backend: str
    url: str
    engine: Engine
    template: Path | None  # SQLite: a migrated file that `committed` copies


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseUnderTest]:
    """A migrated database per backend for the whole run."""
    backend: str = request.param
    if backend == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        template = folder / "template.db"
        upgrade_database(f"sqlite:///{template}")
        path = folder / "tests.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        yield DatabaseUnderTest(backend, url, engine, template)
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("SCHULDEN_TEST_DATABASE_URL is not set: run `make test` to test on PostgreSQL")
    base = make_url(PG_URL)
    # One database per test process, so parallel runs against one server never empty each other's tables.
    name = f"schulden_test_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    engine = make_engine(url)
    yield DatabaseUnderTest(backend, url, engine, None)
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_database(database: DatabaseUnderTest) -> DatabaseUnderTest:
    """The database, for tests that need PostgreSQL's row locks and real concurrency (not run on SQLite)."""
    return database


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that ask for `pg_database` run on PostgreSQL only: their SQLite variant is deselected, not skipped."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database") == "sqlite"
        (drop if on_sqlite and "pg_database" in getattr(item, "fixturenames", ()) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def session(database: DatabaseUnderTest) -> Iterator[Session]:
    """A session whose commits only release savepoints; everything is rolled back after the test."""
    with database.engine.connect() as conn:
        outer = conn.begin()
        factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        with factory() as s:
            yield s
        outer.rollback()


_TABLES = (
    "wf_history",
    "wf_timer",
    "debt",
    "debt_case",
    "detainee",
    "app_user",
    "creditor",
    "organisation",
    "wf_instance",
    # No foreign key reaches it, so CASCADE does not: failed logins of one test would rate-limit the next.
    "login_attempt",
    "letter_text_version",
)


@pytest.fixture
def committed(database: DatabaseUnderTest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A session factory with real commits (for concurrency and ticking); the data is removed afterwards."""
    if database.template is not None:
        path = tmp_path / "committed.db"
        shutil.copy(database.template, path)
        engine = make_engine(f"sqlite:///{path}")
        yield sessionmaker(engine, expire_on_commit=False)
        engine.dispose()
        return
    yield sessionmaker(database.engine, expire_on_commit=False)
    with database.engine.begin() as conn:
        # TRUNCATE does not fire the append-only row triggers on wf_history: that is what cleanup needs.
        conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def committed_url(database: DatabaseUnderTest, committed: sessionmaker[Session]) -> str:
    """The URL behind `committed` (for other processes: CLI, workers)."""
    bind = committed.kw["bind"]
    return str(bind.url.render_as_string(hide_password=False))


# -- the engine and the app -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wf_engine() -> WorkflowEngine:
    """The application's engine (case and debt processes), default settings."""
    return build_engine()


def make_settings(database_url: str, **changes: object) -> Settings:
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        environment="test",
        log_level="WARNING",
    )
    return settings.with_changes(**changes) if changes else settings


@pytest.fixture
def app(database: DatabaseUnderTest, committed_url: str) -> Flask:
    """The app on the test database (real commits, emptied afterwards)."""
    application = create_app(make_settings(committed_url))
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis server, emptied before and after."""
    if not REDIS_URL:
        pytest.skip("SCHULDEN_TEST_REDIS_URL is not set: run `make test` to test with Redis")
    from redis import Redis

    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield REDIS_URL
    conn.flushdb()
    conn.close()


FactoryOf = Callable[..., object]


# -- a real SMTP server (aiosmtpd) on loopback ------------------------------------------------------------------


@dataclass
class SmtpServer:
    port: int
    messages: list[Any]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 with a free port; received messages are parsed with the stdlib email parser."""
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
            received.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, received)
    finally:
        controller.stop()
