"""The steps taken from the case page, each behind a check page where it cannot be undone (ux.md, issue 13).

A button of the case page either acts at once (a step that changes nothing outside and can be taken back, such as
"Aanhouden") or opens a check page first: what will happen, to whom, with the fields the step needs and a
"Wijzigen" way back. Those are the steps that cannot be undone or that send something outside the organisation:
closing the case, refusing or withdrawing consent, "Betaald" and "Kwijtgescholden" on a debt, and writing to all
creditors at once. After the step the browser is sent back to the case page (redirect after POST), with a
confirmation naming what was done and its reference, or with the refusal next to the debt it is about.

The operations are the API's: `take_case_step`, `take_debt_step` and `withdraw_consents`, with their audit rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from schulden.actors import UserActor
from schulden.cases import schemas
from schulden.cases.models import Case, Consent, ConsentPurpose
from schulden.cases.queries import get_case
from schulden.cases.services import EventHasOwnOperation, take_case_step, withdraw_consents
from schulden.consents import PURPOSE_LABELS
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.debts.services import take_debt_step
from schulden.errors import NotFound, ValidationFailed
from schulden.http.errors import record_denied
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.labels import CLOSURE_LABELS, DEBT_TYPE_LABELS, LETTER_TITLES, THREAT_LABELS, label
from schulden.letters.services import creditor_channel
from schulden.roles import Role
from schulden.web.auth import current_actor, login_required
from schulden.web.cases import _flatten, blp
from schulden.web.filters import datum
from workflows import ConcurrentUpdate, TransitionRefused

CONCURRENT = "Iemand anders heeft dit dossier zojuist gewijzigd; bekijk het opnieuw en probeer het nog eens."


@dataclass(frozen=True)
class EventInput:
    """A choice an event needs in its payload (its guard refuses without it), shown as a select on its step page."""

    payload_key: str
    label: str
    options: dict[str, str]


#: Events that take a choice (the rest take nothing, or a reason where the process asks one).
EVENT_INPUTS = {
    "flag_threat": EventInput("threat", "Soort dreiging", THREAT_LABELS),
    "close": EventInput("closure_reason", "Reden van afsluiten", CLOSURE_LABELS),
}

#: Case steps that cannot be undone: the warning style, and always behind their check page.
DESTRUCTIVE_CASE_EVENTS = frozenset({"close", "refuse_consent", "cancel", "withdraw_consent"})

#: What each checked step does, in the words of the people it affects (the check page's "Wat er gebeurt").
CASE_CONSEQUENCES: dict[str, tuple[str, ...]] = {
    "close": (
        "Het dossier wordt afgesloten; dat kan niet worden teruggedraaid.",
        "Brieven die nog niet zijn verstuurd worden gestopt en de termijnen van alle schulden stoppen.",
        "Een verwijzing die nog niet is verstuurd wordt ingetrokken.",
    ),
    "refuse_consent": (
        "Vastgelegd wordt dat de gedetineerde niet tekent; het dossier wordt afgesloten.",
        "Er gaan geen brieven naar schuldeisers.",
    ),
    "cancel": ("Het concept wordt geannuleerd en afgesloten; er is nog niets verstuurd.",),
    "flag_threat": (
        "Het dossier wordt dringend: de gemeente moet binnen 3 werkdagen beginnen (art. 4a Wgs).",
        "Een verwijzing die al loopt krijgt de kortere termijn.",
    ),
    "put_on_hold": ("De termijnen van het dossier stoppen tot iemand het dossier hervat.",),
    "reopen_inventory": ("De inventarisatie gaat weer open; de verwijzing wacht tot zij opnieuw is afgerond.",),
}

#: Debt steps behind a check page, with what they do.
DEBT_CONSEQUENCES: dict[str, tuple[str, ...]] = {
    "mark_paid": (
        "De schuld wordt als betaald afgesloten; dat kan niet worden teruggedraaid.",
        "Herinneringen aan deze schuldeiser stoppen en de schuld telt niet meer mee in het overzicht voor de gemeente.",
    ),
    "write_off": (
        "De schuld wordt als kwijtgescholden afgesloten; dat kan niet worden teruggedraaid.",
        "Leg in de reden vast wie kwijtschold en waarom (bijvoorbeeld de brief van de schuldeiser).",
    ),
    "dispute": ("De schuld wordt betwist: het bedrag telt als betwist tot de betwisting is opgelost.",),
    "request_termination": ("De schuldeiser krijgt een brief met de opzegging van de overeenkomst.",),
    "request_suspension": ("De schuldeiser krijgt een brief met het verzoek de incasso op te schorten.",),
}


def is_checked_case_event(event: str, requires_reason: bool) -> bool:
    """Does this case step open a check page before it is taken?"""
    return requires_reason or event in EVENT_INPUTS or event in CASE_CONSEQUENCES or event in DESTRUCTIVE_CASE_EVENTS


def is_checked_debt_event(event: str, requires_reason: bool) -> bool:
    return requires_reason or event in DEBT_CONSEQUENCES


def _case(session: Session, actor: UserActor, case_id: int) -> Case:
    try:
        return get_case(session, actor, case_id)
    except NotFound as exc:
        record_denied(exc)
        abort(404)


def _name(session: Session, case: Case) -> str:
    from schulden.cases.models import Detainee

    detainee = session.get(Detainee, case.detainee_id)
    if detainee is None:
        return f"dossier {case.id}"
    return " ".join(p for p in (detainee.given_names, detainee.surname_prefix, detainee.surname) if p)


def _transition(process_name: str, event: str, state: str, role: str) -> Any:
    """The labelled transition this role may take from `state` by `event`, or None (then the page is a 404: a
    step page is only reached from a button the case page showed)."""
    process = runtime().engine.registry.get(process_name)
    transition = process.transition(event, state)
    if transition is None or not transition.label or role not in transition.roles:
        return None
    return transition


def _state_of(session: Session, instance_id: int) -> str:
    from workflows.store import WorkflowInstance

    instance = session.get(WorkflowInstance, instance_id)
    return instance.state if instance is not None else ""


# --- a case step ---------------------------------------------------------------------------------------------------


def _render_case_step(
    session: Session,
    case: Case,
    event: str,
    transition: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "dossiers/step.html",
        case=case,
        name=_name(session, case),
        event=event,
        action_label=transition.label,
        requires_reason=transition.requires_reason,
        choice=EVENT_INPUTS.get(event),
        consequences=CASE_CONSEQUENCES.get(event, ()),
        destructive=event in DESTRUCTIVE_CASE_EVENTS,
        values=values or {},
        errors=errors or {},
        labels={"reason": "Reden", "choice": EVENT_INPUTS[event].label if event in EVENT_INPUTS else "Keuze"},
        form_action=url_for("dossiers.fire_event", case_id=case.id),
    ), status


@blp.get("/<int:case_id>/stap/<event>")
@login_required
def case_step(case_id: int, event: str) -> ResponseReturnValue:
    """The check page of a case step: what will happen, the reason or choice it needs, and the button."""
    actor = current_actor()
    session = db_session()
    case = _case(session, actor, case_id)
    if event == "withdraw_consent":
        return redirect(url_for("dossiers.withdraw", case_id=case_id), 303)
    transition = _transition("case", event, _state_of(session, case.instance_id), actor.role.value)
    if transition is None:
        abort(404)
    return _render_case_step(session, case, event, transition)


@blp.post("/<int:case_id>/actie")
@login_required
def fire_event(case_id: int) -> ResponseReturnValue:
    """A case step (the API's POST /cases/{id}/events). A refusal of a checked step shows on its check page, next
    to its field; a refusal of a bare button shows at the top of the case page."""
    actor = current_actor()
    session = db_session()
    values = {name: request.form.get(name, "") for name in ("event", "reason", "choice")}
    event = values["event"]
    data: dict[str, Any] = {"event": event, "payload": {}}
    if values["reason"].strip():
        data["reason"] = values["reason"].strip()
    choice = EVENT_INPUTS.get(event)
    if choice is not None and values["choice"]:
        data["payload"][choice.payload_key] = values["choice"]
    case = _case(session, actor, case_id)
    transition = _transition("case", event, _state_of(session, case.instance_id), actor.role.value)
    checked = transition is not None and is_checked_case_event(event, transition.requires_reason)

    def refused(field: str, message: str, status: int) -> ResponseReturnValue:
        session.rollback()
        if checked:
            fresh = _case(session, actor, case_id)
            return _render_case_step(session, fresh, event, transition, values=values, errors={field: [message]},
                                     status=status)  # fmt: skip
        flash(message, "error")
        return redirect(url_for("dossiers.detail", case_id=case_id) + "#acties-kop", 303)

    try:
        args = schemas.EventIn().load(data)
    except ValidationError as exc:
        messages = _flatten(exc.messages)
        field, texts = next(iter(messages.items()))
        return refused("reason" if field == "reason" else "_form", texts[0], 422)
    try:
        take_case_step(session, runtime().engine, case, args["event"], actor=actor, payload=args["payload"],
                       reason=args.get("reason"), origin=request.remote_addr)  # fmt: skip
        session.commit()
    except EventHasOwnOperation as exc:
        return refused("_form", exc.errors["event"][0], 422)
    except TransitionRefused as exc:
        field = "reason" if exc.code == "reason_required" else "_form"
        if exc.code == "guard" and event in EVENT_INPUTS:
            field = "choice"  # the refusal is about the input: show it at its field
        return refused(field, exc.reason, 409)
    except (ConcurrentUpdate, StaleDataError):
        return refused("_form", CONCURRENT, 409)
    action = transition.label if transition is not None else event
    flash(f"{action}: uitgevoerd op {datum(runtime().engine.today())}. Referentie: dossier {case_id}.", "done")
    return redirect(url_for("dossiers.detail", case_id=case_id), 303)


# --- a debt step ---------------------------------------------------------------------------------------------------


def _debt(session: Session, case_id: int, debt_id: int) -> Debt:
    debt = session.scalar(select(Debt).where(Debt.id == debt_id, Debt.case_id == case_id))
    if debt is None:
        abort(404)
    return debt


def _render_debt_step(
    session: Session,
    case: Case,
    debt: Debt,
    event: str,
    transition: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    creditor = session.get(Creditor, debt.creditor_id)
    return render_template(
        "dossiers/step.html",
        case=case,
        name=_name(session, case),
        event=event,
        action_label=transition.label,
        debt_heading=f"{creditor.name if creditor else 'Schuldeiser'}: {label(DEBT_TYPE_LABELS, debt.debt_type)}",
        debt_total=debt.principal_cents + debt.interest_cents + debt.costs_cents,
        requires_reason=transition.requires_reason,
        choice=None,
        consequences=DEBT_CONSEQUENCES.get(event, ()),
        destructive=event in ("mark_paid", "write_off"),
        values=values or {},
        errors=errors or {},
        labels={"reason": "Reden"},
        form_action=url_for("dossiers.fire_debt_action", case_id=case.id, debt_id=debt.id),
    ), status


@blp.get("/<int:case_id>/schulden/<int:debt_id>/stap/<event>")
@login_required
def debt_step(case_id: int, debt_id: int, event: str) -> ResponseReturnValue:
    actor = current_actor()
    session = db_session()
    case = _case(session, actor, case_id)
    debt = _debt(session, case_id, debt_id)
    transition = _transition("debt", event, _state_of(session, debt.instance_id), actor.role.value)
    if transition is None:
        abort(404)
    return _render_debt_step(session, case, debt, event, transition)


def debt_anchor(case_id: int, debt_id: int) -> str:
    return url_for("dossiers.detail", case_id=case_id) + f"#schuld-{debt_id}"


@blp.post("/<int:case_id>/schulden/<int:debt_id>/actie")
@login_required
def fire_debt_action(case_id: int, debt_id: int) -> ResponseReturnValue:
    """A debt's step (the API's POST /debts/{id}/events); the page returns to that debt, with a refusal next to it."""
    actor = current_actor()
    session = db_session()
    values = {"event": request.form.get("event", ""), "reason": request.form.get("reason", "")}
    event = values["event"]
    _case(session, actor, case_id)  # the case's scope is the debt's
    debt = _debt(session, case_id, debt_id)
    transition = _transition("debt", event, _state_of(session, debt.instance_id), actor.role.value)
    if transition is None:
        flash("Deze stap kan niet bij deze schuld.", f"debt-{debt_id}")
        return redirect(debt_anchor(case_id, debt_id), 303)
    checked = is_checked_debt_event(event, transition.requires_reason)

    def refused(message: str, status: int, field: str = "_form") -> ResponseReturnValue:
        session.rollback()
        if checked:
            fresh_case = _case(session, actor, case_id)
            fresh = _debt(session, case_id, debt_id)
            return _render_debt_step(session, fresh_case, fresh, event, transition, values=values,
                                     errors={field: [message]}, status=status)  # fmt: skip
        flash(message, f"debt-{debt_id}")
        return redirect(debt_anchor(case_id, debt_id), 303)

    data: dict[str, Any] = {"event": event, "payload": {}}
    if values["reason"].strip():
        data["reason"] = values["reason"].strip()
    try:
        args = schemas.EventIn().load(data)
    except ValidationError as exc:
        messages = _flatten(exc.messages)
        field, texts = next(iter(messages.items()))
        return refused(texts[0], 422, "reason" if field == "reason" else "_form")
    try:
        take_debt_step(session, runtime().engine, debt, args["event"], actor=actor, payload=args["payload"],
                       reason=args.get("reason"), origin=request.remote_addr)  # fmt: skip
        session.commit()
    except ValidationFailed as exc:
        return refused(next(iter(exc.errors.values()))[0], 422)
    except TransitionRefused as exc:
        return refused(exc.reason, 409, "reason" if exc.code == "reason_required" else "_form")
    except (ConcurrentUpdate, StaleDataError):
        return refused(CONCURRENT.replace("dit dossier", "deze schuld"), 409)
    flash(f"{transition.label}: uitgevoerd op {datum(runtime().engine.today())}. Referentie: schuld {debt_id}.",
          f"debt-done-{debt_id}")  # fmt: skip
    return redirect(debt_anchor(case_id, debt_id), 303)


# --- all creditors at once -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    debt_id: int
    creditor: str
    debt_type: str
    how: str


def _how(creditor: Creditor) -> str:
    """How the letter will reach this creditor, as the check page says it."""
    channel = creditor_channel(creditor).value
    if channel == "email":
        return f"per e-mail aan {creditor.email}"
    if channel == "post":
        place = ", ".join(
            p for p in (creditor.address_line, f"{creditor.postcode or ''} {creditor.city or ''}".strip()) if p
        )
        return f"per post aan {place}"
    channel_note = creditor.channel_note or "zie het register"
    return f"via het eigen kanaal van de schuldeiser: {channel_note} (een taak op Mijn werk)"


def _unwritten(session: Session, case: Case) -> list[Recipient]:
    from workflows.store import WorkflowInstance

    rows = session.execute(
        select(Debt, Creditor)
        .join(Creditor, Creditor.id == Debt.creditor_id)
        .join(WorkflowInstance, WorkflowInstance.id == Debt.instance_id)
        .where(Debt.case_id == case.id, WorkflowInstance.state == "identified")
        .order_by(Debt.id)
    ).all()
    return [Recipient(d.id, c.name, label(DEBT_TYPE_LABELS, d.debt_type), _how(c)) for d, c in rows]


@blp.route("/<int:case_id>/schuldeisers-aanschrijven", methods=["GET", "POST"])
@login_required
def write_all(case_id: int) -> ResponseReturnValue:
    """ "Alle schuldeisers aanschrijven": one check page listing every letter and where it goes, then one step per
    debt. A debt whose letter is refused (an objection desk, no consent) keeps its refusal next to it; the others go."""
    actor = current_actor()
    session = db_session()
    case = _case(session, actor, case_id)
    if actor.role is not Role.COUNSELLOR:
        abort(403)
    recipients = _unwritten(session, case)
    if request.method == "GET" or request.form.get("confirm") != "1":
        return render_template(
            "dossiers/write_all.html",
            case=case,
            name=_name(session, case),
            recipients=recipients,
            letter_title=LETTER_TITLES["L1"],
        )
    engine = runtime().engine
    sent: list[str] = []
    # One transaction per debt, as the API's one POST per debt: a refused letter leaves the others standing. (Not
    # savepoints: under pysqlite a SAVEPOINT opens a transaction the driver does not know of, and its write lock
    # outlived the commit, so the letters' in-process rendering waited out the lock and failed.)
    for recipient in recipients:
        debt = session.get(Debt, recipient.debt_id)
        if debt is None:
            continue
        try:
            take_debt_step(session, engine, debt, "send_letters", actor=actor, origin=request.remote_addr)
            session.commit()
            sent.append(recipient.creditor)
        except ValidationFailed as exc:
            session.rollback()
            flash(next(iter(exc.errors.values()))[0], f"debt-{recipient.debt_id}")
        except TransitionRefused as exc:
            session.rollback()
            flash(exc.reason, f"debt-{recipient.debt_id}")
        except (ConcurrentUpdate, StaleDataError):
            session.rollback()
            flash(CONCURRENT.replace("dit dossier", "deze schuld"), f"debt-{recipient.debt_id}")
    if sent:
        noun = "schuldeiser" if len(sent) == 1 else "schuldeisers"
        flash(f"Brieven gevraagd voor {len(sent)} {noun}: {', '.join(sent)}. Ze staan klaar voor de printbatch of gaan "
              f"per e-mail. Referentie: dossier {case_id}, {datum(engine.today())}.", "done")  # fmt: skip
    return redirect(url_for("dossiers.detail", case_id=case_id) + "#schulden-kop", 303)


# --- withdrawing consent -------------------------------------------------------------------------------------------


def _active_consents(session: Session, case: Case) -> list[Consent]:
    return list(
        session.scalars(
            select(Consent).where(Consent.case_id == case.id, Consent.withdrawn_at.is_(None)).order_by(Consent.id)
        )
    )


def _purpose(consent: Consent) -> str:
    try:
        return PURPOSE_LABELS[ConsentPurpose(consent.purpose)]
    except ValueError:
        return consent.purpose


@blp.route("/<int:case_id>/toestemming-intrekken", methods=["GET", "POST"])
@login_required
def withdraw(case_id: int) -> ResponseReturnValue:
    """The detainee withdraws some or all of his consent: choose (nothing ticked in advance), check, confirm."""
    actor = current_actor()
    if actor.role not in (Role.PI_STAFF, Role.COUNSELLOR):
        abort(403)
    session = db_session()
    case = _case(session, actor, case_id)
    consents = _active_consents(session, case)
    chosen = [int(v) for v in request.form.getlist("consent_ids") if v.isdigit()]
    note = (request.form.get("note") or "").strip()
    errors: dict[str, list[str]] = {}
    stage = "choose"
    if request.method == "POST":
        if not chosen:
            errors["consent_ids"] = ["Kies welke toestemming de gedetineerde intrekt."]
        elif request.form.get("confirm") == "1":
            try:
                rows = withdraw_consents(session, runtime().engine, case, actor=actor, consent_ids=chosen,
                                         note=note or None, origin=request.remote_addr)  # fmt: skip
                session.commit()
            except ValidationFailed as exc:
                session.rollback()
                errors = {"consent_ids": [str(m) for m in next(iter(exc.errors.values()))]}
            else:
                everything = len(rows) == len(consents)
                what = "Alle toestemming" if everything else "De gekozen toestemming"
                then = (
                    "Het dossier is gestopt; de gedetineerde krijgt de intrekkingsverklaring."
                    if everything
                    else "De gedetineerde krijgt de intrekkingsverklaring; schuldeisers die al een brief kregen "
                    "horen dat de machtiging voor dat deel is beëindigd."
                )
                flash(f"{what} is ingetrokken op {datum(runtime().engine.today())}. {then} Referentie: dossier "
                      f"{case_id}.", "done")  # fmt: skip
                return redirect(url_for("dossiers.detail", case_id=case_id), 303)
        else:
            stage = "check"
    return render_template(
        "dossiers/withdraw.html",
        case=case,
        name=_name(session, case),
        consents=[(c, _purpose(c)) for c in consents],
        chosen=set(chosen),
        note=note,
        stage=stage,
        everything=bool(chosen) and len(set(chosen)) == len(consents),
        errors=errors,
        labels={"consent_ids": "Welke toestemming", "note": "Toelichting"},
    ), (422 if errors else 200)
