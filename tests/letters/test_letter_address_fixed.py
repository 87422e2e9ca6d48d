"""A letter keeps the address it was made with (issue 10 item 2): a later change in the shared creditor directory,
even one an administrator approved, reaches only new letters. Rendered PDFs and e-mail through a real SMTP server
(aiosmtpd on loopback), on both database backends; the migration's fill on an SQLite file."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from integrations.letters import jobs
from integrations.queue import InProcessQueue
from schulden.actors import UserActor
from schulden.cases.models import Detainee
from schulden.cli import alembic_config, upgrade_database
from schulden.creditors.models import Creditor
from schulden.creditors.services import approve_proposal, get_creditor, propose_change, update_creditor
from schulden.db import Database
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter
from schulden.processes import build_engine
from schulden.roles import Role
from tests.conftest import NOW, SmtpServer, actor, make_settings
from tests.factories import make_case, make_creditor, make_debt
from workflows.store import utcnow

COUNSELLOR = actor("counsellor", "user:cns")
ADMIN = UserActor(user_id=1, role=Role.ADMIN)
PI_STAFF_ELSEWHERE = UserActor(user_id=2, role=Role.PI_STAFF)
OLD = "incasso@oud.example"
NEW = "post@nieuw.example"


@pytest.fixture
def env(committed_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A runtime on the test database with the in-process queue and a file store; no SMTP server yet."""
    settings = make_settings(committed_url, letter_store=tmp_path / "store")
    engine = build_engine(settings)
    database = Database()
    database.configure(committed_url)
    rt = build_runtime(settings, database=database, engine=engine)
    runtime_module.configure(rt)
    yield {"rt": rt, "factory": database.sessionmaker, "engine": engine}
    if database.engine is not None:
        database.engine.dispose()
    runtime_module._current = None


def _with_smtp(env: dict[str, Any], smtp: SmtpServer) -> None:
    rt = env["rt"]
    runtime_module.configure(
        build_runtime(
            settings=rt.settings.with_changes(smtp_host="127.0.0.1", smtp_port=smtp.port),
            database=rt.database,
            engine=rt.engine,
            queue=rt.queue,
            store=rt.store,
        )
    )


def _new_debt_with_letters(env: dict[str, Any], creditor_id: int | None = None, **creditor: Any) -> tuple[int, int]:
    """A case with one debt and its first letters asked for (committed): (creditor id, debt id)."""
    factory, engine = env["factory"], env["engine"]
    with factory() as s:
        case = make_case(s, engine)
        s.get_one(Detainee, case.detainee_id).bsn = "111222333"
        found = s.get_one(Creditor, creditor_id) if creditor_id else make_creditor(s, **creditor)
        debt = make_debt(s, engine, case, creditor=found)
        fire_debt_event(s, engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
        s.commit()
        return found.id, debt.id


def _letters(env: dict[str, Any], debt_id: int) -> list[Letter]:
    with env["factory"]() as s:
        return list(s.scalars(select(Letter).where(Letter.debt_id == debt_id).order_by(Letter.id)))


def _pdf_text(env: dict[str, Any], letter: Letter) -> str:
    data = env["rt"].store.get(letter.storage_key)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _approved_change(env: dict[str, Any], creditor_id: int, changes: dict[str, Any]) -> None:
    """Someone proposes, an administrator approves: the directory now says `changes`."""
    with env["factory"]() as s:
        creditor = get_creditor(s, creditor_id)
        proposal = propose_change(s, creditor, actor=PI_STAFF_ELSEWHERE, data=changes)
        approve_proposal(s, proposal, actor=ADMIN)
        s.commit()
        assert {field: getattr(creditor, field) for field in changes} == changes


def _sweep_later() -> dict[str, int]:
    return jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER * 2)


def test_a_letter_made_before_a_change_is_rendered_and_mailed_to_the_old_address(
    env: dict[str, Any], smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_smtp(env, smtp_server)
    # The jobs get lost (Redis restarted, say): the letters are made, but rendered only when the sweeper runs.
    monkeypatch.setattr(InProcessQueue, "enqueue", lambda *a, **k: None)
    creditor_id, debt_id = _new_debt_with_letters(env, takes_email=True, email=OLD)
    assert {lt.status for lt in _letters(env, debt_id)} == {"queued"}
    monkeypatch.undo()

    _approved_change(env, creditor_id, {"email": NEW, "address_line": "Postbus 666", "city": "Elders"})
    _sweep_later()

    letters = _letters(env, debt_id)
    assert {(lt.status, lt.recipient_email) for lt in letters} == {("sent", OLD)}
    assert [str(m["To"]) for m in smtp_server.messages] == [OLD]
    for letter in letters:
        page = _pdf_text(env, letter)
        assert "Postbus 100" in page
        assert "AMSTERDAM" in page
        assert "Postbus 666" not in page
        assert "ELDERS" not in page

    # A letter made after the change goes to the new address.
    _creditor_id, new_debt_id = _new_debt_with_letters(env, creditor_id=creditor_id)
    assert [str(m["To"]) for m in smtp_server.messages[1:]] == [NEW]
    assert "Postbus 666" in _pdf_text(env, _letters(env, new_debt_id)[0])


def test_an_email_retried_after_a_change_keeps_its_address(env: dict[str, Any], smtp_server: SmtpServer) -> None:
    """The review's path: the letter is rendered, its e-mail waits (here: no mail server configured yet), the
    directory changes, and the next tick sends the e-mail."""
    creditor_id, debt_id = _new_debt_with_letters(env, takes_email=True, email=OLD)
    assert {(lt.status, bool(lt.last_error)) for lt in _letters(env, debt_id)} == {("rendered", True)}

    with env["factory"]() as s:
        # An administrator's direct change this time (no proposal): still only new letters.
        update_creditor(s, get_creditor(s, creditor_id, for_update=True), actor=ADMIN, data={"email": NEW})
        s.commit()
    _with_smtp(env, smtp_server)
    assert _sweep_later()["email"] == 1

    assert [str(m["To"]) for m in smtp_server.messages] == [OLD]
    assert {lt.status for lt in _letters(env, debt_id)} == {"sent"}


def test_a_bsn_basis_granted_after_the_letter_was_made_does_not_reach_it(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(InProcessQueue, "enqueue", lambda *a, **k: None)
    creditor_id, debt_id = _new_debt_with_letters(env, name="Gemeentelijke Belastingen")
    monkeypatch.undo()
    with env["factory"]() as s:
        update_creditor(s, get_creditor(s, creditor_id, for_update=True), actor=ADMIN, data={"may_receive_bsn": True})
        s.commit()

    _sweep_later()

    letters = _letters(env, debt_id)
    assert {lt.status for lt in letters} == {"rendered"}
    for letter in letters:
        assert not re.search(r"111\D?222\D?333", _pdf_text(env, letter))


def test_the_migration_fixes_the_address_of_existing_letters(tmp_path: Path) -> None:
    """Letters made before migration 0007 get the creditor's address as the directory holds it then."""
    url = f"sqlite:///{tmp_path / 'letters.db'}"
    upgrade_database(url)
    settings = make_settings(url, letter_store=tmp_path / "store")
    engine = build_engine(settings)
    database = Database()
    database.configure(url)
    factory: sessionmaker[Session] = database.sessionmaker  # type: ignore[assignment]
    try:
        with factory() as s:
            case = make_case(s, engine)
            creditor = make_creditor(s, takes_email=True, email=OLD)
            debt = make_debt(s, engine, case, creditor=creditor)
            fire_debt_event(s, engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
            s.commit()
            creditor_id = creditor.id
        assert database.engine is not None
        database.engine.dispose()
        command.downgrade(alembic_config(url), "0006")  # type: ignore[arg-type]
        with database.engine.begin() as conn:
            conn.execute(
                text("UPDATE creditor SET email = :e, city = 'Elders' WHERE id = :i"), {"e": NEW, "i": creditor_id}
            )
        database.engine.dispose()

        upgrade_database(url)

        with database.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT recipient_name, recipient_city, recipient_email, recipient_may_receive_bsn FROM letter")
            ).all()
        assert [tuple(row) for row in rows] == [("Schuldeiser B.V.", "Elders", NEW, False)]  # the first contact: L1
    finally:
        if database.engine is not None:
            database.engine.dispose()


def test_the_database_refuses_a_creditor_letter_without_its_address(env: dict[str, Any]) -> None:
    """Bypassing the service (scenario 37): a letter to a creditor cannot be stored without the address copy."""
    _creditor_id, debt_id = _new_debt_with_letters(env)
    with env["factory"]() as s:
        letter = s.scalars(select(Letter).where(Letter.debt_id == debt_id)).first()
        assert letter is not None
        letter.recipient_name = None
        with pytest.raises(IntegrityError):
            s.flush()
