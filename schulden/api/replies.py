"""REST for creditor replies on the staff side: list them, type in a paper or phone answer, mark one as read,
download its attachment, revoke a letter's reply code. Creditors themselves answer on the reply page
(schulden/web/replies.py), not through this API. The operations and the rule who may read a reply are in
schulden/replies/services.py, the reads with their audit rows in schulden/replies/queries.py; this module parses,
calls and shapes the answer."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, pdf_response
from schulden.api.refusals import http_refusals
from schulden.cases.queries import get_case
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.replies.models import CreditorReply
from schulden.replies.queries import read_replies, read_reply
from schulden.replies.schemas import ReplyCreate, ReplyOut
from schulden.replies.services import (
    NoAttachment,
    enter_reply,
    read_attachment,
    review_reply,
    revoke_reply_code,
)

blp = Blueprint("replies", __name__, url_prefix="/api/v1", description="Antwoorden van schuldeisers")


def _view(reply: CreditorReply) -> dict[str, Any]:
    return {name: getattr(reply, name) for name in ReplyOut().fields}


@blp.route("/cases/<id:case_id>/replies")
class CaseReplies(MethodView):
    @blp.response(200, ReplyOut(many=True))
    def get(self, case_id: int) -> list[dict[str, Any]]:
        """Every creditor answer of the case, in the order received: a creditor who answered again has several
        versions for one debt, the newest without `superseded_at`."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        replies = read_replies(session, actor, case, origin=origin())
        session.commit()
        return [_view(r) for r in replies]


@blp.route("/debts/<id:debt_id>/replies")
class DebtReplies(MethodView):
    @blp.arguments(ReplyCreate)
    @blp.response(201, ReplyOut)
    def post(self, data: dict[str, Any], debt_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Type in an answer that came on paper, by phone or by e-mail: the same fields as the reply page, and
        the same effect on the debt (balance confirmed, no cooperation, suspension granted or refused)."""
        session = db_session()
        with http_refusals(NoAttachment):
            reply = enter_reply(
                session, runtime().engine, actor=current_actor(), debt_id=debt_id, data=data, origin=origin()
            )
        session.commit()
        return _view(reply), 201, {"Location": f"/api/v1/replies/{reply.id}"}


@blp.route("/replies/<id:reply_id>")
class ReplyDetail(MethodView):
    @blp.response(200, ReplyOut)
    def get(self, reply_id: int) -> dict[str, Any]:
        session = db_session()
        reply = read_reply(session, current_actor(), reply_id, origin=origin())
        session.commit()
        return _view(reply)


@blp.route("/replies/<id:reply_id>/review")
class ReplyReview(MethodView):
    @blp.response(200, ReplyOut)
    def post(self, reply_id: int) -> dict[str, Any]:
        """The counsellor has read this answer: it leaves the task list."""
        session = db_session()
        with http_refusals(NoAttachment):
            reply = review_reply(session, actor=current_actor(), reply_id=reply_id, origin=origin())
        session.commit()
        return _view(reply)


@blp.route("/replies/<id:reply_id>/attachment")
class ReplyAttachment(MethodView):
    @blp.response(200, content_type="application/pdf")
    def get(self, reply_id: int) -> Response:
        """The PDF the creditor attached."""
        session = db_session()
        with http_refusals(NoAttachment):
            reply, data = read_attachment(
                session, runtime().store, actor=current_actor(), reply_id=reply_id, origin=origin()
            )
        session.commit()
        return pdf_response(data, f"bijlage-antwoord-{reply.id}.pdf")


@blp.route("/letters/<id:letter_id>/reply-code/revoke")
class RevokeCode(MethodView):
    @blp.response(204)
    def post(self, letter_id: int) -> None:
        """Revoke the letter's reply code and QR link (sent to the wrong address, answered otherwise). An open
        reply session of that letter ends at its next request."""
        session = db_session()
        with http_refusals(NoAttachment):
            revoke_reply_code(session, actor=current_actor(), letter_id=letter_id, origin=origin())
        session.commit()
