"""Letter jobs: render a letter, e-mail a letter, sweep what got stuck. Each takes an id and may run twice.

Exactly once *in effect* (security.md 1.7): a job claims its letter with one conditional UPDATE (zero rows: someone
else has it or it is done, so it stops); it renders outside any transaction and writes the PDF under a name of
its own; then one conditional UPDATE records that file, and a job that lost its claim meanwhile removes its file.
After recording, the job removes every other file of its letter (a job killed between writing its PDF and
recording it left one); the sweeper does the same for letters that never get recorded (failed, cancelled).
One letter row, one PDF, whatever RQ does (retries, orphaned work horses, Redis losing its queue).

A job costs two transactions: the claim with every read that composing the letter needs, and the record with its
audit row. The reply code's lookup is reserved by the claim itself (a unique column), so a lookup already taken
costs a new draw before anything is rendered, never an attempt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, String, and_, bindparam, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.letters.dispatch import enqueue_email, queue_email, queue_render
from integrations.letters.storage import FileStore
from integrations.queue import QueueUnavailable
from integrations.runtime import Runtime, runtime
from schulden import audit
from schulden.audit import AuditEntry
from schulden.letters.compose import REPLY_VALID_DAYS, TO_CREDITOR, Sender, compose, our_reference
from schulden.letters.content import LetterContent
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.letters.reply import ReplySecrets, new_reply_secrets
from schulden.letters.services import mark_sent
from workflows import SYSTEM
from workflows.store import utcnow

log = logging.getLogger(__name__)

#: Renders after the last of these attempts leave the letter `failed`, for a person to look at.
MAX_ATTEMPTS = 3
#: A claim older than this is taken over: its job died (kill -9, a lost machine). Longer than the job timeout.
STALE_CLAIM = timedelta(minutes=5)
#: A letter queued longer than this without a job is re-enqueued by the sweeper (Redis lost it, say).
LOST_AFTER = timedelta(minutes=2)
#: How far back the sweeper looks for letters whose files may need tidying (see `_sweep_files`).
FILES_WINDOW = timedelta(days=1)
#: Draws of a reply-code lookup before a render gives up. A draw collides with probability (letters with a
#: lookup) / 23**5: one in six at a million letters, so ten draws in a row all taken is one in 60 million there.
LOOKUP_DRAWS = 10
#: The unique constraint (PostgreSQL) or column (SQLite) named when a drawn lookup is taken.
_LOOKUP_TAKEN = ("uq_letter_reply_code_lookup", "letter.reply_code_lookup")


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sender_from_settings() -> Sender:
    s = runtime().settings
    return Sender(s.sender_name, s.sender_address, s.sender_phone, s.sender_email, s.public_url)


@dataclass(frozen=True)
class _Claimed:
    """What a job took from the database in its claim: the letter's facts and its composed content (or why
    composing failed: the claim is committed either way, so the attempt counts)."""

    case_id: int
    letter_type: str
    letter_date: date
    channel: str
    reply: ReplySecrets
    content: LetterContent | None
    error: Exception | None


def render_letter(letter_id: int) -> str:
    """Render and store one letter's PDF. Safe to run any number of times, also at the same time."""
    rt = runtime()
    assert rt.database.engine is not None
    # One connection for both transactions of the job: one pool checkout (and pre-ping round trip), not two.
    with rt.database.engine.connect() as conn:
        return _render(rt, conn, letter_id, _worker_name())


def _render(rt: Runtime, conn: Connection, letter_id: int, me: str) -> str:
    claimed = _claim(rt, conn, letter_id, me)
    if claimed is None:
        return "not-claimed"  # rendered, cancelled, or another job is on it
    key = None
    try:
        if claimed.error is not None:
            raise claimed.error
        assert claimed.content is not None
        from integrations.letters.render import render_pdf
        from schulden.letters.templates import load_template

        pdf = render_pdf(claimed.content)
        version = load_template(claimed.letter_type).version
        sha = hashlib.sha256(pdf).hexdigest()
        key = f"letters/{claimed.case_id}/{letter_id}-{sha[:16]}.pdf"
        rt.store.put(key, pdf)
        recorded = _record(rt, conn, letter_id, me, claimed, key=key, sha=sha, size=len(pdf), version=version)
    except Exception as exc:
        if key is not None:
            rt.store.delete(key)
        final = _record_failure(letter_id, me, exc)
        log.warning("letter render failed", extra={"letter_id": letter_id, "error": type(exc).__name__, "final": final})
        if not final:
            raise  # RQ retries; the in-process queue leaves it to the sweeper
        return "failed"
    if not recorded:
        # Our claim was taken over while we rendered: the other job's PDF is the letter's.
        rt.store.delete(key)
        return "lost-claim"
    # Recorded and committed: from here on nothing may undo the letter, so a failure below is only logged.
    _remove_other_files(rt.store, claimed.case_id, letter_id, keep=key)
    if claimed.channel == Channel.EMAIL.value:
        enqueue_email(rt.queue, letter_id)
    return key


# The two statements of every job, built once: building and cache-keying them per job cost more than running them.
_CLAIM = (
    update(Letter)
    .where(
        Letter.id == bindparam("letter_id"),
        or_(
            Letter.status == LetterStatus.QUEUED.value,
            and_(Letter.status == LetterStatus.RENDERING.value, Letter.claimed_at < bindparam("stale_before")),
        ),
    )
    .values(
        status=LetterStatus.RENDERING.value,
        claimed_at=bindparam("now"),
        claimed_by=bindparam("me"),
        attempts=Letter.attempts + 1,
        # Reserved now, by the unique column: a taken lookup fails this statement, before anything is rendered.
        reply_code_lookup=case(
            (Letter.letter_type.in_(sorted(TO_CREDITOR)), bindparam("lookup", type_=String)), else_=None
        ),
    )
    .returning(Letter)
    .execution_options(synchronize_session=False)
)
# Run on a Connection, so Core statements: no ORM session for a single UPDATE and INSERT.
_RECORD = (
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
# audit.record's row, written with Core in the record's transaction (the ORM unit of work for one row cost ~1 ms).
_AUDIT = insert(AuditEntry).values(
    actor_id=SYSTEM.actor_id,
    organisation_id=None,
    action="letter.rendered",
    object_type="letter",
    object_id=bindparam("object_id"),
    case_id=bindparam("case_id"),
    result="ok",
    origin=None,
    details=bindparam("details", type_=AuditEntry.details.type),
)


def _claim(rt: Runtime, conn: Connection, letter_id: int, me: str) -> _Claimed | None:
    """Claim the letter and compose it, in one transaction; None when it is not ours to render."""
    now = utcnow()
    for _ in range(LOOKUP_DRAWS):
        reply = new_reply_secrets()
        params = {
            "letter_id": letter_id,
            "stale_before": now - STALE_CLAIM,
            "now": now,
            "me": me,
            "lookup": reply.lookup,
        }
        assert rt.database.sessionmaker is not None
        with rt.database.sessionmaker(bind=conn) as session:
            try:
                letter = session.scalars(_CLAIM, params).first()
            except IntegrityError as exc:
                if not any(name in str(exc.orig) for name in _LOOKUP_TAKEN):
                    raise
                session.rollback()
                log.info("reply code lookup taken, drawing another", extra={"letter_id": letter_id})
                continue
            if letter is None:
                return None
            content: LetterContent | None = None
            error: Exception | None = None
            try:
                content = compose(
                    session, letter, sender=sender_from_settings(), calendar=rt.engine.calendar, reply=reply
                )
            except Exception as exc:  # the claim still commits: the attempt counts, the failure is recorded
                error = exc
            claimed = _Claimed(
                letter.case_id,
                letter.letter_type,
                letter.letter_date,
                letter.channel,
                reply,
                content,
                error,
            )
            session.commit()
            return claimed
    raise RuntimeError(f"no free reply-code lookup in {LOOKUP_DRAWS} draws")


def _record(
    rt: Runtime,
    conn: Connection,
    letter_id: int,
    me: str,
    claimed: _Claimed,
    *,
    key: str,
    sha: str,
    size: int,
    version: str,
) -> bool:
    """Record the stored PDF and its audit row in one transaction, if the claim is still ours."""
    to_creditor = claimed.letter_type in TO_CREDITOR
    expires = datetime.combine(
        claimed.letter_date + timedelta(days=REPLY_VALID_DAYS), datetime.min.time(), rt.engine.timezone
    )
    with conn.begin():
        done = conn.execute(
            _RECORD,
            {
                "letter_id": letter_id,
                "me": me,
                "key": key,
                "sha": sha,
                "size": size,
                "at": utcnow(),
                "version": version,
                "code_hash": claimed.reply.code_hash if to_creditor else None,
                "token_hash": claimed.reply.token_hash if to_creditor else None,
                "expires": expires if to_creditor else None,
            },
        ).first()
        if done is None:
            return False
        conn.execute(
            _AUDIT,
            {
                "object_id": str(letter_id),
                "case_id": claimed.case_id,
                "details": {"sha256": sha, "type": claimed.letter_type},
            },
        )
    return True


def _record_failure(letter_id: int, me: str, exc: Exception) -> bool:
    """Back to `queued` for another try, or `failed` after the last; returns whether it was the last."""
    rt = runtime()
    with rt.database.session_scope() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.status != LetterStatus.RENDERING.value or letter.claimed_by != me:
            return True
        final = letter.attempts >= MAX_ATTEMPTS
        letter.status = LetterStatus.FAILED.value if final else LetterStatus.QUEUED.value
        letter.reply_code_lookup = None  # reserved by the claim, printed nowhere
        # The error's type and a short text; never the letter's content.
        letter.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if final:
            audit.record(session, actor=SYSTEM, action="letter.failed", object_type="letter", object_id=letter_id,
                         case_id=letter.case_id, result="error", details={"error": type(exc).__name__})  # fmt: skip
        return final


def _letter_files(store: FileStore, case_id: int, letter_id: int) -> list[tuple[str, float]]:
    """(key, modification time) of every file of this letter in the store: its PDFs (`<id>-<sha>.pdf`, one per
    job that got as far as writing) and the temporary files of writes that never finished."""
    return [
        (key, mtime)
        for key, mtime in store.entries(f"letters/{case_id}")
        if key.rsplit("/", 1)[-1].startswith((f"{letter_id}-", f".tmp-{letter_id}-"))
    ]


def _remove_other_files(store: FileStore, case_id: int, letter_id: int, *, keep: str) -> int:
    """Remove every file of the letter but `keep` (its recorded PDF); returns how many went."""
    removed = 0
    try:
        for key, _mtime in _letter_files(store, case_id, letter_id):
            if key != keep:
                store.delete(key)
                removed += 1
    except OSError as exc:  # the letter is recorded; the sweeper tries again
        log.warning("letter files not tidied", extra={"letter_id": letter_id, "error": type(exc).__name__})
    return removed


def send_letter_email(letter_id: int) -> str:
    """E-mail one rendered letter to a creditor that takes e-mail. A crash halfway is detectable: the message id
    is fixed per letter, so a resend is recognisable as the same message."""
    from integrations.mail.client import send_pdf

    rt = runtime()
    now = utcnow()
    with rt.database.session_scope() as session:
        claimed = session.execute(
            update(Letter)
            .where(
                Letter.id == letter_id,
                Letter.status == LetterStatus.RENDERED.value,
                Letter.channel == Channel.EMAIL.value,
                # L8 goes out with its referral's handover file (integrations/referrals/delivery.py), never alone.
                Letter.letter_type != "L8",
                or_(Letter.delivery_started_at.is_(None), Letter.delivery_started_at < now - STALE_CLAIM),
            )
            .values(delivery_started_at=now)
            .returning(Letter.id)
        ).first()
        if claimed is None:
            return "not-claimed"
        letter = session.get_one(Letter, letter_id)
        letter.email_message_id = (
            letter.email_message_id
            or f"<letter-{letter.id}.{letter.sha256[:12] if letter.sha256 else 'x'}@schuldroute>"
        )
        address = _email_target(session, letter)
        subject = f"Brief {letter.letter_type} - {our_reference(letter)}"
        storage_key, message_id = letter.storage_key, letter.email_message_id
    if address is None or storage_key is None:
        _email_failed(letter_id, "geen e-mailadres bekend")
        return "no-address"
    try:
        send_pdf(
            rt.settings,
            to=address,
            subject=subject,
            body="Bijgaand onze brief. Antwoorden kan met de code of QR-code in de brief.",
            pdf=rt.store.get(storage_key),
            filename=f"brief-{letter_id}.pdf",
            message_id=message_id,
        )
    except Exception as exc:
        _email_failed(letter_id, f"{type(exc).__name__}: {str(exc)[:200]}")
        raise
    with rt.database.session_scope() as session:
        letter = session.get_one(Letter, letter_id)
        mark_sent(session, rt.engine, [letter], at=utcnow())
        audit.record(session, actor=SYSTEM, action="letter.emailed", object_type="letter", object_id=letter_id,
                     case_id=letter.case_id)  # fmt: skip
    return "sent"


def _email_target(session: Session, letter: Letter) -> str | None:
    from schulden.debts.models import Creditor
    from schulden.organisations.models import Organisation

    if letter.creditor_id is not None:
        creditor = session.get(Creditor, letter.creditor_id)
        return creditor.email if creditor else None
    if letter.organisation_id is not None:
        org = session.get(Organisation, letter.organisation_id)
        return org.email if org else None
    return None


def _email_failed(letter_id: int, reason: str) -> None:
    with runtime().database.session_scope() as session:
        letter = session.get_one(Letter, letter_id)
        letter.delivery_started_at = None
        letter.last_error = f"e-mail: {reason}"


def sweep_letters(now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue letters whose job got lost (Redis restarted without persistence, an enqueue failed after
    commit, a worker was killed) and rendered e-mail letters that were never sent; tidy the files of letters whose
    jobs died. Returns how many jobs it enqueued (not how many letters it looked at: a job still waiting in the
    queue is left alone and not counted)."""
    rt = runtime()
    now = now or utcnow()
    with rt.database.session() as session:
        to_render = session.execute(
            select(Letter.id, Letter.status).where(
                or_(
                    and_(Letter.status == LetterStatus.QUEUED.value, Letter.updated_at < now - LOST_AFTER),
                    and_(Letter.status == LetterStatus.RENDERING.value, Letter.claimed_at < now - STALE_CLAIM),
                )
            )
        ).all()
        to_email = session.execute(
            select(Letter.id, Letter.delivery_started_at).where(
                Letter.status == LetterStatus.RENDERED.value,
                Letter.channel == Channel.EMAIL.value,
                Letter.letter_type != "L8",
                Letter.updated_at < now - LOST_AFTER,
                or_(Letter.delivery_started_at.is_(None), Letter.delivery_started_at < now - STALE_CLAIM),
            )
        ).all()
        tidy = session.execute(
            select(Letter.id, Letter.case_id, Letter.storage_key).where(
                Letter.updated_at >= now - FILES_WINDOW,
                or_(
                    Letter.status.in_((LetterStatus.FAILED.value, LetterStatus.CANCELLED.value)),
                    and_(
                        Letter.status.in_((LetterStatus.RENDERED.value, LetterStatus.SENT.value)),
                        Letter.attempts > 1,
                    ),
                ),
            )
        ).all()
    report = {"render": 0, "email": 0}
    # RQ holds the job of a killed worker as `started` until its maintenance notices (minutes later). A claim
    # older than STALE_CLAIM (longer than any job may run) says that job is dead: it is replaced whatever RQ says.
    # Without a claim, a job RQ calls started is replaced only once it started longer ago than that.
    try:
        for letter_id, status in to_render:
            dead_before = now if status == LetterStatus.RENDERING.value else now - STALE_CLAIM
            report["render"] += queue_render(rt.queue, letter_id, replace_started_before=dead_before)
        for letter_id, started in to_email:
            dead_before = now if started is not None else now - STALE_CLAIM
            report["email"] += queue_email(rt.queue, letter_id, replace_started_before=dead_before)
    except QueueUnavailable as exc:
        log.warning("sweep stopped: the queue is unavailable", extra={"error": type(exc.__cause__).__name__})
    removed = _sweep_files(rt.store, tidy, older_than=now - STALE_CLAIM)
    if removed:
        log.info("letter files removed", extra={"files": removed})
    return report


def _sweep_files(store: FileStore, letters: Any, *, older_than: datetime) -> int:
    """Remove the files no letter points at: PDFs and temporary files that jobs killed before they recorded
    their PDF (or before the rename) left behind. Only letters no job can still be working on are looked at
    (failed, cancelled, or rendered after more than one attempt; a rendered letter's own job already removed the
    others unless it died right after recording), and only files older than STALE_CLAIM, longer than any job."""
    cutoff = older_than.timestamp()
    removed = 0
    for letter_id, case_id, storage_key in letters:
        try:
            for key, mtime in _letter_files(store, case_id, letter_id):
                if key != storage_key and mtime < cutoff:
                    store.delete(key)
                    removed += 1
        except OSError as exc:
            log.warning("letter files not tidied", extra={"letter_id": letter_id, "error": type(exc).__name__})
    return removed
