"""Mijn account: change the password, set up two-step verification (TOTP) and see how many recovery codes are left.

The forced steps of a new session (schulden/web/auth.py: `must_change_password`, a role that must enrol) lead
here; the same pages serve a user who changes the password or enrols of their own accord. The services are in
schulden/users/account.py; docs/accounts.md describes the whole.
"""

from __future__ import annotations

import segno
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from schulden.errors import ValidationFailed
from schulden.http.clients import client_address
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.users import totp
from schulden.users.account import change_password as change_password_service
from schulden.users.account import confirm_enrolment, enrolment_secret
from schulden.users.logins import TooManyFailures, pending_step
from schulden.users.models import RecoveryCode, User
from schulden.users.passwords import PASSWORD_RULE
from schulden.web.auth import STEP_ENDPOINTS, current_actor, login_required
from workflows.store import utcnow

blp = Blueprint("web_account", __name__, url_prefix="/account")

PASSWORD_LABELS = {
    "current_password": "Huidig wachtwoord",
    "new_password": "Nieuw wachtwoord",
    "repeat_password": "Nieuw wachtwoord nogmaals",
}
CODE_LABELS = {"code": "Code uit de app"}


def _me() -> User:
    return db_session().get_one(User, current_actor().user_id)


def _after_step(user: User) -> ResponseReturnValue:
    """On to the next forced step, or to the start page."""
    step = pending_step(
        user.role,
        must_change_password=user.must_change_password,
        enrolled=user.totp_enabled,
        settings=runtime().settings,
    )
    return redirect(url_for(STEP_ENDPOINTS[step]) if step else url_for("home.index"), 303)


@blp.get("")
@login_required
def index() -> ResponseReturnValue:
    user = _me()
    codes_left = db_session().scalar(
        select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return render_template("auth/account.html", user=user, codes_left=codes_left or 0)


def _password_page(errors: dict[str, list[str]], forced: bool, status: int = 200) -> ResponseReturnValue:
    page = render_template(
        "auth/password.html", errors=errors, forced=forced, rule=PASSWORD_RULE, labels=PASSWORD_LABELS
    )
    return page, status


@blp.route("/wachtwoord", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    user = _me()
    forced = user.must_change_password
    if request.method == "GET":
        return render_template(
            "auth/password.html", errors={}, forced=forced, rule=PASSWORD_RULE, labels=PASSWORD_LABELS
        )
    fields = {name: request.form.get(name, "") for name in PASSWORD_LABELS}
    db = db_session()
    status = 422
    try:
        if any(len(value) > 1024 for value in fields.values()):
            raise ValidationFailed({"_form": ["Een wachtwoord is hooguit 1024 tekens lang."]})
        change_password_service(
            db,
            actor=current_actor(),
            user=user,
            current=fields["current_password"],
            new=fields["new_password"],
            repeat=fields["repeat_password"],
            address=client_address(),
            now=utcnow(),
            secret_key=runtime().settings.secret_key,
            keep_token_id=g.get("web_session_id"),
        )
    except ValidationFailed as exc:
        errors = exc.errors
    except TooManyFailures as exc:
        errors, status = {"_form": [exc.message]}, 429
    else:
        db.commit()
        flash("Uw wachtwoord is gewijzigd. Uw andere sessies en tokens zijn beëindigd.", "ok")
        return _after_step(user)
    db.commit()  # a wrong current password is counted as a failed login
    page = render_template(
        "auth/password.html", errors=errors, forced=forced, rule=PASSWORD_RULE, labels=PASSWORD_LABELS
    )
    return page, status


def _qr_data_uri(uri: str) -> str:
    # A data: URL in an <img> (the CSP allows img-src data:): no inline script or style needed.
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def _enrol_page(user: User, secret: str, errors: dict[str, list[str]], status: int = 200) -> ResponseReturnValue:
    uri = totp.provisioning_uri(secret, username=user.username)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    forced = g.get("web_pending_step") == "totp"
    page = render_template(
        "auth/enrol.html", qr=_qr_data_uri(uri), secret=grouped, errors=errors, labels=CODE_LABELS, forced=forced
    )
    return page, status


@blp.route("/tweestapsverificatie", methods=["GET", "POST"])
@login_required
def enrol() -> ResponseReturnValue:
    user = _me()
    db = db_session()
    if user.totp_enabled:
        return redirect(url_for("web_account.index"))
    secret_key = runtime().settings.secret_key
    if request.method == "GET":
        secret = enrolment_secret(db, user=user, secret_key=secret_key)
        db.commit()
        return _enrol_page(user, secret, {})
    code = request.form.get("code", "")[:64]
    try:
        codes = confirm_enrolment(
            db,
            actor=current_actor(),
            user=user,
            code=code,
            address=client_address(),
            now=utcnow(),
            secret_key=secret_key,
        )
    except ValidationFailed as exc:
        db.commit()  # the wrong code is counted
        return _enrol_page(user, enrolment_secret(db, user=user, secret_key=secret_key), exc.errors, 422)
    except TooManyFailures as exc:
        db.commit()
        return _enrol_page(user, enrolment_secret(db, user=user, secret_key=secret_key), {"_form": [exc.message]}, 429)
    db.commit()
    # Shown once, in the answer to this POST (no-store like every page); only their hashes are kept.
    step = pending_step(
        user.role, must_change_password=user.must_change_password, enrolled=True, settings=runtime().settings
    )
    return render_template("auth/recovery_codes.html", codes=codes, next_step=STEP_ENDPOINTS.get(step or ""))
