"""/api/v1/creditors: the creditor directory (search, add, correct, propose a change of contact data).

Any signed-in user may read it (creditor data is not personal data). Counsellors, PI staff and administrators
may add creditors and correct a creditor's kind, category and KvK number. The contact data (where letters go,
whether they may carry the BSN, how sure the address is: `CONTACT_FIELDS`) is shared by every organisation, so
only an administrator changes it; the others propose a change (POST .../change-proposals), which an administrator
approves or rejects. A PATCH of contact fields by anyone else is refused with 403 before the creditor is read,
so nothing is written. A correction names the version it was based on (If-Match with the ETag of the last
GET); a stale one is refused with 412.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView
from werkzeug.exceptions import Conflict

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, etag_for, origin, require_role
from schulden.api.idempotency import idempotent
from schulden.api.refusals import http_refusals
from schulden.creditors.models import CreditorChangeProposal
from schulden.creditors.schemas import (
    ChangeProposalArgs,
    ChangeProposalCreate,
    ChangeProposalPage,
    ChangeProposalSchema,
    CreditorCreate,
    CreditorPage,
    CreditorSchema,
    CreditorSearchArgs,
    CreditorUpdate,
)
from schulden.creditors.services import (
    MAX_ID,
    AlreadyDecided,
    Position,
    check_contact_change,
    create_creditor,
    decide_proposal,
    get_creditor,
    get_proposal,
    list_proposals,
    propose_change,
    search_creditors,
    update_creditor,
)
from schulden.errors import ValidationFailed
from schulden.http.requests import db_session
from schulden.paging import decode_cursor, encode_cursor
from schulden.roles import Role

blp = Blueprint(
    "creditors", __name__, url_prefix="/api/v1/creditors", description="Schuldeisers: het adressenoverzicht"
)

#: Roles that may add and correct creditors.
CREDITOR_WRITERS = frozenset({Role.COUNSELLOR, Role.PI_STAFF, Role.ADMIN})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The administrator's side of the proposals: the queue and the decisions.
_ADMIN_ENDPOINTS = frozenset(
    {
        "creditors.ChangeProposals",
        "creditors.ChangeProposalById",
        "creditors.ApproveChangeProposal",
        "creditors.RejectChangeProposal",
    }
)


@blp.before_request
def _signed_in_and_allowed() -> None:
    """Sign-in (401) and role (403) come before the body is read, so neither leaks what a valid body looks like."""
    actor = current_actor()
    if request.endpoint in _ADMIN_ENDPOINTS:
        require_role(actor, {Role.ADMIN}, "voorstellen voor schuldeisers beoordelen")
    elif request.method in _WRITES:
        require_role(actor, CREDITOR_WRITERS, "schuldeisers toevoegen of wijzigen")


def _position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    name, last_id = decode_cursor(cursor, 2)
    if not isinstance(name, str) or not isinstance(last_id, int) or not 0 < last_id <= MAX_ID:
        raise ValidationFailed({"after": ["Ongeldige cursor; gebruik de waarde van 'next' uit het vorige antwoord."]})
    return name, last_id


def _headers(version: int) -> dict[str, str]:
    return {"ETag": etag_for(version), "Cache-Control": "no-cache"}


@blp.route("")
class Creditors(MethodView):
    @blp.arguments(CreditorSearchArgs, location="query")
    @blp.response(200, CreditorPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search creditors by name (any case), kind and category; ordered by name, `limit` per page.

        `next` is the cursor for the following page (pass it as `after`); it is null on the last page.
        """
        items, last = search_creditors(
            db_session(),
            q=args["q"],
            kind=args["kind"],
            category=args["category"],
            limit=args["limit"],
            after=_position(args["after"]),
        )
        return {"items": items, "next": encode_cursor(list(last)) if last else None}

    @idempotent
    @blp.arguments(CreditorCreate)
    @blp.response(201, CreditorSchema)
    def post(self, data: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        """Add a creditor (counsellor, PI staff, administrator). Only an administrator sets `may_receive_bsn`."""
        session = db_session()
        creditor = create_creditor(session, actor=current_actor(), data=data, origin=origin())
        session.commit()
        headers = _headers(creditor.row_version)
        headers["Location"] = url_for("creditors.CreditorById", creditor_id=creditor.id)
        return creditor, headers


@blp.route("/<id:creditor_id>")
class CreditorById(MethodView):
    @blp.response(200, CreditorSchema)
    def get(self, creditor_id: int) -> tuple[Any, dict[str, str]]:
        """One creditor; the ETag header is its version, for If-Match on a correction."""
        creditor = get_creditor(db_session(), creditor_id)
        return creditor, _headers(creditor.row_version)

    @blp.arguments(CreditorUpdate)
    @blp.response(200, CreditorSchema)
    @blp.alt_response(403, description="Contactgegevens wijzigt alleen een beheerder: stel de wijziging voor.")
    @blp.alt_response(412, description="If-Match is niet de huidige versie: haal opnieuw op.")
    @blp.alt_response(428, description="If-Match ontbreekt.")
    def patch(self, data: dict[str, Any], creditor_id: int) -> tuple[Any, dict[str, str]]:
        """Correct a creditor: only the fields sent change. Requires `If-Match: "<row_version>"`.

        Contact fields (name, department, may_receive_bsn, takes_email, email, address_line, postcode, city,
        grade, source_url) only for an administrator; others get 403 and propose the change with
        `POST /api/v1/creditors/{creditor_id}/change-proposals`. Kind, category and KvK number: any writer.
        """
        actor = current_actor()
        with http_refusals():  # before the row is read: the same answer whether or not the creditor exists
            check_contact_change(actor, data, creditor_id)
        session = db_session()
        creditor = get_creditor(session, creditor_id, for_update=True)
        check_if_match(creditor.row_version)
        update_creditor(session, creditor, actor=actor, data=data, origin=origin())
        session.commit()
        return creditor, _headers(creditor.row_version)


def _proposal_headers(proposal: CreditorChangeProposal) -> dict[str, str]:
    return {
        "Location": url_for("creditors.ChangeProposalById", proposal_id=proposal.id),
        "Cache-Control": "no-store",
    }


# Endpoint names stay within 32 characters: a 403 is audited with the endpoint as its object_type (String(32)).
@blp.route("/<id:creditor_id>/change-proposals")
class CreditorProposals(MethodView):
    @idempotent
    @blp.arguments(ChangeProposalCreate)
    @blp.response(201, ChangeProposalSchema)
    def post(self, data: dict[str, Any], creditor_id: int) -> tuple[Any, dict[str, str]]:
        """Propose a change of a creditor's contact data (counsellor, PI staff, administrator).

        Nothing changes until an administrator approves it. Only the fields that differ from the directory are
        kept; a proposal that changes nothing is refused (422). The answer is the stored proposal.
        """
        session = db_session()
        creditor = get_creditor(session, creditor_id)
        proposal = propose_change(session, creditor, actor=current_actor(), data=data, origin=origin())
        session.commit()
        return proposal, _proposal_headers(proposal)


@blp.route("/change-proposals")
class ChangeProposals(MethodView):
    @blp.arguments(ChangeProposalArgs, location="query")
    @blp.response(200, ChangeProposalPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Proposals, oldest first (administrator). By default those waiting for a decision."""
        after = None
        if args["after"] is not None:
            (after,) = decode_cursor(args["after"], 1)
            if not isinstance(after, int) or not 0 < after <= MAX_ID:
                raise ValidationFailed({"after": ["Ongeldige cursor; gebruik de waarde van 'next'."]})
        items, last = list_proposals(
            db_session(), status=args["status"], creditor_id=args["creditor_id"], limit=args["limit"], after=after
        )
        return {"items": items, "next": encode_cursor([last]) if last is not None else None}


@blp.route("/change-proposals/<id:proposal_id>")
class ChangeProposalById(MethodView):
    @blp.response(200, ChangeProposalSchema)
    def get(self, proposal_id: int) -> Any:
        """One proposal (administrator)."""
        return get_proposal(db_session(), proposal_id)


def _decide(proposal_id: int, approve: bool) -> CreditorChangeProposal:
    session = db_session()
    try:
        proposal = decide_proposal(session, proposal_id, actor=current_actor(), approve=approve, origin=origin())
    except AlreadyDecided as exc:
        raise Conflict(f"Dit voorstel is al beoordeeld ({exc.status}).") from exc
    session.commit()
    return proposal


@blp.route("/change-proposals/<id:proposal_id>/approve")
class ApproveChangeProposal(MethodView):
    @blp.response(200, ChangeProposalSchema)
    @blp.alt_response(409, description="Het voorstel is al beoordeeld.")
    def post(self, proposal_id: int) -> Any:
        """Approve (administrator): the proposed values are written to the creditor, audited as its change.

        Letters already made keep the address they were made with; only new letters use the new one.
        """
        return _decide(proposal_id, approve=True)


@blp.route("/change-proposals/<id:proposal_id>/reject")
class RejectChangeProposal(MethodView):
    @blp.response(200, ChangeProposalSchema)
    @blp.alt_response(409, description="Het voorstel is al beoordeeld.")
    def post(self, proposal_id: int) -> Any:
        """Reject (administrator): the creditor stays as it is."""
        return _decide(proposal_id, approve=False)
