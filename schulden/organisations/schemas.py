"""The municipalities' JSON: search arguments, a municipality with its debt counselling team, the routing proposal."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, pre_load, validate

from schulden.fields import DutchSchema, PlainText, Postcode, length
from schulden.paging import PageArgs

EMAIL = validate.Email(error="Geen geldig e-mailadres.")
#: The largest id a row can have (32-bit INTEGER): a larger one is refused here instead of by the database.
MAX_ID = 2**31 - 1


def drop_empty_query_values(data: Any) -> Any:
    """`?q=` means "no filter": a form or a UI sends empty parameters for fields left blank."""
    if hasattr(data, "items"):
        return {key: value for key, value in data.items() if value != ""}
    return data


class MunicipalitySearchArgs(PageArgs):
    q = fields.String(
        load_default=None,
        validate=length(None, 200),
        metadata={"description": "Deel van de naam (hoofdletters maken niet uit), of de CBS-code (GM0363)."},
    )

    @pre_load
    def _drop_empty(self, data: Any, **_kwargs: Any) -> Any:
        return drop_empty_query_values(data)


class MunicipalitySchema(DutchSchema):
    """A municipality (CBS code GM + 4 digits) and its debt counselling team, where referrals go."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    province = fields.String(allow_none=True)
    team_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    address_line = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    city = fields.String(allow_none=True)


class MunicipalityPage(DutchSchema):
    items = fields.List(fields.Nested(MunicipalitySchema))
    next = fields.String(
        allow_none=True, metadata={"description": "Cursor voor de volgende pagina (`after`); null op de laatste."}
    )


class MunicipalityUpdate(DutchSchema):
    """The debt counselling team's contact details: only the fields sent change; null clears one."""

    team_name = PlainText(maximum=200, allow_none=True)
    email = fields.String(allow_none=True, validate=[length(None, 254), EMAIL])
    address_line = PlainText(maximum=200, allow_none=True)
    postcode = Postcode(allow_none=True)
    city = PlainText(maximum=100, allow_none=True)


class ProposalArgs(DutchSchema):
    postcode = Postcode(
        load_default=None, metadata={"description": "Postcode van het beoogde adres na vrijlating (1234 AB)."}
    )
    registration_municipality_id = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_ID, error="Onbekende gemeente."),
        metadata={"description": "Id van de gemeente van inschrijving voor de detentie."},
    )

    @pre_load
    def _drop_empty(self, data: Any, **_kwargs: Any) -> Any:
        return drop_empty_query_values(data)


class ProposalSchema(DutchSchema):
    municipality = fields.Nested(MunicipalitySchema, allow_none=True)
    rule = fields.String(allow_none=True, metadata={"description": "intended_address, registration of null."})
    reason = fields.String()
    approximate = fields.Boolean(
        metadata={"description": "Waar als de gemeente via het PC4-gebied is gevonden: dat kan een grens kruisen."}
    )
