"""The handover file that goes with the referral (L8), and the detainee's one-page summary in plain Dutch (B1).

The domain reads the case once and hands plain frozen values to `integrations.referrals.render`, as the letters do
(`schulden.letters.compose` -> `integrations.letters.render`). Money stays in integer cents and dates stay dates
here; the renderer formats them the Dutch way (Babel, nl_NL).

What each reader may see is decided here (security.md 1.3, domain.md 6.1):
- the municipality gets the BSN: it needs it to match the person under the Wgs;
- the detainee's summary carries no BSN at all (the type has no field for it), since it is a paper he keeps and
  may lose; nor the names of PI staff beyond "your casemanager";
- the household part (household members, debts shared with the partner) is only built when asked for: the
  counsellor decides per referral whether it goes along, e.g. to the municipality's social district team
  (sociaal wijkteam) rather than to its debt counselling team.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.conditions import (
    BENEFIT_STATES,
    UNKNOWN,
    HealthInsurance,
    IdDocument,
    IncomeAfterRelease,
    ReleaseConditions,
    conditions_of,
)
from schulden.cases.conditions import label as condition_label
from schulden.cases.models import (
    Case,
    CaseNote,
    CasePartner,
    Consent,
    ConsentPurpose,
    Detainee,
    DetentionType,
    HouseholdMember,
    RoutingRule,
)
from schulden.consents import PURPOSE_LABELS
from schulden.creditors.models import Creditor
from schulden.debts.models import AmountStatus, Debt, DebtCategory
from schulden.effects import LETTER_TITLES
from schulden.letters.compose import DEBT_TYPE_LABELS, Sender, letter_recipient_address, organisation_address
from schulden.letters.content import AMOUNT_STATUS_NL
from schulden.letters.models import Channel, Letter, LetterStatus
from schulden.letters.templates import THREAT_NL, WGS_URGENT_THREATS, datum
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.processes import build_registry
from schulden.referrals.models import Referral, ReferralStatus
from schulden.referrals.services import latest_referral
from schulden.replies.models import CreditorReply
from schulden.roles import Role
from schulden.users.models import User
from workflows import HistoryEntry, Registry, WorkflowInstance, dutch_calendar

TIMEZONE = ZoneInfo("Europe/Amsterdam")

#: Days of the Wgs term for the first conversation (art. 4a Wgs): 3 working days on a threat, else 4 weeks.
WGS_URGENT_WORKING_DAYS = 3
WGS_NORMAL_WEEKS = 4

CATEGORY_LABELS: dict[str, str] = {
    DebtCategory.ZORG.value: "Zorg",
    DebtCategory.PUBLIEK.value: "Publiek",
    DebtCategory.NUTS.value: "Nuts",
    DebtCategory.OVERIG.value: "Overig",
}
#: The totals tables list every category and status in this order, zero rows included, so two files compare.
CATEGORY_ORDER: tuple[str, ...] = tuple(CATEGORY_LABELS)
STATUS_ORDER: tuple[str, ...] = (
    AmountStatus.CONFIRMED.value,
    AmountStatus.ESTIMATED.value,
    AmountStatus.DISPUTED.value,
)

DETENTION_TYPE_LABELS: dict[str, str] = {
    DetentionType.PRE_TRIAL.value: "Voorlopige hechtenis",
    DetentionType.PRISON_SENTENCE.value: "Gevangenisstraf",
    DetentionType.SUBSTITUTE.value: "Vervangende hechtenis",
    DetentionType.CIVIL_DETENTION.value: "Gijzeling",
    DetentionType.OTHER.value: "Anders",
}

ROUTING_RULE_LABELS: dict[str, str] = {
    RoutingRule.INTENDED_ADDRESS.value: "gewenste woonplaats na vrijlating",
    RoutingRule.REGISTRATION.value: "inschrijving in de BRP voor de detentie",
    RoutingRule.OVERRIDE.value: "gekozen door de schuldhulpverlener",
}

#: Debt states after which the debt no longer counts: listed in the overview, left out of the totals.
SETTLED_STATES = frozenset({"paid", "written_off"})
#: Final states that only say the debt left our hands; what was arranged is the state it was in before.
PASSED_ON_STATES = frozenset({"handed_over", "closed"})

#: "What was arranged" for the detainee, per debt state: short sentences at B1 level (domain.md 4, notes). Short
#: enough to stand in a table cell, so that a page in a large font holds ten debts or more.
ARRANGED_B1: dict[str, str] = {
    # The summary goes with the referral, when every open debt is handed over: we write no more letters then.
    "identified": "Nog geen brief gestuurd. De gemeente neemt dit over.",
    "letters_requested": "Nog geen brief gestuurd. De gemeente neemt dit over.",
    "notified": "Brief gestuurd. We wachten op antwoord.",
    "reminded": "Brief gestuurd. We wachten op antwoord.",
    "reminded_again": "Brief gestuurd. We wachten op antwoord.",
    "answer_received": "De schuldeiser noemde een bedrag. Dat wordt nog gecontroleerd.",
    "no_response": "Geen antwoord gekregen. De gemeente gaat verder.",
    "declined": "De schuldeiser werkt niet mee. De gemeente gaat verder.",
    "balance_confirmed": "Het bedrag is bekend. Er is nog niets afgesproken.",
    "disputed": "De gemeente zoekt uit of het bedrag klopt.",
    "suspension_requested": "We vroegen om uitstel van betalen. We wachten op antwoord.",
    "suspended": "U hoeft nu nog niet te betalen.",
    "suspension_refused": "Geen uitstel gekregen. De gemeente gaat verder.",
    "arrangement_proposed": "We stelden een betalingsregeling voor. We wachten op antwoord.",
    "arrangement_agreed": "Er is een betalingsregeling afgesproken.",
    "arrangement_rejected": "De schuldeiser wil geen betalingsregeling. De gemeente gaat verder.",
    "termination_requested": "We vroegen om het contract te stoppen. We wachten op antwoord.",
    "terminated": "Het contract is gestopt. Er komen geen kosten meer bij.",
    "paid": "Betaald.",
    "written_off": "De schuldeiser heeft de schuld laten vallen. U hoeft niets te betalen.",
}

#: The amount status in plain words for the detainee, printed under the amount.
AMOUNT_STATUS_B1: dict[str, str] = {
    AmountStatus.CONFIRMED.value: "bevestigd",
    AmountStatus.ESTIMATED.value: "schatting",
    AmountStatus.DISPUTED.value: "klopt misschien niet",
}


# -- the values ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrangement:
    """A payment plan, as proposed with `propose_arrangement` (and, in `arrangement_agreed`, accepted)."""

    monthly_cents: int
    months: int
    start_date: date


@dataclass(frozen=True)
class DetaineeDetails:
    """Who the referral is about. The BSN is here because the municipality may receive it (Wgs)."""

    name: str
    date_of_birth: date
    bsn: str | None
    dji_number: str | None
    pi_name: str
    pi_address: str | None
    detention_type: str
    detention_type_label: str
    detention_start: date
    expected_release: date | None
    pre_trial: bool  # release date unknown, may end abruptly
    intended_postcode: str | None
    registration_municipality: str | None
    routing_rule: str | None  # how the municipality was chosen, in words
    routing_reason: str | None
    actual_release: date | None = None  # set once he is free: the summary then speaks to a free person


@dataclass(frozen=True)
class Contact:
    """A person or organisation the municipality can call about the case."""

    role: str  # "Schuldhulpverlener", "Casemanager PI", "Reclassering", "Zorg en begeleiding"
    name: str | None  # the person, where known
    organisation: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class ThreatLine:
    threat: str  # cases.models.Threat value
    label: str  # "een huisuitzetting"
    source: str  # "dossier" or the creditor's name
    wgs_urgent: bool


@dataclass(frozen=True)
class Urgency:
    """Threats and the Wgs term they put the first conversation on (art. 4a Wgs)."""

    urgent: bool
    threats: tuple[ThreatLine, ...]
    wgs_urgent: bool  # eviction, cut-off or insurance termination: 3 working days
    first_conversation_due: date
    rule: str  # the term in words, e.g. "binnen 3 werkdagen (art. 4a Wgs)"


@dataclass(frozen=True)
class ConsentLine:
    purpose: str
    purpose_label: str
    recipient: str  # a named creditor or organisation, or "alle ontvangers voor dit doel"
    signed_on: date
    valid_until: date
    text_version: str


@dataclass(frozen=True)
class ConsentScope:
    """What the detainee's signed consent allows on the day the file was made (rows withdrawn or lapsed left out)."""

    lines: tuple[ConsentLine, ...]
    covers_referral: bool  # a consent for `refer_municipality` in force for this municipality
    valid_until: date | None
    withdrawn: tuple[str, ...]  # purpose labels withdrawn (fully or for some recipient)


@dataclass(frozen=True)
class ConditionsDetails:
    """The basisvoorwaarden at release as recorded (schulden.cases.conditions); None is unknown ("onbekend")."""

    id_document: str | None = None
    id_valid_until: date | None = None
    bank_account: str | None = None
    income_after_release: str | None = None
    income_office: str | None = None
    income_applied_on: date | None = None
    housing_after_release: str | None = None
    postal_address: str | None = None
    health_insurance: str | None = None
    health_insurer: str | None = None  # the insurer recorded at intake (Case.health_insurer_id)
    care_arranged: str | None = None
    contact_after_release: str | None = None


@dataclass(frozen=True)
class LetterLine:
    """A letter about one debt: when it was made and sent, and when the creditor answered it."""

    letter_type: str
    title: str
    letter_date: date
    sent_on: date | None  # None: not sent yet (queued, waiting for the print batch, failed)
    answered_on: date | None


@dataclass(frozen=True)
class DebtFollowUp:
    """Where a debt stands with its creditor: address and contact, judgment and attachment, suspension, letters."""

    address: tuple[str, ...]  # the newest letter's own copy of the address, else the directory's
    contact: str | None  # the person, phone and e-mail of the newest answer, else the directory's e-mail or channel
    has_judgment: bool | None
    has_attachment: bool | None
    suspended: bool | None
    suspended_until: date | None
    letters: tuple[LetterLine, ...]


@dataclass(frozen=True)
class TerminatedContract:
    """A contract we asked to end (L5) or that the creditor confirmed ended."""

    creditor: str
    type_label: str
    reference: str | None
    confirmed: bool
    requested_on: date | None  # the date of the L5, when there is one


@dataclass(frozen=True)
class HandoverDebt:
    """One debt of the overview. Amounts in integer cents."""

    debt_id: int
    creditor: str
    creditor_kvk: str | None
    collecting_party: str | None
    reference: str | None
    category: str
    category_label: str
    debt_type: str
    type_label: str
    principal_cents: int
    interest_cents: int
    costs_cents: int
    amount_status: str
    amount_status_label: str
    peildatum: date | None
    state: str  # what was arranged: the debt's state, or the one before it was handed over
    state_label: str
    arrangement: Arrangement | None
    threat: str | None
    joint_with_partner: bool  # always False when the household part is left out
    is_business_debt: bool
    follow_up: DebtFollowUp | None = None

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.costs_cents

    @property
    def settled(self) -> bool:
        """Paid or written off: shown, but no longer counted in the totals."""
        return self.state in SETTLED_STATES


@dataclass(frozen=True)
class Total:
    """A totals row: the debts of one category or amount status (settled debts not counted)."""

    key: str
    label: str
    count: int
    principal_cents: int
    interest_cents: int
    costs_cents: int

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.interest_cents + self.costs_cents


@dataclass(frozen=True)
class HouseholdPerson:
    relation: str  # partner / child
    relation_label: str
    given_names: str | None
    date_of_birth: date | None
    shares_lease: bool
    shares_debts: bool


@dataclass(frozen=True)
class HouseholdPart:
    """The household that stays behind and the debts shared with the partner (the family approach)."""

    members: tuple[HouseholdPerson, ...]
    joint_debts: tuple[HandoverDebt, ...]

    @property
    def joint_total_cents(self) -> int:
        return sum(d.total_cents for d in self.joint_debts if not d.settled)


@dataclass(frozen=True)
class MunicipalityDetails:
    """The municipality and its debt counselling team: what the Organisation row holds (it has no phone)."""

    name: str
    team_name: str | None
    address: tuple[str, ...]  # postal lines of the team
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Handover:
    """Everything the handover file shows, as plain values (no database, no Flask)."""

    case_id: int
    reference: str  # e.g. "SR-000123-OD"
    made_on: date  # the file's date; also the PDF's creation date
    detainee: DetaineeDetails
    municipality: MunicipalityDetails | None
    contacts: tuple[Contact, ...]
    urgency: Urgency
    first_conversation: date | None  # agreed with the municipality, when known
    consent: ConsentScope
    debts: tuple[HandoverDebt, ...]
    totals_by_category: tuple[Total, ...]
    totals_by_status: tuple[Total, ...]
    household: HouseholdPart | None  # None: not asked for (include_household=False)
    conditions: ConditionsDetails = ConditionsDetails()
    terminated_contracts: tuple[TerminatedContract, ...] = ()

    @property
    def open_debts(self) -> tuple[HandoverDebt, ...]:
        return tuple(d for d in self.debts if not d.settled)

    @property
    def total_cents(self) -> int:
        return sum(d.total_cents for d in self.open_debts)

    @property
    def counsellor(self) -> Contact | None:
        return next((c for c in self.contacts if c.role == COUNSELLOR_ROLE), None)


COUNSELLOR_ROLE = "Schuldhulpverlener"
CASEMANAGER_ROLE = "Casemanager PI"
PROBATION_ROLE = "Reclassering"
CARE_ROLE = "Zorg en begeleiding"


# -- the detainee's summary ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryDebt:
    """One debt as the detainee reads it."""

    creditor: str
    what: str  # "Huurachterstand"
    total_cents: int
    amount_note: str  # "schatting"
    arranged: str  # "U hoeft nu nog niet te betalen."
    arrangement: Arrangement | None  # the renderer adds "U betaalt ... per maand" in Dutch formats


@dataclass(frozen=True)
class DetaineeSummary:
    """The one-page summary in plain Dutch (B1) the detainee keeps. Deliberately has no BSN field."""

    case_id: int
    reference: str
    made_on: date
    name: str
    debts: tuple[SummaryDebt, ...]  # open debts first, then settled ones
    total_cents: int  # open debts only
    expected_release: date | None
    municipality: MunicipalityDetails | None
    first_conversation: date | None
    wgs_urgent: bool
    counsellor_name: str | None
    counsellor_organisation: str | None
    counsellor_phone: str | None
    counsellor_email: str | None
    casemanager_name: str | None
    released_on: date | None = None  # free since then: no question whether he is still in prison
    todo: tuple[str, ...] = ()  # what to do in the first days after release, short B1 sentences


def detainee_summary(handover: Handover) -> DetaineeSummary:
    """The detainee's B1 summary from the handover file: no BSN, short sentences, whom to call."""
    counsellor = handover.counsellor
    casemanager = next((c for c in handover.contacts if c.role == CASEMANAGER_ROLE), None)
    ordered = [*handover.open_debts, *(d for d in handover.debts if d.settled)]
    return DetaineeSummary(
        case_id=handover.case_id,
        reference=handover.reference,
        made_on=handover.made_on,
        name=handover.detainee.name,
        debts=tuple(
            SummaryDebt(
                creditor=d.creditor,
                what=d.type_label,
                total_cents=d.total_cents,
                amount_note=AMOUNT_STATUS_B1[d.amount_status],
                arranged=ARRANGED_B1.get(d.state, "De gemeente gaat hiermee verder."),
                arrangement=d.arrangement if d.state == "arrangement_agreed" else None,
            )
            for d in ordered
        ),
        total_cents=handover.total_cents,
        expected_release=handover.detainee.expected_release,
        municipality=handover.municipality,
        first_conversation=handover.first_conversation,
        wgs_urgent=handover.urgency.wgs_urgent,
        counsellor_name=counsellor.name if counsellor else None,
        counsellor_organisation=counsellor.organisation if counsellor else None,
        counsellor_phone=counsellor.phone if counsellor else None,
        counsellor_email=counsellor.email if counsellor else None,
        casemanager_name=casemanager.name if casemanager else None,
        released_on=handover.detainee.actual_release,
        todo=release_todo(handover.conditions),
    )


def release_todo(c: ConditionsDetails) -> tuple[str, ...]:
    """The first days after release, in short B1 sentences: income, health insurance, zorgtoeslag, ID, papers.

    Written so it reads right before and after release ("Na uw vrijlating" is a time, not a question).
    """
    # Each item one line at the summary's 12 pt floor where it can be: the page must still hold the debts.
    todo: list[str] = []
    if c.income_after_release == IncomeAfterRelease.BENEFIT_GRANTED.value:
        todo.append("Uw uitkering is toegekend. Geef uw adres door.")
    elif c.income_after_release == IncomeAfterRelease.BENEFIT_APPLIED.value:
        where = f" bij {c.income_office}" if c.income_office else ""
        todo.append(f"U hebt een uitkering aangevraagd{where}. Hoort u niets? Bel dan zelf.")
    elif c.income_after_release != IncomeAfterRelease.WORK.value:
        todo.append("Vraag een uitkering aan bij de gemeente (bijstand) of bij UWV.")
    if c.health_insurance != HealthInsurance.ACTIVE.value:
        todo.append("Zorgverzekering: stuur uw ontslagbewijs naar de verzekeraar.")
    todo.append("Vraag opnieuw zorgtoeslag aan bij Dienst Toeslagen.")
    if c.id_document == IdDocument.APPLIED.value:
        todo.append("Haal uw nieuwe identiteitsbewijs op bij de gemeente.")
    elif c.id_document != IdDocument.VALID.value:
        todo.append("Geen geldig identiteitsbewijs? Vraag een nieuw aan bij de gemeente.")
    todo.append("Neem mee: uw ID, ontslagbewijs, bankpas en de brieven van schuldeisers.")
    return tuple(todo)


# -- printed lines: the same words in the handover file and the L8 letter --------------------------------------------

NOT_APPLICABLE = "niet van toepassing"


def _yes_no(value: bool | None) -> str:
    return UNKNOWN if value is None else ("ja" if value else "nee")


def _day(value: date | None) -> str:
    return datum(value) if value is not None else UNKNOWN


def condition_rows(c: ConditionsDetails) -> tuple[tuple[str, str], ...]:
    """The basisvoorwaarden as (label, value) rows; a value is never empty: "onbekend" where nothing is known."""
    if c.id_document in (IdDocument.VALID.value, IdDocument.EXPIRED.value):
        id_text = f"{condition_label('id_document', c.id_document)}, geldig tot {_day(c.id_valid_until)}"
    else:
        id_text = condition_label("id_document", c.id_document)
    benefit = c.income_after_release in BENEFIT_STATES
    income_unknown = c.income_after_release is None
    office = (c.income_office or UNKNOWN) if benefit or income_unknown else NOT_APPLICABLE
    applied = _day(c.income_applied_on) if benefit or income_unknown else NOT_APPLICABLE
    insurance = condition_label("health_insurance", c.health_insurance)
    if c.health_insurer:
        insurance += f" (verzekeraar: {c.health_insurer})"
    return (
        ("Identiteitsbewijs", id_text),
        ("Bankrekening", condition_label("bank_account", c.bank_account)),
        ("Inkomen", condition_label("income_after_release", c.income_after_release)),
        ("Uitkering aangevraagd bij", office),
        ("Uitkering aangevraagd op", applied),
        ("Wonen", condition_label("housing_after_release", c.housing_after_release)),
        ("Adres of postadres", c.postal_address or UNKNOWN),
        ("Zorgverzekering", insurance),
        ("Zorg en begeleiding", condition_label("care_arranged", c.care_arranged)),
        ("Telefoon of e-mail", c.contact_after_release or UNKNOWN),
    )


def _suspension_text(f: DebtFollowUp) -> str:
    if f.suspended is None:
        return UNKNOWN
    if not f.suspended:
        return "niet toegekend"
    return f"toegekend tot {datum(f.suspended_until)}" if f.suspended_until else "toegekend, einddatum onbekend"


def letter_text(line: LetterLine) -> str:
    """'L1 Melding detentie ... van 2 maart 2026: verstuurd op 3 maart 2026, geen antwoord'."""
    text = f"{line.letter_type} {line.title} van {datum(line.letter_date)}: "
    text += f"verstuurd op {datum(line.sent_on)}" if line.sent_on else "nog niet verstuurd"
    if line.answered_on is not None:
        text += f", beantwoord op {datum(line.answered_on)}"
    elif line.sent_on is not None:
        text += ", geen antwoord"
    return text


def follow_up_rows(f: DebtFollowUp | None) -> tuple[tuple[str, str], ...]:
    """Where one debt stands with its creditor as (label, value) rows; never an empty value."""
    if f is None:
        f = DebtFollowUp((), None, None, None, None, None, ())
    return (
        ("Adres", ", ".join(f.address) or UNKNOWN),
        ("Contact", f.contact or UNKNOWN),
        ("Vonnis", _yes_no(f.has_judgment)),
        ("Beslag", _yes_no(f.has_attachment)),
        ("Uitstel van betaling", _suspension_text(f)),
        ("Brieven", "; ".join(letter_text(line) for line in f.letters) or "nog geen brieven gestuurd"),
    )


def contract_text(c: TerminatedContract) -> str:
    text = f"{c.creditor} \u2013 {c.type_label}" + (f", kenmerk {c.reference}" if c.reference else "")
    if c.confirmed:
        return text + ": opgezegd"
    when = f" op {datum(c.requested_on)}" if c.requested_on else ""
    return text + f": opzegging gevraagd{when}, nog niet bevestigd"


# -- building from the database --------------------------------------------------------------------------------------


class CaseNotFound(LookupError):
    """No case with that id."""


def handover_reference(case_id: int) -> str:
    """Our reference of the handover file (cf. letters' SR-000123-L8-7): OD = overdrachtsdossier."""
    return f"SR-{case_id:06d}-OD"


def build_handover(
    session: Session,
    case_id: int,
    *,
    include_household: bool,
    first_conversation: date | None = None,
    sender: Sender | None = None,
    made_on: date | None = None,
) -> Handover:
    """Read everything the handover file needs for case `case_id`. Reads only; writes nothing.

    `include_household`: add the household part (members who stay behind, debts shared with the partner).
    `first_conversation`: the date the municipality set for the first conversation, once it accepted.
    `sender`: our organisation's phone and e-mail (from the settings) for the counsellor's contact line.
    `made_on`: the file's date (default today in the Netherlands); the Wgs term runs from it.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    made_on = made_on or datetime.now(UTC).astimezone(TIMEZONE).date()
    detainee = session.get_one(Detainee, case.detainee_id)
    pi = session.get_one(Organisation, case.pi_id)
    municipality = session.get(Organisation, case.municipality_id) if case.municipality_id else None

    rows = list(
        session.execute(
            select(Debt, WorkflowInstance)
            .join(WorkflowInstance, WorkflowInstance.id == Debt.instance_id)
            .where(Debt.case_id == case.id)
            .order_by(Debt.id)
        )
    )
    creditor_ids = {d.creditor_id for d, _ in rows} | {d.collecting_party_id for d, _ in rows if d.collecting_party_id}
    creditors = {c.id: c for c in session.scalars(select(Creditor).where(Creditor.id.in_(creditor_ids)))}
    arrangements = _arrangements(session, [inst.id for _, inst in rows])
    letters = list(
        session.scalars(
            select(Letter).where(Letter.case_id == case.id, Letter.debt_id.is_not(None)).order_by(Letter.id)
        )
    )
    follow_ups = _follow_ups(session, case, [d for d, _ in rows], creditors, letters)
    debts = tuple(
        _debt(debt, instance, creditors, arrangements.get(instance.id), include_household, follow_ups.get(debt.id))
        for debt, instance in rows
    )

    household = None
    if include_household:
        members = session.scalars(
            select(HouseholdMember).where(HouseholdMember.case_id == case.id).order_by(HouseholdMember.id)
        )
        household = HouseholdPart(
            members=tuple(_person(m) for m in members),
            joint_debts=tuple(d for d in debts if d.joint_with_partner),
        )

    return Handover(
        case_id=case.id,
        reference=handover_reference(case.id),
        made_on=made_on,
        detainee=_detainee(session, case, detainee, pi),
        municipality=_municipality(municipality) if municipality is not None else None,
        contacts=_contacts(session, case, pi, [inst.id for _, inst in rows], sender),
        urgency=_urgency(
            case, [(d, creditors[d.creditor_id]) for d, _ in rows], made_on, latest_referral(session, case.id)
        ),
        first_conversation=first_conversation,
        consent=_consent(session, case, municipality, made_on),
        debts=debts,
        totals_by_category=totals(debts, "category"),
        totals_by_status=totals(debts, "amount_status"),
        household=household,
        conditions=_conditions(session, case),
        terminated_contracts=_terminated(debts, letters),
    )


def totals(debts: Iterable[HandoverDebt], by: str) -> tuple[Total, ...]:
    """Totals per category (`by="category"`) or per amount status (`by="amount_status"`), settled debts left out.

    Every category or status appears, in a fixed order, with zeros where there is no debt.
    """
    if by == "category":
        keys, labels = CATEGORY_ORDER, CATEGORY_LABELS
    elif by == "amount_status":
        keys, labels = STATUS_ORDER, dict(AMOUNT_STATUS_NL)
    else:
        raise ValueError(f"totals by {by!r}: expected 'category' or 'amount_status'")
    counted = [d for d in debts if not d.settled]
    out = []
    for key in keys:
        group = [d for d in counted if getattr(d, by) == key]
        out.append(
            Total(
                key=key,
                label=labels[key].capitalize(),
                count=len(group),
                principal_cents=sum(d.principal_cents for d in group),
                interest_cents=sum(d.interest_cents for d in group),
                costs_cents=sum(d.costs_cents for d in group),
            )
        )
    return tuple(out)


@functools.cache
def _registry() -> Registry:
    # Only the state labels are read from it; the referral window setting does not change those.
    return build_registry()


def _full_name(detainee: Detainee) -> str:
    return " ".join(p for p in (detainee.given_names, detainee.surname_prefix, detainee.surname) if p)


def _postcode_city(org: Organisation) -> str | None:
    return " ".join(p for p in (org.postcode, org.city) if p) or None


def _detainee(session: Session, case: Case, detainee: Detainee, pi: Organisation) -> DetaineeDetails:
    registration = (
        session.get(Organisation, case.registration_municipality_id) if case.registration_municipality_id else None
    )
    pre_trial = case.detention_type == DetentionType.PRE_TRIAL.value
    return DetaineeDetails(
        name=_full_name(detainee),
        date_of_birth=detainee.date_of_birth,
        bsn=detainee.bsn,
        dji_number=detainee.dji_number,
        pi_name=pi.name,
        pi_address=", ".join(p for p in (pi.address_line, _postcode_city(pi)) if p) or None,
        detention_type=case.detention_type,
        detention_type_label=DETENTION_TYPE_LABELS.get(case.detention_type, case.detention_type),
        detention_start=case.detention_start,
        expected_release=None if pre_trial else case.expected_release,
        pre_trial=pre_trial,
        intended_postcode=case.intended_postcode,
        registration_municipality=registration.name if registration is not None else None,
        routing_rule=ROUTING_RULE_LABELS.get(case.municipality_rule or ""),
        routing_reason=case.municipality_reason,
        actual_release=case.actual_release,
    )


def _conditions(session: Session, case: Case) -> ConditionsDetails:
    row: ReleaseConditions | None = conditions_of(session, case.id)
    insurer = session.get(Creditor, case.health_insurer_id) if case.health_insurer_id else None
    if row is None:
        return ConditionsDetails(health_insurer=insurer.name if insurer is not None else None)
    return ConditionsDetails(
        id_document=row.id_document,
        id_valid_until=row.id_valid_until,
        bank_account=row.bank_account,
        income_after_release=row.income_after_release,
        income_office=row.income_office,
        income_applied_on=row.income_applied_on,
        housing_after_release=row.housing_after_release,
        postal_address=row.postal_address,
        health_insurance=row.health_insurance,
        health_insurer=insurer.name if insurer is not None else None,
        care_arranged=row.care_arranged,
        contact_after_release=row.contact_after_release,
    )


def _follow_ups(
    session: Session, case: Case, debts: Sequence[Debt], creditors: dict[int, Creditor], letters: Sequence[Letter]
) -> dict[int, DebtFollowUp]:
    """Per debt: the address its letters went to, the creditor's contact, what its newest answer says about a
    judgment, an attachment and a suspension, and each letter with the date it was sent and answered."""
    replies = list(
        session.scalars(select(CreditorReply).where(CreditorReply.case_id == case.id).order_by(CreditorReply.id))
    )
    out: dict[int, DebtFollowUp] = {}
    for debt in debts:
        own_letters = [x for x in letters if x.debt_id == debt.id and x.status != LetterStatus.CANCELLED.value]
        own_replies = [r for r in replies if r.debt_id == debt.id]
        # The newest answer: the one no later answer superseded (the highest version).
        newest = max(own_replies, key=lambda r: (r.superseded_at is None, r.version, r.id), default=None)
        to_creditor = [x for x in own_letters if x.creditor_id is not None and x.recipient_name]
        if to_creditor:
            last = to_creditor[-1]
            address = letter_recipient_address(last).lines
            if last.channel == Channel.MANUAL.value and last.recipient_channel_note:
                address = (*address, last.recipient_channel_note)
        else:
            party = creditors.get(debt.collecting_party_id or debt.creditor_id) or creditors[debt.creditor_id]
            address = _directory_address(party)
        out[debt.id] = DebtFollowUp(
            address=address,
            contact=_contact(newest, creditors.get(debt.collecting_party_id or debt.creditor_id)),
            has_judgment=newest.has_judgment if newest is not None else None,
            has_attachment=newest.has_attachment if newest is not None else None,
            suspended=newest.collection_suspended if newest is not None else None,
            suspended_until=newest.collection_suspended_until if newest is not None else None,
            letters=tuple(_letter_line(x, own_replies) for x in own_letters),
        )
    return out


def _directory_address(creditor: Creditor) -> tuple[str, ...]:
    place = " ".join(p for p in (creditor.postcode, (creditor.city or "").upper()) if p)
    lines = (creditor.name, creditor.department, creditor.address_line, place or None, creditor.channel_note)
    return tuple(line for line in lines if line)


def _contact(reply: CreditorReply | None, creditor: Creditor | None) -> str | None:
    """The person who answered, with phone and e-mail; without an answer, the directory's e-mail."""
    if reply is not None:
        parts = [p for p in (reply.contact_name, reply.contact_phone, reply.contact_email) if p]
        if parts:
            return ", ".join(parts)
    return creditor.email if creditor is not None and creditor.email else None


def _letter_line(letter: Letter, replies: Sequence[CreditorReply]) -> LetterLine:
    """An answer belongs to the letter it names; an answer that names none (post, phone) to the letters before it."""
    answers = [r.received_on for r in replies if r.letter_id == letter.id] or [
        r.received_on for r in replies if r.letter_id is None and r.received_on >= letter.letter_date
    ]
    sent_on = None
    if letter.status == LetterStatus.SENT.value:
        at = letter.sent_at
        if at is None:
            sent_on = letter.letter_date
        else:
            sent_on = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(TIMEZONE).date()
    return LetterLine(
        letter_type=letter.letter_type,
        title=LETTER_TITLES.get(letter.letter_type, letter.letter_type),
        letter_date=letter.letter_date,
        sent_on=sent_on,
        answered_on=min(answers) if answers else None,
    )


#: States in which a contract was asked to end (L5) or confirmed ended.
TERMINATION_STATES = {"termination_requested": False, "terminated": True}


def _terminated(debts: Sequence[HandoverDebt], letters: Sequence[Letter]) -> tuple[TerminatedContract, ...]:
    """The contracts we asked to end: a debt in a termination state (before handing over), or with an L5."""
    l5_dates: dict[int, date] = {}
    for letter in letters:
        if letter.letter_type == "L5" and letter.debt_id is not None and letter.status != LetterStatus.CANCELLED.value:
            l5_dates.setdefault(letter.debt_id, letter.letter_date)
    return tuple(
        TerminatedContract(
            creditor=d.creditor,
            type_label=d.type_label,
            reference=d.reference,
            confirmed=TERMINATION_STATES.get(d.state, False),
            requested_on=l5_dates.get(d.debt_id),
        )
        for d in debts
        if d.state in TERMINATION_STATES or d.debt_id in l5_dates
    )


def _municipality(org: Organisation) -> MunicipalityDetails:
    return MunicipalityDetails(
        name=org.name,
        team_name=org.team_name,
        address=organisation_address(org).lines,
        email=org.email,
        phone=None,  # the organisation table keeps no phone number
    )


def _arrangements(session: Session, instance_ids: Sequence[int]) -> dict[int, Arrangement]:
    """The latest payment plan proposed per debt instance (the payload of `propose_arrangement`)."""
    if not instance_ids:
        return {}
    entries = session.execute(
        select(HistoryEntry.instance_id, HistoryEntry.payload)
        .where(HistoryEntry.instance_id.in_(instance_ids), HistoryEntry.event == "propose_arrangement")
        .order_by(HistoryEntry.instance_id, HistoryEntry.seq)
    )
    found: dict[int, Arrangement] = {}
    for instance_id, payload in entries:
        try:
            found[instance_id] = Arrangement(
                monthly_cents=int(payload["monthly_cents"]),
                months=int(payload["months"]),
                start_date=date.fromisoformat(str(payload["start_date"])),
            )
        except (KeyError, TypeError, ValueError):
            continue  # the guard checks the payload when it is fired; an old malformed row only loses the detail
    return found


def _debt(
    debt: Debt,
    instance: WorkflowInstance,
    creditors: dict[int, Creditor],
    arrangement: Arrangement | None,
    include_household: bool,
    follow_up: DebtFollowUp | None = None,
) -> HandoverDebt:
    creditor = creditors[debt.creditor_id]
    collector = creditors.get(debt.collecting_party_id) if debt.collecting_party_id else None
    state = instance.state
    if state in PASSED_ON_STATES and instance.previous_state:
        # Handing over moves every open debt to `handed_over`: what was arranged is the state before that.
        state = instance.previous_state
    process = _registry().get(instance.process, instance.process_version)
    arranged = state in ("arrangement_proposed", "arrangement_agreed")
    return HandoverDebt(
        debt_id=debt.id,
        creditor=creditor.name,
        creditor_kvk=creditor.kvk,
        collecting_party=collector.name if collector is not None else None,
        reference=debt.creditor_reference,
        category=debt.category,
        category_label=CATEGORY_LABELS.get(debt.category, debt.category),
        debt_type=debt.debt_type,
        type_label=DEBT_TYPE_LABELS.get(debt.debt_type, debt.debt_type),
        principal_cents=debt.principal_cents,
        interest_cents=debt.interest_cents,
        costs_cents=debt.costs_cents,
        amount_status=debt.amount_status,
        amount_status_label=AMOUNT_STATUS_NL[debt.amount_status],
        peildatum=debt.peildatum,
        state=state,
        state_label=process.state(state).label or state,
        arrangement=arrangement if arranged else None,
        threat=debt.threat,
        joint_with_partner=debt.joint_with_partner and include_household,
        is_business_debt=debt.is_business_debt,
        follow_up=follow_up,
    )


def _person(member: HouseholdMember) -> HouseholdPerson:
    return HouseholdPerson(
        relation=member.relation,
        relation_label="Partner" if member.relation == "partner" else "Kind",
        given_names=member.given_names,
        date_of_birth=member.date_of_birth,
        shares_lease=member.shares_lease,
        shares_debts=member.shares_debts,
    )


def _urgency(case: Case, debts: Sequence[tuple[Debt, Creditor]], made_on: date, referral: Referral | None) -> Urgency:
    """The threats on the case and its debts, and the municipality's term: once the referral is sent, the term of
    its running Wgs clock (the one the municipality's work list and our reminders keep), so the file, the L8
    letter, the referral and the case say the same; before that, the term the file's date would start."""
    threats: list[ThreatLine] = []
    if case.threat:
        threats.append(_threat_line(case.threat, "dossier"))
    for debt, creditor in debts:
        if debt.threat and not any(t.threat == debt.threat and t.source == creditor.name for t in threats):
            threats.append(_threat_line(debt.threat, creditor.name))
    # A refused or stopped referral's term is over: a new referral (after a re-routing) starts its own.
    running = referral is not None and referral.status not in (
        ReferralStatus.REFUSED.value,
        ReferralStatus.CANCELLED.value,
    )
    if referral is not None and running and referral.wgs_due_on is not None:
        wgs_urgent = referral.threat in WGS_URGENT_THREATS
        due = referral.wgs_due_on
    else:
        wgs_urgent = any(t.wgs_urgent for t in threats)
        calendar = dutch_calendar()
        due = (
            calendar.add_working_days(made_on, WGS_URGENT_WORKING_DAYS)
            if wgs_urgent
            else calendar.add_weeks(made_on, WGS_NORMAL_WEEKS)
        )
    rule = (
        f"binnen {WGS_URGENT_WORKING_DAYS} werkdagen (art. 4a Wgs, dreigende situatie)"
        if wgs_urgent
        else f"binnen {WGS_NORMAL_WEEKS} weken (art. 4a Wgs)"
    )
    return Urgency(
        urgent=case.urgent or bool(threats),
        threats=tuple(threats),
        wgs_urgent=wgs_urgent,
        first_conversation_due=due,
        rule=rule,
    )


def _threat_line(threat: str, source: str) -> ThreatLine:
    return ThreatLine(
        threat=threat, label=THREAT_NL.get(threat, threat), source=source, wgs_urgent=threat in WGS_URGENT_THREATS
    )


def _consent(session: Session, case: Case, municipality: Organisation | None, on: date) -> ConsentScope:
    rows = list(session.scalars(select(Consent).where(Consent.case_id == case.id).order_by(Consent.id)))
    in_force = [r for r in rows if r.valid_on(on)]
    names = _recipient_names(session, in_force)
    order = {p.value: i for i, p in enumerate(ConsentPurpose)}
    lines = tuple(
        ConsentLine(
            purpose=r.purpose,
            purpose_label=PURPOSE_LABELS[ConsentPurpose(r.purpose)],
            recipient=names.get(r.id, "alle ontvangers voor dit doel"),
            signed_on=r.signed_on,
            valid_until=r.valid_until,
            text_version=r.text_version,
        )
        for r in sorted(in_force, key=lambda r: (order.get(r.purpose, 99), r.id))
    )
    covers = any(
        r.purpose == ConsentPurpose.REFER_MUNICIPALITY.value
        and (r.recipient_organisation_id is None or (municipality and r.recipient_organisation_id == municipality.id))
        for r in in_force
    )
    withdrawn = sorted(
        {PURPOSE_LABELS[ConsentPurpose(r.purpose)] for r in rows if r.withdrawn_at is not None},
        key=lambda label: list(PURPOSE_LABELS.values()).index(label),
    )
    return ConsentScope(
        lines=lines,
        covers_referral=covers,
        valid_until=max((r.valid_until for r in in_force), default=None),
        withdrawn=tuple(withdrawn),
    )


def _recipient_names(session: Session, rows: Sequence[Consent]) -> dict[int, str]:
    names: dict[int, str] = {}
    for r in rows:
        if r.recipient_creditor_id is not None:
            creditor = session.get(Creditor, r.recipient_creditor_id)
            names[r.id] = creditor.name if creditor is not None else f"schuldeiser {r.recipient_creditor_id}"
        elif r.recipient_organisation_id is not None:
            org = session.get(Organisation, r.recipient_organisation_id)
            names[r.id] = org.name if org is not None else f"organisatie {r.recipient_organisation_id}"
    return names


def _contacts(
    session: Session, case: Case, pi: Organisation, debt_instance_ids: Sequence[int], sender: Sender | None
) -> tuple[Contact, ...]:
    """Counsellor, casemanager, probation and care: the organisations on the case, and the person of each that
    last worked on it (fired an event or wrote a note), since the case record names no person for these roles."""
    active = _active_users(session, case, debt_instance_ids)

    def latest(role: Role, organisation_id: int | None = None) -> User | None:
        return next(
            (
                u
                for u in active
                if u.role == role.value and (organisation_id is None or u.organisation_id == organisation_id)
            ),
            None,
        )

    team = session.get(Organisation, case.team_id) if case.team_id else None
    counsellor = latest(Role.COUNSELLOR, team.id if team is not None else None) or latest(Role.COUNSELLOR)
    contacts = [
        Contact(
            role=COUNSELLOR_ROLE,
            name=counsellor.display_name if counsellor is not None else None,
            organisation=team.name if team is not None else (sender.name if sender is not None else None),
            phone=sender.phone if sender is not None else None,
            email=(team.email if team is not None and team.email else None) or (sender.email if sender else None),
        )
    ]
    casemanager = latest(Role.PI_STAFF, pi.id)
    contacts.append(
        Contact(
            role=CASEMANAGER_ROLE,
            name=casemanager.display_name if casemanager is not None else None,
            organisation=pi.name,
            phone=None,
            email=pi.email,
        )
    )
    partners = session.scalars(
        select(Organisation)
        .join(CasePartner, CasePartner.organisation_id == Organisation.id)
        .where(CasePartner.case_id == case.id)
        .order_by(Organisation.kind.desc(), Organisation.name)  # probation before care
    )
    for org in partners:
        if org.kind not in (OrganisationKind.PROBATION.value, OrganisationKind.CARE.value):
            continue
        person = latest(Role.PARTNER, org.id)
        contacts.append(
            Contact(
                role=PROBATION_ROLE if org.kind == OrganisationKind.PROBATION.value else CARE_ROLE,
                name=person.display_name if person is not None else None,
                organisation=org.name,
                phone=None,
                email=org.email,
            )
        )
    return tuple(contacts)


def _active_users(session: Session, case: Case, debt_instance_ids: Sequence[int]) -> list[User]:
    """Users who worked on the case, most recent first: events on the case and its debts, and case notes."""
    last_seen: dict[int, datetime] = {}
    history = session.execute(
        select(HistoryEntry.actor_id, HistoryEntry.at).where(
            HistoryEntry.instance_id.in_([case.instance_id, *debt_instance_ids]),
            HistoryEntry.actor_id.like("user:%"),
        )
    )
    notes = session.execute(select(CaseNote.author_id, CaseNote.created_at).where(CaseNote.case_id == case.id))
    seen: list[tuple[int, datetime]] = []
    for actor_id, at in history:
        raw_id = str(actor_id).removeprefix("user:")
        if raw_id.isdigit():
            seen.append((int(raw_id), at))
    seen.extend((int(author_id), at) for author_id, at in notes)
    for user_id, at in seen:
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC for notes
        if user_id not in last_seen or at > last_seen[user_id]:
            last_seen[user_id] = at
    if not last_seen:
        return []
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(last_seen)))}
    order = sorted(last_seen, key=lambda uid: (last_seen[uid], uid), reverse=True)
    return [users[uid] for uid in order if uid in users and users[uid].active]
