"""Staff sign-in for the web pages: login and logout, server-side sessions, and `login_required`.

The password check and its rate limit are the domain's (`schulden.users.logins.SignIn`: failed attempts per
username and per address in the login_attempt table), shared with the token endpoint, so both count one limit.

Signing in takes up to three steps (docs/accounts.md): the password; then, for an account with a second factor,
the TOTP or recovery code at /aanmelden/code (until then the browser holds only a signed note of who passed the
password, for PENDING_SECONDS, and no session: nothing is reachable); then, inside the new session, a forced
password change (`must_change_password`) and a forced enrolment (a role in TOTP_REQUIRED_ROLES without a second
factor). While one of those is due, every page but that step and logout redirects to it.

A session is a row on the server, so logging out, disabling an account or changing its role ends it at once
(ASVS 7.4.1/7.4.2), not only when a cookie runs out. The row lives in the api_token table: a 256-bit random token,
stored only as a SHA-256 (here over a "web-session:" prefix, so a session token is never accepted as an API bearer
token and an API token never opens a session), `expires_at` as the absolute lifetime, `last_used_at` for the idle
timeout and `revoked_at` for logout. The browser holds the token in Flask's signed session cookie (HttpOnly,
SameSite=Lax, Secure and `__Host-` in production). Every login makes a new token and a new cookie (ASVS 7.2.4).

Each request with a session costs one indexed SELECT; `last_used_at` is written at most once per THROTTLE (a
tenth of the idle timeout, at most a minute), so the idle timeout is exact to within that.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import update

from schulden.actors import UserActor
from schulden.http.clients import client_address
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.roles import Role
from schulden.settings import Settings
from schulden.users.logins import LoginFailed, SignIn, TooManyFailures, pending_step
from schulden.users.models import ApiToken, User
from schulden.users.tokens import token_lookup
from schulden.web.security import CACHEABLE_ENDPOINTS, CSRF_EXEMPT_PREFIXES
from workflows.store import utcnow

log = logging.getLogger(__name__)

blp = Blueprint("web_auth", __name__)

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])

_SESSION_HASH_PREFIX = b"web-session:"
_NO_USER_ENDPOINTS = CACHEABLE_ENDPOINTS | {"health.healthz"}
#: How often last_used_at is written at most (the idle timeout may cut it shorter).
THROTTLE = timedelta(seconds=60)

ENDED_IDLE = "U was te lang niet actief. Meld u opnieuw aan."
ENDED_LIFETIME = "Uw sessie is verlopen. Meld u opnieuw aan."
ENDED_CHANGED = "Uw sessie is beëindigd. Meld u opnieuw aan."
WRONG_CREDENTIALS = "Gebruikersnaam of wachtwoord onjuist."
#: How long the note "this browser passed the password" waits for the second-factor code.
PENDING_SECONDS = 5 * 60
#: The steps a new session may have to take first, and the only endpoints open meanwhile.
STEP_ENDPOINTS = {"password": "web_account.change_password", "totp": "web_account.enrol"}
_OPEN_DURING_STEPS = frozenset({*STEP_ENDPOINTS.values(), "web_auth.logout", "web_auth.login"})

#: Built once (see token_lookup): it runs on every page request.
_SESSION_LOOKUP = token_lookup(
    ApiToken.last_used_at,
    User.id.label("user_id"),
    User.role,
    User.organisation_id,
    User.active,
    User.display_name,
    User.must_change_password,
    User.totp_confirmed_at,
)


def session_hash(token: str) -> str:
    """What is stored for a session token; differs from the API's hash of the same string on purpose."""
    return hashlib.sha256(_SESSION_HASH_PREFIX + token.encode()).hexdigest()


def _settings() -> Settings:
    settings: Settings = runtime().settings
    return settings


def _why_ended(row: Any, now: datetime, settings: Settings) -> str | None:
    """None while the session may go on; otherwise the Dutch sentence the login page shows."""
    if row is None or row.revoked_at is not None:
        return ENDED_CHANGED
    if not row.active or row.user_id != session.get("uid"):
        return ENDED_CHANGED
    # A changed role or organisation changes what the user may see: sign in again under the new one.
    if row.role != session.get("role") or row.organisation_id != session.get("org"):
        return ENDED_CHANGED
    if row.expires_at <= now:
        return ENDED_LIFETIME
    last_used = row.last_used_at or now
    if now - last_used > timedelta(seconds=settings.session_idle_seconds):
        return ENDED_IDLE
    return None


def _sign_in() -> SignIn:
    secret_key = _settings().secret_key
    return SignIn(db_session(), address=client_address(), now=utcnow(), secret_key=secret_key, channel="web")


def _load_session() -> ResponseReturnValue | None:
    """Find the signed-in user of this request, or end a session that may not go on."""
    if request.path.startswith(CSRF_EXEMPT_PREFIXES) or request.endpoint in _NO_USER_ENDPOINTS:
        # The API authenticates by bearer token only; static files and the health check need no user (and the
        # health check opens a session of its own, which on SQLite would wait for this request's write lock).
        return None
    token = session.get("sid")
    if not isinstance(token, str):
        return None
    db = db_session()
    row = db.execute(_SESSION_LOOKUP, {"token_hash": session_hash(token)}).first()
    now = utcnow()
    settings = _settings()
    reason = _why_ended(row, now, settings)
    if reason is not None:
        if row is not None and row.revoked_at is None:
            db.execute(update(ApiToken).where(ApiToken.id == row.id).values(revoked_at=now))
            db.commit()
        session.clear()
        flash(reason, "warning")
        return None
    assert row is not None
    throttle = min(THROTTLE, timedelta(seconds=settings.session_idle_seconds / 10))
    if row.last_used_at is None or now - row.last_used_at >= throttle:
        db.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        db.commit()
    actor = UserActor(row.user_id, Role(row.role), row.organisation_id)
    g.web_actor = actor
    # Services and the audit trail of error handlers read g.actor, as in the API.
    g.actor = actor
    g.web_user_name = row.display_name
    g.web_session_id = row.id
    enrolled = row.totp_confirmed_at is not None
    step = pending_step(row.role, must_change_password=row.must_change_password, enrolled=enrolled, settings=settings)
    g.web_pending_step = step
    if step is not None and request.endpoint not in _OPEN_DURING_STEPS:
        return redirect(url_for(STEP_ENDPOINTS[step]))
    return None


def current_actor() -> UserActor:
    """The signed-in user of this web request; use under @login_required."""
    actor: UserActor | None = g.get("web_actor")
    if actor is None:
        abort(401)
    return actor


def login_required(view: View) -> View:
    """Send visitors without a live session to the login page, and back here after they sign in."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.get("web_actor") is None:
            back = safe_next(request.full_path.rstrip("?")) if request.method == "GET" else None
            if back == "/":
                back = None  # the start page is where a login leads anyway
            return redirect(url_for("web_auth.login", next=back))
        return view(*args, **kwargs)

    return cast(View, wrapped)


def roles_required(*roles: Role) -> Callable[[View], View]:
    """login_required, and a 403 page for the roles that may never do this."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if current_actor().role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return login_required(cast(View, wrapped))

    return decorate


def safe_next(target: str | None) -> str | None:
    """A local path to return to after login, or None: never another site (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/aanmelden", "/afmelden", "/aanmelden/code"):
        return None
    return target


def _login_form(
    values: dict[str, str], errors: dict[str, list[str]], next_url: str | None, status: int = 200
) -> ResponseReturnValue:
    return render_template("auth/login.html", values=values, errors=errors, next=next_url), status


@blp.route("/aanmelden", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.get("web_actor") is not None:
            return redirect(next_url or url_for("home.index"))
        return _login_form({}, {}, next_url)

    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    values = {"username": username}
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = ["Vul uw gebruikersnaam in."]
    elif len(username) > 64:
        errors["username"] = ["Een gebruikersnaam is hooguit 64 tekens lang."]
    if not password:
        errors["password"] = ["Vul uw wachtwoord in."]
    elif len(password) > 1024:
        errors["password"] = ["Een wachtwoord is hooguit 1024 tekens lang."]
    if errors:
        return _login_form(values, errors, next_url, 422)

    db = db_session()
    try:
        user = _sign_in().password(username, password)
    except TooManyFailures as exc:
        db.commit()  # the refused attempt is recorded
        return _login_form(values, {"_form": [exc.message]}, next_url, 429)
    except LoginFailed:
        db.commit()  # the failure counts towards the limits
        return _login_form(values, {"_form": [WRONG_CREDENTIALS]}, next_url, 422)

    if user.totp_enabled:
        _end_browser_session()
        db.commit()  # the recorded attempt
        # Not signed in yet: only a signed note that the password passed, read by the code page.
        session.clear()
        session.update(mfa_uid=user.id, mfa_at=time.time(), mfa_next=next_url)
        return redirect(url_for("web_auth.second_factor_step"))
    start_session(user, method="password")
    return redirect(next_url or url_for("home.index"))


def start_session(user: User, *, method: str) -> None:
    """A new server-side session for this user and a new cookie; records the sign-in. Commits."""
    db = db_session()
    _end_browser_session()
    token = secrets.token_urlsafe(32)
    sign_in = _sign_in()
    now = sign_in.now
    db.add(
        ApiToken(
            user_id=user.id,
            token_hash=session_hash(token),
            expires_at=now + timedelta(seconds=_settings().session_lifetime_seconds),
            last_used_at=now,
        )
    )
    sign_in.done(user, method=method)
    db.commit()
    # A new cookie: nothing from before the login (an old CSRF token, a planted value) carries over.
    session.clear()
    session.update(sid=token, uid=user.id, role=user.role, org=user.organisation_id)
    log.info("web login", extra={"user_id": user.id})


def _end_browser_session() -> None:
    """Signing in again (perhaps as someone else) ends the session this browser had (in the caller's commit)."""
    old = session.get("sid")
    if isinstance(old, str):
        db_session().execute(
            update(ApiToken)
            .where(ApiToken.token_hash == session_hash(old), ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def _pending_user() -> tuple[User | None, str | None]:
    """The user who passed the password in this browser a moment ago, and where they were going."""
    uid, at = session.get("mfa_uid"), session.get("mfa_at")
    if not isinstance(uid, int) or not isinstance(at, int | float) or time.time() - at > PENDING_SECONDS:
        return None, None
    user = db_session().get(User, uid)
    if user is None or not user.active or not user.totp_enabled:
        return None, None
    return user, safe_next(session.get("mfa_next"))


@blp.route("/aanmelden/code", methods=["GET", "POST"])
def second_factor_step() -> ResponseReturnValue:
    user, next_url = _pending_user()
    if user is None:
        session.pop("mfa_uid", None)
        flash("Meld u opnieuw aan met uw gebruikersnaam en wachtwoord.", "warning")
        return redirect(url_for("web_auth.login"))
    if request.method == "GET":
        return render_template("auth/code.html", values={}, errors={})
    code = request.form.get("code", "").strip()
    if not code or len(code) > 32:
        errors = {"code": ["Vul de code uit uw app in, of een herstelcode."]}
        return render_template("auth/code.html", values={}, errors=errors), 422
    db = db_session()
    try:
        method = _sign_in().second_factor(user, code)
    except TooManyFailures as exc:
        db.commit()  # the refused attempt is recorded
        session.clear()
        flash(exc.message, "error")
        return redirect(url_for("web_auth.login"))
    except LoginFailed as exc:
        db.commit()  # the failure counts towards the limits
        return render_template("auth/code.html", values={}, errors={"code": [exc.message]}), 422
    start_session(user, method=f"password+{method}")
    if method == "recovery_code":
        flash("U bent aangemeld met een herstelcode; die code is nu gebruikt. Zijn ze bijna op, stel dan "
              "tweestapsverificatie opnieuw in via Mijn account.", "warning")  # fmt: skip
    return redirect(next_url or url_for("home.index"))


@blp.post("/afmelden")
def logout() -> ResponseReturnValue:
    session_id = g.get("web_session_id")
    if session_id is not None:
        db = db_session()
        db.execute(update(ApiToken).where(ApiToken.id == session_id).values(revoked_at=utcnow()))
        db.commit()
        log.info("web logout", extra={"user_id": current_actor().user_id})
    session.clear()
    flash("U bent afgemeld.", "ok")
    return redirect(url_for("web_auth.login"))


def _layout_context() -> dict[str, Any]:
    actor: UserActor | None = g.get("web_actor")
    return {
        "web_actor": actor,
        "web_user_name": g.get("web_user_name") if actor else None,
        "web_role_label": actor.role.label if actor else None,
    }


def init_app(app: Flask) -> None:
    """Session cookie flags, the per-request session check (after the CSRF check) and the login pages."""
    settings: Settings = runtime(app).settings
    app.config.update(
        # __Host- binds the cookie to this host over HTTPS only (security.md 18); browsers refuse it on http://.
        SESSION_COOKIE_NAME="__Host-schuldroute" if settings.cookie_secure else "schuldroute",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_PATH="/",
    )
    app.before_request(_load_session)
    app.context_processor(_layout_context)
    app.register_blueprint(blp)
