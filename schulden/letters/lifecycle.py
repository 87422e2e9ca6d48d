"""The letter's lifecycle: every change of a letter's status is one of the named transitions below.

    queued --claim--> rendering --rendered--> rendered --sent--> sent
                          |  \\--render_failed (attempts left)--> queued
                          \\--render_failed (last attempt)--> failed --retry--> queued
    queued | rendering | rendered --cancel_open--> cancelled
    queued | rendering | rendered --cancel_describing_detention (released)--> cancelled
    rendered (channel manual) --sent_manually--> sent

Jobs (integrations/letters), the print batch, the API and the pages call these; nothing else assigns
`Letter.status`. The claims keep their conditional UPDATEs: a letter is claimed by one job only, and only the job
that still holds the claim records its PDF (security.md 1.7). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, bindparam, case, inspect, or_, update
from sqlalchemy.orm import Session

from schulden.debts.models import Debt
from schulden.errors import DomainError
from schulden.letters.compose import TO_CREDITOR
from schulden.letters.models import Channel, Letter, LetterStatus
from workflows import SYSTEM, Engine, TransitionRefused, WorkflowInstance

#: Letters that have not gone out yet: a withdrawal of consent or a closed case stops them.
OPEN = (LetterStatus.QUEUED.value, LetterStatus.RENDERING.value, LetterStatus.RENDERED.value)
#: A letter's PDF may be fetched in these states only.
PDF_READY = (LetterStatus.RENDERED.value, LetterStatus.SENT.value)
#: The first contact with a creditor; when one of these is sent, the creditor's answer clock starts.
FIRST_CONTACT = frozenset({"L1", "L2", "L6", "L7"})
#: A letter may be recorded as sent once its PDF exists. A cancelled one too: an e-mail that left the server
#: before a withdrawal could stop it has gone out all the same.
_SENDABLE = (LetterStatus.RENDERED.value, LetterStatus.CANCELLED.value)
#: Letters that describe the client as detained (domain.md 4): after a release they would tell a creditor, an
#: office or the client himself something no longer true. L6 only in its first round (the suspension; round 2 is
#: the reactivation after release); L8 (the referral) and L10 (the withdrawal) hold regardless.
DESCRIBE_DETENTION = frozenset({"L1", "L2", "L3", "L4", "L5", "L7", "L9"})


class LetterStateError(DomainError):
    """The transition is not possible from the letter's current status (the Dutch text says why)."""


# -- claim and record: the render job's two conditional UPDATEs -------------------------------------------------

#: Free to take: queued, or claimed by a job that died (its claim is older than `stale_before`).
CLAIMABLE = or_(
    Letter.status == LetterStatus.QUEUED.value,
    and_(Letter.status == LetterStatus.RENDERING.value, Letter.claimed_at < bindparam("stale_before")),
)


def claim_statement(lookups: dict[int, str]) -> Any:
    """queued -> rendering for a chunk: one UPDATE ... RETURNING for all its letters that are free to take; the
    others are another job's or done, and are not returned. Each creditor letter's drawn reply-code lookup is
    reserved by the unique column in the same statement. Parameters: `stale_before`, `now`, `me`. Built per chunk
    (a CASE with one branch per letter); SQLAlchemy caches it per chunk size."""
    return (
        update(Letter)
        .where(Letter.id.in_(sorted(lookups)), CLAIMABLE)
        .values(
            status=LetterStatus.RENDERING.value,
            claimed_at=bindparam("now"),
            claimed_by=bindparam("me"),
            attempts=Letter.attempts + 1,
            reply_code_lookup=case(
                (Letter.letter_type.in_(sorted(TO_CREDITOR)), case(lookups, value=Letter.id)), else_=None
            ),
        )
        .returning(Letter)
        .execution_options(synchronize_session=False)
    )


def claim(session: Session, lookups: dict[int, str], *, now: datetime, me: str, stale_before: datetime) -> list[Letter]:
    """Claim the letters (ids -> drawn reply lookups) that are free; returns those now ours to render."""
    params = {"stale_before": stale_before, "now": now, "me": me}
    return list(session.scalars(claim_statement(lookups), params).all())


# Core, for a job's connection: no ORM unit of work for a single UPDATE per letter.
_RENDERED = (
    update(Letter)
    .where(
        Letter.id == bindparam("letter_id"),
        Letter.status == LetterStatus.RENDERING.value,
        Letter.claimed_by == bindparam("me"),
    )
    .values(
        status=LetterStatus.RENDERED.value,
        storage_key=bindparam("key"),
        sha256=bindparam("sha"),
        size_bytes=bindparam("size"),
        rendered_at=bindparam("at"),
        template_version=bindparam("version"),
        last_error=None,
        reply_code_hash=bindparam("code_hash", type_=String),
        reply_token_hash=bindparam("token_hash", type_=String),
        reply_expires_at=bindparam("expires", type_=Letter.reply_expires_at.type),
    )
    .returning(Letter.id)
)


def rendered(
    conn: Connection,
    *,
    letter_id: int,
    me: str,
    key: str,
    sha: str,
    size: int,
    at: datetime,
    version: str,
    code_hash: str | None,
    token_hash: str | None,
    expires: datetime | None,
) -> bool:
    """rendering -> rendered, only while the claim is still `me`'s; whether it was recorded (False: our claim was
    taken over meanwhile, and the other job's PDF will be the letter's)."""
    row = conn.execute(
        _RENDERED,
        {
            "letter_id": letter_id,
            "me": me,
            "key": key,
            "sha": sha,
            "size": size,
            "at": at,
            "version": version,
            "code_hash": code_hash,
            "token_hash": token_hash,
            "expires": expires,
        },
    ).first()
    return row is not None


def holds_claim(letter: Letter, me: str) -> bool:
    """Whether `me` (a job) still holds the letter's render claim."""
    return letter.status == LetterStatus.RENDERING.value and letter.claimed_by == me


def render_failed(letter: Letter, *, error: str, max_attempts: int) -> bool:
    """rendering -> queued for another try, or -> failed after the last attempt; whether it was the last."""
    if letter.status != LetterStatus.RENDERING.value:
        raise LetterStateError("Alleen een brief die wordt gemaakt kan mislukken.")
    final = letter.attempts >= max_attempts
    letter.status = LetterStatus.FAILED.value if final else LetterStatus.QUEUED.value
    letter.reply_code_lookup = None  # reserved by the claim, printed nowhere
    letter.last_error = error
    return final


def render_deferred(letter: Letter, *, error: str) -> None:
    """rendering -> queued without spending the attempt the claim counted: the store, the database or Redis failed
    the job, not the letter (issue 14: a full store once turned 460 letters into `failed`). The job is retried by
    RQ and then by the sweeper, as often as it takes; `last_error` says why the letter waits."""
    if letter.status != LetterStatus.RENDERING.value:
        raise LetterStateError("Alleen een brief die wordt gemaakt kan worden uitgesteld.")
    letter.status = LetterStatus.QUEUED.value
    letter.attempts = max(0, letter.attempts - 1)
    letter.reply_code_lookup = None  # reserved by the claim, printed nowhere
    letter.last_error = error


# -- a person's transitions -------------------------------------------------------------------------------------


def retry(letter: Letter) -> None:
    """failed -> queued, with its attempts counted from zero (after a person fixed the cause). The letter reaches
    the queue the way a new one does: the after-commit outbox sees it enter `queued` (`entered_queue`)."""
    if letter.status != LetterStatus.FAILED.value:
        raise LetterStateError("Alleen een mislukte brief kan opnieuw worden gemaakt.")
    letter.status = LetterStatus.QUEUED.value
    letter.attempts = 0


def make_again(letter: Letter, *, reason: str) -> None:
    """rendered -> queued for a letter whose PDF is gone from the store before it went out (found by the print
    batch): it is made again, with a new reply code, as a new letter reaches the queue (`entered_queue`)."""
    if letter.status != LetterStatus.RENDERED.value or letter.sent_at is not None:
        raise LetterStateError("Alleen een gemaakte brief die nog niet is verstuurd kan opnieuw worden gemaakt.")
    letter.status = LetterStatus.QUEUED.value
    letter.attempts = 0
    letter.storage_key = letter.sha256 = letter.size_bytes = letter.rendered_at = None
    letter.reply_code_hash = letter.reply_token_hash = letter.reply_expires_at = None
    letter.last_error = reason


def cancel_open(session: Session, case_id: int, *, reason: str) -> int:
    """queued | rendering | rendered -> cancelled for every letter of the case not gone out yet (consent
    withdrawn, case closed); how many."""
    result = session.execute(
        update(Letter)
        .where(Letter.case_id == case_id, Letter.status.in_(OPEN))
        .values(status=LetterStatus.CANCELLED.value, last_error=reason)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel_describing_detention(session: Session, case_id: int, *, reason: str) -> list[int]:
    """queued | rendering | rendered -> cancelled for the case's letters not gone out yet that describe the client as
    detained (DESCRIBE_DETENTION, L6 round 1), after his release; the ids, oldest first. A render job holding one of
    them loses its claim (`rendered` needs `rendering`), so no PDF is recorded for it."""
    describes = or_(
        Letter.letter_type.in_(sorted(DESCRIBE_DETENTION)), and_(Letter.letter_type == "L6", Letter.round == 1)
    )
    ids = list(
        session.scalars(
            update(Letter)
            .where(Letter.case_id == case_id, Letter.status.in_(OPEN), describes)
            .values(status=LetterStatus.CANCELLED.value, last_error=reason)
            .returning(Letter.id)
            .execution_options(synchronize_session="fetch")
        )
    )
    return sorted(ids)


def sent(session: Session, engine: Engine, letters: Iterable[Letter], *, at: datetime) -> None:
    """rendered -> sent (in a print batch, accepted by the mail server, delivered with a referral); a first contact
    starts the creditor's answer clock (the debt's workflow)."""
    letters = list(letters)
    for letter in letters:
        if letter.status not in _SENDABLE and letter.status != LetterStatus.SENT.value:
            raise LetterStateError("Alleen een gemaakte brief kan worden verstuurd.")
    for letter in letters:
        _mark_sent(session, engine, letter, at=at)
    session.flush()


def sent_manually(session: Session, engine: Engine, letter: Letter, *, at: datetime) -> None:
    """rendered -> sent for a letter with channel 'manual': the counsellor delivered it through the creditor's own
    channel (a phone line, an online form) and says so. Its clock starts as for a posted letter."""
    if letter.channel != Channel.MANUAL.value:
        raise LetterStateError(
            "Alleen een brief die u zelf verstuurt (via het kanaal van de schuldeiser) kunt u zo afmelden."
        )
    if letter.status != LetterStatus.RENDERED.value:
        raise LetterStateError("Alleen een gemaakte brief die nog niet is verstuurd kan als verstuurd worden afgemeld.")
    _mark_sent(session, engine, letter, at=at)
    session.flush()


def _mark_sent(session: Session, engine: Engine, letter: Letter, *, at: datetime) -> None:
    letter.status = LetterStatus.SENT.value
    letter.sent_at = at
    if letter.debt_id is not None and letter.letter_type in FIRST_CONTACT:
        debt = session.get_one(Debt, letter.debt_id)
        instance = session.get_one(WorkflowInstance, debt.instance_id)
        if instance.state == "letters_requested":
            # Refused (e.g. consent withdrawn meanwhile): the debt stays where it is.
            with suppress(TransitionRefused):
                engine.fire(session, instance, "letters_sent", actor=SYSTEM, payload={"letter_id": letter.id}, now=at)


# -- e-mail delivery: not a status of its own, a claim on the rendered letter ------------------------------------


def claim_email(session: Session, letter_id: int, *, now: datetime, stale_before: datetime) -> bool:
    """Claim a rendered e-mail letter for its delivery (exactly one job sends it at a time); whether we got it."""
    claimed = session.execute(
        update(Letter)
        .where(
            Letter.id == letter_id,
            Letter.status == LetterStatus.RENDERED.value,
            Letter.channel == Channel.EMAIL.value,
            # L8 goes out with its referral's handover file (integrations/referrals/delivery.py), never alone.
            Letter.letter_type != "L8",
            or_(Letter.delivery_started_at.is_(None), Letter.delivery_started_at < stale_before),
        )
        .values(delivery_started_at=now)
        .returning(Letter.id)
    ).first()
    return claimed is not None


def email_failed(letter: Letter, reason: str) -> None:
    """The e-mail did not go out: the letter stays rendered and free for the next delivery attempt."""
    letter.delivery_started_at = None
    letter.last_error = f"e-mail: {reason}"


# -- for the outbox --------------------------------------------------------------------------------------------


def entered_queue(session: Session) -> set[int]:
    """The letters this flush put in `queued` for a person or a step: new ones, retries of failed ones, and rendered
    ones whose PDF went missing (`make_again`). (A
    render attempt that goes back to `queued` is not among them: RQ retries its own job.) Call in after_flush."""
    ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Letter) and obj.status == LetterStatus.QUEUED.value:
            ids.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Letter) and obj.status == LetterStatus.QUEUED.value:
            before = inspect(obj).attrs.status.history.deleted
            if LetterStatus.FAILED.value in before or LetterStatus.RENDERED.value in before:
                ids.add(obj.id)
    return ids
