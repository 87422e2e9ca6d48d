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
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from integrations.queue import JobQueue, QueueUnavailable
from schulden.letters.models import Letter, LetterStatus

log = logging.getLogger(__name__)

_KEY = "schuldroute.letters_to_render"
#: Letters per render job. Past ~25 the per-job costs are noise (<0.1 ms a letter) while a job killed mid-chunk
#: leaves more letters to the sweeper and a chunk's letters wait for each other's record (25 x ~12 ms = 0.3 s).
CHUNK = 25

_ONE = "render-letter-"
_MANY = "render-letters-"
_RANGES = re.compile(r"^(\d+)(?:-(\d+))?$")


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


def chunks(letter_ids: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    """The ids, sorted, in runs of `size`: neighbouring letters (one commit's, one case's) share a job."""
    ordered = sorted(set(letter_ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def queue_render(queue: JobQueue, letter_id: int, *, replace_started_before: datetime | None = None) -> bool:
    """Enqueue one letter's render job; whether a new job was queued. Raises QueueUnavailable."""
    return queue_render_many(queue, [letter_id], replace_started_before=replace_started_before)


def queue_render_many(
    queue: JobQueue, letter_ids: Sequence[int], *, replace_started_before: datetime | None = None
) -> bool:
    """Enqueue one job for these letters (at most CHUNK); whether a new job was queued. Raises QueueUnavailable."""
    from integrations.letters.jobs import render_letters

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
    from integrations.letters.jobs import send_letter_email

    return queue.enqueue(
        send_letter_email,
        letter_id,
        queue="mail",
        job_id=f"email-letter-{letter_id}",
        replace_started_before=replace_started_before,
    )


def render_job_id(letter_ids: Sequence[int]) -> str:
    """`render-letter-7` for one letter; `render-letters-7-9_12` (runs of consecutive ids) for several. The id
    names exactly its letters: unique per chunk, and readable back by `letters_of_job`."""
    ids = sorted(set(letter_ids))
    if len(ids) == 1:
        return f"{_ONE}{ids[0]}"
    runs: list[str] = []
    start = prev = ids[0]
    for letter_id in [*ids[1:], None]:
        if letter_id is not None and letter_id == prev + 1:
            prev = letter_id
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if letter_id is not None:
            start = prev = letter_id
    return _MANY + "_".join(runs)


def letters_of_job(job_id: str) -> list[int]:
    """The letter ids a render job's id names ([] for any other job)."""
    if job_id.startswith(_ONE) and job_id[len(_ONE) :].isdigit():
        return [int(job_id[len(_ONE) :])]
    if not job_id.startswith(_MANY):
        return []
    ids: list[int] = []
    for run in job_id[len(_MANY) :].split("_"):
        match = _RANGES.match(run)
        if match is None:
            return []
        first = int(match[1])
        ids.extend(range(first, int(match[2] or first) + 1))
    return ids


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
