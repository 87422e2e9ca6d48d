"""The print batch page: the PI's rendered post letters waiting, making the day's batch, downloading batches.

Making a batch and downloading one are the operations POST /api/v1/print-batches and
GET /api/v1/print-batches/<id>/pdf call (schulden/letters/services.py): the same checks, the same rule.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.effects import LETTER_TITLES
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import field_errors, record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters import services
from schulden.letters.compose import our_reference
from schulden.letters.queries import pending_post, pis_for, recent_batches
from schulden.letters.schemas import PrintBatchIn
from schulden.organisations.models import Organisation
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required

blp = Blueprint("printbatch", __name__, url_prefix="/printbatch")


def _overview(session: Session, pi: Organisation) -> dict[str, Any]:
    return {
        "pi": pi,
        # Only references and kinds: like the batch's cover sheet, the list needs no names.
        "pending": [
            (f"{our_reference(x)} (brief {x.id})", LETTER_TITLES.get(x.letter_type, x.letter_type), x.letter_date)
            for x in pending_post(session, pi.id)
        ],
        "batches": recent_batches(session, pi.id),
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
    pis = [_overview(session, pi) for pi in pis_for(session, actor)]
    session.commit()
    return render_template("printbatch/index.html", pis=pis, errors=errors), status


def _make(session: Session, actor: UserActor) -> dict[str, list[str]] | ResponseReturnValue:
    """As POST /api/v1/print-batches: the same schema, the same operation."""
    raw = (request.form.get("pi_id") or "").strip()
    try:
        data = PrintBatchIn().load({"pi_id": int(raw)} if raw.isascii() and raw.isdigit() else {"pi_id": raw or None})
    except ValidationError as exc:
        return field_errors(exc.messages)
    rt = runtime()
    try:
        batch = services.make_print_batch(session, actor, data["pi_id"], make=rt.print_batch, engine=rt.engine)
    except ValidationFailed as exc:
        return exc.errors
    except services.NothingToPrint as exc:
        session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("printbatch.index"), code=303)
    pi_name = session.get_one(Organisation, batch.pi_id).name
    session.commit()
    flash(f"De printbatch van {pi_name} is gemaakt: {batch.letter_count} brieven. Download hem hieronder.", "ok")
    return redirect(url_for("printbatch.index"), code=303)


@blp.get("/<int:batch_id>.pdf")
@roles_required(Role.PI_STAFF, Role.COUNSELLOR)
def download(batch_id: int) -> ResponseReturnValue:
    session = db_session()
    try:
        batch = services.downloadable_print_batch(session, current_actor(), batch_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    data = runtime().store.get(batch.storage_key)
    session.commit()
    return pdf_response(data, f"printbatch-{batch.id}-{date.isoformat(batch.batch_date)}.pdf")


def pdf_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    # The name is ours (an id), never a person's name or BSN (security.md scenario 14).
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
