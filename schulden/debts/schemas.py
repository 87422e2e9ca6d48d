"""marshmallow schemas of the debt API."""

from __future__ import annotations

from marshmallow import fields, validates_schema
from marshmallow.exceptions import ValidationError

from schulden.cases.models import Threat
from schulden.debts.models import DEBT_TYPES, AmountStatus, DebtCategory
from schulden.fields import Cents, Day, DutchSchema, Id, PlainText, length, one_of

CATEGORIES = [c.value for c in DebtCategory]
AMOUNT_STATUSES = [s.value for s in AmountStatus]
THREATS = [t.value for t in Threat]
SOURCES = ["client", "document", "creditor", "vroegsignaal"]


class DebtCreate(DutchSchema):
    creditor_id = Id(required=True)
    collecting_party_id = Id(load_default=None, allow_none=True)
    creditor_reference = PlainText(load_default=None, allow_none=True, maximum=100)
    debt_type = fields.String(required=True, validate=one_of(list(DEBT_TYPES)))
    category = fields.String(load_default=None, allow_none=True, validate=one_of(CATEGORIES))
    principal_cents = Cents(load_default=0)
    interest_cents = Cents(load_default=0)
    costs_cents = Cents(load_default=0)
    amount_status = fields.String(load_default="estimated", validate=one_of(AMOUNT_STATUSES))
    peildatum = Day(load_default=None, allow_none=True)
    threat = fields.String(load_default=None, allow_none=True, validate=one_of(THREATS))
    joint_with_partner = fields.Boolean(load_default=False)
    is_business_debt = fields.Boolean(load_default=False)
    source = fields.String(load_default="client", validate=one_of(SOURCES))


class DebtUpdate(DutchSchema):
    collecting_party_id = Id(allow_none=True)
    creditor_reference = PlainText(allow_none=True, maximum=100)
    principal_cents = Cents()
    interest_cents = Cents()
    costs_cents = Cents()
    amount_status = fields.String(validate=one_of(AMOUNT_STATUSES))
    peildatum = Day(allow_none=True)
    threat = fields.String(allow_none=True, validate=one_of(THREATS))
    joint_with_partner = fields.Boolean()
    is_business_debt = fields.Boolean()

    @validates_schema
    def _not_empty(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ValidationError("Geef minstens één veld om te wijzigen.")


class CreditorRef(DutchSchema):
    id = fields.Integer()
    name = fields.String()


class DebtOut(DutchSchema):
    id = fields.Integer()
    case_id = Id()
    version = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    creditor = fields.Nested(CreditorRef)
    collecting_party = fields.Nested(CreditorRef, allow_none=True)
    creditor_reference = fields.String(allow_none=True)
    debt_type = fields.String()
    category = fields.String()
    principal_cents = fields.Integer()
    interest_cents = fields.Integer()
    costs_cents = fields.Integer()
    total_cents = fields.Integer()
    amount_status = fields.String()
    peildatum = fields.Date(allow_none=True)
    threat = fields.String(allow_none=True)
    joint_with_partner = fields.Boolean()
    is_business_debt = fields.Boolean()
    source = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DebtListOut(DutchSchema):
    items = fields.List(fields.Nested(DebtOut))
    totals = fields.Dict(keys=fields.String(), values=fields.Dict())


__all__ = ["length"]
