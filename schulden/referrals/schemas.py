"""Input rules for sending a referral and for the municipality's decision, for the API and the pages alike."""

from __future__ import annotations

from marshmallow import fields

from schulden.fields import DutchSchema, PlainText, one_of
from schulden.referrals.models import RefusalKind


class ReferralIn(DutchSchema):
    include_district_team = fields.Boolean(load_default=False)


class AcceptIn(DutchSchema):
    first_conversation_on = fields.Date(required=True)


class RefuseIn(DutchSchema):
    kind = fields.String(required=True, validate=one_of([k.value for k in RefusalKind]))
    reason = PlainText(required=True, maximum=2000)
