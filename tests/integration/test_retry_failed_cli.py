"""`schuldroute letters retry-failed` (issue 14 item 2): after a fault drill's full letter store the operator lists
the failed letters by kind, tries a dry run, and puts one kind of one type back in the queue in one command."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from schulden.audit import AuditEntry
from schulden.cli import main
from schulden.letters.models import Letter
from tests.factories import make_case
from workflows import Engine

FULL = "OSError: [Errno 28] No space left on device"
DATABASE = "OperationalError: connection refused"


def _run(args: list[str], database_url: str, store: Path) -> Result:
    env = {"DATABASE_URL": database_url, "SCHULDROUTE_ENV": "test", "LOG_LEVEL": "WARNING", "REDIS_URL": "",
           "LETTER_STORE": str(store)}  # fmt: skip
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def _failed(committed: sessionmaker[Session], engine: Engine) -> dict[str, list[int]]:
    """Failed letters of one case: two L9 and one L10 for a full store, one L9 for a database away."""
    with committed() as s:
        case = make_case(s, engine)
        specs = [("L9", FULL), ("L9", FULL), ("L10", FULL), ("L9", DATABASE)]
        rows = [{"case_id": case.id, "letter_type": letter_type, "idempotency_key": f"cli-{n}",
                 "letter_date": date(2026, 3, 2), "requested_by": "test", "status": "failed", "attempts": 3,
                 "last_error": error} for n, (letter_type, error) in enumerate(specs)]  # fmt: skip
        ids = list(s.scalars(insert(Letter).returning(Letter.id), rows))
        s.commit()
    return {"full_l9": ids[:2], "full_l10": ids[2:3], "database": ids[3:]}


def _states(committed: sessionmaker[Session], ids: list[int]) -> set[str]:
    with committed() as s:
        return set(s.scalars(select(Letter.status).where(Letter.id.in_(ids))))


def test_the_operator_puts_one_kind_of_one_type_back(
    committed: sessionmaker[Session], committed_url: str, wf_engine: Engine, tmp_path: Path
) -> None:
    letters = _failed(committed, wf_engine)
    dry = _run(["letters", "retry-failed", "--reason", "OSError", "--dry-run"], committed_url, tmp_path)
    assert dry.exit_code == 0, dry.output
    assert "OSError" in dry.output
    assert "OperationalError" in dry.output
    assert "De opslag was vol of niet schrijfbaar" in dry.output
    assert "dry run: 3 brieven zouden opnieuw worden gemaakt" in dry.output
    assert _states(committed, [i for group in letters.values() for i in group]) == {"failed"}

    done = _run(["letters", "retry-failed", "--reason", "OSError", "--type", "L9"], committed_url, tmp_path)
    assert done.exit_code == 0, done.output
    assert "2 brieven worden opnieuw gemaakt" in done.output
    # Committed, and enqueued after the commit: the in-process queue of the embedded default made them at once.
    assert "failed" not in _states(committed, letters["full_l9"])
    assert _states(committed, letters["full_l10"] + letters["database"]) == {"failed"}
    with committed() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "letter.retry")))
    assert sorted(int(r.object_id or 0) for r in rows) == sorted(letters["full_l9"])
    assert {(r.actor_id, r.details["bulk"], r.details["reason"]) for r in rows} == {("system", True, "OSError")}


def test_an_unknown_type_is_refused_naming_the_option(
    committed: sessionmaker[Session], committed_url: str, wf_engine: Engine, tmp_path: Path
) -> None:
    letters = _failed(committed, wf_engine)
    refused = _run(["letters", "retry-failed", "--type", "L11"], committed_url, tmp_path)
    assert refused.exit_code == 1
    assert "--type: Onbekend brieftype" in refused.output
    assert _states(committed, letters["full_l9"]) == {"failed"}


def test_without_failed_letters_it_says_so(committed_url: str, tmp_path: Path) -> None:
    done = _run(["letters", "retry-failed"], committed_url, tmp_path)
    assert done.exit_code == 0, done.output
    assert "Er zijn geen mislukte brieven." in done.output
