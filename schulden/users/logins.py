"""Checking a password or a second-factor code under the login limits, and recording every attempt.

Shared by the web login, the API's token endpoint and the change-password page, so all of them count against the
same limits: MAX_FAILURES failed checks per account (password, TOTP code or recovery code alike) and
MAX_FAILURES_PER_ADDRESS per client address, within FAILURE_WINDOW (a sliding window over login_attempt rows).

- An attempt refused because a limit holds is recorded with refused=True and not counted, so a lock ends
  FAILURE_WINDOW after the failures that caused it, however often it is hammered meanwhile.
- On PostgreSQL the check, the password comparison and the recording run under transaction-scoped advisory locks
  on the account and on the address (always in that order, so two logins cannot deadlock). Parallel requests
  therefore see each other's failures: exactly MAX_FAILURES wrong passwords are checked, never a few more that
  raced past the count. The locks end with the caller's commit. SQLite serialises writers by itself.
- What is recorded never holds what was typed for an account that does not exist (that may be a BSN, a name or a
  password in the wrong box): login_attempt, the audit row and the log get a keyed hash of it instead
  (`username_key`). For an existing account the audit row names the user id and the log the user id.

Services take a session and never commit; the caller commits, also after a failure (the failure must be counted).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.audit import record
from schulden.roles import Role
from schulden.settings import Settings
from schulden.users import totp
from schulden.users.models import LoginAttempt, RecoveryCode, User
from schulden.users.services import authenticate, totp_required

log = logging.getLogger(__name__)

MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)

TOO_MANY = "Te veel mislukte pogingen; probeer het over 15 minuten opnieuw."
WRONG_PASSWORD = "Gebruikersnaam of wachtwoord onjuist."  # noqa: S105 - a message, not a password
WRONG_CODE = "De code is onjuist of al gebruikt."


class TooManyFailures(Exception):
    """A limit holds: the attempt was refused without checking anything."""

    message = TOO_MANY


class LoginFailed(Exception):
    """Wrong password or code (the same message for every cause)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Anonymous:
    """The actor of an audit row for an attempt that did not (yet) prove who it is."""

    actor_id: str = "anonymous"
    roles: frozenset[str] = frozenset()
    organisation_id: None = None


ANONYMOUS = Anonymous()


def username_key(username: str, *, secret_key: str) -> str:
    """What login_attempt, the audit and the log hold for a typed name that is no account: a keyed hash."""
    digest = hmac.new(secret_key.encode(), b"login-username:" + username.encode(), hashlib.sha256).hexdigest()
    return "?" + digest[:32]


def _advisory_locks(session: Session, keys: list[str]) -> None:
    """Serialise the attempts on these keys on PostgreSQL until the transaction ends (see the module text)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in keys:
        number = int.from_bytes(hashlib.sha256(b"login:" + key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def _failures(session: Session, *, key: str, address: str | None, since: datetime) -> tuple[int, int]:
    counted = (LoginAttempt.at >= since, LoginAttempt.success.is_(False), LoginAttempt.refused.is_(False))
    by_user = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.username == key, *counted)
    )
    by_address = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.remote_addr == address,
            # Reply-code attempts of creditors share the table but have their own limits (schulden/replies/codes.py).
            LoginAttempt.username.not_like("reply:%"),
            *counted,
        )
    )
    return int(by_user or 0), int(by_address or 0)


def _audit(
    session: Session,
    *,
    user: User | None,
    key: str,
    result: str,
    method: str,
    channel: str,
    address: str | None,
) -> None:
    actor = UserActor(user.id, Role(user.role), user.organisation_id) if user and result == "ok" else ANONYMOUS
    details = {"method": method, "channel": channel}
    if user is None:
        details["username_hash"] = key
    else:
        details["username"] = user.username
    record(
        session,
        actor=actor,
        action="login",
        object_type="user",
        object_id=user.id if user else None,
        result=result,
        origin=address,
        details=details,
    )
    if result != "ok":
        # No typed name in the text log: the account's id, or the keyed hash of what was typed.
        log.warning(
            "login %s",
            result,
            extra={
                "user_id": user.id if user else None,
                "username_hash": None if user else key,
                "method": method,
                "channel": channel,
                "origin": address,
            },
        )


class Attempt:
    """One check under the limits: lock, refuse if a limit holds, else let the caller check and record."""

    def __init__(
        self,
        session: Session,
        *,
        user: User | None,
        key: str,
        address: str | None,
        now: datetime,
        method: str,
        channel: str,
    ) -> None:
        self.session, self.user, self.key, self.address = session, user, key, address
        self.now, self.method, self.channel = now, method, channel
        _advisory_locks(session, [f"user:{key}", f"address:{address}"])
        by_user, by_address = _failures(session, key=key, address=address, since=now - FAILURE_WINDOW)
        if by_user >= MAX_FAILURES or by_address >= MAX_FAILURES_PER_ADDRESS:
            session.add(LoginAttempt(username=key, remote_addr=address, at=now, success=False, refused=True))
            self._audit("refused")
            raise TooManyFailures

    def _audit(self, result: str) -> None:
        _audit(
            self.session,
            user=self.user,
            key=self.key,
            result=result,
            method=self.method,
            channel=self.channel,
            address=self.address,
        )

    def done(self, ok: bool, *, message: str) -> None:
        self.session.add(LoginAttempt(username=self.key, remote_addr=self.address, at=self.now, success=ok))
        if not ok:
            self._audit("fail")
            raise LoginFailed(message)


def check_password(
    session: Session,
    *,
    username: str,
    password: str,
    address: str | None,
    now: datetime,
    secret_key: str,
    channel: str,
) -> User:
    """The active user with this username and password. Raises TooManyFailures or LoginFailed; either way the
    attempt is in the session, which the caller commits. Does not write the audit row of a successful sign-in:
    that is `signed_in`, once the second factor (if any) is done too."""
    user = session.scalar(select(User).where(User.username == username))
    key = user.username if user is not None else username_key(username, secret_key=secret_key)
    attempt = Attempt(session, user=user, key=key, address=address, now=now, method="password", channel=channel)
    found = authenticate(session, username=username, password=password)
    attempt.done(found is not None, message=WRONG_PASSWORD)
    assert found is not None
    return found


def check_second_factor(
    session: Session,
    *,
    user: User,
    code: str,
    address: str | None,
    now: datetime,
    secret_key: str,
    channel: str,
) -> str:
    """Check a TOTP code, or a recovery code, of an enrolled user; returns "totp" or "recovery_code".

    A TOTP code is accepted once: its time step must be later than the last one used (a code seen over a
    shoulder, or sent twice, is refused). A recovery code is marked used. Raises TooManyFailures or LoginFailed.
    """
    recovery = totp.looks_like_recovery_code(code)
    method = "recovery_code" if recovery else "totp"
    attempt = Attempt(session, user=user, key=user.username, address=address, now=now, method=method, channel=channel)
    ok = False
    if recovery:
        ok = _use_recovery_code(session, user=user, code=code, now=now)
    elif user.totp_enabled and user.totp_secret:
        try:
            secret = totp.unseal(user.totp_secret, secret_key=secret_key)
        except totp.SecretUnreadable:
            log.error("TOTP secret unreadable (SECRET_KEY changed?)", extra={"user_id": user.id})
            secret = None
        step = totp.matching_step(secret, code, now=now, after_step=user.totp_last_step) if secret else None
        if step is not None:
            ok = _use_step(session, user=user, step=step)
    attempt.done(ok, message=WRONG_CODE)
    return method


def _use_step(session: Session, *, user: User, step: int) -> bool:
    # Conditional, so that two requests with the same code cannot both pass even without the advisory lock.
    used = session.execute(
        update(User)
        .where(User.id == user.id, (User.totp_last_step.is_(None)) | (User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return False
    user.totp_last_step = step
    return True


def _use_recovery_code(session: Session, *, user: User, code: str, now: datetime) -> bool:
    rows = session.execute(
        select(RecoveryCode.id, RecoveryCode.code_hash).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    ).all()
    for row in rows:
        if totp.recovery_code_matches(code, row.code_hash):
            used = session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            return bool(used.rowcount == 1)  # type: ignore[attr-defined]
    return False


def signed_in(session: Session, *, user: User, method: str, channel: str, address: str | None, now: datetime) -> None:
    """Record a completed sign-in: last_login_at and an audit row (in the caller's transaction)."""
    user.last_login_at = now
    _audit(session, user=user, key=user.username, result="ok", method=method, channel=channel, address=address)


@dataclass(frozen=True)
class SignIn:
    """One request's attempt to sign in, on one channel ("web", "api"): the password and then, for an account
    with a second factor, the code, both under the login limits. The front doors only say where and when it
    comes from and turn TooManyFailures and LoginFailed into their own answers (committing the recorded attempt)."""

    session: Session
    address: str | None
    now: datetime
    secret_key: str
    channel: str

    def password(self, username: str, password: str) -> User:
        """The active user with this username and password (check_password)."""
        return check_password(
            self.session,
            username=username,
            password=password,
            address=self.address,
            now=self.now,
            secret_key=self.secret_key,
            channel=self.channel,
        )

    def second_factor(self, user: User, code: str) -> str:
        """The method that passed, "totp" or "recovery_code" (check_second_factor)."""
        return check_second_factor(
            self.session,
            user=user,
            code=code,
            address=self.address,
            now=self.now,
            secret_key=self.secret_key,
            channel=self.channel,
        )

    def done(self, user: User, *, method: str) -> None:
        """Record the completed sign-in (signed_in)."""
        signed_in(self.session, user=user, method=method, channel=self.channel, address=self.address, now=self.now)


def must_enrol(role: str, *, enrolled: bool, settings: Settings) -> bool:
    """Whether an account of this role without a second factor must enrol before it may do anything."""
    return not enrolled and totp_required(
        role, required_roles=settings.totp_required_roles, production=settings.is_production
    )


def pending_step(role: str, *, must_change_password: bool, enrolled: bool, settings: Settings) -> str | None:
    """The step a new web session must take before anything else: "password", "totp" or None."""
    if must_change_password:
        return "password"
    if must_enrol(role, enrolled=enrolled, settings=settings):
        return "totp"
    return None
