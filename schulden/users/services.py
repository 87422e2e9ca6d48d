"""Creating users and checking passwords. Services take a session and an actor and never commit."""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from schulden.actors import SystemActor, UserActor
from schulden.audit import record
from schulden.errors import ValidationFailed
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from schulden.users.models import ApiToken, RecoveryCode, User
from schulden.users.password_hashes import hash_password, password_matches
from schulden.users.passwords import password_problems
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


#: What to choose when a role's organisation is missing or of the wrong kind (plain words, no codes: ux.md "Forms").
_ORGANISATION_NEEDED = {
    OrganisationKind.PI: "Een medewerker of vrijwilliger van een PI hoort bij een PI: kies de PI.",
    OrganisationKind.OPERATOR: "Een schuldhulpverlener hoort bij een schuldhulpteam: kies het team.",
    OrganisationKind.MUNICIPALITY: "Een gebruiker van een gemeente hoort bij een gemeente: kies de gemeente.",
}


def create_user(
    session: Session,
    *,
    actor: UserActor | SystemActor,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    organisation: Organisation | None,
    set_by_administrator: bool = False,
) -> User:
    """Create an account; raises ValidationFailed naming the field and the rule. Does not commit.

    `set_by_administrator` (the CLI and Beheer): the password must meet the rule (schulden/users/passwords.py) and
    its user must change it at the first login, as only they should know it. Without it (the demo seed, tests)
    any password of 4 characters or more is taken and not forced to change: the demo's "demo" stays usable.
    """
    errors: dict[str, list[str]] = {}
    if not USERNAME.match(username):
        errors["username"] = [
            "Kies een gebruikersnaam van 2 tot 64 tekens: kleine letters, cijfers, punt, streep of liggend streepje."
        ]
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        errors["username"] = ["Deze gebruikersnaam bestaat al."]
    if not display_name.strip():
        errors["display_name"] = ["Vul de naam van de gebruiker in."]
    if set_by_administrator:
        if problems := password_problems(password, username=username):
            errors["password"] = problems
    elif len(password) < 4:
        errors["password"] = ["Kies een wachtwoord van minimaal 4 tekens."]
    expected = ROLE_ORGANISATION[role]
    if role is Role.PARTNER:
        if organisation is None or organisation.kind not in (
            OrganisationKind.PROBATION,
            OrganisationKind.CARE,
        ):
            errors["organisation"] = [
                "Een ketenpartner hoort bij een reclasserings- of zorgorganisatie: kies de organisatie."
            ]
    elif expected is not None and (organisation is None or organisation.kind != expected):
        errors["organisation"] = [_ORGANISATION_NEEDED[expected]]
    if errors:
        raise ValidationFailed(errors)
    user = User(
        username=username,
        display_name=display_name.strip(),
        role=role.value,
        organisation_id=organisation.id if organisation else None,
        password_hash=hash_password(password),
        must_change_password=set_by_administrator,
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


def revoke_sessions(session: Session, *, user_id: int, keep_token_id: int | None = None) -> None:
    """End every web session and API token of this user (but `keep_token_id`, the session doing the change)."""
    query = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if keep_token_id is not None:
        query = query.where(ApiToken.id != keep_token_id)
    session.execute(query.values(revoked_at=utcnow()))


def reset_totp(session: Session, *, actor: UserActor, user: User, origin: str | None = None) -> bool:
    """An administrator removes a user's second factor (a lost phone): secret and recovery codes go, the user's
    sessions and tokens end, and the next login asks to enrol again where that is required. False if the user
    had no second factor. Does not commit."""
    if user.totp_secret is None:
        return False
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    revoke_sessions(session, user_id=user.id)
    record(session, actor=actor, action="user.totp_reset", object_type="user", object_id=user.id, origin=origin)
    return True


def totp_required(role: str, *, required_roles: tuple[str, ...], production: bool) -> bool:
    """Whether this role must sign in with a second factor: the configured roles, and admin in production always."""
    return role in required_roles or (production and role == Role.ADMIN.value)


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same answer for every failure)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Hash anyway so that a missing account costs as much time as a wrong password.
        password_matches(_dummy_hash(), password)
        return None
    return user if password_matches(user.password_hash, password) else None


@cache
def _dummy_hash() -> str:
    return hash_password("not-a-password")
