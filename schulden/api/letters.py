"""REST for letters: a case's letters, a letter's PDF, retrying a failed one, the failed list, print batches; and
for an administrator the failed letters by kind of error, and retrying all of one kind at once.

Each resource parses, calls the letters' operation (schulden/letters/services.py) and shapes the answer; the PDF
files come from the app's file store port.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import fields, validate

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, pdf_response, require_role
from schulden.api.idempotency import idempotent
from schulden.api.refusals import http_refusals
from schulden.cases.queries import get_case
from schulden.fields import DutchSchema
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters import bulk_retry, services
from schulden.letters.compose import our_reference
from schulden.letters.lifecycle import LetterStateError
from schulden.letters.models import Letter, PrintBatch
from schulden.letters.queries import failed_letters, read_letters
from schulden.letters.schemas import PrintBatchIn
from schulden.roles import Role

blp = Blueprint("letters", __name__, url_prefix="/api/v1", description="Brieven, printbatches")

#: The administrator's endpoints: every failed letter, not only those of the caller's cases.
_ADMIN_ENDPOINTS = frozenset({"letters.FailedLetterGroups", "letters.FailedLettersRetry"})


@blp.before_request
def _administrator_for_bulk() -> None:
    """Role (403) before the body is read, so a refusal does not depend on, nor leak, what a valid body is."""
    if request.endpoint in _ADMIN_ENDPOINTS:
        require_role(current_actor(), {Role.ADMIN}, "mislukte brieven in één keer opnieuw laten maken")


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


class FailedGroupOut(DutchSchema):
    reason = fields.String(metadata={"description": "De soort fout (de naam van de fout), bijv. OSError."})
    label = fields.String(metadata={"description": "De soort fout in woorden, waar die er zijn."})
    letter_type = fields.String()
    count = fields.Integer()
    since = fields.DateTime(allow_none=True, metadata={"description": "Sinds wanneer de oudste van de groep wacht."})


class FailedRetryIn(DutchSchema):
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=bulk_retry.REASON_MAX),
        metadata={"description": "Alleen brieven met deze soort fout (zoals de groepen die noemen); leeg: elke."},
    )
    letter_type = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=4),
        metadata={"description": "Alleen brieven van dit type (L1 tot en met L10); leeg: elk."},
    )


class FailedRetryOut(DutchSchema):
    retried = fields.Integer(metadata={"description": "Hoeveel brieven weer in de wachtrij staan."})


class PrintBatchOut(DutchSchema):
    id = fields.Integer()
    pi_id = fields.Integer()
    batch_date = fields.Date()
    letter_count = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()
    left_out = fields.List(
        fields.Integer(),
        metadata={"description": "Brieven die klaarstonden maar waarvan de PDF ontbrak: ze worden opnieuw gemaakt."},
    )


def _view(letter: Letter) -> dict[str, Any]:
    return {**{c.name: getattr(letter, c.name) for c in Letter.__table__.columns}, "reference": our_reference(letter)}


@blp.route("/cases/<id:case_id>/letters")
class CaseLetters(MethodView):
    @blp.response(200, LetterOut(many=True))
    def get(self, case_id: int) -> list[dict[str, Any]]:
        """The case's letters with their status (queued, rendered, sent, failed, cancelled)."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        letters = read_letters(session, actor, case, origin=origin())
        session.commit()
        return [_view(letter) for letter in letters]


@blp.route("/letters/<id:letter_id>/pdf")
class LetterPdf(MethodView):
    @blp.response(200, description="De brief als PDF")
    def get(self, letter_id: int) -> Response:
        """Download the letter's PDF (once rendered)."""
        session = db_session()
        with http_refusals(LetterStateError, services.NothingToPrint):
            letter = services.downloadable_letter(session, current_actor(), letter_id, origin=origin())
        data = runtime().store.get(letter.storage_key or "")
        session.commit()
        return pdf_response(data, f"brief-{letter.id}.pdf")


@blp.route("/letters/<id:letter_id>/retry")
class LetterRetry(MethodView):
    @blp.response(200, LetterOut)
    def post(self, letter_id: int) -> dict[str, Any]:
        """Try a failed letter again (after the cause has been fixed)."""
        session = db_session()
        with http_refusals(LetterStateError, services.NothingToPrint):
            letter = services.retry_letter(session, current_actor(), letter_id, origin=origin())
        session.commit()  # the outbox enqueues its render job after this commit, as for a new letter
        session.refresh(letter)
        return _view(letter)


@blp.route("/letters/failed")
class FailedLetters(MethodView):
    @blp.response(200, LetterOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Letters that could not be made, with the reason: the counsellor's list to look at."""
        session = db_session()
        letters = failed_letters(session, current_actor())
        session.commit()
        return [_view(letter) for letter in letters]


@blp.route("/letters/failed/groups")
class FailedLetterGroups(MethodView):
    @blp.response(200, FailedGroupOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every failed letter, by kind of error and letter type: how many, and since when (administrator). Counts
        only, nothing of a case."""
        groups = bulk_retry.failed_groups(db_session())
        return [{**asdict(g), "label": g.label} for g in groups]


@blp.route("/letters/failed/retry")
class FailedLettersRetry(MethodView):
    @idempotent
    @blp.arguments(FailedRetryIn)
    @blp.response(200, FailedRetryOut)
    def post(self, data: dict[str, Any]) -> dict[str, int]:
        """Make every failed letter of one kind of error and/or type again (administrator), after the cause was
        fixed: back in the queue with their attempts from zero, each audited. A creditor's letter gets its reply
        code when it is made."""
        session = db_session()
        count = bulk_retry.retry_failed(
            session, current_actor(), reason=data["reason"], letter_type=data["letter_type"], origin=origin()
        )
        session.commit()  # the outbox enqueues their render jobs after this commit, as for new letters
        return {"retried": count}


@blp.route("/print-batches")
class PrintBatches(MethodView):
    @idempotent
    @blp.arguments(PrintBatchIn)
    @blp.response(201, PrintBatchOut)
    def post(self, data: dict[str, Any]) -> PrintBatch:
        """Make today's print batch for a PI: every rendered letter for the post, merged; they count as sent."""
        session = db_session()
        rt = runtime()
        with http_refusals(LetterStateError, services.NothingToPrint):
            batch = services.make_print_batch(
                session, current_actor(), data["pi_id"], make=rt.print_batch, engine=rt.engine
            )
        session.commit()
        return batch


@blp.route("/print-batches/<id:batch_id>/pdf")
class PrintBatchPdf(MethodView):
    @blp.response(200, description="De printbatch als PDF")
    def get(self, batch_id: int) -> Response:
        """Download a print batch (PI staff of that PI, counsellors of its team)."""
        session = db_session()
        batch = services.downloadable_print_batch(session, current_actor(), batch_id, origin=origin())
        data = runtime().store.get(batch.storage_key)
        session.commit()
        return pdf_response(data, f"printbatch-{batch.id}-{date.isoformat(batch.batch_date)}.pdf")
