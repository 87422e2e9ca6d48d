"""Use cases on cases: intake, changes, routing, transfers, consent, household and notes.

Services take a session, the engine and an actor; they validate what the schema cannot (rules across fields and
against stored data), flush, and never commit. A rule broken raises ValidationFailed naming the field.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit, corrections
from schulden.actors import UserActor
from schulden.cases.models import (
    Case,
    CaseNote,
    CasePartner,
    Consent,
    ConsentPurpose,
    Detainee,
    DetentionType,
    HouseholdMember,
    HouseholdRelation,
    RoutingRule,
    Transfer,
)
from schulden.consent_notices import notify_creditors_of_withdrawal
from schulden.consents import REFERRAL_NEEDS_MUNICIPALITY
from schulden.creditors.models import Creditor
from schulden.errors import ValidationFailed
from schulden.letters.services import request_letter
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals.services import sync_wgs_term
from schulden.roles import Role
from schulden.routing import propose_municipality
from workflows import Actor, Engine, HistoryEntry, TransitionRefused, WorkflowInstance

#: Version of the consent text the detainee signs (L9); stored with every consent row.
CONSENT_TEXT_VERSION = "2026-11"


def normalise_name(value: str) -> str:
    """NFC, so 'é' typed as e + combining accent and the IJ ligature compare and sort as users expect."""
    return unicodedata.normalize("NFC", value).strip()


def _organisation(session: Session, org_id: int | None, kind: OrganisationKind, field: str) -> Organisation | None:
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    if org is None or org.kind != kind.value or not org.active:
        raise ValidationFailed({field: [f"Geen {_KIND_LABEL[kind]} met id {org_id}."]})
    return org


_KIND_LABEL = {
    OrganisationKind.PI: "PI",
    OrganisationKind.MUNICIPALITY: "gemeente",
    OrganisationKind.PROBATION: "reclasseringsorganisatie",
    OrganisationKind.CARE: "zorgorganisatie",
    OrganisationKind.OPERATOR: "schuldhulpteam",
}


def open_case(
    session: Session,
    engine: Engine,
    *,
    actor: Actor,
    given_names: str,
    surname: str,
    date_of_birth: date,
    pi: Organisation,
    detention_type: DetentionType,
    detention_start: date,
    expected_release: date | None = None,
    surname_prefix: str | None = None,
    bsn: str | None = None,
    dji_number: str | None = None,
    intended_postcode: str | None = None,
    registration_municipality: Organisation | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Case:
    """Register a detainee's detention and start its case in `draft`, with a proposed municipality.

    Does not commit. The case goes to the counselling team the PI works with.
    """
    today = today or engine.today(now)
    errors: dict[str, list[str]] = {}
    if date_of_birth >= today:
        errors["date_of_birth"] = ["De geboortedatum ligt in de toekomst."]
    elif (today - date_of_birth).days < 12 * 365:
        errors["date_of_birth"] = ["Volwassenendetentie: de gedetineerde is ouder dan 12 jaar."]
    if detention_start > today:
        errors["detention_start"] = ["De detentie kan niet in de toekomst begonnen zijn."]
    if expected_release is not None and expected_release < detention_start:
        errors["expected_release"] = ["De verwachte vrijlating ligt voor het begin van de detentie."]
    if detention_type is DetentionType.PRE_TRIAL and expected_release is not None:
        errors["expected_release"] = ["Bij voorlopige hechtenis is de vrijlatingsdatum onbekend: laat dit leeg."]
    if errors:
        raise ValidationFailed(errors)
    detainee = Detainee(
        given_names=normalise_name(given_names),
        surname_prefix=normalise_name(surname_prefix) if surname_prefix else None,
        surname=normalise_name(surname),
        date_of_birth=date_of_birth,
        bsn=bsn,
        dji_number=dji_number,
    )
    session.add(detainee)
    session.flush()
    instance = engine.start(session, "case", actor=actor, now=now)
    proposal = propose_municipality(
        session, intended_postcode=intended_postcode, registration_municipality=registration_municipality
    )
    case = Case(
        detainee_id=detainee.id,
        instance_id=instance.id,
        pi_id=pi.id,
        team_id=pi.counselling_team_id,
        detention_type=detention_type.value,
        detention_start=detention_start,
        expected_release=expected_release,
        intended_postcode=intended_postcode,
        registration_municipality_id=registration_municipality.id if registration_municipality else None,
        municipality_id=proposal.municipality.id if proposal.municipality else None,
        municipality_rule=proposal.rule.value if proposal.rule else None,
        municipality_reason=proposal.reason,
    )
    session.add(case)
    session.flush()
    if proposal.municipality is not None:
        engine.fire(
            session,
            instance,
            "set_municipality",
            actor=actor,
            payload={"municipality_id": proposal.municipality.id, "rule": proposal.rule},
            reason=proposal.reason,
            now=now,
        )
    return case


def instance_of(session: Session, case: Case) -> WorkflowInstance:
    return session.get_one(WorkflowInstance, case.instance_id)


def fire_case_event(
    session: Session,
    engine: Engine,
    case: Case,
    event: str,
    *,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> HistoryEntry:
    """Fire a workflow event on the case (TransitionRefused / ConcurrentUpdate propagate). Does not commit.

    A workflow step is a change of the case: its version (ETag) moves on with it.
    """
    entry = engine.fire(
        session, instance_of(session, case), event, actor=actor, payload=payload, reason=reason, now=now
    )
    case.updated_at = entry.at
    return entry


#: Events that only their own operation fires (routing, transfer, release date, referral): they record data of
#: their own, so fired bare they would write a history that the case does not have.
SERVICE_EVENTS = frozenset(
    {
        "set_municipality",
        "record_transfer",
        "change_release_date",
        "release_early",
        "send_referral",
        "accept_referral",
        "refuse_referral",
        "refuse_referral_not_resident",
    }
)


class EventHasOwnOperation(ValidationFailed):
    """A person asked for one of SERVICE_EVENTS as a bare step; each front door says where to go instead."""

    def __init__(self, event: str) -> None:
        super().__init__({"event": ["Deze stap heeft een eigen formulier."]})
        self.event = event


def take_case_step(
    session: Session,
    engine: Engine,
    case: Case,
    event: str,
    *,
    actor: UserActor,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
    origin: str | None = None,
) -> HistoryEntry:
    """A person fires an event of the case (a button of the case page, POST /cases/{id}/events).

    EventHasOwnOperation for SERVICE_EVENTS; TransitionRefused / ConcurrentUpdate propagate. Writes the
    `case.event` audit row; does not commit.
    """
    if event in SERVICE_EVENTS:
        raise EventHasOwnOperation(event)
    entry = fire_case_event(session, engine, case, event, actor=actor, payload=payload, reason=reason)
    if event == "flag_threat":
        # After the referral a Wgs threat restarts the municipality's clock: the referral row follows it.
        sync_wgs_term(session, case)
    session.flush()
    audit.record(session, actor=actor, action="case.event", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin, details={"event": event})  # fmt: skip
    return entry


@dataclass(frozen=True)
class CaseChanges:
    """What PATCH /cases/{id} may change; None means 'leave as is' unless named in `clear`."""

    expected_release: date | None = None
    intended_postcode: str | None = None
    registration_municipality_id: int | None = None
    dji_number: str | None = None
    clear: frozenset[str] = frozenset()


def update_case(
    session: Session, engine: Engine, case: Case, changes: CaseChanges, *, actor: Actor, now: datetime | None = None
) -> list[str]:
    """Apply changes; a new release date restarts the referral window. Returns the names of changed fields.

    Each changed value is kept as a correction with its old and new value (schulden/corrections.py), in this
    transaction: the audit row the caller writes names the fields only, never a value."""
    changed: list[str] = []
    detainee = session.get_one(Detainee, case.detainee_id)
    before = _case_values(session, case, detainee)
    if "expected_release" in changes.clear or changes.expected_release is not None:
        new_release = None if "expected_release" in changes.clear else changes.expected_release
        if new_release is not None and new_release < case.detention_start:
            raise ValidationFailed(
                {"expected_release": ["De verwachte vrijlating ligt voor het begin van de detentie."]}
            )
        if new_release != case.expected_release:
            case.expected_release = new_release
            changed.append("expected_release")
            session.flush()
            # Outside the inventory there is no clock to restart; the audit row records the change.
            with suppress(TransitionRefused):
                fire_case_event(
                    session, engine, case, "change_release_date", actor=actor,
                    payload={"expected_release": new_release.isoformat() if new_release else None}, now=now,
                )  # fmt: skip
    if changes.dji_number is not None and changes.dji_number != detainee.dji_number:
        detainee.dji_number = changes.dji_number
        changed.append("dji_number")
    routing_inputs = False
    if changes.intended_postcode is not None or "intended_postcode" in changes.clear:
        case.intended_postcode = None if "intended_postcode" in changes.clear else changes.intended_postcode
        changed.append("intended_postcode")
        routing_inputs = True
    if changes.registration_municipality_id is not None:
        _organisation(
            session, changes.registration_municipality_id, OrganisationKind.MUNICIPALITY, "registration_municipality_id"
        )
        case.registration_municipality_id = changes.registration_municipality_id
        changed.append("registration_municipality_id")
        routing_inputs = True
    if routing_inputs and case.municipality_rule != RoutingRule.OVERRIDE.value and case.referred_at is None:
        _apply_proposal(session, engine, case, actor=actor, now=now)
    if changed:
        # The case's version covers its detainee's data too: a change to either moves the ETag on.
        case.updated_at = now or engine.clock()
        after = _case_values(session, case, detainee)
        for object_type, object_id, names in (
            ("case", case.id, ("expected_release", "intended_postcode", "registration_municipality_id")),
            ("detainee", detainee.id, ("dji_number",)),
        ):
            corrections.record(
                session, actor=actor, case_id=case.id, object_type=object_type, object_id=object_id,
                changes={n: (before[n], after[n]) for n in names if n in changed}, at=case.updated_at,
            )  # fmt: skip
    session.flush()
    return changed


def _case_values(session: Session, case: Case, detainee: Detainee) -> dict[str, str | None]:
    """The values `update_case` may change, as a person reads them (the municipality by its name)."""
    registration = (
        session.get(Organisation, case.registration_municipality_id) if case.registration_municipality_id else None
    )
    return {
        "expected_release": corrections.shown(case.expected_release),
        "intended_postcode": corrections.shown(case.intended_postcode),
        "registration_municipality_id": registration.name if registration else None,
        "dji_number": corrections.shown(detainee.dji_number),
    }


def _apply_proposal(session: Session, engine: Engine, case: Case, *, actor: Actor, now: datetime | None) -> None:
    registration = (
        session.get(Organisation, case.registration_municipality_id) if case.registration_municipality_id else None
    )
    proposal = propose_municipality(
        session, intended_postcode=case.intended_postcode, registration_municipality=registration
    )
    new_id = proposal.municipality.id if proposal.municipality else None
    if new_id == case.municipality_id:
        return
    case.municipality_id = new_id
    case.municipality_rule = proposal.rule.value if proposal.rule else None
    case.municipality_reason = proposal.reason
    session.flush()
    fire_case_event(
        session, engine, case, "set_municipality", actor=actor,
        payload={"municipality_id": new_id, "rule": case.municipality_rule}, reason=proposal.reason, now=now,
    )  # fmt: skip


def override_municipality(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: UserActor,
    municipality_id: int,
    reason: str,
    now: datetime | None = None,
) -> Case:
    """A counsellor chooses the municipality, with a reason (domain.md 7.1). Recorded in the history."""
    if actor.role is not Role.COUNSELLOR:
        raise ValidationFailed({"municipality_id": ["Alleen een schuldhulpverlener kiest zelf de gemeente."]})
    if not reason.strip():
        raise ValidationFailed({"reason": ["Geef een reden voor deze keuze."]})
    if case.referred_at is not None:
        raise ValidationFailed({"municipality_id": ["Al verwezen: laat de gemeente weigeren, dan volgt herrouteren."]})
    municipality = _organisation(session, municipality_id, OrganisationKind.MUNICIPALITY, "municipality_id")
    assert municipality is not None
    case.municipality_id = municipality.id
    case.municipality_rule = RoutingRule.OVERRIDE.value
    case.municipality_reason = reason.strip()
    session.flush()
    fire_case_event(
        session, engine, case, "set_municipality", actor=actor,
        payload={"municipality_id": municipality.id, "rule": RoutingRule.OVERRIDE.value}, reason=reason, now=now,
    )  # fmt: skip
    return case


def choose_municipality(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: UserActor,
    municipality_id: int,
    reason: str,
    origin: str | None = None,
) -> Case:
    """A counsellor's choice of municipality (the referral page, PUT /cases/{id}/municipality).

    override_municipality's rules and step, plus the `case.route` audit row. Does not commit.
    """
    override_municipality(session, engine, case, actor=actor, municipality_id=municipality_id, reason=reason)
    audit.record(session, actor=actor, action="case.route", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin, details={"municipality_id": municipality_id})  # fmt: skip
    return case


def transfer_case(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: UserActor,
    to_pi_id: int,
    transferred_on: date,
    now: datetime | None = None,
) -> Transfer:
    """The detainee moved to another PI: the case follows him, and the old PI loses access at once."""
    to_pi = _organisation(session, to_pi_id, OrganisationKind.PI, "to_pi_id")
    assert to_pi is not None
    if to_pi.id == case.pi_id:
        raise ValidationFailed({"to_pi_id": ["De gedetineerde zit al in deze PI."]})
    if transferred_on < case.detention_start:
        raise ValidationFailed({"transferred_on": ["De overplaatsing ligt voor het begin van de detentie."]})
    transfer = Transfer(
        case_id=case.id,
        from_pi_id=case.pi_id,
        to_pi_id=to_pi.id,
        transferred_on=transferred_on,
        recorded_by=actor.actor_id,
    )
    session.add(transfer)
    case.pi_id = to_pi.id
    if to_pi.counselling_team_id is not None:
        case.team_id = to_pi.counselling_team_id
    session.flush()
    fire_case_event(
        session, engine, case, "record_transfer", actor=actor,
        payload={"from_pi_id": transfer.from_pi_id, "to_pi_id": to_pi.id, "on": transferred_on.isoformat()}, now=now,
    )  # fmt: skip
    return transfer


@dataclass(frozen=True)
class ConsentItem:
    purpose: ConsentPurpose
    recipient_creditor_id: int | None = None
    recipient_organisation_id: int | None = None


def record_consents(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: Actor,
    items: Sequence[ConsentItem],
    signed_on: date,
    valid_until: date,
    witness: str | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> list[Consent]:
    """Record the signed authorisation, one row per purpose and recipient (domain.md 6.3).

    A consent to refer names one municipality (6.3 items 3-4): the one given, else the case's own, which is the one
    the printed form (L9) names; without either it is refused. A case still waiting for consent moves on to the
    inventory when the consent covers contacting creditors.
    """
    today = today or engine.today(now)
    errors: dict[str, list[str]] = {}
    if not items:
        errors["purposes"] = ["Kies minstens één doel waarvoor toestemming is gegeven."]
    if signed_on > today:
        errors["signed_on"] = ["De ondertekening kan niet in de toekomst liggen."]
    if valid_until < signed_on:
        errors["valid_until"] = ["Geldig tot ligt voor de datum van ondertekening."]
    elif valid_until < today:
        errors["valid_until"] = ["Deze toestemming is al verlopen."]
    named: list[ConsentItem] = []
    for item in items:
        if item.recipient_creditor_id is not None and session.get(Creditor, item.recipient_creditor_id) is None:
            errors["recipient_creditor_id"] = [f"Geen schuldeiser met id {item.recipient_creditor_id}."]
        if item.purpose is ConsentPurpose.REFER_MUNICIPALITY and item.recipient_organisation_id is None:
            item = ConsentItem(item.purpose, item.recipient_creditor_id, case.municipality_id)
            if item.recipient_organisation_id is None:
                errors["recipient_organisation_id"] = [REFERRAL_NEEDS_MUNICIPALITY]
        if item.recipient_organisation_id is not None:
            org = session.get(Organisation, item.recipient_organisation_id)
            if org is None:
                errors["recipient_organisation_id"] = [f"Geen organisatie met id {item.recipient_organisation_id}."]
            elif item.purpose is ConsentPurpose.REFER_MUNICIPALITY and org.kind != OrganisationKind.MUNICIPALITY.value:
                errors["recipient_organisation_id"] = [f"{org.name} is geen gemeente. {REFERRAL_NEEDS_MUNICIPALITY}"]
        named.append(item)
    items = named
    if errors:
        raise ValidationFailed(errors)
    rows = [
        Consent(
            case_id=case.id,
            purpose=item.purpose.value,
            recipient_creditor_id=item.recipient_creditor_id,
            recipient_organisation_id=item.recipient_organisation_id,
            signed_on=signed_on,
            valid_until=valid_until,
            text_version=CONSENT_TEXT_VERSION,
            witness=witness,
            recorded_by=actor.actor_id,
        )
        for item in items
    ]
    session.add_all(rows)
    session.flush()
    if instance_of(session, case).state in ("draft", "awaiting_consent") and any(
        i.purpose is ConsentPurpose.CONTACT_CREDITORS for i in items
    ):
        fire_case_event(
            session, engine, case, "record_consent", actor=actor,
            payload={"consent_ids": [r.id for r in rows]}, now=now,
        )  # fmt: skip
    return rows


def record_signed_consent(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: UserActor,
    data: Mapping[str, Any],
    origin: str | None = None,
) -> list[Consent]:
    """The signed authorisation as sent (ConsentIn's output: the intake's consent step, POST /cases/{id}/consents).

    record_consents' rules and step, plus the `consent.create` audit row. Does not commit.
    """
    rows = record_consents(
        session,
        engine,
        case,
        actor=actor,
        items=[
            ConsentItem(
                ConsentPurpose(item["purpose"]),
                item.get("recipient_creditor_id"),
                item.get("recipient_organisation_id"),
            )
            for item in data["purposes"]
        ],
        signed_on=data["signed_on"],
        valid_until=data["valid_until"],
        witness=data.get("witness"),
    )
    audit.record(session, actor=actor, action="consent.create", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin, details={"consent_ids": [r.id for r in rows]})  # fmt: skip
    return rows


def withdraw_consents(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: Actor,
    consent_ids: Sequence[int] | None,
    note: str | None = None,
    now: datetime | None = None,
    origin: str | None = None,
) -> list[Consent]:
    """Withdraw some consents (or all, when `consent_ids` is None); stops what they cover at once. Writes the
    `consent.withdraw` audit row naming the consents (every front door the same); does not commit.

    Withdrawing everything closes the case (and its debts' clocks) through the case's `withdraw_consent` step,
    which makes the withdrawal form (L10). A partial withdrawal narrows what the guards allow from this moment on,
    and does here what that step does for the part withdrawn (domain.md 4, L10): the detainee gets his L10, letters
    for the withdrawn purposes still waiting are stopped, and each creditor who had a letter under them is told that
    our authorisation has ended.
    """
    moment = now or engine.clock()
    query = select(Consent).where(Consent.case_id == case.id, Consent.withdrawn_at.is_(None))
    if consent_ids is not None:
        query = query.where(Consent.id.in_(consent_ids))
    rows = list(session.scalars(query))
    if consent_ids is not None and len(rows) != len(set(consent_ids)):
        raise ValidationFailed({"consent_ids": ["Een of meer toestemmingen bestaan niet of zijn al ingetrokken."]})
    if not rows:
        raise ValidationFailed({"consent_ids": ["Er is geen toestemming meer om in te trekken."]})
    for row in rows:
        row.withdrawn_at = moment
        row.withdrawn_by = actor.actor_id
        row.withdrawal_note = note
    session.flush()
    audit.record(session, actor=actor, action="consent.withdraw", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin, details={"consent_ids": [r.id for r in rows]})  # fmt: skip
    remaining = session.scalar(
        select(Consent.id).where(Consent.case_id == case.id, Consent.withdrawn_at.is_(None)).limit(1)
    )
    if remaining is None:
        # A case in draft or already closed has nothing to stop.
        with suppress(TransitionRefused):
            fire_case_event(session, engine, case, "withdraw_consent", actor=actor, reason=note, now=now)
        return rows
    if instance_of(session, case).state == "closed":
        return rows  # everything has stopped already
    # Rows are withdrawn once, so the first of them names this withdrawal: a retried request finds them withdrawn
    # and is refused above, and the keys below can never ask twice.
    key_prefix = f"cw{case.id}-{min(r.id for r in rows)}"
    today = engine.today(moment)
    request_letter(
        session, case=case, letter_type="L10", key=f"{key_prefix}-L10", requested_by=actor.actor_id, letter_date=today
    )
    notify_creditors_of_withdrawal(
        session,
        case,
        {ConsentPurpose(r.purpose) for r in rows},
        on=today,
        requested_by=actor.actor_id,
        key_prefix=key_prefix,
    )
    return rows


@dataclass(frozen=True)
class HouseholdInput:
    relation: HouseholdRelation
    given_names: str | None = None
    date_of_birth: date | None = None
    shares_lease: bool = False
    shares_debts: bool = False


def set_household(
    session: Session, case: Case, members: Sequence[HouseholdInput], *, today: date
) -> list[HouseholdMember]:
    """Replace the household that stays behind: at most one partner, children under 18."""
    errors: dict[str, list[str]] = {}
    if sum(1 for m in members if m.relation is HouseholdRelation.PARTNER) > 1:
        errors["members"] = ["Er is hoogstens één partner."]
    for member in members:
        if member.relation is HouseholdRelation.CHILD:
            if member.date_of_birth is None:
                errors["date_of_birth"] = ["Geef de geboortedatum van elk kind (kinderen onder 18)."]
            elif member.date_of_birth > today or (today.year - member.date_of_birth.year) > 18:
                errors["date_of_birth"] = ["Alleen kinderen onder 18 horen in het huishouden dat achterblijft."]
            if member.shares_lease:
                errors["shares_lease"] = ["Alleen de partner kan de huur delen."]
    if errors:
        raise ValidationFailed(errors)
    for old in session.scalars(select(HouseholdMember).where(HouseholdMember.case_id == case.id)):
        session.delete(old)
    rows = [
        HouseholdMember(
            case_id=case.id,
            relation=m.relation.value,
            given_names=normalise_name(m.given_names) if m.given_names else None,
            date_of_birth=m.date_of_birth,
            shares_lease=m.shares_lease,
            shares_debts=m.shares_debts,
        )
        for m in members
    ]
    session.add_all(rows)
    session.flush()
    return rows


def add_note(session: Session, case: Case, *, actor: UserActor, body: str, shared: bool = True) -> CaseNote:
    """A note on the case; unshared notes stay within the author's organisation."""
    if not body.strip():
        raise ValidationFailed({"body": ["Een notitie mag niet leeg zijn."]})
    note = CaseNote(
        case_id=case.id,
        author_id=actor.user_id,
        organisation_id=actor.organisation_id,
        body=body.strip(),
        shared=shared,
    )
    session.add(note)
    session.flush()
    return note


def link_partner(session: Session, case: Case, *, organisation_id: int) -> CasePartner:
    """Let a probation or care organisation follow the case."""
    org = session.get(Organisation, organisation_id)
    if org is None or org.kind not in (OrganisationKind.PROBATION.value, OrganisationKind.CARE.value):
        raise ValidationFailed({"organisation_id": ["Kies een reclasserings- of zorgorganisatie."]})
    existing = session.get(CasePartner, (case.id, org.id))
    if existing is not None:
        return existing
    link = CasePartner(case_id=case.id, organisation_id=org.id)
    session.add(link)
    session.flush()
    return link
