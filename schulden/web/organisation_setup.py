"""Beheer of the debt counselling teams and the PIs (/beheer/organisaties): production set up without SQL.

The pages' side of `schuldroute organisations` and POST /api/v1/organisations/teams|pis: the same schemas (TeamIn,
PiIn, with their Dutch messages per field) and services (schulden.organisations.setup), so a code that is taken or
a team that does not exist is refused here as there. A PI's team is chosen from the teams that exist.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError

from schulden.errors import ValidationFailed
from schulden.http.clients import client_address
from schulden.http.requests import db_session
from schulden.organisations.setup import PiIn, SetupKind, TeamIn, create_pi, create_team, teams_and_pis
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required
from schulden.web.figures import field_messages

blp = Blueprint("organisaties_beheer", __name__, url_prefix="/beheer/organisaties")

LABELS = {
    "name": "Naam",
    "code": "Code",
    "team": "Schuldhulpteam",
    "email": "E-mailadres",
    "address_line": "Adres of postbus",
    "postcode": "Postcode",
    "city": "Plaats",
}
TEAM_FIELDS = ("name", "code", "email")
PI_FIELDS = ("name", "code", "team", "email", "address_line", "postcode", "city")


@blp.get("")
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """The teams, and the PIs each with its team."""
    session = db_session()
    return render_template(
        "beheer/organisations.html",
        teams=teams_and_pis(session, SetupKind.TEAM),
        pis=teams_and_pis(session, SetupKind.PI),
    )


def _form_page(
    kind: SetupKind, values: dict[str, Any], errors: dict[str, list[str]], status: int = 200
) -> ResponseReturnValue:
    teams = teams_and_pis(db_session(), SetupKind.TEAM)
    return (
        render_template(
            "beheer/organisation_new.html",
            kind=kind.value,
            values=values,
            errors=errors,
            labels=LABELS,
            teams=[(team.code, f"{team.name} ({team.code})") for team in teams],
        ),
        status,
    )


def _add(kind: SetupKind, schema: Schema, names: tuple[str, ...]) -> ResponseReturnValue:
    """The form (GET) or its handling (POST): the schema's and the service's messages per field, or saved."""
    if request.method == "GET":
        return _form_page(kind, {}, {})
    session = db_session()
    form = {name: request.form.get(name, "").strip() for name in names}
    try:
        data = schema.load(form)
        create = create_team if kind is SetupKind.TEAM else create_pi
        organisation = create(session, current_actor(), data, origin=client_address())
    except ValidationError as exc:
        return _refused(kind, form, field_messages(exc))
    except ValidationFailed as exc:
        return _refused(kind, form, exc.errors)
    session.commit()
    flash(f"{organisation.name} is toegevoegd.", "ok")
    return redirect(url_for("organisaties_beheer.index"), 303)


def _refused(kind: SetupKind, form: dict[str, str], errors: dict[str, list[str]]) -> ResponseReturnValue:
    db_session().rollback()
    return _form_page(kind, form, errors, 422)


@blp.route("/schuldhulpteam-toevoegen", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def add_team() -> ResponseReturnValue:
    return _add(SetupKind.TEAM, TeamIn(), TEAM_FIELDS)


@blp.route("/pi-toevoegen", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def add_pi() -> ResponseReturnValue:
    return _add(SetupKind.PI, PiIn(), PI_FIELDS)
