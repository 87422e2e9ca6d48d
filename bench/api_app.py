"""The WSGI app of the API benchmark (bench/api.py): the product's app plus two reference routes.

``gunicorn bench.api_app:app`` (run from the repository root) serves exactly what ``wsgi.py`` serves, plus a
blueprint under ``/bench`` that exists only here, so the references run in the same processes, with the same
settings, engine and connection pool as the routes they are compared with:

* ``GET /bench/constant``: a small constant JSON, no database. The framework ceiling.
* ``GET /bench/bare/<id>``: the case, its detainee and its debts read with plain SQLAlchemy (one session, two
  SELECTs) and dumped with a plain marshmallow schema. No authentication, no scope, no audit row, no commit.
  It is the floor that ``GET /api/v1/cases/<id>`` is compared with.

The product never imports this module.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields
from sqlalchemy import select

from schulden.app import create_app
from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.extensions import database

bench = Blueprint("bench", __name__, url_prefix="/bench")

CONSTANT = {"status": "ok", "service": "schuldroute", "bench": True}


class BareDetainee(Schema):
    given_names = fields.String()
    surname_prefix = fields.String(allow_none=True)
    surname = fields.String()
    date_of_birth = fields.Date()
    dji_number = fields.String(allow_none=True)


class BareDebt(Schema):
    id = fields.Integer()
    creditor_id = fields.Integer()
    category = fields.String()
    debt_type = fields.String()
    principal_cents = fields.Integer()
    interest_cents = fields.Integer()
    costs_cents = fields.Integer()
    amount_status = fields.String()


class BareCase(Schema):
    id = fields.Integer()
    version = fields.Integer(attribute="row_version")
    pi_id = fields.Integer()
    municipality_id = fields.Integer(allow_none=True)
    detention_type = fields.String()
    detention_start = fields.Date()
    expected_release = fields.Date(allow_none=True)
    urgent = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    detainee = fields.Nested(BareDetainee)
    debts = fields.List(fields.Nested(BareDebt))


BARE_CASE = BareCase()


@bench.get("/constant")
def constant() -> ResponseReturnValue:
    return jsonify(CONSTANT)


@bench.get("/bare/<int:case_id>")
def bare(case_id: int) -> ResponseReturnValue:
    with database.session() as session:
        row = session.execute(
            select(Case, Detainee).join(Detainee, Detainee.id == Case.detainee_id).where(Case.id == case_id)
        ).first()
        if row is None:
            abort(404)
        case, detainee = row
        debts = session.scalars(select(Debt).where(Debt.case_id == case_id).order_by(Debt.id)).all()
        data: dict[str, Any] = {
            "id": case.id,
            "row_version": case.row_version,
            "pi_id": case.pi_id,
            "municipality_id": case.municipality_id,
            "detention_type": case.detention_type,
            "detention_start": case.detention_start,
            "expected_release": case.expected_release,
            "urgent": case.urgent,
            "created_at": case.created_at,
            "updated_at": case.updated_at,
            "detainee": detainee,
            "debts": debts,
        }
    return jsonify(BARE_CASE.dump(data))


app = create_app()
app.register_blueprint(bench)
