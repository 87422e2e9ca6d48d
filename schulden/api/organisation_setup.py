"""/api/v1/organisations: the debt counselling teams and the PIs, listed and created by an administrator.

Setting up production without SQL (issue 14 item 5), the API's side of `schuldroute organisations create-team` and
`create-pi`: the same schemas (TeamIn, PiIn) and services (schulden.organisations.setup). Everyone but an
administrator gets 403 before the body is read. The creating calls take an `Idempotency-Key`, so a retry after a
dropped connection returns the first answer instead of a refusal "code already in use".
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from schulden.api.auth import current_actor
from schulden.api.blueprint import Blueprint
from schulden.api.common import origin, require_role
from schulden.api.idempotency import idempotent
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation
from schulden.organisations.setup import (
    PiIn,
    SetupKind,
    SetupListArgs,
    SetUpOrganisation,
    SetUpOrganisationList,
    SetUpOrganisationSchema,
    TeamIn,
    create_pi,
    create_team,
    get_team_or_pi,
    shown,
    teams_and_pis,
)
from schulden.roles import Role

blp = Blueprint(
    "organisations",
    __name__,
    url_prefix="/api/v1/organisations",
    description="Schuldhulpteams en PI's: inrichten zonder SQL (beheerder)",
)


@blp.before_request
def _administrator_only() -> None:
    """Sign-in (401) and role (403) come before the body is read, so neither leaks what a valid body looks like."""
    require_role(current_actor(), {Role.ADMIN}, "schuldhulpteams en PI's inzien of aanmaken")


def _created(organisation: Organisation) -> tuple[SetUpOrganisation, dict[str, str]]:
    """The 201 answer: the organisation as GET shows it, and where GET finds it."""
    location = url_for("organisations.OrganisationById", organisation_id=organisation.id)
    return shown(db_session(), organisation), {"Location": location, "Cache-Control": "no-store"}


@blp.route("")
class Organisations(MethodView):
    @blp.arguments(SetupListArgs, location="query")
    @blp.response(200, SetUpOrganisationList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The teams and then the PIs, each by name; `kind` for one kind. A PI names its team (`team_id`,
        `team_code`). There are a few dozen, so there are no pages."""
        kind = SetupKind(args["kind"]) if args["kind"] else None
        return {"items": teams_and_pis(db_session(), kind)}


@blp.route("/<id:organisation_id>")
class OrganisationById(MethodView):
    @blp.response(200, SetUpOrganisationSchema)
    def get(self, organisation_id: int) -> SetUpOrganisation:
        """One team or PI; another organisation (a municipality) is 404 here."""
        return get_team_or_pi(db_session(), organisation_id)


@blp.route("/teams")
class Teams(MethodView):
    @idempotent
    @blp.arguments(TeamIn)
    @blp.response(201, SetUpOrganisationSchema)
    def post(self, data: dict[str, Any]) -> tuple[SetUpOrganisation, dict[str, str]]:
        """Create a debt counselling team; its counsellors are then users of it (`users create --organisation`).

        The code (capitals, digits, hyphens; sent in lower case it is stored in capitals) must be unused by any
        organisation: 422 naming `code` otherwise. Audited as `organisation.create`.
        """
        session = db_session()
        team = create_team(session, current_actor(), data, origin=origin())
        session.commit()
        return _created(team)


@blp.route("/pis")
class Pis(MethodView):
    @idempotent
    @blp.arguments(PiIn)
    @blp.response(201, SetUpOrganisationSchema)
    def post(self, data: dict[str, Any]) -> tuple[SetUpOrganisation, dict[str, str]]:
        """Create a PI working with the team whose code `team` is (422 naming `team` when there is none).

        The address is the post address the detainee's own letters carry. Audited as `organisation.create`.
        """
        session = db_session()
        pi = create_pi(session, current_actor(), data, origin=origin())
        session.commit()
        return _created(pi)
