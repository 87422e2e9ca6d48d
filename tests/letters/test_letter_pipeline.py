"""Letters from the step that asks for them to the PDF, the print batch and the e-mail: outbox rows in the same
transaction, jobs only after commit, exactly one PDF per letter, failures visible, lost jobs swept up."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from integrations.letters import jobs
from integrations.letters.batch import create_print_batch
from integrations.queue import InProcessQueue, RedisQueue
from integrations.worker import UnsubscribesPromptly
from schulden.debts.models import Debt
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter, PrintBatch
from schulden.letters.reply_codes import ReplyCodeKey
from schulden.processes import build_engine
from tests.conftest import NOW, actor, make_settings
from tests.factories import make_case, make_creditor, make_debt
from workflows import WorkflowInstance


class PromptSimpleWorker(UnsubscribesPromptly, SimpleWorker):
    """RQ's SimpleWorker, quitting without the 60 s wait of integrations/worker.py's note."""


COUNSELLOR = actor("counsellor", "user:cns")


@pytest.fixture
def letters_env(committed: sessionmaker[Session], committed_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A runtime on the test database with the in-process queue and a file store in a temp folder."""
    settings = make_settings(committed_url, letter_store=tmp_path / "store")
    engine = build_engine(settings)
    from schulden.db import Database

    database = Database()
    database.configure(committed_url)
    rt = build_runtime(settings, database=database, engine=engine)
    runtime_module.configure(rt)
    yield {"rt": rt, "factory": database.sessionmaker, "engine": engine}
    if database.engine is not None:
        database.engine.dispose()
    runtime_module._current = None


def _debt_with_letters(factory: sessionmaker[Session], engine: Any, **creditor: Any) -> int:
    """A case with one debt, and the counsellor asking for the first letters. Commits; returns the debt id."""
    with factory() as s:
        case = make_case(s, engine)
        debt = make_debt(s, engine, case, creditor=make_creditor(s, **creditor) if creditor else None)
        fire_debt_event(s, engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
        s.commit()
        return debt.id


def _letters(factory: sessionmaker[Session], debt_id: int) -> list[Letter]:
    with factory() as s:
        return list(s.scalars(select(Letter).where(Letter.debt_id == debt_id).order_by(Letter.id)))


def test_asking_for_letters_renders_them_after_commit_one_pdf_each(letters_env: dict[str, Any]) -> None:
    factory, engine, rt = letters_env["factory"], letters_env["engine"], letters_env["rt"]

    debt_id = _debt_with_letters(factory, engine)

    letters = _letters(factory, debt_id)
    # First contact is one letter: the notice of detention carries the request for a statement (issue 12).
    assert [(lt.letter_type, lt.status) for lt in letters] == [("L1", "rendered")]
    assert sorted(rt.store.keys("letters")) == sorted(lt.storage_key for lt in letters)
    for letter in letters:
        data = rt.store.get(letter.storage_key)
        assert data.startswith(b"%PDF")
        import hashlib

        assert hashlib.sha256(data).hexdigest() == letter.sha256
        assert letter.template_version
        assert letter.reply_code_lookup
        assert letter.reply_token_hash
        assert letter.reply_code_hash

    # A second run of the job changes nothing: no second PDF, the same row.
    assert jobs.render_letter(letters[0].id) == "not-claimed"
    assert len(rt.store.keys("letters")) == 1


def test_a_rolled_back_request_leaves_no_letter_and_no_job(
    committed: sessionmaker[Session], committed_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(committed_url, redis_url=redis_url, letter_store=tmp_path / "store")
    rt = build_runtime(settings)
    runtime_module.configure(rt)
    factory = rt.database.sessionmaker
    assert factory is not None
    try:
        with factory() as s:
            case = make_case(s, rt.engine)
            debt = make_debt(s, rt.engine, case)
            s.commit()
            fire_debt_event(s, rt.engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
            assert s.scalar(select(func.count()).select_from(Letter)) == 1
            s.rollback()
        connection = Redis.from_url(redis_url)
        assert Queue("letters", connection=connection).count == 0
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(Letter)) == 0
        assert rt.store.keys() == []
    finally:
        runtime_module._current = None
        if rt.database.engine is not None:
            rt.database.engine.dispose()


def test_with_redis_the_job_runs_on_a_worker_after_commit(
    committed: sessionmaker[Session], committed_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(committed_url, redis_url=redis_url, letter_store=tmp_path / "store")
    rt = build_runtime(settings)
    runtime_module.configure(rt)
    try:
        debt_id = _debt_with_letters(rt.database.sessionmaker, rt.engine)  # type: ignore[arg-type]
        queue = rt.queue
        assert isinstance(queue, RedisQueue)
        assert queue.queues["letters"].count == 1  # one job for the commit's letters
        assert {lt.status for lt in _letters(rt.database.sessionmaker, debt_id)} == {"queued"}  # type: ignore[arg-type]

        PromptSimpleWorker([queue.queues["letters"]], connection=queue.connection).work(burst=True)

        assert {lt.status for lt in _letters(rt.database.sessionmaker, debt_id)} == {"rendered"}  # type: ignore[arg-type]
    finally:
        runtime_module._current = None
        if rt.database.engine is not None:
            rt.database.engine.dispose()


def test_a_letter_that_keeps_failing_ends_failed_with_its_reason(
    letters_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    factory, engine = letters_env["factory"], letters_env["engine"]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(jobs, "compose", broken)
    debt_id = _debt_with_letters(factory, engine)  # the in-process queue tries once and logs the failure
    letter_id = _letters(factory, debt_id)[0].id
    first = next(lt for lt in _letters(factory, debt_id) if lt.id == letter_id)
    assert (first.status, first.attempts) == ("queued", 1)  # back in the queue for another try

    with pytest.raises(RuntimeError):
        jobs.render_letter(letter_id)  # attempt 2: raised, so RQ retries it
    assert jobs.render_letter(letter_id) == "failed"  # attempt 3, the last: failed, for a person to look at
    letter = next(lt for lt in _letters(factory, debt_id) if lt.id == letter_id)
    assert letter.status == "failed"
    assert letter.last_error == "RuntimeError: printer on fire"
    assert letters_env["rt"].store.keys() == []


def test_the_sweeper_re_enqueues_a_letter_whose_job_was_lost(
    letters_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    factory, engine = letters_env["factory"], letters_env["engine"]
    # Lose every job: as if Redis restarted without persistence right after the commit.
    monkeypatch.setattr(InProcessQueue, "enqueue", lambda *a, **k: None)
    debt_id = _debt_with_letters(factory, engine)
    assert {lt.status for lt in _letters(factory, debt_id)} == {"queued"}
    monkeypatch.undo()

    early = jobs.sweep_letters()
    from workflows.store import utcnow

    late = jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER * 2)

    assert early == {"render": 0, "email": 0}
    assert late["render"] == 1
    assert {lt.status for lt in _letters(factory, debt_id)} == {"rendered"}


def test_the_print_batch_merges_the_post_and_starts_the_answer_clock(letters_env: dict[str, Any]) -> None:
    factory, engine, rt = letters_env["factory"], letters_env["engine"], letters_env["rt"]
    debt_id = _debt_with_letters(factory, engine)
    with factory() as s:
        debt = s.get_one(Debt, debt_id)
        from schulden.cases.models import Case

        pi_id = s.get_one(Case, debt.case_id).pi_id
        batch = create_print_batch(s, engine, rt.store, pi_id=pi_id, actor=COUNSELLOR, today=date(2026, 3, 2), now=NOW)
        s.commit()
        batch_id, key = batch.id, batch.storage_key

    reader = PdfReader(io.BytesIO(rt.store.get(key)))
    letters = _letters(factory, debt_id)
    letter_pages = sum(len(PdfReader(io.BytesIO(rt.store.get(lt.storage_key))).pages) for lt in letters)
    assert len(reader.pages) == 1 + letter_pages  # a cover sheet with the list, then every letter
    assert "Printbatch" in reader.pages[0].extract_text()
    assert {(lt.status, lt.print_batch_id) for lt in letters} == {("sent", batch_id)}
    with factory() as s:
        debt = s.get_one(Debt, debt_id)
        instance = s.get_one(WorkflowInstance, debt.instance_id)
        assert instance.state == "notified"
        [clock] = engine.timers(s, instance)
        assert clock.deadline == date(2026, 3, 16)  # 10 working days after Monday 2 March
        assert s.scalar(select(func.count()).select_from(PrintBatch)) == 1


def test_no_bsn_in_a_letter_to_a_creditor_that_may_not_receive_it(letters_env: dict[str, Any]) -> None:
    factory, engine, rt = letters_env["factory"], letters_env["engine"], letters_env["rt"]
    with factory() as s:
        case = make_case(s, engine)
        from schulden.cases.models import Detainee

        s.get_one(Detainee, case.detainee_id).bsn = "111222333"
        landlord = make_debt(s, engine, case, creditor=make_creditor(s, name="Verhuurder BV"))
        cjib = make_debt(
            s, engine, case, creditor=make_creditor(s, name="CJIB", may_receive_bsn=True), debt_type="cjib_boete"
        )
        for debt in (landlord, cjib):
            fire_debt_event(s, engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
        s.commit()
        landlord_id, cjib_id = landlord.id, cjib.id

    def text_of(debt_id: int) -> str:
        return "".join(
            page.extract_text()
            for lt in _letters(factory, debt_id)
            for page in PdfReader(io.BytesIO(rt.store.get(lt.storage_key))).pages
        )

    assert not re.search(r"111\D?222\D?333", text_of(landlord_id))
    assert re.search(r"111\D?222\D?333", text_of(cjib_id))


def test_the_reply_code_on_the_letter_matches_its_stored_hash(letters_env: dict[str, Any]) -> None:
    factory, engine, rt = letters_env["factory"], letters_env["engine"], letters_env["rt"]
    debt_id = _debt_with_letters(factory, engine)
    letter = _letters(factory, debt_id)[0]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(rt.store.get(letter.storage_key))).pages)

    match = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b", text)

    assert match, "the typed reply code is printed on the letter"
    code = match.group(1).replace("-", "")
    assert code[:5] == letter.reply_code_lookup
    key, stored = ReplyCodeKey.derive(rt.settings.secret_key), letter.reply_code_hash or ""
    assert key.verify(code[:5], code[5:], stored)
    assert not key.verify(code[:5], "AAAAAAA", stored)
    # The hash is keyed: without SECRET_KEY a copy of the table is no use, and it is bound to its lookup.
    assert not ReplyCodeKey.derive("another-" + rt.settings.secret_key).verify(code[:5], code[5:], stored)
    assert not key.verify("AAAAA", code[5:], stored)
    assert code not in (letter.reply_code_hash or "")


def test_email_letters_reach_the_smtp_server(letters_env: dict[str, Any], smtp_server: Any) -> None:
    factory, engine, rt = letters_env["factory"], letters_env["engine"], letters_env["rt"]
    runtime_module.configure(
        build_runtime(
            settings=rt.settings.with_changes(smtp_host="127.0.0.1", smtp_port=smtp_server.port),
            database=rt.database,
            engine=rt.engine,
            queue=rt.queue,
            store=rt.store,
        )
    )

    debt_id = _debt_with_letters(factory, engine, takes_email=True, email="incasso@verhuurder.example")

    letters = _letters(factory, debt_id)
    assert {(lt.channel, lt.status) for lt in letters} == {("email", "sent")}
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "incasso@verhuurder.example"
    assert message["Message-ID"] == letters[0].email_message_id
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == rt.store.get(letters[0].storage_key)


def test_without_a_mail_server_an_email_letter_waits_with_the_reason(letters_env: dict[str, Any]) -> None:
    factory, engine = letters_env["factory"], letters_env["engine"]
    # SMTP_HOST is not set in the test settings: the e-mail waits, with the reason recorded.
    debt_id = _debt_with_letters(factory, engine, takes_email=True, email="a@b.example")
    letter = _letters(factory, debt_id)[0]
    assert letter.status == "rendered"
    assert "SMTP_HOST" in (letter.last_error or "")
