"""/api/v1/municipalities: the 342 municipalities, their debt counselling teams, and the routing proposal.

Any signed-in user may read them. The team's contact details (where referrals go) are kept by an administrator,
or by the municipality's own users for their own municipality. Organisation has no version column, so the ETag is
weak: a hash of the editable fields; a correction must name it in If-Match and a stale one is refused (412).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from sqlalchemy import and_, or_
from werkzeug.exceptions import Forbidden, PreconditionFailed, PreconditionRequired

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin
from schulden.cases.models import RoutingRule
from schulden.errors import ValidationFailed
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation, PostcodeArea
from schulden.organisations.schemas import (
    MAX_ID,
    MunicipalityPage,
    MunicipalitySchema,
    MunicipalitySearchArgs,
    MunicipalityUpdate,
    ProposalArgs,
    ProposalSchema,
)
from schulden.organisations.services import correct_team, get_municipality, may_edit_team, municipalities, team_version
from schulden.paging import decode_cursor, encode_cursor
from schulden.routing import propose_municipality

blp = Blueprint(
    "municipalities",
    __name__,
    url_prefix="/api/v1/municipalities",
    description="Gemeenten: schuldhulpteams en de voorgestelde gemeente",
)

_INVALID_CURSOR = "Ongeldige cursor; gebruik de waarde van 'next' uit het vorige antwoord."


@blp.before_request
def _signed_in_and_allowed() -> None:
    """Sign-in (401) and the right to edit (403) come before the body is read."""
    actor = current_actor()
    writes = request.method in {"POST", "PUT", "PATCH", "DELETE"}
    if writes and not may_edit_team(actor, (request.view_args or {}).get("municipality_id")):
        raise Forbidden("Alleen een beheerder, of de gemeente zelf, mag de gegevens van het schuldhulpteam wijzigen.")


def etag(municipality: Organisation) -> str:
    """A weak ETag: the team's version (the representation may differ in other fields)."""
    return f'W/"{team_version(municipality)}"'


def _check_if_match(current: str) -> None:
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired(
            'Stuur de versie mee in If-Match (de ETag uit de laatste GET), bijv. If-Match: W/"...".'
        )
    # Weak comparison (RFC 9110 8.8.3.2): our ETag is weak, and W/ may be dropped by the client.
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" not in wanted and current.removeprefix("W/") not in wanted:
        raise PreconditionFailed("Dit is intussen gewijzigd; haal de gemeente opnieuw op en probeer het nog eens.")


def _headers(municipality: Organisation) -> dict[str, str]:
    return {"ETag": etag(municipality), "Cache-Control": "no-cache"}


@blp.route("")
class Municipalities(MethodView):
    @blp.arguments(MunicipalitySearchArgs, location="query")
    @blp.response(200, MunicipalityPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search municipalities by name (any case) or CBS code; ordered by name, `limit` per page."""
        query = municipalities()
        q = (args["q"] or "").strip()
        if q:
            query = query.where(or_(Organisation.name.icontains(q, autoescape=True), Organisation.code == q.upper()))
        if args["after"] is not None:
            name, last_id = decode_cursor(args["after"], 2)
            if not isinstance(name, str) or not isinstance(last_id, int) or not 0 < last_id <= MAX_ID:
                raise ValidationFailed({"after": [_INVALID_CURSOR]})
            query = query.where(
                or_(Organisation.name > name, and_(Organisation.name == name, Organisation.id > last_id))
            )
        limit: int = args["limit"]
        rows = list(db_session().scalars(query.order_by(Organisation.name, Organisation.id).limit(limit + 1)))
        cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            cursor = encode_cursor([rows[-1].name, rows[-1].id])
        return {"items": rows, "next": cursor}


@blp.route("/proposal")
class Proposal(MethodView):
    @blp.arguments(ProposalArgs, location="query")
    @blp.response(200, ProposalSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The proposed municipality of return: that of the intended address (by PC4, approximate), else that of
        registration before detention. Names the rule and a reason a person can check."""
        session = db_session()
        registration = None
        if args["registration_municipality_id"] is not None:
            registration = session.scalar(
                municipalities().where(Organisation.id == args["registration_municipality_id"])
            )
            if registration is None:
                raise ValidationFailed({"registration_municipality_id": ["Onbekende gemeente."]})
        postcode: str | None = args["postcode"]
        proposal = propose_municipality(session, intended_postcode=postcode, registration_municipality=registration)
        approximate = False
        reason = proposal.reason
        if proposal.rule is RoutingRule.INTENDED_ADDRESS and postcode:
            area = session.get(PostcodeArea, postcode[:4])
            approximate = area is None or area.approximate
        elif postcode:
            reason = f"Postcodegebied {postcode[:4]} staat niet in de tabel. {reason}"
        return {
            "municipality": proposal.municipality,
            "rule": proposal.rule.value if proposal.rule else None,
            "reason": reason,
            "approximate": approximate,
        }


@blp.route("/<id:municipality_id>")
class MunicipalityById(MethodView):
    @blp.response(200, MunicipalitySchema)
    def get(self, municipality_id: int) -> tuple[Any, dict[str, str]]:
        """One municipality; the (weak) ETag is for If-Match on a correction."""
        municipality = get_municipality(db_session(), municipality_id)
        return municipality, _headers(municipality)

    @blp.arguments(MunicipalityUpdate)
    @blp.response(200, MunicipalitySchema)
    @blp.alt_response(412, description="If-Match is niet de huidige versie: haal opnieuw op.")
    @blp.alt_response(428, description="If-Match ontbreekt.")
    def patch(self, data: dict[str, Any], municipality_id: int) -> tuple[Any, dict[str, str]]:
        """Correct the debt counselling team's contact details (administrator, or the municipality itself).

        Requires If-Match with the ETag of the last GET."""
        session = db_session()
        municipality = get_municipality(session, municipality_id, for_update=True)
        _check_if_match(etag(municipality))
        if correct_team(session, municipality, actor=current_actor(), data=data, origin=origin()):
            session.commit()
        return municipality, _headers(municipality)
