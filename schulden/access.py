"""Who may see which case: the scope of every query (security.md Part 2.1).

Scope is part of the query, never a check after loading: an out-of-scope case is simply not found, exactly like a
case that does not exist. Scope attributes are read from the database on every request, so a transfer to another
PI or a referral to another municipality changes access at the next request.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, select

from schulden.actors import UserActor
from schulden.cases.models import Case, CasePartner
from schulden.organisations.models import Organisation
from schulden.roles import Role

#: Roles that may see the BSN (masked, or revealed with a logged request). Volunteers and partners never do.
BSN_READERS = frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY})


def bsn_recording_refusal(actor: UserActor) -> str | None:
    """Why `actor` may not record a detainee's BSN (the field's Dutch message), or None when it may.

    Volunteers never handle a BSN: they do not see one (BSN_READERS), so they do not type one in either.
    """
    if actor.role is Role.VOLUNTEER:
        return "Een vrijwilliger legt geen BSN vast; laat dit aan de casemanager."
    return None


#: Roles that may change a case's data (events have their own role rules in the process definitions).
CASE_WRITERS = frozenset({Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR})

#: Who may produce a detainee's access overview (schulden/cases/access_export.py): his casemanager and his counsellor
#: (issue 15: "a counsellor or PI staff member"). The municipality has its own file under the Wgs and answers for it.
ACCESS_EXPORTERS = frozenset({Role.PI_STAFF, Role.COUNSELLOR})


def case_scope(actor: UserActor) -> ColumnElement[bool]:
    """The WHERE clause that limits cases to those `actor` may see."""
    org = actor.organisation_id
    if org is None:
        return false()
    match actor.role:
        case Role.PI_STAFF | Role.VOLUNTEER:
            # The current PI: after a transfer the case belongs to the new PI only.
            return Case.pi_id == org
        case Role.COUNSELLOR:
            return Case.team_id == org
        case Role.MUNICIPALITY:
            # Only from the referral on, and only while the referral points to this municipality.
            return and_(Case.municipality_id == org, Case.referred_at.is_not(None))
        case Role.PARTNER:
            return Case.id.in_(select(CasePartner.case_id).where(CasePartner.organisation_id == org))
        case _:
            return false()


def may_act_for_pi(actor: UserActor, pi: Organisation) -> bool:
    """May `actor` act on behalf of this PI: open its cases, make and download its print batches?

    PI staff (and volunteers, whose own limits are separate rules) for their own PI; counsellors for the PIs their
    team works for (the PI's counselling team). Nobody else.
    """
    match actor.role:
        case Role.PI_STAFF | Role.VOLUNTEER:
            return actor.organisation_id == pi.id
        case Role.COUNSELLOR:
            return actor.organisation_id is not None and pi.counselling_team_id == actor.organisation_id
        case _:
            return False


def pi_refusal(actor: UserActor, pi: Organisation) -> str | None:
    """The Dutch reason `actor` may not act for `pi` (for the field that names the PI), or None when it may."""
    if may_act_for_pi(actor, pi):
        return None
    if actor.role is Role.COUNSELLOR:
        return "Uw team werkt niet voor deze PI."
    return "U werkt alleen voor uw eigen PI."
