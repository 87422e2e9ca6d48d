"""REST for letters: a case's letters, a letter's PDF, retrying a failed one, the failed list, print batches.

The PDF files are reached through the app's runtime (the composition root hands over the file store); the
domain never imports the integrations package.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import select
from werkzeug.exceptions import Conflict

from schulden import audit
from schulden.access import case_scope
from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, pdf_response, require_role
from schulden.cases.models import Case
from schulden.cases.queries import get_case
from schulden.errors import NotFound, ValidationFailed
from schulden.extensions import workflow
from schulden.fields import DutchSchema, Id
from schulden.http.requests import db_session
from schulden.letters.compose import our_reference
from schulden.letters.models import Letter, LetterStatus, PrintBatch
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role

blp = Blueprint("letters", __name__, url_prefix="/api/v1", description="Brieven, printbatches")


class LetterOut(DutchSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    debt_id = fields.Integer(allow_none=True)
    letter_type = fields.String()
    round = fields.Integer()
    reference = fields.String()
    status = fields.String()
    channel = fields.String()
    letter_date = fields.Date()
    template_version = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    sha256 = fields.String(allow_none=True)
    rendered_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    print_batch_id = fields.Integer(allow_none=True)


class PrintBatchIn(DutchSchema):
    pi_id = Id(required=True)


class PrintBatchOut(DutchSchema):
    id = fields.Integer()
    pi_id = fields.Integer()
    batch_date = fields.Date()
    letter_count = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()


def _view(letter: Letter) -> dict[str, Any]:
    return {**{c.name: getattr(letter, c.name) for c in Letter.__table__.columns}, "reference": our_reference(letter)}


def _get_letter(session: Any, letter_id: int) -> Letter:
    actor = current_actor()
    letter: Letter | None = session.scalar(
        select(Letter).join(Case, Case.id == Letter.case_id).where(Letter.id == letter_id, case_scope(actor))
    )
    if letter is None:
        raise NotFound("letter", letter_id)
    return letter


def _store() -> Any:
    return current_app.extensions["schuldroute.runtime"].store


@blp.route("/cases/<id:case_id>/letters")
class CaseLetters(MethodView):
    @blp.response(200, LetterOut(many=True))
    def get(self, case_id: int) -> list[dict[str, Any]]:
        """The case's letters with their status (queued, rendered, sent, failed, cancelled)."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        letters = session.scalars(select(Letter).where(Letter.case_id == case.id).order_by(Letter.id)).all()
        audit.record(session, actor=actor, action="letter.list", object_type="case", object_id=case.id,
                     case_id=case.id, origin=origin())  # fmt: skip
        session.commit()
        return [_view(letter) for letter in letters]


@blp.route("/letters/<id:letter_id>/pdf")
class LetterPdf(MethodView):
    @blp.response(200, description="De brief als PDF")
    def get(self, letter_id: int) -> Response:
        """Download the letter's PDF (once rendered)."""
        actor = current_actor()
        session = db_session()
        letter = _get_letter(session, letter_id)
        if letter.storage_key is None or letter.status not in (LetterStatus.RENDERED.value, LetterStatus.SENT.value):
            raise Conflict("Deze brief is nog niet klaar (of is gestopt).")
        data = _store().get(letter.storage_key)
        audit.record(session, actor=actor, action="letter.download", object_type="letter", object_id=letter.id,
                     case_id=letter.case_id, origin=origin())  # fmt: skip
        session.commit()
        return pdf_response(data, f"brief-{letter.id}.pdf")


@blp.route("/letters/<id:letter_id>/retry")
class LetterRetry(MethodView):
    @blp.response(200, LetterOut)
    def post(self, letter_id: int) -> dict[str, Any]:
        """Try a failed letter again (after the cause has been fixed)."""
        actor = current_actor()
        require_role(actor, {Role.COUNSELLOR}, "een brief opnieuw laten maken")
        session = db_session()
        letter = _get_letter(session, letter_id)
        if letter.status != LetterStatus.FAILED.value:
            raise Conflict("Alleen een mislukte brief kan opnieuw worden gemaakt.")
        letter.status = LetterStatus.QUEUED.value
        letter.attempts = 0
        audit.record(session, actor=actor, action="letter.retry", object_type="letter", object_id=letter.id,
                     case_id=letter.case_id, origin=origin())  # fmt: skip
        session.commit()
        # Not a new row, so the commit hook does not see it: ask for the job explicitly, after the commit.
        current_app.extensions["schuldroute.enqueue_render"](letter.id)
        session.refresh(letter)
        return _view(letter)


@blp.route("/letters/failed")
class FailedLetters(MethodView):
    @blp.response(200, LetterOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Letters that could not be made, with the reason: the counsellor's list to look at."""
        actor = current_actor()
        session = db_session()
        letters = session.scalars(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .where(Letter.status == LetterStatus.FAILED.value, case_scope(actor))
            .order_by(Letter.id)
            .limit(200)
        ).all()
        session.commit()
        return [_view(letter) for letter in letters]


@blp.route("/print-batches")
class PrintBatches(MethodView):
    @blp.arguments(PrintBatchIn)
    @blp.response(201, PrintBatchOut)
    def post(self, data: dict[str, Any]) -> PrintBatch:
        """Make today's print batch for a PI: every rendered letter for the post, merged; they count as sent."""
        actor = current_actor()
        require_role(actor, {Role.PI_STAFF, Role.COUNSELLOR}, "een printbatch maken")
        session = db_session()
        pi = session.get(Organisation, data["pi_id"])
        if pi is None or pi.kind != OrganisationKind.PI.value:
            raise ValidationFailed({"pi_id": [f"Geen PI met id {data['pi_id']}."]})
        if actor.role is Role.PI_STAFF and actor.organisation_id != pi.id:
            raise ValidationFailed({"pi_id": ["U maakt alleen de printbatch van uw eigen PI."]})
        if actor.role is Role.COUNSELLOR and pi.counselling_team_id != actor.organisation_id:
            raise ValidationFailed({"pi_id": ["Uw team werkt niet voor deze PI."]})
        make = current_app.extensions["schuldroute.print_batch"]
        engine = workflow.engine
        now = engine.clock()
        batch: PrintBatch | None = make(
            session, pi_id=pi.id, actor=actor, today=now.astimezone(engine.timezone).date(), now=now
        )
        if batch is None:
            raise Conflict("Er staan geen brieven voor de post klaar voor deze PI.")
        session.commit()
        return batch


@blp.route("/print-batches/<id:batch_id>/pdf")
class PrintBatchPdf(MethodView):
    @blp.response(200, description="De printbatch als PDF")
    def get(self, batch_id: int) -> Response:
        """Download a print batch (PI staff of that PI, counsellors of its team)."""
        actor = current_actor()
        session = db_session()
        batch = session.get(PrintBatch, batch_id)
        pi = session.get(Organisation, batch.pi_id) if batch else None
        allowed = pi is not None and (
            (actor.role is Role.PI_STAFF and actor.organisation_id == pi.id)
            or (actor.role is Role.COUNSELLOR and pi.counselling_team_id == actor.organisation_id)
        )
        if batch is None or not allowed:
            raise NotFound("print_batch", batch_id)
        data = _store().get(batch.storage_key)
        audit.record(session, actor=actor, action="print_batch.download", object_type="print_batch",
                     object_id=batch.id, origin=origin())  # fmt: skip
        session.commit()
        return pdf_response(data, f"printbatch-{batch.id}-{date.isoformat(batch.batch_date)}.pdf")
