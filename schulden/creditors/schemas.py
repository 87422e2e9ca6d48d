"""The creditor directory's JSON: search arguments, the creditor, and what a user may write."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, pre_load, validate

from schulden.creditors.models import CreditorKind
from schulden.debts.models import DebtCategory
from schulden.fields import MAX_ID, DutchSchema, Name, PlainText, Postcode, length, one_of
from schulden.paging import PageArgs

KINDS = [kind.value for kind in CreditorKind]
CATEGORIES = [category.value for category in DebtCategory]
GRADES = ["A", "B", "C"]

KVK = validate.Regexp(r"^[0-9]{8}\Z", error="Een KvK-nummer is precies 8 cijfers, bijvoorbeeld 12345678.")
EMAIL = validate.Email(error="Geen geldig e-mailadres.")
URL = validate.URL(relative=False, schemes={"http", "https"}, error="Geen geldig webadres (http:// of https://).")


def drop_empty_query_values(data: Any) -> Any:
    """`?q=&kind=` means "no filter": a form or a UI sends empty parameters for fields left blank."""
    if hasattr(data, "items"):
        return {key: value for key, value in data.items() if value != ""}
    return data


class CreditorSearchArgs(PageArgs):
    q = fields.String(
        load_default=None,
        validate=length(None, 200),
        metadata={"description": "Deel van de naam (hoofdletters maken niet uit)."},
    )
    kind = fields.String(load_default=None, validate=one_of(KINDS))
    category = fields.String(load_default=None, validate=one_of(CATEGORIES))

    @pre_load
    def _drop_empty(self, data: Any, **_kwargs: Any) -> Any:
        return drop_empty_query_values(data)


class CreditorSchema(DutchSchema):
    """A creditor as the API shows it. `row_version` is also sent as the ETag."""

    id = fields.Integer()
    name = fields.String()
    department = fields.String(allow_none=True)
    kind = fields.String()
    category = fields.String()
    may_receive_bsn = fields.Boolean()
    takes_email = fields.Boolean()
    email = fields.String(allow_none=True)
    address_line = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    kvk = fields.String(allow_none=True)
    grade = fields.String(allow_none=True)
    source_url = fields.String(allow_none=True)
    active = fields.Boolean()
    row_version = fields.Integer()


class CreditorPage(DutchSchema):
    items = fields.List(fields.Nested(CreditorSchema))
    next = fields.String(
        allow_none=True, metadata={"description": "Cursor voor de volgende pagina (`after`); null op de laatste."}
    )


class CreditorCreate(DutchSchema):
    """A new creditor. `may_receive_bsn` may only be set by an administrator."""

    name = Name(maximum=200, required=True)
    department = PlainText(maximum=200, allow_none=True)
    kind = fields.String(validate=one_of(KINDS), metadata={"description": "Standaard: other."})
    category = fields.String(required=True, validate=one_of(CATEGORIES))
    may_receive_bsn = fields.Boolean()
    takes_email = fields.Boolean(metadata={"description": "Standaard: false."})
    email = fields.String(allow_none=True, validate=[length(None, 254), EMAIL])
    address_line = PlainText(maximum=200, allow_none=True)
    postcode = Postcode(allow_none=True)
    city = PlainText(maximum=100, allow_none=True)
    kvk = fields.String(allow_none=True, validate=KVK)
    grade = fields.String(allow_none=True, validate=one_of(GRADES))
    source_url = fields.String(allow_none=True, validate=[length(None, 500), URL])


class CreditorUpdate(DutchSchema):
    """A correction: only the fields sent change; null clears an optional field."""

    name = Name(maximum=200)
    department = PlainText(maximum=200, allow_none=True)
    kind = fields.String(validate=one_of(KINDS))
    category = fields.String(validate=one_of(CATEGORIES))
    may_receive_bsn = fields.Boolean()
    takes_email = fields.Boolean()
    email = fields.String(allow_none=True, validate=[length(None, 254), EMAIL])
    address_line = PlainText(maximum=200, allow_none=True)
    postcode = Postcode(allow_none=True)
    city = PlainText(maximum=100, allow_none=True)
    kvk = fields.String(allow_none=True, validate=KVK)
    grade = fields.String(allow_none=True, validate=one_of(GRADES))
    source_url = fields.String(allow_none=True, validate=[length(None, 500), URL])


class ChangeProposalCreate(DutchSchema):
    """A proposed change of a creditor's contact data: only the fields sent are proposed; null clears a field."""

    name = Name(maximum=200)
    department = PlainText(maximum=200, allow_none=True)
    may_receive_bsn = fields.Boolean()
    takes_email = fields.Boolean()
    email = fields.String(allow_none=True, validate=[length(None, 254), EMAIL])
    address_line = PlainText(maximum=200, allow_none=True)
    postcode = Postcode(allow_none=True)
    city = PlainText(maximum=100, allow_none=True)
    grade = fields.String(allow_none=True, validate=one_of(GRADES))
    source_url = fields.String(allow_none=True, validate=[length(None, 500), URL])


class ChangeProposalSchema(DutchSchema):
    """A proposal as the API shows it. `changes` holds the proposed values of the fields proposed only."""

    id = fields.Integer()
    creditor_id = fields.Integer()
    status = fields.String(metadata={"description": "proposed, approved of rejected."})
    changes = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    base_version = fields.Integer(metadata={"description": "De versie (row_version) waarop het voorstel is gebaseerd."})
    proposed_by = fields.String()
    organisation_id = fields.Integer(allow_none=True)
    proposed_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class ChangeProposalPage(DutchSchema):
    items = fields.List(fields.Nested(ChangeProposalSchema))
    next = fields.String(
        allow_none=True, metadata={"description": "Cursor voor de volgende pagina (`after`); null op de laatste."}
    )


class ChangeProposalArgs(PageArgs):
    status = fields.String(
        load_default="proposed",
        validate=one_of(["proposed", "approved", "rejected"]),
        metadata={"description": "Standaard: proposed (wachten op een beheerder)."},
    )
    creditor_id = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=MAX_ID, error="Geen geldig id van een schuldeiser.")
    )

    @pre_load
    def _drop_empty(self, data: Any, **_kwargs: Any) -> Any:
        return drop_empty_query_values(data)
