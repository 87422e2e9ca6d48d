"""REST for creditor replies on the staff side: list them, type in a paper or phone answer, mark one as read, take
its amounts over, record the step its decision asks (agree, reject, propose again, confirm a termination), add an
office's reclaim as a debt, download its attachment, revoke a letter's reply code. Creditors themselves answer on
the reply page (schulden/web/replies.py), not through this API. The operations and the rule who may read a reply
are in schulden/replies/services.py and decisions.py, the reads with their audit rows in
schulden/replies/queries.py; this module parses, calls and shapes the answer."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import fields

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, pdf_response, require_role
from schulden.api.refusals import http_refusals
from schulden.cases.queries import get_case
from schulden.debts.models import Debt
from schulden.http.errors import problem
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.replies.decisions import DecisionRefused, Plan, add_reclaim_debt, decide, offer, said
from schulden.replies.models import CreditorReply, DecisionStep, ReviewStatus
from schulden.replies.queries import read_replies, read_reply
from schulden.replies.schemas import DecisionIn, ReplyCreate, ReplyOut
from schulden.replies.services import (
    REPLY_KEEPERS,
    AmountsNotTakenOver,
    NoAttachment,
    confirm_reply,
    enter_reply,
    get_reply,
    read_attachment,
    review_reply,
    revoke_reply_code,
)

blp = Blueprint("replies", __name__, url_prefix="/api/v1", description="Antwoorden van schuldeisers")


class ReplyDetailOut(ReplyOut):
    """One answer, with where the counsellor is with it (the list keeps ReplyOut's fields)."""

    reviewed_by = fields.String(allow_none=True)
    review_status = fields.String(
        metadata={"enum": [s.value for s in ReviewStatus], "description": "new, read (Gelezen) of taken_over"}
    )
    amounts_taken_over = fields.Boolean(
        metadata={"description": "De bedragen zijn door een schuldhulpverlener overgenomen op de schuld."}
    )
    awaits_take_over = fields.Boolean(
        metadata={"description": "Het nieuwste antwoord noemt bedragen die de schuld nog niet heeft."}
    )
    decision_text = fields.String(
        allow_none=True, metadata={"description": "Het besluit van de schuldeiser in woorden (leeg: geen besluit)."}
    )
    decision_steps = fields.List(
        fields.String(),
        metadata={"description": "De stappen waar het besluit om vraagt (POST /replies/{id}/decision)."},
    )
    decision_steps_possible = fields.List(
        fields.String(), metadata={"description": "Die stappen die nu kunnen (de schuld staat in de juiste status)."}
    )
    decision_refusal = fields.String(
        allow_none=True, metadata={"description": "Waarom geen stap kan, in het Nederlands (leeg: geen reden)."}
    )
    decision_taken = fields.String(
        allow_none=True, metadata={"description": "De stap die al is vastgelegd (agree_arrangement, ...)."}
    )


def _view(reply: CreditorReply) -> dict[str, Any]:
    return {name: getattr(reply, name) for name in ReplyOut().fields}


def _detail(reply: CreditorReply) -> dict[str, Any]:
    found = offer(db_session(), runtime().engine, reply)
    shown = {name: getattr(reply, name) for name in ReplyDetailOut().fields if hasattr(reply, name)}
    return {
        **shown,
        "decision_text": said(reply),
        "decision_steps": [step.value for step in found.asked],
        "decision_steps_possible": [step.value for step in found.possible],
        "decision_refusal": found.refusal,
        "decision_taken": reply.decision_taken,
    }


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
    @blp.response(201, ReplyDetailOut)
    def post(self, data: dict[str, Any], debt_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Type in an answer that came on paper, by phone or by e-mail: the same fields as the reply page, and
        the same effect on the debt (no cooperation, suspension granted or refused); amounts given become the
        debt's, confirmed, as the counsellor's own entry (a new version when the debt had an answer)."""
        session = db_session()
        with http_refusals(NoAttachment):
            reply = enter_reply(
                session, runtime().engine, actor=current_actor(), debt_id=debt_id, data=data, origin=origin()
            )
        session.commit()
        return _detail(reply), 201, {"Location": f"/api/v1/replies/{reply.id}"}


@blp.route("/replies/<id:reply_id>")
class ReplyDetail(MethodView):
    @blp.response(200, ReplyDetailOut)
    def get(self, reply_id: int) -> dict[str, Any]:
        """One answer with every field the creditor gave, and whether it was read and its amounts taken over."""
        session = db_session()
        reply = read_reply(session, current_actor(), reply_id, origin=origin())
        session.commit()
        return _detail(reply)


@blp.route("/replies/<id:reply_id>/review")
class ReplyReview(MethodView):
    @blp.response(200, ReplyDetailOut)
    def post(self, reply_id: int) -> dict[str, Any]:
        """The counsellor has read this answer ("Gelezen"): it leaves the task list. The debt does not change;
        its amounts change with /confirm. Marking it again changes nothing."""
        session = db_session()
        with http_refusals(NoAttachment):
            reply = review_reply(session, actor=current_actor(), reply_id=reply_id, origin=origin())
        session.commit()
        return _detail(reply)


@blp.route("/replies/<id:reply_id>/confirm")
class ReplyConfirm(MethodView):
    @blp.response(200, ReplyDetailOut)
    def post(self, reply_id: int) -> tuple[dict[str, Any], int, dict[str, str]] | Response:
        """Take the answer's amounts over ("Bedragen overnemen"): hoofdsom, rente, kosten and peildatum become the
        debt's, its amount status `confirmed`, and a debt waiting for this check goes to `balance_confirmed`.
        Once per answer and only for the newest answer of its debt (409 otherwise). If-Match (optional): the
        debt's ETag (GET /debts/{id}); the answer's ETag is the debt's new version."""
        actor = current_actor()
        require_role(actor, REPLY_KEEPERS, "de bedragen van een antwoord overnemen")
        session = db_session()
        reply = get_reply(session, actor, reply_id)
        debt = session.get(Debt, reply.debt_id) if reply.debt_id is not None else None
        if debt is not None and "If-Match" in request.headers:
            check_if_match(debt.row_version)
        try:
            reply = confirm_reply(session, runtime().engine, actor=actor, reply_id=reply_id, origin=origin())
        except AmountsNotTakenOver as exc:
            # The reason is the answer: taken over already, a newer answer, no amounts, the debt closed.
            session.rollback()
            return problem(409, str(exc))
        session.commit()
        headers = {"ETag": etag_for(debt.row_version)} if debt is not None else {}
        return _detail(reply), 200, headers


@blp.route("/replies/<id:reply_id>/decision")
class ReplyDecision(MethodView):
    @blp.arguments(DecisionIn)
    @blp.response(200, ReplyDetailOut)
    def post(self, data: dict[str, Any], reply_id: int) -> tuple[dict[str, Any], int, dict[str, str]] | Response:
        """Record the step the creditor's decision asks, on the answer's debt, with the answer's id in the step's
        payload (the debt's history names the answer): `agree` (agree_arrangement), `reject` (reject_arrangement),
        `propose_again` after a counter-proposal (reject_arrangement, then propose_arrangement with `proposal`: a
        new letter), `confirm_termination`. Only the steps in the answer's `decision_steps`, once, on the newest
        answer, and only while the debt is in `arrangement_proposed` or `termination_requested`: 409 with the
        Dutch reason otherwise. The answer counts as read. If-Match (optional): the debt's ETag."""
        actor = current_actor()
        require_role(actor, REPLY_KEEPERS, "het besluit van een schuldeiser vastleggen")
        session = db_session()
        reply = get_reply(session, actor, reply_id)
        debt = session.get(Debt, reply.debt_id) if reply.debt_id is not None else None
        if debt is not None and "If-Match" in request.headers:
            check_if_match(debt.row_version)
        proposal = data.get("proposal")
        plan = Plan(**proposal) if proposal else None
        try:
            reply = decide(session, runtime().engine, actor=actor, reply_id=reply_id, step=DecisionStep(data["step"]),
                           plan=plan, origin=origin())  # fmt: skip
        except DecisionRefused as exc:
            session.rollback()
            return problem(409, str(exc))
        session.commit()
        headers = {"ETag": etag_for(debt.row_version)} if debt is not None else {}
        return _detail(reply), 200, headers


@blp.route("/replies/<id:reply_id>/reclaim-debt")
class ReplyReclaimDebt(MethodView):
    @blp.response(201, ReplyDetailOut)
    def post(self, reply_id: int) -> tuple[dict[str, Any], int, dict[str, str]] | Response:
        """Add the reclaim a benefit office named in its answer to the change report (L7) as a debt of the case:
        the office as creditor, the amount confirmed, peildatum the day the answer came. Once per answer, from the
        newest; 409 with the Dutch reason otherwise (no reclaim, added already, the office not a known creditor).
        Location: the new debt."""
        actor = current_actor()
        require_role(actor, REPLY_KEEPERS, "een terugvordering als schuld toevoegen")
        session = db_session()
        try:
            debt = add_reclaim_debt(session, runtime().engine, actor=actor, reply_id=reply_id, origin=origin())
        except DecisionRefused as exc:
            session.rollback()
            return problem(409, str(exc))
        session.commit()
        reply = get_reply(session, actor, reply_id)
        return _detail(reply), 201, {"Location": f"/api/v1/debts/{debt.id}"}


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
