"""Read side of debts: a debt is found only through a case in the actor's scope (schulden.access). The reads a
person makes write their audit row (NEN 7513) in the caller's transaction and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.errors import NotFound
from workflows import Engine, EventOption, WorkflowInstance


def get_debt(session: Session, actor: UserActor, debt_id: int) -> Debt:
    """The debt if its case is in the actor's scope; NotFound otherwise."""
    debt = session.scalar(select(Debt).join(Case, Case.id == Debt.case_id).where(Debt.id == debt_id, case_scope(actor)))
    if debt is None:
        raise NotFound("debt", debt_id)
    return debt


def _record(
    session: Session,
    actor: UserActor,
    action: str,
    debt_id: int | None,
    case_id: int,
    origin: str | None,
    **details: Any,
) -> None:
    audit.record(session, actor=actor, action=action, object_type="debt", object_id=debt_id, case_id=case_id,
                 origin=origin, details=details or None)  # fmt: skip


@dataclass(frozen=True)
class DebtListRow:
    """A debt of the case's list with its creditor's name and its process state, read in one statement."""

    debt: Debt
    creditor: str
    process: str
    process_version: int
    state: str


def read_debts(session: Session, actor: UserActor, case: Case, *, origin: str | None = None) -> list[DebtListRow]:
    """GET /cases/{id}/debts and the case page: the debts of a case the caller holds under the actor's scope, in
    the order added, with the `debt.list` row naming them. Does not commit."""
    rows = session.execute(
        select(Debt, Creditor.name, WorkflowInstance.process, WorkflowInstance.process_version, WorkflowInstance.state)
        .join(Creditor, Creditor.id == Debt.creditor_id)
        .join(WorkflowInstance, WorkflowInstance.id == Debt.instance_id)
        .where(Debt.case_id == case.id)
        .order_by(Debt.id)
    ).all()
    debts = [DebtListRow(*row) for row in rows]
    _record(session, actor, "debt.list", None, case.id, origin, debt_ids=[d.debt.id for d in debts])
    return debts


def read_intake_debts(
    session: Session, actor: UserActor, case: Case, *, origin: str | None = None
) -> list[tuple[Debt, str]]:
    """The intake's debts step: the debts recorded so far with their creditor's name. Its `debt.list` row has the
    case as its object and no ids (as it always had; the case page's and the API's name the debts). Does not
    commit."""
    audit.record(session, actor=actor, action="debt.list", object_type="case", object_id=case.id, case_id=case.id,
                 origin=origin)  # fmt: skip
    rows = session.execute(
        select(Debt, Creditor.name).join(Creditor, Creditor.id == Debt.creditor_id)
        .where(Debt.case_id == case.id).order_by(Debt.id)
    ).all()  # fmt: skip
    return [(debt, name) for debt, name in rows]


def read_debt(session: Session, actor: UserActor, debt_id: int, *, origin: str | None = None) -> Debt:
    """GET /debts/{id}: the debt in the actor's scope (NotFound otherwise), with the `debt.read` row."""
    debt = get_debt(session, actor, debt_id)
    _record(session, actor, "debt.read", debt.id, debt.case_id, origin)
    return debt


def read_debt_actions(
    session: Session, engine: Engine, actor: UserActor, debt_id: int, *, origin: str | None = None
) -> list[EventOption]:
    """Every event of the debt process, allowed for the actor now or with the reason it is not (the debt in the
    actor's scope, NotFound otherwise); the `debt.actions` row. Does not commit."""
    debt = get_debt(session, actor, debt_id)
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    options = engine.available_events(session, instance, actor)
    _record(session, actor, "debt.actions", debt.id, debt.case_id, origin)
    return options
