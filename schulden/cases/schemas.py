"""marshmallow schemas of the case API, one per direction. Output differs per role where fields differ:
volunteers and partners never get a BSN field, not even masked (security.md 2.1, field level)."""

from __future__ import annotations

from marshmallow import fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from schulden.cases.models import Benefit, ClosureReason, ConsentPurpose, DetentionType, HouseholdRelation, Threat
from schulden.cases.queries import SORTS
from schulden.cases.search_keys import fold
from schulden.fields import Bsn, Cents, Day, DjiNumber, DutchSchema, Id, Name, PlainText, Postcode, length, one_of
from schulden.paging import PageArgs

DETENTION_TYPES = [t.value for t in DetentionType]
PURPOSES = [p.value for p in ConsentPurpose]


class DetaineeIn(DutchSchema):
    given_names = Name(required=True)
    surname_prefix = Name(load_default=None, allow_none=True, maximum=40)
    surname = Name(required=True)
    date_of_birth = Day(required=True)
    bsn = Bsn(load_default=None, allow_none=True)
    dji_number = DjiNumber(load_default=None, allow_none=True)


class DetentionIn(DutchSchema):
    pi_id = Id(load_default=None, allow_none=True)
    type = fields.String(required=True, validate=one_of(DETENTION_TYPES))
    start = Day(required=True)
    expected_release = Day(load_default=None, allow_none=True)


class CaseCreate(DutchSchema):
    detainee = fields.Nested(DetaineeIn, required=True)
    detention = fields.Nested(DetentionIn, required=True)
    intended_postcode = Postcode(load_default=None, allow_none=True)
    registration_municipality_id = Id(load_default=None, allow_none=True)
    # The basic health insurance and the benefits at arrest (L6, L7 once the consent is recorded); optional.
    health_insurer_id = Id(load_default=None, allow_none=True)
    health_policy_number = PlainText(load_default=None, allow_none=True, maximum=40)
    benefits = fields.List(fields.String(validate=one_of([b.value for b in Benefit])), load_default=list)


class CaseUpdate(DutchSchema):
    expected_release = Day(allow_none=True)
    intended_postcode = Postcode(allow_none=True)
    registration_municipality_id = Id()
    dji_number = DjiNumber()

    @validates_schema
    def _not_empty(self, data: dict[str, object], **kwargs: object) -> None:
        if not data:
            raise ValidationError("Geef minstens één veld om te wijzigen.")


class OrganisationRef(DutchSchema):
    id = fields.Integer()
    name = fields.String()
    code = fields.String(allow_none=True)


class DetaineeOut(DutchSchema):
    given_names = fields.String()
    surname_prefix = fields.String(allow_none=True)
    surname = fields.String()
    date_of_birth = fields.Date()
    dji_number = fields.String(allow_none=True)


class DetaineeWithBsnOut(DetaineeOut):
    bsn_masked = fields.String(allow_none=True, metadata={"description": "Laatste 4 cijfers; het hele BSN via /bsn"})


class DetentionOut(DutchSchema):
    pi = fields.Nested(OrganisationRef)
    type = fields.String()
    start = fields.Date()
    expected_release = fields.Date(allow_none=True)
    actual_release = fields.Date(allow_none=True)


class Totals(DutchSchema):
    count = fields.Integer()
    principal_cents = fields.Integer()
    interest_cents = fields.Integer()
    costs_cents = fields.Integer()
    total_cents = fields.Integer()


class CaseOut(DutchSchema):
    id = fields.Integer()
    version = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    urgent = fields.Boolean()
    threat = fields.String(allow_none=True)
    closure_reason = fields.String(allow_none=True)
    detainee = fields.Nested(DetaineeOut)
    detention = fields.Nested(DetentionOut)
    intended_postcode = fields.String(allow_none=True)
    registration_municipality = fields.Nested(OrganisationRef, allow_none=True)
    municipality = fields.Nested(OrganisationRef, allow_none=True)
    municipality_rule = fields.String(allow_none=True)
    municipality_reason = fields.String(allow_none=True)
    referred_at = fields.DateTime(allow_none=True)
    debts = fields.Nested(Totals)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CaseWithBsnOut(CaseOut):
    detainee = fields.Nested(DetaineeWithBsnOut)


class CaseListArgs(PageArgs):
    state = fields.List(fields.String(validate=length(1, 40)), load_default=None)
    pi_id = Id(strict=False, load_default=None)
    municipality_id = Id(strict=False, load_default=None)
    urgent = fields.Boolean(load_default=None)
    release_before = Day(load_default=None)
    release_after = Day(load_default=None)
    sort = fields.String(
        load_default="-created",
        validate=one_of([f"{sign}{name}" for name in SORTS for sign in ("-", "")]),
        metadata={"description": "Sorteren op kolom; '-' ervoor voor aflopend. Standaard: -created (nieuwste eerst)."},
    )


def _has_a_letter(value: str) -> None:
    """A search needs something to search on: only punctuation or digits would find every case or none."""
    if not fold(value):
        raise ValidationError("Vul ten minste één letter van de achternaam in.")


class CaseSearch(CaseListArgs):
    """The list's filters in a body, plus a surname: a name never travels in a URL (URLs end up in access logs)."""

    surname = fields.String(
        load_default=None,
        validate=[length(1, 100), _has_a_letter],
        metadata={
            "description": "Begin van de achternaam, met of zonder tussenvoegsel ('de vries' en 'vries' vinden"
            " 'P. de Vries'); hoofdletters, accenten en de ĳ tellen niet"
        },
    )
    state = fields.List(fields.String(validate=length(1, 40)), load_default=None)
    pi_id = Id(load_default=None, allow_none=True)
    municipality_id = Id(load_default=None, allow_none=True)
    after = fields.String(load_default=None, allow_none=True, validate=length(1, 500))


class CaseListItem(DutchSchema):
    id = fields.Integer()
    state = fields.String()
    urgent = fields.Boolean()
    surname = fields.String()
    surname_prefix = fields.String(allow_none=True)
    given_names = fields.String()
    pi_id = Id()
    municipality_id = Id(allow_none=True)
    expected_release = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    debt_count = fields.Integer()
    total_cents = fields.Integer()


class CasePage(DutchSchema):
    items = fields.List(fields.Nested(CaseListItem))
    next = fields.String(allow_none=True, metadata={"description": "Cursor voor de volgende pagina (after=)"})


class EventIn(DutchSchema):
    event = fields.String(required=True, validate=length(1, 64))
    reason = PlainText(load_default=None, allow_none=True, maximum=2000)
    payload = fields.Dict(keys=fields.String(validate=length(1, 64)), load_default=dict)

    @validates_schema
    def _small_payload(self, data: dict[str, object], **kwargs: object) -> None:
        payload = data.get("payload") or {}
        if isinstance(payload, dict) and len(payload) > 20:
            raise ValidationError({"payload": ["Maximaal 20 velden."]})
        for key, value in payload.items() if isinstance(payload, dict) else []:
            if not isinstance(value, str | int | bool | None) or (isinstance(value, str) and len(value) > 500):
                raise ValidationError({"payload": [f"'{key}': alleen korte tekst, getallen, ja/nee of leeg."]})
        threat = payload.get("threat") if isinstance(payload, dict) else None
        if threat is not None and threat not in [t.value for t in Threat]:
            raise ValidationError({"payload": ["threat: kies een van: " + ", ".join(t.value for t in Threat) + "."]})
        closure = payload.get("closure_reason") if isinstance(payload, dict) else None
        if closure is not None and closure not in [r.value for r in ClosureReason]:
            raise ValidationError(
                {"payload": ["closure_reason: kies een van: " + ", ".join(r.value for r in ClosureReason) + "."]}
            )


class HistoryOut(DutchSchema):
    seq = fields.Integer()
    event = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    actor_id = fields.String()
    at = fields.DateTime()
    reason = fields.String(allow_none=True)
    payload = fields.Dict()
    effects = fields.List(fields.Dict())


class EventResult(DutchSchema):
    history = fields.Nested(HistoryOut)
    state = fields.String()
    version = fields.Integer()


class ActionOut(DutchSchema):
    event = fields.String()
    label = fields.String()
    target = fields.String(allow_none=True)
    allowed = fields.Boolean()
    code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    requires_reason = fields.Boolean()


class BsnOut(DutchSchema):
    bsn = fields.String()


class ConsentItemIn(DutchSchema):
    purpose = fields.String(required=True, validate=one_of(PURPOSES))
    recipient_creditor_id = Id(load_default=None, allow_none=True)
    recipient_organisation_id = Id(load_default=None, allow_none=True)


class ConsentIn(DutchSchema):
    purposes = fields.List(
        fields.Nested(ConsentItemIn),
        required=True,
        validate=validate.Length(min=1, max=20, error="Kies 1 tot 20 doelen."),
    )
    signed_on = Day(required=True)
    valid_until = Day(required=True)
    witness = Name(load_default=None, allow_none=True)


class ConsentOut(DutchSchema):
    id = fields.Integer()
    purpose = fields.String()
    recipient_creditor_id = Id(allow_none=True)
    recipient_organisation_id = Id(allow_none=True)
    signed_on = fields.Date()
    valid_until = fields.Date()
    text_version = fields.String()
    witness = fields.String(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    withdrawal_note = fields.String(allow_none=True)


class WithdrawalIn(DutchSchema):
    consent_ids = fields.List(
        Id(),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=50, error="Noem 1 tot 50 toestemmingen, of laat leeg voor alles."),
    )
    note = PlainText(load_default=None, allow_none=True, maximum=2000)


class HouseholdMemberIn(DutchSchema):
    relation = fields.String(required=True, validate=one_of([r.value for r in HouseholdRelation]))
    given_names = Name(load_default=None, allow_none=True)
    date_of_birth = Day(load_default=None, allow_none=True)
    shares_lease = fields.Boolean(load_default=False)
    shares_debts = fields.Boolean(load_default=False)


class HouseholdIn(DutchSchema):
    members = fields.List(
        fields.Nested(HouseholdMemberIn), required=True, validate=validate.Length(max=15, error="Maximaal 15 personen.")
    )


class HouseholdMemberOut(DutchSchema):
    id = fields.Integer()
    relation = fields.String()
    given_names = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    shares_lease = fields.Boolean()
    shares_debts = fields.Boolean()


class HouseholdOut(DutchSchema):
    members = fields.List(fields.Nested(HouseholdMemberOut))


class NoteIn(DutchSchema):
    body = PlainText(required=True, maximum=5000)
    shared = fields.Boolean(load_default=True)


class NoteOut(DutchSchema):
    id = fields.Integer()
    body = fields.String()
    shared = fields.Boolean()
    author_id = Id()
    organisation_id = Id(allow_none=True)
    created_at = fields.DateTime()


class TransferIn(DutchSchema):
    to_pi_id = Id(required=True)
    transferred_on = Day(required=True)


class MunicipalityChoiceIn(DutchSchema):
    municipality_id = Id(required=True)
    reason = PlainText(required=True, maximum=2000)


class PartnerIn(DutchSchema):
    organisation_id = Id(required=True)


__all__ = ["Cents"]


BENEFIT_KINDS = [b.value for b in Benefit]


class InsuranceIn(DutchSchema):
    """The basic health insurance and the benefits at arrest (PUT /cases/{id}/insurance; also at intake)."""

    health_insurer_id = Id(load_default=None, allow_none=True)
    health_policy_number = PlainText(load_default=None, allow_none=True, maximum=40)
    benefits = fields.List(fields.String(validate=one_of(BENEFIT_KINDS)), load_default=list)


class InsuranceOut(DutchSchema):
    health_insurer = fields.Nested(OrganisationRef, allow_none=True)
    health_policy_number = fields.String(allow_none=True)
    benefits = fields.List(fields.String())
    letters = fields.List(fields.Integer(), metadata={"description": "De brieven (L6, L7) die deze wijziging aanvroeg"})
