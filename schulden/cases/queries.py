"""Read side of cases: every query carries the actor's scope (schulden.access), so what is out of scope is
simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import Session

from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.errors import NotFound
from workflows import WorkflowInstance

#: The release sort puts cases without a date (pre-trial) last.
NO_DATE = date(9999, 12, 31)


def get_case(session: Session, actor: UserActor, case_id: int, *, for_update: bool = False) -> Case:
    """The case if `actor` may see it; NotFound otherwise (the same for absent and out of scope)."""
    query = select(Case).where(Case.id == case_id, case_scope(actor))
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise NotFound("case", case_id)
    return case


def debt_totals(session: Session, case_ids: list[int]) -> dict[int, dict[str, int]]:
    """Count and amount totals per case, for a page of ids only (page first, then aggregate)."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(
            Debt.case_id,
            func.count(),
            func.coalesce(func.sum(Debt.principal_cents), 0),
            func.coalesce(func.sum(Debt.interest_cents), 0),
            func.coalesce(func.sum(Debt.costs_cents), 0),
        )
        .where(Debt.case_id.in_(case_ids))
        .group_by(Debt.case_id)
    ).all()
    totals = {
        case_id: {
            "count": count,
            "principal_cents": int(p),
            "interest_cents": int(i),
            "costs_cents": int(c),
            "total_cents": int(p) + int(i) + int(c),
        }
        for case_id, count, p, i, c in rows
    }
    empty = {"count": 0, "principal_cents": 0, "interest_cents": 0, "costs_cents": 0, "total_cents": 0}
    return {case_id: totals.get(case_id, dict(empty)) for case_id in case_ids}


@dataclass(frozen=True)
class CaseFilters:
    states: list[str] | None = None
    pi_id: int | None = None
    municipality_id: int | None = None
    urgent: bool | None = None
    release_before: date | None = None
    release_after: date | None = None
    surname_prefix: str | None = None
    sort: str = "-created"


def _sort_key(sort: str) -> ColumnElement[Any]:
    if sort.endswith("release"):
        return func.coalesce(Case.expected_release, NO_DATE)
    return Case.created_at.expression


def list_cases(
    session: Session, actor: UserActor, filters: CaseFilters, *, limit: int, after: list[Any] | None
) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """A page of visible cases with their debt totals, and the keyset of the last row (None on the last page)."""
    key = _sort_key(filters.sort)
    descending = filters.sort.startswith("-")
    query: Select[Any] = (
        select(Case, Detainee, WorkflowInstance.state, key.label("sort_key"))
        .join(Detainee, Detainee.id == Case.detainee_id)
        .join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        .where(case_scope(actor))
    )
    if filters.states:
        query = query.where(WorkflowInstance.state.in_(filters.states))
    if filters.pi_id is not None:
        query = query.where(Case.pi_id == filters.pi_id)
    if filters.municipality_id is not None:
        query = query.where(Case.municipality_id == filters.municipality_id)
    if filters.urgent is not None:
        query = query.where(Case.urgent.is_(filters.urgent))
    if filters.release_before is not None:
        query = query.where(Case.expected_release <= filters.release_before)
    if filters.release_after is not None:
        query = query.where(Case.expected_release >= filters.release_after)
    if filters.surname_prefix:
        query = query.where(func.lower(Detainee.surname).startswith(filters.surname_prefix.lower(), autoescape=True))
    if after is not None:
        value = _parse_key(after[0], filters.sort)
        query = query.where(
            tuple_(key, Case.id) < tuple_(value, after[1])
            if descending
            else tuple_(key, Case.id) > tuple_(value, after[1])
        )
    order = (key.desc(), Case.id.desc()) if descending else (key.asc(), Case.id.asc())
    rows = session.execute(query.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    totals = debt_totals(session, [case.id for case, *_ in rows])
    items = [
        {
            "id": case.id,
            "state": state,
            "urgent": case.urgent,
            "surname": detainee.surname,
            "surname_prefix": detainee.surname_prefix,
            "given_names": detainee.given_names,
            "pi_id": case.pi_id,
            "municipality_id": case.municipality_id,
            "expected_release": case.expected_release,
            "created_at": case.created_at,
            "debt_count": totals[case.id]["count"],
            "total_cents": totals[case.id]["total_cents"],
        }
        for case, detainee, state, _key in rows
    ]
    last = rows[-1] if rows and more else None
    next_key = [_dump_key(last[3]), last[0].id] if last is not None else None
    return items, next_key


def _dump_key(value: Any) -> str:
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def _parse_key(value: Any, sort: str) -> Any:
    from schulden.errors import ValidationFailed

    try:
        return date.fromisoformat(value) if sort.endswith("release") else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationFailed(
            {"after": ["Ongeldige cursor; gebruik de waarde van 'next' uit het vorige antwoord."]}
        ) from None
