"""The page "Persoonsgegevens verbeteren" of a case: a wrong name, date of birth or BSN corrected after intake, the
old value kept as a correction (AVG art. 16, docs/privacy.md 6.3). The door of the operation that PATCH
/api/v1/cases/<id>/identity calls (schulden.cases.identity): the same schema, roles, scope, rules and audit row.

The form shows the name and the date of birth as they are, so they can be edited in place; the BSN field starts empty
(its last four digits are named beside it), so that opening the page shows no full BSN (that takes a logged reveal on
the case page) and a field left empty keeps the BSN as it is."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from schulden.cases.identity import IDENTITY_CORRECTORS, IdentityCorrectionIn, correct_identity
from schulden.cases.models import Detainee
from schulden.cases.views import read_case_name
from schulden.errors import NotPermitted, ValidationFailed
from schulden.http.errors import field_errors
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.web.auth import current_actor, roles_required
from schulden.web.date_fields import date_parts, read_dates
from schulden.web.intake import scoped_case

blp = Blueprint("persoonsgegevens", __name__)

LABELS = {
    "given_names": "Voornamen",
    "surname_prefix": "Tussenvoegsel",
    "surname": "Achternaam",
    "date_of_birth": "Geboortedatum",
    "bsn": "Nieuw BSN",
}
#: What the form posts under each schema field: the text fields as typed; the date in three boxes.
TEXT_FIELDS = ("given_names", "surname_prefix", "surname", "bsn")


@blp.route("/dossiers/<int:case_id>/persoonsgegevens", methods=["GET", "POST"])
@roles_required(*IDENTITY_CORRECTORS)
def form(case_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    detainee = session.get_one(Detainee, case.detainee_id)
    errors: dict[str, list[str]] = {}
    if request.method == "GET":
        values: dict[str, Any] = {
            "given_names": detainee.given_names,
            "surname_prefix": detainee.surname_prefix or "",
            "surname": detainee.surname,
            **date_parts("date_of_birth", detainee.date_of_birth),
        }
    else:
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
        dates, errors = read_dates(request.form, ("date_of_birth",))
        values |= dates
        body: dict[str, Any] = {name: (values.get(name) or "").strip() for name in TEXT_FIELDS}
        body["surname_prefix"] = body["surname_prefix"] or None  # emptied: the person has no prefix
        if not body["bsn"]:
            del body["bsn"]  # left empty: the BSN stays as it is
        if iso := values.get("date_of_birth"):
            body["date_of_birth"] = iso
        try:
            data = IdentityCorrectionIn().load(body)
        except ValidationError as exc:
            errors = {**field_errors(exc.messages), **errors}
        if not errors:
            try:
                _, changed = correct_identity(
                    session, actor, case.id, data, now=runtime().engine.clock(), origin=request.remote_addr
                )
            except (ValidationFailed, NotPermitted) as exc:
                session.rollback()  # refused before it wrote anything; this ends the case's row lock
                errors = exc.errors if isinstance(exc, ValidationFailed) else {"_form": [str(exc)]}
            else:
                session.commit()
                shown = ", ".join(LABELS[name].lower().removeprefix("nieuw ") for name in changed)
                flash(
                    f"Verbeterd: {shown}. De oude waarde blijft bewaard en staat in het inzageoverzicht."
                    if changed
                    else "Er was niets anders dan wat er al stond; er is niets veranderd.",
                    "ok",
                )
                return redirect(url_for("dossiers.detail", case_id=case.id), code=303)
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    session.commit()
    bsn_end = detainee.bsn[-4:] if detainee.bsn else None
    return render_template(
        "dossiers/identity.html", case=case, name=name, values=values, errors=errors, labels=LABELS, bsn_end=bsn_end,
    ), 422 if errors else 200  # fmt: skip
