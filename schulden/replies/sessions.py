"""Creditor reply sessions on the server (security.md 2.2; issue 10 item 3).

Opening the reply page with the code or the QR link makes a reply_session row and hands the browser a random
256-bit id (secrets.token_urlsafe(32)) for its cookie; only the id's SHA-256 is stored, behind a prefix of its own
so that neither a QR token nor a staff session token is ever a reply session id. Every request looks the row up:
ended, expired, unknown and a letter whose code was revoked or expired meanwhile all answer None alike. The row is
ended when the answer is submitted, when the code is revoked, when it is found expired and when the same browser
opens another letter. Services flush and never commit.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.letters.models import Letter
from schulden.ports import FileStore
from schulden.replies.codes import usable_letter
from schulden.replies.models import ReplySession, ReplySessionEnd

#: How long a reply session lasts after the code or link was used: long enough to look up a balance.
LIFETIME = timedelta(minutes=45)
_HASH_PREFIX = b"reply-session:"
#: A session id from token_urlsafe(32) has 43 characters; anything much longer is not one of ours.
_MAX_ID_LENGTH = 100


def session_hash(session_id: str) -> str:
    return hashlib.sha256(_HASH_PREFIX + session_id.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def open_session(session: Session, letter: Letter, *, now: datetime, replaces: str | None = None) -> str:
    """A new reply session for `letter`; returns the id for the cookie (never stored, never logged). The
    browser's earlier session (`replaces`, from its cookie) ends: one browser, one open letter."""
    if replaces:
        end_session(session, replaces, now=now, reason=ReplySessionEnd.REPLACED)
    session_id = secrets.token_urlsafe(32)
    session.add(ReplySession(session_hash=session_hash(session_id), letter_id=letter.id, created_at=now,
                             expires_at=now + LIFETIME))  # fmt: skip
    session.flush()
    return session_id


def letter_of_session(session: Session, session_id: object, *, now: datetime) -> Letter | None:
    """The letter an open session may see, or None. A session found expired, or whose letter can no longer be
    answered, is ended here (the caller commits)."""
    if not isinstance(session_id, str) or not session_id or len(session_id) > _MAX_ID_LENGTH:
        return None
    row = session.scalar(select(ReplySession).where(ReplySession.session_hash == session_hash(session_id)))
    if row is None or row.ended_at is not None:
        return None
    if _aware(row.expires_at) <= now:
        _end(row, now, ReplySessionEnd.EXPIRED)
        return None
    letter = session.get(Letter, row.letter_id)
    usable = usable_letter(letter, now)
    if usable is None:
        revoked = letter is not None and letter.reply_revoked_at is not None
        _end(row, now, ReplySessionEnd.REVOKED if revoked else ReplySessionEnd.EXPIRED)
    return usable


def _end(row: ReplySession, now: datetime, reason: ReplySessionEnd) -> None:
    if row.ended_at is None:
        row.ended_at = now
        row.ended_reason = reason.value


def end_session(session: Session, session_id: object, *, now: datetime, reason: ReplySessionEnd) -> None:
    """End the session with this id, if it is open (submit, another letter opened in the same browser)."""
    if not isinstance(session_id, str) or not session_id or len(session_id) > _MAX_ID_LENGTH:
        return
    row = session.scalar(select(ReplySession).where(ReplySession.session_hash == session_hash(session_id)))
    if row is not None:
        _end(row, now, reason)


# -- the answer being written: a draft on the server, tied to the session ------------------------------------------
# Between the form and "Controleer uw antwoord" the typed answer and a chosen PDF wait in the file store under the
# session's hash (never in the cookie: a note is 5 000 characters, and a browser cannot keep a chosen file after an
# error). The draft goes when the answer is sent; drafts of sessions left halfway are swept once their session's
# lifetime has passed, the next time any reply session opens.

DRAFTS = "replies/drafts"


@dataclass(frozen=True)
class PendingFile:
    """A PDF the creditor chose, checked and kept with the draft until the answer is sent."""

    key: str
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Draft:
    """What the creditor typed (the form's text, as typed) and the PDF it chose, if any."""

    values: dict[str, str]
    attachment: PendingFile | None = None


def _draft_key(session_id: str) -> str:
    return f"{DRAFTS}/{session_hash(session_id)}.json"


def _usable(session_id: object) -> bool:
    return isinstance(session_id, str) and bool(session_id) and len(session_id) <= _MAX_ID_LENGTH


def load_draft(store: FileStore, session_id: object) -> Draft:
    """The session's draft; an empty one when there is none (or it cannot be read)."""
    if not _usable(session_id):
        return Draft({})
    try:
        raw = json.loads(store.get(_draft_key(str(session_id))))
        pending = raw.get("attachment")
        attachment = PendingFile(**pending) if isinstance(pending, dict) else None
        values = {str(k): str(v) for k, v in dict(raw.get("values") or {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return Draft({})
    return Draft(values, attachment)


def save_draft(store: FileStore, session_id: str, draft: Draft) -> None:
    pending = None if draft.attachment is None else draft.attachment.__dict__
    store.put(_draft_key(session_id), json.dumps({"values": draft.values, "attachment": pending}).encode())


def keep_file(store: FileStore, session_id: str, *, data: bytes, name: str) -> PendingFile:
    """Keep a checked PDF with the session's draft (replacing an earlier one)."""
    key = f"{DRAFTS}/{session_hash(session_id)}.pdf"
    sha = store.put(key, data)
    return PendingFile(key=key, name=name, sha256=sha, size=len(data))


def drop_draft(store: FileStore, session_id: object) -> None:
    """Remove the session's draft and its PDF (sent, or removed by the creditor)."""
    if not _usable(session_id):
        return
    store.delete(_draft_key(str(session_id)))
    store.delete(f"{DRAFTS}/{session_hash(str(session_id))}.pdf")


def sweep_drafts(store: FileStore, *, now: datetime) -> None:
    """Remove the drafts (text and PDF) of sessions whose lifetime has passed: what a creditor typed and never sent
    is not kept."""
    oldest = (now - LIFETIME).timestamp()
    for key, modified in store.entries(DRAFTS):
        if modified < oldest:
            store.delete(key)
