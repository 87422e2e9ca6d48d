"""REST for the detainee's access overview (AVG art. 15, issue 15; docs/privacy.md section 6): everything Schuldroute
holds about the person of a case, as JSON (`/access-export`) or as the readable PDF in plain Dutch
(`/access-export.pdf`). Who may, the gathering and the audit row are the domain's (schulden/cases/access_export.py);
the PDF is the runtime's renderer (schulden/ports.py `AccessPdfRenderer`), streamed and never stored."""

from __future__ import annotations

import json

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, pdf_response
from schulden.api.refusals import http_refusals
from schulden.cases.access_export import produce_access_export, to_document
from schulden.http.ports import runtime
from schulden.http.requests import db_session

blp = Blueprint(
    "access_export",
    __name__,
    url_prefix="/api/v1/cases",
    description="Inzage: alles wat Schuldroute over de gedetineerde van een dossier bewaart (AVG art. 15)",
)


# -- the document, as OpenAPI describes it (the keys of schulden/cases/access_export.py's dataclasses) ----------------


def _text(description: str | None = None) -> fields.String:
    return fields.String(allow_none=True, metadata={"description": description} if description else {})


class AccessWhoOut(Schema):
    organisation = _text()
    role = _text()
    role_label = fields.String()


class AccessPersonOut(Schema):
    given_names = fields.String()
    surname_prefix = _text()
    surname = fields.String()
    full_name = fields.String()
    date_of_birth = fields.Date()
    bsn = _text("Het volledige BSN: het is zijn eigen nummer.")
    dji_number = _text()
    registered_at = fields.DateTime()


class AccessTransferOut(Schema):
    on = fields.Date()
    from_pi = fields.String()
    to_pi = fields.String()


class AccessDetentionOut(Schema):
    pi = fields.String()
    type = fields.String()
    type_label = fields.String()
    start = fields.Date()
    expected_release = fields.Date(allow_none=True)
    actual_release = fields.Date(allow_none=True)
    transfers = fields.List(fields.Nested(AccessTransferOut))


class AccessStepOut(Schema):
    at = fields.DateTime()
    what = fields.String()
    from_state = _text()
    to_state = fields.String()
    to_state_label = fields.String()
    reason = _text()
    by = fields.Nested(AccessWhoOut)


class AccessCaseOut(Schema):
    id = fields.Integer()
    reference = fields.String()
    state = fields.String()
    state_label = fields.String()
    opened_at = fields.DateTime()
    urgent = fields.Boolean()
    threat = _text()
    threat_label = _text()
    closure_reason = _text()
    closure_label = _text()
    municipality = _text()
    municipality_reason = _text()
    registration_municipality = _text()
    intended_postcode = _text()
    referred_at = fields.DateTime(allow_none=True)
    team = _text()
    history = fields.List(fields.Nested(AccessStepOut))


class AccessFactOut(Schema):
    label = fields.String()
    value = fields.String()


class AccessHouseholdOut(Schema):
    relation = fields.String()
    relation_label = fields.String()
    given_names = _text()
    date_of_birth = fields.Date(allow_none=True)
    shares_lease = fields.Boolean()
    shares_debts = fields.Boolean()


class AccessDebtOut(Schema):
    id = fields.Integer()
    creditor = fields.String()
    collecting_party = _text()
    creditor_reference = _text()
    debt_type = fields.String()
    debt_type_label = fields.String()
    category = fields.String()
    category_label = fields.String()
    principal_cents = fields.Integer()
    interest_cents = fields.Integer()
    costs_cents = fields.Integer()
    total_cents = fields.Integer()
    amount_status = fields.String()
    amount_status_label = fields.String()
    peildatum = fields.Date(allow_none=True)
    threat = _text()
    joint_with_partner = fields.Boolean()
    state = fields.String()
    state_label = fields.String()
    created_at = fields.DateTime()
    history = fields.List(fields.Nested(AccessStepOut))


class AccessRecipientOut(Schema):
    name = fields.String()
    address = fields.List(fields.String())
    email = _text()


class AccessLetterOut(Schema):
    id = fields.Integer()
    letter_type = fields.String(metadata={"description": "L1 ... L10 (domain.md 4)"})
    title = fields.String()
    letter_date = fields.Date()
    debt_id = fields.Integer(allow_none=True)
    recipient = fields.Nested(AccessRecipientOut, metadata={"description": "Zoals vastgelegd op de brief"})
    to_detainee = fields.Boolean()
    channel = fields.String()
    channel_label = fields.String()
    status = fields.String()
    status_label = fields.String()
    sent_at = fields.DateTime(allow_none=True)
    bsn_on_letter = fields.Boolean()


class AccessReplyOut(Schema):
    id = fields.Integer()
    received_on = fields.Date()
    creditor = fields.String()
    debt_id = fields.Integer(allow_none=True)
    letter_id = fields.Integer(allow_none=True)
    channel = fields.String()
    channel_label = fields.String()
    principal_cents = fields.Integer(allow_none=True)
    interest_cents = fields.Integer(allow_none=True)
    costs_cents = fields.Integer(allow_none=True)
    total_cents = fields.Integer(allow_none=True)
    peildatum = fields.Date(allow_none=True)
    said = fields.List(fields.String())
    note = _text()
    has_attachment = fields.Boolean()
    superseded = fields.Boolean()


class AccessConsentOut(Schema):
    id = fields.Integer()
    purpose = fields.String()
    purpose_label = fields.String()
    recipient = fields.String()
    signed_on = fields.Date()
    valid_until = fields.Date()
    text_version = fields.String()
    witness = _text()
    withdrawn_at = fields.DateTime(allow_none=True)
    withdrawal_note = _text()


class AccessReferralOut(Schema):
    id = fields.Integer()
    sequence = fields.Integer()
    municipality = fields.String()
    referred_at = fields.DateTime()
    channel = fields.String()
    channel_label = fields.String()
    status = fields.String()
    status_label = fields.String()
    delivered_at = fields.DateTime(allow_none=True)
    include_district_team = fields.Boolean()
    first_conversation_on = fields.Date(allow_none=True)
    refusal_reason = _text()


class AccessNoteOut(Schema):
    at = fields.DateTime()
    by = fields.Nested(AccessWhoOut)
    body = fields.String()


class AccessLogOut(Schema):
    at = fields.DateTime()
    action = fields.String()
    action_label = fields.String()
    kind = fields.String(metadata={"description": "viewed of changed"})
    by = fields.Nested(AccessWhoOut)


class AccessDisclosureOut(Schema):
    on = fields.Date()
    recipient = fields.String()
    recipient_kind = fields.String(metadata={"description": "creditor, municipality, district_team of partner"})
    channel = fields.String()
    what = fields.List(fields.String())
    basis = fields.String()
    bsn = fields.Boolean()
    bsn_basis = _text()
    source = fields.String(metadata={"description": "letter:<id>, referral:<id> of audit:<organisatie-id>"})
    times = fields.Integer()
    last_on = fields.Date(allow_none=True)


class AccessCorrectionOut(Schema):
    at = fields.DateTime()
    object_type = fields.String(metadata={"description": "case, debt of detainee"})
    object_id = fields.Integer()
    field = fields.String()
    field_label = fields.String()
    old_value = _text("De oude waarde zoals een mens hem leest; leeg: niet ingevuld.")
    new_value = _text()
    by = fields.Nested(AccessWhoOut)


class AccessExportOut(Schema):
    format = fields.String(metadata={"description": "schuldroute.access-export"})
    version = fields.Integer()
    made_at = fields.DateTime()
    made_by = fields.Nested(AccessWhoOut)
    person = fields.Nested(AccessPersonOut)
    detention = fields.Nested(AccessDetentionOut)
    case = fields.Nested(AccessCaseOut)
    insurance = fields.List(fields.Nested(AccessFactOut))
    benefits = fields.List(fields.String())
    household = fields.List(fields.Nested(AccessHouseholdOut))
    release_conditions = fields.List(fields.Nested(AccessFactOut))
    debts = fields.List(fields.Nested(AccessDebtOut))
    letters = fields.List(fields.Nested(AccessLetterOut))
    replies = fields.List(fields.Nested(AccessReplyOut))
    consents = fields.List(fields.Nested(AccessConsentOut))
    referrals = fields.List(fields.Nested(AccessReferralOut))
    notes = fields.List(fields.Nested(AccessNoteOut))
    access_log = fields.List(fields.Nested(AccessLogOut))
    disclosures = fields.List(fields.Nested(AccessDisclosureOut))
    corrections = fields.List(fields.Nested(AccessCorrectionOut))


# -- the resources --------------------------------------------------------------------------------------------------


@blp.route("/<id:case_id>/access-export")
class AccessExport(MethodView):
    @blp.response(200, AccessExportOut)
    def get(self, case_id: int) -> Response:
        """Everything held about the detainee of the case, machine-readable (AVG art. 15): the person with his full
        BSN, the detention, the case and debts with their history, every letter with its recipient as recorded on
        it, the creditors' answers, consents and withdrawals, referrals, notes, who viewed or changed the file (by
        organisation and role), to whom which data went (`disclosures`) and every value corrected, with its old
        value (`corrections`). PI staff and counsellors of the case only (403 for other roles). Every export is
        logged (`case.access_export`, format `json`)."""
        session = db_session()
        with http_refusals():
            export = produce_access_export(session, runtime().engine, current_actor(), case_id, fmt="json",
                                           origin=origin())  # fmt: skip
        session.commit()
        body = json.dumps(to_document(export), ensure_ascii=False, indent=2) + "\n"
        response = Response(body, mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/<id:case_id>/access-export.pdf")
class AccessExportPdf(MethodView):
    @blp.response(200, content_type="application/pdf")
    def get(self, case_id: int) -> Response:
        """The same overview as a readable PDF in plain Dutch (B1), for the detainee himself. Made on demand and not
        stored. Logged as `case.access_export`, format `pdf`."""
        session = db_session()
        with http_refusals():
            export = produce_access_export(session, runtime().engine, current_actor(), case_id, fmt="pdf",
                                           origin=origin())  # fmt: skip
        pdf = runtime().access_pdf(export)
        session.commit()
        # The name is our reference, never the person's name or BSN (security.md scenario 14).
        return pdf_response(pdf, f"inzageoverzicht-{export.case.reference}.pdf")
