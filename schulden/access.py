"""Who may see which case: the scope of every query (security.md Part 2.1).

Scope is part of the query, never a check after loading: an out-of-scope case is simply not found, exactly like a
case that does not exist. Scope attributes are read from the database on every request, so a transfer to another
PI or a referral to another municipality changes access at the next request.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, select

from schulden.actors import UserActor
from schulden.cases.models import Case, CasePartner
from schulden.roles import Role

#: Roles that may read case content at all (the administrator manages users and reference data, not cases).
CASE_READERS = frozenset({Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR, Role.MUNICIPALITY, Role.PARTNER})
#: Roles that may see the BSN (masked, or revealed with a logged request). Volunteers and partners never do.
BSN_READERS = frozenset({Role.PI_STAFF, Role.COUNSELLOR, Role.MUNICIPALITY})
#: Roles that may change a case's data (events have their own role rules in the process definitions).
CASE_WRITERS = frozenset({Role.PI_STAFF, Role.VOLUNTEER, Role.COUNSELLOR})


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


def visible_cases(actor: UserActor) -> Select[Case]:
    """SELECT of the cases `actor` may see."""
    return select(Case).where(case_scope(actor))
