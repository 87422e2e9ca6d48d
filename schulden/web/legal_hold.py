"""Bewaarblokkade: a legal hold on a case (a dispute, a complaint), set and lifted by the counsellor.

The case page shows the hold in `dossiers/_legal_hold.html` (its state, and a link here for the counsellor). This
page asks the kind and an optional note, shows a check page with what the hold does, and only then sets it; lifting
goes the same way with its reason. The operations are `schulden.retention.set_legal_hold` and `lift_legal_hold`,
the ones PUT and DELETE /api/v1/cases/{id}/legal-hold call, each with its audit row (the kind, never the note).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError

from schulden.http.clients import client_address
from schulden.http.errors import field_errors
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.retention import (
    HOLD_LABELS,
    LIFT_LABELS,
    HoldKind,
    LegalHoldIn,
    LegalHoldLiftIn,
    LegalHoldRefused,
    LiftReason,
    erased_parts,
    lift_legal_hold,
    set_legal_hold,
)
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required
from schulden.web.filters import datum
from schulden.web.intake import scoped_case

blp = Blueprint("bewaren", __name__)

LABELS = {"kind": "Waarom bewaren", "note": "Toelichting", "reason": "Waarom opheffen"}
CONCURRENT = "Iemand anders heeft dit dossier zojuist gewijzigd; bekijk het opnieuw en probeer het nog eens."


@blp.app_context_processor
def _legal_hold_context() -> dict[str, Any]:
    """`legal_hold_of(case_id)` for the case page's partial: read only when the partial asks."""
    return {"legal_hold_of": _legal_hold_of}


def _legal_hold_of(case_id: int) -> dict[str, Any] | None:
    actor = g.get("web_actor")
    if actor is None:
        return None
    session = db_session()
    case = scoped_case(session, actor, case_id)
    return {
        "held": case.legal_hold_since is not None,
        "kind": HOLD_LABELS.get(HoldKind(case.legal_hold_kind)) if case.legal_hold_kind else None,
        "since": case.legal_hold_since,
        "erased": sorted(erased_parts(session, [case.id]).get(case.id, set())),
        "may_change": actor.role is Role.COUNSELLOR,
    }


@blp.route("/dossiers/<int:case_id>/bewaren", methods=["GET", "POST"])
@roles_required(Role.COUNSELLOR)
def form(case_id: int) -> ResponseReturnValue:
    """Set (or change) or lift the hold: the choice, then the check page, then the step."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    held = case.legal_hold_since is not None
    lifting = held and request.form.get("action", request.args.get("action")) == "opheffen"
    values = {k: (request.form.get(k) or "").strip() for k in ("kind", "note", "reason")}
    if held and request.method == "GET":
        values["kind"] = case.legal_hold_kind or ""
        values["note"] = case.legal_hold_note or ""
    errors: dict[str, list[str]] = {}
    stage = "choose"
    if request.method == "POST":
        schema = LegalHoldLiftIn() if lifting else LegalHoldIn()
        wanted = {"reason": values["reason"] or None} if lifting else {"kind": values["kind"], "note": values["note"]}
        try:
            data = schema.load({k: v for k, v in wanted.items() if v is not None})
        except ValidationError as exc:
            errors = field_errors(exc.messages)
            if "kind" in errors and not values["kind"]:
                errors["kind"] = ["Kies waarom het dossier bewaard moet blijven."]
        else:
            if request.form.get("confirm") == "1":
                try:
                    if lifting:
                        lift_legal_hold(session, actor, case.id, reason=data["reason"], origin=client_address())
                    else:
                        set_legal_hold(session, actor, case.id, kind=data["kind"], note=data.get("note"),
                                       now=runtime().engine.clock(), origin=client_address())  # fmt: skip
                    session.commit()
                except LegalHoldRefused as exc:
                    session.rollback()
                    errors = {"_form": [str(exc)]}
                except StaleDataError:
                    session.rollback()
                    errors = {"_form": [CONCURRENT]}
                else:
                    today = datum(runtime().engine.today())
                    done = "De bewaarblokkade is opgeheven" if lifting else "Het dossier staat onder bewaarblokkade"
                    flash(f"{done} op {today}. Referentie: dossier {case_id}.", "done")
                    return redirect(url_for("dossiers.detail", case_id=case_id), 303)
            else:
                stage = "check"
    return render_template(
        "dossiers/legal_hold.html",
        case=case,
        held=held,
        lifting=lifting,
        stage=stage,
        values=values,
        errors=errors,
        labels=LABELS,
        kinds=[(k.value, HOLD_LABELS[k]) for k in HoldKind],
        reasons=[(r.value, LIFT_LABELS[r]) for r in LiftReason],
        kind_label=HOLD_LABELS.get(HoldKind(values["kind"])) if values["kind"] in set(HoldKind) else "",
        reason_label=LIFT_LABELS.get(LiftReason(values["reason"])) if values["reason"] in set(LiftReason) else "",
        current_kind=HOLD_LABELS.get(HoldKind(case.legal_hold_kind)) if case.legal_hold_kind else "",
    ), (422 if errors else 200)
