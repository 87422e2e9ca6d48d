"""The intake wizard for PI staff and volunteers: detainee, detention, consent, known debts.

Each step validates with the area's marshmallow schemas and calls the operation that POST /api/v1/cases, /consents
and /debts call (`cases.intake.open_from_intake`, `cases.services.record_signed_consent`,
`debts.services.add_known_debt`), so the browser and the API cannot drift apart. The first two steps carry what was
typed in hidden fields of the next form (a POST body, never a URL, and never the session cookie: Flask's cookie is
signed, not encrypted, and would hold the BSN);
the case is opened after the detention step, and the later steps work on that case under the actor's scope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden.access import CASE_WRITERS, bsn_recording_refusal
from schulden.actors import UserActor
from schulden.amounts import euro_to_cents
from schulden.cases.insurance import health_insurers
from schulden.cases.intake import open_from_intake
from schulden.cases.models import Case, ConsentPurpose, DetentionType
from schulden.cases.notices import BENEFITS
from schulden.cases.queries import get_case
from schulden.cases.schemas import CaseCreate, ConsentIn, DetaineeIn
from schulden.cases.services import record_signed_consent
from schulden.cases.views import detainee_name, read_case_name
from schulden.consents import proposed_consent_validity, purpose_label
from schulden.creditors.models import Creditor
from schulden.debts.queries import read_intake_debts
from schulden.debts.schemas import DebtCreate
from schulden.debts.services import add_known_debt
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import field_errors, record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.labels import THREAT_LABELS
from schulden.letters.compose import DEBT_TYPE_LABELS
from schulden.letters.consent_fields import REFERRAL_FORM_MARK
from schulden.letters.models import Letter
from schulden.organisations.models import Organisation
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required
from schulden.web.date_fields import explain_empty_dates, read_dates, with_date_parts
from schulden.web.filters import datum
from workflows import TransitionRefused, WorkflowInstance

blp = Blueprint("intake", __name__, url_prefix="/intake")

INTAKE_ROLES = (Role.PI_STAFF, Role.VOLUNTEER)
STEPS = ("Gedetineerde", "Detentie", "Toestemming", "Schulden")
DETENTION_LABELS = {
    DetentionType.PRE_TRIAL.value: "Voorlopige hechtenis",
    DetentionType.PRISON_SENTENCE.value: "Gevangenisstraf",
    DetentionType.SUBSTITUTE.value: "Vervangende hechtenis",
    DetentionType.CIVIL_DETENTION.value: "Gijzeling",
    DetentionType.OTHER.value: "Anders",
}
DETAINEE_FIELDS = ("given_names", "surname_prefix", "surname", "date_of_birth", "bsn", "dji_number")
DETENTION_FIELDS = ("type", "start", "expected_release")
#: The detention step also records the basic health insurance and the benefits (L6 and L7 follow the consent).
INSURANCE_FIELDS = ("health_insurer_id", "health_policy_number")
BENEFIT_FIELDS = tuple(f"benefit.{kind}" for kind in BENEFITS)
#: The wizard's dates, each typed in three boxes (ux.md "Dates"); the first is step 1's, the others step 2's.
WIZARD_DATES = ("detainee.date_of_birth", "detention.start", "detention.expected_release")
#: What to type when a required date was left empty: the message names the date (the schema only says "verplicht").
EMPTY_WIZARD_DATES = {
    "detainee.date_of_birth": "Vul de geboortedatum in, bijvoorbeeld 2 11 1985.",
    "detention.start": "Vul de datum in waarop de detentie begon, bijvoorbeeld 4 12 2026.",
}
#: A signed consent's dates, here and on the referral page (web/referrals.py).
CONSENT_DATES = ("signed_on", "valid_until")
EMPTY_CONSENT_DATES = {
    "signed_on": "Vul de datum in waarop de gedetineerde de machtiging ondertekende, bijvoorbeeld 4 12 2026.",
    "valid_until": "Vul de datum in tot en met wanneer de machtiging geldt, bijvoorbeeld 4 6 2027.",
}
LABELS = {
    "detainee.given_names": "Voornamen",
    "detainee.surname_prefix": "Tussenvoegsel",
    "detainee.surname": "Achternaam",
    "detainee.date_of_birth": "Geboortedatum",
    "detainee.bsn": "BSN",
    "detainee.dji_number": "DJI-nummer",
    "detention.type": "Soort detentie",
    "detention.start": "Begin detentie",
    "detention.expected_release": "Verwachte vrijlating",
    "detention.pi_id": "PI",
    "intended_postcode": "Postcode na vrijlating",
    "health_insurer_id": "Zorgverzekeraar",
    "health_policy_number": "Polisnummer",
    "benefits": "Uitkeringen en toeslagen",
    "purposes": "Doelen",
    "signed_on": "Ondertekend op",
    "valid_until": "Geldig tot",
    "witness": "Getuige",
    "creditor_id": "Schuldeiser",
    "debt_type": "Soort schuld",
    "principal_cents": "Bedrag",
    "creditor_reference": "Kenmerk van de schuldeiser",
    "threat": "Dreiging",
}


def _today() -> Any:
    engine = runtime().engine
    return engine.today()


def _typed(form: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: (form.get(name) or "").strip() for name in names}


def _case_input(values: Mapping[str, str]) -> dict[str, Any]:
    """The wizard's fields as the body of POST /api/v1/cases: empty optional fields are left out."""
    detainee = {n: values[f"detainee.{n}"] for n in DETAINEE_FIELDS if values.get(f"detainee.{n}")}
    detention = {n: values[f"detention.{n}"] for n in DETENTION_FIELDS if values.get(f"detention.{n}")}
    body: dict[str, Any] = {"detainee": detainee, "detention": detention}
    if values.get("intended_postcode"):
        body["intended_postcode"] = values["intended_postcode"]
    for name in INSURANCE_FIELDS:
        if values.get(name):
            body[name] = values[name]
    if re.fullmatch(r"[0-9]{1,18}", body.get("health_insurer_id", "")):
        # The select posts text; only 0-9 is a number here (str.isdigit() also passes '²').
        body["health_insurer_id"] = int(body["health_insurer_id"])
    body["benefits"] = [name.removeprefix("benefit.") for name in BENEFIT_FIELDS if values.get(name)]
    return body


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    return field_errors(exc.messages)


def _step(number: int, values: dict[str, str], errors: dict[str, list[str]]) -> ResponseReturnValue:
    template = "intake/detainee.html" if number == 1 else "intake/detention.html"
    context = {
        "values": values,
        "errors": explain_empty_dates(errors, values, EMPTY_WIZARD_DATES),
        "born": _day(values.get("detainee.date_of_birth", "")),
        "labels": LABELS,
        "steps": STEPS,
        "current": number,
        "detention_options": list(DETENTION_LABELS.items()),
        "volunteer": current_actor().role is Role.VOLUNTEER,
        "insurers": [(c.id, c.name) for c in health_insurers(db_session())] if number == 2 else [],
        "benefit_options": [(f"benefit.{kind}", rule.label) for kind, rule in BENEFITS.items()],
    }
    return render_template(template, **context), 422 if errors else 200


@blp.route("", methods=["GET", "POST"])
@roles_required(*INTAKE_ROLES)
def start() -> ResponseReturnValue:
    """Steps 1 and 2: both post here, with `stap` saying which form was sent and every earlier field hidden."""
    actor = current_actor()
    if request.method == "GET":
        return _step(1, {}, {})
    names = tuple(f"detainee.{n}" for n in DETAINEE_FIELDS) + tuple(f"detention.{n}" for n in DETENTION_FIELDS)
    values = _typed(request.form, (*names, "intended_postcode", *INSURANCE_FIELDS, *BENEFIT_FIELDS))
    # The dates come from their three boxes (or an ISO date a program posts under the name): the ISO date under the
    # name for the schemas, the boxes as typed for the page; a date the boxes do not make is its own message.
    dates, date_errors = read_dates(request.form, WIZARD_DATES)
    values.update(dict.fromkeys(WIZARD_DATES, "") | dates)
    step = request.form.get("stap")
    if step == "1":
        body = _case_input(values)
        errors: dict[str, list[str]] = {}
        try:
            DetaineeIn().load(body["detainee"])
        except ValidationError as exc:
            errors = {f"detainee.{k}": v for k, v in _messages(exc).items()}
        # Only step 1's date counts here: step 2's dates, carried along, are checked on step 2.
        errors.update({k: v for k, v in date_errors.items() if k.startswith("detainee.")})
        refusal = bsn_recording_refusal(actor) if values.get("detainee.bsn") else None
        if refusal is not None:
            errors["detainee.bsn"] = [refusal]
        if errors:
            return _step(1, values, errors)
        return _step(2, values, {})
    if step == "controleren":
        change = request.form.get("wijzig")
        if change in ("1", "2"):
            return _step(int(change), values, {})  # everything typed travels back with the step
        return _open_from_form(actor, values)
    if step != "2":
        abort(400)
    if request.form.get("terug"):
        return _step(1, values, {})
    session = db_session()
    try:
        data = CaseCreate().load(_case_input(values))
    except ValidationError as exc:
        errors = {**_messages(exc), **date_errors}  # a date's own message replaces the schema's "verplicht"
        return _step(1 if any(k.startswith("detainee.") for k in errors) else 2, values, errors)
    if date_errors:  # an optional date typed wrong: the schema did not see it
        return _step(1 if any(k.startswith("detainee.") for k in date_errors) else 2, values, date_errors)
    try:
        # A dry run of the operation, rolled back: the check page shows only what opening will accept (every rule
        # of open_from_intake, such as the release after the start), and stores nothing.
        open_from_intake(session, runtime().engine, actor=actor, data=data, origin=request.remote_addr)
    except ValidationFailed as exc:
        session.rollback()
        return _step(1 if any(k.startswith("detainee.") for k in exc.errors) else 2, values, exc.errors)
    session.rollback()
    return _check(actor, values)


def _day(value: str) -> str:
    """An ISO date typed in the wizard as the check page shows it (4 december 2026); as typed if it is no date."""
    try:
        return datum(date.fromisoformat(value))
    except ValueError:
        return value


def _check(actor: UserActor, values: dict[str, str]) -> ResponseReturnValue:
    """The check page before the case is opened: every value with its step, and what opening it does."""
    session = db_session()
    name = " ".join(values.get(f"detainee.{n}", "") for n in ("given_names", "surname_prefix", "surname")).split()
    insurer = None
    if re.fullmatch(r"[0-9]{1,18}", values.get("health_insurer_id", "")):
        insurer = next((c.name for c in health_insurers(session) if c.id == int(values["health_insurer_id"])), None)
    benefits = [rule.label for kind, rule in BENEFITS.items() if values.get(f"benefit.{kind}")]
    pi = session.get(Organisation, actor.organisation_id) if actor.organisation_id else None
    rows = [
        ("Naam", " ".join(name), "1"),
        ("Geboortedatum", _day(values.get("detainee.date_of_birth", "")), "1"),
        *([("BSN", values.get("detainee.bsn"), "1")] if actor.role is not Role.VOLUNTEER else []),
        ("DJI-nummer", values.get("detainee.dji_number"), "1"),
        ("Soort detentie", DETENTION_LABELS.get(values.get("detention.type", ""), ""), "2"),
        ("Begin detentie", _day(values.get("detention.start", "")), "2"),
        ("Verwachte vrijlating", _day(values.get("detention.expected_release", "")) or "Onbekend", "2"),
        ("Postcode na vrijlating", values.get("intended_postcode") or "Onbekend", "2"),
        ("Zorgverzekeraar", insurer or "Niet bekend", "2"),
        ("Polisnummer", values.get("health_policy_number") or "Niet bekend", "2"),
        ("Uitkeringen en toeslagen", ", ".join(benefits) or "Geen", "2"),
    ]
    # The check page stores nothing: its reads are the wizard's own (the insurers, the PI's name).
    consequences = [
        f"Het dossier wordt geopend bij {pi.name if pi else 'uw PI'}; u ziet het daarna onder Dossiers.",
        "Daarna legt u de getekende machtiging vast en de schulden die de gedetineerde kent.",
        "Er gaat nog niets naar buiten: brieven aan schuldeisers en instanties gaan pas na de handtekening.",
    ]
    session.rollback()
    return render_template(
        "intake/check.html", values=values, rows=rows, consequences=consequences, steps=STEPS, current=2, errors={}
    )


def _open_from_form(actor: UserActor, values: dict[str, str]) -> ResponseReturnValue:
    session = db_session()
    try:
        data = CaseCreate().load(_case_input(values))
    except ValidationError as exc:
        errors = _messages(exc)
        return _step(1 if any(k.startswith("detainee.") for k in errors) else 2, values, errors)
    try:
        case = open_from_intake(session, runtime().engine, actor=actor, data=data, origin=request.remote_addr)
    except ValidationFailed as exc:
        session.rollback()
        return _step(1 if any(k.startswith("detainee.") for k in exc.errors) else 2, values, exc.errors)
    session.commit()
    flash(f"Het dossier is geopend. Referentie: dossier {case.id}. Volgende stap: de getekende machtiging vastleggen.",
          "done")  # fmt: skip
    return redirect(url_for("intake.consent", case_id=case.id), code=303)


def scoped_case(session: Session, actor: UserActor, case_id: int) -> Case:
    """The case under the actor's scope; out of scope (or absent) is a 404 page and the API's authz_denied row."""
    try:
        return get_case(session, actor, case_id)
    except NotFound as exc:
        record_denied(exc)
        abort(404)


def _consent_refusal(session: Session, actor: UserActor, case: Case) -> str | None:
    """Why this user may not record the consent now (the workflow's own reason), or None when it may."""
    instance = session.get_one(WorkflowInstance, case.instance_id)
    for option in runtime().engine.available_events(session, instance, actor):
        if option.event == "record_consent" and not option.allowed and option.code == "role":
            return f"{option.label}: {option.reason} De casemanager legt de toestemming vast."
    if actor.role not in (Role.PI_STAFF, Role.COUNSELLOR):
        return "Uw rol mag de toestemming niet vastleggen; laat dit aan de casemanager."
    return None


def _form_date(session: Session, case: Case) -> date | None:
    """The date of the consent form (L9) the detainee was given to sign: its proposed validity counts from it."""
    return session.scalar(
        select(Letter.letter_date)
        .where(Letter.case_id == case.id, Letter.letter_type == "L9")
        .where(Letter.idempotency_key.not_like(f"%{REFERRAL_FORM_MARK}%"))
        .order_by(Letter.id.desc())
        .limit(1)
    )


@blp.route("/<int:case_id>/toestemming", methods=["GET", "POST"])
@roles_required(*INTAKE_ROLES)
def consent(case_id: int) -> ResponseReturnValue:
    """Step 3: the signed consent, one checkbox per purpose (POST /api/v1/cases/<id>/consents)."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    refusal = _consent_refusal(session, actor, case)
    today = _today()
    # A referral consent names its municipality (domain.md 6.3): without one chosen it is asked for later.
    municipality = session.get(Organisation, case.municipality_id) if case.municipality_id else None
    offered = [p for p in ConsentPurpose if p is not ConsentPurpose.REFER_MUNICIPALITY or municipality is not None]
    # Nothing is ticked for the detainee (ux.md): the casemanager ticks what he signed. The validity proposed is
    # the one the printed form (L9) proposes, so the screen and the paper agree.
    values: dict[str, Any] = with_date_parts(
        {
            "signed_on": today.isoformat(),
            "valid_until": proposed_consent_validity(
                case.expected_release, _form_date(session, case) or today
            ).isoformat(),
        },
        CONSENT_DATES,
    )
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if refusal is not None:
            abort(403)
        dates, date_errors = read_dates(request.form, CONSENT_DATES)
        values = {k: v for k, v in request.form.items() if k != "csrf_token" and k not in CONSENT_DATES} | dates
        chosen = [p.value for p in offered if request.form.get(f"purpose.{p.value}")]
        body: dict[str, Any] = {"purposes": [{"purpose": p} for p in chosen]}
        for name in ("signed_on", "valid_until"):
            if values.get(name):
                body[name] = values[name]
        if (request.form.get("witness") or "").strip():
            body["witness"] = request.form["witness"].strip()
        errors = dict(date_errors)
        try:
            data = ConsentIn().load(body)
        except ValidationError as exc:
            # A date's own message replaces the schema's "verplicht"; an empty date gets one naming it.
            errors = explain_empty_dates({**_messages(exc), **date_errors}, values, EMPTY_CONSENT_DATES)
        if not errors:
            try:
                record_signed_consent(
                    session, runtime().engine, case, actor=actor, data=data, origin=request.remote_addr
                )
            except ValidationFailed as exc:
                session.rollback()
                errors = exc.errors
            except TransitionRefused as exc:
                session.rollback()
                errors = {"_form": [exc.reason]}
        if not errors:
            session.commit()
            flash("De toestemming is vastgelegd.", "ok")
            return redirect(url_for("intake.debts", case_id=case.id), code=303)
    # The step's header is the detainee's name: read, and audited, as the API's GET of the case is.
    name = read_case_name(session, actor, case, origin=request.remote_addr)
    session.commit()
    purposes = [(f"purpose.{p.value}", purpose_label(p, municipality.name if municipality else None)) for p in offered]
    return render_template(
        "intake/consent.html", values=values, errors=errors, labels=LABELS, steps=STEPS, current=3,
        refusal=refusal, purposes=purposes, case=case, name=name,
    ), 422 if errors else 200  # fmt: skip


@blp.route("/<int:case_id>/schulden", methods=["GET", "POST"])
@roles_required(*INTAKE_ROLES)
def debts(case_id: int) -> ResponseReturnValue:
    """Step 4: the debts the detainee knows of, one form per debt (POST /api/v1/cases/<id>/debts)."""
    actor = current_actor()
    if actor.role not in CASE_WRITERS:
        abort(403)
    session = db_session()
    case = scoped_case(session, actor, case_id)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
        body: dict[str, Any] = {}
        for name in ("creditor_id", "debt_type", "creditor_reference", "threat"):
            if values.get(name):
                # Only 0-9 is a number here: str.isdigit() also passes '²', on which int() fails (a 500).
                is_number = name == "creditor_id" and re.fullmatch(r"[0-9]{1,18}", values[name])
                body[name] = int(values[name]) if is_number else values[name]
        if values.get("principal_cents"):
            try:
                body["principal_cents"] = euro_to_cents(values["principal_cents"])
            except ValueError as exc:
                errors["principal_cents"] = [str(exc)]
        try:
            data = DebtCreate().load(body)
        except ValidationError as exc:
            errors = {**_messages(exc), **errors}
        if not errors:
            try:
                add_known_debt(session, runtime().engine, case, actor=actor, data=data, origin=request.remote_addr)
            except ValidationFailed as exc:
                session.rollback()
                errors = exc.errors
        if not errors:
            session.commit()
            flash("De schuld is toegevoegd.", "ok")
            return redirect(url_for("intake.debts", case_id=case.id), code=303)
    rows = read_intake_debts(session, actor, case, origin=request.remote_addr)
    name = detainee_name(session, case)
    # Retired entries (the objection desks seeded before) are not offered: the operation would refuse them.
    creditors = session.execute(
        select(Creditor.id, Creditor.name).where(Creditor.active.is_(True)).order_by(Creditor.name)
    ).all()
    session.commit()
    return render_template(
        "intake/debts.html", values=values, errors=errors, labels=LABELS, steps=STEPS, current=4,
        debts=[(debt, creditor, DEBT_TYPE_LABELS.get(debt.debt_type, debt.debt_type)) for debt, creditor in rows],
        creditors=[(c.id, c.name) for c in creditors], debt_types=list(DEBT_TYPE_LABELS.items()), case=case, name=name,
        threats=list(THREAT_LABELS.items()),
    ), 422 if errors else 200  # fmt: skip


@blp.get("/<int:case_id>/klaar")
@roles_required(*INTAKE_ROLES)
def done(case_id: int) -> ResponseReturnValue:
    """The end of the intake: what was recorded, and who does what next (ux.md: after a task, what comes next)."""
    actor = current_actor()
    session = db_session()
    case = scoped_case(session, actor, case_id)
    state = session.get_one(WorkflowInstance, case.instance_id).state
    rows = read_intake_debts(session, actor, case, origin=request.remote_addr)
    name = detainee_name(session, case)
    team = session.get(Organisation, case.team_id) if case.team_id else None
    queued = session.scalar(
        select(func.count(Letter.id)).where(
            Letter.case_id == case.id, Letter.channel == "post", Letter.sent_at.is_(None)
        )
    )
    session.commit()
    # "De", not str.capitalize(): that would lowercase the team's own name ("Schuldroute (demo)").
    counsellor = f"De schuldhulpverlener van {team.name}" if team else "De schuldhulpverlener"
    steps: list[str] = []
    if state in ("draft", "awaiting_consent"):
        steps.append(
            "U laat de gedetineerde de machtiging tekenen en legt die vast bij het dossier; zonder handtekening gaat "
            "er niets naar schuldeisers. Mijn werk herinnert u eraan na 5 werkdagen."
        )
    else:
        count = len(rows)
        steps.append(
            f"{counsellor} schrijft de {count} {'schuldeiser' if count == 1 else 'schuldeisers'} aan en "
            "verwerkt hun antwoorden; u ziet de voortgang op het dossier."
            if count
            else f"{counsellor} bekijkt het dossier; schulden die later bekend worden legt u daar vast."
        )
    if queued:
        steps.append(
            f"Er {'wacht 1 brief' if queued == 1 else f'wachten {queued} brieven'} in de printbatch van de PI: print "
            "ze en verstuur ze met de post."
        )
    steps.append(
        "Komt er een dreiging bij (huisuitzetting, afsluiting, einde zorgverzekering)? Meld die op het dossier: de "
        "gemeente moet dan binnen 3 werkdagen beginnen."
    )
    return render_template("intake/done.html", case=case, name=name, steps=steps, debts=len(rows))
