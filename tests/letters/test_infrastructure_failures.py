"""A store, database or Redis that fails a render job is not the letter's fault (issue 14): the letter goes back
to `queued` with its attempt given back, as often as it takes, and is made once the infrastructure is back.

The store's failure is the operating system's own error (ENOSPC, EROFS) raised where the store writes; the drills
(tests/drills) fill a real tmpfs."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from integrations.letters import jobs
from integrations.letters.storage import FileStore
from integrations.queue import InProcessQueue
from integrations.runtime import Runtime
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter, LetterStatus
from tests.conftest import NOW, actor, make_settings
from tests.factories import make_case, make_debt

COUNSELLOR = actor("counsellor", "user:cns")


@pytest.fixture
def rt(committed: sessionmaker[Session], committed_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(committed_url, letter_store=tmp_path / "store"))
    runtime_module.configure(runtime)
    yield runtime
    runtime_module._current = None
    if runtime.database.engine is not None:
        runtime.database.engine.dispose()


def _queued(rt: Runtime, monkeypatch: pytest.MonkeyPatch, debts: int = 2) -> list[int]:
    with monkeypatch.context() as patch:
        patch.setattr(InProcessQueue, "enqueue", lambda *args, **kwargs: True)
        with rt.database.session() as s:
            case = make_case(s, rt.engine)
            for _ in range(debts):
                fire_debt_event(s, rt.engine, make_debt(s, rt.engine, case), "send_letters", actor=COUNSELLOR, now=NOW)
            s.commit()
            return list(s.scalars(select(Letter.id).where(Letter.case_id == case.id).order_by(Letter.id)))


def _letters(rt: Runtime, ids: list[int]) -> list[Letter]:
    with rt.database.session() as s:
        found = [s.get_one(Letter, i) for i in ids]
        s.expunge_all()
        return found


def _full(self: FileStore, key: str, data: bytes) -> str:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_store_never_spends_an_attempt_and_the_letters_are_made_when_space_returns(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _queued(rt, monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(FileStore, "put", _full)
        for _ in range(jobs.MAX_ATTEMPTS + 2):  # more tries than a letter has attempts
            with pytest.raises(jobs.InfrastructureDown):  # RQ retries the job, then the sweeper does
                jobs.render_letters(ids)
            letters = _letters(rt, ids)
            assert {lt.status for lt in letters} == {LetterStatus.QUEUED.value}
            assert {lt.attempts for lt in letters} == {0}
            assert all((lt.last_error or "").startswith("OSError") for lt in letters), "the reason, for /status"
            assert all(lt.reply_code_lookup is None for lt in letters)

    outcomes = jobs.render_letters(ids)

    letters = _letters(rt, ids)
    assert {lt.status for lt in letters} == {LetterStatus.RENDERED.value}
    assert [outcomes[i] for i in ids] == [lt.storage_key for lt in letters]
    assert {lt.attempts for lt in letters} == {1}


def test_a_database_that_drops_out_while_recording_gives_the_attempt_back(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _queued(rt, monkeypatch, debts=1)

    def dropped(*args: object, **kwargs: object) -> set[int]:
        raise OperationalError("UPDATE letter ...", {}, Exception("server closed the connection unexpectedly"))

    with monkeypatch.context() as patch:
        patch.setattr(jobs, "_record", dropped)
        with pytest.raises(OperationalError):  # raised for RQ to retry the job
            jobs.render_letters(ids)
    [letter] = _letters(rt, ids)
    assert (letter.status, letter.attempts) == (LetterStatus.QUEUED.value, 0)
    assert (letter.last_error or "").startswith("OperationalError")
    assert not list((Path(rt.settings.letter_store_path) / f"letters/{letter.case_id}").glob("*.pdf")), (
        "the unrecorded PDF is removed"
    )

    assert jobs.render_letter(letter.id).endswith(".pdf")


def test_an_error_of_the_letter_itself_still_counts(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _queued(rt, monkeypatch, debts=1)

    def broken(content: object) -> bytes:
        raise ValueError("a field the template cannot place")

    from integrations.letters import render

    with monkeypatch.context() as patch:
        patch.setattr(render, "render_pdf", broken)
        for _ in range(jobs.MAX_ATTEMPTS):
            with contextlib.suppress(ValueError):  # raised for RQ to retry while attempts are left
                jobs.render_letters(ids)
    [letter] = _letters(rt, ids)
    assert (letter.status, letter.attempts) == (LetterStatus.FAILED.value, jobs.MAX_ATTEMPTS)


def test_recording_the_outcome_waits_for_a_database_that_comes_back(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _queued(rt, monkeypatch, debts=1)
    write = jobs._write_failure
    calls: list[int] = []

    def flaky(*args: object, **kwargs: object) -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("SELECT letter ...", {}, Exception("the database system is starting up"))
        return write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs, "_write_failure", flaky)
    monkeypatch.setattr(jobs.time, "sleep", lambda seconds: None)
    with monkeypatch.context() as patch:
        patch.setattr(FileStore, "put", _full)
        with pytest.raises(jobs.InfrastructureDown):
            jobs.render_letters(ids)

    [letter] = _letters(rt, ids)
    assert len(calls) == 3
    assert (letter.status, letter.attempts) == (LetterStatus.QUEUED.value, 0)
