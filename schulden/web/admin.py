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
#: The headed groups in which organisations are listed and chosen, in this order: the PIs first, the few
#: counselling teams and partners next, and the 342 municipalities last, so they do not bury the rest.
ORGANISATION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PI's", ("pi",)),
    ("Schuldhulpteams", ("operator",)),
    ("Ketenpartners (reclassering en zorg)", ("probation", "care")),
    ("Gemeenten", ("municipality",)),
)

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


def _organisation_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The active organisations as (heading, [(id, name)]) in ORGANISATION_GROUPS' order, by name within a group."""
    rows = db_session().execute(
        select(Organisation.id, Organisation.name, Organisation.kind)
        .where(Organisation.active)
        .order_by(Organisation.name, Organisation.id)
    )
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append((str(row.id), row.name))
    groups = []
    for heading, kinds in ORGANISATION_GROUPS:
        options = sorted((o for kind in kinds for o in by_kind.pop(kind, [])), key=lambda o: o[1].casefold())
        if options:
            groups.append((heading, options))
    leftover = sorted((o for options in by_kind.values() for o in options), key=lambda o: o[1].casefold())
    if leftover:  # a kind added later still shows up, at the end
        groups.append(("Overige organisaties", leftover))
    return groups


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
            Organisation.kind,
            User.totp_confirmed_at,
            User.must_change_password,
        )
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .order_by(User.active.desc(), User.username)
    ).all()
    order = {kind: index for index, (_h, kinds) in enumerate(ORGANISATION_GROUPS) for kind in kinds}
    # Active accounts first, then by the kind of their organisation (PIs first, municipalities last), then by name.
    users = sorted(users, key=lambda u: (not u.active, order.get(u.kind, len(order)) if u.kind else -1, u.username))
    return (
        render_template(
            "beheer/users.html",
            users=users,
            roles=[(role.value, role.label) for role in Role],
            role_labels={role.value: role.label for role in Role},
            organisation_groups=_organisation_groups(),
            kind_labels=ORGANISATION_KIND_LABELS,
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


def _user_or_404(user_id: int) -> User:
    user = db_session().get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        abort(404)
    return user


def _user_rows(user: User) -> list[tuple[str, str, str | None]]:
    """Who is disabled, as the check page's rows; "Wijzigen" goes back to the list to choose someone else."""
    change = url_for("beheer.users") + f"#gebruiker-{user.id}"
    organisation = db_session().get(Organisation, user.organisation_id) if user.organisation_id else None
    role = {r.value: r.label for r in Role}.get(user.role, user.role)
    where = "Geen organisatie"
    if organisation is not None:
        where = f"{organisation.name} ({ORGANISATION_KIND_LABELS.get(organisation.kind, organisation.kind)})"
    return [
        ("Gebruikersnaam", user.username, change),
        ("Naam", user.display_name, None),
        ("Rol", role, None),
        ("Organisatie", where, None),
    ]


@blp.route("/gebruikers/<int:user_id>/uitschakelen", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def disable(user_id: int) -> ResponseReturnValue:
    """Check page first (who, what happens), then, with confirm=1, the disabling itself and a confirmation."""
    session = db_session()
    user = _user_or_404(user_id)
    if not user.active:
        flash(f"Gebruiker {user.username} is al uitgeschakeld.", "ok")
        return redirect(url_for("beheer.users"), 303)
    if user.id == current_actor().user_id:
        flash("U kunt uw eigen account niet uitschakelen.", "error")
        return redirect(url_for("beheer.users"), 303)
    if request.method == "GET" or request.form.get("confirm") != "1":
        return render_template("beheer/disable_check.html", user=user, rows=_user_rows(user))
    try:
        disable_user(session, actor=current_actor(), user=user, origin=client_address())
    except ValidationFailed as exc:
        session.rollback()
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for("beheer.users"), 303)
    session.commit()
    return redirect(url_for("beheer.disabled", user_id=user.id), 303)


@blp.get("/gebruikers/<int:user_id>/uitgeschakeld")
@roles_required(Role.ADMIN)
def disabled(user_id: int) -> ResponseReturnValue:
    """The confirmation after disabling: what was done and what it means for the person."""
    user = _user_or_404(user_id)
    if user.active:
        return redirect(url_for("beheer.users"), 303)
    return render_template("beheer/disabled.html", user=user)


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
