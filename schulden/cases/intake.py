"""Open a case from an intake: the one operation behind POST /api/v1/cases and the intake wizard's detention step.

The input is CaseCreate's output (the request's shape), so every refusal names the field as the request does
("detention.pi_id", "detainee.bsn"): the API answers with it and the wizard shows it at its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from schulden import audit
from schulden.access import bsn_recording_refusal, pi_refusal
from schulden.actors import UserActor
from schulden.cases.insurance import set_insurance
from schulden.cases.models import Case, DetentionType
from schulden.cases.services import open_case
from schulden.errors import ValidationFailed
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from workflows import Engine

#: open_case names fields as the domain does; the intake names them as the request does.
REQUEST_FIELD = {
    "given_names": "detainee.given_names",
    "surname": "detainee.surname",
    "date_of_birth": "detainee.date_of_birth",
    "detention_start": "detention.start",
    "expected_release": "detention.expected_release",
}
#: Roles that work in one PI: without a pi_id their case opens there.
_IN_A_PI = (Role.PI_STAFF, Role.VOLUNTEER)
_OWN_PI_ONLY = "U kunt alleen dossiers openen in uw eigen PI."


def _pi_error(message: str) -> ValidationFailed:
    return ValidationFailed({"detention.pi_id": [message]})


def pi_for(session: Session, actor: UserActor, pi_id: int | None) -> Organisation:
    """The PI the case opens in, if `actor` may act for it (`access.may_act_for_pi`); PI staff's own by default."""
    if pi_id is None and actor.role in _IN_A_PI:
        pi_id = actor.organisation_id
    if pi_id is None:
        raise _pi_error("Kies de PI waar de gedetineerde verblijft.")
    pi = session.get(Organisation, pi_id)
    if pi is None or pi.kind != OrganisationKind.PI.value:
        # PI staff naming another PI are refused as such, not told whether that id is a PI at all.
        if actor.role in _IN_A_PI and pi_id != actor.organisation_id:
            raise _pi_error(_OWN_PI_ONLY)
        raise _pi_error(f"Geen PI met id {pi_id}.")
    refusal = pi_refusal(actor, pi)
    if refusal is not None:
        # A pi_id naming another PI is refused, not silently replaced by the user's own.
        raise _pi_error(_OWN_PI_ONLY if actor.role in _IN_A_PI else refusal)
    return pi


def municipality_for(session: Session, org_id: int | None, field: str) -> Organisation | None:
    """The municipality with this id (None for none), or ValidationFailed naming `field`."""
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    if org is None or org.kind != OrganisationKind.MUNICIPALITY.value:
        raise ValidationFailed({field: [f"Geen gemeente met id {org_id}."]})
    return org


def open_from_intake(
    session: Session, engine: Engine, *, actor: UserActor, data: Mapping[str, Any], origin: str | None = None
) -> Case:
    """Register the detainee and the detention and open the case in draft; writes the `case.create` audit row.

    Checks, in this order: the PI, the BSN (`access.bsn_recording_refusal`), the registration municipality, then
    open_case's rules on the dates. A refusal is ValidationFailed naming the request's field. Does not commit.
    """
    detainee, detention = data["detainee"], data["detention"]
    pi = pi_for(session, actor, detention.get("pi_id"))
    refusal = bsn_recording_refusal(actor) if detainee.get("bsn") else None
    if refusal is not None:
        raise ValidationFailed({"detainee.bsn": [refusal]})
    registration = municipality_for(session, data.get("registration_municipality_id"), "registration_municipality_id")
    try:
        case = open_case(
            session,
            engine,
            actor=actor,
            given_names=detainee["given_names"],
            surname_prefix=detainee.get("surname_prefix"),
            surname=detainee["surname"],
            date_of_birth=detainee["date_of_birth"],
            bsn=detainee.get("bsn"),
            dji_number=detainee.get("dji_number"),
            pi=pi,
            detention_type=DetentionType(detention["type"]),
            detention_start=detention["start"],
            expected_release=detention.get("expected_release"),
            intended_postcode=data.get("intended_postcode"),
            registration_municipality=registration,
        )
    except ValidationFailed as exc:
        raise ValidationFailed({REQUEST_FIELD.get(k, k): v for k, v in exc.errors.items()}) from None
    if data.get("health_insurer_id") or data.get("health_policy_number") or data.get("benefits"):
        set_insurance(
            session, engine, actor, case, insurer_id=data.get("health_insurer_id"),
            policy_number=data.get("health_policy_number"), benefits=data.get("benefits") or [], origin=origin,
        )  # fmt: skip
    audit.record(
        session, actor=actor, action="case.create", object_type="case", object_id=case.id, case_id=case.id,
        origin=origin,
    )  # fmt: skip
    return case
