"""The municipality's inbox (tabs: to decide, accepted, refused, all) and its referral page: what it decides on
(the debts with their amounts and status, the totals, threats and the Wgs term, the whole handover file on screen),
then accept (with the date of the first conversation) or refuse (kind and reason), each through a check page that
says what will happen and to whom, and a confirmation with the reference.

The inbox and the referral are the reads GET /api/v1/referrals and /referrals/<id> call (schulden/referrals/queries.py,
with their audit rows); the handover contents are made on demand (services.handover_contents, audited as
`referral.handover_view`), so the municipality never decides blind while the PDF waits for its delivery; the
decisions are the operations the API calls (schulden.referrals.services.accept and .refuse, with
schulden/referrals/schemas.py), so the two cannot disagree; out of scope is a 404 page with the API's authz_denied
audit row. A refusal ends the municipality's access to the case, not to its own decision: the "Geweigerd" tab and
the confirmation read the referral rows addressed to it (queries.read_refused_by, services.decided_by_municipality).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from schulden.actors import UserActor
from schulden.cases.models import Case
from schulden.cases.views import detainee_name
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import field_errors, record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation
from schulden.referrals import services
from schulden.referrals.handover import condition_rows
from schulden.referrals.lifecycle import DECIDABLE
from schulden.referrals.models import Referral, ReferralStatus, RefusalKind
from schulden.referrals.queries import read_inbox, read_referral, read_refused_by
from schulden.referrals.schemas import AcceptIn, RefuseIn
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required
from schulden.web.date_fields import explain_empty_dates, read_dates
from schulden.web.filters import datum
from schulden.web.referrals import REFUSAL_LABELS, list_context, reference, sender, status_text
from workflows import ConcurrentUpdate, TransitionRefused

blp = Blueprint("gemeente", __name__, url_prefix="/gemeente")

LABELS = {"first_conversation_on": "Datum eerste gesprek", "kind": "Soort weigering", "reason": "Reden"}
EMPTY_DATE = {"first_conversation_on": "Vul de datum van het eerste gesprek in, bijvoorbeeld 4 12 2026."}
#: The inbox's tabs: key -> (label, statuses); "geweigerd" reads the municipality's own refusals (out of scope).
TABS: dict[str, tuple[str, tuple[str, ...]]] = {
    "te-beslissen": ("Te beslissen", DECIDABLE),
    "geaccepteerd": ("Geaccepteerd", (ReferralStatus.ACCEPTED.value,)),
    "geweigerd": ("Geweigerd", (ReferralStatus.REFUSED.value,)),
    "alle": ("Alle", tuple(s.value for s in ReferralStatus)),
}


@blp.get("")
@roles_required(Role.MUNICIPALITY)
def inbox() -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    tab = request.args.get("tab", "te-beslissen")
    if tab not in TABS:
        tab = "te-beslissen"
    if tab == "geweigerd":
        rows = read_refused_by(session, actor, origin=request.remote_addr)
    else:
        rows = read_inbox(session, actor, statuses=TABS[tab][1], origin=request.remote_addr)
    items = [(referral, case, detainee_name(session, case)) for referral, case in rows]
    session.commit()
    return render_template(
        "gemeente/inbox.html",
        items=items,
        tab=tab,
        tabs=[(key, label) for key, (label, _) in TABS.items()],
        **list_context([r for r, _ in rows]),
    )


def _load(session: Session, actor: UserActor, referral_id: int) -> tuple[Referral, Case]:
    """The referral in the actor's scope and addressed to its municipality (the operations' own rule)."""
    try:
        referral = services.referral_to_decide(session, actor, referral_id)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    return referral, session.get_one(Case, referral.case_id)


def _page(
    session: Session,
    actor: UserActor,
    referral: Referral,
    case: Case,
    *,
    accept_values: dict[str, Any] | None = None,
    accept_errors: dict[str, list[str]] | None = None,
    refuse_values: dict[str, Any] | None = None,
    refuse_errors: dict[str, list[str]] | None = None,
) -> ResponseReturnValue:
    """The referral page: the facts to decide on, the handover contents, and the two forms (each its own errors)."""
    # The referral was found by the operations' own rule (`_load`); this is its read, as GET /referrals/<id>.
    read_referral(session, actor, referral.id, origin=request.remote_addr)
    _, handover = services.handover_contents(
        session, actor, referral.id, sender=sender(), today=runtime().engine.today(), origin=request.remote_addr
    )
    errors = {**(accept_errors or {}), **(refuse_errors or {})}
    context = {
        "referral": referral,
        "case": case,
        "name": detainee_name(session, case),
        "handover": handover,
        "conditions": condition_rows(handover.conditions),
        "reference": reference(referral),
        **list_context([referral]),
        "refusal_options": list(REFUSAL_LABELS.items()),
        "decidable": referral.status in DECIDABLE,
        "accept_values": accept_values or {},
        "accept_errors": accept_errors or {},
        "refuse_values": refuse_values or {},
        "refuse_errors": refuse_errors or {},
        "errors": errors,
        "labels": LABELS,
    }
    session.commit()
    return render_template("gemeente/referral.html", **context), 422 if errors else 200


@blp.get("/verwijzingen/<int:referral_id>")
@roles_required(Role.MUNICIPALITY)
def referral(referral_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    found, case = _load(session, actor, referral_id)
    return _page(session, actor, found, case)


def _form_errors(exc: ValidationError | ValidationFailed | TransitionRefused) -> dict[str, list[str]]:
    if isinstance(exc, ValidationError):
        return field_errors(exc.messages)
    if isinstance(exc, ValidationFailed):
        return exc.errors
    return {"_form": [exc.reason]}


def _parties(session: Session, case: Case) -> tuple[str, str]:
    """The counsellor's team and the PI, by name: who hears of the decision."""
    team = session.get(Organisation, case.team_id) if case.team_id else None
    pi = session.get_one(Organisation, case.pi_id)
    return (team.name if team else "de schuldhulpverlener"), pi.name


@blp.post("/verwijzingen/<int:referral_id>/accepteren")
@roles_required(Role.MUNICIPALITY)
def accept(referral_id: int) -> ResponseReturnValue:
    """The accept form posts here: errors back on the referral page, else the check page; its button posts the
    same values with confirm=1, which accepts (services.accept) and leads to the confirmation."""
    actor = current_actor()
    session = db_session()
    found, case = _load(session, actor, referral_id)
    # The date from its three boxes; the check page posts it back as an ISO date in a hidden field.
    values, date_errors = read_dates(request.form, ("first_conversation_on",))
    if request.form.get("wijzig"):
        return _page(session, actor, found, case, accept_values=values)
    if date_errors:
        return _page(session, actor, found, case, accept_values=values, accept_errors=date_errors)
    today = runtime().engine.today()
    try:
        data = AcceptIn().load({k: v for k, v in values.items() if k == "first_conversation_on"})
    except ValidationError as exc:
        errors = explain_empty_dates(field_errors(exc.messages), values, EMPTY_DATE)
        return _page(session, actor, found, case, accept_values=values, accept_errors=errors)
    day = data["first_conversation_on"]
    if day < today:  # the workflow's guard says the same; here it is said before the check page
        errors = {"first_conversation_on": ["De datum van het eerste gesprek ligt in het verleden."]}
        return _page(session, actor, found, case, accept_values=values, accept_errors=errors)
    if request.form.get("confirm") != "1":
        team, pi = _parties(session, case)
        late = found.wgs_due_on is not None and day > found.wgs_due_on
        date_text = datum(day) + (
            f". Dat is na de Wgs-termijn (uiterlijk {datum(found.wgs_due_on)}): het telt als overschrijding"
            if late
            else ""
        )
        consequences = [
            f"{team} (de schuldhulpverlener) en de casemanager van {pi} zien in Schuldroute dat u de verwijzing "
            f"accepteert, met de datum van het eerste gesprek.",
            "Het dossier gaat naar 'Geaccepteerd door gemeente': de warme overdracht loopt tot het eerste gesprek.",
        ]
        if late:
            consequences.append("De verwijzing wordt gemarkeerd: termijn eerste gesprek overschreden.")
        read_referral(session, actor, found.id, origin=request.remote_addr)
        name = detainee_name(session, case)
        session.commit()
        return render_template(
            "gemeente/check.html",
            referral=found,
            name=name,
            action=url_for("gemeente.accept", referral_id=referral_id),
            heading="Controleer uw besluit: accepteren",
            rows=[
                ("Besluit", "De verwijzing accepteren", None),
                ("Datum eerste gesprek", date_text, "first_conversation_on"),
            ],
            values={"first_conversation_on": day.isoformat()},  # the hidden field: the date as read, once
            consequences=consequences,
            button="Verwijzing accepteren",
            danger=False,
        )
    try:
        services.accept(
            session, actor, referral_id, engine=runtime().engine, first_conversation_on=day, origin=request.remote_addr
        )
    except (ValidationFailed, TransitionRefused, ConcurrentUpdate, StaleDataError) as exc:
        session.rollback()
        found, case = _load(session, actor, referral_id)
        errors = _decision_errors(exc)
        return _page(session, actor, found, case, accept_values=values, accept_errors=errors)
    session.commit()
    return redirect(url_for("gemeente.decided", referral_id=referral_id), code=303)


def _decision_errors(exc: Exception) -> dict[str, list[str]]:
    """A refused decision's messages for the form: the operation's own, or that someone changed it meanwhile."""
    if isinstance(exc, (ValidationFailed, TransitionRefused)):
        return _form_errors(exc)
    return {"_form": ["De verwijzing is intussen gewijzigd. Bekijk haar opnieuw."]}


@blp.post("/verwijzingen/<int:referral_id>/weigeren")
@roles_required(Role.MUNICIPALITY)
def refuse(referral_id: int) -> ResponseReturnValue:
    """As `accept`, for a refusal: the check page says where the case goes (back for another municipality, or
    closed) and who sees the reason."""
    actor = current_actor()
    session = db_session()
    found, case = _load(session, actor, referral_id)
    values = {name: (request.form.get(name) or "").strip() for name in ("kind", "reason")}
    if request.form.get("wijzig"):
        return _page(session, actor, found, case, refuse_values=values)
    try:
        data = RefuseIn().load({k: v for k, v in values.items() if v})
    except ValidationError as exc:
        return _page(session, actor, found, case, refuse_values=values, refuse_errors=field_errors(exc.messages))
    if request.form.get("confirm") != "1":
        team, pi = _parties(session, case)
        if data["kind"] == RefusalKind.NOT_RESIDENT.value:
            where = (
                f"Het dossier gaat terug naar {team} (de schuldhulpverlener), die een andere gemeente kiest en "
                "opnieuw verwijst."
            )
        else:
            where = (
                "Het dossier wordt afgesloten met als reden 'geweigerd door de gemeente'; brieven die nog niet weg "
                "zijn worden gestopt."
            )
        consequences = [
            where,
            f"{team} en de casemanager van {pi} zien uw besluit en de reden in Schuldroute.",
            "Daarna ziet u dit dossier niet meer; uw besluit blijft te vinden onder 'Geweigerd' in de inbox.",
        ]
        read_referral(session, actor, found.id, origin=request.remote_addr)
        name = detainee_name(session, case)
        session.commit()
        return render_template(
            "gemeente/check.html",
            referral=found,
            name=name,
            action=url_for("gemeente.refuse", referral_id=referral_id),
            heading="Controleer uw besluit: weigeren",
            rows=[
                ("Besluit", "De verwijzing weigeren", None),
                ("Soort weigering", REFUSAL_LABELS[data["kind"]], "kind"),
                ("Reden", data["reason"], "reason"),
            ],
            values=values,
            consequences=consequences,
            button="Verwijzing weigeren",
            danger=True,
        )
    try:
        services.refuse(
            session,
            actor,
            referral_id,
            engine=runtime().engine,
            kind=data["kind"],
            reason=data["reason"],
            origin=request.remote_addr,
        )
    except (ValidationFailed, TransitionRefused, ConcurrentUpdate, StaleDataError) as exc:
        session.rollback()
        found, case = _load(session, actor, referral_id)
        errors = _decision_errors(exc)
        return _page(session, actor, found, case, refuse_values=values, refuse_errors=errors)
    session.commit()
    # A refusal ends the municipality's access to the case (access.case_scope), not to its own decision.
    return redirect(url_for("gemeente.decided", referral_id=referral_id), code=303)


@blp.get("/verwijzingen/<int:referral_id>/besluit")
@roles_required(Role.MUNICIPALITY)
def decided(referral_id: int) -> ResponseReturnValue:
    """The confirmation of a decision: what was decided, the reference, and what happens next, for whom."""
    actor = current_actor()
    session = db_session()
    try:
        found = services.decided_by_municipality(session, actor, referral_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    case = session.get_one(Case, found.case_id)
    name = detainee_name(session, case)
    team, pi = _parties(session, case)
    session.commit()
    return render_template(
        "gemeente/decided.html",
        referral=found,
        name=name,
        team=team,
        pi=pi,
        reference=reference(found),
        status=status_text(found),
        refusal_labels=REFUSAL_LABELS,
    )
