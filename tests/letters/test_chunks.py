"""Several letters per render job: each letter still claimed, rendered and recorded once, a letter already taken is
skipped, one letter's failure leaves the others rendered, and a chunk's job id names exactly its letters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rq.job import validate_job_id
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from integrations.letters import jobs
from integrations.letters.job_ids import CHUNK, chunks, letters_of_job, render_job_id
from integrations.queue import InProcessQueue
from integrations.runtime import Runtime
from schulden.audit import AuditEntry
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter, LetterStatus
from tests.conftest import NOW, actor, make_settings
from tests.factories import make_case, make_debt
from workflows.store import utcnow

COUNSELLOR = actor("counsellor", "user:cns")


@pytest.fixture
def rt(committed: sessionmaker[Session], committed_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on the test database with the in-process queue and a file store in a temp folder."""
    runtime = build_runtime(make_settings(committed_url, letter_store=tmp_path / "store"))
    runtime_module.configure(runtime)
    yield runtime
    runtime_module._current = None
    if runtime.database.engine is not None:
        runtime.database.engine.dispose()


def _queued(rt: Runtime, monkeypatch: pytest.MonkeyPatch, debts: int) -> list[int]:
    """`debts` cases with one debt each and their first letters (L1, L2) committed, with no job run for them."""
    with monkeypatch.context() as patch:
        patch.setattr(InProcessQueue, "enqueue", lambda *args, **kwargs: True)
        with rt.database.session() as s:
            for _ in range(debts):
                case = make_case(s, rt.engine)
                debt = make_debt(s, rt.engine, case)
                fire_debt_event(s, rt.engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
            s.commit()
            ids = list(s.scalars(select(Letter.id).where(Letter.status == LetterStatus.QUEUED.value)))
    return sorted(ids)


def _rows(rt: Runtime, ids: list[int]) -> dict[int, Letter]:
    with rt.database.session() as s:
        return {lt.id: lt for lt in s.scalars(select(Letter).where(Letter.id.in_(ids)))}


def _audits(rt: Runtime, letter_id: int) -> int:
    with rt.database.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "letter.rendered", AuditEntry.object_id == str(letter_id))
            )
            or 0
        )


def test_a_chunk_job_id_names_exactly_its_letters() -> None:
    assert render_job_id([7]) == "render-letter-7"
    assert render_job_id([9, 7, 8, 12, 14, 15]) == "render-letters-7-9_12_14-15"
    for ids in ([7], [7, 8], [1, 3, 5], list(range(100, 125)), [4, 5, 6, 10, 11, 30]):
        job_id = render_job_id(ids)
        validate_job_id(job_id)  # RQ accepts it
        assert letters_of_job(job_id) == sorted(ids)
    assert render_job_id([1, 2, 3]) != render_job_id([1, 2, 4])
    assert letters_of_job("email-letter-7") == []
    assert letters_of_job("render-letters-x") == []
    assert [len(c) for c in chunks(list(range(1, 61)))] == [CHUNK, CHUNK, 60 - 2 * CHUNK]


def test_a_chunk_renders_each_letter_once_and_skips_the_ones_taken(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _queued(rt, monkeypatch, 3)
    taken, done, *free = ids
    assert jobs.render_letter(done).endswith(".pdf")
    with rt.database.session() as s:  # another job's fresh claim
        s.execute(
            update(Letter)
            .where(Letter.id == taken)
            .values(status=LetterStatus.RENDERING.value, claimed_by="other:1", claimed_at=utcnow(), attempts=1)
        )
        s.commit()

    outcomes = jobs.render_letters(ids)

    assert outcomes[taken] == outcomes[done] == "not-claimed"
    rows = _rows(rt, ids)
    assert rows[taken].status == LetterStatus.RENDERING.value
    assert rows[taken].claimed_by == "other:1"
    for letter_id in [done, *free]:
        assert rows[letter_id].status == LetterStatus.RENDERED.value
        assert rows[letter_id].attempts == 1
        assert _audits(rt, letter_id) == 1
    for letter_id in free:
        assert outcomes[letter_id] == rows[letter_id].storage_key
    lookups = [rows[i].reply_code_lookup for i in [done, *free]]
    assert len(set(lookups)) == len(lookups)
    assert sorted(rt.store.keys("letters")) == sorted(str(rows[i].storage_key) for i in [done, *free])
    # Run again: nothing left to claim, nothing rendered twice.
    assert set(jobs.render_letters(ids).values()) == {"not-claimed"}
    assert all(_audits(rt, i) == 1 for i in [done, *free])


def test_one_failing_letter_does_not_fail_the_others_of_its_chunk(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _queued(rt, monkeypatch, 2)
    broken = ids[1]
    real = jobs.compose

    def compose(session: Session, letter: Letter, **kwargs: Any) -> Any:
        if letter.id == broken:
            raise RuntimeError("printer on fire")
        return real(session, letter, **kwargs)

    monkeypatch.setattr(jobs, "compose", compose)

    with pytest.raises(RuntimeError):  # raised after the others are recorded, so that RQ retries the chunk
        jobs.render_letters(ids)

    rows = _rows(rt, ids)
    assert (rows[broken].status, rows[broken].attempts) == (LetterStatus.QUEUED.value, 1)
    assert rows[broken].last_error == "RuntimeError: printer on fire"
    assert rows[broken].reply_code_lookup is None
    others = [i for i in ids if i != broken]
    assert {rows[i].status for i in others} == {LetterStatus.RENDERED.value}

    monkeypatch.setattr(jobs, "compose", real)
    outcomes = jobs.render_letters(ids)  # RQ's retry of the same job: only the failed letter is left

    assert [i for i, outcome in outcomes.items() if outcome != "not-claimed"] == [broken]
    rows = _rows(rt, ids)
    assert {lt.status for lt in rows.values()} == {LetterStatus.RENDERED.value}
    assert rows[broken].attempts == 2
    assert len(rt.store.keys("letters")) == len(ids)
