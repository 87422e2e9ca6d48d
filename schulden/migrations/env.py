"""Alembic environment: the URL comes from the caller (CLI, tests) or from the settings' environment."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import schulden.models  # noqa: F401 - registers every table on the metadata
from schulden.db import Base, make_engine
from schulden.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    # `alembic upgrade` by hand (README) is maintenance, like `schuldroute db upgrade`: no SCHULDROUTE_ENV needed.
    return str(url) if url else Settings.from_env(allow_unnamed_development=True).database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            _run_sqlite(conn)
        else:
            _run(conn)
    engine.dispose()


def _run_sqlite(connection: Connection) -> None:
    """SQLite's own procedure for schema changes (sqlite.org/lang_altertable.html): batch mode rebuilds a table by
    copy, drop and rename, and with foreign keys on, dropping a table that rows of another refer to fails. So the
    check is off during the migration (the pragma only works outside a transaction) and the whole database is
    checked before the connection is given back: a migration that broke a reference still fails."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        _run(connection)
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left {len(broken)} broken references, first: {broken[0]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most constraints; batch mode rebuilds the table instead.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
