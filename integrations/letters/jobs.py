"""Letter jobs: render a letter, e-mail a letter, sweep what got stuck. Each takes an id and may run twice.

Exactly once *in effect* (security.md 1.7): a job claims its letter with one conditional UPDATE (zero rows: someone
else has it or it is done, so it stops); it renders outside any transaction and writes the PDF under a name of
its own; then one conditional UPDATE records that file, and a job that lost its claim meanwhile removes its file.
One letter row, one PDF, whatever RQ does (retries, orphaned work horses, Redis losing its queue).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from integrations.letters.dispatch import enqueue_email, enqueue_render
from integrations.runtime import runtime
from schulden import audit
from schulden.letters.compose import REPLY_VALID_DAYS, TO_CREDITOR, Sender, compose, our_reference
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.letters.reply import new_reply_secrets
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


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sender_from_settings() -> Sender:
    s = runtime().settings
    return Sender(s.sender_name, s.sender_address, s.sender_phone, s.sender_email, s.public_url)


def render_letter(letter_id: int) -> str:
    """Render and store one letter's PDF. Safe to run any number of times, also at the same time."""
    rt = runtime()
    me = _worker_name()
    now = utcnow()
    with rt.database.session_scope() as session:
        claimed = session.execute(
            update(Letter)
            .where(
                Letter.id == letter_id,
                or_(
                    Letter.status == LetterStatus.QUEUED.value,
                    and_(Letter.status == LetterStatus.RENDERING.value, Letter.claimed_at < now - STALE_CLAIM),
                ),
            )
            .values(status=LetterStatus.RENDERING.value, claimed_at=now, claimed_by=me, attempts=Letter.attempts + 1)
            .returning(Letter.id)
        ).first()
    if claimed is None:
        return "not-claimed"  # rendered, cancelled, or another job is on it
    key = None
    try:
        from integrations.letters.render import render_pdf

        reply = new_reply_secrets()
        with rt.database.session() as session:
            letter = session.get_one(Letter, letter_id)
            content = compose(session, letter, sender=sender_from_settings(), calendar=rt.engine.calendar, reply=reply)
            case_id, letter_date, letter_type, channel = (
                letter.case_id,
                letter.letter_date,
                letter.letter_type,
                letter.channel,
            )
        pdf = render_pdf(content)
        from schulden.letters.templates import load_template

        version = load_template(letter_type).version
        sha = hashlib.sha256(pdf).hexdigest()
        key = f"letters/{case_id}/{letter_id}-{sha[:16]}.pdf"
        rt.store.put(key, pdf)
        with rt.database.session_scope() as session:
            values = {
                "status": LetterStatus.RENDERED.value,
                "storage_key": key,
                "sha256": sha,
                "size_bytes": len(pdf),
                "rendered_at": utcnow(),
                "template_version": version,
                "last_error": None,
            }
            if letter_type in TO_CREDITOR:
                values |= {
                    "reply_code_lookup": reply.lookup,
                    "reply_code_hash": reply.code_hash,
                    "reply_token_hash": reply.token_hash,
                    "reply_expires_at": datetime.combine(
                        letter_date + timedelta(days=REPLY_VALID_DAYS), datetime.min.time(), rt.engine.timezone
                    ),
                }
            done = session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.status == LetterStatus.RENDERING.value, Letter.claimed_by == me)
                .values(**values)
                .returning(Letter.id)
            ).first()
            if done is None:
                # Our claim was taken over while we rendered: the other job's PDF is the letter's.
                rt.store.delete(key)
                return "lost-claim"
            audit.record(session, actor=SYSTEM, action="letter.rendered", object_type="letter", object_id=letter_id,
                         case_id=case_id, details={"sha256": sha, "type": letter_type})  # fmt: skip
        if channel == Channel.EMAIL.value:
            enqueue_email(rt.queue, letter_id)
        return key
    except Exception as exc:
        if key is not None:
            rt.store.delete(key)
        final = _record_failure(letter_id, me, exc)
        log.warning("letter render failed", extra={"letter_id": letter_id, "error": type(exc).__name__, "final": final})
        if not final:
            raise  # RQ retries; the in-process queue leaves it to the sweeper
        return "failed"


def _record_failure(letter_id: int, me: str, exc: Exception) -> bool:
    """Back to `queued` for another try, or `failed` after the last; returns whether it was the last."""
    rt = runtime()
    with rt.database.session_scope() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.status != LetterStatus.RENDERING.value or letter.claimed_by != me:
            return True
        final = letter.attempts >= MAX_ATTEMPTS
        letter.status = LetterStatus.FAILED.value if final else LetterStatus.QUEUED.value
        # The error's type and a short text; never the letter's content.
        letter.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if final:
            audit.record(session, actor=SYSTEM, action="letter.failed", object_type="letter", object_id=letter_id,
                         case_id=letter.case_id, result="error", details={"error": type(exc).__name__})  # fmt: skip
        return final


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
    commit, a worker was killed) and rendered e-mail letters that were never sent."""
    rt = runtime()
    now = now or utcnow()
    with rt.database.session() as session:
        to_render = session.scalars(
            select(Letter.id).where(
                or_(
                    and_(Letter.status == LetterStatus.QUEUED.value, Letter.updated_at < now - LOST_AFTER),
                    and_(Letter.status == LetterStatus.RENDERING.value, Letter.claimed_at < now - STALE_CLAIM),
                )
            )
        ).all()
        to_email = session.scalars(
            select(Letter.id).where(
                Letter.status == LetterStatus.RENDERED.value,
                Letter.channel == Channel.EMAIL.value,
                Letter.letter_type != "L8",
                Letter.updated_at < now - LOST_AFTER,
                or_(Letter.delivery_started_at.is_(None), Letter.delivery_started_at < now - STALE_CLAIM),
            )
        ).all()
    for letter_id in to_render:
        enqueue_render(rt.queue, letter_id)
    for letter_id in to_email:
        enqueue_email(rt.queue, letter_id)
    return {"render": len(to_render), "email": len(to_email)}
