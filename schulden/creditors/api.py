"""/api/v1/creditors: the creditor directory (search, add, correct).

Any signed-in user may read it (creditor data is not personal data). Counsellors, PI staff and administrators
may add and correct creditors; whether a creditor may receive the BSN is for administrators only. A correction
names the version it was based on (If-Match with the ETag of the last GET); a stale one is refused with 412.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import check_if_match, decode_cursor, encode_cursor, etag_for, origin, require_role
from schulden.creditors.schemas import CreditorCreate, CreditorPage, CreditorSchema, CreditorSearchArgs, CreditorUpdate
from schulden.creditors.services import (
    MAX_ID,
    Position,
    create_creditor,
    get_creditor,
    search_creditors,
    update_creditor,
)
from schulden.errors import ValidationFailed
from schulden.roles import Role
from schulden.web.requests import db_session

blp = Blueprint(
    "creditors", __name__, url_prefix="/api/v1/creditors", description="Schuldeisers: het adressenoverzicht"
)

#: Roles that may add and correct creditors.
CREDITOR_WRITERS = frozenset({Role.COUNSELLOR, Role.PI_STAFF, Role.ADMIN})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@blp.before_request
def _signed_in_and_allowed() -> None:
    """Sign-in (401) and role (403) come before the body is read, so neither leaks what a valid body looks like."""
    actor = current_actor()
    if request.method in _WRITES:
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
    @blp.alt_response(412, description="If-Match is niet de huidige versie: haal opnieuw op.")
    @blp.alt_response(428, description="If-Match ontbreekt.")
    def patch(self, data: dict[str, Any], creditor_id: int) -> tuple[Any, dict[str, str]]:
        """Correct a creditor: only the fields sent change. Requires `If-Match: "<row_version>"`."""
        session = db_session()
        creditor = get_creditor(session, creditor_id, for_update=True)
        check_if_match(creditor.row_version)
        update_creditor(session, creditor, actor=current_actor(), data=data, origin=origin())
        session.commit()
        return creditor, _headers(creditor.row_version)
