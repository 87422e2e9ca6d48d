"""A read's audit row commits without waiting for the disk; every other write still waits (issue 16).

The transaction is told apart by the statements its connection sends: INSERT INTO audit_entry and nothing else
written means `SET LOCAL synchronous_commit TO OFF` before the commit (schulden/db.py). PostgreSQL only: SQLite has
no such setting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from schulden import audit
from schulden.creditors.models import Creditor
from schulden.db import make_engine
from tests.conftest import NOW, DatabaseUnderTest, actor
from tests.factories import make_creditor
from tests.ticket_process import AGENT, ticket_engine
from workflows import WorkflowInstance

READER = actor("pi_staff", "user:pi")
ASYNC = "SET LOCAL synchronous_commit TO OFF"


@pytest.fixture
def engine(pg_database: DatabaseUnderTest, committed: sessionmaker[Session], committed_url: str) -> Iterator[Engine]:
    """An engine as the app builds it (with timeouts), on the committed test database."""
    built = make_engine(committed_url, connect_timeout=5, statement_timeout=30, pool_timeout=5)
    yield built
    built.dispose()


@pytest.fixture
def sent(engine: Engine) -> list[str]:
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _log(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    return statements


def _read(session: Session) -> None:
    audit.record(session, actor=READER, action="case.read", object_type="case", object_id=1, case_id=None)


def test_a_read_and_its_audit_row_commit_without_waiting(engine: Engine, sent: list[str]) -> None:
    with Session(engine) as session:
        session.execute(select(text("1")))
        _read(session)
        session.commit()

    assert sent[-1] == ASYNC
    with engine.connect() as conn:  # the row is there, as with any commit
        assert conn.scalar(text("SELECT count(*) FROM audit_entry WHERE action = 'case.read'")) == 1


@pytest.mark.parametrize("write", ["orm", "core"])
def test_any_other_write_keeps_the_durable_commit(engine: Engine, sent: list[str], write: str) -> None:
    with Session(engine) as session:
        _read(session)
        if write == "orm":
            make_creditor(session)
        else:
            session.execute(text("UPDATE organisation SET name = name WHERE id = -1"))
        session.commit()

    assert ASYNC not in sent


def test_a_fire_written_in_one_statement_keeps_the_durable_commit(engine: Engine, sent: list[str]) -> None:
    """The engine writes a fire without effects as one `WITH ... UPDATE ... INSERT` statement: still a write."""
    process = ticket_engine()
    with Session(engine) as session:
        instance_id = process.start(session, "ticket", actor=AGENT, now=NOW).id
        session.commit()
    sent.clear()
    with Session(engine) as session:
        process.fire(session, session.get_one(WorkflowInstance, instance_id), "begin", actor=AGENT, now=NOW)
        _read(session)
        session.commit()

    assert any(statement.lstrip().startswith("WITH") for statement in sent)
    assert ASYNC not in sent


def test_a_query_with_a_cte_is_no_write(engine: Engine, sent: list[str]) -> None:
    with Session(engine) as session:
        session.execute(text("WITH x AS (SELECT 1 AS one) SELECT one FROM x"))
        _read(session)
        session.commit()

    assert sent[-1] == ASYNC


def test_a_transaction_without_writes_changes_nothing_and_the_next_starts_afresh(
    engine: Engine, sent: list[str]
) -> None:
    with Session(engine) as session:
        session.scalars(select(Creditor)).all()
        session.commit()
        _read(session)
        make_creditor(session)
        session.rollback()  # the marks of a transaction rolled back do not carry over
        _read(session)
        session.commit()

    assert sent.count(ASYNC) == 1
