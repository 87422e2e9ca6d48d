"""REST for the referral's consent form: POST /api/v1/cases/<id>/referral-consent-form asks for the L9 that names
the case's municipality, to be signed in the PI. Thin: the case's scope, the operation of
schulden/cases/consent_forms.py (its rules and audit row), one commit."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import fields

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, origin, require_role
from schulden.api.refusals import http_refusals
from schulden.cases.consent_forms import FORM_ROLES, request_referral_consent_form
from schulden.cases.queries import get_case
from schulden.fields import DutchSchema
from schulden.http.ports import runtime
from schulden.http.requests import db_session


class ConsentFormOut(DutchSchema):
    id = fields.Integer(metadata={"description": "De brief (L9); GET /api/v1/letters/{id}/pdf geeft het formulier"})
    case_id = fields.Integer()
    letter_type = fields.String()
    status = fields.String()
    letter_date = fields.Date()


blp = Blueprint(
    "consent_forms", __name__, url_prefix="/api/v1/cases", description="Toestemmingsformulier voor de verwijzing"
)


@blp.route("/<id:case_id>/referral-consent-form")
class ReferralConsentForm(MethodView):
    @blp.response(201, ConsentFormOut)
    def post(self, case_id: int) -> Any:
        """The consent form (L9) naming the chosen municipality for the referral; asking again returns the first.
        If-Match (the case's ETag) is honoured: the form names the municipality of the version the caller saw."""
        actor = current_actor()
        require_role(actor, FORM_ROLES, "een toestemmingsformulier maken")
        session = db_session()
        case = get_case(session, actor, case_id)
        if "If-Match" in request.headers:
            check_if_match(case.row_version)
        with http_refusals():
            letter = request_referral_consent_form(session, runtime().engine, actor, case, origin=origin())
        session.commit()
        return letter
