"""The notices a detention needs at intake, whether or not there is a debt (domain.md 2.3, letters L6 and L7).

- L6 to the health insurer: the basic insurance is suspended from the first day of detention (also in pre-trial
  detention), with the policy number and the BSN; on release the same insurer gets the reactivation (round 2).
- L7 to each office that pays the detainee a benefit or allowance: Toeslagen within the 4 weeks it asks for, UWV,
  SVB, and the municipality's income department for bijstand; each benefit with what the detention does to it.

Both go out under the consent to report changes (ConsentPurpose.REPORT_CHANGES), once: the idempotency key names
the case, the letter and the recipient, so recording the consent twice or changing a policy number asks nothing new,
while a different insurer or a new benefit office does get its letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Benefit, Case, CaseBenefit, ConsentPurpose
from schulden.consents import has_valid_consent
from schulden.creditors.models import Creditor
from schulden.letters.models import Letter
from schulden.letters.services import request_letter
from schulden.organisations.models import Organisation
from schulden.reference import SVB, TOESLAGEN, UWV


@dataclass(frozen=True)
class BenefitRule:
    label: str
    office: str  # "toeslagen", "uwv", "svb" or "gemeente"
    consequence: str  # what the detention does to it, as the L7 says it


#: Per benefit: its office and what detention does to it (domain.md 0 and 2.3: bijstand and WW stop on day 1, the
#: other UWV/SVB benefits after a month (Wet socialezekerheidsrechten gedetineerden); no zorgtoeslag while the
#: basic insurance is suspended; huurtoeslag continues under a year when the client stays registered at the address).
BENEFITS: dict[str, BenefitRule] = {
    Benefit.ZORGTOESLAG: BenefitRule(
        "Zorgtoeslag", "toeslagen",
        "stopt: tijdens de detentie is de basisverzekering geschorst en betaalt de cliënt geen premie.",
    ),
    Benefit.HUURTOESLAG: BenefitRule(
        "Huurtoeslag", "toeslagen",
        "loopt door als de detentie korter dan een jaar duurt en de cliënt op het adres ingeschreven blijft.",
    ),
    Benefit.KINDEROPVANGTOESLAG: BenefitRule(
        "Kinderopvangtoeslag", "toeslagen",
        "kan veranderen; bij een detentie langer dan 3 maanden volgt een detentieverklaring.",
    ),
    Benefit.KINDGEBONDEN_BUDGET: BenefitRule(
        "Kindgebonden budget", "toeslagen", "wij vragen u na te gaan of het recht verandert.",
    ),
    Benefit.BIJSTAND: BenefitRule(
        "Bijstandsuitkering", "gemeente", "stopt vanaf de eerste dag van de detentie (art. 13 Participatiewet).",
    ),
    Benefit.WW: BenefitRule("WW-uitkering", "uwv", "stopt vanaf de eerste dag van de detentie."),
    Benefit.ZIEKTEWET: BenefitRule("Ziektewetuitkering", "uwv", "stopt na een maand detentie."),
    Benefit.WIA: BenefitRule("WIA-uitkering", "uwv", "stopt na een maand detentie."),
    Benefit.WAJONG: BenefitRule("Wajong-uitkering", "uwv", "stopt na een maand detentie."),
    Benefit.AOW: BenefitRule("AOW", "svb", "stopt na een maand detentie."),
    Benefit.ANW: BenefitRule("Anw-uitkering", "svb", "stopt na een maand detentie."),
    Benefit.KINDERBIJSLAG: BenefitRule("Kinderbijslag", "svb", "wij vragen u na te gaan of het recht verandert."),
}  # fmt: skip

#: The directory entry of each office (schulden/reference.py DIRECTORY).
OFFICE_CREDITOR = {"toeslagen": TOESLAGEN, "uwv": UWV, "svb": SVB}
OFFICE_ORDER = ("toeslagen", "uwv", "svb", "gemeente")
#: The municipality's income department (bijstand): a municipality's own desk name varies; this one is generic.
INCOME_DEPARTMENT = "Werk en Inkomen"
#: Toeslagen asks for detention to be reported within 4 weeks of its start (belastingdienst.nl, detentie en toeslagen).
TOESLAGEN_TERM_DAYS = 28


def benefits_of(session: Session, case: Case) -> list[str]:
    return [
        b.kind
        for b in session.scalars(select(CaseBenefit).where(CaseBenefit.case_id == case.id).order_by(CaseBenefit.id))
    ]


def benefits_by_office(kinds: list[str]) -> dict[str, list[str]]:
    """The benefits per office. Kindgebonden budget on its own is reported to the SVB, not to Toeslagen
    (belastingdienst.nl, detentie en toeslagen: 'alleen kindgebonden budget: melden bij SVB')."""
    offices: dict[str, list[str]] = {}
    for kind in kinds:
        offices.setdefault(BENEFITS[kind].office, []).append(kind)
    if offices.get("toeslagen") == [Benefit.KINDGEBONDEN_BUDGET.value]:
        offices.setdefault("svb", []).append(offices.pop("toeslagen")[0])
    return {office: offices[office] for office in OFFICE_ORDER if office in offices}


def office_of_letter(session: Session, letter: Letter) -> str | None:
    """Which office an L7 went to: its idempotency key names it (`request_benefit_notices`)."""
    office = letter.idempotency_key.rsplit("-", 1)[-1]
    return office if office in OFFICE_ORDER else None


def _office_creditor(session: Session, office: str) -> Creditor | None:
    return session.scalar(
        select(Creditor)
        .where(Creditor.name == OFFICE_CREDITOR[office], Creditor.active.is_(True))
        .order_by(Creditor.id)
        .limit(1)
    )


def _income_department(session: Session, case: Case) -> tuple[int | None, dict[str, Any]]:
    """The municipality that paid the bijstand (where the client was registered, else the one of return)."""
    org_id = case.registration_municipality_id or case.municipality_id
    org = session.get(Organisation, org_id) if org_id else None
    if org is None:
        return None, {
            "recipient_name": "Gemeente (afdeling Werk en Inkomen)",
            "recipient_channel_note": "Leg de gemeente van inschrijving vast; geef de detentie door aan de afdeling "
            "Werk en Inkomen van de gemeente die de bijstand betaalt.",
        }
    address = {
        "recipient_name": f"Gemeente {org.name}",
        "recipient_department": INCOME_DEPARTMENT,
        "recipient_address_line": org.address_line,
        "recipient_postcode": org.postcode,
        "recipient_city": org.city,
        # Bijstand rests on the BSN at the municipality (Participatiewet); it may receive it.
        "recipient_may_receive_bsn": True,
    }
    if not (org.address_line and org.city):
        address["recipient_channel_note"] = (
            f"Het postadres van gemeente {org.name} staat niet in Schuldroute: geef de detentie door aan de afdeling "
            "Werk en Inkomen (telefoon of webformulier van de gemeente) of vul het adres van de gemeente aan."
        )
    return org.id, address


def may_report_changes(session: Session, case: Case, today: date) -> bool:
    return has_valid_consent(session, case.id, ConsentPurpose.REPORT_CHANGES, on=today)


def request_insurer_letter(
    session: Session, case: Case, *, round_: int, requested_by: str, today: date
) -> Letter | None:
    """L6 to the case's health insurer: round 1 suspends the basic insurance, round 2 reactivates it on release.
    None when no insurer is recorded or the consent to report changes is not in force."""
    if case.health_insurer_id is None or not may_report_changes(session, case, today):
        return None
    insurer = session.get_one(Creditor, case.health_insurer_id)
    return request_letter(
        session,
        case=case,
        letter_type="L6",
        key=f"case{case.id}-L6-r{round_}-c{insurer.id}",
        requested_by=requested_by,
        letter_date=today,
        round_=round_,
        recipient=insurer,
    )


def request_benefit_notices(session: Session, case: Case, *, requested_by: str, today: date) -> list[Letter]:
    """One L7 per office that pays the detainee a benefit, under the consent to report changes."""
    if not may_report_changes(session, case, today):
        return []
    letters = []
    for office in benefits_by_office(benefits_of(session, case)):
        key = f"case{case.id}-L7-{office}"
        if office == "gemeente":
            org_id, address = _income_department(session, case)
            letter = request_letter(
                session, case=case, letter_type="L7", key=key, requested_by=requested_by, letter_date=today,
                organisation_id=org_id, recipient_address=address,
            )  # fmt: skip
        else:
            creditor = _office_creditor(session, office)
            address = {} if creditor else {"recipient_name": OFFICE_CREDITOR[office]}
            letter = request_letter(
                session, case=case, letter_type="L7", key=key, requested_by=requested_by, letter_date=today,
                recipient=creditor, recipient_address=address,
            )  # fmt: skip
        letters.append(letter)
    return letters


def request_intake_notices(session: Session, case: Case, *, requested_by: str, today: date) -> list[Letter]:
    """Everything intake owes the insurer and the benefit offices; safe to call again after a change."""
    letters = request_benefit_notices(session, case, requested_by=requested_by, today=today)
    insurer_letter = request_insurer_letter(session, case, round_=1, requested_by=requested_by, today=today)
    return ([insurer_letter] if insurer_letter is not None else []) + letters
