"""Creating users and checking passwords. Services take a session and an actor and never commit."""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from schulden.actors import SystemActor, UserActor
from schulden.audit import record
from schulden.errors import ValidationFailed
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from schulden.users.models import ApiToken, User
from workflows.store import utcnow

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

# Which organisation kind each role belongs to; None means the role has no organisation.
ROLE_ORGANISATION = {
    Role.PI_STAFF: OrganisationKind.PI,
    Role.VOLUNTEER: OrganisationKind.PI,
    Role.COUNSELLOR: OrganisationKind.OPERATOR,
    Role.MUNICIPALITY: OrganisationKind.MUNICIPALITY,
    Role.PARTNER: None,  # probation or care: checked below
    Role.ADMIN: None,
}


def hash_password(password: str) -> str:
    """A salted scrypt hash (werkzeug's default method)."""
    return generate_password_hash(password, method="scrypt")


def create_user(
    session: Session,
    *,
    actor: UserActor | SystemActor,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    organisation: Organisation | None,
) -> User:
    """Create an account; raises ValidationFailed naming the field and the rule. Does not commit."""
    errors: dict[str, list[str]] = {}
    if not USERNAME.match(username):
        errors["username"] = [
            "Gebruikersnaam: 2 tot 64 tekens, kleine letters, cijfers, punt, streep of liggend streepje."
        ]
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        errors["username"] = ["Deze gebruikersnaam bestaat al."]
    if not display_name.strip():
        errors["display_name"] = ["Naam is verplicht."]
    if len(password) < 4:
        errors["password"] = ["Wachtwoord: minimaal 4 tekens (demo); in productie minimaal 12."]
    expected = ROLE_ORGANISATION[role]
    if role is Role.PARTNER:
        if organisation is None or organisation.kind not in (
            OrganisationKind.PROBATION,
            OrganisationKind.CARE,
        ):
            errors["organisation"] = ["Een ketenpartner hoort bij een reclasserings- of zorgorganisatie."]
    elif expected is not None and (organisation is None or organisation.kind != expected):
        errors["organisation"] = [f"Deze rol hoort bij een organisatie van het soort '{expected.value}'."]
    if errors:
        raise ValidationFailed(errors)
    user = User(
        username=username,
        display_name=display_name.strip(),
        role=role.value,
        organisation_id=organisation.id if organisation else None,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def disable_user(session: Session, *, actor: UserActor, user: User, origin: str | None = None) -> bool:
    """Disable an account and end its sessions and API tokens at once; False if it was disabled already.

    The row stays (audit trails and case history name it). An administrator cannot disable themselves, so the
    last administrator cannot lock everyone out by accident. Does not commit.
    """
    if user.id == actor.user_id:
        raise ValidationFailed({"_form": ["U kunt uw eigen account niet uitschakelen."]})
    if not user.active:
        return False
    user.active = False
    now = utcnow()
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    record(session, actor=actor, action="user.disable", object_type="user", object_id=user.id, origin=origin)
    return True


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same answer for every failure)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Hash anyway so that a missing account costs as much time as a wrong password.
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-password", method="scrypt")
