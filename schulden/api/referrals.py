"""REST for referrals: send one, the municipality's inbox, accept or refuse, the handover file and summary.

Scope is the case's (access.case_scope): a municipality sees a referral while it points to that municipality, from
the send on; after it refuses, the case is no longer in its scope.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, pdf_response
from schulden.api.refusals import http_refusals
from schulden.cases.models import Case
from schulden.cases.queries import get_case
from schulden.fields import DutchSchema, one_of
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters.compose import Sender
from schulden.organisations.models import Organisation
from schulden.referrals import delivery_settings, lifecycle, readiness, services
from schulden.referrals.delivery_settings import DeliveryIn
from schulden.referrals.lifecycle import ReferralStateError
from schulden.referrals.models import Referral, ReferralStatus
from schulden.referrals.queries import read_inbox, read_referral, read_referrals, read_refused_by
from schulden.referrals.schemas import AcceptIn, ReferralIn, RefuseIn
from schulden.roles import Role
from schulden.worklist import list_tasks

blp = Blueprint("referrals", __name__, url_prefix="/api/v1", description="Verwijzing naar de gemeente")

STATUSES = [s.value for s in ReferralStatus]


class InboxArgs(DutchSchema):
    status = fields.String(load_default=None, validate=one_of(STATUSES))


class ReferralOut(DutchSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    sequence = fields.Integer()
    municipality = fields.Dict()
    status = fields.String()
    channel = fields.String()
    include_district_team = fields.Boolean()
    urgent = fields.Boolean()
    threat = fields.String(allow_none=True)
    referred_at = fields.DateTime()
    wgs_due_on = fields.Date(allow_none=True)
    wgs_rule = fields.String(allow_none=True)
    wgs_breached = fields.Boolean()
    wgs_breached_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    zaak_url = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    first_conversation_on = fields.Date(allow_none=True)
    refusal_kind = fields.String(allow_none=True)
    refusal_reason = fields.String(allow_none=True)
    expected_release = fields.Date(allow_none=True)
    has_handover = fields.Boolean()
    #: Where the delivery stands, beyond `status`: "waiting_for_settings" (queued, the mail server is not set up:
    #: an administrator must act), "retrying" (queued after a failed attempt), "failed", or the status itself.
    delivery_state = fields.String()
    #: Why the delivery failed, in Dutch words a person can act on (None when it did not fail).
    failure_reason = fields.String(allow_none=True)


class HandoverDebtOut(DutchSchema):
    creditor = fields.String()
    collecting_party = fields.String(allow_none=True)
    category = fields.String()
    debt_type = fields.String()
    type_label = fields.String()
    principal_cents = fields.Integer()
    interest_cents = fields.Integer()
    costs_cents = fields.Integer()
    total_cents = fields.Integer()
    amount_status = fields.String()
    amount_status_label = fields.String()
    peildatum = fields.Date(allow_none=True)
    state = fields.String()
    state_label = fields.String()
    settled = fields.Boolean()


class ThreatOut(DutchSchema):
    threat = fields.String()
    label = fields.String()
    source = fields.String()
    wgs_urgent = fields.Boolean()


class UrgencyOut(DutchSchema):
    urgent = fields.Boolean()
    threats = fields.List(fields.Nested(ThreatOut))
    wgs_urgent = fields.Boolean()
    first_conversation_due = fields.Date()
    rule = fields.String()


class TotalOut(DutchSchema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()
    total_cents = fields.Integer()


class HandoverOut(DutchSchema):
    reference = fields.String()
    made_on = fields.Date()
    urgency = fields.Nested(UrgencyOut)
    debts = fields.List(fields.Nested(HandoverDebtOut))
    totals_by_category = fields.List(fields.Nested(TotalOut))
    totals_by_status = fields.List(fields.Nested(TotalOut))
    total_cents = fields.Integer()


class BlockerOut(DutchSchema):
    why = fields.String()
    todo = fields.String()
    where = fields.String(allow_none=True)


class ReadinessOut(DutchSchema):
    can_send = fields.Boolean()
    blockers = fields.List(fields.Nested(BlockerOut))


def _view(referral: Referral, municipality: Organisation, case: Case) -> dict[str, Any]:
    return {
        **{
            name: getattr(referral, name)
            for name in (
                "id",
                "case_id",
                "sequence",
                "status",
                "channel",
                "include_district_team",
                "urgent",
                "threat",
                "referred_at",
                "wgs_due_on",
                "wgs_rule",
                "wgs_breached_at",
                "delivered_at",
                "attempts",
                "last_error",
                "zaak_url",
                "decided_at",
                "first_conversation_on",
                "refusal_kind",
                "refusal_reason",
            )
        },
        "municipality": {"id": municipality.id, "name": municipality.name, "code": municipality.code},
        "wgs_breached": referral.wgs_breached_at is not None,
        "expected_release": case.expected_release,
        "has_handover": referral.handover_key is not None,
        "delivery_state": _delivery_state(referral),
        "failure_reason": lifecycle.failure_reason(referral),
    }


def _delivery_state(referral: Referral) -> str:
    if lifecycle.waiting_for_settings(referral):
        return "waiting_for_settings"
    if referral.status == ReferralStatus.QUEUED.value and referral.last_error:
        return "retrying"
    return referral.status


def _out(session: Any, referral: Referral, case: Case) -> dict[str, Any]:
    return _view(referral, session.get_one(Organisation, referral.municipality_id), case)


@blp.route("/cases/<id:case_id>/referrals")
class CaseReferrals(MethodView):
    @blp.response(200, ReferralOut(many=True))
    def get(self, case_id: int) -> list[dict[str, Any]]:
        """Every referral of the case, the first first (a re-routing adds one)."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        rows = read_referrals(session, actor, case, origin=origin())
        session.commit()
        return [_view(referral, municipality, case) for referral, municipality in rows]

    @blp.arguments(ReferralIn)
    @blp.response(201, ReferralOut)
    def post(self, data: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Send the referral (L8 with the handover file) to the case's municipality. Refused with 409 and the
        reason when the case is not due for referral, has no municipality, or no consent covers it."""
        session = db_session()
        with http_refusals(ReferralStateError):
            referral = services.send(
                session,
                current_actor(),
                case_id,
                engine=runtime().engine,
                include_district_team=data["include_district_team"],
                origin=origin(),
            )
        session.commit()
        case = session.get_one(Case, referral.case_id)
        return _out(session, referral, case), 201, {"Location": f"/api/v1/referrals/{referral.id}"}


@blp.route("/cases/<id:case_id>/referral-readiness")
class Readiness(MethodView):
    @blp.response(200, ReadinessOut)
    def get(self, case_id: int) -> dict[str, Any]:
        """Whether you can send the case's referral now, and if not, what stands in the way and what to do first
        (`where`: "case", "municipality" or "consent"), first things first."""
        actor = current_actor()
        session = db_session()
        case = get_case(session, actor, case_id)
        engine = runtime().engine
        blockers = readiness.send_blockers(session, engine, case, actor, today=engine.today())
        session.commit()
        return {"can_send": not blockers, "blockers": blockers}


@blp.route("/referrals")
class Inbox(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, ReferralOut(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """The referrals in your scope, the newest first: for a municipality its inbox (urgent ones on top); with
        status=refused, a municipality gets the referrals it refused itself."""
        session = db_session()
        actor = current_actor()
        if actor.role is Role.MUNICIPALITY and args.get("status") == ReferralStatus.REFUSED.value:
            # A refusal ends the municipality's access to the case, not to its own decisions (docs/referrals.md).
            rows = read_refused_by(session, actor, origin=origin())
        else:
            rows = read_inbox(session, actor, status=args.get("status"), origin=origin())
        session.commit()
        return [_out(session, referral, case) for referral, case in rows]


@blp.route("/referrals/<id:referral_id>")
class ReferralDetail(MethodView):
    @blp.response(200, ReferralOut)
    def get(self, referral_id: int) -> dict[str, Any]:
        session = db_session()
        referral = read_referral(session, current_actor(), referral_id, origin=origin())
        session.commit()
        return _out(session, referral, session.get_one(Case, referral.case_id))


@blp.route("/referrals/<id:referral_id>/accept")
class Accept(MethodView):
    @blp.arguments(AcceptIn)
    @blp.response(200, ReferralOut)
    def post(self, data: dict[str, Any], referral_id: int) -> dict[str, Any]:
        """The municipality accepts, with the date of the first conversation (Wgs: within 4 weeks, 3 working
        days on a threat; a later date is accepted but marked as a breach)."""
        session = db_session()
        with http_refusals(ReferralStateError):
            referral = services.accept(
                session,
                current_actor(),
                referral_id,
                engine=runtime().engine,
                first_conversation_on=data["first_conversation_on"],
                origin=origin(),
            )
        session.commit()
        return _out(session, referral, session.get_one(Case, referral.case_id))


@blp.route("/referrals/<id:referral_id>/refuse")
class Refuse(MethodView):
    @blp.arguments(RefuseIn)
    @blp.response(200, ReferralOut)
    def post(self, data: dict[str, Any], referral_id: int) -> dict[str, Any]:
        """The municipality refuses: 'not_resident' sends the case back for re-routing, 'other' closes it."""
        session = db_session()
        with http_refusals(ReferralStateError):
            referral = services.refuse(
                session,
                current_actor(),
                referral_id,
                engine=runtime().engine,
                kind=data["kind"],
                reason=data["reason"],
                origin=origin(),
            )
        session.commit()
        return _out(session, referral, session.get_one(Case, referral.case_id))


@blp.route("/referrals/<id:referral_id>/retry")
class Retry(MethodView):
    @blp.response(200, ReferralOut)
    def post(self, referral_id: int) -> dict[str, Any]:
        """Try a failed delivery again (after fixing the municipality's address or ZGW settings)."""
        session = db_session()
        with http_refusals(ReferralStateError):
            referral = services.retry_delivery(session, current_actor(), referral_id, origin=origin())
        session.commit()  # the outbox enqueues its delivery job after this commit, as for a new referral
        return _out(session, referral, session.get_one(Case, referral.case_id))


def _pdf(referral_id: int, which: str) -> Response:
    session = db_session()
    with http_refusals(ReferralStateError):
        referral, key = services.referral_file(session, current_actor(), referral_id, which, origin=origin())
    data = runtime().store.get(key)
    session.commit()
    name = "overdrachtsdossier" if which == "handover" else "samenvatting"
    return pdf_response(data, f"{name}-{referral.case_id}-{referral.sequence}.pdf")


@blp.route("/referrals/<id:referral_id>/handover")
class HandoverContents(MethodView):
    @blp.response(200, HandoverOut)
    def get(self, referral_id: int) -> Any:
        """The handover file's main contents as of today (urgency and the Wgs term, the debts with their amounts and
        status, the totals), made on demand: readable before the decision, also while the delivered PDF is not
        made yet. Audited as `referral.handover_view`; the full file is the PDF."""
        session = db_session()
        engine = runtime().engine
        settings = runtime().settings
        sender = Sender(settings.sender_name, settings.sender_address, settings.sender_phone, settings.sender_email,
                        settings.public_url)  # fmt: skip
        _, handover = services.handover_contents(
            session, current_actor(), referral_id, sender=sender, today=engine.today(), origin=origin()
        )
        session.commit()
        return handover


@blp.route("/referrals/<id:referral_id>/handover.pdf")
class HandoverPdf(MethodView):
    @blp.response(200, content_type="application/pdf")
    def get(self, referral_id: int) -> Response:
        """The handover file as delivered: L8 followed by the overview of the case and its debts."""
        return _pdf(referral_id, "handover")


@blp.route("/referrals/<id:referral_id>/summary.pdf")
class SummaryPdf(MethodView):
    @blp.response(200, content_type="application/pdf")
    def get(self, referral_id: int) -> Response:
        """The detainee's one-page summary in plain Dutch (B1), for the PI to print and hand over."""
        return _pdf(referral_id, "summary")


@blp.route("/municipalities/<id:municipality_id>/delivery")
class Delivery(MethodView):
    @blp.arguments(DeliveryIn)
    @blp.response(200, DeliveryIn)
    def put(self, data: dict[str, Any], municipality_id: int) -> dict[str, Any]:
        """How a municipality receives referrals (administrator): e-mail, or its ZGW Zaken and Documenten APIs,
        and the address of its social district team. The ZGW secret itself stays in the environment."""
        session = db_session()
        with http_refusals():  # another role: 403, as before the rule moved into the domain
            row = delivery_settings.set_delivery(session, current_actor(), municipality_id, data, origin=origin())
        session.commit()
        return {name: getattr(row, name) for name in delivery_settings.FIELDS}


class TaskOut(DutchSchema):
    kind = fields.String()
    title = fields.String()
    case_id = fields.Integer()
    detail = fields.String()
    due_on = fields.Date(allow_none=True)
    urgent = fields.Boolean()
    object_id = fields.Integer(allow_none=True)


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.response(200, TaskOut(many=True))
    def get(self) -> list[Any]:
        """Your work for today ("Mijn werk"): answers to read, referrals due, to decide or failed, Wgs breaches,
        releases within six weeks without a referral, failed letters. Only cases in your scope."""
        actor = current_actor()
        session = db_session()
        today = runtime().engine.today()
        items = list_tasks(session, actor, today=today, origin=origin())
        session.commit()
        return items
