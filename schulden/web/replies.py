"""The reply page for creditors (security.md 2.2, scenarios 4-6; ux.md "Public creditor page"): no account, one letter.

A creditor arrives with the QR link (/antwoord/<token>, 256 bits) or types the code printed on the letter at
/antwoord. Either is exchanged at once for a reply session on the server (schulden/replies/sessions.py: the cookie
holds only a random id, the row names the letter), and the browser is sent on to /antwoord/brief: from the first
response on the address no longer holds the token (the Referrer-Policy of every page is no-referrer, so it leaks
nowhere before that either). Neither the token nor the session id is ever logged or audited. Unknown, expired,
revoked and altered codes all get the same page.

The steps, phone first: the form asks only what the letter asked (schemas.QUESTIONS by the letter's type; a
reminder asks what the letter it chases asked), and shows an earlier answer to the same letter when there is one;
"Controleer uw antwoord" shows back how the page read every value, each with "Wijzigen"; sending records the answer
(the same schema and service as a counsellor's paper entry) and ends the session; the confirmation shows the
reference, the date, what was sent and how to correct it. Answering again (with the code) adds a new version; the
earlier one stays. Every step says who "wij" are and whom to call (the sender of the letters, from the settings).

Between the form and sending, the typed answer and a chosen PDF wait on the server under the session
(sessions.Draft), so a file chosen before an error on another field is kept and need not be chosen again.

The answer form takes a PDF of up to 4 MB, more than the app's 1 MB limit: `body_limit` raises the limit for
that one view before the CSRF check reads the form, and a bigger body gets the form again with a Dutch message
(413) instead of a bare error. Attempts and answers are limited per letter (schulden/replies/codes.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from schulden.amounts import euro_to_cents, format_euro
from schulden.errors import ValidationFailed
from schulden.http.clients import client_address
from schulden.http.ports import runtime, settings
from schulden.http.requests import db_session
from schulden.labels import LETTER_TITLES, letter_label
from schulden.letters.compose import our_reference
from schulden.letters.models import Letter
from schulden.letters.reply_codes import ReplyCodeKey
from schulden.replies import codes, sessions
from schulden.replies.attachments import MAX_BYTES, MAX_LABEL, AttachmentRefused, check_pdf
from schulden.replies.models import NO_COOPERATION_LABELS, CreditorReply, NoCooperation, ReplySessionEnd
from schulden.replies.queries import letter_as_sent, letter_file, open_with_code, open_with_link, read_letter
from schulden.replies.schemas import (
    DECISION_LABELS,
    NOTICE_TYPES,
    Decision,
    Proposal,
    ReplyPageAnswer,
    asked_fields,
    questions_for,
    stored_answer,
)
from schulden.replies.services import NOT_ABOUT_A_DEBT, StoredAttachment, check_answer, submit_answer, today_of
from schulden.web.date_fields import DATE_PARTS, date_from_parts
from schulden.web.filters import datum, euro
from schulden.web.security import body_limit
from workflows.store import utcnow

blp = Blueprint("reply", __name__, url_prefix="/antwoord")

MAX_ATTACHMENT = MAX_BYTES
#: The answer's text fields next to the PDF: notes of up to 5 000 characters, multipart framing.
_FORM_ALLOWANCE = 128 * 1024
_SESSION_KEY = "reply"
#: The confirmation's pointer to the answer just sent (the reply session has ended by then): signed like the
#: whole cookie, so only the browser that sent the answer sees it, and only for a while.
_RECEIPT_KEY = "reply_receipt"
RECEIPT_LIFETIME = timedelta(hours=2)
UNKNOWN = "Deze code of link is onbekend, verlopen of ingetrokken. Controleer de code op de brief."
TOO_MANY = "Te veel pogingen met een verkeerde code. Probeer het over een uur opnieuw, of bel ons (zie hieronder)."
TOO_MANY_ANSWERS = (
    "U hebt op deze brief het afgelopen uur al vaak geantwoord. Probeer het over een uur opnieuw, of bel ons "
    "(zie hieronder)."
)
BODY_TOO_BIG = (
    f"Uw antwoord is niet verstuurd: de bijlage is groter dan {MAX_LABEL}. Kies een kleiner PDF-bestand en vul "
    "het formulier opnieuw in."
)
FILE_AGAIN = "Kies het bestand daarna opnieuw: wij hebben het niet bewaard."
DRAFT_GONE = "Uw antwoord is niet meer bij ons bewaard. Vul het formulier opnieuw in."

LABELS = {
    "code": "Antwoordcode",
    "principal_cents": "Hoofdsom",
    "interest_cents": "Rente",
    "costs_cents": "Kosten",
    "peildatum": "Peildatum van het saldo",
    "collection_suspended": "Incasso opgeschort",
    "collection_suspended_until": "Incasso opgeschort tot",
    "interest_suspended": "Rente en kosten bevroren",
    "interest_suspended_until": "Rente en kosten bevroren tot",
    "has_judgment": "Vonnis",
    "has_attachment": "Beslag",
    "original_creditor": "Oorspronkelijke schuldeiser",
    "creditor_customer_number": "Uw klantnummer",
    "creditor_invoice_number": "Uw factuurnummer",
    "arrangement_offered": "Betalingsregeling mogelijk",
    "arrangement_decision": "Uw besluit over ons voorstel",
    "arrangement_reason": "Waarom niet akkoord",
    "arrangement_monthly_cents": "Bedrag per maand",
    "arrangement_terms": "Voorwaarden regeling",
    "termination_confirmed": "Opzegging bevestigd",
    "termination_date": "Einddatum overeenkomst",
    "termination_reason": "Waarom niet bevestigd",
    "insurance_suspended": "Basisverzekering geschorst",
    "insurance_suspended_from": "Geschorst vanaf",
    "change_confirmed": "Wijziging verwerkt",
    "reclaim_cents": "Terugvordering",
    "contact_name": "Contactpersoon",
    "contact_phone": "Telefoon",
    "contact_email": "E-mail",
    "no_cooperation": "Geen medewerking",
    "no_cooperation_note": "Toelichting geen medewerking",
    "note": "Opmerking",
    "attachment": "Bijlage",
}
_AMOUNTS = frozenset({"principal_cents", "interest_cents", "costs_cents", "arrangement_monthly_cents", "reclaim_cents"})
_BOOLEANS = frozenset(
    {"collection_suspended", "interest_suspended", "has_judgment", "has_attachment", "arrangement_offered",
     "termination_confirmed", "insurance_suspended", "change_confirmed"}
)  # fmt: skip
_DATES = frozenset(
    {"peildatum", "collection_suspended_until", "interest_suspended_until", "termination_date",
     "insurance_suspended_from"}
)  # fmt: skip
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
AMOUNT_HINT = "Vul het bedrag in euro's in, bijvoorbeeld 1.234,56."


def _now() -> datetime:
    return utcnow()


def _sender() -> dict[str, str]:
    """Who "wij" are and whom to call: the sender of the letters (settings), on every step."""
    config = settings()
    return {
        "name": config.sender_name,
        "phone": config.sender_phone,
        "phone_link": re.sub(r"[^0-9+]", "", config.sender_phone),
        "email": config.sender_email,
    }


def _render(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return render_template(template, labels=LABELS, sender=_sender(), **context), status


# -- the code ----------------------------------------------------------------------------------------------------------


def _open_session(db: Session, letter: Letter) -> None:
    """A new reply session row for the letter (the caller commits); the cookie gets only its random id. An
    earlier session of this browser ends: nothing of an earlier visit carries over into this letter's."""
    earlier = session.pop(_SESSION_KEY, None)
    sessions.drop_draft(runtime().store, earlier)
    sessions.sweep_drafts(runtime().store, now=_now())
    session.pop(_RECEIPT_KEY, None)
    session[_SESSION_KEY] = sessions.open_session(db, letter, now=_now(), replaces=earlier)


def _letter_of_session(db: Session) -> Letter | None:
    """The letter of this browser's open reply session, looked up on the server on every request."""
    if _SESSION_KEY not in session:
        return None
    letter = sessions.letter_of_session(db, session[_SESSION_KEY], now=_now())
    if letter is None:
        # Unknown, ended, expired, or the code revoked meanwhile: the session ends at once, whatever the cookie says.
        sessions.drop_draft(runtime().store, session.pop(_SESSION_KEY, None))
        db.commit()
    return letter


@blp.get("")
def code_form() -> ResponseReturnValue:
    return _render("antwoord/code.html")


@blp.post("")
def code_submit() -> ResponseReturnValue:
    typed = (request.form.get("code") or "").strip()[:40]
    db = db_session()
    if not typed:
        return _render("antwoord/code.html", 422, errors={"code": ["Vul de antwoordcode van de brief in."]})
    try:
        key = ReplyCodeKey.derive(settings().secret_key)
        letter = open_with_code(db, typed, key=key, now=_now(), origin=client_address())
    except codes.TooManyAttempts:
        db.commit()
        return _render("antwoord/code.html", 429, errors={"code": [TOO_MANY]})
    if letter is None:
        db.commit()  # the failed attempt counts towards the limit
        # The typed code is not shown again: it is (part of) a secret.
        return _render("antwoord/code.html", 404, errors={"code": [UNKNOWN]})
    _open_session(db, letter)
    db.commit()
    return redirect(url_for("reply.answer_form"), code=303)


@blp.get("/<string(minlength=30):token>")
def token_link(token: str) -> ResponseReturnValue:
    db = db_session()
    letter = open_with_link(db, token, now=_now(), origin=client_address())
    if letter is None:
        return _render("antwoord/code.html", 404, errors={"code": [UNKNOWN]})
    _open_session(db, letter)
    db.commit()
    return redirect(url_for("reply.answer_form"), code=303)


# -- reading the form --------------------------------------------------------------------------------------------------


def _typed_values(form: Mapping[str, str], asked: str) -> dict[str, str]:
    """What the creditor typed in the fields this letter asks (dates as their dag/maand/jaar boxes), as typed."""
    values: dict[str, str] = {}
    for name in asked_fields(asked):
        if name in _DATES:
            for part in DATE_PARTS:
                values[f"{name}-{part}"] = (form.get(f"{name}-{part}") or "").strip()[:10]
        values[name] = (form.get(name) or "").strip()
    return {k: v for k, v in values.items() if v}


def _raw_answer(values: Mapping[str, str], asked: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The typed text as the schema's input: euro text to cents, ja/nee to booleans, dates to ISO, empty to absent."""
    raw: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in asked_fields(asked):
        if name in _DATES:
            iso, problem = date_from_parts(values, name, iso_fallback=True)
            if problem:
                errors[name] = [problem]
            elif iso:
                raw[name] = iso
            continue
        value = values.get(name, "")
        if not value:
            continue
        if name in _AMOUNTS:
            try:
                raw[name] = euro_to_cents(value)
            except ValueError as exc:
                errors[name] = [str(exc)]
        elif name in _BOOLEANS:
            raw[name] = value == "ja"
        else:
            raw[name] = value
    return raw, errors


def _read_answer(
    values: Mapping[str, str], asked: str, proposal: Proposal | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]]]:
    """(the page's answer as loaded, the answer as stored, errors): every rule a sent answer must pass, so the
    check page shows only an answer that can be sent."""
    raw, errors = _raw_answer(values, asked)
    if errors:
        return {}, {}, errors
    try:
        loaded = ReplyPageAnswer().load(raw)
    except ValidationError as exc:
        return {}, {}, {k: list(v) if isinstance(v, list) else [str(v)] for k, v in exc.messages_dict.items()}
    data, errors = stored_answer(asked, loaded, proposal)
    if not errors:
        try:
            check_answer(data, today=today_of(runtime().engine))
        except ValidationFailed as failed:
            errors = {k: list(v) for k, v in failed.errors.items()}
    return loaded, data, _where_asked(errors, asked)


def _where_asked(errors: dict[str, list[str]], asked: str) -> dict[str, list[str]]:
    """A rule across fields names a field the letter may not ask ("give the balance" on a proposal): shown at the
    top of the form instead of at a field that is not there."""
    fields = set(asked_fields(asked)) | {"attachment", "_form"}
    moved = {k: v for k, v in errors.items() if k in fields}
    for name, messages in errors.items():
        if name not in fields:
            moved.setdefault("_form", []).extend(_plain(messages))
    return moved


def _plain(messages: list[str]) -> list[str]:
    return [m.replace("Geef het saldo, of kies", "Geef antwoord op de vragen, of kies") for m in messages]


def _safe_name(filename: str) -> str:
    return re.sub(r"[^\w.\- ]", "_", filename)[:200]


# -- the form ----------------------------------------------------------------------------------------------------------


def _letter_title(letter: Letter, asked: str) -> str:
    title = letter_label(letter.letter_type, letter.round)
    if letter.letter_type == "L3" and asked in LETTER_TITLES:
        return f"{title} van onze brief '{LETTER_TITLES[asked]}'"
    return title


def _page_context(db: Session, letter: Letter, shown: dict[str, Any]) -> dict[str, Any]:
    """What every step shows of the letter: what the letter said (queries.letter_as_sent), its title in words, the
    questions it asks, and the answers this creditor sent to it before."""
    asked = codes.asked_type(db, letter)
    proposal = codes.proposal_of(db, letter) if asked == "L4" else None
    earlier = codes.answers_to(db, letter)
    return {
        **shown,
        "asked": asked,
        "letter_title": _letter_title(letter, asked),
        "sections": [s.key for s in questions_for(asked)],
        "proposal": proposal,
        "earlier": earlier[0] if earlier else None,
        "earlier_rows": _rows(asked, _stored_getter(earlier[0])) if earlier else [],
        "no_cooperation_options": list(NO_COOPERATION_LABELS.items()),
        "decision_options": list(DECISION_LABELS.items()),
        "yes_no": [("ja", "Ja"), ("nee", "Nee")],
        "amount_hint": AMOUNT_HINT,
    }


def _prefill(reply: CreditorReply, asked: str) -> dict[str, str]:
    """An earlier answer as typed values, so a correction changes only what was wrong. An accepted proposal's
    amount is the letter's, not one the creditor typed: it is not offered as a counter-proposal."""
    values: dict[str, str] = {}
    accepted = reply.arrangement_decision == Decision.ACCEPT.value
    for name in asked_fields(asked):
        if accepted and name == "arrangement_monthly_cents":
            continue
        value = getattr(reply, name, None)
        if value is None:
            continue
        if name in _AMOUNTS:
            values[name] = format_euro(int(value))
        elif name in _BOOLEANS:
            values[name] = "ja" if value else "nee"
        elif name in _DATES:
            values.update(_date_parts(name, value))
        else:
            values[name] = str(value)
    return values


def _date_parts(name: str, value: date) -> dict[str, str]:
    return {f"{name}-dag": str(value.day), f"{name}-maand": str(value.month), f"{name}-jaar": str(value.year)}


def _shown_values(values: dict[str, str]) -> dict[str, str]:
    """The values for the form's boxes: a date a program posted as ISO text is shown in its three boxes."""
    shown = dict(values)
    for name in _DATES:
        match = _ISO.fullmatch(values.get(name, ""))
        if match and not any(values.get(f"{name}-{p}") for p in DATE_PARTS):
            year, month, day = match.groups()
            shown.update({f"{name}-dag": str(int(day)), f"{name}-maand": str(int(month)), f"{name}-jaar": year})
    return shown


def _form(
    db: Session,
    letter: Letter,
    shown: dict[str, Any],
    *,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
    kept: sessions.PendingFile | None = None,
    file_lost: bool = False,
) -> ResponseReturnValue:
    return _render(
        "antwoord/form.html",
        status,
        values=_shown_values(values),
        errors=errors,
        kept=kept,
        file_lost=file_lost,
        **_page_context(db, letter, shown),
    )


def _answerable(letter: Letter) -> bool:
    """A letter about a debt, or a notice about the case whose answer the page asks (L6, L7)."""
    return letter.debt_id is not None or letter.letter_type in NOTICE_TYPES


def _not_online(letter: Letter, shown: dict[str, Any]) -> ResponseReturnValue:
    """A letter that is neither about a debt nor a notice the page asks about cannot be answered here: the page
    says so and whom to call, instead of a form that cannot be sent."""
    return _render("antwoord/not_online.html", letter_title=letter_label(letter.letter_type, letter.round), **shown)


@blp.get("/brief")
def answer_form() -> ResponseReturnValue:
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    shown = read_letter(db, letter, origin=client_address())
    db.commit()
    if not _answerable(letter):
        return _not_online(letter, shown)
    draft = sessions.load_draft(runtime().store, session.get(_SESSION_KEY))
    values = draft.values
    if not values:
        earlier = codes.answers_to(db, letter)
        values = _prefill(earlier[0], codes.asked_type(db, letter)) if earlier else {}
    return _form(db, letter, shown, values=values, errors={}, kept=draft.attachment)


def _refused(db: Session, letter: Letter) -> None:
    """A refused attempt counts towards the letter's limit too (every attempt may parse a PDF); committed on its
    own."""
    codes.note_submission(db, letter, now=_now(), address=client_address(), accepted=False)
    db.commit()


@blp.post("/brief")
@body_limit(MAX_ATTACHMENT + _FORM_ALLOWANCE)
def answer_submit() -> ResponseReturnValue:
    """The form to "Controleer uw antwoord": an answer that passes every rule waits on the server (with its PDF) and
    the browser goes on to the check page; one that does not gets the form again with the messages at the fields
    and the chosen PDF kept."""
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    shown = letter_as_sent(db, letter)
    if not _answerable(letter):
        return _not_online(letter, shown)
    try:
        codes.check_submission_limit(db, letter, now=_now())
    except codes.TooManySubmissions:
        return _form(db, letter, shown, values={}, errors={"_form": [TOO_MANY_ANSWERS]}, status=429)
    store, session_id = runtime().store, str(session[_SESSION_KEY])
    draft = sessions.load_draft(store, session_id)
    asked = codes.asked_type(db, letter)
    values = _typed_values(request.form, asked)
    kept = None if request.form.get("remove_attachment") else draft.attachment
    errors: dict[str, list[str]] = {}
    upload = request.files.get("attachment")
    parsed_a_file = upload is not None and bool(upload.filename)
    if upload is not None and upload.filename:
        data = upload.read(MAX_ATTACHMENT + 1)
        try:
            check_pdf(data)
        except AttachmentRefused as refused:
            errors["attachment"] = [refused.message]
        else:
            kept = sessions.keep_file(store, session_id, data=data, name=_safe_name(upload.filename))
    _loaded, _data, answer_errors = _read_answer(values, asked, codes.proposal_of(db, letter))
    errors = {**answer_errors, **errors}
    sessions.save_draft(store, session_id, sessions.Draft(values, kept))
    if errors:
        _refused(db, letter)
        return _form(db, letter, shown, values=values, errors=errors, status=422, kept=kept)
    if parsed_a_file:
        _refused(db, letter)  # not refused, but a PDF was parsed: it counts as an attempt
    return redirect(url_for("reply.check_page"), code=303)


@blp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """A body over the limit was refused before it was read (so neither the form nor its CSRF token is known, and
    nothing is stored): the answer form again, with the limit named at the attachment field."""
    if request.endpoint != "reply.answer_submit":
        return render_template("error.html", status=413, title="Verzoek te groot"), 413
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    draft = sessions.load_draft(runtime().store, session.get(_SESSION_KEY))
    errors = {"attachment": [BODY_TOO_BIG]}
    return _form(db, letter, letter_as_sent(db, letter), values=draft.values, errors=errors, status=413,
                 kept=draft.attachment)  # fmt: skip


# -- check, send, confirmation -----------------------------------------------------------------------------------------


def _show(name: str, value: Any) -> str | None:
    """A value as the check page and the confirmation show it back: how the page read it."""
    if value is None or value == "":
        return None
    if name in _AMOUNTS:
        return euro(int(value))
    if name in _BOOLEANS:
        return "Ja" if value else "Nee"
    if isinstance(value, date):
        return datum(value)
    if name == "no_cooperation":
        return NO_COOPERATION_LABELS.get(NoCooperation(value), str(value))
    if name == "arrangement_decision":
        return DECISION_LABELS.get(Decision(value), str(value))
    return str(value)


def _rows(
    asked: str, get: Callable[[str], Any], change: Callable[[str], str] | None = None
) -> list[tuple[str, str, str | None]]:
    """(label, value as read, "Wijzigen" address) for every question of the letter that has an answer."""
    rows = []
    for name in asked_fields(asked):
        shown = _show(name, get(name))
        if shown is not None:
            rows.append((LABELS[name], shown, change(name) if change else None))
    return rows


def _stored_getter(reply: CreditorReply) -> Callable[[str], Any]:
    return lambda name: getattr(reply, name, None)


def _change_url(name: str) -> str:
    anchor = f"veld-{name}"
    return f"{url_for('reply.answer_form')}#{anchor}"


def _check(db: Session, letter: Letter, errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    """The check page of the session's draft, or the form again when there is nothing (valid) to check."""
    store = runtime().store
    draft = sessions.load_draft(store, session.get(_SESSION_KEY))
    shown = letter_as_sent(db, letter)
    asked = codes.asked_type(db, letter)
    if not draft.values and draft.attachment is None:
        return _form(db, letter, shown, values={}, errors={"_form": [DRAFT_GONE]}, status=409)
    _loaded, data, problems = _read_answer(draft.values, asked, codes.proposal_of(db, letter))
    if problems:
        return _form(db, letter, shown, values=draft.values, errors=problems, status=422, kept=draft.attachment)
    # What will be stored (an accepted proposal's amount is the letter's), as the confirmation shows it afterwards.
    rows = _rows(asked, data.get, _change_url)
    if draft.attachment is not None:
        rows.append((LABELS["attachment"], draft.attachment.name, _change_url("attachment")))
    context = _page_context(db, letter, shown)
    return _render("antwoord/check.html", status, rows=rows, errors=errors or {}, **context)


@blp.get("/controleer")
def check_page() -> ResponseReturnValue:
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    return _check(db, letter)  # type: ignore[no-any-return]


@blp.post("/controleer")
def send_answer() -> ResponseReturnValue:
    """ "Antwoord versturen" on the check page: the answer as checked is recorded (a new version when the letter was
    answered before), the session and its draft end, and the browser goes on to the confirmation."""
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    try:
        codes.check_submission_limit(db, letter, now=_now())
    except codes.TooManySubmissions:
        return _check(db, letter, errors={"_form": [TOO_MANY_ANSWERS]}, status=429)  # type: ignore[no-any-return]
    if not _answerable(letter):
        return _check(db, letter, errors={"_form": [NOT_ABOUT_A_DEBT]}, status=422)  # type: ignore[no-any-return]
    store, session_id = runtime().store, session.get(_SESSION_KEY)
    draft = sessions.load_draft(store, session_id)
    asked = codes.asked_type(db, letter)
    _loaded, data, problems = _read_answer(draft.values, asked, codes.proposal_of(db, letter))
    if problems or (not draft.values and draft.attachment is None):
        return redirect(url_for("reply.check_page"), code=303)
    attachment = None
    if draft.attachment is not None:
        pending = draft.attachment
        key = f"replies/{letter.case_id}/{letter.id}-{pending.sha256[:16]}.pdf"
        # Stored before the commit: a failed commit leaves an unreferenced file, never a reply without its file.
        store.put(key, store.get(pending.key))
        attachment = StoredAttachment(key=key, name=pending.name, sha256=pending.sha256, size=pending.size)
    try:
        reply = submit_answer(db, runtime().engine, letter=letter, data=data, attachment=attachment,
                              origin=client_address())  # fmt: skip
    except ValidationFailed as exc:
        db.rollback()
        _refused(db, letter)
        return _form(db, letter, letter_as_sent(db, letter), values=draft.values,
                     errors=_where_asked(dict(exc.errors), asked), status=422, kept=draft.attachment)  # fmt: skip
    # The form is gone once answered; the confirmation needs no session. Another answer needs the code again.
    sessions.end_session(db, session.pop(_SESSION_KEY, None), now=_now(), reason=ReplySessionEnd.SUBMITTED)
    db.commit()
    sessions.drop_draft(store, session_id)
    session[_RECEIPT_KEY] = {"reply": reply.id, "letter": letter.id, "at": _now().isoformat()}
    return redirect(url_for("reply.thanks"), code=303)


@blp.get("/brief.pdf")
def letter_pdf() -> ResponseReturnValue:
    db = db_session()
    letter = _letter_of_session(db)
    key = None if letter is None else letter_file(db, letter, origin=client_address())
    if letter is None or key is None:
        return redirect(url_for("reply.code_form"), code=303)
    data = runtime().store.get(key)
    db.commit()
    response = Response(data, mimetype="application/pdf")
    name = f"brief-{our_reference(letter)}-{letter.letter_type}-{letter.id}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _receipt(db: Session) -> tuple[Letter, CreditorReply] | None:
    """The answer this browser just sent, from the signed receipt in its cookie, while the receipt is fresh."""
    receipt = session.get(_RECEIPT_KEY)
    if not isinstance(receipt, dict):
        return None
    try:
        at = datetime.fromisoformat(str(receipt["at"]))
        found = codes.answer_to(db, int(receipt["letter"]), int(receipt["reply"]))
    except (KeyError, TypeError, ValueError):
        return None
    if found is None or _now() - at > RECEIPT_LIFETIME:
        session.pop(_RECEIPT_KEY, None)
        return None
    return found


@blp.get("/bedankt")
def thanks() -> ResponseReturnValue:
    db = db_session()
    found = _receipt(db)
    if found is None:
        return _render("antwoord/thanks.html", reply=None)
    letter, reply = found
    asked = codes.asked_type(db, letter)
    rows = _rows(asked, _stored_getter(reply))
    if reply.attachment_name:
        rows.append((LABELS["attachment"], reply.attachment_name, None))
    return _render(
        "antwoord/thanks.html",
        reply=reply,
        rows=rows,
        reference=f"{our_reference(letter)}, antwoord {reply.version}",
        kenmerk=our_reference(letter),
        letter_title=_letter_title(letter, asked),
        letter=letter,
    )
