"""After commit, and only then, letters asked for in a transaction are queued for rendering.

A job enqueued before commit could run before the row exists, or for a row that is then rolled back
(security.md 1.5: django-rq #187 and friends). The payload is the letter id only.

Enqueueing after the commit can fail (Redis down or unreachable). The letter row is the record and it is already
committed, so a failed enqueue is logged and left to the sweeper (`sweep_letters`), never raised into the request
that asked for the letter: its transaction succeeded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from integrations.queue import JobQueue, QueueUnavailable
from schulden.letters.models import Letter, LetterStatus

log = logging.getLogger(__name__)

_KEY = "schuldroute.letters_to_render"


def install(factory: sessionmaker[Session], queue: JobQueue) -> None:
    """Hook this session factory: new queued letters are enqueued when their transaction commits."""
    if getattr(factory, "_letters_dispatch", None) is queue:
        return

    @event.listens_for(factory, "after_flush")
    def _collect(session: Session, _context: Any) -> None:
        for obj in session.new:
            if isinstance(obj, Letter) and obj.status == LetterStatus.QUEUED.value:
                session.info.setdefault(_KEY, set()).add(obj.id)

    @event.listens_for(factory, "after_commit")
    def _dispatch(session: Session) -> None:
        ids = sorted(session.info.pop(_KEY, set()))
        for done, letter_id in enumerate(ids):
            try:
                queue_render(queue, letter_id)
            except QueueUnavailable as exc:
                # One line for the lot, and no further tries: each would wait for the same dead Redis.
                log.warning(
                    "letters not enqueued after commit; the sweeper will",
                    extra={"letters": len(ids) - done, "first_letter_id": letter_id, "error": _error(exc)},
                )
                return

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_KEY, None)

    factory._letters_dispatch = queue  # type: ignore[attr-defined]


def queue_render(queue: JobQueue, letter_id: int, *, replace_started_before: datetime | None = None) -> bool:
    """Enqueue the letter's render job; whether a new job was queued. Raises QueueUnavailable."""
    from integrations.letters.jobs import render_letter

    return queue.enqueue(
        render_letter,
        letter_id,
        queue="letters",
        job_id=render_job_id(letter_id),
        replace_started_before=replace_started_before,
    )


def queue_email(queue: JobQueue, letter_id: int, *, replace_started_before: datetime | None = None) -> bool:
    """Enqueue the letter's e-mail job; whether a new job was queued. Raises QueueUnavailable."""
    from integrations.letters.jobs import send_letter_email

    return queue.enqueue(
        send_letter_email,
        letter_id,
        queue="mail",
        job_id=f"email-letter-{letter_id}",
        replace_started_before=replace_started_before,
    )


def render_job_id(letter_id: int) -> str:
    return f"render-letter-{letter_id}"


def enqueue_render(queue: JobQueue, letter_id: int) -> bool:
    """Enqueue the render job after a commit (a person's retry, say); an unreachable queue is logged, not raised."""
    try:
        return queue_render(queue, letter_id)
    except QueueUnavailable as exc:
        log.warning("letter not enqueued; the sweeper will", extra={"letter_id": letter_id, "error": _error(exc)})
        return False


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
