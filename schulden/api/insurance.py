"""REST for a case's health insurance and benefits: GET and PUT /api/v1/cases/<id>/insurance. Thin: the case's
scope (`get_case`), the operation of schulden/cases/insurance.py (its rules, the L6/L7 it asks for, its audit
row), one commit."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin
from schulden.api.refusals import http_refusals
from schulden.cases.insurance import Insurance, read_insurance, set_insurance
from schulden.cases.queries import get_case
from schulden.cases.schemas import InsuranceIn, InsuranceOut
from schulden.http.ports import runtime
from schulden.http.requests import db_session

blp = Blueprint(
    "insurance", __name__, url_prefix="/api/v1/cases", description="Zorgverzekering en uitkeringen van een dossier"
)


def _out(found: Insurance) -> dict[str, Any]:
    insurer = found.insurer
    return {
        "health_insurer": {"id": insurer.id, "name": insurer.name, "code": None} if insurer else None,
        "health_policy_number": found.policy_number,
        "benefits": found.benefits,
        "letters": [letter.id for letter in found.letters],
    }


@blp.route("/<id:case_id>/insurance")
class CaseInsurance(MethodView):
    @blp.response(200, InsuranceOut)
    def get(self, case_id: int) -> dict[str, Any]:
        """The health insurer, the policy number and the benefits the detainee received at arrest."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        found = read_insurance(session, actor, case, origin=origin())
        session.commit()
        return _out(found)

    @blp.arguments(InsuranceIn)
    @blp.response(200, InsuranceOut)
    def put(self, data: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Replace them. Once the consent to report changes is in force, the insurer gets L6 (suspension of the
        basic insurance) and each benefit office L7, once per recipient; `letters` names the ones asked for now."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        with http_refusals():
            found = set_insurance(
                session, runtime().engine, actor, case, insurer_id=data["health_insurer_id"],
                policy_number=data["health_policy_number"], benefits=data["benefits"], origin=origin(),
            )  # fmt: skip
        session.commit()
        return _out(found)
