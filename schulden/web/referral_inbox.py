"""The municipality's inbox and its referral page: the handover download, accept (with the date of the first
conversation) and refuse (kind and reason).

The inbox and the referral are the reads GET /api/v1/referrals and /referrals/<id> call (schulden/referrals/queries.py,
with their audit rows), and the decisions are the operations the API calls (schulden.referrals.services.accept and
.refuse, with schulden/referrals/schemas.py), so the two cannot disagree; out of scope is a 404 page with the API's
authz_denied audit row.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.views import detainee_name
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import field_errors, record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation
from schulden.referrals import services
from schulden.referrals.lifecycle import DECIDABLE
from schulden.referrals.models import Referral, RefusalKind
from schulden.referrals.queries import read_inbox, read_referral
from schulden.referrals.schemas import AcceptIn, RefuseIn
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required
from schulden.web.referrals import REFUSAL_LABELS, STATUS_LABELS
from workflows import TransitionRefused

blp = Blueprint("gemeente", __name__, url_prefix="/gemeente")

LABELS = {"first_conversation_on": "Datum eerste gesprek", "kind": "Soort weigering", "reason": "Reden"}


@blp.get("")
@roles_required(Role.MUNICIPALITY)
def inbox() -> ResponseReturnValue:
    session = db_session()
    rows = read_inbox(session, current_actor(), origin=request.remote_addr)
    items = [(referral, case, detainee_name(session, case)) for referral, case in rows]
    session.commit()
    return render_template("gemeente/inbox.html", items=items, status_labels=STATUS_LABELS, open_statuses=DECIDABLE)


def _load(session: Session, actor: UserActor, referral_id: int) -> tuple[Referral, Case]:
    """The referral in the actor's scope and addressed to its municipality (the operations' own rule)."""
    try:
        referral = services.referral_to_decide(session, actor, referral_id)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    return referral, session.get_one(Case, referral.case_id)


def _page(
    session: Session, actor: UserActor, referral: Referral, case: Case, values: dict[str, Any], errors: Any
) -> ResponseReturnValue:
    # The referral was found by the operations' own rule (`_load`); this is its read, as GET /referrals/<id>.
    read_referral(session, actor, referral.id, origin=request.remote_addr)
    municipality = session.get_one(Organisation, referral.municipality_id)
    context = {
        "referral": referral,
        "case": case,
        "name": detainee_name(session, case),
        "referrals": [(referral, municipality.name)],
        "caption": "Verwijzing",
        "status_labels": STATUS_LABELS,
        "refusal_labels": REFUSAL_LABELS,
        "refusal_options": list(REFUSAL_LABELS.items()),
        "decidable": referral.status in DECIDABLE,
        "values": values,
        "errors": errors,
        "labels": LABELS,
    }
    session.commit()
    return render_template("gemeente/referral.html", **context), 422 if errors else 200


@blp.get("/verwijzingen/<int:referral_id>")
@roles_required(Role.MUNICIPALITY)
def referral(referral_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    found, case = _load(session, actor, referral_id)
    return _page(session, actor, found, case, {}, {})


def _form_errors(exc: ValidationError | ValidationFailed | TransitionRefused) -> dict[str, list[str]]:
    if isinstance(exc, ValidationError):
        return field_errors(exc.messages)
    if isinstance(exc, ValidationFailed):
        return exc.errors
    return {"_form": [exc.reason]}


@blp.post("/verwijzingen/<int:referral_id>/accepteren")
@roles_required(Role.MUNICIPALITY)
def accept(referral_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    _load(session, actor, referral_id)
    values = {"first_conversation_on": (request.form.get("first_conversation_on") or "").strip()}
    try:
        data = AcceptIn().load({k: v for k, v in values.items() if v})
        services.accept(
            session,
            actor,
            referral_id,
            engine=runtime().engine,
            first_conversation_on=data["first_conversation_on"],
            origin=request.remote_addr,
        )
    except (ValidationError, ValidationFailed, TransitionRefused) as exc:
        session.rollback()
        found, case = _load(session, actor, referral_id)
        return _page(session, actor, found, case, values, _form_errors(exc))
    session.commit()
    flash("De verwijzing is geaccepteerd.", "ok")
    return redirect(url_for("gemeente.referral", referral_id=referral_id), code=303)


@blp.post("/verwijzingen/<int:referral_id>/weigeren")
@roles_required(Role.MUNICIPALITY)
def refuse(referral_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    _load(session, actor, referral_id)
    values = {name: (request.form.get(name) or "").strip() for name in ("kind", "reason")}
    try:
        data = RefuseIn().load({k: v for k, v in values.items() if v})
        services.refuse(
            session,
            actor,
            referral_id,
            engine=runtime().engine,
            kind=data["kind"],
            reason=data["reason"],
            origin=request.remote_addr,
        )
    except (ValidationError, ValidationFailed, TransitionRefused) as exc:
        session.rollback()
        found, case = _load(session, actor, referral_id)
        return _page(session, actor, found, case, values, _form_errors(exc))
    session.commit()
    if data["kind"] == RefusalKind.NOT_RESIDENT.value:
        # The case leaves this municipality's scope at once: its page would now be a 404.
        flash("De verwijzing is geweigerd; het dossier gaat terug voor een andere gemeente.", "ok")
        return redirect(url_for("gemeente.inbox"), code=303)
    flash("De verwijzing is geweigerd.", "ok")
    return redirect(url_for("gemeente.referral", referral_id=referral_id), code=303)
