"""The referral page of a case for counsellors, its check and confirmation pages, the team's referral list, and the
handover file of a referral (on screen, and the PDF and summary as delivered).

While the referral cannot be sent the page says why and what to do first (schulden/referrals/readiness.py), with a
link to where. Sending goes through "Controleer de verwijzing" (ux.md, GOV.UK "Check answers") and ends on a
confirmation with its reference; the send itself is the operation POST /api/v1/cases/<id>/referrals calls
(schulden.referrals.services.send). Each referral's delivery is said in words ("Wacht op de e-mailinstellingen van
de beheerder", "Versturen mislukt: ...", "Afgeleverd op ..."). The downloads are the API's operation too
(services.referral_file: the case's scope, the API's audit rows).
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
from sqlalchemy.orm.exc import StaleDataError

from schulden.actors import UserActor
from schulden.cases.consent_forms import request_referral_consent_form
from schulden.cases.models import Case, ConsentPurpose
from schulden.cases.schemas import ConsentIn, MunicipalityChoiceIn
from schulden.cases.services import choose_municipality, record_signed_consent
from schulden.cases.views import detainee_name, read_case_name
from schulden.consents import PURPOSE_LABELS, has_valid_consent
from schulden.debts.models import AmountStatus
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import field_errors, record_denied
from schulden.http.ports import runtime, settings
from schulden.http.requests import db_session
from schulden.letters.compose import Sender
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.referrals import lifecycle, readiness, services
from schulden.referrals.handover import Handover, build_handover, condition_rows, handover_reference
from schulden.referrals.lifecycle import ReferralStateError
from schulden.referrals.models import DeliveryChannel, Referral, ReferralStatus, RefusalKind
from schulden.referrals.queries import read_inbox, read_referral, read_referrals
from schulden.referrals.schemas import ReferralIn
from schulden.roles import Role
from schulden.web.auth import current_actor, login_required, roles_required
from schulden.web.date_fields import explain_empty_dates, read_dates, with_date_parts
from schulden.web.filters import datum, euro
from schulden.web.intake import CONSENT_DATES, EMPTY_CONSENT_DATES, scoped_case
from schulden.web.letters import pdf_response
from workflows import ConcurrentUpdate, TransitionRefused, WorkflowInstance

blp = Blueprint("verwijzing", __name__)

STATUS_LABELS = {
    ReferralStatus.QUEUED.value: "Wordt afgeleverd",
    ReferralStatus.DELIVERED.value: "Afgeleverd",
    ReferralStatus.FAILED.value: "Versturen mislukt",
    ReferralStatus.CANCELLED.value: "Gestopt",
    ReferralStatus.ACCEPTED.value: "Geaccepteerd",
    ReferralStatus.REFUSED.value: "Geweigerd",
}
REFUSAL_LABELS = {
    RefusalKind.NOT_RESIDENT.value: "Geen inwoner van deze gemeente",
    RefusalKind.OTHER.value: "Andere reden",
}
#: The tabs of a referral list (the counsellors' and the municipality's): the statuses each shows.
TABS: dict[str, tuple[str, tuple[str, ...]]] = {
    "onderweg": (
        "Onderweg",
        (ReferralStatus.QUEUED.value, ReferralStatus.DELIVERED.value, ReferralStatus.FAILED.value),
    ),
    "geaccepteerd": ("Geaccepteerd", (ReferralStatus.ACCEPTED.value,)),
    "geweigerd": ("Geweigerd", (ReferralStatus.REFUSED.value,)),
    "gestopt": ("Gestopt", (ReferralStatus.CANCELLED.value,)),
}


def _today() -> Any:
    engine = runtime().engine
    return engine.today()


def status_text(referral: Referral) -> str:
    """Where the referral stands, in words a counsellor and a municipality can act on (ux.md: something waiting
    on the system says so, a failure says what to do about it)."""
    status = referral.status
    if status == ReferralStatus.QUEUED.value:
        if lifecycle.waiting_for_settings(referral):
            return "Wacht op de e-mailinstellingen van de beheerder; de verwijzing gaat vanzelf zodra die er zijn"
        reason = lifecycle.failure_reason(referral)
        if reason:
            return f"Nog niet afgeleverd: {reason}; Schuldroute probeert het opnieuw"
        return "Wordt nu afgeleverd"
    if status == ReferralStatus.FAILED.value:
        reason = lifecycle.failure_reason(referral) or "onbekende fout"
        return f"Versturen mislukt: {reason}; de beheerder is gewaarschuwd"
    if status == ReferralStatus.DELIVERED.value:
        return f"Afgeleverd op {datum(referral.delivered_at)}; wacht op het besluit van de gemeente"
    if status == ReferralStatus.ACCEPTED.value:
        text = f"Geaccepteerd op {datum(referral.decided_at)}"
        if referral.first_conversation_on:
            text += f"; eerste gesprek op {datum(referral.first_conversation_on)}"
        return text
    if status == ReferralStatus.REFUSED.value:
        kind = REFUSAL_LABELS.get(referral.refusal_kind or "", "")
        text = f"Geweigerd op {datum(referral.decided_at)}"
        return text + (f": {kind.lower()}" if kind else "")
    if status == ReferralStatus.CANCELLED.value:
        return "Gestopt voordat zij werd afgeleverd: de toestemming is ingetrokken of het dossier is afgesloten"
    return STATUS_LABELS.get(status, status)


def channel_text(session: Session, municipality: Organisation) -> str:
    """Where the referral goes: the municipality's address or its case system (MunicipalDelivery)."""
    delivery = services.delivery_settings(session, municipality.id)
    if delivery is not None and delivery.channel == DeliveryChannel.ZGW.value:
        return f"Het zaaksysteem van {municipality.name} (ZGW-koppeling)"
    if municipality.email:
        return f"Per e-mail aan {municipality.email}"
    return (
        f"Per e-mail, maar {municipality.name} heeft nog geen e-mailadres voor schuldhulpverlening: de beheerder "
        "moet het eerst instellen"
    )


def list_context(referrals: list[Referral]) -> dict[str, Any]:
    """What verwijzing/_list.html needs besides the rows."""
    return {
        "status_labels": STATUS_LABELS,
        "refusal_labels": REFUSAL_LABELS,
        "status_texts": {referral.id: status_text(referral) for referral in referrals},
    }


def sender() -> Sender:
    """Our organisation's contact line in the handover file, from the settings (as the delivery job's)."""
    s = settings()
    return Sender(s.sender_name, s.sender_address, s.sender_phone, s.sender_email, s.public_url)


def _blocker_url(case: Case, where: str | None) -> str | None:
    if where == readiness.CASE:
        return url_for("dossiers.detail", case_id=case.id)
    if where == readiness.MUNICIPALITY:
        return url_for("verwijzing.form", case_id=case.id) + "#gemeente"
    if where == readiness.CONSENT:
        return url_for("verwijzing.form", case_id=case.id) + "#toestemming"
    return None


@blp.route("/dossiers/<int:case_id>/verwijzing", methods=["GET", "POST"])
@roles_required(Role.COUNSELLOR)
def form(case_id: int) -> ResponseReturnValue:
    """The referral page. Its send form goes to the check page first (GET, nothing personal in the URL); the check
    page's button posts here with confirm=1, which sends (services.send, as POST /api/v1/cases/<id>/referrals)."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    if request.method == "GET":
        return _render(session, actor, case, values={"wijkteam": request.args.get("wijkteam") == "ja"})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    district = values.get("include_district_team") == "ja"
    if values.get("confirm") != "1":
        return redirect(_check_url(case.id, district), code=303)
    errors: dict[str, list[str]] = {}
    try:
        data = ReferralIn().load({"include_district_team": district})
    except ValidationError as exc:
        errors = field_errors(exc.messages)
    if not errors:
        try:
            referral = services.send(
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
        except (ConcurrentUpdate, StaleDataError):
            session.rollback()
            errors = {"_form": ["Het dossier is intussen gewijzigd. Bekijk de gegevens hieronder en verstuur opnieuw."]}
        else:
            referral_id = referral.id
            session.commit()
            return redirect(url_for("verwijzing.sent", case_id=case_id, referral_id=referral_id), code=303)
    case = scoped_case(session, actor, case_id)
    return _render(session, actor, case, values=values, errors=errors)


def _check_url(case_id: int, district: bool) -> str:
    return url_for("verwijzing.check", case_id=case_id, wijkteam="ja" if district else None)


@blp.get("/dossiers/<int:case_id>/verwijzing/controleren")
@roles_required(Role.COUNSELLOR)
def check(case_id: int) -> ResponseReturnValue:
    """ "Controleer de verwijzing": where it goes, how, what the handover file holds, the consent it rests on; each
    row with "Wijzigen"; the button sends. While something blocks the send, the referral page says what."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    today = _today()
    if readiness.send_blockers(session, runtime().engine, case, actor, today=today):
        session.commit()
        return redirect(url_for("verwijzing.form", case_id=case_id), code=303)
    district = request.args.get("wijkteam") == "ja"
    municipality = session.get_one(Organisation, case.municipality_id)
    notes = readiness.send_notes(session, runtime().engine, case, actor)
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    handover = build_handover(session, case.id, include_household=district, sender=sender(), made_on=today)
    delivery = services.delivery_settings(session, municipality.id)
    session.commit()
    form_url = url_for("verwijzing.form", case_id=case_id, wijkteam="ja" if district else None)
    # The consent this referral rests on: the newest naming this municipality (an older one may name another).
    consent = max(
        (
            line
            for line in handover.consent.lines
            if line.purpose == ConsentPurpose.REFER_MUNICIPALITY.value
            and line.recipient in (municipality.name, "alle ontvangers voor dit doel")
        ),
        key=lambda line: line.signed_on,
        default=None,
    )
    open_debts = handover.open_debts
    estimated = sum(1 for d in open_debts if d.amount_status != AmountStatus.CONFIRMED.value)
    debts_text = (
        f"{len(open_debts)} {'schuld' if len(open_debts) == 1 else 'schulden'}, samen {euro(handover.total_cents)}"
    )
    if estimated:
        debts_text += f" (waarvan {estimated} geschat of betwist)"
    if district:
        team = (delivery.district_team_name or "het sociaal wijkteam") if delivery else "het sociaal wijkteam"
        address = delivery.district_team_email if delivery else None
        district_text = f"Ja, ook aan {team}" + (
            f" ({address})" if address else f"; {municipality.name} heeft daar nog geen adres voor ingesteld"
        )
    else:
        district_text = "Nee"
    urgency = handover.urgency
    rows = [
        ("Gedetineerde", name, None),
        ("Gemeente", municipality.name, form_url + "#gemeente"),
        ("Hoe het wordt verstuurd", channel_text(session, municipality), None),
        ("Ook het sociaal wijkteam", district_text, form_url + "#versturen"),
        ("Schulden", debts_text, url_for("dossiers.detail", case_id=case_id)),
        (
            "Urgentie",
            ("Urgent: " + ", ".join(t.label for t in urgency.threats) + ". " if urgency.threats else "Geen dreiging. ")
            + f"Eerste gesprek uiterlijk {datum(urgency.first_conversation_due)}: {urgency.rule}.",
            None,
        ),
        (
            "Toestemming",
            f"Getekend op {datum(consent.signed_on)}, geldig tot {datum(consent.valid_until)}" if consent else None,
            form_url + "#toestemming",
        ),
        ("In het overdrachtsdossier", "; ".join(_contents(handover, district)), None),
    ]
    consequences = [
        f"Schuldroute stuurt de aanmelding voor schuldhulpverlening met het overdrachtsdossier naar "
        f"{municipality.name}. {channel_text(session, municipality)}.",
        "De open schulden gaan over naar de gemeente: Schuldroute schrijft de schuldeisers daarna niet meer aan.",
        f"{municipality.name} beslist of zij de schuldhulp overneemt en moet het eerste gesprek voeren uiterlijk "
        f"{datum(urgency.first_conversation_due)}.",
        "U ziet op de verwijzingspagina wanneer het dossier is afgeleverd en wat de gemeente besluit; de casemanager "
        "van de PI kan dan de samenvatting voor de gedetineerde printen.",
    ]
    return render_template(
        "verwijzing/check.html",
        case=case,
        name=name,
        municipality=municipality,
        handover=handover,
        rows=rows,
        consequences=consequences,
        district=district,
        notes=notes,
    )


def _contents(handover: Handover, district: bool) -> list[str]:
    """What the handover file holds, in the order it shows it."""
    parts = [
        "gegevens van de gedetineerde, met BSN",
        "contactpersonen",
        "dreigingen en de Wgs-termijn",
        f"{len(handover.debts)} {'schuld' if len(handover.debts) == 1 else 'schulden'} met bedragen, status en totalen",
        "basisvoorwaarden bij vrijlating",
        "toestemming",
    ]
    if handover.terminated_contracts:
        parts.append("opgezegde contracten")
    if district:
        parts.append("het huishouden en de gezamenlijke schulden")
    return parts


@blp.get("/dossiers/<int:case_id>/verwijzing/<int:referral_id>/verstuurd")
@roles_required(Role.COUNSELLOR)
def sent(case_id: int, referral_id: int) -> ResponseReturnValue:
    """The confirmation after the send: the reference, where it stands and what comes next, for whom."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    try:
        referral = read_referral(session, actor, referral_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    if referral.case_id != case.id:
        abort(404)
    municipality = session.get_one(Organisation, referral.municipality_id)
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    session.commit()
    return render_template(
        "verwijzing/sent.html",
        case=case,
        name=name,
        referral=referral,
        municipality=municipality,
        reference=reference(referral),
        status=status_text(referral),
    )


def reference(referral: Referral) -> str:
    """The referral's reference: the handover file's, with its sequence (as the delivered file's name)."""
    return f"{handover_reference(referral.case_id)}-{referral.sequence}"


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
    """The page; each of its three forms keeps its own values and errors (the title says "Fout: " for any)."""
    context = _page(session, actor, case)
    session.commit()
    today = _today()
    html = render_template(
        "verwijzing/form.html",
        values=values or {},
        send_errors=errors or {},
        errors={**(errors or {}), **(choice_errors or {}), **(consent_errors or {})},
        choice_values=choice_values or {"version": case.row_version},
        choice_errors=choice_errors or {},
        consent_values=consent_values
        or with_date_parts(
            {"signed_on": today.isoformat(), "valid_until": (today + timedelta(weeks=26)).isoformat()}, CONSENT_DATES
        ),
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
    dates, date_errors = read_dates(request.form, CONSENT_DATES)
    values = {"witness": (request.form.get("witness") or "").strip()} | dates
    body: dict[str, Any] = {
        "purposes": [
            {"purpose": ConsentPurpose.REFER_MUNICIPALITY.value, "recipient_organisation_id": case.municipality_id}
        ],
        **{name: values[name] for name in (*CONSENT_DATES, "witness") if values.get(name)},
    }
    errors: dict[str, list[str]] = dict(date_errors)
    try:
        data = ConsentIn().load(body)
    except ValidationError as exc:
        # A date's own message replaces the schema's "verplicht"; an empty date gets one naming it.
        errors = explain_empty_dates({**field_errors(exc.messages), **date_errors}, values, EMPTY_CONSENT_DATES)
    if not errors:
        try:
            record_signed_consent(session, runtime().engine, case, actor=actor, data=data, origin=request.remote_addr)
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
    today = _today()
    consent = has_valid_consent(
        session,
        case.id,
        ConsentPurpose.REFER_MUNICIPALITY,
        on=today,
        organisation_id=municipality.id if municipality else None,
    )
    blockers = readiness.send_blockers(session, runtime().engine, case, actor, today=today)
    # The reads (and audit rows) of GET /api/v1/cases/<id> and GET /api/v1/cases/<id>/referrals.
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    rows = read_referrals(session, actor, case, origin=request.remote_addr)
    referrals = [(r, m.name) for r, m in rows]
    instance = session.get_one(WorkflowInstance, case.instance_id)
    return {
        "case": case,
        "name": name,
        "state_label": runtime().engine.process_of(instance).state(instance.state).label,
        "municipality": municipality,
        "consent": consent,
        "consent_label": PURPOSE_LABELS[ConsentPurpose.REFER_MUNICIPALITY],
        "blockers": [(b, _blocker_url(case, b.where)) for b in blockers],
        "sent_already": instance.state in ("referred", "accepted"),
        "notes": [] if blockers else readiness.send_notes(session, runtime().engine, case, actor),
        "referrals": referrals,
        "can_retry": actor.role is Role.COUNSELLOR,
        "channel": channel_text(session, municipality) if municipality else None,
        **list_context([r for r, _ in rows]),
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
    """As GET /api/v1/referrals/<id>/handover.pdf and /summary.pdf: in the case's scope, audited. The PDF is made
    by the delivery job; until then the contents are readable on screen (`handover_page`)."""
    session = db_session()
    try:
        referral, key = services.referral_file(session, current_actor(), referral_id, which, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    except ReferralStateError:
        session.rollback()
        flash(
            "Het PDF-bestand wordt gemaakt bij het versturen van de verwijzing. Hieronder staat de inhoud van het "
            "overdrachtsdossier zoals die vandaag is.",
            "warning",
        )
        return redirect(url_for("verwijzing.handover_page", referral_id=referral_id), code=303)
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


@blp.get("/verwijzingen/<int:referral_id>/overdrachtsdossier")
@roles_required(Role.COUNSELLOR, Role.MUNICIPALITY, Role.PI_STAFF)  # access.BSN_READERS: the file holds the BSN
def handover_page(referral_id: int) -> ResponseReturnValue:
    """The handover file's contents on screen, made now from the case (services.handover_contents: scoped, audited
    as `referral.handover_view`): readable before the decision, also while the PDF is not made yet."""
    actor = current_actor()
    session = db_session()
    try:
        referral, contents = services.handover_contents(
            session, actor, referral_id, sender=sender(), today=_today(), origin=request.remote_addr
        )
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    municipality = session.get_one(Organisation, referral.municipality_id)
    session.commit()
    back = (
        url_for("gemeente.referral", referral_id=referral.id)
        if actor.role is Role.MUNICIPALITY
        else url_for("verwijzing.form", case_id=referral.case_id)
        if actor.role is Role.COUNSELLOR
        else url_for("dossiers.detail", case_id=referral.case_id)
    )
    return render_template(
        "verwijzing/handover.html",
        referral=referral,
        handover=contents,
        conditions=condition_rows(contents.conditions),
        municipality=municipality,
        reference=reference(referral),
        back=back,
    )


@blp.post("/verwijzingen/<int:referral_id>/opnieuw")
@roles_required(Role.COUNSELLOR)
def retry(referral_id: int) -> ResponseReturnValue:
    """Try a failed delivery again, as POST /api/v1/referrals/<id>/retry (after the administrator fixed the address
    or the case system's settings)."""
    actor = current_actor()
    session = db_session()
    try:
        referral = services.retry_delivery(session, actor, referral_id, origin=request.remote_addr)
    except NotFound as exc:
        record_denied(exc)
        abort(404)
    except ReferralStateError as exc:
        session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("verwijzing.referral_list"), code=303)
    case_id = referral.case_id
    session.commit()  # the delivery job is enqueued after this commit
    flash("De verwijzing wordt opnieuw afgeleverd.", "ok")
    return redirect(url_for("verwijzing.form", case_id=case_id), code=303)


@blp.get("/verwijzingen")
@roles_required(Role.COUNSELLOR)
def referral_list() -> ResponseReturnValue:
    """The team's referrals per tab (on their way, accepted, refused, stopped): a refused one is found here, with
    the municipality's reason, without opening every case."""
    actor = current_actor()
    session = db_session()
    tab = request.args.get("tab", "onderweg")
    if tab not in TABS:
        tab = "onderweg"
    rows = read_inbox(session, actor, statuses=TABS[tab][1], origin=request.remote_addr)
    names = {org.id: org.name for org in session.scalars(select(Organisation).where(
        Organisation.id.in_({r.municipality_id for r, _ in rows})))}  # fmt: skip
    items = [(referral, case, detainee_name(session, case), names[referral.municipality_id]) for referral, case in rows]
    session.commit()
    return render_template(
        "verwijzing/list.html",
        items=items,
        tab=tab,
        tabs=[(key, label) for key, (label, _) in TABS.items()],
        **list_context([r for r, _ in rows]),
    )
