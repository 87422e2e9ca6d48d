"""The detainee's rights on the case page (issue 15): the section "Inzage en verstrekkingen" (a partial of the case
page, `dossiers/_access.html`), the page that makes his access overview and its two downloads, PDF and JSON.

The same operation as the API's GET /api/v1/cases/{id}/access-export (schulden/cases/access_export.py: roles, scope,
the `case.access_export` row with its format) for the page and both downloads; the PDF comes from the runtime's
renderer (schulden/ports.py `AccessPdfRenderer`), streamed and never stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, abort, g, render_template, request
from flask.typing import ResponseReturnValue

from schulden.access import ACCESS_EXPORTERS
from schulden.cases.access_export import (
    AccessExport,
    produce_access_export,
    read_case_disclosures,
    to_document,
)
from schulden.cases.disclosures import Disclosure
from schulden.errors import NotFound, NotPermitted
from schulden.http.errors import record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.web.auth import current_actor, login_required

blp = Blueprint("inzage", __name__, url_prefix="/dossiers")


def _produce(case_id: int, fmt: str) -> AccessExport:
    """The export for the signed-in user: 403 page for a role that never makes one, the 404 page (with its
    `authz_denied` row) out of scope."""
    session = db_session()
    try:
        return produce_access_export(
            session, runtime().engine, current_actor(), case_id, fmt=fmt, origin=request.remote_addr
        )
    except NotPermitted:
        abort(403)
    except NotFound as exc:
        record_denied(exc)
        abort(404)


@blp.get("/<int:case_id>/inzageoverzicht")
@login_required
def page(case_id: int) -> ResponseReturnValue:
    """What the overview holds, heading by heading with counts, and the two downloads."""
    export = _produce(case_id, "page")
    db_session().commit()
    return render_template("dossiers/inzage.html", export=export, case_id=case_id)


@blp.get("/<int:case_id>/inzageoverzicht.pdf")
@login_required
def pdf(case_id: int) -> ResponseReturnValue:
    export = _produce(case_id, "pdf")
    data = runtime().access_pdf(export)
    db_session().commit()
    response = Response(data, mimetype="application/pdf")
    # The name is our reference, never the person's name or BSN (security.md scenario 14).
    response.headers["Content-Disposition"] = f'attachment; filename="inzageoverzicht-{export.case.reference}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.get("/<int:case_id>/inzageoverzicht.json")
@login_required
def json_file(case_id: int) -> ResponseReturnValue:
    export = _produce(case_id, "json")
    db_session().commit()
    body = json.dumps(to_document(export), ensure_ascii=False, indent=2) + "\n"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="inzageoverzicht-{export.case.reference}.json"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- the case page's section ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessSection:
    """What `dossiers/_access.html` shows: nothing for a role that makes no overview (volunteers, partners, the
    municipality, administrators), else the disclosures and the link to the overview."""

    shown: bool
    disclosures: tuple[Disclosure, ...] = ()


def access_section(case_id: int) -> AccessSection:
    """Called by the partial while the case page renders (a template global, so the case page's view needs no
    change): the case page has already read the case in scope and written its `case.read` row."""
    actor = g.get("web_actor")
    if actor is None or actor.role not in ACCESS_EXPORTERS:
        return AccessSection(False)
    try:
        disclosures = read_case_disclosures(db_session(), actor, case_id)
    except (NotFound, NotPermitted):
        return AccessSection(False)
    return AccessSection(True, tuple(reversed(disclosures)))  # newest first, as the timeline


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    app.add_template_global(access_section)
