"""What the consent letters say: the proposed or signed consent (L8, L9) and its withdrawal (L10)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, Consent, ConsentPurpose
from schulden.consents import PURPOSE_LABELS


def consent_fields(session: Session, case: Case, letter_date: date) -> dict[str, Any]:
    rows = list(session.scalars(select(Consent).where(Consent.case_id == case.id, Consent.withdrawn_at.is_(None))))
    # The form (L9) is printed before anything is signed: it proposes every purpose and a validity until six
    # months after the expected release (domain.md 6.3 item 7), or a year when the release date is unknown.
    proposed_until = (case.expected_release + timedelta(days=183)) if case.expected_release else None
    return {
        "purposes": [PURPOSE_LABELS[ConsentPurpose(r.purpose)] for r in rows] or list(PURPOSE_LABELS.values()),
        "recipients": [],
        "valid_until": max((r.valid_until for r in rows), default=None)
        or proposed_until
        or letter_date + timedelta(days=365),
        "witness": next((r.witness for r in rows if r.witness), None),
    }


def withdrawal_fields(session: Session, case: Case) -> dict[str, Any]:
    rows = list(session.scalars(select(Consent).where(Consent.case_id == case.id, Consent.withdrawn_at.is_not(None))))
    return {
        "scope": [PURPOSE_LABELS[ConsentPurpose(r.purpose)] for r in rows],
        "from_date": max((r.withdrawn_at for r in rows if r.withdrawn_at), default=None),
    }
