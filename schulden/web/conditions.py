"""The page "Basisvoorwaarden na vrijlating" of a case: ID, bank account, income, housing, health insurance, care
and contact after release.

The door of the operation PUT /api/v1/cases/<id>/release-conditions calls (schulden.cases.conditions): the same
schema, roles (CASE_WRITERS, as the household), scope (`scoped_case`), rules and audit rows. The page's hidden
version plays the API's If-Match: a form saved on a stale page is refused, never written over a newer one.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from schulden.access import CASE_WRITERS
from schulden.actors import UserActor
from schulden.cases.conditions import (
    CHOICES,
    FIELD_LABELS,
    FIELDS,
    ReleaseConditionsIn,
    conditions_view,
    read_release_conditions,
    set_release_conditions,
)
from schulden.cases.models import Case
from schulden.cases.views import read_case_name
from schulden.errors import ValidationFailed
from schulden.http.errors import field_errors
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.web.auth import current_actor, roles_required
from schulden.web.date_fields import read_dates, with_date_parts
from schulden.web.intake import scoped_case
from workflows import ConcurrentUpdate

blp = Blueprint("basisvoorwaarden", __name__)

#: The page's dates, each typed in three boxes (ux.md "Dates").
DATES = ("id_valid_until", "income_applied_on")
STALE = "Iemand anders heeft de basisvoorwaarden intussen gewijzigd; bekijk de gegevens hieronder en sla opnieuw op."


@blp.route("/dossiers/<int:case_id>/basisvoorwaarden", methods=["GET", "POST"])
@roles_required(*CASE_WRITERS)
def form(case_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    if request.method == "GET":
        row = read_release_conditions(session, actor, case, origin=request.remote_addr)
        return _render(session, actor, case, values=_form_values(conditions_view(case, row)), errors={})

    dates, date_errors = read_dates(request.form, DATES)
    values = {name: (request.form.get(name) or "").strip() for name in (*FIELDS, "version") if name not in DATES}
    values |= dates
    errors: dict[str, list[str]] = dict(date_errors)
    try:
        # An empty box or "Onbekend" is unknown: left out, so the schema loads it as None.
        data = ReleaseConditionsIn().load({name: values[name] for name in FIELDS if values.get(name)})
    except ValidationError as exc:
        errors = {**field_errors(exc.messages), **date_errors}
    if not errors:
        # Only 0-9 is a number here: str.isdigit() also passes '²', on which int() fails (a 500).
        version = int(values["version"]) if re.fullmatch(r"[0-9]{1,9}", values["version"]) else -1
        try:
            set_release_conditions(
                session, actor, case, data, origin=request.remote_addr, expected_version=version,
                today=runtime().engine.today(),
            )  # fmt: skip
        except ValidationFailed as exc:
            session.rollback()
            errors = exc.errors
        except ConcurrentUpdate:
            session.rollback()
            case = scoped_case(session, actor, case_id)
            row = read_release_conditions(session, actor, case, origin=request.remote_addr)
            fresh = _form_values(conditions_view(case, row))
            # What was typed stays on the page; the version is the current one, so a second save goes through.
            values["version"] = fresh["version"]
            errors = {"_form": [STALE]}
    if errors:
        return _render(session, actor, case, values=values, errors=errors)
    session.commit()
    flash("De basisvoorwaarden zijn opgeslagen.", "ok")
    return redirect(url_for("dossiers.detail", case_id=case_id), code=303)


def _form_values(view: dict[str, Any]) -> dict[str, str]:
    """The stored values as the form shows them: dates in their three boxes, unknown as an empty box."""
    out = {name: "" if view[name] is None else str(view[name]) for name in FIELDS}
    out["version"] = str(view["version"])
    return with_date_parts(out, DATES)


def _render(
    session: Session, actor: UserActor, case: Case, *, values: dict[str, str], errors: dict[str, list[str]]
) -> ResponseReturnValue:
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    session.commit()
    html = render_template(
        "dossiers/conditions.html",
        case=case,
        name=name,
        values=values,
        errors=errors,
        labels=FIELD_LABELS,
        choices={field: list(options.items()) for field, options in CHOICES.items()},
    )
    return html, 422 if errors else 200
