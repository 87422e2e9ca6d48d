"""Retention (issue 15): a case closed longer ago than its terms is erased with its files, leaving no trace of the
person in any table or in the store; a held case and a recently closed case survive; a second run and a dry run
change nothing. On both backends, with a folder store, and on PostgreSQL also with the database store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import JSON, String, Text, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from integrations.retention import retention_tick, run_retention
from schulden.actors import UserActor
from schulden.app import create_app
from schulden.audit import AuditEntry
from schulden.cases.models import Case, CaseNote, Detainee, HouseholdMember
from schulden.cases.services import fire_case_event
from schulden.db import Base
from schulden.demo import seed_demo
from schulden.http.ports import runtime
from schulden.ports import Runtime
from schulden.retention import CaseErasure, RetentionRun, RetentionTerms, months_before, set_legal_hold
from schulden.roles import Role
from schulden.users.models import User
from tests.conftest import DatabaseUnderTest, make_settings
from workflows import WorkflowInstance
from workflows.store import utcnow

#: The people of the demo's first three cases (schulden/demo.py): erased, held, recently closed.
ERASED = ("000009866", "Pieter", "Vries")
HELD_BSN = "000009842"  # Ayşe Demir
RECENT_BSN = "000009830"  # Jeroen IJsselstein


@dataclass
class Trial:
    app: Flask
    sessions: sessionmaker[Session]
    erased: int
    held: int
    recent: int

    @property
    def rt(self) -> Runtime:
        return runtime(self.app)


def _stores(database: DatabaseUnderTest) -> list[str]:
    return ["folder", "database"] if database.backend == "postgresql" else ["folder"]


@pytest.fixture(params=["folder", "database"])
def file_store(request: pytest.FixtureRequest) -> str:
    """Where the PDFs are; the database store's variant on SQLite is deselected (tests/conftest.py), not skipped."""
    return str(request.param)


@pytest.fixture
def trial(file_store: str, database: DatabaseUnderTest, committed_url: str, tmp_path: Path) -> Iterator[Trial]:
    """The demo, committed (letters rendered, the referral delivered), with De Vries closed three years ago, Demir
    closed three years ago under a legal hold, and IJsselstein closed today."""
    assert file_store in _stores(database)
    app = create_app(make_settings(committed_url, letter_store=tmp_path / "store", file_store=file_store))
    app.config["TESTING"] = True
    rt = runtime(app)
    try:
        with rt.database.session() as session:
            seed_demo(session, rt.engine, today=rt.engine.today())
            session.commit()  # the in-process queue renders the letters and delivers the referral
        with rt.database.session() as session:
            user = session.scalars(select(User).where(User.username == "schuldhulp.demo")).one()
            counsellor = UserActor(user.id, Role.COUNSELLOR, user.organisation_id)
            cases = {
                bsn: session.scalars(select(Case).join(Detainee).where(Detainee.bsn == bsn)).one()
                for bsn in (ERASED[0], HELD_BSN, RECENT_BSN)
            }
            erased = cases[ERASED[0]]
            session.add(CaseNote(case_id=erased.id, author_id=user.id, body="Pieter de Vries belde over de huur."))
            session.add(HouseholdMember(case_id=erased.id, relation="partner", given_names="Pieter junior"))
            for bsn, case in cases.items():
                # A reason is free text: the erased case's names its client, and goes with it.
                reason = "Pieter de Vries: afgerond" if bsn == ERASED[0] else "afgerond"
                fire_case_event(session, rt.engine, case, "close", actor=counsellor, reason=reason,
                                payload={"closure_reason": "other"})  # fmt: skip
            set_legal_hold(session, counsellor, cases[HELD_BSN].id, kind="complaint", note="Klacht", now=utcnow())
            long_ago = utcnow() - timedelta(days=3 * 365)
            for bsn in (ERASED[0], HELD_BSN):
                session.execute(
                    update(WorkflowInstance)
                    .where(WorkflowInstance.id == cases[bsn].instance_id)
                    .values(updated_at=long_ago)
                )
            ids = {bsn: c.id for bsn, c in cases.items()}
            session.commit()
        yield Trial(app, rt.database.sessionmaker, ids[ERASED[0]], ids[HELD_BSN], ids[RECENT_BSN])
    finally:
        with rt.database.session() as session:
            session.execute(RetentionRun.__table__.delete())
            session.commit()
        runtime_module._current = None


def _snapshot(sessions: sessionmaker[Session], *, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but the skipped), for "changed nothing"."""
    with sessions() as session:
        return {
            table.name: sorted((tuple(repr(v) for v in row) for row in session.execute(select(table))), key=lambda r: r)
            for table in Base.metadata.sorted_tables
            if table.name not in skip
        }


def _traces(sessions: sessionmaker[Session], needles: tuple[str, ...]) -> list[str]:
    """Where any of `needles` occurs in a text or JSON column of any table."""
    found = []
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in session.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    hit = [n for n in needles if n.lower() in str(value).lower()]
                    if value is not None and hit:
                        found.append(f"{table.name}.{column.name}: {hit}")
    return found


def _store_keys(trial: Trial, case_id: int) -> list[str]:
    store = trial.rt.store
    return [k for prefix in ("letters", "referrals", "replies") for k in store.keys(f"{prefix}/{case_id}/")]


def test_a_case_past_its_terms_is_erased_and_a_second_run_changes_nothing(trial: Trial) -> None:
    assert _store_keys(trial, trial.erased), "the demo's letters and handover file are in the store"
    assert _traces(trial.sessions, ERASED)

    # A dry run reports the case and changes nothing, in the database or the store.
    before = _snapshot(trial.sessions)
    files_before = trial.rt.store.keys()
    dry = run_retention(trial.rt, dry_run=True)
    assert trial.erased in dry.cases
    assert trial.held in dry.held
    assert _snapshot(trial.sessions) == before
    assert trial.rt.store.keys() == files_before

    report = run_retention(trial.rt)
    assert trial.erased in report.cases
    assert trial.held not in report.cases
    assert trial.recent not in report.cases
    counts = report.cases[trial.erased]
    assert counts["case"] == 1
    assert counts["notes"] == 1
    assert counts["household_members"] == 1
    assert counts["letter_files"] >= 1
    assert counts["handover_files"] == 2

    # No trace of the person in any table, nor any of his files in the store.
    assert _traces(trial.sessions, ERASED) == []
    assert _store_keys(trial, trial.erased) == []
    with trial.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == trial.erased, AuditEntry.action == "retention.erase")
        ).all()
        assert len(rows) == 1
        assert rows[0].actor_id == "system"
        assert set(rows[0].details["parts"]) == {"handover", "notes", "letters", "replies", "consents", "case"}
        assert rows[0].details["counts"]["case"] == 1
        # What the figures count survives, anonymous: the case, its debts, its history's events.
        case = session.get_one(Case, trial.erased)
        detainee = session.get_one(Detainee, case.detainee_id)
        assert (detainee.bsn, detainee.given_names, detainee.dji_number) == (None, "", None)
        history = session.execute(
            text("SELECT count(*), count(reason) FROM wf_history WHERE instance_id = :i"), {"i": case.instance_id}
        ).one()
        assert history[0] > 0
        assert history[1] == 0
        # The held case and the recently closed one are whole.
        for case_id, bsn in ((trial.held, HELD_BSN), (trial.recent, RECENT_BSN)):
            kept = session.get_one(Case, case_id)
            assert session.get_one(Detainee, kept.detainee_id).bsn == bsn
            assert session.scalar(select(func.count()).where(CaseErasure.case_id == case_id)) == 0
    assert _store_keys(trial, trial.held), "the held case keeps its files"

    # Exactly once: the second run finds nothing to do and changes nothing (but its own run log).
    after = _snapshot(trial.sessions, skip=("retention_run",))
    files_after = trial.rt.store.keys()
    again = run_retention(trial.rt)
    assert again.cases == {}
    assert _snapshot(trial.sessions, skip=("retention_run",)) == after
    assert trial.rt.store.keys() == files_after


def test_the_tick_runs_a_batch_at_most_once_an_hour(trial: Trial) -> None:
    first = retention_tick(trial.rt)
    assert first is not None
    assert trial.erased in first.cases
    assert retention_tick(trial.rt) is None  # within the hour: nothing, not even a read of the cases
    later = retention_tick(trial.rt, now=utcnow() + timedelta(hours=2))
    assert later is not None
    assert later.cases == {}


def test_a_lifted_hold_lets_the_case_go(trial: Trial) -> None:
    from schulden.retention import lift_legal_hold

    with trial.sessions() as session:
        user = session.scalars(select(User).where(User.username == "schuldhulp.demo")).one()
        lift_legal_hold(session, UserActor(user.id, Role.COUNSELLOR, user.organisation_id), trial.held,
                        reason="resolved")  # fmt: skip
        session.commit()
    report = run_retention(trial.rt)
    assert {trial.erased, trial.held} <= set(report.cases)
    assert _traces(trial.sessions, (HELD_BSN, "Demir")) == []


def test_terms_are_counted_in_calendar_months() -> None:
    moment = datetime(2026, 3, 31, 12, 0, tzinfo=utcnow().tzinfo)
    assert months_before(moment, 1) == datetime(2026, 2, 28, 12, 0, tzinfo=moment.tzinfo)
    assert months_before(moment, 24) == datetime(2024, 3, 31, 12, 0, tzinfo=moment.tzinfo)
    assert RetentionTerms().problems() == []
    assert [v for v, _ in RetentionTerms(note_months=30).problems()] == ["RETENTION_NOTE_MONTHS"]


def test_old_audit_rows_and_logins_are_purged_but_not_those_of_a_kept_case(
    committed: sessionmaker[Session], database: DatabaseUnderTest
) -> None:
    from schulden.retention import erase_due
    from schulden.users.models import LoginAttempt
    from workflows import SYSTEM

    now = utcnow()
    old = now - timedelta(days=6 * 366)
    with committed() as session:
        session.add(AuditEntry(at=old, actor_id="user:1", action="login", object_type="user", object_id="1",
                               details={}))  # fmt: skip
        session.add(AuditEntry(at=old, actor_id="user:1", action="case.read", object_type="case", object_id="7",
                               case_id=7, details={}))  # fmt: skip
        session.add(LoginAttempt(username="someone", remote_addr="192.0.2.1", at=old, success=False))
        session.commit()
        report = erase_due(session, actor=SYSTEM, now=now, terms=RetentionTerms())
        session.commit()
        assert report.purged["audit_entries"] == 1
        assert report.purged["login_attempts"] == 1
        kept = session.scalars(select(AuditEntry.action).where(AuditEntry.at == old)).all()
        assert kept == ["case.read"]  # case 7 was never erased: its rows stay
        purge = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.purge")).one()
        assert purge.details["counts"]["audit_entries"] == 1
        # The append-only rule holds again after the run: the permit went with it.
        with pytest.raises(Exception, match="append-only"):
            session.execute(text("DELETE FROM audit_entry"))
        session.rollback()
        session.execute(text("DELETE FROM audit_entry WHERE 1 = 0"))
    if database.backend == "postgresql":
        with committed() as session:
            session.execute(RetentionRun.__table__.delete())
            session.execute(text("TRUNCATE audit_entry"))
            session.commit()
