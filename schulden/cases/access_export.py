"""The detainee's access to his data (AVG art. 15, issue 15 part 2): the "inzageoverzicht", everything Schuldroute
holds about the person of one case, gathered as plain data for the JSON export and the PDF (both the same tree).

Who may produce it: PI staff and counsellors whose scope holds the case (schulden/access.py:
`ACCESS_EXPORTERS`, `case_scope`).
They are the ones the detainee asks (his casemanager, his counsellor). Volunteers and partners never do: the export
holds the full BSN and everything else, more than their own view. Out of scope is NotFound, as for the case itself.

Producing it is itself audited (`case.access_export`, with the format), in the caller's transaction; nothing here
commits. Keys of the JSON are English and stable (`EXPORT_FORMAT`, `EXPORT_VERSION`; docs/privacy.md section 6):
adding a key keeps the version, changing or removing one raises it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import ACCESS_EXPORTERS
from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.cases.conditions import FIELD_LABELS as CONDITION_LABELS
from schulden.cases.conditions import FIELDS as CONDITION_FIELDS
from schulden.cases.conditions import conditions_of
from schulden.cases.conditions import label as condition_label
from schulden.cases.disclosures import Disclosure, case_disclosures, is_to_detainee, letter_carries_bsn
from schulden.cases.models import (
    Case,
    CaseBenefit,
    CaseNote,
    Consent,
    ConsentPurpose,
    Detainee,
    HouseholdMember,
    Transfer,
)
from schulden.cases.queries import CaseDetailRow, case_detail, get_case
from schulden.consents import purpose_label
from schulden.corrections import Correction, field_label
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.errors import NotPermitted
from schulden.labels import (
    AMOUNT_STATUS_LABELS,
    CATEGORY_LABELS,
    CLOSURE_LABELS,
    DEBT_TYPE_LABELS,
    DETENTION_LABELS,
    LETTER_STATUS_LABELS,
    THREAT_LABELS,
    label,
    letter_label,
)
from schulden.letters.compose import letter_recipient_address, organisation_address
from schulden.letters.models import Letter
from schulden.letters.templates import datum
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral
from schulden.replies.models import NO_COOPERATION_LABELS, CreditorReply
from schulden.roles import Role
from schulden.users.models import User
from workflows import Engine, HistoryEntry, WorkflowInstance
from workflows.definition import START_EVENT

AUDIT_ACTION = "case.access_export"
EXPORT_FORMAT = "schuldroute.access-export"
EXPORT_VERSION = 1
#: What the audit row's `format` may say: the page that shows what the export holds, and the two downloads.
FORMATS = frozenset({"page", "json", "pdf"})

REFUSAL = "Alleen de casemanager van de PI en de schuldhulpverlener maken een inzageoverzicht."

BENEFIT_LABELS = {
    "zorgtoeslag": "Zorgtoeslag",
    "huurtoeslag": "Huurtoeslag",
    "kinderopvangtoeslag": "Kinderopvangtoeslag",
    "kindgebonden_budget": "Kindgebonden budget",
    "bijstand": "Bijstand",
    "ww": "WW",
    "ziektewet": "Ziektewet",
    "wia": "WIA",
    "wajong": "Wajong",
    "aow": "AOW",
    "anw": "Anw",
    "kinderbijslag": "Kinderbijslag",
}
CHANNEL_LABELS = {
    "post": "per post",
    "email": "per e-mail",
    "manual": "via het eigen kanaal van de ontvanger",
    "web": "via de antwoordpagina",
    "phone": "telefonisch",
    "zgw": "in het zaaksysteem van de gemeente",
}
REFERRAL_STATUS_LABELS = {
    "queued": "wordt verstuurd",
    "delivered": "afgeleverd",
    "failed": "mislukt",
    "cancelled": "gestopt",
    "accepted": "aangenomen door de gemeente",
    "refused": "geweigerd door de gemeente",
}
RELATION_LABELS = {"partner": "Partner", "child": "Kind"}

#: The audit actions in words for the person (the list "Wie uw dossier bekeek of wijzigde"). An action not named
#: here is shown by its kind: a read ("bekeken") or a change ("gewijzigd"), never by its code alone.
ACTION_LABELS = {
    "case.read": "dossier bekeken",
    "case.history": "geschiedenis bekeken",
    "case.actions": "mogelijke stappen bekeken",
    "case.create": "dossier geopend",
    "case.update": "gegevens gewijzigd",
    "case.identity": "naam, geboortedatum of BSN verbeterd",
    "case.event": "stap gezet in het dossier",
    "case.route": "gemeente gekozen",
    "case.release": "vrijlating vastgelegd",
    "case.conditions.read": "basisvoorwaarden bekeken",
    "case.conditions.update": "basisvoorwaarden gewijzigd",
    "case.insurance.update": "zorgverzekering en uitkeringen gewijzigd",
    "case.knooppunt_export": "export voor het Schuldenknooppunt gemaakt",
    AUDIT_ACTION: "inzageoverzicht gemaakt",
    "bsn.reveal": "BSN bekeken",
    "consent.create": "toestemming vastgelegd",
    "consent.list": "toestemming bekeken",
    "consent.withdraw": "toestemming ingetrokken",
    "consent.form": "toestemmingsformulier gemaakt",
    "household.read": "huishouden bekeken",
    "insurance.read": "zorgverzekering bekeken",
    "note.list": "notities bekeken",
    "debt.create": "schuld toegevoegd",
    "debt.read": "schuld bekeken",
    "debt.list": "schulden bekeken",
    "debt.update": "schuld gewijzigd",
    "debt.event": "stap gezet bij een schuld",
    "letter.list": "brieven bekeken",
    "letter.download": "brief geopend",
    "letter.rendered": "brief gemaakt",
    "letter.emailed": "brief gemaild",
    "letter.sent_manually": "brief verstuurd",
    "letter.failed": "brief kon niet worden gemaakt",
    "letter.retry": "brief opnieuw gemaakt",
    "letter.reply_revoked": "antwoordcode ingetrokken",
    "reply.create": "antwoord van schuldeiser vastgelegd",
    "reply.submit": "antwoord gegeven via de antwoordpagina",
    "reply.read": "antwoord bekeken",
    "reply.list": "antwoorden bekeken",
    "reply.review": "antwoord gelezen",
    "reply.confirm": "bedrag uit antwoord overgenomen",
    "reply.decision": "besluit over betalingsregeling vastgelegd",
    "reply.attachment": "bijlage van antwoord geopend",
    "reply.reclaim_debt": "terugvordering als schuld toegevoegd",
    "referral.send": "verwijzing naar de gemeente verstuurd",
    "referral.read": "verwijzing bekeken",
    "referral.delivered": "verwijzing afgeleverd",
    "referral.failed": "verwijzing kon niet worden afgeleverd",
    "referral.cancelled": "verwijzing gestopt",
    "referral.retry": "verwijzing opnieuw verstuurd",
}
_READ_HINTS = ("read", "list", "history", "actions", "download", "reveal", "view", "export", "attachment", "inbox")


# -- the tree --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """Who did something, as the person is told: the organisation and the role, never a staff member's name.

    Why not the name: AVG art. 15(1)(c) gives the right to know the *recipients* of the data; staff who work under
    the authority of the controller (art. 29) are not recipients, and their names are their own personal data. The
    organisation and role say who had the file and whom to ask; a named user is traceable in the audit log (by
    internal id) for the privacy officer when a complaint needs it.
    """

    organisation: str | None
    role: str | None
    role_label: str


@dataclass(frozen=True)
class Person:
    given_names: str
    surname_prefix: str | None
    surname: str
    full_name: str
    date_of_birth: date
    # The full BSN: it is his own number (the only place it is shown unmasked without a `bsn.reveal`).
    bsn: str | None
    dji_number: str | None
    registered_at: datetime


@dataclass(frozen=True)
class Transferred:
    on: date
    from_pi: str
    to_pi: str


@dataclass(frozen=True)
class Detention:
    pi: str
    type: str
    type_label: str
    start: date
    expected_release: date | None
    actual_release: date | None
    transfers: tuple[Transferred, ...]


@dataclass(frozen=True)
class Step:
    """One entry of a case's or debt's history (the engine's wf_history)."""

    at: datetime
    what: str
    from_state: str | None
    to_state: str
    to_state_label: str
    reason: str | None
    by: Who


@dataclass(frozen=True)
class CaseFacts:
    id: int
    reference: str
    state: str
    state_label: str
    opened_at: datetime
    urgent: bool
    threat: str | None
    threat_label: str | None
    closure_reason: str | None
    closure_label: str | None
    municipality: str | None
    municipality_reason: str | None
    registration_municipality: str | None
    intended_postcode: str | None
    referred_at: datetime | None
    team: str | None
    history: tuple[Step, ...]


@dataclass(frozen=True)
class DebtFacts:
    id: int
    creditor: str
    collecting_party: str | None
    creditor_reference: str | None
    debt_type: str
    debt_type_label: str
    category: str
    category_label: str
    principal_cents: int
    interest_cents: int
    costs_cents: int
    total_cents: int
    amount_status: str
    amount_status_label: str
    peildatum: date | None
    threat: str | None
    joint_with_partner: bool
    state: str
    state_label: str
    created_at: datetime
    history: tuple[Step, ...]


@dataclass(frozen=True)
class Recipient:
    """To whom, as recorded on the letter when it was made (never today's directory)."""

    name: str
    address: tuple[str, ...]
    email: str | None


@dataclass(frozen=True)
class LetterFacts:
    id: int
    letter_type: str
    title: str
    letter_date: date
    debt_id: int | None
    recipient: Recipient
    to_detainee: bool
    channel: str
    channel_label: str
    status: str
    status_label: str
    sent_at: datetime | None
    bsn_on_letter: bool


@dataclass(frozen=True)
class ReplyFacts:
    id: int
    received_on: date
    creditor: str
    debt_id: int | None
    letter_id: int | None
    channel: str
    channel_label: str
    principal_cents: int | None
    interest_cents: int | None
    costs_cents: int | None
    total_cents: int | None
    peildatum: date | None
    said: tuple[str, ...]
    note: str | None
    has_attachment: bool
    superseded: bool


@dataclass(frozen=True)
class ConsentFacts:
    id: int
    purpose: str
    purpose_label: str
    recipient: str
    signed_on: date
    valid_until: date
    text_version: str
    witness: str | None
    withdrawn_at: datetime | None
    withdrawal_note: str | None


@dataclass(frozen=True)
class ReferralFacts:
    id: int
    sequence: int
    municipality: str
    referred_at: datetime
    channel: str
    channel_label: str
    status: str
    status_label: str
    delivered_at: datetime | None
    include_district_team: bool
    first_conversation_on: date | None
    refusal_reason: str | None


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class HouseholdFacts:
    relation: str
    relation_label: str
    given_names: str | None
    date_of_birth: date | None
    shares_lease: bool
    shares_debts: bool


@dataclass(frozen=True)
class NoteFacts:
    at: datetime
    by: Who
    body: str


@dataclass(frozen=True)
class Access:
    """One row of "who viewed or changed your file" (the audit log)."""

    at: datetime
    action: str
    action_label: str
    kind: str  # viewed, changed
    by: Who


@dataclass(frozen=True)
class CorrectionFacts:
    """One value changed (schulden/corrections.py): the old value stays, so he can see what was put right."""

    at: datetime
    object_type: str  # case, debt, detainee
    object_id: int
    field: str
    field_label: str
    old_value: str | None
    new_value: str | None
    by: Who


@dataclass(frozen=True)
class AccessExport:
    format: str
    version: int
    made_at: datetime
    made_by: Who
    person: Person
    detention: Detention
    case: CaseFacts
    insurance: tuple[Fact, ...]
    benefits: tuple[str, ...]
    household: tuple[HouseholdFacts, ...]
    release_conditions: tuple[Fact, ...]
    debts: tuple[DebtFacts, ...]
    letters: tuple[LetterFacts, ...]
    replies: tuple[ReplyFacts, ...]
    consents: tuple[ConsentFacts, ...]
    referrals: tuple[ReferralFacts, ...]
    notes: tuple[NoteFacts, ...]
    access_log: tuple[Access, ...]
    disclosures: tuple[Disclosure, ...]
    corrections: tuple[CorrectionFacts, ...]


# -- the operation ---------------------------------------------------------------------------------------------------


def check_may_export(actor: UserActor) -> None:
    """NotPermitted (403) for a role that never produces the export, before anything is read."""
    if actor.role not in ACCESS_EXPORTERS:
        raise NotPermitted(REFUSAL)


def produce_access_export(
    session: Session, engine: Engine, actor: UserActor, case_id: int, *, fmt: str, origin: str | None = None
) -> AccessExport:
    """Everything held about the detainee of `case_id`, for a PI staff member or counsellor whose scope holds the
    case (NotPermitted for other roles, NotFound out of scope). Writes the `case.access_export` row with the format
    (`FORMATS`). Does not commit."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    check_may_export(actor)
    detail = case_detail(session, actor, case_id)
    made_at = engine.clock()
    # The row first: the export lists itself among the reads of the file, as the person will want to see it.
    audit.record(
        session,
        actor=actor,
        action=AUDIT_ACTION,
        object_type="case",
        object_id=case_id,
        case_id=case_id,
        origin=origin,
        details={"format": fmt},
    )
    session.flush()
    return _gather(session, engine, actor, detail, made_at)


def read_case_disclosures(session: Session, actor: UserActor, case_id: int) -> list[Disclosure]:
    """The case page's section "Aan wie is wat verstrekt": the same list as the export's, for the same roles and
    scope. No audit row of its own: the page's `case.read` row records the view of the case it is part of."""
    check_may_export(actor)
    case = get_case(session, actor, case_id)
    has_bsn = bool(session.get_one(Detainee, case.detainee_id).bsn)
    return case_disclosures(session, case, has_bsn=has_bsn)


class _Names:
    """Organisation names and users' roles, each read once per export."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._orgs: dict[int, str] = {}
        self._users: dict[str, tuple[str | None, int | None]] = {}

    def org(self, org_id: int | None) -> str | None:
        if org_id is None:
            return None
        if org_id not in self._orgs:
            org = self.session.get(Organisation, org_id)
            self._orgs[org_id] = org.name if org is not None else f"organisatie {org_id}"
        return self._orgs[org_id]

    def who(self, actor_id: str, organisation_id: int | None = None) -> Who:
        if actor_id.startswith("user:"):
            if actor_id not in self._users:
                user = self.session.get(User, int(actor_id.removeprefix("user:")))
                self._users[actor_id] = (user.role, user.organisation_id) if user else (None, None)
            role, user_org = self._users[actor_id]
            org = self.org(organisation_id if organisation_id is not None else user_org)
            return Who(org, role, Role(role).label if role else "Medewerker")
        if actor_id.startswith("creditor:"):
            return Who(None, "creditor", "Schuldeiser (met de antwoordcode van een brief)")
        return Who("Schuldroute", "system", "Automatisch (het systeem)")


def _gather(
    session: Session, engine: Engine, actor: UserActor, detail: CaseDetailRow, made_at: datetime
) -> AccessExport:
    case, detainee = detail.case, detail.detainee
    names = _Names(session)
    process = engine.registry.get(detail.process, detail.process_version)
    creditors = _creditors(session, case)
    debts = list(session.scalars(select(Debt).where(Debt.case_id == case.id).order_by(Debt.id)))
    letters = list(session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)))
    full_name = " ".join(p for p in (detainee.given_names, detainee.surname_prefix, detainee.surname) if p)
    return AccessExport(
        format=EXPORT_FORMAT,
        version=EXPORT_VERSION,
        made_at=made_at,
        made_by=names.who(actor.actor_id, actor.organisation_id),
        person=Person(
            detainee.given_names,
            detainee.surname_prefix,
            detainee.surname,
            full_name,
            detainee.date_of_birth,
            detainee.bsn,
            detainee.dji_number,
            detainee.created_at,
        ),
        detention=_detention(session, case, detail, names),
        case=CaseFacts(
            id=case.id,
            reference=f"SR-{case.id:06d}",
            state=detail.state,
            state_label=process.state(detail.state).label or detail.state,
            opened_at=case.created_at,
            urgent=case.urgent,
            threat=case.threat,
            threat_label=label(THREAT_LABELS, case.threat) or None,
            closure_reason=case.closure_reason,
            closure_label=label(CLOSURE_LABELS, case.closure_reason) or None,
            municipality=detail.municipality.name if detail.municipality else None,
            municipality_reason=case.municipality_reason,
            registration_municipality=(
                detail.registration_municipality.name if detail.registration_municipality else None
            ),
            intended_postcode=case.intended_postcode,
            referred_at=case.referred_at,
            team=names.org(case.team_id),
            history=_history(session, engine, case.instance_id, names),
        ),
        insurance=_insurance(case, creditors),
        benefits=tuple(
            label(BENEFIT_LABELS, b.kind)
            for b in session.scalars(select(CaseBenefit).where(CaseBenefit.case_id == case.id).order_by(CaseBenefit.id))
        ),
        household=tuple(
            HouseholdFacts(
                m.relation,
                label(RELATION_LABELS, m.relation),
                m.given_names,
                m.date_of_birth,
                m.shares_lease,
                m.shares_debts,
            )
            for m in session.scalars(
                select(HouseholdMember).where(HouseholdMember.case_id == case.id).order_by(HouseholdMember.id)
            )
        ),
        release_conditions=_conditions(session, case),
        debts=tuple(_debt(session, engine, d, creditors, names) for d in debts),
        letters=tuple(_letter(session, x, has_bsn=bool(detainee.bsn)) for x in letters),
        replies=_replies(session, case, debts, letters, creditors),
        consents=_consents(session, case, creditors, names),
        referrals=_referrals(session, case, names),
        notes=_notes(session, actor, case, names),
        access_log=_access_log(session, case, names),
        disclosures=tuple(case_disclosures(session, case, has_bsn=bool(detainee.bsn))),
        corrections=_corrections(session, case, names),
    )


def _creditors(session: Session, case: Case) -> dict[int, Creditor]:
    ids = set(session.scalars(select(Debt.creditor_id).where(Debt.case_id == case.id)))
    ids |= {i for i in session.scalars(select(Debt.collecting_party_id).where(Debt.case_id == case.id)) if i}
    ids |= {i for i in session.scalars(select(Consent.recipient_creditor_id).where(Consent.case_id == case.id)) if i}
    if case.health_insurer_id:
        ids.add(case.health_insurer_id)
    return {c.id: c for c in session.scalars(select(Creditor).where(Creditor.id.in_(ids or {0})))}


def _detention(session: Session, case: Case, detail: CaseDetailRow, names: _Names) -> Detention:
    transfers = tuple(
        Transferred(t.transferred_on, names.org(t.from_pi_id) or "", names.org(t.to_pi_id) or "")
        for t in session.scalars(select(Transfer).where(Transfer.case_id == case.id).order_by(Transfer.id))
    )
    return Detention(
        detail.pi.name,
        case.detention_type,
        label(DETENTION_LABELS, case.detention_type),
        case.detention_start,
        case.expected_release,
        case.actual_release,
        transfers,
    )


def _history(session: Session, engine: Engine, instance_id: int, names: _Names) -> tuple[Step, ...]:
    """The instance's history in words: the transition's label, else "opened" or an automatic step (a clock)."""
    instance = session.get_one(WorkflowInstance, instance_id)
    process = engine.registry.get(instance.process, instance.process_version)
    labels = {t.event: t.label for t in process.transitions if t.label}
    steps = []
    for entry in engine.history(session, instance):
        what = labels.get(entry.event) or ("Geopend" if entry.event == START_EVENT else "Automatische stap")
        steps.append(_step(entry, what, process.state(entry.to_state).label or entry.to_state, names))
    return tuple(steps)


def _step(entry: HistoryEntry, what: str, state_label: str, names: _Names) -> Step:
    return Step(entry.at, what, entry.from_state, entry.to_state, state_label, entry.reason, names.who(entry.actor_id))


def _insurance(case: Case, creditors: dict[int, Creditor]) -> tuple[Fact, ...]:
    facts = []
    if case.health_insurer_id and case.health_insurer_id in creditors:
        facts.append(Fact("Zorgverzekeraar", creditors[case.health_insurer_id].name))
    if case.health_policy_number:
        facts.append(Fact("Polisnummer", case.health_policy_number))
    return tuple(facts)


def _conditions(session: Session, case: Case) -> tuple[Fact, ...]:
    row = conditions_of(session, case.id)
    if row is None:
        return ()
    return tuple(Fact(CONDITION_LABELS[name], condition_label(name, getattr(row, name))) for name in CONDITION_FIELDS)


def _debt(session: Session, engine: Engine, debt: Debt, creditors: dict[int, Creditor], names: _Names) -> DebtFacts:
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    process = engine.registry.get(instance.process, instance.process_version)
    creditor = creditors.get(debt.creditor_id)
    collector = creditors.get(debt.collecting_party_id) if debt.collecting_party_id else None
    return DebtFacts(
        id=debt.id,
        creditor=creditor.name if creditor else "",
        collecting_party=collector.name if collector else None,
        creditor_reference=debt.creditor_reference,
        debt_type=debt.debt_type,
        debt_type_label=label(DEBT_TYPE_LABELS, debt.debt_type),
        category=debt.category,
        category_label=label(CATEGORY_LABELS, debt.category),
        principal_cents=debt.principal_cents,
        interest_cents=debt.interest_cents,
        costs_cents=debt.costs_cents,
        total_cents=debt.total_cents,
        amount_status=debt.amount_status,
        amount_status_label=label(AMOUNT_STATUS_LABELS, debt.amount_status),
        peildatum=debt.peildatum,
        threat=debt.threat,
        joint_with_partner=debt.joint_with_partner,
        state=instance.state,
        state_label=process.state(instance.state).label or instance.state,
        created_at=debt.created_at,
        history=_history(session, engine, debt.instance_id, names),
    )


def _letter(session: Session, letter: Letter, *, has_bsn: bool) -> LetterFacts:
    if letter.recipient_name:
        address = letter_recipient_address(letter).lines
        recipient = Recipient(letter.recipient_name, tuple(address[1:]), letter.recipient_email)
    else:
        recipient = _recipient_without_copy(session, letter)
    return LetterFacts(
        id=letter.id,
        letter_type=letter.letter_type,
        title=letter_label(letter.letter_type, letter.round),
        letter_date=letter.letter_date,
        debt_id=letter.debt_id,
        recipient=recipient,
        to_detainee=is_to_detainee(letter),
        channel=letter.channel,
        channel_label=label(CHANNEL_LABELS, letter.channel),
        status=letter.status,
        status_label=label(LETTER_STATUS_LABELS, letter.status),
        sent_at=letter.sent_at,
        bsn_on_letter=letter_carries_bsn(letter, has_bsn=has_bsn),
    )


def _recipient_without_copy(session: Session, letter: Letter) -> Recipient:
    """The letters without a recipient copy: L8 to the municipality (its address), the detainee's own (the PI)."""
    if letter.letter_type == "L8" and letter.organisation_id is not None:
        org = session.get_one(Organisation, letter.organisation_id)
        lines = organisation_address(org).lines
        return Recipient(lines[0], tuple(lines[1:]), org.email)
    case = session.get_one(Case, letter.case_id)
    pi = session.get_one(Organisation, case.pi_id)
    lines = organisation_address(pi, team=False).lines
    return Recipient("U zelf, in de PI", tuple(lines), None)


def _said(reply: CreditorReply) -> tuple[str, ...]:
    """What the creditor said, in short sentences (the yes/no answers and their dates)."""
    said: list[str] = []

    def yes_no(value: bool | None, yes: str, no: str, until: date | None = None) -> None:
        if value is None:
            return
        said.append(yes + (f" tot {datum(until)}" if until else "") if value else no)

    yes_no(
        reply.collection_suspended, "Incasso opgeschort", "Incasso niet opgeschort", reply.collection_suspended_until
    )
    yes_no(reply.interest_suspended, "Rente gestopt", "Rente niet gestopt", reply.interest_suspended_until)
    yes_no(reply.has_judgment, "Er is een vonnis", "Er is geen vonnis")
    yes_no(reply.has_attachment, "Er ligt beslag", "Er ligt geen beslag")
    yes_no(reply.arrangement_offered, "Betalingsregeling aangeboden", "Geen betalingsregeling aangeboden")
    if reply.arrangement_decision:
        words = {"accept": "Voorstel aangenomen", "refuse": "Voorstel afgewezen", "counter": "Tegenvoorstel gedaan"}
        said.append(words.get(reply.arrangement_decision, reply.arrangement_decision))
    yes_no(reply.termination_confirmed, "Opzegging bevestigd", "Opzegging niet bevestigd")
    yes_no(reply.insurance_suspended, "Zorgverzekering opgeschort", "Zorgverzekering niet opgeschort")
    yes_no(reply.change_confirmed, "Wijziging verwerkt", "Wijziging niet verwerkt")
    if reply.no_cooperation:
        said.append(f"Werkt niet mee: {label(NO_COOPERATION_LABELS, reply.no_cooperation)}")  # type: ignore[arg-type]
    return tuple(said)


def _replies(
    session: Session, case: Case, debts: list[Debt], letters: list[Letter], creditors: dict[int, Creditor]
) -> tuple[ReplyFacts, ...]:
    by_debt = {d.id: creditors[d.creditor_id].name for d in debts if d.creditor_id in creditors}
    by_letter = {x.id: x.recipient_name or "" for x in letters}
    replies = session.scalars(select(CreditorReply).where(CreditorReply.case_id == case.id).order_by(CreditorReply.id))
    return tuple(
        ReplyFacts(
            id=r.id,
            received_on=r.received_on,
            creditor=(by_debt.get(r.debt_id or 0) or by_letter.get(r.letter_id or 0) or "onbekende schuldeiser"),
            debt_id=r.debt_id,
            letter_id=r.letter_id,
            channel=r.channel,
            channel_label=label(CHANNEL_LABELS, r.channel),
            principal_cents=r.principal_cents,
            interest_cents=r.interest_cents,
            costs_cents=r.costs_cents,
            total_cents=r.total_cents,
            peildatum=r.peildatum,
            said=_said(r),
            note=r.note,
            has_attachment=r.attachment_key is not None,
            superseded=r.superseded_at is not None,
        )
        for r in replies
    )


def _consents(session: Session, case: Case, creditors: dict[int, Creditor], names: _Names) -> tuple[ConsentFacts, ...]:
    out = []
    for c in session.scalars(select(Consent).where(Consent.case_id == case.id).order_by(Consent.id)):
        municipality = names.org(c.recipient_organisation_id)
        purpose = ConsentPurpose(c.purpose)
        if c.recipient_creditor_id is not None and c.recipient_creditor_id in creditors:
            recipient = creditors[c.recipient_creditor_id].name
        else:
            recipient = municipality or "alle ontvangers van dit doel"
        out.append(
            ConsentFacts(
                c.id,
                c.purpose,
                purpose_label(purpose, municipality),
                recipient,
                c.signed_on,
                c.valid_until,
                c.text_version,
                c.witness,
                c.withdrawn_at,
                c.withdrawal_note,
            )
        )
    return tuple(out)


def _referrals(session: Session, case: Case, names: _Names) -> tuple[ReferralFacts, ...]:
    return tuple(
        ReferralFacts(
            r.id,
            r.sequence,
            names.org(r.municipality_id) or "",
            r.referred_at,
            r.channel,
            label(CHANNEL_LABELS, r.channel),
            r.status,
            label(REFERRAL_STATUS_LABELS, r.status),
            r.delivered_at,
            r.include_district_team,
            r.first_conversation_on,
            r.refusal_reason,
        )
        for r in session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.sequence))
    )


def _notes(session: Session, actor: UserActor, case: Case, names: _Names) -> tuple[NoteFacts, ...]:
    """The notes the producer may read (shared, and his organisation's own), as `cases.views.read_notes` shows
    them: another organisation's private note is answered by that organisation."""
    notes = session.scalars(
        select(CaseNote)
        .where(
            CaseNote.case_id == case.id,
            or_(CaseNote.shared.is_(True), CaseNote.organisation_id == actor.organisation_id),
        )
        .order_by(CaseNote.id)
    )
    return tuple(NoteFacts(n.created_at, names.who(f"user:{n.author_id}", n.organisation_id), n.body) for n in notes)


def _access_log(session: Session, case: Case, names: _Names) -> tuple[Access, ...]:
    """Every audit row about the case (reads and changes alike), oldest first, by organisation and role."""
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.case_id == case.id, AuditEntry.result == "ok")
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    out = []
    for row in rows:
        kind = "viewed" if row.action.rsplit(".", 1)[-1] in _READ_HINTS else "changed"
        words = ACTION_LABELS.get(row.action) or ("bekeken" if kind == "viewed" else "gewijzigd")
        out.append(Access(row.at, row.action, words, kind, names.who(row.actor_id, row.organisation_id)))
    return tuple(out)


def _corrections(session: Session, case: Case, names: _Names) -> tuple[CorrectionFacts, ...]:
    """Every value changed on the case, its debts and the person, oldest first, with the old and the new value."""
    rows = session.scalars(
        select(Correction).where(Correction.case_id == case.id).order_by(Correction.changed_at, Correction.id)
    )
    return tuple(
        CorrectionFacts(
            at=c.changed_at,
            object_type=c.object_type,
            object_id=c.object_id,
            field=c.field,
            field_label=field_label(c.object_type, c.field),
            old_value=c.old_value,
            new_value=c.new_value,
            by=names.who(c.actor_id, c.organisation_id),
        )
        for c in rows
    )


# -- the JSON document ------------------------------------------------------------------------------------------------


def to_document(export: AccessExport) -> dict[str, Any]:
    """The export as JSON-ready data: the dataclasses' field names as keys, dates and moments in ISO 8601."""
    return _plain(dataclasses.asdict(export))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
