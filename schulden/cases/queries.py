"""Read side of cases: every query carries the actor's scope (schulden.access), so what is out of scope is
simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, TypeVarTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import visitors

from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.cases.models import Case, Detainee
from schulden.cases.search_keys import fold, prefix_bounds
from schulden.debts.models import Debt
from schulden.errors import NotFound, ValidationFailed
from schulden.organisations.models import Organisation
from schulden.paging import BAD_CURSOR
from schulden.roles import Role
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


@dataclass(frozen=True)
class OrganisationRef:
    id: int
    name: str
    code: str | None


@dataclass(frozen=True)
class CaseDetailRow:
    """Everything the case view shows, read in one statement (see `case_detail`)."""

    case: Case
    detainee: Detainee
    process: str
    process_version: int
    state: str
    pi: OrganisationRef
    registration_municipality: OrganisationRef | None
    municipality: OrganisationRef | None
    debts: dict[str, int]


# The case detail is the most frequent read, so its statement is built once per role and executed with bind
# parameters: building a SELECT and its cache key anew costs more CPU than running it (docs/benchmarks.md, API).
_CASE_ID = bindparam("case_id", type_=Integer)
_SCOPE_ORG = "scope_org"
#: Stands in for the actor's organisation while a role's scope is built; never a real id (ids are positive).
_SCOPE_SENTINEL = -7_919_001


def _org_columns(alias: Any) -> tuple[Any, ...]:
    return alias.id, alias.name, alias.code


def _detail_select() -> Select[Any]:
    pi = aliased(Organisation, name="pi")
    registration = aliased(Organisation, name="registration_municipality")
    municipality = aliased(Organisation, name="municipality")
    # One aggregate row over the case's debts (no GROUP BY, so 0 debts still give a row), joined ON true: the same
    # plan as a LATERAL on PostgreSQL, and SQLite runs it too.
    totals = (
        select(
            func.count().label("count"),
            func.coalesce(func.sum(Debt.principal_cents), 0).label("principal_cents"),
            func.coalesce(func.sum(Debt.interest_cents), 0).label("interest_cents"),
            func.coalesce(func.sum(Debt.costs_cents), 0).label("costs_cents"),
        )
        .where(Debt.case_id == _CASE_ID)
        .subquery("debt_totals")
    )
    return (
        select(
            Case,
            Detainee,
            WorkflowInstance.process,
            WorkflowInstance.process_version,
            WorkflowInstance.state,
            *_org_columns(pi),
            *_org_columns(registration),
            *_org_columns(municipality),
            totals.c.count,
            totals.c.principal_cents,
            totals.c.interest_cents,
            totals.c.costs_cents,
        )
        .join(Detainee, Detainee.id == Case.detainee_id)
        .join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        .join(pi, pi.id == Case.pi_id)
        .outerjoin(registration, registration.id == Case.registration_municipality_id)
        .outerjoin(municipality, municipality.id == Case.municipality_id)
        .join(totals, true())
        .where(Case.id == _CASE_ID)
    )


def _role_scope(role: Role) -> ColumnElement[bool]:
    """`case_scope` of `role` with the organisation as the bind parameter `scope_org`.

    The clause comes from `case_scope` itself (the one definition of who sees what), built for a stand-in
    organisation whose literal is then swapped for the bind parameter. Should a scope ever use the organisation
    other than as a bound value, the stand-in stays in the clause and the detail finds nothing: it fails closed.
    """
    clause = case_scope(UserActor(0, role, _SCOPE_SENTINEL))

    def swap(element: Any, **_kw: Any) -> Any:
        if isinstance(element, BindParameter) and element.value == _SCOPE_SENTINEL:
            return bindparam(_SCOPE_ORG, type_=element.type)
        return None

    return visitors.replacement_traverse(clause, {}, swap)


@cache
def _detail_statement(role: Role | None) -> Select[Any]:
    """The detail SELECT under the scope of `role` (None: an actor without organisation, who sees nothing)."""
    return _detail_select().where(false() if role is None else _role_scope(role))


@cache
def _unscoped_detail_statement() -> Select[Any]:
    return _detail_select()


def _ref(id_: int | None, name: str | None, code: str | None) -> OrganisationRef | None:
    return None if id_ is None or name is None else OrganisationRef(id_, name, code)


def _detail_row(row: Any) -> CaseDetailRow:
    (case, detainee, process, version, state, *orgs, count, principal, interest, costs) = row
    return CaseDetailRow(
        case=case,
        detainee=detainee,
        process=process,
        process_version=version,
        state=state,
        # debt_case.pi_id is NOT NULL with a foreign key and the join is inner: the PI is always there.
        pi=OrganisationRef(*orgs[0:3]),
        registration_municipality=_ref(*orgs[3:6]),
        municipality=_ref(*orgs[6:9]),
        debts={
            "count": count,
            "principal_cents": int(principal),
            "interest_cents": int(interest),
            "costs_cents": int(costs),
            "total_cents": int(principal) + int(interest) + int(costs),
        },
    )


def case_detail(session: Session, actor: UserActor, case_id: int) -> CaseDetailRow:
    """The case with everything its view shows, if `actor` may see it; NotFound otherwise (as `get_case`).

    One SELECT: the case, its detainee, its workflow state, the PI and the two municipalities, and the debt totals.
    """
    role = actor.role if actor.organisation_id is not None else None
    row = session.execute(_detail_statement(role), {"case_id": case_id, _SCOPE_ORG: actor.organisation_id}).first()
    if row is None:
        raise NotFound("case", case_id)
    return _detail_row(row)


def case_detail_of(session: Session, case: Case) -> CaseDetailRow:
    """The same for a case the caller already holds under the actor's scope (the answer after a change)."""
    row = session.execute(_unscoped_detail_statement(), {"case_id": case.id}).one()
    return _detail_row(row)


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


_Ts = TypeVarTuple("_Ts")

#: The list's sorts (the API's `sort`, the page's column links): a name, "-" before it for descending.
SORTS = ("created", "release", "name", "state", "pi", "municipality")


@dataclass(frozen=True)
class CaseFilters:
    states: list[str] | None = None
    pi_id: int | None = None
    municipality_id: int | None = None
    urgent: bool | None = None
    release_before: date | None = None
    release_after: date | None = None
    #: What the person typed as the start of the surname, with or without tussenvoegsel (folded here).
    surname_prefix: str | None = None
    sort: str = "-created"


@cache
def _state_positions() -> dict[str, int]:
    """The case states in the order of the route (draft first, closed last): the state sort follows the route, not
    the alphabet of the codes or of the labels. Imported here: the process module imports half the domain."""
    from schulden.cases.workflow import build_case_process

    return {state.name: position for position, state in enumerate(build_case_process().states)}


def _sort_keys(sort: str, pi: Any, municipality: Any) -> list[ColumnElement[Any]]:
    """The ORDER BY of a sort before the case id, which breaks ties (every key is NOT NULL: keyset comparisons)."""
    name = sort.lstrip("-")
    if name == "release":
        return [func.coalesce(Case.expected_release, NO_DATE)]
    if name == "name":
        # The surname without tussenvoegsel, folded: "de Vries" sorts under V, as Dutch lists do.
        return [Detainee.search_key.expression, Detainee.search_key_full.expression]
    if name == "state":
        positions = _state_positions()
        return [sql_case(positions, value=WorkflowInstance.state, else_=len(positions))]
    if name == "pi":
        return [pi.name]
    if name == "municipality":
        # Cases without a municipality yet after the others (before them when descending).
        return [sql_case((municipality.id.is_(None), 1), else_=0), func.coalesce(municipality.name, "")]
    return [Case.created_at.expression]


def _name_starts_with(dialect: str, typed: str) -> ColumnElement[bool]:
    """The surname, with or without its tussenvoegsel, starts with what was typed (folded as the keys are).

    "Starts with k" is the range k <= key < k + TOP on each key, OR-ed: each is a range scan of its own index.
    PostgreSQL must compare bytewise for that: its pattern operators ~>=~ and ~<~, which the *_pattern_ops index
    serves under any database collation (the plain < would sort by the collation, which ignores spaces). SQLite's
    BINARY comparison is bytewise already. A range of bound values, unlike LIKE with a bound pattern, stays an index
    scan in a generic (prepared) plan too.
    """
    key = fold(typed)
    if not key:
        return false()
    low, high = prefix_bounds(key)

    def starts(column: Any) -> ColumnElement[bool]:
        if dialect == "postgresql":
            return and_(column.op("~>=~", is_comparison=True)(low), column.op("~<~", is_comparison=True)(high))
        return and_(column >= low, column < high)

    return or_(starts(Detainee.search_key), starts(Detainee.search_key_full))


def list_cases(
    session: Session, actor: UserActor, filters: CaseFilters, *, limit: int, after: list[Any] | None
) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """A page of visible cases with their debt totals, and the keyset of the last row (None on the last page).

    The keyset is [sort, case id]: never the sort key itself, which for the name sort is the person's name and a
    page link is a URL (URLs end up in access logs). The next page looks the key up by the id, under the actor's
    scope (so a cursor naming a case out of scope finds nothing to start from, and tells nothing about it).
    """
    name = filters.sort.lstrip("-")
    descending = filters.sort.startswith("-")
    pi = aliased(Organisation, name="sort_pi")
    municipality = aliased(Organisation, name="sort_municipality")
    keys = _sort_keys(filters.sort, pi, municipality)

    # The workflow instance only when its state filters or sorts: joined always, PostgreSQL merge-joined all 330,000
    # instances (cases and debts) for every sort but the default (50 ms on bench/api.py's data); the page's states
    # are read afterwards by primary key instead, as the debt totals are.
    by_state = bool(filters.states) or name == "state"

    def joined(query: Select[*_Ts]) -> Select[*_Ts]:
        query = query.join(Detainee, Detainee.id == Case.detainee_id)
        if by_state:
            query = query.join(WorkflowInstance, WorkflowInstance.id == Case.instance_id)
        # The organisations only when sorting by them: the default sort's plan stays that of the scope's index.
        if name == "pi":
            query = query.join(pi, pi.id == Case.pi_id)
        if name == "municipality":
            query = query.outerjoin(municipality, municipality.id == Case.municipality_id)
        return query.where(case_scope(actor))

    query = joined(select(Case, Detainee))
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
        query = query.where(_name_starts_with(session.get_bind().dialect.name, filters.surname_prefix))
    if after is not None:
        last_id = _cursor_id(after, filters.sort)
        values = session.execute(joined(select(*keys).select_from(Case)).where(Case.id == last_id)).first()
        if values is None:  # the case is gone from the actor's sight: start again rather than guess
            raise ValidationFailed({"after": [BAD_CURSOR]})
        row, last = tuple_(*keys, Case.id), tuple_(*values, last_id)
        query = query.where(row < last if descending else row > last)
    order = [*keys, Case.id]
    rows = session.execute(query.order_by(*(k.desc() if descending else k.asc() for k in order)).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    totals = debt_totals(session, [case.id for case, _ in rows])
    states = _states(session, [case.instance_id for case, _ in rows])
    items = [
        {
            "id": case.id,
            "state": states[case.instance_id],
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
        for case, detainee in rows
    ]
    next_key = [filters.sort, rows[-1][0].id] if rows and more else None
    return items, next_key


def _states(session: Session, instance_ids: list[int]) -> dict[int, str]:
    """The state of each of a page's workflow instances (by primary key)."""
    if not instance_ids:
        return {}
    rows = session.execute(
        select(WorkflowInstance.id, WorkflowInstance.state).where(WorkflowInstance.id.in_(instance_ids))
    ).all()
    return {row.id: row.state for row in rows}


def _cursor_id(after: list[Any], sort: str) -> int:
    """The case id of a cursor made for this sort; a cursor of another sort (or not ours) is refused."""
    cursor_sort, last_id = after
    if cursor_sort != sort or not isinstance(last_id, int) or isinstance(last_id, bool):
        raise ValidationFailed({"after": [BAD_CURSOR]})
    return last_id
