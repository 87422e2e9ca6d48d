"""The print batch page: the PI's rendered post letters waiting, making the day's batch, downloading batches.

Making a batch goes through the same composition-root callable as POST /api/v1/print-batches
(app.extensions["schuldroute.print_batch"]) with the same checks, and a download through the same rule as
GET /api/v1/print-batches/<id>/pdf (PI staff of that PI, counsellors of its team).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import UserActor
from schulden.api.letters import PrintBatchIn
from schulden.effects import LETTER_TITLES
from schulden.errors import NotFound
from schulden.extensions import workflow
from schulden.http.errors import field_errors, record_denied
from schulden.http.requests import db_session
from schulden.letters.compose import our_reference
from schulden.letters.models import Letter, PrintBatch
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required

blp = Blueprint("printbatch", __name__, url_prefix="/printbatch")


def _pis(session: Session, actor: UserActor) -> list[Organisation]:
    """The PIs whose post this user handles: a casemanager's own PI, a counsellor's team's PIs."""
    query = select(Organisation).where(Organisation.kind == OrganisationKind.PI.value)
    if actor.role is Role.PI_STAFF:
        query = query.where(Organisation.id == actor.organisation_id)
    else:
        query = query.where(Organisation.counselling_team_id == actor.organisation_id)
    return list(session.scalars(query.order_by(Organisation.name)))


def _allowed(actor: UserActor, pi: Organisation | None) -> bool:
    return pi is not None and (
        (actor.role is Role.PI_STAFF and actor.organisation_id == pi.id)
        or (actor.role is Role.COUNSELLOR and pi.counselling_team_id == actor.organisation_id)
    )


def _overview(session: Session, pi: Organisation) -> dict[str, Any]:
    pending: list[Letter] = current_app.extensions["schuldroute.pending_post"](session, pi.id)
    batches = session.scalars(
        select(PrintBatch).where(PrintBatch.pi_id == pi.id).order_by(PrintBatch.id.desc()).limit(30)
    ).all()
    return {
        "pi": pi,
        # Only references and kinds: like the batch's cover sheet, the list needs no names.
        "pending": [
            (our_reference(x), LETTER_TITLES.get(x.letter_type, x.letter_type), x.letter_date) for x in pending
        ],
        "batches": batches,
    }


@blp.route("", methods=["GET", "POST"])
@roles_required(Role.PI_STAFF, Role.COUNSELLOR)
def index() -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        result = _make(session, actor)
        if isinstance(result, dict):
            errors, status = result, 422
        else:
            return result
    pis = [_overview(session, pi) for pi in _pis(session, actor)]
    session.commit()
    return render_template("printbatch/index.html", pis=pis, errors=errors), status


def _make(session: Session, actor: UserActor) -> dict[str, list[str]] | ResponseReturnValue:
    """As POST /api/v1/print-batches: the same schema, the same checks, the same callable."""
    raw = (request.form.get("pi_id") or "").strip()
    try:
        data = PrintBatchIn().load({"pi_id": int(raw)} if raw.isascii() and raw.isdigit() else {"pi_id": raw or None})
    except ValidationError as exc:
        return field_errors(exc.messages)
    pi = session.get(Organisation, data["pi_id"])
    if pi is None or pi.kind != OrganisationKind.PI.value:
        return {"pi_id": [f"Geen PI met id {data['pi_id']}."]}
    if actor.role is Role.PI_STAFF and actor.organisation_id != pi.id:
        return {"pi_id": ["U maakt alleen de printbatch van uw eigen PI."]}
    if actor.role is Role.COUNSELLOR and pi.counselling_team_id != actor.organisation_id:
        return {"pi_id": ["Uw team werkt niet voor deze PI."]}
    engine = workflow.engine
    now = engine.clock()
    make = current_app.extensions["schuldroute.print_batch"]
    batch: PrintBatch | None = make(
        session, pi_id=pi.id, actor=actor, today=now.astimezone(engine.timezone).date(), now=now
    )
    if batch is None:
        session.rollback()
        flash("Er staan geen brieven voor de post klaar voor deze PI.", "warning")
        return redirect(url_for("printbatch.index"), code=303)
    session.commit()
    flash(f"De printbatch van {pi.name} is gemaakt: {batch.letter_count} brieven. Download hem hieronder.", "ok")
    return redirect(url_for("printbatch.index"), code=303)


@blp.get("/<int:batch_id>.pdf")
@roles_required(Role.PI_STAFF, Role.COUNSELLOR)
def download(batch_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    batch = session.get(PrintBatch, batch_id)
    pi = session.get(Organisation, batch.pi_id) if batch else None
    if batch is None or not _allowed(actor, pi):
        record_denied(NotFound("print_batch", batch_id))
        abort(404)
    data = current_app.extensions["schuldroute.runtime"].store.get(batch.storage_key)
    audit.record(session, actor=actor, action="print_batch.download", object_type="print_batch",
                 object_id=batch.id, origin=request.remote_addr)  # fmt: skip
    session.commit()
    return pdf_response(data, f"printbatch-{batch.id}-{date.isoformat(batch.batch_date)}.pdf")


def pdf_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    # The name is ours (an id), never a person's name or BSN (security.md scenario 14).
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
