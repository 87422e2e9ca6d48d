"""marshmallow schemas of a creditor's answer: the reply page and the counsellor's API load the same fields."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schulden.fields import Cents, Day, DutchSchema, Name, PlainText, one_of
from schulden.replies.models import ArrangementDecision, DecisionStep, NoCooperation, ReplyChannel

NO_COOPERATION = [n.value for n in NoCooperation]
DECISIONS = [d.value for d in ArrangementDecision]
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
    # The decisions a proposal (L4) and a termination (L5) ask for, and the notices' confirmations (L6, L7).
    arrangement_decision = fields.String(load_default=None, allow_none=True, validate=one_of(DECISIONS))
    arrangement_reason = PlainText(load_default=None, allow_none=True, maximum=2000)
    termination_confirmed = fields.Boolean(load_default=None, allow_none=True)
    termination_date = Day(load_default=None, allow_none=True)
    termination_reason = PlainText(load_default=None, allow_none=True, maximum=2000)
    insurance_suspended = fields.Boolean(load_default=None, allow_none=True)
    insurance_suspended_from = Day(load_default=None, allow_none=True)
    change_confirmed = fields.Boolean(load_default=None, allow_none=True)
    reclaim_cents = Cents(load_default=None, allow_none=True)
    note = PlainText(load_default=None, allow_none=True, maximum=5000)


# -- what the reply page asks, per letter (ux.md "Public creditor page": ask only what the letter asked) ------------


#: The creditor's answer to a payment proposal (L4): the letter asks whether it agrees, and why not.
Decision = ArrangementDecision

DECISION_LABELS = {
    Decision.ACCEPT: "Ja, wij gaan akkoord met het voorstel",
    Decision.REFUSE: "Nee, wij gaan niet akkoord",
    Decision.COUNTER: "Wij doen een ander voorstel",
}


@dataclass(frozen=True)
class Section:
    """One coherent group of questions on the reply page, under its own heading."""

    key: str
    fields: tuple[str, ...]


NUMBERS = Section("numbers", ("creditor_customer_number", "creditor_invoice_number"))
BALANCE = Section(
    "balance",
    ("principal_cents", "interest_cents", "costs_cents", "peildatum", "original_creditor", "has_judgment",
     "has_attachment"),
)  # fmt: skip
SUSPENSION = Section(
    "suspension",
    ("collection_suspended", "collection_suspended_until", "interest_suspended", "interest_suspended_until"),
)
ARRANGEMENT = Section("arrangement", ("arrangement_offered", "arrangement_monthly_cents", "arrangement_terms"))
PROPOSAL = Section(
    "proposal",
    ("arrangement_decision", "arrangement_reason", "arrangement_monthly_cents", "arrangement_terms",
     "interest_suspended"),
)  # fmt: skip
TERMINATION = Section("termination", ("termination_confirmed", "termination_date", "termination_reason"))
INSURANCE = Section("insurance", ("insurance_suspended", "insurance_suspended_from"))
CHANGE = Section("change", ("change_confirmed", "reclaim_cents"))
NO_COOPERATION_SECTION = Section("no_cooperation", ("no_cooperation", "no_cooperation_note"))
CONTACT = Section("contact", ("contact_name", "contact_phone", "contact_email", "note"))

#: The questions of each letter a creditor can answer online (the reminder L3 asks again what the letter it chases
#: asked: see codes.asked_type). L1 reports the detention and asks to suspend collection and for a statement of
#: account; L2 asks only the statement; both ask whether the creditor will work towards an arrangement. L4 proposes
#: a plan (agree, refuse, or a counter-proposal; and no interest during it); L5 terminates a contract (confirm and
#: from when). Every letter to a creditor keeps "Geen medewerking" and the creditor's contact details. The
#: notices at intake are about no debt: the insurer confirms the suspension of the basic insurance and from when
#: (L6), a benefit office that it processed the change and what it will reclaim (L7); both keep the contact
#: details, and neither is a creditor's "Geen medewerking".
QUESTIONS: dict[str, tuple[Section, ...]] = {
    "L1": (NUMBERS, BALANCE, SUSPENSION, ARRANGEMENT, NO_COOPERATION_SECTION, CONTACT),
    "L2": (NUMBERS, BALANCE, ARRANGEMENT, NO_COOPERATION_SECTION, CONTACT),
    "L4": (PROPOSAL, NO_COOPERATION_SECTION, CONTACT),
    "L5": (TERMINATION, NO_COOPERATION_SECTION, CONTACT),
    "L6": (INSURANCE, CONTACT),
    "L7": (CHANGE, CONTACT),
}
#: The letters about the case, not a debt, that can be answered online (schulden/cases/notices.py).
NOTICE_TYPES = frozenset({"L6", "L7"})
#: A reminder whose first letter cannot be found asks what the notice asks (the most).
FALLBACK = "L1"


def questions_for(asked_type: str) -> tuple[Section, ...]:
    return QUESTIONS.get(asked_type, QUESTIONS[FALLBACK])


def asked_fields(asked_type: str) -> tuple[str, ...]:
    """The field names the page asks for this letter type, in page order (each once)."""
    return tuple(dict.fromkeys(name for section in questions_for(asked_type) for name in section.fields))


class ReplyPageAnswer(ReplyAnswer):
    """The reply page's fields: those of a stored answer (the decisions included); `stored_answer` applies the
    rules of the letter's questions."""


@dataclass(frozen=True)
class Proposal:
    """The plan the payment proposal (L4) put to the creditor, as the letter stated it."""

    monthly_cents: int
    months: int
    start_date: date


#: The fields of each letter's decision: kept only for the letter that asks them, so a decision typed and then
#: hidden (another letter's question) is never stored.
_DECISION_FIELDS = {
    "L4": ("arrangement_decision", "arrangement_reason"),
    "L5": ("termination_confirmed", "termination_date", "termination_reason"),
    "L6": ("insurance_suspended", "insurance_suspended_from"),
    "L7": ("change_confirmed", "reclaim_cents"),
}


def stored_answer(
    asked_type: str, loaded: Mapping[str, Any], proposal: Proposal | None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The page's answer (`ReplyPageAnswer` loaded) as the fields an answer stores (services.FIELDS), with the
    rules of the letter's decision: each decision is stored as data (arrangement_decision, termination_confirmed,
    ...), and the note keeps only the creditor's own words."""
    errors: dict[str, list[str]] = {}
    asked = set(_DECISION_FIELDS.get(asked_type, ()))
    decision_fields = {name for names in _DECISION_FIELDS.values() for name in names}
    data = {k: v for k, v in loaded.items() if k in ReplyAnswer().fields and (k in asked or k not in decision_fields)}
    if loaded.get("no_cooperation"):
        # "Geen medewerking" answers the letter: a decision typed as well is not the creditor's answer.
        data.update(dict.fromkeys(asked))
    elif asked_type in _RULES:
        _RULES[asked_type](loaded, data, errors, proposal)
    return data, errors


def _termination_rules(
    loaded: Mapping[str, Any], data: dict[str, Any], errors: dict[str, list[str]], _proposal: Proposal | None
) -> None:
    """Confirmed with the day the contract ends, or not confirmed with the reason."""
    confirmed = loaded.get("termination_confirmed")
    if confirmed is None:
        errors["termination_confirmed"] = ["Kies of u de opzegging bevestigt."]
    elif confirmed:
        if loaded.get("termination_date") is None:
            errors["termination_date"] = ["Vul de datum in waarop de overeenkomst eindigt."]
        data["termination_reason"] = None
    else:
        if not loaded.get("termination_reason"):
            errors["termination_reason"] = ["Schrijf waarom u de opzegging niet bevestigt."]
        data["termination_date"] = None


def _insurance_rules(
    loaded: Mapping[str, Any], data: dict[str, Any], errors: dict[str, list[str]], _proposal: Proposal | None
) -> None:
    """The insurer suspends the basic insurance from a date, or says in the note why not."""
    suspended = loaded.get("insurance_suspended")
    if suspended is None:
        errors["insurance_suspended"] = ["Kies of u de basisverzekering schorst."]
    elif suspended and loaded.get("insurance_suspended_from") is None:
        errors["insurance_suspended_from"] = ["Vul de datum in vanaf wanneer de verzekering geschorst is."]
    elif not suspended:
        data["insurance_suspended_from"] = None
        if not loaded.get("note"):
            errors["note"] = ["Schrijf bij Opmerking waarom u de verzekering niet schorst."]


def _change_rules(
    loaded: Mapping[str, Any], data: dict[str, Any], errors: dict[str, list[str]], _proposal: Proposal | None
) -> None:
    """The office processed the change (and names any reclaim), or says in the note why not."""
    if loaded.get("change_confirmed") is None:
        errors["change_confirmed"] = ["Kies of u de wijziging hebt verwerkt."]
    elif not loaded.get("change_confirmed") and not loaded.get("note"):
        errors["note"] = ["Schrijf bij Opmerking waarom u de wijziging niet verwerkt."]


def _proposal_rules(
    loaded: Mapping[str, Any], data: dict[str, Any], errors: dict[str, list[str]], proposal: Proposal | None
) -> None:
    """Agree (the letter's plan becomes the answer's arrangement), refuse (with a reason, no arrangement) or a
    counter-proposal (with its amount a month)."""
    decision = loaded.get("arrangement_decision")
    if decision is None:
        errors["arrangement_decision"] = ["Kies of u akkoord gaat met het voorstel."]
    elif decision == Decision.ACCEPT.value:
        data["arrangement_monthly_cents"] = proposal.monthly_cents if proposal is not None else None
        data["arrangement_offered"] = True
        data["arrangement_terms"] = None
        data["arrangement_reason"] = None
    elif decision == Decision.REFUSE.value:
        if not loaded.get("arrangement_reason"):
            errors["arrangement_reason"] = ["Schrijf waarom u niet akkoord gaat."]
        data["arrangement_offered"] = False
        data["arrangement_monthly_cents"] = None
        data["arrangement_terms"] = None
    else:
        if loaded.get("arrangement_monthly_cents") is None:
            errors["arrangement_monthly_cents"] = ["Vul het bedrag per maand van uw voorstel in euro's in."]
        data["arrangement_offered"] = True
        data["arrangement_reason"] = None


_RULES = {"L4": _proposal_rules, "L5": _termination_rules, "L6": _insurance_rules, "L7": _change_rules}


class ReplyCreate(ReplyAnswer):
    """A counsellor types in an answer that came on paper, by phone or by e-mail."""

    channel = fields.String(required=True, validate=one_of(STAFF_CHANNELS))
    received_on = Day(required=True)
    letter_id = fields.Integer(load_default=None, allow_none=True, strict=True)


class ProposalIn(DutchSchema):
    """A new payment proposal (L4) in answer to a creditor's counter-proposal: as `propose_arrangement` takes it."""

    monthly_cents = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=100_000_000, error="Bedrag per maand in centen, van 1 tot 100000000."),
    )
    months = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=120, error="Aantal termijnen: 1 tot 120.")
    )
    start_date = Day(required=True)
    basis = PlainText(required=True, maximum=500, metadata={"description": "Waarop het bedrag is gebaseerd."})


class DecisionIn(DutchSchema):
    """The step a counsellor records on the debt from the creditor's decision (POST /replies/{id}/decision)."""

    step = fields.String(
        required=True,
        validate=one_of([s.value for s in DecisionStep]),
        metadata={
            "description": "agree (regeling akkoord; bij een tegenvoorstel: dat voorstel), reject (afgewezen), "
            "propose_again (tegenvoorstel niet aangenomen, met `proposal` een nieuw voorstel), confirm_termination."
        },
    )
    proposal = fields.Nested(ProposalIn, load_default=None, allow_none=True)

    @validates_schema
    def _proposal_with_propose_again(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("step") == DecisionStep.PROPOSE_AGAIN.value and data.get("proposal") is None:
            raise ValidationError("Bij propose_again hoort het nieuwe voorstel.", "proposal")
        if data.get("step") != DecisionStep.PROPOSE_AGAIN.value and data.get("proposal") is not None:
            raise ValidationError("Een voorstel hoort alleen bij propose_again.", "proposal")


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
    arrangement_decision = fields.String(
        allow_none=True, metadata={"enum": DECISIONS, "description": "Besluit over ons voorstel (L4)."}
    )
    arrangement_reason = fields.String(allow_none=True)
    termination_confirmed = fields.Boolean(allow_none=True)
    termination_date = fields.Date(allow_none=True)
    termination_reason = fields.String(allow_none=True)
    insurance_suspended = fields.Boolean(allow_none=True)
    insurance_suspended_from = fields.Date(allow_none=True)
    change_confirmed = fields.Boolean(allow_none=True)
    reclaim_cents = fields.Integer(allow_none=True)
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
    decision = fields.String(
        allow_none=True, metadata={"enum": DECISIONS, "description": "Betaalvoorstel antwoord: akkoord of niet."}
    )
    reason = fields.String(allow_none=True)


class KnooppuntTermination(DutchSchema):
    confirmed = fields.Boolean(allow_none=True)
    end_date = _date()
    reason = fields.String(allow_none=True)


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
    termination = fields.Nested(KnooppuntTermination)
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
