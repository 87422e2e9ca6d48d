"""Consent rules: what the detainee's signed authorisation allows right now (domain.md 6.3).

Used as guards by the processes: without a valid consent for a purpose, no event that serves that purpose fires,
and the refusal says which consent is missing.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from schulden.cases.models import Consent, ConsentPurpose

PURPOSE_LABELS = {
    ConsentPurpose.CONTACT_CREDITORS: "schuldeisers benaderen en saldo opvragen",
    ConsentPurpose.ARRANGEMENTS: "opschorting en betalingsregelingen vragen",
    ConsentPurpose.TERMINATE_CONTRACTS: "overeenkomsten opzeggen",
    ConsentPurpose.REPORT_CHANGES: "wijzigingen doorgeven aan Toeslagen, UWV, SVB of verzekeraar",
    ConsentPurpose.REFER_MUNICIPALITY: "aanmelden bij en overdragen aan de gemeente",
    ConsentPurpose.SHARE_PROBATION: "delen met de reclassering",
}


#: How long a case file is kept after the case closes (handed over, refused, withdrawn, ...): then it is deleted or
#: anonymised. The L9 form states it (`consent.retention_years`) and the retention job will use it, so the period
#: the detainee signs for and the one applied are the same number. Why two years (domain.md 6.2, docs/privacy.md):
#: - our work ends at the handover; the municipality keeps its own Wgs file under its Selectielijst, so we need no
#:   archive copy of the debt inventory;
#: - but after closure we must still be able to show what the detainee consented to and what we sent to whom
#:   (AVG art. 5(2) and 7(1)): a creditor or the municipality asks during the Wgs track, whose minnelijke regeling
#:   runs 18 months (domain.md 3.5), and complaints to us or the AP come within that time;
#: - the file holds detention data (criminal-law data, art. 10 AVG), which must not be kept longer than needed; the
#:   draft Bjsg rule let even the municipality keep start/end-of-detention data only 6 months after release.
#: Two years covers the 18-month regeling plus some slack and no more.
CASE_RETENTION_YEARS = 2

#: The letters to creditors and the purpose of the consent each relies on (domain.md 4 and 6.3 item 3). A creditor
#: who received one of these learns it when that purpose is withdrawn (schulden/consent_notices.py).
CREDITOR_LETTER_PURPOSE: dict[str, ConsentPurpose] = {
    "L1": ConsentPurpose.CONTACT_CREDITORS,
    "L2": ConsentPurpose.CONTACT_CREDITORS,
    "L3": ConsentPurpose.CONTACT_CREDITORS,
    "L4": ConsentPurpose.ARRANGEMENTS,
    "L5": ConsentPurpose.TERMINATE_CONTRACTS,
    "L6": ConsentPurpose.REPORT_CHANGES,
    "L7": ConsentPurpose.REPORT_CHANGES,
}
#: The purposes a creditor may read about in a notice that the authorisation ended: never the referral to the
#: municipality or the probation service, which are none of a creditor's business.
CREDITOR_PURPOSES = frozenset(CREDITOR_LETTER_PURPOSE.values())

#: Refused when a consent to refer names no municipality: the detainee consents to one named municipality (6.3).
REFERRAL_NEEDS_MUNICIPALITY = (
    "Toestemming voor aanmelden bij de gemeente moet één gemeente noemen. Kies eerst de gemeente van het dossier, "
    "of laat dit doel nu uit."
)


def purpose_label(purpose: ConsentPurpose, municipality: str | None = None) -> str:
    """The purpose as the form says it; the referral names its municipality."""
    if purpose is ConsentPurpose.REFER_MUNICIPALITY and municipality:
        return f"aanmelden bij en overdragen aan de gemeente {municipality}"
    return PURPOSE_LABELS[purpose]


def has_valid_consent(
    session: Session,
    case_id: int,
    purpose: ConsentPurpose,
    *,
    on: date,
    creditor_id: int | None = None,
    organisation_id: int | None = None,
) -> bool:
    """True when a consent for `purpose` is in force on `on`, for every recipient or for the one named."""
    query = select(Consent).where(Consent.case_id == case_id, Consent.purpose == purpose.value)
    if creditor_id is not None:
        query = query.where(or_(Consent.recipient_creditor_id.is_(None), Consent.recipient_creditor_id == creditor_id))
    if organisation_id is not None:
        query = query.where(
            or_(Consent.recipient_organisation_id.is_(None), Consent.recipient_organisation_id == organisation_id)
        )
    return any(consent.valid_on(on) for consent in session.scalars(query))


def missing_consent_message(purpose: ConsentPurpose) -> str:
    return f"Er is geen geldige toestemming voor '{PURPOSE_LABELS[purpose]}'."


def proposed_consent_validity(expected_release: date | None, today: date) -> date:
    """How long the signed consent is proposed to hold: six months after the expected release (domain.md 6.3 item 7),
    or a year from today when the release date is unknown. The printed form (L9) and the intake's "Geldig tot"
    both take it from here, so the date the detainee reads is the date the screen proposes."""
    if expected_release is not None:
        return expected_release + timedelta(days=183)
    return today + timedelta(days=365)
