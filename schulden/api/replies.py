"""REST for creditor replies on the staff side: list them, type in a paper or phone answer, mark one as read,
download its attachment, revoke a letter's reply code. Creditors themselves answer on the reply page
(schulden/web/replies.py), not through this API."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Conflict

from schulden import audit
from schulden.access import case_scope
from schulden.actors import UserActor
from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, pdf_response, require_role
from schulden.api.debts import get_debt
from schulden.cases.models import Case
from schulden.cases.queries import get_case
from schulden.errors import NotFound, ValidationFailed
from schulden.extensions import workflow
from schulden.http.requests import db_session
from schulden.letters.models import Letter
from schulden.replies import codes
from schulden.replies.models import CreditorReply, ReplyChannel
from schulden.replies.schemas import ReplyCreate, ReplyOut
from schulden.replies.services import mark_reviewed, record_reply, replies_of_case
from schulden.roles import Role
from workflows.store import utcnow

blp = Blueprint("replies", __name__, url_prefix="/api/v1", description="Antwoorden van schuldeisers")

COUNSELLOR_ONLY = {Role.COUNSELLOR}


def _view(reply: CreditorReply) -> dict[str, Any]:
    return {name: getattr(reply, name) for name in ReplyOut().fields}


def _get_reply(session: Session, actor: UserActor, reply_id: int) -> CreditorReply:
    reply = session.scalar(
        select(CreditorReply)
        .join(Case, Case.id == CreditorReply.case_id)
        .where(CreditorReply.id == reply_id, case_scope(actor))
    )
    if reply is None:
        raise NotFound("reply", reply_id)
    return reply


@blp.route("/cases/<id:case_id>/replies")
class CaseReplies(MethodView):
    @blp.response(200, ReplyOut(many=True))
    def get(self, case_id: int) -> list[dict[str, Any]]:
        """Every creditor answer of the case, in the order received: a creditor who answered again has several
        versions for one debt, the newest without `superseded_at`."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        replies = replies_of_case(session, case.id)
        audit.record(session, actor=actor, action="reply.list", object_type="case", object_id=case.id,
                     case_id=case.id, origin=origin())  # fmt: skip
        session.commit()
        return [_view(r) for r in replies]


@blp.route("/debts/<id:debt_id>/replies")
class DebtReplies(MethodView):
    @blp.arguments(ReplyCreate)
    @blp.response(201, ReplyOut)
    def post(self, data: dict[str, Any], debt_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Type in an answer that came on paper, by phone or by e-mail: the same fields as the reply page, and
        the same effect on the debt (balance confirmed, no cooperation, suspension granted or refused)."""
        actor = current_actor()
        require_role(actor, COUNSELLOR_ONLY, "een antwoord van een schuldeiser vastleggen")
        session = db_session()
        debt = get_debt(session, actor, debt_id)
        today = workflow.engine.clock().astimezone(workflow.engine.timezone).date()
        if data["received_on"] > today:
            raise ValidationFailed({"received_on": ["De ontvangstdatum ligt in de toekomst."]})
        letter_id = data.pop("letter_id", None)
        if (
            letter_id is not None
            and session.scalar(select(Letter.id).where(Letter.id == letter_id, Letter.debt_id == debt.id)) is None
        ):
            raise ValidationFailed({"letter_id": ["Deze brief hoort niet bij deze schuld."]})
        reply = record_reply(
            session,
            workflow.engine,
            actor=actor,
            debt=debt,
            letter_id=letter_id,
            channel=ReplyChannel(data.pop("channel")),
            received_on=data.pop("received_on"),
            data=data,
            today=today,
        )
        # Typed in by the counsellor: read by definition.
        mark_reviewed(reply, actor=actor, now=utcnow())
        audit.record(session, actor=actor, action="reply.create", object_type="reply", object_id=reply.id,
                     case_id=debt.case_id, origin=origin(), details={"events": reply.events})  # fmt: skip
        session.commit()
        return _view(reply), 201, {"Location": f"/api/v1/replies/{reply.id}"}


@blp.route("/replies/<id:reply_id>")
class ReplyDetail(MethodView):
    @blp.response(200, ReplyOut)
    def get(self, reply_id: int) -> dict[str, Any]:
        actor = current_actor()
        session = db_session()
        reply = _get_reply(session, actor, reply_id)
        audit.record(session, actor=actor, action="reply.read", object_type="reply", object_id=reply.id,
                     case_id=reply.case_id, origin=origin())  # fmt: skip
        session.commit()
        return _view(reply)


@blp.route("/replies/<id:reply_id>/review")
class ReplyReview(MethodView):
    @blp.response(200, ReplyOut)
    def post(self, reply_id: int) -> dict[str, Any]:
        """The counsellor has read this answer: it leaves the task list."""
        actor = current_actor()
        require_role(actor, COUNSELLOR_ONLY, "een antwoord als gelezen markeren")
        session = db_session()
        reply = _get_reply(session, actor, reply_id)
        mark_reviewed(reply, actor=actor, now=utcnow())
        audit.record(session, actor=actor, action="reply.review", object_type="reply", object_id=reply.id,
                     case_id=reply.case_id, origin=origin())  # fmt: skip
        session.commit()
        return _view(reply)


@blp.route("/replies/<id:reply_id>/attachment")
class ReplyAttachment(MethodView):
    @blp.response(200, content_type="application/pdf")
    def get(self, reply_id: int) -> Response:
        """The PDF the creditor attached."""
        actor = current_actor()
        session = db_session()
        reply = _get_reply(session, actor, reply_id)
        if reply.attachment_key is None:
            raise Conflict("Bij dit antwoord zit geen bijlage.")
        data = current_app.extensions["schuldroute.runtime"].store.get(reply.attachment_key)
        audit.record(session, actor=actor, action="reply.attachment", object_type="reply", object_id=reply.id,
                     case_id=reply.case_id, origin=origin())  # fmt: skip
        session.commit()
        return pdf_response(data, f"bijlage-antwoord-{reply.id}.pdf")


@blp.route("/letters/<id:letter_id>/reply-code/revoke")
class RevokeCode(MethodView):
    @blp.response(204)
    def post(self, letter_id: int) -> None:
        """Revoke the letter's reply code and QR link (sent to the wrong address, answered otherwise). An open
        reply session of that letter ends at its next request."""
        actor = current_actor()
        require_role(actor, COUNSELLOR_ONLY, "een antwoordcode intrekken")
        session = db_session()
        letter = session.scalar(
            select(Letter).join(Case, Case.id == Letter.case_id).where(Letter.id == letter_id, case_scope(actor))
        )
        if letter is None:
            raise NotFound("letter", letter_id)
        codes.revoke(session, letter, now=utcnow())
        audit.record(session, actor=actor, action="letter.reply_revoked", object_type="letter", object_id=letter.id,
                     case_id=letter.case_id, origin=origin())  # fmt: skip
        session.commit()
