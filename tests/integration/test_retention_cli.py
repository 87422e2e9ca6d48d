"""`schuldroute retention show` and `retention run [--dry-run]` (issue 15): the operator sees the terms and what is
due, tries a dry run, then erases; the BSN and the name are gone from the database afterwards."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from schulden.cases.models import Case, Detainee
from schulden.cases.services import fire_case_event
from schulden.cli import main
from schulden.retention import RetentionRun
from tests.conftest import actor
from tests.factories import make_case
from workflows import Engine, WorkflowInstance
from workflows.store import utcnow

BSN = "111222333"


def _run(args: list[str], database_url: str, store: Path, **env: str) -> Result:
    environment = {"DATABASE_URL": database_url, "SCHULDROUTE_ENV": "test", "LOG_LEVEL": "WARNING",
                   "REDIS_URL": "", "LETTER_STORE": str(store), **env}  # fmt: skip
    return CliRunner().invoke(main, args, env=environment, catch_exceptions=False)


def test_show_then_a_dry_run_then_the_run(
    committed: sessionmaker[Session], committed_url: str, wf_engine: Engine, tmp_path: Path
) -> None:
    with committed() as s:
        case = make_case(s, wf_engine, given_names="Willemijn", surname="Oudeboer")
        s.get_one(Detainee, case.detainee_id).bsn = BSN
        fire_case_event(s, wf_engine, case, "close", actor=actor("counsellor"), reason="klaar",
                        payload={"closure_reason": "other"})  # fmt: skip
        s.execute(
            update(WorkflowInstance)
            .where(WorkflowInstance.id == case.instance_id)
            .values(updated_at=utcnow() - timedelta(days=800))
        )
        case_id = case.id
        s.commit()
    try:
        show = _run(["retention", "show"], committed_url, tmp_path, RETENTION_NOTE_MONTHS="3")
        assert show.exit_code == 0, show.output
        assert "RETENTION_CASE_MONTHS" in show.output
        assert "note_months             3 months" in show.output
        assert "last run: never" in show.output
        assert "case 1" in show.output

        dry = _run(["retention", "run", "--dry-run"], committed_url, tmp_path)
        assert dry.exit_code == 0, dry.output
        assert json.loads(dry.output)["cases"] == {str(case_id): json.loads(dry.output)["cases"][str(case_id)]}
        with committed() as s:
            assert s.scalar(select(Detainee.bsn).join(Case).where(Case.id == case_id)) == BSN

        done = _run(["retention", "run"], committed_url, tmp_path)
        assert done.exit_code == 0, done.output
        assert str(case_id) in json.loads(done.output.splitlines()[0])["cases"]
        with committed() as s:
            assert s.scalar(select(Detainee.id).where(Detainee.bsn == BSN)) is None
            assert s.scalar(select(Detainee.id).where(Detainee.surname == "Oudeboer")) is None

        refused = _run(["retention", "show"], committed_url, tmp_path, RETENTION_CASE_MONTHS="36")
        assert refused.exit_code != 0
        assert "RETENTION_CASE_MONTHS must be at most 24" in refused.output
    finally:
        with committed() as s:
            s.execute(RetentionRun.__table__.delete())
            s.commit()
