"""The production PDF store (issue 14): files as rows, reached by every machine without a shared folder.

A letter's PDF is written in the transaction that records it as rendered, so a file without its letter cannot be
left behind; a print batch with a PDF missing names the letter and goes on (it answered 500 before)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from integrations.letters import jobs
from integrations.letters.batch import MISSING, create_print_batch
from integrations.letters.storage import DatabaseStore, FileStore
from integrations.queue import InProcessQueue
from integrations.runtime import Runtime
from schulden.cases.models import Case
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter, LetterStatus
from schulden.settings import ConfigurationError, Settings
from schulden.stored_files import StoredFile
from tests.conftest import NOW, actor, make_settings
from tests.factories import make_case, make_debt

COUNSELLOR = actor("counsellor", "user:cns")


@pytest.fixture
def rt(pg_database: Any, committed: sessionmaker[Session], committed_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose PDFs go to the database (PostgreSQL: the store refuses SQLite); the folder it would
    otherwise use must stay empty."""
    settings = make_settings(committed_url, letter_store=tmp_path / "store")
    settings = Settings(**{**settings.__dict__, "file_store": "database"})
    runtime = build_runtime(settings)
    runtime_module.configure(runtime)
    yield runtime
    runtime_module._current = None
    if runtime.database.engine is not None:
        runtime.database.engine.dispose()


def _letters_of_new_case(rt: Runtime, monkeypatch: pytest.MonkeyPatch | None = None, debts: int = 2) -> list[int]:
    """A case whose first letters are asked for and committed; rendered at once unless `monkeypatch` holds the
    in-process queue back."""
    with pytest.MonkeyPatch.context() as patch:
        if monkeypatch is not None:
            patch.setattr(InProcessQueue, "enqueue", lambda *args, **kwargs: True)
        with rt.database.session() as s:
            case = make_case(s, rt.engine)
            for _ in range(debts):
                fire_debt_event(s, rt.engine, make_debt(s, rt.engine, case), "send_letters", actor=COUNSELLOR, now=NOW)
            s.commit()
            return list(s.scalars(select(Letter.id).where(Letter.case_id == case.id).order_by(Letter.id)))


def _rows(rt: Runtime) -> dict[str, Any]:
    with rt.database.session() as s:
        return {row.key: row for row in s.scalars(select(StoredFile))}


def test_the_runtime_of_production_keeps_pdfs_in_the_database() -> None:
    base = {"SCHULDROUTE_ENV": "production", "DATABASE_URL": "postgresql+psycopg://db/x", "REDIS_URL": "redis://q",
            "SECRET_KEY": "Zq8-vN3pL0sK7wX2yR5tB9mC4hJ6gF1d"}  # fmt: skip
    assert Settings.from_env(base).file_store == "database"
    assert Settings.from_env(base | {"FILE_STORE": "folder"}).file_store == "folder"
    assert Settings.from_env({"SCHULDROUTE_ENV": "development"}).file_store == "folder"
    with pytest.raises(ConfigurationError, match="FILE_STORE=database needs PostgreSQL"):
        Settings.from_env({"SCHULDROUTE_ENV": "development", "FILE_STORE": "database"})


def test_the_store_keeps_reads_lists_and_removes_files_by_key(rt: Runtime) -> None:
    store = rt.store
    assert isinstance(store, DatabaseStore)
    sha = store.put("drafts/abc.json", b"first")
    assert store.put("drafts/abc.json", b"second") != sha, "a draft is written again under its key"
    store.put("drafts/sub/x.pdf", b"%PDF")

    assert store.get("drafts/abc.json") == b"second"
    assert [key for key, _ in store.entries("drafts")] == ["drafts/abc.json"], "only the folder itself"
    assert store.keys("drafts/") == ["drafts/abc.json", "drafts/sub/x.pdf"]
    store.delete("drafts/abc.json")
    with pytest.raises(FileNotFoundError):
        store.get("drafts/abc.json")
    assert rt.probe.store_writable()


def test_letters_are_rendered_into_the_database_with_their_record(rt: Runtime, tmp_path: Path) -> None:
    ids = _letters_of_new_case(rt)

    rows = _rows(rt)
    with rt.database.session() as s:
        letters = [s.get_one(Letter, i) for i in ids]
        assert {lt.status for lt in letters} == {LetterStatus.RENDERED.value}
        for letter in letters:
            row = rows[letter.storage_key or ""]
            assert (row.sha256, row.size_bytes) == (letter.sha256, letter.size_bytes)
            assert rt.store.get(row.key).startswith(b"%PDF")
    assert len(rows) == len(ids), "one file per letter"
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.pdf")), "nothing on disk"


def test_a_record_that_rolls_back_takes_its_pdf_with_it(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _letters_of_new_case(rt, monkeypatch, debts=1)
    # The audit row is the last statement of the record's transaction: make it fail after the PDF was written.
    monkeypatch.setattr(jobs, "_AUDIT", insert(StoredFile).values(key="x"))

    with pytest.raises(Exception):  # noqa: B017,PT011 - whatever the database says about the broken row
        jobs.render_letters(ids)

    assert _rows(rt) == {}, "no PDF without its letter"
    with rt.database.session() as s:
        assert s.get_one(Letter, ids[0]).status == LetterStatus.QUEUED.value
    monkeypatch.undo()
    assert jobs.render_letter(ids[0]).startswith("letters/")
    assert len(_rows(rt)) == 1


@pytest.mark.parametrize("store_kind", ["database", "folder"])
def test_a_print_batch_with_a_missing_pdf_names_the_letter_and_makes_it_again(
    committed: sessionmaker[Session], committed_url: str, tmp_path: Path, store_kind: str
) -> None:
    settings = make_settings(committed_url, letter_store=tmp_path / "store")
    if store_kind == "database" and settings.database_url.startswith("sqlite"):
        store_kind = "folder"  # the database store is PostgreSQL's (Settings refuses it on SQLite)
    rt = build_runtime(Settings(**{**settings.__dict__, "file_store": store_kind}))
    runtime_module.configure(rt)
    try:
        ids = _letters_of_new_case(rt)
        with rt.database.session() as s:
            gone, kept = (s.get_one(Letter, i) for i in ids)
            rt.store.delete(gone.storage_key or "")
            pi_id = s.get_one(Case, gone.case_id).pi_id

            batch = create_print_batch(s, rt.engine, rt.store, pi_id=pi_id, actor=COUNSELLOR, today=date(2026, 3, 2),
                                       now=NOW)  # fmt: skip
            s.commit()
            assert (batch.letter_count, batch.left_out) == (1, [gone.id])
            cover = PdfReader(io.BytesIO(rt.store.get(batch.storage_key))).pages[0].extract_text()
            assert "de PDF ontbrak" in cover
            assert f"brief {gone.id}" in cover
            s.refresh(gone)
            s.refresh(kept)
            assert (kept.status, kept.print_batch_id) == (LetterStatus.SENT.value, batch.id)
            # Made again after the commit (the in-process queue runs the job at once), for a later batch.
            assert (gone.status, gone.print_batch_id, gone.last_error) == (LetterStatus.RENDERED.value, None, None)
            assert rt.store.get(gone.storage_key or "").startswith(b"%PDF")
            assert MISSING.startswith("De PDF ontbrak")
    finally:
        runtime_module._current = None
        if rt.database.engine is not None:
            rt.database.engine.dispose()


def test_the_database_store_is_emptied_between_tests(rt: Runtime) -> None:
    with rt.database.session() as s:
        s.execute(delete(StoredFile))
        s.commit()
        assert s.scalar(select(func.count()).select_from(StoredFile)) == 0
    assert isinstance(FileStore(Path("/nonexistent")).describe("a/b"), str)
