"""marshmallow schemas of a creditor's answer: the reply page and the counsellor's API load the same fields."""

from __future__ import annotations

from marshmallow import fields, validate

from schulden.fields import Cents, Day, DutchSchema, Name, PlainText, one_of
from schulden.replies.models import NoCooperation, ReplyChannel

NO_COOPERATION = [n.value for n in NoCooperation]
PHONE = validate.Regexp(r"^[0-9 +()\-]{6,20}$", error="Telefoonnummer: 6 tot 20 cijfers, spaties, +, - of haakjes.")
STAFF_CHANNELS = [c.value for c in ReplyChannel if c is not ReplyChannel.WEB]


class ReplyAnswer(DutchSchema):
    """What a creditor tells us. Cross-field rules (a balance needs its peildatum, ...) are in the service."""

    principal_cents = Cents(load_default=None, allow_none=True)
    interest_cents = Cents(load_default=None, allow_none=True)
    costs_cents = Cents(load_default=None, allow_none=True)
    peildatum = Day(load_default=None, allow_none=True)
    collection_suspended = fields.Boolean(load_default=None, allow_none=True)
    collection_suspended_until = Day(load_default=None, allow_none=True)
    interest_suspended = fields.Boolean(load_default=None, allow_none=True)
    interest_suspended_until = Day(load_default=None, allow_none=True)
    has_judgment = fields.Boolean(load_default=None, allow_none=True)
    has_attachment = fields.Boolean(load_default=None, allow_none=True)
    original_creditor = Name(load_default=None, allow_none=True)
    arrangement_offered = fields.Boolean(load_default=None, allow_none=True)
    arrangement_monthly_cents = Cents(load_default=None, allow_none=True)
    arrangement_terms = PlainText(load_default=None, allow_none=True, maximum=2000)
    contact_name = Name(load_default=None, allow_none=True)
    contact_phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    contact_email = fields.Email(load_default=None, allow_none=True)
    no_cooperation = fields.String(load_default=None, allow_none=True, validate=one_of(NO_COOPERATION))
    no_cooperation_note = PlainText(load_default=None, allow_none=True, maximum=2000)
    note = PlainText(load_default=None, allow_none=True, maximum=5000)


class ReplyCreate(ReplyAnswer):
    """A counsellor types in an answer that came on paper, by phone or by e-mail."""

    channel = fields.String(required=True, validate=one_of(STAFF_CHANNELS))
    received_on = Day(required=True)
    letter_id = fields.Integer(load_default=None, allow_none=True, strict=True)


class ReplyOut(DutchSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    debt_id = fields.Integer(allow_none=True)
    letter_id = fields.Integer(allow_none=True)
    channel = fields.String()
    received_on = fields.Date()
    entered_by = fields.String()
    principal_cents = fields.Integer(allow_none=True)
    interest_cents = fields.Integer(allow_none=True)
    costs_cents = fields.Integer(allow_none=True)
    total_cents = fields.Integer(allow_none=True)
    peildatum = fields.Date(allow_none=True)
    collection_suspended = fields.Boolean(allow_none=True)
    collection_suspended_until = fields.Date(allow_none=True)
    interest_suspended = fields.Boolean(allow_none=True)
    interest_suspended_until = fields.Date(allow_none=True)
    has_judgment = fields.Boolean(allow_none=True)
    has_attachment = fields.Boolean(allow_none=True)
    original_creditor = fields.String(allow_none=True)
    arrangement_offered = fields.Boolean(allow_none=True)
    arrangement_monthly_cents = fields.Integer(allow_none=True)
    arrangement_terms = fields.String(allow_none=True)
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    no_cooperation = fields.String(allow_none=True)
    no_cooperation_note = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    attachment_name = fields.String(allow_none=True)
    attachment_bytes = fields.Integer(allow_none=True)
    events = fields.String(allow_none=True)
    version = fields.Integer()
    superseded_at = fields.DateTime(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
