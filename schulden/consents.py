"""Consent rules: what the detainee's signed authorisation allows right now (domain.md 6.3).

Used as guards by the processes: without a valid consent for a purpose, no event that serves that purpose fires,
and the refusal says which consent is missing.
"""

from __future__ import annotations

from datetime import date

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
