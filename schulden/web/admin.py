"""Beheer: the functional administrator's pages for users, creditors and letter templates (docs/web.md).

Administrators only. The pages call the operations the API and the CLI use (schulden.users.services,
schulden.creditors.services, schulden.letters.templates) and load creditor edits with the same marshmallow schema
(schulden.creditors.schemas), so the rules (who may change where BSN letters go, duplicate names, e-mail needed
for takes_email, a proposal is decided once) are written once, in the domain. Letter texts have their own pages
(schulden/web/letter_texts.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import func, select

from schulden.audit import record
from schulden.creditors.models import Creditor, CreditorChangeProposal, CreditorKind
from schulden.creditors.schemas import CATEGORIES, GRADES, CreditorSearchArgs, CreditorUpdate
from schulden.creditors.services import (
    MAX_ID,
    AlreadyDecided,
    Position,
    decide_proposal,
    get_creditor,
    list_proposals,
    search_creditors,
    update_creditor,
)
from schulden.errors import NotFound, ValidationFailed
from schulden.http.clients import client_address
from schulden.http.requests import db_session
from schulden.letters.content import LETTER_TYPES
from schulden.organisations.models import Organisation
from schulden.paging import decode_cursor, encode_cursor
from schulden.roles import Role
from schulden.users.models import User
from schulden.users.passwords import PASSWORD_RULE
from schulden.users.services import create_user, disable_user, reset_totp
from schulden.web.auth import current_actor, roles_required
from schulden.web.figures import field_messages

blp = Blueprint("beheer", __name__, url_prefix="/beheer")

KIND_LABELS: dict[str, str] = {
    CreditorKind.GOVERNMENT: "Overheid",
    CreditorKind.HEALTH_INSURER: "Zorgverzekeraar",
    CreditorKind.LANDLORD: "Verhuurder",
    CreditorKind.UTILITY: "Energie of water",
    CreditorKind.TELECOM: "Telecom",
    CreditorKind.BANK: "Bank of kredietverstrekker",
    CreditorKind.COLLECTION_AGENCY: "Incassobureau",
    CreditorKind.BAILIFF: "Gerechtsdeurwaarder",
    CreditorKind.OTHER: "Overig",
}
CATEGORY_LABELS: dict[str, str] = {
    "zorg": "Zorg",
    "publiek": "Publiek",
    "nuts": "Nutsvoorzieningen",
    "overig": "Overig",
}
ORGANISATION_KIND_LABELS: dict[str, str] = {
    "pi": "PI",
    "municipality": "Gemeente",
    "probation": "Reclassering",
    "care": "Zorg",
    "operator": "Schuldhulpteam",
}

USER_LABELS = {
    "username": "Gebruikersnaam",
    "display_name": "Naam",
    "role": "Rol",
    "organisation": "Organisatie",
    "password": "Wachtwoord",
}
CREDITOR_LABELS = {
    "name": "Naam",
    "department": "Afdeling",
    "kind": "Soort",
    "category": "Categorie",
    "may_receive_bsn": "Mag het BSN ontvangen",
    "takes_email": "Neemt post per e-mail aan",
    "email": "E-mailadres",
    "address_line": "Adres of postbus",
    "postcode": "Postcode",
    "city": "Plaats",
    "kvk": "KvK-nummer",
    "grade": "Betrouwbaarheid adres",
    "source_url": "Bron (webadres)",
    "row_version": "Versie",
}
#: Text fields of the creditor form; an empty box means "not known" (null), as the API's PATCH with null.
_CREDITOR_TEXT = ("department", "email", "address_line", "postcode", "city", "kvk", "grade", "source_url")
_CREDITOR_FLAGS = ("may_receive_bsn", "takes_email")
PAGE_SIZE = 50


@blp.route("")
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    session = db_session()
    counts = {
        "users": session.scalar(select(func.count(User.id)).where(User.active)) or 0,
        "creditors": session.scalar(select(func.count(Creditor.id))) or 0,
        "templates": len(LETTER_TYPES),
    }
    return render_template("beheer/index.html", counts=counts)


# -- users ------------------------------------------------------------------------------------------------------------


def _organisation_options() -> list[tuple[str, str]]:
    rows = db_session().execute(
        select(Organisation.id, Organisation.name, Organisation.kind)
        .where(Organisation.active)
        .order_by(Organisation.kind, Organisation.name)
    )
    return [(str(row.id), f"{row.name} ({ORGANISATION_KIND_LABELS.get(row.kind, row.kind)})") for row in rows]


def _users_page(values: dict[str, str], errors: dict[str, list[str]], status: int = 200) -> ResponseReturnValue:
    session = db_session()
    users = session.execute(
        select(
            User.id,
            User.username,
            User.display_name,
            User.role,
            User.active,
            User.last_login_at,
            Organisation.name,
            User.totp_confirmed_at,
            User.must_change_password,
        )
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .order_by(User.active.desc(), User.username)
    ).all()
    return (
        render_template(
            "beheer/users.html",
            users=users,
            roles=[(role.value, role.label) for role in Role],
            role_labels={role.value: role.label for role in Role},
            organisations=_organisation_options(),
            labels=USER_LABELS,
            values=values,
            errors=errors,
            me=current_actor().user_id,
            password_rule=PASSWORD_RULE,
        ),
        status,
    )


@blp.get("/gebruikers")
@roles_required(Role.ADMIN)
def users() -> ResponseReturnValue:
    return _users_page({}, {})


@blp.post("/gebruikers")
@roles_required(Role.ADMIN)
def create_user_view() -> ResponseReturnValue:
    values = {key: request.form.get(key, "").strip() for key in ("username", "display_name", "role", "organisation")}
    password = request.form.get("password", "")
    errors: dict[str, list[str]] = {}
    try:
        role = Role(values["role"])
    except ValueError:
        errors["role"] = ["Kies een rol."]
    organisation: Organisation | None = None
    if values["organisation"]:
        found = values["organisation"].isdigit() and int(values["organisation"]) <= MAX_ID
        organisation = db_session().get(Organisation, int(values["organisation"])) if found else None
        if organisation is None:
            errors["organisation"] = ["Kies een organisatie uit de lijst."]
    if len(password) > 1024:
        errors["password"] = ["Een wachtwoord is hooguit 1024 tekens lang."]
    session = db_session()
    if errors:
        if "role" in errors and "password" not in errors:
            # Check the other fields too, so one round trip shows every problem: create_user's own rules, with a
            # role that needs no organisation, in a savepoint that is always undone.
            nested = session.begin_nested()
            try:
                create_user(
                    session,
                    actor=current_actor(),
                    username=values["username"],
                    display_name=values["display_name"],
                    role=Role.ADMIN,
                    password=password,
                    organisation=None,
                    set_by_administrator=True,
                )
            except ValidationFailed as exc:
                errors = {**exc.errors, **errors}
            finally:
                nested.rollback()
        return _users_page(values, errors, 422)
    try:
        user = create_user(
            session,
            actor=current_actor(),
            username=values["username"],
            display_name=values["display_name"],
            role=role,
            password=password,
            organisation=organisation,
            set_by_administrator=True,
        )
    except ValidationFailed as exc:
        session.rollback()
        return _users_page(values, exc.errors, 422)
    record(
        session,
        actor=current_actor(),
        action="user.create",
        object_type="user",
        object_id=user.id,
        origin=client_address(),
        details={"role": role.value},
    )
    session.commit()
    flash(f"Gebruiker {user.username} is aangemaakt. Bij de eerste aanmelding kiest die een eigen wachtwoord.", "ok")
    return redirect(url_for("beheer.users"), 303)


@blp.post("/gebruikers/<int:user_id>/uitschakelen")
@roles_required(Role.ADMIN)
def disable(user_id: int) -> ResponseReturnValue:
    session = db_session()
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        abort(404)
    try:
        changed = disable_user(session, actor=current_actor(), user=user, origin=client_address())
    except ValidationFailed as exc:
        session.rollback()
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for("beheer.users"), 303)
    session.commit()
    if changed:
        flash(f"Gebruiker {user.username} is uitgeschakeld; de sessies van dit account zijn beëindigd.", "ok")
    return redirect(url_for("beheer.users"), 303)


@blp.post("/gebruikers/<int:user_id>/tweestaps-opnieuw")
@roles_required(Role.ADMIN)
def reset_second_factor(user_id: int) -> ResponseReturnValue:
    """Remove a user's TOTP and recovery codes (a lost phone); audited, and the user's sessions end."""
    session = db_session()
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        abort(404)
    if reset_totp(session, actor=current_actor(), user=user, origin=client_address()):
        session.commit()
        flash(f"Tweestapsverificatie van {user.username} is verwijderd en de sessies van dit account zijn beëindigd. "
              "Bij de volgende aanmelding stelt de gebruiker die opnieuw in.", "ok")  # fmt: skip
    return redirect(url_for("beheer.users"), 303)


# -- creditors --------------------------------------------------------------------------------------------------------


def _position(cursor: str | None) -> Position | None:
    if not cursor:
        return None
    try:
        name, last_id = decode_cursor(cursor, 2)
    except ValidationFailed:
        return None
    if not isinstance(name, str) or not isinstance(last_id, int) or not 0 < last_id <= MAX_ID:
        return None
    return name, last_id


@blp.get("/schuldeisers")
@roles_required(Role.ADMIN)
def creditors() -> ResponseReturnValue:
    values = {key: request.args.get(key, "") for key in ("q", "kind", "category")}
    errors: dict[str, list[str]] = {}
    try:
        args = CreditorSearchArgs().load({k: v for k, v in values.items() if v})
    except ValidationError as exc:
        errors = field_messages(exc)
        args = {"q": None, "kind": None, "category": None}
    rows, last = search_creditors(
        db_session(),
        q=args["q"],
        kind=args["kind"],
        category=args["category"],
        limit=PAGE_SIZE,
        after=_position(request.args.get("na")),
    )
    next_url = None
    if last is not None:
        query: dict[str, Any] = {k: v for k, v in values.items() if v}
        next_url = url_for("beheer.creditors", **query, na=encode_cursor(list(last)))
    return (
        render_template(
            "beheer/creditors.html",
            creditors=rows,
            proposals=_pending_proposals(None),
            values=values,
            errors=errors,
            next_url=next_url,
            kinds=list(KIND_LABELS.items()),
            categories=[(c, CATEGORY_LABELS.get(c, c)) for c in CATEGORIES],
            kind_labels=KIND_LABELS,
            category_labels=CATEGORY_LABELS,
        ),
        422 if errors else 200,
    )


def _creditor_values(creditor: Creditor) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(creditor, field) for field in CREDITOR_LABELS if field != "row_version"}
    values["row_version"] = creditor.row_version
    return {key: ("" if value is None else value) for key, value in values.items()}


def _creditor_data(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's PATCH body: empty optional boxes are null, unchecked boxes are false."""
    data: dict[str, Any] = {}
    for field in ("name", "kind", "category", *_CREDITOR_TEXT):
        value = form.get(field, "").strip()
        data[field] = None if field in _CREDITOR_TEXT and not value else value
    for field in _CREDITOR_FLAGS:
        data[field] = bool(form.get(field))
    return data


def _creditor_page(
    creditor: Creditor, values: dict[str, Any], errors: dict[str, list[str]], status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "beheer/creditor.html",
            creditor=creditor,
            values=values,
            errors=errors,
            labels=CREDITOR_LABELS,
            kinds=list(KIND_LABELS.items()),
            categories=[(c, CATEGORY_LABELS.get(c, c)) for c in CATEGORIES],
            grades=[(g, g) for g in GRADES],
            proposals=_pending_proposals(creditor.id),
            shown=_shown_value,
        ),
        status,
    )


def _pending_proposals(creditor_id: int | None) -> list[tuple[CreditorChangeProposal, str, str]]:
    """Proposals waiting for a decision (of one creditor, or all), oldest first, with the proposer's organisation
    and the creditor's name."""
    session = db_session()
    rows, _next = list_proposals(session, creditor_id=creditor_id, limit=200)
    if not rows:
        return []
    org_ids = {row.organisation_id for row in rows if row.organisation_id is not None}
    orgs = select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))
    org_names: dict[int | None, str] = dict(session.execute(orgs).all()) if org_ids else {}
    creditors = select(Creditor.id, Creditor.name).where(Creditor.id.in_({row.creditor_id for row in rows}))
    creditor_names = dict(session.execute(creditors).all())
    return [(row, org_names.get(row.organisation_id, "onbekend"), creditor_names[row.creditor_id]) for row in rows]


def _shown_value(field: str, value: Any) -> str:
    """A proposed or current value as the page shows it."""
    if field in _CREDITOR_FLAGS:
        return "Ja" if value else "Nee"
    return "(leeg)" if value in (None, "") else str(value)


@blp.post("/schuldeisers/<int:creditor_id>/voorstellen/<int:proposal_id>/<decision>")
@roles_required(Role.ADMIN)
def creditor_proposal(creditor_id: int, proposal_id: int, decision: str) -> ResponseReturnValue:
    """Approve (goedkeuren) or reject (afwijzen) a proposed change of the creditor's contact data."""
    if decision not in ("goedkeuren", "afwijzen"):
        abort(404)
    session = db_session()
    try:
        decide_proposal(
            session,
            proposal_id,
            actor=current_actor(),
            approve=decision == "goedkeuren",
            creditor_id=creditor_id,
            origin=client_address(),
        )
    except NotFound:
        abort(404)
    except (ValidationFailed, AlreadyDecided) as exc:
        session.rollback()
        messages = [m for ms in exc.errors.values() for m in ms] if isinstance(exc, ValidationFailed) else [str(exc)]
        for message in messages:
            flash(message, "error")
        return redirect(url_for("beheer.creditor", creditor_id=creditor_id), 303)
    session.commit()
    if decision == "goedkeuren":
        flash("Het voorstel is goedgekeurd; nieuwe brieven gaan naar het nieuwe adres.", "ok")
    else:
        flash("Het voorstel is afgewezen; de schuldeiser is niet gewijzigd.", "ok")
    return redirect(url_for("beheer.creditor", creditor_id=creditor_id), 303)


@blp.route("/schuldeisers/<int:creditor_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def creditor(creditor_id: int) -> ResponseReturnValue:
    session = db_session()
    try:
        found = get_creditor(session, creditor_id, for_update=request.method == "POST")
    except NotFound:
        abort(404)
    if request.method == "GET":
        return _creditor_page(found, _creditor_values(found), {})
    form = request.form.to_dict()
    values: dict[str, Any] = {k: form.get(k, "") for k in CREDITOR_LABELS}
    if str(found.row_version) != form.get("row_version", ""):
        # The page was opened before someone else saved: show theirs, do not overwrite it silently (as If-Match).
        session.rollback()
        fresh = _creditor_values(get_creditor(session, creditor_id))
        message = "Iemand anders heeft deze schuldeiser zojuist gewijzigd. Hieronder staat de nieuwe versie."
        return _creditor_page(found, fresh, {"_form": [message]}, 409)
    try:
        data = CreditorUpdate().load(_creditor_data(form))
        update_creditor(session, found, actor=current_actor(), data=data, origin=client_address())
    except ValidationError as exc:
        session.rollback()
        errors = field_messages(exc)
        return _creditor_page(found, values, errors, 422)
    except ValidationFailed as exc:
        session.rollback()
        return _creditor_page(found, values, exc.errors, 422)
    session.commit()
    flash("De schuldeiser is opgeslagen.", "ok")
    return redirect(url_for("beheer.creditor", creditor_id=creditor_id), 303)
