"""Whether a case's referral can be sent now, and if not, what stands in the way and what to do first, in words.

The workflow's own refusal says "Niet mogelijk in de status 'Inventarisatie'", which tells a counsellor nothing
about what to do (ux.md: "A state that blocks an action says why and what unblocks it"). This reads the same facts
the workflow's guards read (the state, the chosen municipality, a consent naming it) and names the step first,
with the place where it is done (`where`: the front door turns it into a link). The workflow stays the judge:
when none of these applies but it still refuses, its own reason is passed on. Reads only; writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.models import Case, ConsentPurpose
from schulden.consents import has_valid_consent
from schulden.organisations.models import Organisation
from schulden.referrals.models import Referral, ReferralStatus, RefusalKind
from schulden.roles import Role
from workflows import Engine, WorkflowInstance

#: States from which `send` sends at once: a complete inventory is prepared for the referral in the same
#: transaction (services.send), instead of waiting for the timer that would do so at the next tick.
SENDABLE_STATES = frozenset({"inventory_complete", "referral_due", "rerouting"})
#: With a threat (eviction, cut-off, loss of the health insurance) the municipality must start within 3 working
#: days (Wgs art. 4a): the referral goes from the inventory at once, with the debts that still wait for an answer
#: at their estimated amounts, instead of a counsellor being told to wait for the creditors first.
SENDABLE_WHEN_URGENT = frozenset({"inventory"})

#: Where a blocker is resolved; the pages link each to its place.
CASE = "case"  # the case page: the inventory, the consent form of the intake, resuming a case on hold
MUNICIPALITY = "municipality"  # the referral page's choice of municipality
CONSENT = "consent"  # the referral page's consent form and its recording


@dataclass(frozen=True)
class Blocker:
    """Why the referral cannot be sent (`why`), the step that unblocks it (`todo`), and where that is done."""

    why: str
    todo: str
    where: str | None = None


def send_blockers(session: Session, engine: Engine, case: Case, actor: UserActor, *, today: date) -> list[Blocker]:
    """What stands between `actor` and sending the case's referral, first things first; empty when it can go."""
    if actor.role is not Role.COUNSELLOR:
        return [Blocker("Alleen de schuldhulpverlener verstuurt de verwijzing.", "Vraag het de schuldhulpverlener")]
    instance = session.get_one(WorkflowInstance, case.instance_id)
    state = instance.state
    if state == "closed":
        return [Blocker("Het dossier is afgesloten.", "Er wordt niets meer verstuurd")]
    if state in ("referred", "accepted"):
        return [Blocker("De verwijzing is al verstuurd.", "Wacht op het besluit van de gemeente")]
    if state in ("draft", "awaiting_consent"):
        return [
            Blocker(
                "De gedetineerde heeft de machtiging nog niet getekend.",
                "Eerst de machtiging laten tekenen en vastleggen",
                CASE,
            )
        ]
    if state == "on_hold":
        return [Blocker("Het dossier is aangehouden.", "Eerst het dossier hervatten", CASE)]
    blockers: list[Blocker] = []
    if state == "inventory" and not case.urgent:
        open_debts = _inventory_refusal(session, engine, instance, actor)
        blockers.append(
            Blocker(
                "De inventarisatie is nog niet afgerond."
                + (f" {open_debts}" if open_debts else "")
                + " Wilt u niet op de schuldeisers wachten, bijvoorbeeld omdat de vrijlating nadert? Kies dan op de"
                " dossierpagina 'Verwijzing voorbereiden'.",
                "Eerst de inventarisatie afronden",
                CASE,
            )
        )
    municipality = session.get(Organisation, case.municipality_id) if case.municipality_id else None
    refused_here = _refused_as_not_resident(session, case)
    if state == "rerouting" and municipality is not None and refused_here:
        # Sending again to the municipality that just said "not our resident" would only be refused again.
        return [
            Blocker(
                f"{municipality.name} weigerde de verwijzing: de cliënt is er geen inwoner.",
                "Kies eerst een andere gemeente",
                MUNICIPALITY,
            )
        ]
    if municipality is None:
        blockers.append(Blocker("Er is nog geen gemeente gekozen.", "Kies eerst de gemeente", MUNICIPALITY))
        blockers.append(
            Blocker(
                "Daarna is de toestemming van de gedetineerde nodig voor de verwijzing naar die gemeente.",
                "Laat daarna het toestemmingsformulier tekenen",
                CONSENT,
            )
        )
    elif not has_valid_consent(
        session, case.id, ConsentPurpose.REFER_MUNICIPALITY, on=today, organisation_id=municipality.id
    ):
        blockers.append(
            Blocker(
                f"De toestemming voor de verwijzing naar {municipality.name} ontbreekt.",
                "Laat het toestemmingsformulier tekenen en leg de toestemming vast",
                CONSENT,
            )
        )
    if blockers or state in SENDABLE_STATES or (case.urgent and state in SENDABLE_WHEN_URGENT):
        return blockers
    # A state this module does not know: the workflow's own reason, so nothing is ever sent against it.
    reason = _refusal(session, engine, instance, actor, "send_referral")
    return [Blocker(reason or "Versturen is in deze fase niet mogelijk.", "Bekijk de dossierpagina", CASE)]


def send_notes(session: Session, engine: Engine, case: Case, actor: UserActor) -> list[str]:
    """What the counsellor should know before sending although nothing blocks it: debts that go with estimated
    amounts because their creditors have not answered yet (an urgent case sent from the inventory)."""
    instance = session.get_one(WorkflowInstance, case.instance_id)
    if instance.state not in SENDABLE_WHEN_URGENT or not case.urgent:
        return []
    open_debts = _inventory_refusal(session, engine, instance, actor)
    note = "Er is een dreiging, dus de verwijzing gaat nu, vóór het einde van de inventarisatie."
    if open_debts:
        note += f" {open_debts} Die schulden gaan met hun geschatte bedragen mee in het overdrachtsdossier."
    return [note]


def _refused_as_not_resident(session: Session, case: Case) -> bool:
    """The case's latest referral went to its current municipality, which refused it as not its resident."""
    latest = session.scalar(
        select(Referral).where(Referral.case_id == case.id).order_by(Referral.sequence.desc()).limit(1)
    )
    return (
        latest is not None
        and latest.municipality_id == case.municipality_id
        and latest.status == ReferralStatus.REFUSED.value
        and latest.refusal_kind == RefusalKind.NOT_RESIDENT.value
    )


def _refusal(session: Session, engine: Engine, instance: WorkflowInstance, actor: UserActor, event: str) -> str | None:
    for option in engine.available_events(session, instance, actor):
        if option.event == event:
            return None if option.allowed else option.reason
    return None


def _inventory_refusal(session: Session, engine: Engine, instance: WorkflowInstance, actor: UserActor) -> str | None:
    """The inventory guard's own words ("Nog 2 schuld(en) wachten op antwoord of actie.")."""
    return _refusal(session, engine, instance, actor, "complete_inventory")
