"""After commit, and only then, letters asked for in a transaction are queued for rendering.

A job enqueued before commit could run before the row exists, or for a row that is then rolled back
(security.md 1.5: django-rq #187 and friends). The payload is the letter id only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from integrations.queue import JobQueue
from schulden.letters.models import Letter, LetterStatus

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
        ids = session.info.pop(_KEY, set())
        for letter_id in sorted(ids):
            enqueue_render(queue, letter_id)

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_KEY, None)

    factory._letters_dispatch = queue  # type: ignore[attr-defined]


def enqueue_render(queue: JobQueue, letter_id: int) -> None:
    from integrations.letters.jobs import render_letter

    queue.enqueue(render_letter, letter_id, queue="letters", job_id=f"render-letter-{letter_id}")


def enqueue_email(queue: JobQueue, letter_id: int) -> None:
    from integrations.letters.jobs import send_letter_email

    queue.enqueue(send_letter_email, letter_id, queue="mail", job_id=f"email-letter-{letter_id}")
