"""The creditors' answers for the counsellor: read one, mark it read, take its amounts over, enter a paper answer.

Nothing here decides who sees what: an answer is `replies.queries.read_answer` (the answer's case in the actor's
scope, the `reply.read` row), its PDF `read_attachment` (scope and the `reply.attachment` row), and the writes are
the API's operations (`review_reply`, `confirm_reply`, `enter_reply`). Reading an answer confirms nothing: the
counsellor presses "Gelezen", and "Bedragen overnemen" shows on a check page what the debt's amounts will become.

A paper or phone answer is the reply page's form for staff (the same schema, ReplyCreate, and the Dutch amounts of
schulden.amounts), then its check page, then the answer stored as the debt's next version. A PDF chosen with the
form is checked and stored when the form is sent; a signed token carries it through errors and the check page, so
it need not be chosen again.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from schulden.amounts import euro_to_cents, format_euro
from schulden.debts.workflow import CONFIRMS_BALANCE
from schulden.errors import NotFound, ValidationFailed
from schulden.http.clients import client_address
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.labels import AMOUNT_STATUS_LABELS, letter_label
from schulden.letters.compose import DEBT_TYPE_LABELS
from schulden.letters.lifecycle import PDF_READY
from schulden.letters.models import LetterStatus
from schulden.replies.attachments import MAX_BYTES, MAX_LABEL, AttachmentRefused, check_pdf
from schulden.replies.decisions import (
    STEP_STATES,
    DecisionRefused,
    Plan,
    add_reclaim_debt,
    decide,
    last_proposal,
    offer,
    reclaim_debt_type,
    reclaim_refusal,
    said,
    step_label,
)
from schulden.replies.models import NO_COOPERATION_LABELS, CreditorReply, DecisionStep
from schulden.replies.queries import AnswerView, EntryContext, read_answer, read_entry_context
from schulden.replies.schemas import DECISION_LABELS, ReplyCreate
from schulden.replies.services import (
    AmountsNotTakenOver,
    NoAttachment,
    StoredAttachment,
    check_answer,
    confirm_reply,
    enter_reply,
    read_attachment,
    review_reply,
    today_of,
)
from schulden.roles import Role
from schulden.web.auth import current_actor, login_required, roles_required
from schulden.web.date_fields import date_from_parts
from schulden.web.security import body_limit

blp = Blueprint("antwoorden", __name__, url_prefix="/dossiers")

CHANNEL_LABELS = {"web": "Antwoordpagina", "post": "Post", "phone": "Telefoon", "email": "E-mail"}
#: The channels a counsellor types an answer in from (ReplyCreate's STAFF_CHANNELS), in the order offered.
ENTRY_CHANNELS = [("post", "Post (brief)"), ("phone", "Telefoon"), ("email", "E-mail")]
YES_NO = [("ja", "Ja"), ("nee", "Nee")]

LABELS = {
    "channel": "Hoe kwam het antwoord binnen",
    "received_on": "Ontvangen op",
    "letter_id": "Antwoord op brief",
    "principal_cents": "Hoofdsom",
    "interest_cents": "Rente",
    "costs_cents": "Kosten",
    "peildatum": "Peildatum",
    "collection_suspended": "Incasso opgeschort",
    "collection_suspended_until": "Incasso opgeschort tot",
    "interest_suspended": "Rente bevroren",
    "interest_suspended_until": "Rente bevroren tot",
    "has_judgment": "Vonnis",
    "has_attachment": "Beslag",
    "original_creditor": "Oorspronkelijke schuldeiser",
    "creditor_customer_number": "Klantnummer bij de schuldeiser",
    "creditor_invoice_number": "Factuurnummer bij de schuldeiser",
    "arrangement_offered": "Betalingsregeling aangeboden",
    "arrangement_monthly_cents": "Bedrag per maand",
    "arrangement_terms": "Voorwaarden regeling",
    "contact_name": "Contactpersoon",
    "contact_phone": "Telefoon",
    "contact_email": "E-mail",
    "no_cooperation": "Geen medewerking",
    "no_cooperation_note": "Toelichting geen medewerking",
    "note": "Opmerking",
    "attachment": "Bijlage",
}
_AMOUNTS = ("principal_cents", "interest_cents", "costs_cents", "arrangement_monthly_cents")
_BOOLEANS = ("collection_suspended", "interest_suspended", "has_judgment", "has_attachment", "arrangement_offered")
_DATES = ("received_on", "peildatum", "collection_suspended_until", "interest_suspended_until")
#: The form field that carries a PDF stored with an earlier post of the form (a signed token, not a secret).
_CARRIED_FILE = "bijlage_token"
#: The answer's text fields next to the PDF: notes of up to 5 000 characters, multipart framing.
_FORM_ALLOWANCE = 128 * 1024
BODY_TOO_BIG = (
    f"Het antwoord is niet opgeslagen: de bijlage is groter dan {MAX_LABEL}. Kies een kleiner PDF-bestand en vul "
    "het formulier opnieuw in."
)


# --- one answer ----------------------------------------------------------------------------------------------------


@blp.get("/<int:case_id>/antwoorden/<int:reply_id>")
@login_required
def show(case_id: int, reply_id: int) -> ResponseReturnValue:
    """The answer with everything the creditor said (its decision in words, and the step it asks), its letter, PDF
    and earlier versions."""
    session = db_session()
    view = read_answer(
        session, runtime().engine, current_actor(), case_id=case_id, reply_id=reply_id, origin=client_address()
    )
    context = _answer_context(view.reply, view)
    session.commit()
    return render_template("dossiers/answers/show.html", **context, may_act=_is_counsellor())


def _is_counsellor() -> bool:
    return current_actor().role is Role.COUNSELLOR


def _answer_context(reply: CreditorReply, view: Any) -> dict[str, Any]:
    letter = view.letter
    return {
        "view": view,
        "reply": reply,
        "case_id": view.case.id,
        "client": _client_name(view.detainee),
        "channel_labels": CHANNEL_LABELS,
        "amount_status_labels": AMOUNT_STATUS_LABELS,
        "no_cooperation_labels": {k.value: v for k, v in NO_COOPERATION_LABELS.items()},
        "letter_title": letter_label(letter.letter_type, letter.round) if letter is not None else None,
        "letter_pdf": letter is not None and letter.storage_key is not None and letter.status in PDF_READY,
        "moves_to_confirmed": view.debt_state in CONFIRMS_BALANCE,
        "said": said(reply),
        "offer": offer(db_session(), runtime().engine, reply),
        "steps": [(step, step_label(reply, step), STEP_SLUGS[step]) for step in reply.decision_steps],
        "reclaim_refusal": reclaim_refusal(db_session(), reply),
        "decision_labels": {k.value: v for k, v in DECISION_LABELS.items()},
    }


def _client_name(detainee: Any) -> str:
    prefix = f"{detainee.surname_prefix} " if detainee.surname_prefix else ""
    return f"{detainee.given_names} {prefix}{detainee.surname}"


@blp.post("/<int:case_id>/antwoorden/<int:reply_id>/gelezen")
@roles_required(Role.COUNSELLOR)
def review(case_id: int, reply_id: int) -> ResponseReturnValue:
    """ "Gelezen": the answer leaves the list of answers to read; the debt does not change."""
    session = db_session()
    _answer_of_case(case_id, reply_id)
    review_reply(session, actor=current_actor(), reply_id=reply_id, origin=client_address())
    session.commit()
    flash("Het antwoord is gemarkeerd als gelezen. Het staat niet meer bij de antwoorden om te lezen.", "ok")
    return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply_id), 303)


def _answer_of_case(case_id: int, reply_id: int) -> Any:
    """The answer's view if it is of this case and readable (NotFound: the Dutch 404 page and the denial row)."""
    return read_answer(
        db_session(), runtime().engine, current_actor(), case_id=case_id, reply_id=reply_id, origin=client_address()
    )


@blp.get("/<int:case_id>/antwoorden/<int:reply_id>/bijlage.pdf")
@login_required
def attachment(case_id: int, reply_id: int) -> ResponseReturnValue:
    """The PDF the creditor attached (or the counsellor scanned), with the `reply.attachment` row."""
    session = db_session()
    _answer_of_case(case_id, reply_id)
    try:
        reply, data = read_attachment(
            session, runtime().store, actor=current_actor(), reply_id=reply_id, origin=client_address()
        )
    except NoAttachment as exc:
        raise NotFound("attachment", reply_id) from exc
    session.commit()
    response = Response(data, mimetype="application/pdf")
    disposition = "inline" if request.args.get("bekijken") else "attachment"
    # The name is ours (ids), never the creditor's file name, which may hold a person's name (security.md 14).
    response.headers["Content-Disposition"] = f'{disposition}; filename="bijlage-antwoord-{reply.id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- taking the amounts over ---------------------------------------------------------------------------------------


@blp.get("/<int:case_id>/antwoorden/<int:reply_id>/overnemen")
@roles_required(Role.COUNSELLOR)
def confirm(case_id: int, reply_id: int) -> ResponseReturnValue:
    """The check page of "Bedragen overnemen": the amounts the debt will carry, each with a "Wijzigen" link."""
    session = db_session()
    view = _answer_of_case(case_id, reply_id)
    session.commit()
    if not view.reply.awaits_take_over:
        flash(_why_not(view.reply), "info")
        return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply_id), 303)
    return render_template("dossiers/answers/confirm.html", **_answer_context(view.reply, view), errors={})


def _why_not(reply: CreditorReply) -> str:
    if reply.amounts_taken_over:
        return "De bedragen van dit antwoord zijn al overgenomen."
    if reply.superseded_at is not None:
        return "Er is een nieuwer antwoord van deze schuldeiser; neem de bedragen daarvan over."
    return "Dit antwoord noemt geen bedragen om over te nemen."


@blp.post("/<int:case_id>/antwoorden/<int:reply_id>/overnemen")
@roles_required(Role.COUNSELLOR)
def confirm_submit(case_id: int, reply_id: int) -> ResponseReturnValue:
    session = db_session()
    view = _answer_of_case(case_id, reply_id)
    if request.form.get("confirm") != "1":
        session.commit()
        return redirect(url_for("antwoorden.confirm", case_id=case_id, reply_id=reply_id), 303)
    try:
        reply = confirm_reply(
            session, runtime().engine, actor=current_actor(), reply_id=reply_id, origin=client_address()
        )
    except AmountsNotTakenOver as exc:
        session.rollback()
        view = _answer_of_case(case_id, reply_id)
        session.commit()
        context = _answer_context(view.reply, view)
        return render_template("dossiers/answers/confirm.html", **context, errors={"_form": [str(exc)]}), 409
    session.commit()
    total = format_euro(reply.total_cents or 0)
    flash(f"Bedragen overgenomen: de schuld bij {view.creditor} is nu € {total}, bevestigd.", "done")
    return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply_id), 303)


# --- the creditor's decision: the debt's step, behind its check page -------------------------------------------------

#: The steps in the address, in Dutch.
STEP_SLUGS = {
    DecisionStep.AGREE: "akkoord",
    DecisionStep.REJECT: "afwijzen",
    DecisionStep.PROPOSE_AGAIN: "opnieuw-voorstellen",
    DecisionStep.CONFIRM_TERMINATION: "opzegging-bevestigd",
}
_SLUG_STEPS = {slug: step for step, slug in STEP_SLUGS.items()}
#: Where each step takes the debt (debts/workflow.py); a new proposal ends in `arrangement_proposed` again.
STEP_TARGETS = {
    DecisionStep.AGREE: "arrangement_agreed",
    DecisionStep.REJECT: "arrangement_rejected",
    DecisionStep.PROPOSE_AGAIN: "arrangement_proposed",
    DecisionStep.CONFIRM_TERMINATION: "terminated",
}
PLAN_LABELS = {
    "plan_monthly_cents": "Bedrag per maand",
    "plan_months": "Aantal termijnen",
    "plan_start_date": "Eerste betaling",
    "plan_basis": "Waarop het bedrag is gebaseerd",
}
_PLAN_FIELDS = ("plan_monthly_cents", "plan_months", "plan_start_date-dag", "plan_start_date-maand",
                "plan_start_date-jaar", "plan_basis")  # fmt: skip
#: A proposal's bounds, as the debt process checks them (debts/workflow.py, ARRANGEMENT_GIVEN).
MAX_MONTHLY_CENTS = 100_000_000
MAX_MONTHS = 120


def _step(slug: str) -> DecisionStep:
    step = _SLUG_STEPS.get(slug)
    if step is None:
        raise NotFound("step", slug)
    return step


def _state_label(state: str) -> str:
    return runtime().engine.registry.get("debt").state(state).label or state


def _decision_page(view: AnswerView, step: DecisionStep, **extra: Any) -> str:
    reply = view.reply
    context = _answer_context(reply, view)
    return render_template(
        "dossiers/answers/decision.html",
        **context,
        step=step,
        step_title=step_label(reply, step),
        slug=STEP_SLUGS[step],
        from_label=_state_label(STEP_STATES[step]),
        to_label=_state_label(STEP_TARGETS[step]),
        labels=PLAN_LABELS,
        **{"errors": {}, "values": {}, "plan": None, "editing": False, **extra},
    )


def _plan_values(reply: CreditorReply) -> dict[str, str]:
    """A new proposal starts from the last one made (the counsellor changes what needs changing)."""
    earlier = last_proposal(db_session(), reply.debt_id) if reply.debt_id is not None else {}
    values: dict[str, str] = {}
    if isinstance(earlier.get("monthly_cents"), int):
        values["plan_monthly_cents"] = format_euro(earlier["monthly_cents"])
    if isinstance(earlier.get("months"), int):
        values["plan_months"] = str(earlier["months"])
    try:
        start = date.fromisoformat(str(earlier.get("start_date")))
    except ValueError:
        pass
    else:
        values.update({"plan_start_date-dag": str(start.day), "plan_start_date-maand": str(start.month),
                       "plan_start_date-jaar": str(start.year)})  # fmt: skip
    if isinstance(earlier.get("basis"), str):
        values["plan_basis"] = earlier["basis"]
    return values


def _plan_from(form: Any) -> tuple[Plan | None, dict[str, list[str]]]:
    """The new proposal as typed, with a Dutch message per field that breaks a rule."""
    errors: dict[str, list[str]] = {}
    monthly = months = None
    text = (form.get("plan_monthly_cents") or "").strip()
    if not text:
        errors["plan_monthly_cents"] = ["Vul het bedrag per maand in euro's in, bijvoorbeeld 12,50."]
    else:
        try:
            monthly = euro_to_cents(text)
        except ValueError as exc:
            errors["plan_monthly_cents"] = [str(exc)]
        else:
            if not 0 < monthly <= MAX_MONTHLY_CENTS:
                errors["plan_monthly_cents"] = ["Het bedrag per maand is meer dan € 0 en hooguit € 1.000.000."]
    typed_months = (form.get("plan_months") or "").strip()
    if typed_months.isascii() and typed_months.isdigit() and 1 <= int(typed_months) <= MAX_MONTHS:
        months = int(typed_months)
    else:
        errors["plan_months"] = [f"Vul het aantal termijnen in als een getal van 1 tot {MAX_MONTHS}."]
    start, problem = date_from_parts(form, "plan_start_date")
    if problem:
        errors["plan_start_date"] = [problem]
    elif start is None:
        errors["plan_start_date"] = ["Vul de datum van de eerste betaling in, bijvoorbeeld 1 2 2027."]
    basis = (form.get("plan_basis") or "").strip()
    if not basis:
        errors["plan_basis"] = ["Schrijf waarop het bedrag is gebaseerd, bijvoorbeeld het inkomen in detentie."]
    elif len(basis) > 500:
        errors["plan_basis"] = [f"Waarop het bedrag is gebaseerd: hooguit 500 tekens (nu {len(basis)})."]
    if errors or monthly is None or months is None or start is None:
        return None, errors
    return Plan(monthly, months, date.fromisoformat(start), basis), {}


@blp.get("/<int:case_id>/antwoorden/<int:reply_id>/besluit/<slug>")
@roles_required(Role.COUNSELLOR)
def decision(case_id: int, reply_id: int, slug: str) -> ResponseReturnValue:
    """The check page of the step the creditor's decision asks (a new proposal: its form first). Where the step is
    not possible now, back to the answer, which says why."""
    step = _step(slug)
    session = db_session()
    view = _answer_of_case(case_id, reply_id)
    found = offer(session, runtime().engine, view.reply)
    if step not in found.possible:
        session.commit()
        why = found.refusal or (
            "Het besluit van dit antwoord is al vastgelegd."
            if view.reply.decision_taken
            else "Dit antwoord vraagt niet om deze stap."
        )
        flash(why, "info")
        return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply_id), 303)
    if step is DecisionStep.PROPOSE_AGAIN:
        page = _decision_page(view, step, values=_plan_values(view.reply), editing=True)
    else:
        page = _decision_page(view, step)
    session.commit()
    return page


@blp.post("/<int:case_id>/antwoorden/<int:reply_id>/besluit/<slug>")
@roles_required(Role.COUNSELLOR)
def decision_submit(case_id: int, reply_id: int, slug: str) -> ResponseReturnValue:
    """Records the step (confirm=1 from the check page): the debt event with the answer's id. A refusal (the debt
    moved on meanwhile, the answer was decided or replaced) is the check page again with the Dutch reason (409)."""
    step = _step(slug)
    session = db_session()
    view = _answer_of_case(case_id, reply_id)
    plan = None
    if step is DecisionStep.PROPOSE_AGAIN:
        values = {k: (request.form.get(k) or "").strip() for k in _PLAN_FIELDS}
        plan, errors = _plan_from(request.form)
        if request.form.get("wijzig") or errors:
            page = _decision_page(view, step, values=values, errors=errors, editing=True)
            session.commit()
            return page, 422 if errors else 200
        if request.form.get("confirm") != "1":
            page = _decision_page(view, step, values=values, plan=plan)
            session.commit()
            return page
    elif request.form.get("confirm") != "1":
        session.commit()
        return redirect(url_for("antwoorden.decision", case_id=case_id, reply_id=reply_id, slug=slug), 303)
    try:
        decide(session, runtime().engine, actor=current_actor(), reply_id=reply_id, step=step, plan=plan,
               origin=client_address())  # fmt: skip
    except DecisionRefused as exc:
        session.rollback()
        view = _answer_of_case(case_id, reply_id)
        values = {k: (request.form.get(k) or "").strip() for k in _PLAN_FIELDS}
        page = _decision_page(view, step, values=values, plan=plan, errors={"_form": [str(exc)]})
        session.commit()
        return page, 409
    session.commit()
    flash(f"Vastgelegd: de schuld bij {view.creditor} staat nu op '{_state_label(STEP_TARGETS[step])}'.", "done")
    return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply_id), 303)


# --- a reclaim named by a benefit office (L7) as a debt ------------------------------------------------------------


def _reclaim_page(view: AnswerView, errors: dict[str, list[str]]) -> str:
    context = _answer_context(view.reply, view)
    letter = view.letter
    kind = reclaim_debt_type(db_session(), letter) if letter is not None else "uitkering_terugvordering"
    return render_template(
        "dossiers/answers/reclaim.html", **context, errors=errors, debt_type_label=DEBT_TYPE_LABELS.get(kind, kind)
    )


@blp.get("/<int:case_id>/antwoorden/<int:reply_id>/terugvordering")
@roles_required(Role.COUNSELLOR)
def reclaim(case_id: int, reply_id: int) -> ResponseReturnValue:
    """The check page of "Terugvordering als schuld toevoegen"."""
    session = db_session()
    view = _answer_of_case(case_id, reply_id)
    refusal = reclaim_refusal(session, view.reply)
    if refusal is not None:
        session.commit()
        flash(refusal, "info")
        return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply_id), 303)
    page = _reclaim_page(view, {})
    session.commit()
    return page


@blp.post("/<int:case_id>/antwoorden/<int:reply_id>/terugvordering")
@roles_required(Role.COUNSELLOR)
def reclaim_submit(case_id: int, reply_id: int) -> ResponseReturnValue:
    session = db_session()
    view = _answer_of_case(case_id, reply_id)
    if request.form.get("confirm") != "1":
        session.commit()
        return redirect(url_for("antwoorden.reclaim", case_id=case_id, reply_id=reply_id), 303)
    try:
        debt = add_reclaim_debt(
            session, runtime().engine, actor=current_actor(), reply_id=reply_id, origin=client_address()
        )
    except DecisionRefused as exc:
        session.rollback()
        view = _answer_of_case(case_id, reply_id)
        page = _reclaim_page(view, {"_form": [str(exc)]})
        session.commit()
        return page, 409
    session.commit()
    flash(f"De terugvordering van € {format_euro(debt.total_cents)} staat nu als schuld in het dossier.", "done")
    return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply_id), 303)


# --- a paper or phone answer ---------------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="antwoord-invoeren-bijlage")


def _carried(token: str, debt_id: int) -> StoredAttachment | None:
    """The PDF stored with an earlier post of this form, if the token is ours and for this debt and user."""
    if not token:
        return None
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if data.get("debt") != debt_id or data.get("by") != current_actor().actor_id:
        return None
    return StoredAttachment(key=data["key"], name=data["name"], sha256=data["sha256"], size=data["size"])


def _token(stored: StoredAttachment, debt_id: int) -> str:
    payload = {"key": stored.key, "name": stored.name, "sha256": stored.sha256, "size": stored.size,
               "debt": debt_id, "by": current_actor().actor_id}  # fmt: skip
    return str(_serializer().dumps(payload))


def _upload(case_id: int, debt_id: int) -> tuple[StoredAttachment | None, dict[str, list[str]]]:
    upload = request.files.get("attachment")
    if upload is None or not upload.filename:
        return None, {}
    data = upload.read(MAX_BYTES + 1)
    try:
        check_pdf(data)
    except AttachmentRefused as refused:
        return None, {"attachment": [refused.message]}
    sha = hashlib.sha256(data).hexdigest()
    key = f"replies/{case_id}/invoer-{debt_id}-{sha[:16]}.pdf"
    # Stored before anything refers to it: an abandoned form leaves an unreferenced file, never a reply without.
    runtime().store.put(key, data)
    name = re.sub(r"[^\w.\- ]", "_", upload.filename)[:200]
    return StoredAttachment(key=key, name=name, sha256=sha, size=len(data)), {}


def _form_to_entry(form: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The form's text as ReplyCreate's input: euro text to cents, ja/nee to booleans, three boxes to a date."""
    raw: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in ReplyCreate().fields:
        if name in _DATES:
            value, problem = date_from_parts(form, name)
            if problem:
                errors[name] = [problem]
            elif value:
                raw[name] = value
            continue
        text = (form.get(name) or "").strip()
        if not text:
            continue
        if name in _AMOUNTS:
            try:
                raw[name] = euro_to_cents(text)
            except ValueError as exc:
                errors[name] = [str(exc)]
        elif name in _BOOLEANS:
            raw[name] = text == "ja"
        elif name == "letter_id":
            raw[name] = int(text) if text.isdigit() else -1
        else:
            raw[name] = text
    if "received_on" not in raw and "received_on" not in errors:
        errors["received_on"] = ["Vul de datum in waarop het antwoord binnenkwam, bijvoorbeeld 4 12 2026."]
    if "channel" not in raw:
        errors["channel"] = ["Kies hoe het antwoord binnenkwam: post, telefoon of e-mail."]
    return raw, errors


def _check(raw: dict[str, Any], context: EntryContext, today: date) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """ReplyCreate's checks, then the service's rules across fields: the check page shows only what can be saved."""
    try:
        data: dict[str, Any] = ReplyCreate().load(raw)
    except ValidationError as exc:
        return {}, {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.messages_dict.items()}
    answer = {k: v for k, v in data.items() if k not in ("channel", "received_on", "letter_id")}
    errors: dict[str, list[str]] = {}
    try:
        check_answer(answer, today=today)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if data["received_on"] > today:
        errors["received_on"] = ["De ontvangstdatum ligt in de toekomst."]
    if data.get("letter_id") is not None and data["letter_id"] not in {letter.id for letter in context.letters}:
        errors["letter_id"] = ["Kies een brief van deze schuld, of geen."]
    return data, errors


def _values_of(reply: CreditorReply) -> dict[str, str]:
    """An earlier answer as the form's text, for "Wijzigen" from the take-over check page."""
    values: dict[str, str] = {}
    for name in ReplyCreate().fields:
        value = getattr(reply, name, None)
        if value is None or name in ("channel", "received_on"):
            continue
        if name in _AMOUNTS:
            values[name] = format_euro(value)
        elif name in _BOOLEANS:
            values[name] = "ja" if value else "nee"
        elif name in _DATES:
            values.update({f"{name}-dag": str(value.day), f"{name}-maand": str(value.month),
                           f"{name}-jaar": str(value.year)})  # fmt: skip
        else:
            values[name] = str(value)
    return values


def _entry_context(context: EntryContext) -> dict[str, Any]:
    return {
        "entry": context,
        "case_id": context.case.id,
        "client": _client_name(context.detainee),
        "labels": LABELS,
        "channels": ENTRY_CHANNELS,
        "yes_no": YES_NO,
        "no_cooperation_options": [(k.value, v) for k, v in NO_COOPERATION_LABELS.items()],
        "letter_options": [
            (str(letter.id), f"{letter_label(letter.letter_type, letter.round)} van {_short(letter.letter_date)}")
            for letter in context.letters
        ],
        "amount_status_labels": AMOUNT_STATUS_LABELS,
    }


def _short(day: date | None) -> str:
    return day.strftime("%d-%m-%Y") if day else "onbekende datum"


@blp.get("/<int:case_id>/schulden/<int:debt_id>/antwoord-invoeren")
@roles_required(Role.COUNSELLOR)
def enter(case_id: int, debt_id: int) -> ResponseReturnValue:
    """The form for an answer that came by post, phone or e-mail; `?van=<answer>` starts from an earlier answer."""
    session = db_session()
    context = read_entry_context(session, current_actor(), case_id=case_id, debt_id=debt_id, origin=client_address())
    values: dict[str, str] = {}
    source = request.args.get("van", "")
    if source.isdigit():
        earlier = _answer_of_case(case_id, int(source)).reply
        if earlier.debt_id == debt_id:
            values = _values_of(earlier)
    sent = [letter for letter in context.letters if letter.status == LetterStatus.SENT.value]
    if not values and sent:
        # Most answers on paper answer the newest letter the creditor got: chosen already, and changeable.
        values = {"letter_id": str(sent[-1].id)}
    session.commit()
    return render_template(
        "dossiers/answers/enter.html", **_entry_context(context), values=values, errors={}, attachment=None, token=""
    )


@blp.post("/<int:case_id>/schulden/<int:debt_id>/antwoord-invoeren")
@roles_required(Role.COUNSELLOR)
@body_limit(MAX_BYTES + _FORM_ALLOWANCE)
def enter_submit(case_id: int, debt_id: int) -> ResponseReturnValue:
    """The form to its check page; the check page's "Opslaan" (confirm=1) stores it; "Wijzigen" back to the form."""
    session = db_session()
    actor = current_actor()
    context = read_entry_context(session, actor, case_id=case_id, debt_id=debt_id, origin=client_address())
    session.commit()
    form = request.form
    values = {k: v for k, v in form.items() if k not in ("csrf_token", "confirm", "wijzig", _CARRIED_FILE)}
    stored = _carried(form.get(_CARRIED_FILE, ""), debt_id)
    upload, upload_errors = _upload(case_id, debt_id)
    stored = upload or stored
    token = _token(stored, debt_id) if stored else ""
    page = {**_entry_context(context), "values": values, "attachment": stored, "token": token}

    if form.get("wijzig"):
        return render_template("dossiers/answers/enter.html", **page, errors={}, focus=form["wijzig"])
    raw, errors = _form_to_entry(form)
    data: dict[str, Any] = {}
    if not errors:
        data, errors = _check(raw, context, today_of(runtime().engine))
    errors.update(upload_errors)
    if errors:
        return render_template("dossiers/answers/enter.html", **page, errors=errors), 422
    if form.get("confirm") != "1":
        return render_template("dossiers/answers/enter_check.html", **page, data=data, errors={})
    try:
        reply = enter_reply(
            session, runtime().engine, actor=actor, debt_id=debt_id, data=data, origin=client_address(),
            attachment=stored, case_id=case_id,
        )  # fmt: skip
    except ValidationFailed as exc:
        session.rollback()
        return render_template("dossiers/answers/enter.html", **page, errors=exc.errors), 422
    session.commit()
    what = "opgeslagen en de bedragen zijn overgenomen" if reply.amounts_taken_over else "opgeslagen"
    flash(f"Het antwoord van {context.creditor} is {what} (versie {reply.version}).", "done")
    return redirect(url_for("antwoorden.show", case_id=case_id, reply_id=reply.id), 303)


@blp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """A body over the limit was refused before it was read: the form again, with the limit named at the PDF."""
    if request.endpoint != "antwoorden.enter_submit" or request.view_args is None:
        return render_template("error.html", status=413, title="Verzoek te groot"), 413
    args = request.view_args
    context = read_entry_context(
        db_session(), current_actor(), case_id=args["case_id"], debt_id=args["debt_id"], origin=client_address()
    )
    db_session().commit()
    page = {**_entry_context(context), "values": MultiDict(), "attachment": None, "token": ""}
    return render_template("dossiers/answers/enter.html", **page, errors={"attachment": [BODY_TOO_BIG]}), 413
