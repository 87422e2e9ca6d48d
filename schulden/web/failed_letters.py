"""Beheer of the failed letters: by kind of error and letter type, each group (or all) made again at once.

After a fault outside the letters (a full letter store, a database away) the administrator fixes the cause and
sends the letters it failed back to the queue from here, behind a check page, instead of one at a time from each
case. The rules and the audit rows are the service's (schulden/letters/bulk_retry.py), as for the API's
POST /api/v1/letters/failed/retry and `schuldroute letters retry-failed`.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from schulden.effects import LETTER_TITLES
from schulden.errors import ValidationFailed
from schulden.http.clients import client_address
from schulden.http.requests import db_session
from schulden.letters import bulk_retry
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required

blp = Blueprint("mislukte_brieven", __name__, url_prefix="/beheer/mislukte-brieven")


def _filters() -> tuple[str | None, str | None]:
    """The kind of error and the letter type asked for (query on the check page, form on its POST); empty: any."""
    values = request.form if request.method == "POST" else request.args
    return (values.get("soort") or None), (values.get("type") or None)


def _type_text(letter_type: str | None) -> str:
    if letter_type is None:
        return "Alle brieftypen"
    return f"{letter_type}: {LETTER_TITLES.get(letter_type, letter_type)}"


def _letters(count: int) -> str:
    return "1 brief" if count == 1 else f"{count} brieven"


@blp.get("")
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    groups = bulk_retry.failed_groups(db_session())
    return render_template(
        "beheer/failed_letters.html",
        groups=groups,
        total=sum(g.count for g in groups),
        type_text=_type_text,
    )


@blp.route("/opnieuw", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def retry() -> ResponseReturnValue:
    """The check page (what will happen, to how many letters), then, with confirm=1, the retry itself."""
    session = db_session()
    reason, letter_type = _filters()
    try:
        bulk_retry.check_filters(reason=reason, letter_type=letter_type)
    except ValidationFailed:
        flash("Deze groep mislukte brieven bestaat niet; kies een groep uit de lijst.", "error")
        return redirect(url_for("mislukte_brieven.index"), 303)
    if request.method == "GET" or request.form.get("confirm") != "1":
        count = bulk_retry.matching(bulk_retry.failed_groups(session), reason=reason, letter_type=letter_type)
        if count == 0:
            flash("Er zijn (nu) geen mislukte brieven van deze soort.", "info")
            return redirect(url_for("mislukte_brieven.index"), 303)
        rows = [
            ("Soort fout", bulk_retry.reason_label(reason) if reason else "Alle soorten fouten", None),
            ("Brieftype", _type_text(letter_type), None),
            ("Aantal brieven", str(count), None),
        ]
        return render_template(
            "beheer/failed_letters_check.html",
            rows=rows,
            count=count,
            letters=_letters(count),
            reason=reason or "",
            letter_type=letter_type or "",
        )
    count = bulk_retry.retry_failed(
        session, current_actor(), reason=reason, letter_type=letter_type, origin=client_address()
    )
    session.commit()  # the render jobs are enqueued after this commit, as for new letters
    if count:
        flash(f"{_letters(count)} {'wordt' if count == 1 else 'worden'} opnieuw gemaakt.", "ok")
    else:
        flash("Er was geen mislukte brief (meer) om opnieuw te laten maken.", "info")
    return redirect(url_for("mislukte_brieven.index"), 303)
