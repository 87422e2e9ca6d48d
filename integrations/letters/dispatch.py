"""After commit, and only then, letters asked for in a transaction are queued for rendering.

A job enqueued before commit could run before the row exists, or for a row that is then rolled back
(security.md 1.5: django-rq #187 and friends). The payload is letter ids only.

The letters of one commit go out in jobs of up to `CHUNK` letters each (`render_letters`): RQ's bookkeeping per job
(dequeue, status updates, registries: about 3 ms of CPU in the worker and Redis together) and the job's two
transactions are then paid once per chunk instead of once per letter (docs/benchmarks.md). Each letter is still
claimed, rendered and recorded exactly once; a job that finds a letter claimed or done skips it.

A chunk's job id names its letters (`render_job_id`): the same letters give the same id, so a chunk is never
queued twice, and the sweeper can tell from the ids in Redis which letters still have a job waiting.

Enqueueing after the commit can fail (Redis down or unreachable). The letter row is the record and it is already
committed, so a failed enqueue is logged and left to the sweeper (`sweep_letters`), never raised into the request
that asked for the letter: its transaction succeeded.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from integrations.letters.job_ids import CHUNK, chunks
from integrations.letters.jobs import queue_render_many
from integrations.queue import QueueUnavailable
from schulden.letters.lifecycle import entered_queue
from schulden.ports import JobQueue

log = logging.getLogger(__name__)

_KEY = "schuldroute.letters_to_render"


def install(factory: sessionmaker[Session], queue: JobQueue) -> None:
    """Hook this session factory: letters put in `queued` (new, or retried) are enqueued when their transaction
    commits."""
    if getattr(factory, "_letters_dispatch", None) is queue:
        return

    @event.listens_for(factory, "after_flush")
    def _collect(session: Session, _context: Any) -> None:
        # New letters and a person's retries alike: whatever entered `queued` in this transaction.
        queued = entered_queue(session)
        if queued:
            session.info.setdefault(_KEY, set()).update(queued)

    @event.listens_for(factory, "after_commit")
    def _dispatch(session: Session) -> None:
        ids = sorted(session.info.pop(_KEY, set()))
        for done, chunk in enumerate(chunks(ids)):
            try:
                queue_render_many(queue, chunk)
            except QueueUnavailable as exc:
                # One line for the lot, and no further tries: each would wait for the same dead Redis.
                log.warning(
                    "letters not enqueued after commit; the sweeper will",
                    extra={"letters": len(ids) - done * CHUNK, "first_letter_id": chunk[0], "error": _error(exc)},
                )
                return

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_KEY, None)

    factory._letters_dispatch = queue  # type: ignore[attr-defined]


def enqueue_render(queue: JobQueue, letter_id: int) -> bool:
    """Enqueue the render job after a commit (a person's retry, say); an unreachable queue is logged, not raised."""
    try:
        return queue_render_many(queue, [letter_id])
    except QueueUnavailable as exc:
        log.warning("letter not enqueued; the sweeper will", extra={"letter_id": letter_id, "error": _error(exc)})
        return False


def _error(exc: QueueUnavailable) -> str:
    """The underlying error's type: the message may hold a host name, never anything of a case."""
    return type(exc.__cause__).__name__ if exc.__cause__ is not None else type(exc).__name__
