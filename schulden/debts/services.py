"""Use cases on debts. Services take a session and an actor, flush, and never commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from schulden.cases.models import Case
from schulden.debts.models import AmountStatus, Creditor, Debt, DebtCategory
from workflows import Actor, Engine, HistoryEntry, WorkflowInstance


def add_debt(
    session: Session,
    engine: Engine,
    case: Case,
    *,
    actor: Actor,
    creditor: Creditor,
    category: DebtCategory,
    debt_type: str,
    principal_cents: int = 0,
    interest_cents: int = 0,
    costs_cents: int = 0,
    amount_status: AmountStatus = AmountStatus.ESTIMATED,
    creditor_reference: str | None = None,
    peildatum: date | None = None,
    now: datetime | None = None,
) -> Debt:
    """Record a debt the detainee knows of and start its process in `identified`. Does not commit."""
    instance = engine.start(session, "debt", actor=actor, now=now)
    debt = Debt(
        case_id=case.id,
        instance_id=instance.id,
        creditor_id=creditor.id,
        creditor_reference=creditor_reference,
        category=category.value,
        debt_type=debt_type,
        principal_cents=principal_cents,
        interest_cents=interest_cents,
        costs_cents=costs_cents,
        amount_status=amount_status.value,
        peildatum=peildatum,
    )
    session.add(debt)
    session.flush()
    return debt


def fire_debt_event(
    session: Session,
    engine: Engine,
    debt: Debt,
    event: str,
    *,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> HistoryEntry:
    """Fire a workflow event on the debt. Does not commit."""
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    return engine.fire(session, instance, event, actor=actor, payload=payload, reason=reason, now=now)
