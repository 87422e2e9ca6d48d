"""Vrijlating vastleggen: the case page's form for a client's release, in two steps (the date, then what will happen).

The check step is `schulden.cases.release.plan_release` (the same checks as the release itself, nothing written);
confirming is `record_release`, the operation POST /api/v1/cases/<id>/release calls, with its audit row. The
page's version plays the API's If-Match: a confirmation made on a stale check step is shown again, not applied.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.queries import get_case
from schulden.cases.release import (
    ZORGTOESLAG_REMINDER,
    ReleaseIn,
    ReleasePlan,
    ReleaseRefused,
    plan_release,
    record_release,
)
from schulden.cases.views import read_case_name
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import field_errors, record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters.templates import datum
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required
from schulden.web.date_fields import date_parts, explain_empty_dates, read_dates
from schulden.web.intake import scoped_case
from schulden.worklist import letter_title
from workflows import ConcurrentUpdate, TransitionRefused, WorkflowInstance

blp = Blueprint("vrijlating", __name__)

LABELS = {"released_on": "Datum van vrijlating"}
EMPTY_DATE = {"released_on": "Vul de datum van vrijlating in, bijvoorbeeld 4 12 2026."}


@blp.route("/dossiers/<int:case_id>/vrijlating", methods=["GET", "POST"])
@roles_required(Role.PI_STAFF, Role.COUNSELLOR)
def form(case_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    engine = runtime().engine
    if request.method == "GET":
        return _render(session, actor, case, values=date_parts("released_on", engine.today()))
    # The date from its three boxes; the check step's confirmation posts it as an ISO date in a hidden field.
    dates, date_errors = read_dates(request.form, ("released_on",))
    values = {name: (request.form.get(name) or "").strip() for name in ("version", "stap")} | dates
    if date_errors:
        return _render(session, actor, case, values=values, errors=date_errors)
    try:
        released_on: date = ReleaseIn().load({"released_on": values.get("released_on") or None})["released_on"]
    except ValidationError as exc:
        errors = explain_empty_dates(field_errors(exc.messages), values, EMPTY_DATE)
        return _render(session, actor, case, values=values, errors=errors)
    try:
        plan = plan_release(session, engine, actor, case, released_on=released_on)
    except ValidationFailed as exc:
        return _render(session, actor, case, values=values, errors=exc.errors)
    except ReleaseRefused as exc:
        return _render(session, actor, case, values=values, errors={"_form": [str(exc)]}, status=409)
    if values["stap"] != "bevestigen":
        return _render(session, actor, case, values=values | {"version": str(case.row_version)}, plan=plan)
    if values["version"] != str(case.row_version):
        message = "Dit dossier is intussen gewijzigd; controleer hieronder opnieuw wat er gaat gebeuren."
        return _render(session, actor, case, values=values | {"version": str(case.row_version)}, plan=plan,
                       errors={"_form": [message]}, status=409)  # fmt: skip
    return _confirm(session, actor, case_id, released_on, values)


def _confirm(
    session: Session, actor: UserActor, case_id: int, released_on: date, values: dict[str, str]
) -> ResponseReturnValue:
    try:
        case = get_case(session, actor, case_id, for_update=True)
        result = record_release(session, runtime().engine, actor, case, released_on=released_on,
                                origin=request.remote_addr)  # fmt: skip
        session.commit()
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    except (ValidationFailed, ReleaseRefused, TransitionRefused, ConcurrentUpdate, StaleDataError) as exc:
        session.rollback()
        case = scoped_case(session, actor, case_id)
        if isinstance(exc, ValidationFailed):
            return _render(session, actor, case, values=values, errors=exc.errors)
        message = (
            str(exc) if isinstance(exc, ReleaseRefused)
            else exc.reason if isinstance(exc, TransitionRefused)
            else "Iemand anders heeft dit dossier zojuist gewijzigd; bekijk het opnieuw en probeer het nog eens."
        )  # fmt: skip
        return _render(session, actor, case, values=values, errors={"_form": [message]}, status=409)
    parts = [f"De vrijlating op {datum(released_on)} is vastgelegd."]
    if result.letters_stopped:
        stopped = len(result.letters_stopped)
        parts.append(f"{stopped} {'brief' if stopped == 1 else 'brieven'} gestopt.")
    if result.insurer_letter is not None:
        parts.append("De zorgverzekeraar krijgt de heractivering (L6).")
    if result.referral is not None:
        parts.append("De verwijzing naar de gemeente is verstuurd.")
    elif result.state == "referral_due":
        parts.append("De verwijzing is vandaag nodig: zie Mijn werk.")
    parts.append(ZORGTOESLAG_REMINDER)
    flash(" ".join(parts), "ok")
    return redirect(url_for("dossiers.detail", case_id=case_id), 303)


def _render(
    session: Session,
    actor: UserActor,
    case: Case,
    *,
    values: dict[str, str],
    errors: dict[str, list[str]] | None = None,
    plan: ReleasePlan | None = None,
    status: int | None = None,
) -> ResponseReturnValue:
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    instance = session.get_one(WorkflowInstance, case.instance_id)
    process = runtime().engine.process_of(instance)
    context: dict[str, Any] = {
        "case": case,
        "name": name,
        "state_label": process.state(instance.state).label,
        "state_after_label": process.state(plan.state_after).label if plan else None,
        "plan": plan,
        "letter_titles": {letter.id: letter_title(letter) for letter in plan.letters} if plan else {},
        "zorgtoeslag_reminder": ZORGTOESLAG_REMINDER,
        "values": values,
        "errors": errors or {},
        "labels": LABELS,
    }
    session.commit()
    html = render_template("dossiers/release.html", **context)
    return html, status or (422 if errors else 200)
