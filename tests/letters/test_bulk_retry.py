"""Failed letters made again at once (issue 14 item 2): grouped by kind of error and type as /metrics groups them,
put back by kind and type with their attempts from zero and an audit row each, seen by the after-commit outbox, for
an administrator or the system only, and in chunks."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from schulden.actors import SYSTEM, UserActor
from schulden.audit import AuditEntry
from schulden.backlog import read_backlog
from schulden.errors import NotPermitted, ValidationFailed
from schulden.letters import bulk_retry, lifecycle
from schulden.letters.models import Letter, LetterStatus
from schulden.roles import Role
from tests.conftest import NOW, DatabaseUnderTest
from tests.factories import make_case
from workflows import Engine

ADMIN = UserActor(1, Role.ADMIN)
COUNSELLOR = UserActor(2, Role.COUNSELLOR, organisation_id=None)
FULL = "OSError: [Errno 28] No space left on device: '/srv/letters/{n}/.tmp-{n}-x.pdf'"
DATABASE = "OperationalError: (psycopg.OperationalError) connection refused"


def _letters(session: Session, case_id: int, specs: list[tuple[str, str | None, LetterStatus]]) -> list[int]:
    """Letters of the case (letter type, recorded error, status), with the attempts of a letter that failed."""
    rows = [
        {
            "case_id": case_id,
            "letter_type": letter_type,
            "idempotency_key": f"bulk-{case_id}-{n}",
            "letter_date": date(2026, 3, 2),
            "requested_by": "test",
            "status": status.value,
            "channel": "post",
            "attempts": 3 if status is LetterStatus.FAILED else 0,
            "last_error": error.format(n=n) if error else None,
            "updated_at": NOW + timedelta(minutes=n),
        }
        for n, (letter_type, error, status) in enumerate(specs)
    ]
    return list(session.scalars(insert(Letter).returning(Letter.id), rows))


@pytest.fixture
def letters(session: Session, wf_engine: Engine) -> dict[str, list[int]]:
    """Five failed letters of three kinds and three types, and a queued one that is none of the failed."""
    case = make_case(session, wf_engine)
    ids = _letters(
        session,
        case.id,
        [
            ("L1", FULL, LetterStatus.FAILED),
            ("L1", FULL, LetterStatus.FAILED),
            ("L2", FULL, LetterStatus.FAILED),
            ("L1", DATABASE, LetterStatus.FAILED),
            ("L9", None, LetterStatus.FAILED),
            ("L1", FULL, LetterStatus.QUEUED),
        ],
    )
    return {"full_l1": ids[:2], "full_l2": ids[2:3], "database": ids[3:4], "unknown": ids[4:5], "queued": ids[5:]}


def _status(session: Session, ids: list[int]) -> list[tuple[str, int]]:
    session.expire_all()
    return [(lt.status, lt.attempts) for lt in session.scalars(select(Letter).where(Letter.id.in_(ids)))]


def _bulk_audit(session: Session) -> list[AuditEntry]:
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.action == "letter.retry").order_by(AuditEntry.object_id))
    )


def test_the_groups_are_the_kinds_metrics_counts_by_type(session: Session, letters: dict[str, list[int]]) -> None:
    groups = bulk_retry.failed_groups(session)
    found = {(g.reason, g.letter_type): g.count for g in groups}
    assert found == {("OSError", "L1"): 2, ("OSError", "L2"): 1, ("OperationalError", "L1"): 1, ("unknown", "L9"): 1}
    assert groups[0].reason == "OSError"  # the largest group first
    assert groups[0].label == "De opslag was vol of niet schrijfbaar"
    # Per kind, the same totals as /status and /metrics (schulden/backlog.py).
    by_reason: dict[str, int] = {}
    for g in groups:
        by_reason[g.reason] = by_reason.get(g.reason, 0) + g.count
    assert by_reason == read_backlog(session, NOW).failed_letters_by_reason
    oldest = session.scalar(select(Letter.updated_at).where(Letter.id == letters["full_l1"][0]))
    assert groups[0].since is not None
    assert oldest is not None
    assert groups[0].since.replace(tzinfo=None) == oldest.replace(tzinfo=None)


def test_only_the_kind_asked_for_goes_back_with_attempts_from_zero(
    session: Session, letters: dict[str, list[int]]
) -> None:
    assert bulk_retry.retry_failed(session, ADMIN, reason="OSError", origin="192.0.2.1") == 3
    assert _status(session, letters["full_l1"] + letters["full_l2"]) == [("queued", 0)] * 3
    assert _status(session, letters["database"] + letters["unknown"]) == [("failed", 3)] * 2
    rows = _bulk_audit(session)
    assert sorted(int(r.object_id or 0) for r in rows) == sorted(letters["full_l1"] + letters["full_l2"])
    assert {(r.actor_id, r.origin, r.result) for r in rows} == {("user:1", "192.0.2.1", "ok")}
    assert all(r.details == {"bulk": True, "reason": "OSError"} for r in rows)
    assert all(r.case_id is not None for r in rows)


def test_kind_and_type_together(session: Session, letters: dict[str, list[int]]) -> None:
    assert bulk_retry.retry_failed(session, ADMIN, reason="OSError", letter_type="L1") == 2
    assert _status(session, letters["full_l2"]) == [("failed", 3)]
    assert bulk_retry.retry_failed(session, ADMIN, letter_type="L9") == 1  # the unknown kind, by its type
    assert bulk_retry.retry_failed(session, ADMIN, reason="unknown") == 0  # already back
    assert bulk_retry.retry_failed(session, ADMIN, reason="KeyError") == 0  # a kind none has


def test_the_system_retries_everything_and_is_audited_as_the_system(
    session: Session, letters: dict[str, list[int]]
) -> None:
    assert bulk_retry.retry_failed(session, SYSTEM) == 5
    assert bulk_retry.failed_groups(session) == []
    assert {(r.actor_id, r.details["reason"]) for r in _bulk_audit(session)} == {
        ("system", "OSError"),
        ("system", "OperationalError"),
        ("system", "unknown"),
    }
    assert _status(session, letters["queued"]) == [("queued", 0)]  # untouched: it was not failed
    assert len(_bulk_audit(session)) == 5


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_no_other_role_may(session: Session, letters: dict[str, list[int]], role: Role) -> None:
    with pytest.raises(NotPermitted, match="Alleen een beheerder"):
        bulk_retry.retry_failed(session, UserActor(3, role))
    assert _status(session, letters["full_l1"]) == [("failed", 3)] * 2
    assert _bulk_audit(session) == []


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"letter_type": "L11"}, "letter_type"),
        ({"letter_type": "l1"}, "letter_type"),
        ({"reason": "OS Error"}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "E" * 101}, "reason"),
    ],
)
def test_a_filter_that_cannot_match_is_refused_naming_its_field(
    session: Session, letters: dict[str, list[int]], filters: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        bulk_retry.retry_failed(session, ADMIN, **filters)
    assert list(refused.value.errors) == [field]
    assert _status(session, letters["full_l1"]) == [("failed", 3)] * 2


def test_the_outbox_sees_them_enter_the_queue_as_new_letters(session: Session, letters: dict[str, list[int]]) -> None:
    seen: list[set[int]] = []

    @event.listens_for(session, "after_flush")
    def _collect(s: Session, _context: Any) -> None:
        seen.append(lifecycle.entered_queue(s))

    bulk_retry.retry_failed(session, ADMIN, reason="OSError")
    assert set().union(*seen) == set(letters["full_l1"] + letters["full_l2"])


def test_a_letter_retried_meanwhile_is_neither_counted_nor_audited_twice(
    session: Session, letters: dict[str, list[int]]
) -> None:
    first = session.get_one(Letter, letters["full_l1"][0])
    lifecycle.retry(first)  # a counsellor's retry of one of them, first
    session.flush()
    assert bulk_retry.retry_failed(session, ADMIN, reason="OSError") == 2
    assert first.id not in {int(r.object_id or 0) for r in _bulk_audit(session)}


def test_thousands_go_back_in_chunks_with_a_bounded_number_of_statements(
    pg_database: DatabaseUnderTest, session: Session, wf_engine: Engine
) -> None:
    case = make_case(session, wf_engine)
    ids = _letters(session, case.id, [("L1", FULL, LetterStatus.FAILED)] * 1_200)
    session.flush()
    seen: list[set[int]] = []
    statements: list[str] = []

    @event.listens_for(session, "after_flush")
    def _collect(s: Session, _context: Any) -> None:
        seen.append(lifecycle.entered_queue(s))

    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", _count)
    try:
        assert bulk_retry.retry_failed(session, ADMIN, reason="OSError") == 1_200
    finally:
        event.remove(connection, "before_cursor_execute", _count)
    # One read of the ids, then per chunk of 500: the locked read, one UPDATE and one INSERT of audit rows.
    chunks = -(-1_200 // bulk_retry.CHUNK)
    assert len(seen) == chunks
    assert len(statements) <= 1 + 3 * chunks, statements
    assert set().union(*seen) == set(ids)
    assert _status(session, ids) == [("queued", 0)] * 1_200
    assert len(_bulk_audit(session)) == 1_200
