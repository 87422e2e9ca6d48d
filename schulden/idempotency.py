"""Idempotency keys: the first answer to a creating request, kept 24 hours so that a retry gets it again.

A client that lost the connection after `POST /api/v1/cases` cannot know whether the case was opened; sending the
same request again with the same `Idempotency-Key` (as payment APIs take it, draft-ietf-httpapi-idempotency-key-
header) must not open a second one. The key row is written in the request's own transaction, so it commits with
the work or not at all; the answer is added to it right after that commit.

What is kept: a hash of (user, method, path, key) as the scope, a hash of the body, the answer's status, its JSON
body and its Location and ETag. Neither the key nor the request is kept; the answer's body is what the user was
given already (for an intake: the case with its masked BSN), so rows older than LIFETIME are deleted
(`purge_expired`) and ignored in the meantime. Framework-free: the API's decorator is schulden.api.idempotency.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, Insert, String, Text, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from schulden.db import Base
from workflows.store import utcnow

#: How long an answer is kept and replayed; after that the same key starts a new request.
LIFETIME = timedelta(hours=24)
#: An unanswered key older than this is not "still running": its request committed and lost its answer.
IN_FLIGHT = timedelta(seconds=60)
#: The answer's headers that belong to it (where the new object is, its version); nothing else is kept.
KEPT_HEADERS = ("Location", "ETag")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of (user, method, path, key): the client's key itself is not stored.
    scope: Mapped[str] = mapped_column(String(64), unique=True)
    # Whose answer it is; it goes with the account.
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the request's query and body
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None until the answer is stored (right after the work committed).
    status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_idempotency_key_created_at", "created_at"),)


@dataclass(frozen=True)
class RequestKey:
    """One user's key for one method and path."""

    user_id: int
    method: str
    path: str
    key: str

    @property
    def scope(self) -> str:
        parts = json.dumps([self.user_id, self.method.upper(), self.path, self.key], ensure_ascii=True)
        return hashlib.sha256(parts.encode()).hexdigest()


def fingerprint(query: bytes, body: bytes) -> str:
    """sha256 of the query string and the body; a JSON body in a canonical form, so that a client that serialises
    the same object with its keys in another order or other spacing still sends "the same request"."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        canonical = body
    return hashlib.sha256(query + b"\n" + canonical).hexdigest()


def _insert_or_nothing(session: Session, values: dict[str, Any]) -> Insert:
    # Both dialects have INSERT ... ON CONFLICT DO NOTHING: no IntegrityError to catch, no savepoint needed.
    # On PostgreSQL it waits for a transaction that inserted the same scope and has not committed yet. RETURNING
    # says whether the row went in: psycopg's row count for this statement is -1.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = IdempotencyKey.__table__
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=["scope"])
    return cast(Insert, statement.returning(table.c.id))


@dataclass(frozen=True)
class FirstRequest:
    """What is known of the request that holds a key: its body's hash, when, and its answer once stored."""

    id: int
    fingerprint: str
    created_at: datetime
    status: int | None
    body: str | None
    headers: dict[str, str]


def claim(session: Session, key: RequestKey, request_fingerprint: str, *, now: datetime) -> FirstRequest | None:
    """Reserve `key` in the session's transaction (it commits with the request's work, or rolls back with it) and
    return None; or return what the request that holds it already left. An expired row of the scope is replaced."""
    scope = key.scope
    for _attempt in range(2):
        session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.created_at < now - LIFETIME)
        )
        values = {"scope": scope, "user_id": key.user_id, "fingerprint": request_fingerprint, "created_at": now}
        if session.execute(_insert_or_nothing(session, values)).first() is not None:
            return None
        row = session.execute(
            select(
                IdempotencyKey.id, IdempotencyKey.fingerprint, IdempotencyKey.created_at, IdempotencyKey.status,
                IdempotencyKey.body, IdempotencyKey.headers,
            ).where(IdempotencyKey.scope == scope)
        ).first()  # fmt: skip
        if row is not None:
            return FirstRequest(row.id, row.fingerprint, row.created_at, row.status, row.body, dict(row.headers or {}))
        # The holder rolled back or forgot its claim between the insert and the select: try once more.
    raise RuntimeError("idempotency key could neither be claimed nor read")


def keep_answer(session: Session, key: RequestKey, *, status: int, body: str, headers: dict[str, str]) -> bool:
    """Store the answer of the request that claimed `key`; False when no claim committed (the request committed
    nothing, so a retry may simply run again). Does not commit."""
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    result = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == key.scope, IdempotencyKey.status.is_(None))
        .values(status=status, body=body, headers=kept)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def forget(session: Session, key: RequestKey) -> None:
    """Drop an unanswered claim (the request did not succeed): the same key may be sent again. Does not commit."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope == key.scope, IdempotencyKey.status.is_(None)))


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete every row older than LIFETIME: the answers hold personal data. Returns how many. Does not commit."""
    cutoff = (now or utcnow()) - LIFETIME
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
