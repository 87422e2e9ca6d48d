"""REST for a case's basisvoorwaarden at release (ID, bank account, income, housing, health insurance, care and
contact): GET and PUT /api/v1/cases/<id>/release-conditions. Thin: the roles and scope of the household (CASE_WRITERS,
`get_case`), the operation of schulden/cases/conditions.py (its rules and audit row), one commit."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from schulden.access import CASE_WRITERS
from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, require_role
from schulden.api.refusals import http_refusals
from schulden.cases.conditions import (
    ReleaseConditionsIn,
    ReleaseConditionsOut,
    conditions_of,
    conditions_view,
    read_release_conditions,
    set_release_conditions,
    version_of,
)
from schulden.cases.queries import get_case
from schulden.http.ports import runtime
from schulden.http.requests import db_session

blp = Blueprint(
    "conditions", __name__, url_prefix="/api/v1/cases", description="Basisvoorwaarden na vrijlating van een dossier"
)

Headers = dict[str, str]


@blp.route("/<id:case_id>/release-conditions")
class CaseReleaseConditions(MethodView):
    @blp.response(200, ReleaseConditionsOut)
    def get(self, case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """ID, bank account, income, housing, health insurance, care and contact after release; null = unknown.
        The ETag is the version to send back in If-Match ("0" before anything was recorded)."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        row = read_release_conditions(session, actor, case, origin=origin())
        view = conditions_view(case, row)
        session.commit()
        return view, 200, {"ETag": etag_for(view["version"]), "Cache-Control": "no-store"}

    @blp.arguments(ReleaseConditionsIn)
    @blp.response(200, ReleaseConditionsOut)
    def put(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, Headers]:
        """Replace them all: a field left out or null becomes unknown. Needs If-Match."""
        actor = current_actor()
        require_role(actor, CASE_WRITERS, "de basisvoorwaarden wijzigen")
        session = db_session()
        case = get_case(session, actor, case_id)
        check_if_match(version_of(conditions_of(session, case.id)))
        with http_refusals():
            row = set_release_conditions(session, actor, case, data, origin=origin(), today=runtime().engine.today())
        view = conditions_view(case, row)
        session.commit()
        return view, 200, {"ETag": etag_for(view["version"])}
