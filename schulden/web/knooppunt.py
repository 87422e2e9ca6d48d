"""The Schuldenknooppunt export of a case as a download from the case page (issue 12 item 8): the same operation
as the API's GET /api/v1/cases/{id}/schuldenknooppunt (schulden/replies/knooppunt.py: scope, mapping, audit row),
served as a JSON file."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue

from schulden.errors import NotFound
from schulden.http.errors import record_denied
from schulden.http.requests import db_session
from schulden.replies.knooppunt import case_export, case_reference
from schulden.web.auth import current_actor, login_required

blp = Blueprint("knooppuntexport", __name__, url_prefix="/dossiers")


@blp.get("/<int:case_id>/schuldenknooppunt.json")
@login_required
def export(case_id: int) -> ResponseReturnValue:
    """Out of scope and absent alike: the `authz_denied` row and the Dutch 404 page, as for the case page."""
    session = db_session()
    try:
        document = case_export(session, current_actor(), case_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    session.commit()
    body = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    response = Response(body, mimetype="application/json")
    # The name is our reference, never a person's name or BSN (security.md scenario 14).
    filename = f"schuldenknooppunt-{case_reference(case_id)}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
