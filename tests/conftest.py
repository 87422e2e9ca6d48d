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
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from schulden.app import create_app
from schulden.cli import upgrade_database
from schulden.db import make_engine
from schulden.processes import build_engine
from schulden.settings import Settings
from workflows import Engine as WorkflowEngine

if TYPE_CHECKING:
    from tests.demo_world import DemoWorld

PG_URL = os.environ.get("SCHULDEN_TEST_DATABASE_URL")
#: pytest-xdist's worker name (gw0, gw1, ...); empty when pytest runs in one process.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _redis_url_of_this_worker(url: str | None) -> str | None:
    """Worker gwN uses Redis database N+1: the `redis_url` fixture empties its database, never another worker's."""
    if not url or not WORKER.startswith("gw"):
        return url
    return urlsplit(url)._replace(path=f"/{int(WORKER[2:]) + 1}").geturl()


REDIS_URL = _redis_url_of_this_worker(os.environ.get("SCHULDEN_TEST_REDIS_URL"))
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


# -- threads: none outlives its test -------------------------------------------------------------------------------

#: Threads that run app code: a ticker, a live server, a server's request handler. The app's database object is one
#: per process (schulden/extensions.py) and the next test binds it to its own rolled-back connection; such a thread
#: left running would use that connection beside the test (CI once lost a seed's savepoints to a forgotten ticker).
_APP_THREADS = ("ticker", "server", "process_request_thread")


@pytest.fixture(autouse=True)
def _no_app_thread_outlives_its_test() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and any(n in t.name for n in _APP_THREADS)]
    for thread in left:
        thread.join(timeout=5)  # a request handler finishing its last answer
    alive = [t.name for t in left if t.is_alive()]
    if alive:
        pytest.fail(f"threads left running after the test: {alive}; stop them before it ends", pytrace=False)


# -- password hashes: scrypt once per distinct password and salt per run ---------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def _hash_each_password_once() -> Iterator[None]:
    """scrypt costs ~90 ms by design; the worlds create dozens of accounts per test and every login checks one.

    `hash_password` gives the same hash for the same password within a run (a fresh salt per password, not per
    account), and scrypt itself remembers its answers, so checking a password it has seen is free. Both are pure
    functions of their arguments, so no test can tell; the stored format and the checks are the application's own.
    """
    import hashlib
    import importlib
    import pkgutil

    import schulden

    real_scrypt = hashlib.scrypt
    digests: dict[tuple[object, ...], bytes] = {}

    def scrypt(password: bytes, *args: Any, **kwargs: Any) -> bytes:
        key = (bytes(password), args, tuple(sorted(kwargs.items())))
        if key not in digests:
            digests[key] = real_scrypt(password, *args, **kwargs)
        return digests[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(hashlib, "scrypt", scrypt)
    # Every module that holds `hash_password` (imported by name) gets the remembering one.
    for info in pkgutil.walk_packages(schulden.__path__, "schulden."):
        with suppress(Exception):  # a module that cannot be imported fails its own tests, not every test
            importlib.import_module(info.name)
    from schulden.users import services

    real_hash = services.hash_password
    hashes: dict[str, str] = {}

    def hash_password(password: str) -> str:
        if password not in hashes:
            hashes[password] = real_hash(password)
        return hashes[password]

    for module in list(sys.modules.values()):
        if getattr(module, "hash_password", None) is real_hash:
            patch.setattr(module, "hash_password", hash_password)
    yield
    patch.undo()


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
    # One database per test process, so parallel runs against one server never empty each other's tables.
    name = f"schulden_test_{os.getpid()}"
    url = _new_pg_database(name)
    engine = make_engine(url)
    yield DatabaseUnderTest(backend, url, engine, None)
    engine.dispose()
    _on_pg_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _on_pg_server(*statements: str) -> None:
    """Run statements outside any database's transaction on the test PostgreSQL server (CREATE and DROP DATABASE)."""
    assert PG_URL is not None
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


def _new_pg_database(name: str) -> str:
    """The URL of a new, migrated database `name` on the test server (one a killed run left behind is replaced)."""
    assert PG_URL is not None
    _on_pg_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    return url


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
        # The database PDF store refuses SQLite (schulden/settings.py): its variant of a `file_store` test goes too.
        pg_only = "pg_database" in getattr(item, "fixturenames", ()) or (
            callspec is not None and callspec.params.get("file_store") == "database"
        )
        (drop if on_sqlite and pg_only else keep).append(item)
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
    # The production PDF store: no foreign key either (its keys name letters, it does not reference them).
    "stored_file",
)


@pytest.fixture
def committed(
    request: pytest.FixtureRequest, database: DatabaseUnderTest, tmp_path: Path
) -> Iterator[sessionmaker[Session]]:
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


@dataclass
class _BuiltApp:
    """An app built once per backend, and what create_app pointed the process-wide objects at when it was built."""

    app: Flask
    sessionmaker: object
    runtime: object


@pytest.fixture(scope="session")
def _app_of_backend(database: DatabaseUnderTest) -> dict[str, _BuiltApp]:
    """The app of each backend, built on first use and again only when a test built another app since."""
    return {}


def _current_app_of(database: DatabaseUnderTest, built: dict[str, _BuiltApp]) -> Flask:
    from integrations import runtime as runtime_module
    from schulden.extensions import database as app_database

    known = built.get(database.backend)
    # create_app points module-level objects (the database, the runtime) at its app: a test that built its own app
    # since, or reset the runtime, leaves them pointing elsewhere; then the backend's app is built again.
    if (
        known is None
        or app_database.sessionmaker is not known.sessionmaker
        or getattr(runtime_module, "_current", None) is not known.runtime
    ):
        application = create_app(make_settings(database.url))
        application.config["TESTING"] = True
        known = built[database.backend] = _BuiltApp(
            application, app_database.sessionmaker, getattr(runtime_module, "_current", None)
        )
    return known.app


@dataclass
class SeededDemo:
    """A database of its own with the demo seeded and committed once, for the fast `demo_world` tests: each test
    works in a transaction on it that is rolled back, as on the empty database (seeding took ~0.7 s a test)."""

    engine: Engine
    today: date


@pytest.fixture(scope="session")
def _seeded_demos(database: DatabaseUnderTest) -> Iterator[list[SeededDemo]]:
    """The backend's seeded demo database, made on first use (`_seeded_demo`); dropped at the end of the run."""
    made: list[SeededDemo] = []
    yield made
    for seeded in made:
        seeded.engine.dispose()
    if database.backend == "postgresql" and made:
        _on_pg_server(f'DROP DATABASE IF EXISTS "{_demo_name(database)}" WITH (FORCE)')


def _demo_name(database: DatabaseUnderTest) -> str:
    return f"{make_url(database.url).database}_demo"


def _seeded_demo(database: DatabaseUnderTest, made: list[SeededDemo], app: Flask) -> SeededDemo:
    """The seeded demo of today (seeded again when the run crosses midnight: the demo's dates follow its day)."""
    from schulden.demo import seed_demo
    from schulden.http.ports import runtime as runtime_of

    rt = runtime_of(app)
    today = rt.engine.clock().astimezone(rt.engine.timezone).date()
    if made and made[-1].today == today:
        return made[-1]
    for old in made:
        old.engine.dispose()
    made.clear()
    if database.backend == "sqlite":
        assert database.template is not None
        path = database.template.with_name("demo.db")
        shutil.copy(database.template, path)
        url = f"sqlite:///{path}"
    else:
        url = _new_pg_database(_demo_name(database))
    engine = make_engine(url)
    # A plain session: like `db`'s, it starts no job after its commit (the fast demo's letters stay queued).
    with sessionmaker(engine, expire_on_commit=False)() as session:
        seed_demo(session, rt.engine, today=today)
        session.commit()
    made.append(SeededDemo(engine, today))
    return made[-1]


@pytest.fixture
def app_connection(
    request: pytest.FixtureRequest, database: DatabaseUnderTest, _app_of_backend: dict[str, _BuiltApp]
) -> Iterator[tuple[Flask, Connection | None]]:
    """The backend's app (built once) with every session of it joined to one connection, in a transaction that is
    rolled back after the test. A test of the fast `demo_world` gets a connection to the seeded demo database."""
    from schulden.extensions import database as app_database

    if "committed" in request.fixturenames:
        # A test that reads and writes with `committed` sees real commits only: it gets an app of its own on that
        # database, as before (holding a connection here would also block the cleanup of `committed`).
        yield request.getfixturevalue("committed_app"), None
        return
    application = _current_app_of(database, _app_of_backend)
    assert app_database.engine is not None
    engine = app_database.engine
    if "demo_world" in request.fixturenames:
        engine = _seeded_demo(database, request.getfixturevalue("_seeded_demos"), application).engine
    with engine.connect() as conn:
        outer = conn.begin()
        app_database.bind(conn)
        try:
            yield application, conn
        finally:
            app_database.unbind()
            outer.rollback()


@pytest.fixture
def app(app_connection: tuple[Flask, Connection | None]) -> Flask:
    """The backend's app, built once per run; whatever a request commits only releases a savepoint and is rolled
    back after the test. For tests in one thread whose requests start no job (a letter's PDF, a referral's
    delivery: those open connections of their own); otherwise `committed_app`."""
    return app_connection[0]


@pytest.fixture
def db(request: pytest.FixtureRequest, app_connection: tuple[Flask, Connection | None]) -> sessionmaker[Session]:
    """Sessions on the `app` test's connection: they see what the requests wrote and the requests see theirs; their
    commits are rolled back with everything else. Unlike the app's own sessions they start no job after commit,
    like `committed`'s."""
    if app_connection[1] is None:
        committed: sessionmaker[Session] = request.getfixturevalue("committed")
        return committed
    return sessionmaker(bind=app_connection[1], join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def world(db: sessionmaker[Session]) -> Any:
    """The world of security.md 2.3 (tests/api/world.py: two PIs, their teams, two municipalities, a partner, six
    cases, a user per role) in the `app` test's transaction. The pages' tests take `demo_world` (the demo seed,
    tests/demo_world.py); the figures tests keep a world of their own."""
    from tests.api.world import build_world

    return build_world(db)


@pytest.fixture
def demo_world(request: pytest.FixtureRequest, database: DatabaseUnderTest, tmp_path: Path) -> Iterator[DemoWorld]:
    """The demo (schulden.demo.seed_demo) with the helpers the page tests share (tests/demo_world.py). Fast: seeded
    with `db` in the shared app's rolled-back transaction, no jobs (letters stay queued). With `committed` asked
    for: a new app with a letter store and an SMTP server, the demo committed, its letters rendered and sent."""
    from tests.demo_world import open_demo_world

    yield from open_demo_world(request, tmp_path)


@pytest.fixture
def committed_app(database: DatabaseUnderTest, committed_url: str) -> Flask:
    """A new app on `committed`'s database with real commits: for live servers, other threads and processes."""
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
