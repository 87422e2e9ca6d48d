"""The consent form for a referral made after the intake (L9 naming the municipality).

A referral consent names its municipality (domain.md 6.3 items 3-4). At intake the municipality is often not known,
so the form signed then leaves the referral out; once the municipality is chosen, the detainee needs a form that
names it, to sign in the PI. One form per case and municipality: asking again returns the first.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.errors import NotPermitted, ValidationFailed
from schulden.letters.consent_fields import REFERRAL_FORM_MARK
from schulden.letters.models import Letter
from schulden.letters.services import request_letter
from schulden.roles import Role
from workflows import Engine

#: Who prints consent forms: the casemanager and the counsellor (as request_consent).
FORM_ROLES = frozenset({Role.PI_STAFF, Role.COUNSELLOR})


def request_referral_consent_form(
    session: Session, engine: Engine, actor: UserActor, case: Case, *, origin: str | None = None
) -> Letter:
    """Ask for the L9 that names the case's municipality for the referral; it goes to the detainee in the PI."""
    if actor.role not in FORM_ROLES:
        raise NotPermitted("Uw rol mag geen toestemmingsformulier maken.")
    if case.municipality_id is None:
        raise ValidationFailed({"municipality_id": ["Kies eerst de gemeente: het formulier noemt haar."]})
    letter = request_letter(
        session,
        case=case,
        letter_type="L9",
        key=f"case{case.id}{REFERRAL_FORM_MARK}{case.municipality_id}",
        requested_by=actor.actor_id,
        letter_date=engine.today(),
    )
    audit.record(session, actor=actor, action="consent.form", object_type="letter", object_id=letter.id,
                 case_id=case.id, origin=origin, details={"purpose": "refer_municipality"})  # fmt: skip
    return letter
