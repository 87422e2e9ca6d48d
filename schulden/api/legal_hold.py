"""REST for the legal hold on a case (issue 15): PUT sets it (or changes its kind), DELETE lifts it.

The operations are `schulden.retention.set_legal_hold` and `lift_legal_hold`, the same as the page's
(schulden/web/legal_hold.py): only a counsellor (403 for other roles), only a case in scope (404), If-Match with the
case's version (428 without, 412 stale), 409 when the case is erased already or (DELETE) not held.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, require_role
from schulden.api.refusals import http_refusals
from schulden.cases.models import Case
from schulden.cases.queries import get_case
from schulden.fields import DutchSchema
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.retention import (
    HOLD_ROLES,
    LegalHoldIn,
    LegalHoldLiftIn,
    LegalHoldRefused,
    lift_legal_hold,
    set_legal_hold,
)

blp = Blueprint("legal_hold", __name__, url_prefix="/api/v1", description="Bewaarblokkade (geschil, klacht)")


class LegalHoldOut(DutchSchema):
    case_id = fields.Integer()
    held = fields.Boolean()
    kind = fields.String(allow_none=True, metadata={"description": "dispute, complaint, authority or other"})
    note = fields.String(allow_none=True)
    since = fields.DateTime(allow_none=True)
    version = fields.Integer(metadata={"description": "de versie van het dossier; stuur mee in If-Match"})


def _view(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "held": case.legal_hold_since is not None,
        "kind": case.legal_hold_kind,
        "note": case.legal_hold_note,
        "since": case.legal_hold_since,
        "version": case.row_version,
    }


@blp.route("/cases/<id:case_id>/legal-hold")
class CaseLegalHold(MethodView):
    @blp.arguments(LegalHoldIn)
    @blp.response(200, LegalHoldOut)
    def put(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Put the case under a legal hold (`kind`: dispute, complaint, authority, other; `note` optional, never in
        the audit log): the retention job erases nothing of it until the hold is lifted. A held case may be put
        under hold again to change its kind. If-Match is required."""
        actor = current_actor()
        require_role(actor, HOLD_ROLES, "een bewaarblokkade zetten")
        session = db_session()
        case = get_case(session, actor, case_id, for_update=True)
        check_if_match(case.row_version)
        with http_refusals(LegalHoldRefused):
            set_legal_hold(session, actor, case.id, kind=data["kind"], note=data.get("note"),
                           now=runtime().engine.clock(), origin=origin())  # fmt: skip
        session.commit()
        return _view(case), 200, {"ETag": etag_for(case.row_version)}

    @blp.arguments(LegalHoldLiftIn, location="query")
    @blp.response(200, LegalHoldOut)
    def delete(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Lift the case's legal hold (`reason`: resolved, withdrawn or mistake; resolved when left out). Its
        retention terms apply again from the job's next run. If-Match is required; 409 when there is no hold."""
        actor = current_actor()
        require_role(actor, HOLD_ROLES, "een bewaarblokkade opheffen")
        session = db_session()
        case = get_case(session, actor, case_id, for_update=True)
        check_if_match(case.row_version)
        with http_refusals(LegalHoldRefused):
            lift_legal_hold(session, actor, case.id, reason=data["reason"], origin=origin())
        session.commit()
        return _view(case), 200, {"ETag": etag_for(case.row_version)}
