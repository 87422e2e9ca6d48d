"""Beheer of the municipalities: their debt counselling team's address and how they receive referrals.

A failed delivery in the administrator's Mijn werk leads here ("Aflevering instellen"): the administrator puts the
team's e-mail address or the zaaksysteem (ZGW) settings right, saves, and sends the municipality's failed referrals
again. The rules are the API's: MunicipalityUpdate and correct_team for the team (PATCH /municipalities/{id}),
DeliveryIn and set_delivery for the delivery (PUT /municipalities/{id}/delivery).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import func, select

from schulden.errors import NotFound
from schulden.http.clients import client_address
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation
from schulden.organisations.schemas import MunicipalityUpdate
from schulden.organisations.services import TEAM_FIELDS, correct_team, get_municipality, municipalities
from schulden.referrals import delivery_settings, lifecycle
from schulden.referrals.delivery_settings import ZGW_REQUIRED, DeliveryIn
from schulden.referrals.models import DeliveryChannel, Referral, ReferralStatus
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required
from schulden.web.figures import field_messages

blp = Blueprint("gemeenten_beheer", __name__, url_prefix="/beheer/gemeenten")

LABELS = {
    "team_name": "Naam van het team schuldhulpverlening",
    "email": "E-mailadres van het team",
    "address_line": "Adres of postbus",
    "postcode": "Postcode",
    "city": "Plaats",
    "channel": "Hoe ontvangt de gemeente verwijzingen?",
    "district_team_name": "Naam van het sociaal wijkteam",
    "district_team_email": "E-mailadres van het sociaal wijkteam",
    "zaken_api_url": "Adres van de Zaken API",
    "documenten_api_url": "Adres van de Documenten API",
    "zgw_client_id": "Client-id",
    "zgw_secret_setting": "Naam van de omgevingsvariabele met het geheim",
    "zaaktype_url": "Zaaktype (URL in de catalogus)",
    "statustype_url": "Statustype (URL)",
    "roltype_url": "Roltype (URL)",
    "informatieobjecttype_url": "Informatieobjecttype (URL)",
    "bronorganisatie": "RSIN van de gemeente (bronorganisatie)",
}
CHANNELS = [
    (DeliveryChannel.EMAIL.value, "Per e-mail aan het team schuldhulpverlening"),
    (DeliveryChannel.ZGW.value, "Als zaak in het zaaksysteem van de gemeente (ZGW Zaken en Documenten API)"),
]
PAGE_SIZE = 50


def _stand(referral: Referral) -> str:
    if referral.status == ReferralStatus.FAILED.value:
        return "Mislukt"
    if lifecycle.waiting_for_settings(referral):
        return "Wacht op de e-mailinstellingen van de server"
    return "Wordt afgeleverd"


@blp.get("")
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """The municipalities, found by name (there are 342)."""
    session = db_session()
    q = (request.args.get("q") or "").strip()[:100]
    query = municipalities().order_by(Organisation.name)
    if q:
        query = query.where(func.lower(Organisation.name).contains(q.lower(), autoescape=True))
    found = list(session.scalars(query.limit(PAGE_SIZE)))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return render_template("beheer/municipalities.html", found=found, total=total, q=q, page_size=PAGE_SIZE)


def _values(municipality: Organisation, delivery: dict[str, Any]) -> dict[str, Any]:
    team = {name: getattr(municipality, name) or "" for name in TEAM_FIELDS}
    return team | {name: "" if value is None else value for name, value in delivery.items()}


def _page(
    municipality_id: int, values: dict[str, Any], errors: dict[str, list[str]], status: int = 200
) -> ResponseReturnValue:
    session = db_session()
    actor = current_actor()
    municipality, _ = delivery_settings.current(session, actor, municipality_id)
    waiting = delivery_settings.waiting_referrals(session, actor, municipality_id)
    return (
        render_template(
            "beheer/municipality.html",
            municipality=municipality,
            values=values,
            errors=errors,
            labels=LABELS,
            channels=CHANNELS,
            zgw_fields=ZGW_REQUIRED,
            waiting=[(r, _stand(r), lifecycle.failure_reason(r) or "\N{EN DASH}") for r in waiting],
            failed=sum(1 for r in waiting if r.status == ReferralStatus.FAILED.value),
        ),
        status,
    )


@blp.route("/<int:municipality_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def municipality(municipality_id: int) -> ResponseReturnValue:
    session = db_session()
    actor = current_actor()
    try:
        found, delivery = delivery_settings.current(session, actor, municipality_id)
    except NotFound:
        abort(404)
    if request.method == "GET":
        return _page(municipality_id, _values(found, delivery), {})
    form = {name: request.form.get(name, "").strip() for name in LABELS}
    errors: dict[str, list[str]] = {}
    team: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    try:
        team = MunicipalityUpdate().load({name: form[name] or None for name in TEAM_FIELDS})
    except ValidationError as exc:
        errors |= field_messages(exc)
    try:
        settings = DeliveryIn().load({name: form[name] or None for name in delivery_settings.FIELDS})
    except ValidationError as exc:
        errors |= field_messages(exc)
    if not errors and settings["channel"] == DeliveryChannel.EMAIL.value and not team.get("email"):
        errors["email"] = ["Vul het e-mailadres van het team in: verwijzingen gaan per e-mail naar dat adres."]
    if errors:
        session.rollback()
        return _page(municipality_id, form, errors, 422)
    target = get_municipality(session, municipality_id, for_update=True)
    correct_team(session, target, actor=actor, data=team, origin=client_address())
    delivery_settings.set_delivery(session, actor, municipality_id, settings, origin=client_address())
    session.commit()
    flash(f"De gegevens van {target.name} zijn opgeslagen.", "ok")
    return redirect(url_for("gemeenten_beheer.municipality", municipality_id=municipality_id), 303)


@blp.post("/<int:municipality_id>/opnieuw-versturen")
@roles_required(Role.ADMIN)
def retry(municipality_id: int) -> ResponseReturnValue:
    """Every failed referral to this municipality goes again, with the settings as they are now."""
    session = db_session()
    try:
        count = delivery_settings.retry_failed(session, current_actor(), municipality_id, origin=client_address())
    except NotFound:
        abort(404)
    session.commit()  # the delivery jobs start after this commit
    if count:
        flash(f"{count} {'verwijzing wordt' if count == 1 else 'verwijzingen worden'} opnieuw verstuurd.", "ok")
    else:
        flash("Er was geen mislukte verwijzing om opnieuw te versturen.", "info")
    return redirect(url_for("gemeenten_beheer.municipality", municipality_id=municipality_id), 303)
