"""The referral page of a case for counsellors, and the downloads of a referral's handover file and summary.

Sending is the operation POST /api/v1/cases/<id>/referrals calls (schulden.referrals.services.send: the workflow
refuses without a municipality or a consent in force, and the page shows its reason); the downloads are the API's
operation too (services.referral_file: the case's scope, the API's audit rows).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.consent_forms import request_referral_consent_form
from schulden.cases.models import Case, ConsentPurpose
from schulden.cases.schemas import ConsentIn, MunicipalityChoiceIn
from schulden.cases.services import choose_municipality, record_signed_consent
from schulden.cases.views import read_case_name
from schulden.consents import PURPOSE_LABELS, has_valid_consent
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import field_errors, record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals import services
from schulden.referrals.lifecycle import ReferralStateError
from schulden.referrals.models import ReferralStatus, RefusalKind
from schulden.referrals.queries import read_referrals
from schulden.referrals.schemas import ReferralIn
from schulden.roles import Role
from schulden.web.auth import current_actor, login_required, roles_required
from schulden.web.intake import scoped_case
from schulden.web.letters import pdf_response
from workflows import TransitionRefused, WorkflowInstance

blp = Blueprint("verwijzing", __name__)

STATUS_LABELS = {
    ReferralStatus.QUEUED.value: "Wordt verstuurd",
    ReferralStatus.DELIVERED.value: "Afgeleverd",
    ReferralStatus.FAILED.value: "Mislukt",
    ReferralStatus.CANCELLED.value: "Geannuleerd",
    ReferralStatus.ACCEPTED.value: "Geaccepteerd",
    ReferralStatus.REFUSED.value: "Geweigerd",
}
REFUSAL_LABELS = {
    RefusalKind.NOT_RESIDENT.value: "Geen inwoner van deze gemeente",
    RefusalKind.OTHER.value: "Andere reden",
}


def _today() -> Any:
    engine = runtime().engine
    return engine.today()


def _send_option(session: Session, actor: UserActor, case: Case) -> tuple[bool, str | None]:
    """Whether the workflow lets this user send now, and its reason when not (the button says why)."""
    instance = session.get_one(WorkflowInstance, case.instance_id)
    for option in runtime().engine.available_events(session, instance, actor):
        if option.event == "send_referral":
            return option.allowed, option.reason
    return False, "Deze actie bestaat niet in het proces van dit dossier."


@blp.route("/dossiers/<int:case_id>/verwijzing", methods=["GET", "POST"])
@roles_required(Role.COUNSELLOR)
def form(case_id: int) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
        try:
            data = ReferralIn().load({"include_district_team": values.get("include_district_team") == "ja"})
        except ValidationError as exc:
            errors = field_errors(exc.messages)
        if not errors:
            try:
                services.send(
                    session,
                    actor,
                    case_id,
                    engine=runtime().engine,
                    include_district_team=data["include_district_team"],
                    origin=request.remote_addr,
                )
            except NotFound as exc:
                record_denied(exc)
                abort(404)
            except TransitionRefused as exc:
                session.rollback()
                errors = {"_form": [exc.reason]}
            else:
                session.commit()
                flash("De verwijzing is verstuurd. Het overdrachtsdossier wordt gemaakt en afgeleverd.", "ok")
                return redirect(url_for("verwijzing.form", case_id=case_id), code=303)
    return _render(session, actor, case, values=values, errors=errors)


def _render(
    session: Session,
    actor: UserActor,
    case: Case,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    choice_values: dict[str, Any] | None = None,
    choice_errors: dict[str, list[str]] | None = None,
    consent_values: dict[str, Any] | None = None,
    consent_errors: dict[str, list[str]] | None = None,
) -> ResponseReturnValue:
    """The page; each of its three forms keeps its own values and errors."""
    context = _page(session, actor, case)
    session.commit()
    today = _today()
    html = render_template(
        "verwijzing/form.html",
        values=values or {},
        errors=errors or {},
        choice_values=choice_values or {"version": case.row_version},
        choice_errors=choice_errors or {},
        consent_values=consent_values
        or {"signed_on": today.isoformat(), "valid_until": (today + timedelta(weeks=26)).isoformat()},
        consent_errors=consent_errors or {},
        **context,
    )
    return html, 422 if errors or choice_errors or consent_errors else 200


@blp.post("/dossiers/<int:case_id>/verwijzing/gemeente")
@roles_required(Role.COUNSELLOR)
def municipality(case_id: int) -> ResponseReturnValue:
    """Choose another municipality, with a reason, as PUT /api/v1/cases/<id>/municipality does. The page's version
    plays the API's If-Match: a choice made on a stale page is refused, never applied over a newer one."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    values = {name: (request.form.get(name) or "").strip() for name in ("municipality_id", "reason", "version")}
    body: dict[str, Any] = {}
    if values["municipality_id"]:
        raw = values["municipality_id"]
        # Only 0-9 is a number here: str.isdigit() also passes '²', on which int() fails (a 500).
        body["municipality_id"] = int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else raw
    if values["reason"]:
        body["reason"] = values["reason"]
    errors: dict[str, list[str]] = {}
    try:
        data = MunicipalityChoiceIn().load(body)
    except ValidationError as exc:
        errors = field_errors(exc.messages)
    if not errors and values["version"] != str(case.row_version):
        errors = {"_form": ["Dit dossier is intussen gewijzigd; bekijk de gegevens hieronder en kies opnieuw."]}
        values["version"] = str(case.row_version)
    if not errors:
        try:
            choose_municipality(
                session, runtime().engine, case, actor=actor, municipality_id=data["municipality_id"],
                reason=data["reason"], origin=request.remote_addr,
            )  # fmt: skip
        except (ValidationFailed, TransitionRefused) as exc:
            session.rollback()
            errors = exc.errors if isinstance(exc, ValidationFailed) else {"_form": [exc.reason]}
    if errors:
        return _render(session, actor, case, choice_values=values, choice_errors=errors)
    session.commit()
    flash("De gemeente is gekozen.", "ok")
    return redirect(url_for("verwijzing.form", case_id=case_id), code=303)


@blp.post("/dossiers/<int:case_id>/verwijzing/formulier")
@roles_required(Role.COUNSELLOR, Role.PI_STAFF)
def referral_consent_form(case_id: int) -> ResponseReturnValue:
    """The L9 naming the chosen municipality, for the detainee to sign (as POST /cases/<id>/referral-consent-form)."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    try:
        letter = request_referral_consent_form(session, runtime().engine, actor, case, origin=request.remote_addr)
    except ValidationFailed as exc:
        session.rollback()
        return _render(session, actor, case, consent_errors=exc.errors)
    session.commit()
    flash(f"Het toestemmingsformulier is klaargezet (brief {letter.id}); het gaat met de post naar de PI.", "ok")
    return redirect(url_for("verwijzing.form", case_id=case_id), code=303)


@blp.post("/dossiers/<int:case_id>/verwijzing/toestemming")
@roles_required(Role.COUNSELLOR)
def referral_consent(case_id: int) -> ResponseReturnValue:
    """The detainee's signed consent to refer to the chosen municipality, as POST /api/v1/cases/<id>/consents with
    one purpose: a referral consent names its municipality (domain.md 6.3), so one signed at intake, before the
    municipality was known, or naming another one, does not cover this referral."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    values = {name: (request.form.get(name) or "").strip() for name in ("signed_on", "valid_until", "witness")}
    body: dict[str, Any] = {
        "purposes": [
            {"purpose": ConsentPurpose.REFER_MUNICIPALITY.value, "recipient_organisation_id": case.municipality_id}
        ],
        **{name: value for name, value in values.items() if value},
    }
    errors: dict[str, list[str]] = {}
    try:
        data = ConsentIn().load(body)
        record_signed_consent(session, runtime().engine, case, actor=actor, data=data, origin=request.remote_addr)
    except ValidationError as exc:
        errors = field_errors(exc.messages)
    except ValidationFailed as exc:
        session.rollback()
        errors = exc.errors
    if errors:
        return _render(session, actor, case, consent_values=values, consent_errors=errors)
    session.commit()
    flash("De toestemming voor de verwijzing is vastgelegd.", "ok")
    return redirect(url_for("verwijzing.form", case_id=case_id), code=303)


def _page(session: Session, actor: UserActor, case: Case) -> dict[str, Any]:
    municipality = session.get(Organisation, case.municipality_id) if case.municipality_id else None
    consent = has_valid_consent(
        session,
        case.id,
        ConsentPurpose.REFER_MUNICIPALITY,
        on=_today(),
        organisation_id=municipality.id if municipality else None,
    )
    allowed, reason = _send_option(session, actor, case)
    # The reads (and audit rows) of GET /api/v1/cases/<id> and GET /api/v1/cases/<id>/referrals.
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    referrals = [(r, m.name) for r, m in read_referrals(session, actor, case, origin=request.remote_addr)]
    instance = session.get_one(WorkflowInstance, case.instance_id)
    return {
        "case": case,
        "name": name,
        "state_label": runtime().engine.process_of(instance).state(instance.state).label,
        "municipality": municipality,
        "consent": consent,
        "consent_label": PURPOSE_LABELS[ConsentPurpose.REFER_MUNICIPALITY],
        "allowed": allowed,
        "reason": reason,
        "referrals": referrals,
        "status_labels": STATUS_LABELS,
        "refusal_labels": REFUSAL_LABELS,
        # Another municipality can be chosen until the case is referred (after a refusal, again).
        "municipalities": (
            []
            if case.referred_at is not None
            else [
                (org_id, org_name)
                for org_id, org_name in session.execute(
                    select(Organisation.id, Organisation.name)
                    .where(Organisation.kind == OrganisationKind.MUNICIPALITY.value)
                    .order_by(Organisation.name)
                )
            ]
        ),
    }


def _pdf(referral_id: int, which: str) -> ResponseReturnValue:
    """As GET /api/v1/referrals/<id>/handover.pdf and /summary.pdf: in the case's scope, audited."""
    session = db_session()
    try:
        referral, key = services.referral_file(session, current_actor(), referral_id, which, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    except ReferralStateError:
        flash("Het overdrachtsdossier is nog niet gemaakt; probeer het over een paar minuten opnieuw.", "warning")
        return redirect(url_for("home.index"), code=303)
    data = runtime().store.get(key)
    session.commit()
    name = "overdrachtsdossier" if which == "handover" else "samenvatting"
    return pdf_response(data, f"{name}-{referral.case_id}-{referral.sequence}.pdf")


@blp.get("/verwijzingen/<int:referral_id>/overdrachtsdossier.pdf")
@login_required
def handover(referral_id: int) -> ResponseReturnValue:
    return _pdf(referral_id, "handover")


@blp.get("/verwijzingen/<int:referral_id>/samenvatting.pdf")
@login_required
def summary(referral_id: int) -> ResponseReturnValue:
    return _pdf(referral_id, "summary")
