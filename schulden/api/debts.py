"""REST for debts: list and add per case, read and change one, its actions and events."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import request
from flask.views import MethodView
from sqlalchemy.orm import Session

from schulden.access import CASE_WRITERS
from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, require_role
from schulden.api.idempotency import idempotent
from schulden.cases.queries import get_case
from schulden.cases.schemas import ActionOut, EventIn, EventResult
from schulden.creditors.models import Creditor
from schulden.debts import schemas
from schulden.debts.models import Debt
from schulden.debts.queries import get_debt, read_debt, read_debt_actions, read_debts
from schulden.debts.services import add_known_debt, change_debt, take_debt_step
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from workflows import EventOption, WorkflowInstance

blp = Blueprint("debts", __name__, url_prefix="/api/v1", description="Schulden per dossier")


_PLAIN = (
    "id",
    "case_id",
    "creditor_reference",
    "debt_type",
    "category",
    "principal_cents",
    "interest_cents",
    "costs_cents",
    "amount_status",
    "peildatum",
    "threat",
    "joint_with_partner",
    "is_business_debt",
    "source",
    "created_at",
    "updated_at",
)


def debt_view(session: Session, debt: Debt, state: str | None = None) -> dict[str, Any]:
    instance = session.get_one(WorkflowInstance, debt.instance_id)
    creditor = session.get_one(Creditor, debt.creditor_id)
    collector = session.get(Creditor, debt.collecting_party_id) if debt.collecting_party_id else None
    process = runtime().engine.process_of(instance)
    return {
        **{column: getattr(debt, column) for column in _PLAIN},
        "version": debt.row_version,
        "state": instance.state,
        "state_label": process.state(instance.state).label,
        "creditor": {"id": creditor.id, "name": creditor.name},
        "collecting_party": {"id": collector.id, "name": collector.name} if collector else None,
        "total_cents": debt.total_cents,
    }


@blp.route("/cases/<id:case_id>/debts")
class CaseDebts(MethodView):
    @blp.response(200, schemas.DebtListOut)
    def get(self, case_id: int) -> dict[str, Any]:
        """The case's debts with totals per DDAS category and per amount status."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        debts = [row.debt for row in read_debts(session, actor, case, origin=origin())]
        by_category: dict[str, int] = defaultdict(int)
        by_status: dict[str, int] = defaultdict(int)
        for debt in debts:
            by_category[debt.category] += debt.total_cents
            by_status[debt.amount_status] += debt.total_cents
        session.commit()
        return {
            "items": [debt_view(session, d) for d in debts],
            "totals": {
                "by_category": dict(by_category),
                "by_amount_status": dict(by_status),
                "all": {"total_cents": sum(d.total_cents for d in debts), "count": len(debts)},
            },
        }

    @idempotent
    @blp.arguments(schemas.DebtCreate)
    @blp.response(201, schemas.DebtOut)
    def post(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Add a debt the detainee knows of; it starts as 'identified'."""
        actor = current_actor()
        require_role(actor, CASE_WRITERS, "een schuld toevoegen")
        session = db_session()
        case = get_case(session, actor, case_id)
        debt = add_known_debt(session, runtime().engine, case, actor=actor, data=data, origin=origin())
        session.commit()
        return (
            debt_view(session, debt),
            201,
            {"ETag": etag_for(debt.row_version), "Location": f"/api/v1/debts/{debt.id}"},
        )


@blp.route("/debts/<id:debt_id>")
class DebtDetail(MethodView):
    @blp.response(200, schemas.DebtOut)
    def get(self, debt_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """One debt. The ETag is the version to send back in If-Match."""
        session = db_session()
        debt = read_debt(session, current_actor(), debt_id, origin=origin())
        session.commit()
        return debt_view(session, debt), 200, {"ETag": etag_for(debt.row_version), "Cache-Control": "no-store"}

    @blp.arguments(schemas.DebtUpdate)
    @blp.response(200, schemas.DebtOut)
    def patch(self, data: dict[str, Any], debt_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Change amounts, reference, status or flags. Needs If-Match."""
        actor = current_actor()
        require_role(actor, CASE_WRITERS, "een schuld wijzigen")
        session = db_session()
        debt = get_debt(session, actor, debt_id)
        check_if_match(debt.row_version)
        change_debt(session, runtime().engine, debt, data, actor=actor, origin=origin())
        session.commit()
        return debt_view(session, debt), 200, {"ETag": etag_for(debt.row_version)}


@blp.route("/debts/<id:debt_id>/actions")
class DebtActions(MethodView):
    @blp.response(200, ActionOut(many=True))
    def get(self, debt_id: int) -> list[EventOption]:
        """Every event of the debt process: allowed for you now, or the reason it is not."""
        session = db_session()
        options = read_debt_actions(session, runtime().engine, current_actor(), debt_id, origin=origin())
        session.commit()
        return options


@blp.route("/debts/<id:debt_id>/events")
class DebtEvents(MethodView):
    @blp.arguments(EventIn)
    @blp.response(201, EventResult)
    def post(self, data: dict[str, Any], debt_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Fire a debt event (see /actions); a refusal answers 409 with the reason."""
        actor = current_actor()
        session = db_session()
        debt = get_debt(session, actor, debt_id)
        if "If-Match" in request.headers:
            check_if_match(debt.row_version)
        entry = take_debt_step(
            session,
            runtime().engine,
            debt,
            data["event"],
            actor=actor,
            payload=data["payload"],
            reason=data.get("reason"),
            origin=origin(),
        )
        instance = session.get_one(WorkflowInstance, debt.instance_id)
        session.commit()
        return (
            {"history": entry, "state": instance.state, "version": debt.row_version},
            201,
            {"ETag": etag_for(debt.row_version)},
        )
