"""Failed letters of one kind made again at once, by an administrator or the operator's CLI (issue 14 item 2).

A fault outside the letter (a full letter store, a database away) fails every letter rendered meanwhile; once it is
fixed, they go back to `queued` together instead of one call per letter. Each goes through `lifecycle.retry`
(attempts from zero), so the after-commit outbox (`lifecycle.entered_queue`, integrations/letters/dispatch.py) sees
it enter `queued` and enqueues it in chunks as it does new letters; each gets an audit row `letter.retry` marked
`bulk`. The kind of a failure is `backlog.reason_of` of the recorded error: the grouping /status and /metrics show.

A letter that failed was never rendered, so it never had a reply code: a creditor's letter gets its code (and QR
link) when it is made now, as any new letter does. Nothing here commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import SystemActor, UserActor
from schulden.backlog import reason_of
from schulden.errors import NotPermitted, ValidationFailed
from schulden.letters import lifecycle
from schulden.letters.content import LETTER_TYPES
from schulden.letters.models import Letter, LetterStatus
from schulden.roles import Role
from workflows import Actor

log = logging.getLogger(__name__)

#: Letters put back per flush: one SELECT ... FOR UPDATE, one batched UPDATE and one multi-row INSERT of audit rows
#: per chunk, and never more than this many ORM objects alive at once (after the flush they are clean, and the
#: session's identity map holds clean objects only weakly).
CHUNK = 500
#: The kind recorded for a failure without a readable error (`reason_of`).
UNKNOWN = "unknown"
#: The longest kind accepted as a filter: an exception's name, never a sentence.
REASON_MAX = 100
#: Kinds of failure in the words of an administrator; any other shows as its name.
REASON_LABELS: dict[str, str] = {
    "OSError": "De opslag was vol of niet schrijfbaar",
    "PermissionError": "De opslag was niet schrijfbaar",
    "OperationalError": "De database was niet bereikbaar",
    "InterfaceError": "De verbinding met de database viel weg",
    "FontsMissing": "De lettertypen ontbraken op de server",
    "MissingField": "Er ontbraken gegevens die de brief nodig heeft",
    "LetterTextError": "De brieftekst bevat een fout",
    "AddressDoesNotFit": "Het adres past niet in het venster van de envelop",
    # No exception name before a colon: a reason in words (the demo's), or none recorded.
    UNKNOWN: "Overige fouten (zie de reden bij de brief)",
}
_REFUSED = "Alleen een beheerder mag mislukte brieven in één keer opnieuw laten maken."


@dataclass(frozen=True)
class FailedGroup:
    """Failed letters of one kind of error and one letter type: how many, and since when the oldest waits."""

    reason: str
    letter_type: str
    count: int
    since: datetime | None

    @property
    def label(self) -> str:
        return reason_label(self.reason)


def reason_label(reason: str) -> str:
    """The kind of a failure in words where we have them, else its (technical) name."""
    return REASON_LABELS.get(reason, reason)


def failed_groups(session: Session) -> list[FailedGroup]:
    """The failed letters by kind of error and letter type, the largest groups first. Counts and dates only:
    nothing of a case. One grouped query over the failed rows (`ix_letter_status_updated_at`); errors of one kind
    differ in their text (a path, a message), so they are folded here with `reason_of`, as /metrics does."""
    rows = session.execute(
        select(Letter.last_error, Letter.letter_type, func.count(), func.min(Letter.updated_at))
        .where(Letter.status == LetterStatus.FAILED.value)
        .group_by(Letter.last_error, Letter.letter_type)
    ).all()
    counts: dict[tuple[str, str], int] = {}
    oldest: dict[tuple[str, str], datetime | None] = {}
    for error, letter_type, count, since in rows:
        key = (reason_of(error), letter_type)
        counts[key] = counts.get(key, 0) + int(count)
        known = oldest.get(key)
        oldest[key] = since if known is None or (since is not None and since < known) else known
    groups = [FailedGroup(reason, letter_type, count, oldest[reason, letter_type])
              for (reason, letter_type), count in counts.items()]  # fmt: skip
    return sorted(groups, key=lambda g: (-g.count, g.reason, _type_order(g.letter_type)))


def matching(groups: Sequence[FailedGroup], *, reason: str | None = None, letter_type: str | None = None) -> int:
    """How many failed letters the filters take, by the groups (a dry run, a check page)."""
    return sum(
        g.count
        for g in groups
        if (reason is None or g.reason == reason) and (letter_type is None or g.letter_type == letter_type)
    )


def check_filters(*, reason: str | None, letter_type: str | None) -> None:
    """ValidationFailed, per field, for a kind that cannot be one or a letter type that does not exist."""
    errors: dict[str, list[str]] = {}
    if reason is not None and not (reason.isidentifier() and len(reason) <= REASON_MAX):
        errors["reason"] = [
            f"Geef de soort fout zoals de lijst van mislukte brieven die noemt (bijvoorbeeld OSError), in ten hoogste "
            f"{REASON_MAX} tekens zonder spaties."
        ]
    if letter_type is not None and letter_type not in LETTER_TYPES:
        errors["letter_type"] = [f"Onbekend brieftype; kies uit {', '.join(LETTER_TYPES)}."]
    if errors:
        raise ValidationFailed(errors)


def may_retry_in_bulk(actor: Actor) -> bool:
    """An administrator, or the system (the operator's CLI on the server)."""
    return isinstance(actor, SystemActor) or (isinstance(actor, UserActor) and actor.role is Role.ADMIN)


def retry_failed(
    session: Session,
    actor: Actor,
    *,
    reason: str | None = None,
    letter_type: str | None = None,
    origin: str | None = None,
) -> int:
    """Put every failed letter of this kind of error and this type (None: any) back in `queued`, with its attempts
    from zero and an audit row each; how many. They reach the queue after the caller's commit."""
    if not may_retry_in_bulk(actor):
        raise NotPermitted(_REFUSED)
    check_filters(reason=reason, letter_type=letter_type)
    retried = 0
    for ids in _chunks(_failed_ids(session, reason=reason, letter_type=letter_type)):
        # Locked and read again: a counsellor's retry (or another administrator's) that came first leaves the
        # letter queued, and it is skipped here instead of counted and audited twice.
        letters = session.scalars(
            select(Letter)
            .where(Letter.id.in_(ids), Letter.status == LetterStatus.FAILED.value)
            .order_by(Letter.id)
            .with_for_update()
        ).all()
        for letter in letters:
            kind = reason_of(letter.last_error)
            if reason is not None and kind != reason:
                continue
            lifecycle.retry(letter)
            audit.record(session, actor=actor, action="letter.retry", object_type="letter", object_id=letter.id,
                         case_id=letter.case_id, origin=origin, details={"bulk": True, "reason": kind})  # fmt: skip
            retried += 1
        session.flush()  # the outbox notes this chunk's letters (after_flush), for after the commit
        del letters
    log.info("failed letters put back in the queue",
             extra={"letters": retried, "reason": reason, "letter_type": letter_type})  # fmt: skip
    return retried


def _failed_ids(session: Session, *, reason: str | None, letter_type: str | None) -> list[int]:
    """The ids of the failed letters the filters take: ids and errors only, no ORM objects for the letters of other
    kinds. The kind is read from the error as `reason_of` reads it, so these are the letters the groups count."""
    query = select(Letter.id, Letter.last_error).where(Letter.status == LetterStatus.FAILED.value)
    if letter_type is not None:
        query = query.where(Letter.letter_type == letter_type)
    return [
        letter_id
        for letter_id, error in session.execute(query.order_by(Letter.id))
        if reason is None or reason_of(error) == reason
    ]


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _type_order(letter_type: str) -> int:
    return LETTER_TYPES.index(letter_type) if letter_type in LETTER_TYPES else len(LETTER_TYPES)
