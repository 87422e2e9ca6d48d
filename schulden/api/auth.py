"""Bearer tokens for machines: POST /api/v1/auth/token (username + password), DELETE to revoke.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored (ASVS 6.5.2 permits a fast hash for
secrets of that strength). Logins are rate limited per username and per address across all processes, through
the login_attempt table.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import g, request
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import TooManyRequests, Unauthorized

from schulden.actors import UserActor
from schulden.api.base import DutchSchema, length
from schulden.api.blueprint import Blueprint
from schulden.roles import Role
from schulden.users.models import ApiToken, LoginAttempt, User
from schulden.users.services import authenticate
from schulden.web.requests import db_session
from workflows.store import utcnow

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Tokens voor machines")

TOKEN_LIFETIME = timedelta(hours=8)
#: At most this many failed logins per username, and per client address, within the window.
MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)


class TokenRequest(DutchSchema):
    username = fields.String(required=True, validate=length(1, 64))
    password = fields.String(required=True, validate=length(1, 1024), load_only=True)


class TokenResponse(DutchSchema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_address() -> str | None:
    # Behind a proxy, ProxyFix (configured by the deployment) puts the client's address here.
    return request.remote_addr


def _too_many_failures(session: Session, username: str, address: str | None, now: datetime) -> bool:
    since = now - FAILURE_WINDOW
    by_user = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
    )
    by_address = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.remote_addr == address,
            LoginAttempt.at >= since,
            LoginAttempt.success.is_(False),
            # Reply-code attempts of creditors share the table but have their own limits (schulden/replies/codes.py).
            LoginAttempt.username.not_like("reply:%"),
        )
    )
    return (by_user or 0) >= MAX_FAILURES or (by_address or 0) >= MAX_FAILURES_PER_ADDRESS


def login(session: Session, username: str, password: str) -> User:
    """Check the password under the rate limit; records the attempt. Raises 429 or 401 (same text for any cause)."""
    now = utcnow()
    address = client_address()
    if _too_many_failures(session, username, address, now):
        session.add(LoginAttempt(username=username[:64], remote_addr=address, at=now, success=False))
        session.commit()
        raise TooManyRequests("Te veel mislukte pogingen; probeer het over 15 minuten opnieuw.")
    user = authenticate(session, username=username, password=password)
    session.add(LoginAttempt(username=username[:64], remote_addr=address, at=now, success=user is not None))
    if user is None:
        session.commit()
        raise Unauthorized("Gebruikersnaam of wachtwoord onjuist.")
    user.last_login_at = now
    return user


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(201, TokenResponse)
    @blp.doc(security=[])
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Exchange a username and password for a bearer token (valid 8 hours)."""
        session = db_session()
        user = login(session, data["username"], data["password"])
        token = secrets.token_urlsafe(32)
        expires_at = utcnow() + TOKEN_LIFETIME
        session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at))
        session.commit()
        return {"access_token": token, "token_type": "Bearer", "expires_at": expires_at}

    @blp.response(204)
    def delete(self) -> None:
        """Revoke the token this request carries."""
        current_actor()
        session = db_session()
        token = session.get_one(ApiToken, g.api_token_id)
        token.revoked_at = utcnow()
        session.commit()


# Built once: every API request runs it, and building a SELECT with its cache key anew costs more CPU than
# executing a ready one (docs/benchmarks.md, API). Columns, not entities: the check needs no ORM objects.
_TOKEN_LOOKUP = (
    select(
        ApiToken.id,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        User.id,
        User.role,
        User.organisation_id,
        User.active,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def current_actor() -> UserActor:
    """The signed-in user of this request (bearer token), or 401. Checked against the database every time."""
    if "actor" in g:
        actor: UserActor = g.actor
        return actor
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Stuur een token mee: Authorization: Bearer <token>.")
    session = db_session()
    now = utcnow()
    row = session.execute(_TOKEN_LOOKUP, {"token_hash": hash_token(token.strip())}).first()
    if row is None:
        raise Unauthorized("Token onbekend, verlopen of ingetrokken.")
    token_id, revoked_at, expires_at, user_id, role, organisation_id, active = row
    if revoked_at is not None or expires_at <= now or not active:
        raise Unauthorized("Token onbekend, verlopen of ingetrokken.")
    g.api_token_id = token_id
    actor = UserActor(user_id, Role(role), organisation_id)
    g.actor = actor
    return actor
