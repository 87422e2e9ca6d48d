"""Read side of debts: a debt is found only through a case in the actor's scope (schulden.access)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.debts.models import Debt
from schulden.errors import NotFound


def get_debt(session: Session, actor: UserActor, debt_id: int) -> Debt:
    """The debt if its case is in the actor's scope; NotFound otherwise."""
    debt = session.scalar(select(Debt).join(Case, Case.id == Debt.case_id).where(Debt.id == debt_id, case_scope(actor)))
    if debt is None:
        raise NotFound("debt", debt_id)
    return debt
