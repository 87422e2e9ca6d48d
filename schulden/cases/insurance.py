"""The health insurance and the benefits at arrest: recorded at intake (or later), so L6 and L7 can be made.

One operation behind the intake's detention step, PUT /api/v1/cases/{id}/insurance and the case page's form. After
the change, the notices the detention needs are asked for (schulden/cases/notices.py) when the consent to report
changes is in force; without it they follow when the consent is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit, corrections
from schulden.access import CASE_WRITERS
from schulden.actors import UserActor
from schulden.cases.models import Benefit, Case, CaseBenefit
from schulden.cases.notices import benefits_of, request_intake_notices
from schulden.creditors.models import Creditor, CreditorKind
from schulden.errors import NotPermitted, ValidationFailed
from schulden.letters.models import Letter
from workflows import Engine, WorkflowInstance

#: A policy or relationship number: letters, digits, spaces, dots and dashes (insurers differ in format).
POLICY_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z .\-/]{0,38}[0-9A-Za-z]?$")
#: States in which the case's letters may still be asked for (after consent, before closing).
NOTICE_STATES = frozenset({"inventory", "inventory_complete", "referral_due", "referred", "rerouting", "accepted"})


@dataclass(frozen=True)
class Insurance:
    insurer: Creditor | None
    policy_number: str | None
    benefits: list[str]
    letters: list[Letter]


def health_insurers(session: Session) -> list[Creditor]:
    """The health insurers of the directory, for the intake's choice list."""
    return list(
        session.scalars(
            select(Creditor)
            .where(Creditor.kind == CreditorKind.HEALTH_INSURER.value, Creditor.active.is_(True))
            .order_by(Creditor.name)
        )
    )


def _check(
    session: Session, insurer_id: int | None, policy_number: str | None, benefits: Iterable[str]
) -> Creditor | None:
    errors: dict[str, list[str]] = {}
    insurer = session.get(Creditor, insurer_id) if insurer_id is not None else None
    if insurer_id is not None and (
        insurer is None or insurer.kind != CreditorKind.HEALTH_INSURER.value or not insurer.active
    ):
        errors["health_insurer_id"] = [f"Geen zorgverzekeraar met id {insurer_id} in de schuldeisersgids."]
    if policy_number is not None and not POLICY_NUMBER.match(policy_number):
        errors["health_policy_number"] = [
            "Een polisnummer is 1 tot 40 tekens: letters, cijfers, spaties, punten, streepjes."
        ]
    if policy_number and insurer_id is None:
        errors["health_insurer_id"] = ["Kies de zorgverzekeraar bij het polisnummer."]
    unknown = sorted(set(benefits) - {b.value for b in Benefit})
    if unknown:
        errors["benefits"] = [f"Onbekende uitkering of toeslag: {', '.join(unknown)}."]
    if errors:
        raise ValidationFailed(errors)
    return insurer


def set_insurance(
    session: Session,
    engine: Engine,
    actor: UserActor,
    case: Case,
    *,
    insurer_id: int | None,
    policy_number: str | None,
    benefits: Iterable[str],
    origin: str | None = None,
) -> Insurance:
    """Record the insurer, the policy number and the benefits (replacing the list); ask for L6/L7 where due."""
    if actor.role not in CASE_WRITERS:
        raise NotPermitted("Uw rol mag de zorgverzekering en uitkeringen niet wijzigen.")
    policy_number = (policy_number or "").strip() or None
    kinds = list(dict.fromkeys(benefits))
    insurer = _check(session, insurer_id, policy_number, kinds)
    old_insurer = session.get(Creditor, case.health_insurer_id) if case.health_insurer_id else None
    # A value replaced keeps its old one (schulden/corrections.py); a first entry (the intake's) replaces nothing.
    replaced = {
        "health_insurer_id": (old_insurer.name if old_insurer else None, insurer.name if insurer else None),
        "health_policy_number": (case.health_policy_number, policy_number),
    }
    corrections.record(
        session, actor=actor, case_id=case.id, object_type="case", object_id=case.id, at=engine.clock(),
        changes={name: values for name, values in replaced.items() if values[0] is not None},
    )  # fmt: skip
    case.health_insurer_id = insurer.id if insurer else None
    case.health_policy_number = policy_number
    existing = {b.kind: b for b in session.scalars(select(CaseBenefit).where(CaseBenefit.case_id == case.id))}
    for kind, row in existing.items():
        if kind not in kinds:
            session.delete(row)
    session.add_all(CaseBenefit(case_id=case.id, kind=kind) for kind in kinds if kind not in existing)
    case.updated_at = engine.clock()
    session.flush()
    letters: list[Letter] = []
    if session.get_one(WorkflowInstance, case.instance_id).state in NOTICE_STATES:
        letters = request_intake_notices(session, case, requested_by=actor.actor_id, today=engine.today())
    audit.record(
        session, actor=actor, action="case.insurance.update", object_type="case", object_id=case.id,
        case_id=case.id, origin=origin, details={"benefits": kinds, "letters": [letter.id for letter in letters]},
    )  # fmt: skip
    return Insurance(insurer, policy_number, benefits_of(session, case), letters)


def read_insurance(session: Session, actor: UserActor, case: Case, *, origin: str | None = None) -> Insurance:
    """What is recorded, with the `insurance.read` audit row (the caller found the case in the actor's scope)."""
    insurer = session.get(Creditor, case.health_insurer_id) if case.health_insurer_id else None
    audit.record(session, actor=actor, action="insurance.read", object_type="case", object_id=case.id,
                 case_id=case.id, origin=origin)  # fmt: skip
    return Insurance(insurer, case.health_policy_number, benefits_of(session, case), [])
