"""What a signed-in user does to their own account: change the password, enrol the second factor.

Services take a session and never commit. Checks of the current password and of enrolment codes count against the
login limits (schulden/users/logins.py), so a stolen session cannot be used to guess the password or a code.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.audit import record
from schulden.errors import ValidationFailed
from schulden.users import totp
from schulden.users.logins import WRONG_CODE, Attempt, LoginFailed, check_password
from schulden.users.models import RecoveryCode, User
from schulden.users.password_hashes import hash_password
from schulden.users.passwords import password_problems
from schulden.users.services import revoke_sessions


def change_password(
    session: Session,
    *,
    actor: UserActor,
    user: User,
    current: str,
    new: str,
    repeat: str,
    address: str | None,
    now: datetime,
    secret_key: str,
    keep_token_id: int | None,
) -> None:
    """Check the current password (under the login limits) and set the new one; the user's other sessions and
    tokens end (ASVS 7.4.3). Raises ValidationFailed per field, or TooManyFailures. Does not commit: the caller
    commits also after a ValidationFailed for a wrong current password, so that the failure is counted."""
    errors: dict[str, list[str]] = {}
    if problems := password_problems(new, username=user.username):
        errors["new_password"] = problems
    elif new == current:
        errors["new_password"] = ["Kies een ander wachtwoord dan het huidige."]
    if new != repeat:
        errors["repeat_password"] = ["De twee nieuwe wachtwoorden zijn niet gelijk."]
    if not current:
        errors["current_password"] = ["Vul uw huidige wachtwoord in."]
    if errors:
        raise ValidationFailed(errors)
    try:
        check_password(
            session,
            username=user.username,
            password=current,
            address=address,
            now=now,
            secret_key=secret_key,
            channel="password_change",
        )
    except LoginFailed:
        raise ValidationFailed({"current_password": ["Het huidige wachtwoord is onjuist."]}) from None
    user.password_hash = hash_password(new)
    user.must_change_password = False
    revoke_sessions(session, user_id=user.id, keep_token_id=keep_token_id)
    record(session, actor=actor, action="user.password_change", object_type="user", object_id=user.id, origin=address)


def enrolment_secret(session: Session, *, user: User, secret_key: str) -> str:
    """The secret to show while the user enrols: the one started before (a reload shows the same QR code), or a
    new one. Raises ValidationFailed if the second factor is already set up. Does not commit."""
    if user.totp_enabled:
        raise ValidationFailed({"_form": ["Tweestapsverificatie is al ingesteld."]})
    if user.totp_secret is not None:
        try:
            return totp.unseal(user.totp_secret, secret_key=secret_key)
        except totp.SecretUnreadable:
            pass  # SECRET_KEY changed since: start again
    secret = totp.new_secret()
    user.totp_secret = totp.seal(secret, secret_key=secret_key)
    return secret


def confirm_enrolment(
    session: Session,
    *,
    actor: UserActor,
    user: User,
    code: str,
    address: str | None,
    now: datetime,
    secret_key: str,
) -> list[str]:
    """Confirm enrolment with a code from the app; returns the new recovery codes (shown once, stored hashed).
    A wrong code counts as a failed login. Raises ValidationFailed or TooManyFailures. Does not commit."""
    if user.totp_enabled or user.totp_secret is None:
        raise ValidationFailed({"_form": ["Begin opnieuw met het instellen van tweestapsverificatie."]})
    attempt = Attempt(session, user=user, key=user.username, address=address, now=now, method="totp", channel="enrol")
    try:
        secret = totp.unseal(user.totp_secret, secret_key=secret_key)
    except totp.SecretUnreadable:
        secret = None
    step = totp.matching_step(secret, code, now=now, after_step=None) if secret else None
    try:
        attempt.done(step is not None, message=WRONG_CODE)
    except LoginFailed as exc:
        raise ValidationFailed({"code": [exc.message]}) from None
    user.totp_confirmed_at = now
    user.totp_last_step = step
    codes = totp.new_recovery_codes()
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.add_all(RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(c), created_at=now) for c in codes)
    record(session, actor=actor, action="user.totp_enrol", object_type="user", object_id=user.id, origin=address)
    return codes
