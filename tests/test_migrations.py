"""The schema comes only from migrations: they must equal the models, and go down and up again cleanly."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import schulden.models  # noqa: F401 - every table on the metadata
from schulden.cli import alembic_config, upgrade_database
from schulden.db import Base, make_engine
from tests.conftest import DatabaseUnderTest


def test_migrations_match_the_models(database: DatabaseUnderTest) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)

    assert diff == [], "models and migrations differ; add a migration (alembic revision --autogenerate)"


def test_downgrade_to_nothing_and_upgrade_again(database: DatabaseUnderTest, tmp_path: Path) -> None:
    if database.backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    else:
        url = database.url.rsplit("/", 1)[0] + f"/schulden_roundtrip_{os.getpid()}"
        from sqlalchemy import create_engine, text

        admin = create_engine(database.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "schulden_roundtrip_{os.getpid()}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "schulden_roundtrip_{os.getpid()}"'))
        admin.dispose()
    upgrade_database(url)
    command.downgrade(alembic_config(url), "base")  # type: ignore[arg-type]
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()

    upgrade_database(url)
    engine = make_engine(url)
    assert {"wf_instance", "wf_history", "wf_timer", "debt_case", "debt"} <= set(inspect(engine).get_table_names())
    engine.dispose()
