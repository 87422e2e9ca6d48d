"""The page "Zorgverzekering en uitkeringen" of a case: the health insurer, the policy number and the benefits at
arrest. The door of the operation PUT /api/v1/cases/<id>/insurance calls (schulden.cases.insurance): the same
schema, roles, scope, rules, letters and audit row."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from schulden.access import CASE_WRITERS
from schulden.cases.insurance import health_insurers, read_insurance, set_insurance
from schulden.cases.notices import BENEFITS
from schulden.cases.schemas import InsuranceIn
from schulden.cases.views import read_case_name
from schulden.errors import NotPermitted, ValidationFailed
from schulden.http.errors import field_errors
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.web.auth import current_actor, roles_required
from schulden.web.intake import scoped_case

blp = Blueprint("verzekering", __name__)

LABELS = {
    "health_insurer_id": "Zorgverzekeraar",
    "health_policy_number": "Polisnummer",
    "benefits": "Uitkeringen en toeslagen",
}


@blp.route("/dossiers/<int:case_id>/verzekering", methods=["GET", "POST"])
@roles_required(*CASE_WRITERS)
def form(case_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    errors: dict[str, list[str]] = {}
    if request.method == "GET":
        found = read_insurance(session, actor, case, origin=request.remote_addr)
        values: dict[str, Any] = {
            "health_insurer_id": str(found.insurer.id) if found.insurer else "",
            "health_policy_number": found.policy_number or "",
            **{f"benefit.{kind}": True for kind in found.benefits},
        }
    else:
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
        raw_id = values.get("health_insurer_id") or ""
        body: dict[str, Any] = {
            # The select posts text; only 0-9 is a number here (str.isdigit() also passes '²').
            "health_insurer_id": int(raw_id) if re.fullmatch(r"[0-9]{1,18}", raw_id) else (raw_id or None),
            "health_policy_number": (values.get("health_policy_number") or "").strip() or None,
            "benefits": [kind for kind in BENEFITS if values.get(f"benefit.{kind}")],
        }
        try:
            data = InsuranceIn().load(body)
            found = set_insurance(
                session, runtime().engine, actor, case, insurer_id=data["health_insurer_id"],
                policy_number=data["health_policy_number"], benefits=data["benefits"], origin=request.remote_addr,
            )  # fmt: skip
        except ValidationError as exc:
            errors = field_errors(exc.messages)
        except (ValidationFailed, NotPermitted) as exc:
            session.rollback()
            errors = exc.errors if isinstance(exc, ValidationFailed) else {"_form": [str(exc)]}
        if not errors:
            session.commit()
            made = len(found.letters)
            flash(
                "Zorgverzekering en uitkeringen zijn vastgelegd."
                + (f" {made} brief(ven) aan verzekeraar of uitkeringsinstantie klaargezet." if made else ""),
                "ok",
            )
            return redirect(url_for("dossiers.detail", case_id=case.id), code=303)
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    session.commit()
    return render_template(
        "dossiers/insurance.html", case=case, name=name, values=values, errors=errors, labels=LABELS,
        insurers=[(c.id, c.name) for c in health_insurers(session)],
        benefit_options=[(f"benefit.{kind}", rule.label) for kind, rule in BENEFITS.items()],
    ), 422 if errors else 200  # fmt: skip
