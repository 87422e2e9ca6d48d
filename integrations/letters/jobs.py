"""Letter jobs: render a chunk of letters, e-mail a letter, sweep what got stuck. Each takes ids and may run twice.

Exactly once *in effect* (security.md 1.7): a job claims its letters with one conditional UPDATE (a letter not
returned is someone else's or done, so it is skipped); it renders outside any transaction and writes each PDF under
a name of its own; then one conditional UPDATE per letter records that file, and a letter whose claim was taken over
meanwhile has its file removed.
After recording, the job removes every other file of its letter (a job killed between writing its PDF and
recording it left one); the sweeper does the same for letters that never get recorded (failed, cancelled).
One letter row, one PDF, whatever RQ does (retries, orphaned work horses, Redis losing its queue).

A job costs two transactions, whatever the size of its chunk: the claim with every read that composing the
letters needs, and the record with the audit rows. The reply code's lookup is reserved by the claim itself (a unique
column), so a lookup already taken costs a new draw before anything is rendered, never an attempt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Connection, and_, bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from integrations.letters.job_ids import chunks, letters_of_job, render_job_id
from integrations.queue import QueueUnavailable
from integrations.runtime import Runtime, runtime
from schulden import audit
from schulden.audit import AuditEntry
from schulden.cases.models import Case, Detainee
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.letters import lifecycle
from schulden.letters.compose import REPLY_VALID_DAYS, TO_CREDITOR, Sender, compose, our_reference
from schulden.letters.content import LetterContent
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.letters.reply_codes import ReplyCodeKey, ReplySecrets, new_reply_secrets
from schulden.letters.templates import load_template
from schulden.letters.text_versions import sync_stored_texts
from schulden.organisations.models import Organisation
from schulden.ports import FileStore, JobQueue
from schulden.users.models import User
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
#: How long a job keeps trying to give a letter back (or record it failed) while the database does not answer:
#: within this an outage costs the letter nothing; beyond it the claim goes stale and its take-over counts an
#: attempt (a job that dies and one that cannot write look the same from the database). Well below JOB_TIMEOUT.
RECORD_PATIENCE = 60.0
#: Errors of the database connection itself, not of a statement: a retry later may succeed.
_DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
#: The unique constraint (PostgreSQL) or column (SQLite) named when a drawn lookup is taken.
_LOOKUP_TAKEN = ("uq_letter_reply_code_lookup", "letter.reply_code_lookup")


class InfrastructureDown(Exception):
    """The letter store, the database or Redis failed the job, not the letter: the letter goes back to `queued`
    with its attempt given back (`lifecycle.render_deferred`), and the job is retried."""


def _infrastructure(exc: BaseException) -> bool:
    return isinstance(exc, (InfrastructureDown, RedisError, *_DATABASE_DOWN))


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sender_from_settings() -> Sender:
    s = runtime().settings
    return Sender(s.sender_name, s.sender_address, s.sender_phone, s.sender_email, s.public_url)


@dataclass(frozen=True)
class _Claimed:
    """What a job took from the database in its claim: the letter's facts and its composed content (or why
    composing failed: the claim is committed either way, so the attempt counts)."""

    letter_id: int
    case_id: int
    letter_type: str
    letter_date: date
    channel: str
    reply: ReplySecrets
    content: LetterContent | None
    error: Exception | None


@dataclass(frozen=True)
class _Rendered:
    """A claimed letter whose PDF is in the folder store (or, for the database store, in `pdf`), not yet
    recorded."""

    claimed: _Claimed
    key: str
    sha: str
    size: int
    version: str
    pdf: bytes | None = None


def render_letter(letter_id: int) -> str:
    """Render and store one letter's PDF (the CLI, a referral's delivery, jobs enqueued before chunks). Returns
    the stored key, or "not-claimed", "lost-claim", "failed"; raises when RQ should try the letter again."""
    return render_letters([letter_id])[letter_id]


def render_letters(letter_ids: Sequence[int]) -> dict[int, str]:
    """Render and store the PDFs of these letters (one RQ job for a chunk of them). Safe to run any number of
    times, also at the same time, also with overlapping chunks: each letter is claimed, rendered and recorded once.

    A letter that fails does not fail the others: they are recorded first, then the job raises (the first
    failure that has attempts left) so that RQ retries it; the retry finds the recorded letters done and skips
    them. Returns each letter's outcome (its key, or "not-claimed", "lost-claim", "failed", "retry")."""
    rt = runtime()
    assert rt.database.engine is not None
    # One connection for both transactions of the job: one pool checkout (and pre-ping round trip), not two.
    with rt.database.engine.connect() as conn:
        return _render(rt, conn, sorted(set(letter_ids)), _worker_name())


def _render(rt: Runtime, conn: Connection, letter_ids: list[int], me: str) -> dict[int, str]:
    outcomes = dict.fromkeys(letter_ids, "not-claimed")  # rendered, cancelled, or another job is on it
    assert rt.database.sessionmaker is not None
    with rt.database.sessionmaker(bind=conn) as session:
        # A text an administrator stored since this process last looked is used from this job on.
        sync_stored_texts(session)
    claimed = _claim(rt, conn, letter_ids, me)
    if not claimed:
        return outcomes
    failures: dict[int, Exception] = {}
    rendered = _render_pdfs(rt, claimed, failures)
    kept = _record_rendered(rt, conn, me, rendered, failures, outcomes)
    _remove_other_files(rt.store, [(d.claimed.case_id, d.claimed.letter_id, d.key) for d in kept])
    for done in kept:
        if done.claimed.channel == Channel.EMAIL.value:
            enqueue_email(rt.queue, done.claimed.letter_id)
    retry = _record_failures(me, failures, outcomes)
    if retry is not None:
        raise retry  # RQ retries the job; the in-process queue leaves it to the sweeper
    return outcomes


def _render_pdfs(rt: Runtime, claimed: list[_Claimed], failures: dict[int, Exception]) -> list[_Rendered]:
    """Render and store each claimed letter's PDF under a name of its own; a letter that fails goes to `failures`."""
    # The renderer (reportlab and its fonts) is loaded by a job that renders, never by the web process that only
    # imports this module to enqueue.
    from integrations.letters.render import render_pdf

    rendered: list[_Rendered] = []
    for letter in claimed:
        key = None
        try:
            if letter.error is not None:
                raise letter.error
            assert letter.content is not None
            pdf = render_pdf(letter.content)
            sha = hashlib.sha256(pdf).hexdigest()
            key = f"letters/{letter.case_id}/{letter.letter_id}-{sha[:16]}.pdf"
            version = load_template(letter.letter_type).version
            if rt.store.in_database:  # written with the record, in its transaction (`_record`)
                rendered.append(_Rendered(letter, key, sha, len(pdf), version, pdf))
                continue
            try:
                rt.store.put(key, pdf)
            except OSError as exc:  # full, read-only, gone: the store's fault, not the letter's
                raise InfrastructureDown(f"{type(exc).__name__} in the letter store: {exc.strerror or exc}") from exc
            rendered.append(_Rendered(letter, key, sha, len(pdf), version))
        except Exception as exc:
            if key is not None:
                rt.store.delete(key)
            failures[letter.letter_id] = exc
    return rendered


def _record_rendered(
    rt: Runtime,
    conn: Connection,
    me: str,
    rendered: list[_Rendered],
    failures: dict[int, Exception],
    outcomes: dict[int, str],
) -> list[_Rendered]:
    """Record the stored PDFs; returns those recorded as ours. A file whose claim was taken over meanwhile is
    removed; when the record itself fails, every letter of the chunk fails this attempt."""
    recorded: set[int] = set()
    try:
        if rendered:
            recorded = _record(rt, conn, me, rendered)
    except Exception as exc:  # nothing of the chunk recorded: every letter fails this attempt
        for done in rendered:
            if done.pdf is not None:  # rolled back with the record
                failures[done.claimed.letter_id] = exc
                continue
            try:
                rt.store.delete(done.key)
            except OSError:  # the sweeper removes it once the letter is recorded
                log.warning("letter file not removed", extra={"letter_id": done.claimed.letter_id})
            failures[done.claimed.letter_id] = exc
        return []
    # Recorded and committed: from here on nothing may undo those letters, so a failure below is only logged.
    kept = []
    for done in rendered:
        letter_id = done.claimed.letter_id
        if letter_id not in recorded:
            # Our claim was taken over while we rendered: the other job's PDF is the letter's.
            if done.pdf is None:
                rt.store.delete(done.key)
            outcomes[letter_id] = "lost-claim"
            continue
        outcomes[letter_id] = done.key
        kept.append(done)
    return kept


def _record_failures(me: str, failures: dict[int, Exception], outcomes: dict[int, str]) -> Exception | None:
    """Record each failed letter (another try, or failed after the last); returns the first error with attempts
    left, for the job to raise so that RQ retries it."""
    retry: Exception | None = None
    for letter_id, error in failures.items():
        if _infrastructure(error):
            _record_failure(letter_id, me, error, defer=True)
            log.warning("letter deferred", extra={"letter_id": letter_id, "error": type(error).__name__})
            outcomes[letter_id] = "deferred"
            retry = retry or error
            continue
        final = _record_failure(letter_id, me, error)
        log.warning(
            "letter render failed", extra={"letter_id": letter_id, "error": type(error).__name__, "final": final}
        )
        outcomes[letter_id] = "failed" if final else "retry"
        if not final and retry is None:
            retry = error
    return retry


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


def _free_draws(session: Session, letter_ids: list[int], key: ReplyCodeKey) -> dict[int, ReplySecrets]:
    """A reply secret per letter whose lookup no letter holds yet (nor another of the chunk). Looked up before the
    claim: one taken lookup would fail the claim of the whole chunk, and at a million letters one draw in six is
    taken. A lookup another job reserves between this look-up and our claim still fails the claim (see `_claim`)."""
    replies = {letter_id: new_reply_secrets(key) for letter_id in letter_ids}
    for _ in range(LOOKUP_DRAWS):
        lookups = [reply.lookup for reply in replies.values()]
        taken = set(session.scalars(select(Letter.reply_code_lookup).where(Letter.reply_code_lookup.in_(lookups))))
        seen: set[str] = set()
        clashes = []
        for letter_id, reply in replies.items():
            if reply.lookup in taken or reply.lookup in seen:
                clashes.append(letter_id)
            seen.add(reply.lookup)
        if not clashes:
            return replies
        for letter_id in clashes:
            log.info("reply code lookup taken, drawing another", extra={"letter_id": letter_id})
            replies[letter_id] = new_reply_secrets(key)
    raise RuntimeError(f"no free reply-code lookup in {LOOKUP_DRAWS} draws")


def _claim(rt: Runtime, conn: Connection, letter_ids: list[int], me: str) -> list[_Claimed]:
    """Claim the letters that are free and compose them, in one transaction; [] when none is ours to render."""
    now = utcnow()
    assert rt.database.sessionmaker is not None
    key = ReplyCodeKey.derive(rt.settings.secret_key)
    for _ in range(LOOKUP_DRAWS):
        with rt.database.sessionmaker(bind=conn) as session:
            replies = _free_draws(session, letter_ids, key)
            try:
                letters = lifecycle.claim(
                    session,
                    {i: reply.lookup for i, reply in replies.items()},
                    now=now,
                    me=me,
                    stale_before=now - STALE_CLAIM,
                )
            except IntegrityError as exc:
                if not any(name in str(exc.orig) for name in _LOOKUP_TAKEN):
                    raise
                session.rollback()
                log.info("reply code lookup taken, drawing another", extra={"letter_id": letter_ids[0]})
                continue
            sender = sender_from_settings()
            rows = _preload(session, letters)  # held here: the identity map keeps only weak references
            claimed = []
            for letter in sorted(letters, key=lambda lt: lt.id):
                content: LetterContent | None = None
                error: Exception | None = None
                try:
                    content = compose(
                        session, letter, sender=sender, calendar=rt.engine.calendar, reply=replies[letter.id]
                    )
                except Exception as exc:  # the claim still commits: the attempt counts, the failure is recorded
                    error = exc
                claimed.append(
                    _Claimed(
                        letter.id,
                        letter.case_id,
                        letter.letter_type,
                        letter.letter_date,
                        letter.channel,
                        replies[letter.id],
                        content,
                        error,
                    )
                )
            session.commit()
            del rows
            return claimed
    raise RuntimeError(f"no free reply-code lookup in {LOOKUP_DRAWS} draws")


def _preload(session: Session, letters: Sequence[Letter]) -> list[Any]:
    """Load the rows that `compose` gets by primary key for a whole chunk, a statement per table, so that its
    `session.get` calls are hits in the session. For one letter it costs more than the gets, so only for several."""
    if len(letters) < 2:
        return []
    cases = session.scalars(select(Case).where(Case.id.in_({lt.case_id for lt in letters}))).all()
    debt_ids = {lt.debt_id for lt in letters if lt.debt_id is not None}
    debts = session.scalars(select(Debt).where(Debt.id.in_(debt_ids))).all() if debt_ids else []
    creditor_ids = {lt.creditor_id for lt in letters if lt.creditor_id is not None} | {d.creditor_id for d in debts}
    creditors = session.scalars(select(Creditor).where(Creditor.id.in_(creditor_ids))).all() if creditor_ids else []
    detainees = session.scalars(select(Detainee).where(Detainee.id.in_({c.detainee_id for c in cases}))).all()
    org_ids = {c.pi_id for c in cases} | {c.municipality_id for c in cases if c.municipality_id is not None}
    organisations = session.scalars(select(Organisation).where(Organisation.id.in_(org_ids))).all()
    # The counsellor who asked for the letter signs it (compose's `_counsellor_name`).
    user_ids = {int(by[5:]) for lt in letters if (by := lt.requested_by).startswith("user:") and by[5:].isdigit()}
    users = session.scalars(select(User).where(User.id.in_(user_ids))).all() if user_ids else []
    return [*cases, *debts, *creditors, *detainees, *organisations, *users]


def _record(rt: Runtime, conn: Connection, me: str, rendered: list[_Rendered]) -> set[int]:
    """Record the stored PDFs and their audit rows in one transaction, each only if its claim is still ours;
    returns the letters recorded."""
    recorded: set[int] = set()
    audit_rows = []
    with conn.begin():
        for done in rendered:
            claimed = done.claimed
            to_creditor = claimed.letter_type in TO_CREDITOR
            expires = datetime.combine(
                claimed.letter_date + timedelta(days=REPLY_VALID_DAYS), datetime.min.time(), rt.engine.timezone
            )
            if not lifecycle.rendered(
                conn,
                letter_id=claimed.letter_id,
                me=me,
                key=done.key,
                sha=done.sha,
                size=done.size,
                at=utcnow(),
                version=done.version,
                code_hash=claimed.reply.code_hash if to_creditor else None,
                token_hash=claimed.reply.token_hash if to_creditor else None,
                expires=expires if to_creditor else None,
            ):
                continue
            if done.pdf is not None:  # the database store: the PDF commits (or rolls back) with its record
                rt.store.put_within(conn, done.key, done.pdf)
            recorded.add(claimed.letter_id)
            audit_rows.append(
                {
                    "object_id": str(claimed.letter_id),
                    "case_id": claimed.case_id,
                    "details": {"sha256": done.sha, "type": claimed.letter_type},
                }
            )
        if audit_rows:
            conn.execute(_AUDIT, audit_rows)  # one multi-row INSERT for the chunk
    return recorded


def _record_failure(letter_id: int, me: str, exc: Exception, *, defer: bool = False) -> bool:
    """Back to `queued` for another try, or `failed` after the last; returns whether it was the last. With `defer`
    (the infrastructure's fault) back to `queued` with the attempt given back. While the database does not answer
    this is tried again for up to RECORD_PATIENCE seconds, then the error is raised (the claim goes stale)."""
    # The error's type and a short text; never the letter's content.
    cause = exc.__cause__ if isinstance(exc, InfrastructureDown) and exc.__cause__ is not None else exc
    error = f"{type(cause).__name__}: {str(exc)[:200]}"
    deadline = time.monotonic() + RECORD_PATIENCE
    pause = 0.5
    while True:
        try:
            return _write_failure(letter_id, me, error, type(cause).__name__, defer=defer)
        except _DATABASE_DOWN as down:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("letter outcome not recorded yet", extra={"letter_id": letter_id,
                                                                   "error": type(down).__name__})  # fmt: skip
            time.sleep(pause)
            pause = min(pause * 2, 10.0)


def _write_failure(letter_id: int, me: str, error: str, kind: str, *, defer: bool) -> bool:
    rt = runtime()
    with rt.database.session_scope() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or not lifecycle.holds_claim(letter, me):
            return True
        if defer:
            lifecycle.render_deferred(letter, error=error)
            return False
        final = lifecycle.render_failed(letter, error=error, max_attempts=MAX_ATTEMPTS)
        if final:
            audit.record(session, actor=SYSTEM, action="letter.failed", object_type="letter", object_id=letter_id,
                         case_id=letter.case_id, result="error", details={"error": kind})  # fmt: skip
        return final


def _letter_files(store: FileStore, case_id: int, letter_id: int) -> list[tuple[str, float]]:
    """(key, modification time) of every file of this letter in the store: its PDFs (`<id>-<sha>.pdf`, one per
    job that got as far as writing) and the temporary files of writes that never finished."""
    return [
        (key, mtime)
        for key, mtime in store.entries(f"letters/{case_id}")
        if key.rsplit("/", 1)[-1].startswith((f"{letter_id}-", f".tmp-{letter_id}-"))
    ]


def _remove_other_files(store: FileStore, letters: Sequence[tuple[int, int, str]]) -> int:
    """For each (case, letter, recorded key): remove every file of the letter but its recorded PDF; returns how
    many went. Each case's folder is listed once, however many of its letters the chunk holds."""
    removed = 0
    by_case: dict[int, dict[int, str]] = {}
    for case_id, letter_id, keep in letters:
        by_case.setdefault(case_id, {})[letter_id] = keep
    for case_id, keep_of in by_case.items():
        try:
            for key, _mtime in store.entries(f"letters/{case_id}"):
                name = key.rsplit("/", 1)[-1]
                head = name.removeprefix(".tmp-").split("-", 1)[0]
                owner = int(head) if head.isdigit() else None
                if owner is not None and owner in keep_of and key != keep_of[owner]:
                    store.delete(key)
                    removed += 1
        except OSError as exc:  # the letters are recorded; the sweeper tries again
            log.warning("letter files not tidied", extra={"case_id": case_id, "error": type(exc).__name__})
    return removed


def send_letter_email(letter_id: int) -> str:
    """E-mail one rendered letter to a creditor that takes e-mail. A crash halfway is detectable: the message id
    is fixed per letter, so a resend is recognisable as the same message."""
    rt = runtime()
    now = utcnow()
    with rt.database.session_scope() as session:
        if not lifecycle.claim_email(session, letter_id, now=now, stale_before=now - STALE_CLAIM):
            return "not-claimed"
        letter = session.get_one(Letter, letter_id)
        letter.email_message_id = (
            letter.email_message_id
            or f"<letter-{letter.id}.{letter.sha256[:12] if letter.sha256 else 'x'}@schuldroute>"
        )
        address = _email_target(session, letter)
        subject = f"Brief {letter.letter_type} - {our_reference(letter)}"
        storage_key, message_id = letter.storage_key, letter.email_message_id
        letter_has_reply = letter.reply_code_hash is not None
    if address is None or storage_key is None:
        _email_failed(letter_id, "geen e-mailadres bekend")
        return "no-address"
    try:
        rt.mailer.send_pdf(
            to=address,
            subject=subject,
            # A letter without a reply code (the notice that our authorisation ended) asks for no answer.
            body="Bijgaand onze brief."
            + (" Antwoorden kan met de code of QR-code in de brief." if letter_has_reply else ""),
            pdf=rt.store.get(storage_key),
            filename=f"brief-{letter_id}.pdf",
            message_id=message_id,
        )
    except Exception as exc:
        _email_failed(letter_id, f"{type(exc).__name__}: {str(exc)[:200]}")
        raise
    with rt.database.session_scope() as session:
        letter = session.get_one(Letter, letter_id)
        lifecycle.sent(session, rt.engine, [letter], at=utcnow())
        audit.record(session, actor=SYSTEM, action="letter.emailed", object_type="letter", object_id=letter_id,
                     case_id=letter.case_id)  # fmt: skip
    return "sent"


def _email_target(session: Session, letter: Letter) -> str | None:
    if letter.creditor_id is not None:
        return letter.recipient_email  # fixed when the letter was made: a directory change cannot redirect it
    if letter.organisation_id is not None:
        org = session.get(Organisation, letter.organisation_id)
        return org.email if org else None
    return None


def _email_failed(letter_id: int, reason: str) -> None:
    with runtime().database.session_scope() as session:
        lifecycle.email_failed(session.get_one(Letter, letter_id), reason)


def sweep_letters(now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue letters whose job got lost (Redis restarted without persistence, an enqueue failed after
    commit, a worker was killed) and rendered e-mail letters that were never sent; tidy the files of letters whose
    jobs died. Returns how many letters it enqueued a render job for, and how many e-mail jobs (not how many
    letters it looked at: a letter whose job still waits in the queue is left alone and not counted)."""
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
    # older than STALE_CLAIM (longer than any job may run) says that job is dead: its letters are enqueued again
    # whatever RQ says (a chunk with the same letters replaces the dead job). A letter without a claim is left
    # alone while a job naming it still waits, or started less than STALE_CLAIM ago; the others go out in chunks.
    # A letter in two jobs costs the second a claim that returns nothing, never a second PDF.
    claimed = [letter_id for letter_id, status in to_render if status == LetterStatus.RENDERING.value]
    lost = [letter_id for letter_id, status in to_render if status != LetterStatus.RENDERING.value]
    try:
        if lost:
            waiting = {
                letter_id
                for job_id in rt.queue.waiting_job_ids("letters", started_after=now - STALE_CLAIM)
                for letter_id in letters_of_job(job_id)
            }
            lost = [letter_id for letter_id in lost if letter_id not in waiting]
        for group, dead_before in ((claimed, now), (lost, now - STALE_CLAIM)):
            for chunk in chunks(group):
                if queue_render_many(rt.queue, chunk, replace_started_before=dead_before):
                    report["render"] += len(chunk)
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


# -- enqueueing (the outbox in dispatch.py, the sweeper and a rendered e-mail letter) ---------------------------


def queue_render(queue: JobQueue, letter_id: int, *, replace_started_before: datetime | None = None) -> bool:
    """Enqueue one letter's render job; whether a new job was queued. Raises QueueUnavailable."""
    return queue_render_many(queue, [letter_id], replace_started_before=replace_started_before)


def queue_render_many(
    queue: JobQueue, letter_ids: Sequence[int], *, replace_started_before: datetime | None = None
) -> bool:
    """Enqueue one job for these letters (at most CHUNK); whether a new job was queued. Raises QueueUnavailable."""
    ids = sorted(set(letter_ids))
    return queue.enqueue(
        render_letters,
        ids,
        queue="letters",
        job_id=render_job_id(ids),
        replace_started_before=replace_started_before,
    )


def queue_email(queue: JobQueue, letter_id: int, *, replace_started_before: datetime | None = None) -> bool:
    """Enqueue the letter's e-mail job; whether a new job was queued. Raises QueueUnavailable."""
    return queue.enqueue(
        send_letter_email,
        letter_id,
        queue="mail",
        job_id=f"email-letter-{letter_id}",
        replace_started_before=replace_started_before,
    )


def enqueue_email(queue: JobQueue, letter_id: int) -> bool:
    """Enqueue the e-mail job of a rendered letter; an unreachable queue is logged, not raised."""
    try:
        return queue_email(queue, letter_id)
    except QueueUnavailable as exc:
        log.warning("e-mail not enqueued; the sweeper will", extra={"letter_id": letter_id, "error": _error(exc)})
        return False


def _error(exc: QueueUnavailable) -> str:
    """The underlying error's type: the message may hold a host name, never anything of a case."""
    return type(exc.__cause__).__name__ if exc.__cause__ is not None else type(exc).__name__
