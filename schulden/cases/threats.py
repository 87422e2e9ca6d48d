"""One threat model: a threat recorded anywhere reaches the case, its clock and its referral.

A threat of eviction, cut-off or the end of the health insurance may be reported on the case (the button "Dreiging
melden", POST /cases/{id}/events) or on one of its debts (the intake's debt step, POST or PATCH of a debt). Either
way the case becomes urgent and keeps the gravest threat (cases.models.graver_threat), the Wgs clock of a referral
already sent moves to 3 working days, and the referral row says so; the L8 letter, the handover file and the work
list read the case. Nothing here commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from schulden.cases.models import Case, graver_threat
from schulden.cases.services import fire_case_event
from schulden.referrals.services import sync_wgs_term
from workflows import Actor, Engine, TransitionRefused


def raise_threat(session: Session, engine: Engine, case: Case, threat: str, *, actor: Actor) -> bool:
    """Record `threat` (a cases.models.Threat value) on the case if it makes the case more urgent; True if it did.

    Fires the case's `flag_threat`, so the case history tells who reported it; after the referral the process
    only accepts a Wgs threat the case does not have yet (a lighter one would restart, and so lengthen, the
    municipality's term); a refusal is a no-op here.
    """
    if case.urgent and graver_threat(case.threat, threat) == case.threat:
        return False
    try:  # a closed case refuses flag_threat, as the process refuses a lighter threat after the referral
        fire_case_event(session, engine, case, "flag_threat", actor=actor, payload={"threat": threat})
    except TransitionRefused:
        return False
    sync_wgs_term(session, case)
    return True
