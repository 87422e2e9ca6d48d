"""The print batch page: the PI's rendered post letters waiting, making the day's batch, downloading batches.

Making a batch and downloading one are the operations POST /api/v1/print-batches and
GET /api/v1/print-batches/<id>/pdf call (schulden/letters/services.py): the same checks, the same rule.
"""

from __future__ import annotations

import re
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
        # A PI of this person's gets its check page first; anything else goes to the operation, whose refusal (an
        # odd number, another PI) is the form's error.
        checked = request.form.get("confirm") == "1"
        pi = None if checked else _own_pi(session, actor)
        if pi is not None:
            return _check(session, pi)
        result = _make(session, actor)
        if isinstance(result, dict):
            errors, status = result, 422
        else:
            return result
    pis = [_overview(session, pi) for pi in pis_for(session, actor)]
    session.commit()
    return render_template("printbatch/index.html", pis=pis, errors=errors), status


def _own_pi(session: Session, actor: UserActor) -> Organisation | None:
    raw = (request.form.get("pi_id") or "").strip()
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        return None
    return next((p for p in pis_for(session, actor) if p.id == int(raw)), None)


def _check(session: Session, pi: Organisation) -> ResponseReturnValue:
    """The check page before the batch: which PI, how many letters of which kind, and that they then count as sent
    (the answer clocks start), which cannot be undone."""
    overview = _overview(session, pi)
    session.commit()
    kinds: dict[str, int] = {}
    for _reference, kind, _day in overview["pending"]:
        kinds[kind] = kinds.get(kind, 0) + 1
    return render_template(
        "printbatch/check.html",
        pi=pi,
        count=len(overview["pending"]),
        kinds=sorted(kinds.items(), key=lambda item: -item[1]),
        today=runtime().engine.today(),
    )


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
    flash(f"De printbatch van {pi_name} is gemaakt: {batch.letter_count} brieven, nu verstuurd. Download hem "
          f"hieronder en breng de brieven naar de postkamer. Referentie: printbatch {batch.id}.", "done")  # fmt: skip
    if batch.left_out:
        flash(f"{len(batch.left_out)} brief/brieven konden niet mee: de PDF ontbrak in de opslag. Ze worden opnieuw "
              "gemaakt en komen in een volgende printbatch (ze staan op het voorblad).", "warning")  # fmt: skip
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
