"""What the consent letters say: the proposed or signed consent (L8, L9) and its withdrawal (L10).

L10 has two readers: the detainee, who signs and keeps the withdrawal form, and each creditor we wrote to under a
withdrawn purpose, who reads that our authorisation has ended (schulden/consent_notices.py). `withdrawal.to_creditor`
tells the text which one it is writing for.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, Consent, ConsentPurpose
from schulden.consents import (
    CASE_RETENTION_YEARS,
    CREDITOR_PURPOSES,
    PURPOSE_LABELS,
    proposed_consent_validity,
    purpose_label,
)
from schulden.letters.models import Letter
from schulden.organisations.models import Organisation

#: The idempotency key's marker of the referral's own consent form (schulden/cases/consent_forms.py).
REFERRAL_FORM_MARK = "-L9-refer-"


def is_referral_form(letter: Letter) -> bool:
    return letter.letter_type == "L9" and REFERRAL_FORM_MARK in letter.idempotency_key


def _organisation_name(session: Session, org_id: int | None) -> str | None:
    org = session.get(Organisation, org_id) if org_id is not None else None
    return org.name if org is not None else None


def consent_fields(session: Session, case: Case, letter_date: date, *, referral_only: bool = False) -> dict[str, Any]:
    """`referral_only`: the form for a referral asked after the intake, naming the case's municipality alone
    (schulden/cases/consent_forms.py)."""
    if referral_only:
        municipality = _organisation_name(session, case.municipality_id)
        return {
            "purposes": [purpose_label(ConsentPurpose.REFER_MUNICIPALITY, municipality)],
            "recipients": [],
            "valid_until": proposed_consent_validity(case.expected_release, letter_date),
            "witness": None,
            "municipality": municipality,
            "retention_years": CASE_RETENTION_YEARS,
        }
    rows = list(session.scalars(select(Consent).where(Consent.case_id == case.id, Consent.withdrawn_at.is_(None))))
    # The form (L9) is printed before anything is signed: it proposes every purpose and a validity until six
    # months after the expected release (domain.md 6.3 item 7), or a year when the release date is unknown.
    # A consent to refer names its municipality (6.3 items 3-4): the signed one names its own; the form proposes
    # the case's, and without one it leaves the referral out (it is asked for when the municipality is known).
    referral = next((r for r in rows if r.purpose == ConsentPurpose.REFER_MUNICIPALITY.value), None)
    municipality = _organisation_name(
        session, referral.recipient_organisation_id if referral is not None else case.municipality_id
    )
    if rows:
        purposes = [
            purpose_label(
                ConsentPurpose(r.purpose),
                _organisation_name(session, r.recipient_organisation_id),
            )
            for r in rows
        ]
    else:
        purposes = [
            purpose_label(p, municipality)
            for p in ConsentPurpose
            if p is not ConsentPurpose.REFER_MUNICIPALITY or municipality
        ]
    return {
        "purposes": purposes,
        "recipients": [],
        "valid_until": max((r.valid_until for r in rows), default=None)
        or proposed_consent_validity(case.expected_release, letter_date),
        "witness": next((r.witness for r in rows if r.witness), None),
        "municipality": municipality if referral is not None or not rows else None,
        "retention_years": CASE_RETENTION_YEARS,
    }


def withdrawal_fields(session: Session, case: Case, letter: Letter | None = None) -> dict[str, Any]:
    """The withdrawal this L10 is about: the latest one of the case (the letter is asked for in its transaction).

    For a creditor (`letter.creditor_id` set) only the purposes that concerned him, never the referral or the
    probation service. A case closed by the `withdraw_consent` step without consent rows being withdrawn has ended
    every purpose on the letter's day.
    """
    rows = list(session.scalars(select(Consent).where(Consent.case_id == case.id)))
    withdrawn = [r for r in rows if r.withdrawn_at is not None]
    latest = max((r.withdrawn_at for r in withdrawn if r.withdrawn_at), default=None)
    ended = [r for r in withdrawn if r.withdrawn_at == latest] if latest is not None else rows
    to_creditor = letter is not None and letter.creditor_id is not None
    if to_creditor and letter is not None:
        ended = [
            r
            for r in ended
            if ConsentPurpose(r.purpose) in CREDITOR_PURPOSES and r.recipient_creditor_id in (None, letter.creditor_id)
        ]
    scope: list[str] = []
    for r in ended:
        label = purpose_label(ConsentPurpose(r.purpose), _organisation_name(session, r.recipient_organisation_id))
        if label not in scope:
            scope.append(label)
    if to_creditor and not scope:
        scope = [PURPOSE_LABELS[p] for p in ConsentPurpose if p in CREDITOR_PURPOSES]
    # The letter is dated the day of the withdrawal, in the Netherlands (the moment is stored in UTC).
    from_date = letter.letter_date if letter is not None else latest
    return {"scope": scope, "from_date": from_date, "to_creditor": to_creditor}
