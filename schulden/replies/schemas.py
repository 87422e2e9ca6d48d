"""marshmallow schemas of a creditor's answer: the reply page and the counsellor's API load the same fields."""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import ValidationError, fields, validate

from schulden.fields import Cents, Day, DutchSchema, Name, PlainText, one_of
from schulden.replies.models import NoCooperation, ReplyChannel

NO_COOPERATION = [n.value for n in NoCooperation]
PHONE = validate.Regexp(r"^[0-9 +()\-]{6,20}$", error="Telefoonnummer: 6 tot 20 cijfers, spaties, +, - of haakjes.")
STAFF_CHANNELS = [c.value for c in ReplyChannel if c is not ReplyChannel.WEB]
#: The creditor's own numbers are stored in 64 characters (CreditorReply.creditor_customer_number, ..._invoice_number).
NUMBER_MAX = 64


class CreditorNumber(fields.String):
    """A number the creditor gives us of its own (klantnummer, factuurnummer): optional, trimmed, at most 64
    characters, printable. Empty after trimming is absent. Every message names the field, as the creditor sees it
    on the reply page and the counsellor in the API's problem answer."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(load_default=None, allow_none=True, **kwargs)
        self.label = label

    # An empty number loads as None (absent), which String's own type does not allow.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> str | None:
        if not isinstance(value, str):
            raise ValidationError(f"{self.label}: geef het nummer als tekst.")
        text = unicodedata.normalize("NFC", value).strip()
        if not text:
            return None
        if len(text) > NUMBER_MAX:
            raise ValidationError(f"{self.label} is te lang: maximaal {NUMBER_MAX} tekens (nu {len(text)}).")
        # Control and format characters (bidirectional overrides, zero-width) could disguise a number in a letter.
        if any(unicodedata.category(ch).startswith("C") for ch in text):
            raise ValidationError(f"{self.label} bevat onzichtbare of stuurtekens; typ alleen het nummer.")
        return text


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
    # Schuldenknooppunt's Kennisgeving antwoord and Saldoverzoek antwoord carry them (docs/schuldenknooppunt.md).
    creditor_customer_number = CreditorNumber("Uw klantnummer")
    creditor_invoice_number = CreditorNumber("Uw factuurnummer")
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
    creditor_customer_number = fields.String(allow_none=True)
    creditor_invoice_number = fields.String(allow_none=True)
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


# -- the Schuldenknooppunt export (schulden/replies/knooppunt.py; docs/schuldenknooppunt.md) ------------------------
# The export is JSON-ready when it leaves the domain (dates as ISO text), so dates are strings here too.


def _date(**kwargs: Any) -> fields.String:
    return fields.String(allow_none=True, metadata={"format": "date"}, **kwargs)


class KnooppuntParty(DutchSchema):
    id = fields.Integer()
    name = fields.String()
    kvk = fields.String(allow_none=True)
    uses_bsn = fields.Boolean(
        metadata={"description": "Werkt met het BSN: Kennisgeving Publiek in plaats van Kennisgeving."}
    )


class KnooppuntProposal(DutchSchema):
    monthly_cents = fields.Integer(allow_none=True)
    months = fields.Integer(allow_none=True)
    start_date = _date()
    basis = fields.String(allow_none=True)


class KnooppuntMessage(DutchSchema):
    letter_id = fields.Integer()
    letter_type = fields.String()
    letter_title = fields.String()
    skn_messages = fields.List(fields.String(), metadata={"description": "Leeg: deze brief is geen SKN-bericht."})
    skn_note = fields.String(allow_none=True)
    our_reference = fields.String()
    letter_date = _date()
    sent_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    status = fields.String()
    round = fields.Integer()
    channel = fields.String()
    proposal = fields.Nested(KnooppuntProposal, allow_none=True)


class KnooppuntLetterRef(DutchSchema):
    letter_id = fields.Integer()
    letter_type = fields.String()
    our_reference = fields.String()


class KnooppuntBalance(DutchSchema):
    principal_cents = fields.Integer(allow_none=True)
    interest_cents = fields.Integer(allow_none=True)
    costs_cents = fields.Integer(allow_none=True)
    total_cents = fields.Integer(allow_none=True)
    peildatum = _date()


class KnooppuntSuspension(DutchSchema):
    collection_suspended = fields.Boolean(allow_none=True)
    collection_suspended_until = _date()
    interest_suspended = fields.Boolean(allow_none=True)
    interest_suspended_until = _date()


class KnooppuntArrangement(DutchSchema):
    offered = fields.Boolean(allow_none=True)
    monthly_cents = fields.Integer(allow_none=True)
    terms = fields.String(allow_none=True)


class KnooppuntContact(DutchSchema):
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class KnooppuntNoCooperation(DutchSchema):
    reason = fields.String()
    label = fields.String()
    skn_reason_code = fields.String(allow_none=True, metadata={"description": "Leeg bij 'other': geen SKN-reden."})
    skn_reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class KnooppuntAnswer(DutchSchema):
    reply_id = fields.Integer()
    version = fields.Integer()
    superseded = fields.Boolean()
    received_on = _date()
    channel = fields.String()
    in_answer_to = fields.Nested(KnooppuntLetterRef, allow_none=True)
    skn_answer = fields.String(allow_none=True)
    klantnummer_se = fields.String(allow_none=True)
    factuurnummer_se = fields.String(allow_none=True)
    balance = fields.Nested(KnooppuntBalance)
    suspension = fields.Nested(KnooppuntSuspension)
    has_judgment = fields.Boolean(allow_none=True)
    has_attachment = fields.Boolean(allow_none=True)
    original_creditor = fields.String(allow_none=True)
    arrangement = fields.Nested(KnooppuntArrangement)
    contact = fields.Nested(KnooppuntContact)
    geen_medewerking = fields.Nested(KnooppuntNoCooperation, allow_none=True)
    note = fields.String(allow_none=True)


class KnooppuntReferences(DutchSchema):
    our_reference = fields.String()
    creditor_reference = fields.String(allow_none=True)
    klantnummer_se = fields.String(allow_none=True)
    factuurnummer_se = fields.String(allow_none=True)


class KnooppuntAmount(DutchSchema):
    principal_cents = fields.Integer()
    interest_cents = fields.Integer()
    costs_cents = fields.Integer()
    total_cents = fields.Integer()
    status = fields.String()
    peildatum = _date()


class KnooppuntDebt(DutchSchema):
    debt_id = fields.Integer()
    creditor = fields.Nested(KnooppuntParty)
    collecting_party = fields.Nested(KnooppuntParty, allow_none=True)
    debt_type = fields.String()
    category = fields.String()
    state = fields.String(allow_none=True)
    references = fields.Nested(KnooppuntReferences)
    amount = fields.Nested(KnooppuntAmount)
    messages = fields.List(fields.Nested(KnooppuntMessage))
    answers = fields.List(fields.Nested(KnooppuntAnswer))


class KnooppuntCase(DutchSchema):
    id = fields.Integer()
    reference = fields.String()
    state = fields.String()


class KnooppuntHelper(DutchSchema):
    organisation_id = fields.Integer()
    name = fields.String()


class KnooppuntClient(DutchSchema):
    initials = fields.String()
    given_names = fields.String()
    surname_prefix = fields.String(allow_none=True)
    surname = fields.String()
    date_of_birth = _date()
    bsn_included = fields.Boolean(metadata={"description": "Altijd false: het BSN zit nooit in de export."})


class KnooppuntExport(DutchSchema):
    """A case's correspondence with its creditors as Schuldenknooppunt messages (docs/schuldenknooppunt.md)."""

    format = fields.String()
    version = fields.Integer()
    skn_release = fields.String()
    generated_at = fields.String(metadata={"format": "date-time"})
    case = fields.Nested(KnooppuntCase)
    helper = fields.Nested(KnooppuntHelper, allow_none=True)
    client = fields.Nested(KnooppuntClient)
    debts = fields.List(fields.Nested(KnooppuntDebt))
    other_letters = fields.List(fields.Nested(KnooppuntMessage))
