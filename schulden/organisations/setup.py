"""Setting up production without SQL: the debt counselling teams (organisations of kind "operator") and the PIs
that work with them.

One rule set and one operation for the command line (`schuldroute organisations ...`), the API
(/api/v1/organisations) and Beheer (/beheer/organisaties): the schemas name every field's rule in Dutch, the
services refuse a code that is taken and a team that does not exist. Only an administrator or the system (the
command line) may do this. Services take a session and an actor, write one audit row per organisation and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from marshmallow import fields, pre_load, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import SystemActor, UserActor
from schulden.audit import record
from schulden.errors import NotFound, NotPermitted, ValidationFailed
from schulden.fields import DutchSchema, Name, PlainText, Postcode, length, one_of
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.organisations.schemas import EMAIL
from schulden.roles import Role

#: A DJI location code or a team's own short code: what `users create --organisation` and `letters print-batch
#: --pi` are given. Capitals, so that one organisation cannot appear under two spellings.
CODE_RULE = r"^[A-Z0-9][A-Z0-9-]{1,15}$"
CODE_MESSAGE = "Een code is 2 tot 16 tekens: hoofdletters, cijfers en streepjes, bijv. PI-ZWOLLE."
REQUIRED = ("name", "code", "team")
CHOOSE_TEAM = "Kies het schuldhulpteam waarmee de PI werkt."


class _OrganisationIn(DutchSchema):
    name = Name(required=True)
    code = fields.String(required=True, validate=validate.Regexp(CODE_RULE, error=CODE_MESSAGE))
    email = fields.String(load_default=None, allow_none=True, validate=[length(None, 254), EMAIL])

    @pre_load
    def _tidy(self, data: Any, **_kwargs: Any) -> Any:
        """A code is compared in capitals (pi-zwolle is PI-ZWOLLE); an empty optional field is "not given"."""
        if not hasattr(data, "items"):
            return data
        tidy = {key: value for key, value in data.items() if value != "" or key in REQUIRED}
        for key in ("code", "team"):
            if isinstance(tidy.get(key), str):
                tidy[key] = tidy[key].strip().upper()
        return tidy


class TeamIn(_OrganisationIn):
    """A debt counselling team: its counsellors are users of it, and the PIs it works for point to it."""


class PiIn(_OrganisationIn):
    """A PI (penitentiaire inrichting) and the code of the team that counsels its detainees. The post address is
    the one the detainee's own letters carry."""

    # Empty is "no team chosen" (the page's select left at its first option): say that, not a length rule.
    team = fields.String(
        required=True,
        validate=[validate.Length(min=1, error=CHOOSE_TEAM), length(None, 16)],
        metadata={"description": "De code van het team."},
    )
    address_line = PlainText(maximum=200, load_default=None, allow_none=True)
    postcode = Postcode(load_default=None, allow_none=True)
    city = PlainText(maximum=100, load_default=None, allow_none=True)


def _require_setup_right(actor: UserActor | SystemActor) -> None:
    if isinstance(actor, UserActor) and actor.role is not Role.ADMIN:
        raise NotPermitted("Uw rol mag geen PI's of schuldhulpteams aanmaken.")


def by_code(session: Session, code: str) -> Organisation | None:
    """The organisation with this code, of any kind (new codes are unique over all kinds, see `_code_taken`)."""
    return session.scalars(select(Organisation).where(Organisation.code == code).order_by(Organisation.id)).first()


def _code_taken(session: Session, code: str) -> dict[str, list[str]]:
    # The database makes (kind, code) unique; the commands look organisations up by code alone, so a code is
    # refused when any organisation has it.
    taken = by_code(session, code)
    return {"code": [f"De code {code} is al in gebruik ({taken.name})."]} if taken is not None else {}


def _create(
    session: Session, actor: UserActor | SystemActor, organisation: Organisation, origin: str | None
) -> Organisation:
    session.add(organisation)
    session.flush()
    details: dict[str, Any] = {"kind": organisation.kind, "code": organisation.code}
    if organisation.counselling_team_id is not None:
        details["counselling_team_id"] = organisation.counselling_team_id
    record(session, actor=actor, action="organisation.create", object_type="organisation", object_id=organisation.id,
           origin=origin, details=details)  # fmt: skip
    return organisation


def create_team(
    session: Session, actor: UserActor | SystemActor, data: dict[str, Any], *, origin: str | None = None
) -> Organisation:
    """Create a debt counselling team from `data` as TeamIn loaded it; ValidationFailed names the field."""
    _require_setup_right(actor)
    if errors := _code_taken(session, data["code"]):
        raise ValidationFailed(errors)
    team = Organisation(kind=OrganisationKind.OPERATOR.value, name=data["name"], code=data["code"],
                        email=data.get("email"))  # fmt: skip
    return _create(session, actor, team, origin)


def create_pi(
    session: Session, actor: UserActor | SystemActor, data: dict[str, Any], *, origin: str | None = None
) -> Organisation:
    """Create a PI from `data` as PiIn loaded it, working with the team whose code `data["team"]` is."""
    _require_setup_right(actor)
    errors = _code_taken(session, data["code"])
    team = session.scalar(
        select(Organisation).where(Organisation.kind == OrganisationKind.OPERATOR.value,
                                   Organisation.code == data["team"])
    )  # fmt: skip
    if team is None:
        errors["team"] = [f"Er is geen schuldhulpteam met code {data['team']}; maak het team eerst aan."]
    if errors or team is None:
        raise ValidationFailed(errors)
    pi = Organisation(
        kind=OrganisationKind.PI.value,
        name=data["name"],
        code=data["code"],
        email=data.get("email"),
        address_line=data.get("address_line"),
        postcode=data.get("postcode"),
        city=data.get("city"),
        counselling_team_id=team.id,
    )
    return _create(session, actor, pi, origin)


def list_organisations(session: Session, kind: OrganisationKind | None = None) -> list[Organisation]:
    """The organisations (of one kind), by kind and name."""
    query = select(Organisation).order_by(Organisation.kind, Organisation.name, Organisation.id)
    if kind is not None:
        query = query.where(Organisation.kind == kind.value)
    return list(session.scalars(query))


# -- what the API and Beheer show -------------------------------------------------------------------------------------


class SetupKind(StrEnum):
    """The two kinds set up here, by the names the API and Beheer use (a team is stored as kind "operator")."""

    TEAM = "team"
    PI = "pi"


STORED_KIND = {SetupKind.TEAM: OrganisationKind.OPERATOR, SetupKind.PI: OrganisationKind.PI}
_SETUP_KIND = {stored.value: kind for kind, stored in STORED_KIND.items()}


@dataclass(frozen=True)
class SetUpOrganisation:
    """A team or a PI as it is shown: a PI with the code and name of its team, so no reader looks it up again."""

    id: int
    kind: SetupKind
    code: str | None
    name: str
    email: str | None
    address_line: str | None = None
    postcode: str | None = None
    city: str | None = None
    team_id: int | None = None
    team_code: str | None = None
    team_name: str | None = None


def _shown(organisation: Organisation, teams: dict[int, Organisation]) -> SetUpOrganisation:
    kind = _SETUP_KIND[organisation.kind]
    shown = SetUpOrganisation(id=organisation.id, kind=kind, code=organisation.code, name=organisation.name,
                              email=organisation.email)  # fmt: skip
    if kind is not SetupKind.PI:
        return shown
    team = teams.get(organisation.counselling_team_id) if organisation.counselling_team_id else None
    return replace(shown, address_line=organisation.address_line, postcode=organisation.postcode,
                   city=organisation.city, team_id=organisation.counselling_team_id,
                   team_code=team.code if team else None, team_name=team.name if team else None)  # fmt: skip


def _teams_by_id(session: Session) -> dict[int, Organisation]:
    return {team.id: team for team in list_organisations(session, OrganisationKind.OPERATOR)}


def teams_and_pis(session: Session, kind: SetupKind | None = None) -> list[SetUpOrganisation]:
    """The teams and then the PIs (or one kind), each by name. Municipalities have their own list
    (`organisations.services.municipalities`)."""
    teams = _teams_by_id(session)
    kinds = [kind] if kind is not None else list(SetupKind)
    return [_shown(organisation, teams)
            for wanted in kinds for organisation in list_organisations(session, STORED_KIND[wanted])]  # fmt: skip


def shown(session: Session, organisation: Organisation) -> SetUpOrganisation:
    """One team or PI as it is shown (a created one, for the API's answer)."""
    return _shown(organisation, _teams_by_id(session))


def get_team_or_pi(session: Session, organisation_id: int) -> SetUpOrganisation:
    """One team or PI; NotFound for any other organisation too (a municipality is not set up here)."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or organisation.kind not in _SETUP_KIND:
        raise NotFound("organisation", organisation_id)
    return shown(session, organisation)


class SetupListArgs(DutchSchema):
    kind = fields.String(
        load_default=None,
        validate=one_of([kind.value for kind in SetupKind]),
        metadata={"description": "Alleen schuldhulpteams (`team`) of alleen PI's (`pi`)."},
    )

    @pre_load
    def _drop_empty(self, data: Any, **_kwargs: Any) -> Any:
        """`?kind=` means "both kinds", as a form with nothing chosen sends it."""
        return {key: value for key, value in data.items() if value != ""} if hasattr(data, "items") else data


class SetUpOrganisationSchema(DutchSchema):
    """A team or a PI as the API shows it; address and team only for a PI (null for a team)."""

    id = fields.Integer()
    kind = fields.String(metadata={"description": "`team` (schuldhulpteam) of `pi`."})
    code = fields.String(allow_none=True)
    name = fields.String()
    email = fields.String(allow_none=True)
    address_line = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    team_id = fields.Integer(allow_none=True, metadata={"description": "Het schuldhulpteam van een PI."})
    team_code = fields.String(allow_none=True)


class SetUpOrganisationList(DutchSchema):
    items = fields.List(fields.Nested(SetUpOrganisationSchema))
