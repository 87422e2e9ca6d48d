"""REST for the Schuldenknooppunt export of a case (issue 12 item 8; docs/schuldenknooppunt.md): the case's letters
and creditor answers as Schuldenknooppunt messages, in one versioned JSON document. The scope, the mapping and the
audit row are the domain's (schulden/replies/knooppunt.py); this module calls it and commits once."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin
from schulden.http.requests import db_session
from schulden.replies.knooppunt import case_export
from schulden.replies.schemas import KnooppuntExport

blp = Blueprint(
    "knooppunt",
    __name__,
    url_prefix="/api/v1/cases",
    description="Schuldenknooppunt: berichten en antwoorden per dossier",
)


@blp.route("/<id:case_id>/schuldenknooppunt")
class CaseExport(MethodView):
    @blp.response(200, KnooppuntExport)
    def get(self, case_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """The case's letters and creditor answers as Schuldenknooppunt messages (Kennisgeving, Saldoverzoek,
        Statusverzoek, Betaalvoorstel; Kennisgeving antwoord, Saldoverzoek antwoord, Betaalvoorstel antwoord,
        Geen medewerking with its reason). Whoever may read the case may export it; never with the BSN. Every export
        is logged (`case.knooppunt_export`)."""
        session = db_session()
        document = case_export(session, current_actor(), case_id, origin=origin())
        session.commit()
        return document, 200, {"Cache-Control": "no-store"}
