"""Bearer tokens for machines: POST /api/v1/auth/token (username + password, and `totp` for an account with
a second factor), DELETE to revoke.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored (ASVS 6.5.2 permits a fast hash for
secrets of that strength). Logins are rate limited per account and per address across all processes, through
the login_attempt table (schulden/users/logins.py, shared with the web login). An account that must first change
its password, or must first enrol a second factor, gets no token: that is done on the website (docs/accounts.md).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, NoReturn

from flask import abort, g, request
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy.orm import Session
from werkzeug.exceptions import TooManyRequests, Unauthorized

from schulden.actors import UserActor
from schulden.api.blueprint import Blueprint
from schulden.fields import DutchSchema, length
from schulden.http.clients import client_address
from schulden.http.errors import problem
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.roles import Role
from schulden.users.logins import LoginFailed, SignIn, TooManyFailures, must_enrol
from schulden.users.models import ApiToken, User
from schulden.users.tokens import token_lookup
from workflows.store import utcnow

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Tokens voor machines")

TOKEN_LIFETIME = timedelta(hours=8)
CHANGE_FIRST = (
    "Dit account moet eerst een nieuw wachtwoord kiezen: meld u aan op de website en volg de stappen. "
    "Daarna kunt u een token aanvragen."
)
MUST_ENROL = (
    "Dit account moet zich aanmelden met tweestapsverificatie: stel die eerst in op de website. "
    "Daarna vraagt u een token aan met het veld totp."
)
TOTP_MISSING = "Dit account gebruikt tweestapsverificatie: stuur de code uit de authenticator-app mee in het veld totp."


class TokenRequest(DutchSchema):
    username = fields.String(required=True, validate=length(1, 64))
    password = fields.String(required=True, validate=length(1, 1024), load_only=True)
    totp = fields.String(
        load_default=None,
        validate=length(1, 32),
        load_only=True,
        metadata={"description": "De code uit de authenticator-app (of een herstelcode), als het account die heeft."},
    )


class TokenResponse(DutchSchema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sign_in(session: Session) -> SignIn:
    secret_key = runtime().settings.secret_key
    return SignIn(session, address=client_address(), now=utcnow(), secret_key=secret_key, channel="api")


@contextmanager
def _limited_attempt(session: Session) -> Iterator[None]:
    """A failed or refused attempt is recorded by the check: keep it (commit), then answer 429 or 401."""
    try:
        yield
    except TooManyFailures as exc:
        session.commit()
        raise TooManyRequests(exc.message) from None
    except LoginFailed as exc:
        session.commit()
        raise Unauthorized(exc.message) from None


def _refuse(session: Session, status: int, detail: str, **extra: Any) -> NoReturn:
    session.commit()  # the recorded attempts stay
    response = problem(status, detail, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    abort(response)


@blp.route("/token")
class Token(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(201, TokenResponse)
    @blp.alt_response(401, description="Gebruikersnaam, wachtwoord of code onjuist, of de code (totp) ontbreekt.")
    @blp.alt_response(403, description="Eerst op de website het wachtwoord wijzigen of tweestapsverificatie instellen.")
    @blp.alt_response(429, description="Te veel mislukte pogingen voor dit account of dit adres; 15 minuten wachten.")
    @blp.doc(security=[])
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Exchange a username and password (and the TOTP code, for an account with a second factor) for a bearer
        token (valid 8 hours)."""
        session = db_session()
        sign_in = _sign_in(session)
        with _limited_attempt(session):
            user = sign_in.password(data["username"], data["password"])
        method = "password"
        if user.totp_enabled:
            if not data.get("totp"):
                _refuse(session, 401, TOTP_MISSING, errors={"totp": ["Vul de code uit uw authenticator-app in."]})
            with _limited_attempt(session):
                method = "password+" + sign_in.second_factor(user, data["totp"])
        elif must_enrol(user.role, enrolled=False, settings=runtime().settings):
            _refuse(session, 403, MUST_ENROL)
        if user.must_change_password:
            _refuse(session, 403, CHANGE_FIRST)
        sign_in.done(user, method=method)
        token = secrets.token_urlsafe(32)
        expires_at = sign_in.now + TOKEN_LIFETIME
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


#: Built once (see token_lookup); unpacked in this order below.
_TOKEN_LOOKUP = token_lookup(User.id, User.role, User.organisation_id, User.active)


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
