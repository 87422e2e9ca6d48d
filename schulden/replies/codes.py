"""Finding the letter behind a reply code or QR token (security.md 2.2, scenarios 4-6).

Unknown, expired, revoked and altered codes get the same answer (None) after the same work: a code whose lookup
part matches no letter is still checked against a dummy hash, so the time taken does not tell an attacker
that the first five characters were right. Typed codes are rate limited per letter and per address; the token in
the QR link has 256 bits and needs no limit beyond the address limit of the web layer.

Submitted answers are limited per letter (= per code and link) too: at most MAX_ANSWERS_PER_LETTER accepted and
MAX_SUBMITS_PER_LETTER attempts in all (a PDF is parsed on every attempt) per WINDOW, counted in the same table,
so a leaked code cannot be used to bury the counsellor in versions or the server in PDF checks.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from schulden.debts.models import Debt
from schulden.letters.compose import CHASED_TYPES, TO_CREDITOR
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.reply_codes import LOOKUP_LENGTH, SECRET_LENGTH, ReplyCodeKey, normalise_code, token_hash
from schulden.replies.models import CreditorReply, ReplyChannel, ReplySession, ReplySessionEnd
from schulden.replies.schemas import FALLBACK, Proposal
from schulden.users.models import LoginAttempt
from workflows import HistoryEntry

log = logging.getLogger(__name__)

#: Failed code attempts allowed per letter, and per address, in the window; then everything is refused.
MAX_FAILURES_PER_LETTER = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = timedelta(hours=1)
#: The attempt rows share the login_attempt table (same expiry, same index); this prefix keeps them apart.
_PREFIX = "reply:"
#: Submissions of answers per letter; under _PREFIX too, so the staff login limits leave them out.
_SUBMIT_PREFIX = f"{_PREFIX}submit:"
MAX_ANSWERS_PER_LETTER = 5
MAX_SUBMITS_PER_LETTER = 20


class TooManyAttempts(Exception):
    """The rate limit for typed codes is reached (for this letter or this address)."""


class TooManySubmissions(Exception):
    """The letter's answers for this hour are used up."""


def usable_letter(letter: Letter | None, now: datetime) -> Letter | None:
    if letter is None or letter.letter_type not in TO_CREDITOR:
        return None
    if letter.status not in (LetterStatus.RENDERED.value, LetterStatus.SENT.value):
        return None
    if letter.reply_revoked_at is not None:
        return None
    if letter.reply_expires_at is None or _aware(letter.reply_expires_at) <= now:
        return None
    return letter


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; ours are stored in UTC.
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def letter_for_token(session: Session, token: str, *, now: datetime) -> Letter | None:
    """The letter whose QR link holds `token`, if it can still be answered."""
    if not token or len(token) > 100:
        return None
    letter = session.scalar(select(Letter).where(Letter.reply_token_hash == token_hash(token)))
    return usable_letter(letter, now)


def _failures(session: Session, *, key: str | None, address: str | None, since: datetime) -> tuple[int, int]:
    per_letter: int | None = 0
    if key is not None:
        per_letter = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.username == key, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
        )
    per_address: int | None = 0
    if address is not None:
        per_address = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.remote_addr == address,
                LoginAttempt.username.like(f"{_PREFIX}%"),
                LoginAttempt.username.not_like(f"{_SUBMIT_PREFIX}%"),  # a refused answer is no wrong code
                LoginAttempt.at >= since,
                LoginAttempt.success.is_(False),
            )
        )
    return int(per_letter or 0), int(per_address or 0)


def letter_for_code(
    session: Session, typed: str, *, key: ReplyCodeKey, now: datetime, address: str | None
) -> Letter | None:
    """The letter whose printed code was typed, if it can still be answered. Records the attempt (in the
    caller's transaction, which must commit even when the answer is None) and raises TooManyAttempts when the
    letter or the address has used up its failures."""
    raw = normalise_code(typed)
    lookup, secret = raw[:LOOKUP_LENGTH], raw[LOOKUP_LENGTH:]
    counted = f"{_PREFIX}{lookup}" if len(raw) == LOOKUP_LENGTH + SECRET_LENGTH else None
    per_letter, per_address = _failures(session, key=counted, address=address, since=now - WINDOW)
    if per_letter >= MAX_FAILURES_PER_LETTER or per_address >= MAX_FAILURES_PER_ADDRESS:
        # An alert for the operators: a letter or an address is being tried. No code in the log.
        log.warning("reply code rate limit reached", extra={"per_letter": per_letter, "per_address": per_address})
        raise TooManyAttempts
    letter = session.scalar(select(Letter).where(Letter.reply_code_lookup == lookup)) if counted else None
    stored = letter.reply_code_hash if letter is not None and letter.reply_code_hash else None
    # An unknown lookup is checked against a hash no secret matches: the same HMAC and comparison as a known one.
    ok = key.verify(lookup, secret, stored or key.unmatchable()) and stored is not None
    found = usable_letter(letter, now) if ok else None
    session.add(
        LoginAttempt(username=(counted or f"{_PREFIX}?")[:64], remote_addr=address, at=now, success=found is not None)
    )
    return found


def note_use(letter: Letter, *, now: datetime) -> None:
    """Count a successful opening of the reply page."""
    letter.reply_used_count = (letter.reply_used_count or 0) + 1
    letter.reply_last_used_at = now


def revoke(session: Session, letter: Letter, *, now: datetime) -> None:
    """Staff revoke the code and link of a letter (lost, sent to the wrong address, answered by phone); its open
    reply sessions end with it."""
    if letter.reply_revoked_at is None:
        letter.reply_revoked_at = now
    session.execute(
        update(ReplySession)
        .where(ReplySession.letter_id == letter.id, ReplySession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=ReplySessionEnd.REVOKED.value)
        .execution_options(synchronize_session=False)
    )


def check_submission_limit(session: Session, letter: Letter, *, now: datetime) -> None:
    """Raise TooManySubmissions when the letter has used up its answers or its attempts for the window."""
    key = f"{_SUBMIT_PREFIX}{letter.id}"
    total, accepted = session.execute(
        select(func.count(), func.coalesce(func.sum(case((LoginAttempt.success.is_(True), 1), else_=0)), 0))
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == key, LoginAttempt.at >= now - WINDOW)
    ).one()
    if int(accepted) >= MAX_ANSWERS_PER_LETTER or int(total) >= MAX_SUBMITS_PER_LETTER:
        log.warning("reply submission limit reached", extra={"letter_id": letter.id, "accepted": int(accepted)})
        raise TooManySubmissions


def note_submission(session: Session, letter: Letter, *, now: datetime, address: str | None, accepted: bool) -> None:
    """Count one submission of the reply form (in the caller's transaction, which must commit either way)."""
    session.add(LoginAttempt(username=f"{_SUBMIT_PREFIX}{letter.id}"[:64], remote_addr=address, at=now,
                             success=accepted))  # fmt: skip


# -- what the letter behind a code asks, and what was answered to it ------------------------------------------------


def asked_type(session: Session, letter: Letter) -> str:
    """The letter type whose questions the reply page asks: the letter's own, and for a reminder (L3) the type of
    the letter it chases (the debt's latest L1, L2, L4 or L5 before it, as the reminder's text names it)."""
    if letter.letter_type != "L3" or letter.debt_id is None:
        return letter.letter_type
    chased = session.scalar(
        select(Letter.letter_type)
        .where(
            Letter.debt_id == letter.debt_id,
            Letter.letter_type.in_(CHASED_TYPES),
            Letter.id < letter.id,
            Letter.status != LetterStatus.CANCELLED.value,
        )
        .order_by(Letter.id.desc())
        .limit(1)
    )
    return chased or FALLBACK


def proposal_of(session: Session, letter: Letter) -> Proposal | None:
    """The payment plan a proposal (L4, or a reminder of one) put to the creditor: the step that asked for the
    letter carries it (the debt's latest `propose_arrangement`, as the letter's text took it)."""
    if letter.debt_id is None:
        return None
    payload = session.scalar(
        select(HistoryEntry.payload)
        .join(Debt, Debt.instance_id == HistoryEntry.instance_id)
        .where(Debt.id == letter.debt_id, HistoryEntry.event == "propose_arrangement")
        .order_by(HistoryEntry.seq.desc())
        .limit(1)
    )
    if not payload:
        return None
    try:
        return Proposal(
            monthly_cents=int(payload["monthly_cents"]),
            months=int(payload["months"]),
            start_date=date.fromisoformat(str(payload["start_date"])),
        )
    except (TypeError, KeyError, ValueError):
        return None


def answers_to(session: Session, letter: Letter) -> list[CreditorReply]:
    """What the creditor sent on the reply page in answer to this letter, newest first: the creditor may see only
    its own answers (not a counsellor's notes of a phone call, nor answers to another letter)."""
    return list(
        session.scalars(
            select(CreditorReply)
            .where(CreditorReply.letter_id == letter.id, CreditorReply.channel == ReplyChannel.WEB.value)
            .order_by(CreditorReply.id.desc())
        )
    )


def answer_to(session: Session, letter_id: int, reply_id: int) -> tuple[Letter, CreditorReply] | None:
    """The creditor's answer `reply_id` to the letter, for its confirmation page (None when it is not one)."""
    reply = session.get(CreditorReply, reply_id)
    letter = session.get(Letter, letter_id)
    if reply is None or letter is None or reply.letter_id != letter.id or reply.channel != ReplyChannel.WEB.value:
        return None
    return letter, reply
