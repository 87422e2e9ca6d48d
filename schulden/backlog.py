"""What waits in the system, as an operator needs it: letters not yet out, timers overdue, referrals not delivered.

Read by the status report and /metrics (schulden/web/metrics.py) on every scrape, so each figure is one indexed
query over the rows that are still open (letters by `ix_letter_status_updated_at`), never a count over history.
Counts and ages only: nothing personal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from schulden.letters.models import Letter, LetterStatus
from schulden.referrals.models import Referral, ReferralStatus
from workflows.store import TimerRow, TimerStatus

#: Letters that are not out yet: the ones an operator watches.
OPEN_LETTERS = (LetterStatus.QUEUED, LetterStatus.RENDERING, LetterStatus.RENDERED, LetterStatus.FAILED)
#: Referrals not delivered yet.
OPEN_REFERRALS = (ReferralStatus.QUEUED, ReferralStatus.FAILED)


@dataclass(frozen=True)
class Backlog:
    letters: dict[str, int] = field(default_factory=dict)
    #: Failed letters by the kind of error the job recorded ("OSError", "DeliveryNotPossible", ...).
    failed_letters_by_reason: dict[str, int] = field(default_factory=dict)
    #: Seconds since the oldest queued letter was asked for (None: none queued).
    oldest_queued_letter_seconds: float | None = None
    timers_due: int = 0
    #: Seconds the most overdue pending timer is late (None: none due): a dead scheduler shows here first.
    oldest_due_timer_seconds: float | None = None
    referrals: dict[str, int] = field(default_factory=dict)


def reason_of(error: str | None) -> str:
    """The kind of a recorded error: the exception's name before the colon, or "unknown"."""
    head = (error or "").partition(":")[0].strip()
    return head if head.isidentifier() else "unknown"


def read_backlog(session: Session, now: datetime) -> Backlog:
    letters = _by_status(session, Letter.status, OPEN_LETTERS)
    failed: dict[str, int] = {}
    for error, count in session.execute(
        select(Letter.last_error, func.count())
        .where(Letter.status == LetterStatus.FAILED.value)
        .group_by(Letter.last_error)
    ).all():
        failed[reason_of(error)] = failed.get(reason_of(error), 0) + count
    oldest_letter = session.scalar(
        select(func.min(Letter.updated_at)).where(Letter.status == LetterStatus.QUEUED.value)
    )
    due = session.execute(
        select(func.count(), func.min(TimerRow.due_at)).where(
            TimerRow.status == TimerStatus.PENDING, TimerRow.due_at <= now
        )
    ).one()
    referrals = _by_status(session, Referral.status, OPEN_REFERRALS)
    return Backlog(
        letters=letters,
        failed_letters_by_reason=failed,
        oldest_queued_letter_seconds=_age(now, oldest_letter),
        timers_due=int(due[0] or 0),
        oldest_due_timer_seconds=_age(now, due[1]),
        referrals=referrals,
    )


def _by_status(session: Session, column: InstrumentedAttribute[str], statuses: Iterable[StrEnum]) -> dict[str, int]:
    """How many rows have each of `statuses` (0 for those none has), in one grouped count."""
    values = [status.value for status in statuses]
    counts = dict.fromkeys(values, 0)
    for status, count in session.execute(select(column, func.count()).where(column.in_(values)).group_by(column)):
        counts[status] = count
    return counts


def _age(now: datetime, since: datetime | None) -> float | None:
    if since is None:
        return None
    if since.tzinfo is None:  # SQLite gives naive UTC back
        since = since.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - since).total_seconds())
