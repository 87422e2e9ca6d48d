"""The reply page for creditors (security.md 2.2, scenarios 4-6): no account, one letter.

A creditor arrives with the QR link (/antwoord/<token>, 256 bits) or types the code printed on the letter at
/antwoord. Either is exchanged at once for a reply session on the server (schulden/replies/sessions.py: the cookie
holds only a random id, the row names the letter), and the browser is sent on to /antwoord/brief: from the first
response on the address no longer holds the token (the Referrer-Policy of every page is no-referrer, so it leaks
nowhere before that either). Neither the token nor the session id is ever logged or audited. Unknown, expired,
revoked and altered codes all get the same page. The answer is validated by the same schema and service as a
counsellor's paper entry; submitting ends the session, and answering again (with the code) adds a new version.

The answer form takes a PDF of up to 4 MB, more than the app's 1 MB limit: `body_limit` raises the limit for
that one view before the CSRF check reads the form, and a bigger body gets the form again with a Dutch message
(413) instead of a bare error. Submissions are limited per letter (schulden/replies/codes.py).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from schulden.amounts import euro_to_cents
from schulden.errors import ValidationFailed
from schulden.http.clients import client_address
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.letters.compose import our_reference
from schulden.letters.models import Letter
from schulden.replies import codes, sessions
from schulden.replies.attachments import MAX_BYTES, MAX_LABEL, AttachmentRefused, check_pdf
from schulden.replies.models import NO_COOPERATION_LABELS, ReplySessionEnd
from schulden.replies.queries import letter_as_sent, letter_file, open_with_code, open_with_link, read_letter
from schulden.replies.schemas import ReplyAnswer
from schulden.replies.services import NOT_ABOUT_A_DEBT, StoredAttachment, submit_answer
from schulden.web.security import body_limit
from workflows.store import utcnow

blp = Blueprint("reply", __name__, url_prefix="/antwoord")

MAX_ATTACHMENT = MAX_BYTES
#: The answer's text fields next to the PDF: notes of up to 5 000 characters, multipart framing.
_FORM_ALLOWANCE = 128 * 1024
_SESSION_KEY = "reply"
UNKNOWN = "Deze code of link is onbekend, verlopen of ingetrokken. Controleer de code op de brief."
TOO_MANY = "Te veel pogingen met een verkeerde code. Probeer het over een uur opnieuw, of bel ons (zie de brief)."
TOO_MANY_ANSWERS = (
    "U hebt op deze brief het afgelopen uur al vaak geantwoord. Probeer het over een uur opnieuw, of bel ons "
    "(zie de brief)."
)
BODY_TOO_BIG = (
    f"Uw antwoord is niet verstuurd: de bijlage is groter dan {MAX_LABEL}. Kies een kleiner PDF-bestand en vul "
    "het formulier opnieuw in."
)

LABELS = {
    "code": "Antwoordcode",
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
    "creditor_customer_number": "Uw klantnummer",
    "creditor_invoice_number": "Uw factuurnummer",
    "arrangement_offered": "Betalingsregeling",
    "arrangement_monthly_cents": "Bedrag per maand",
    "arrangement_terms": "Voorwaarden regeling",
    "contact_name": "Contactpersoon",
    "contact_phone": "Telefoon",
    "contact_email": "E-mail",
    "no_cooperation": "Geen medewerking",
    "no_cooperation_note": "Toelichting",
    "note": "Opmerking",
    "attachment": "Bijlage",
}
_AMOUNTS = ("principal_cents", "interest_cents", "costs_cents", "arrangement_monthly_cents")
_BOOLEANS = ("collection_suspended", "interest_suspended", "has_judgment", "has_attachment", "arrangement_offered")


def _now() -> datetime:
    return utcnow()


def _open_session(db: Session, letter: Letter) -> None:
    """A new reply session row for the letter (the caller commits); the cookie gets only its random id. An
    earlier session of this browser ends: nothing of an earlier visit carries over into this letter's."""
    session[_SESSION_KEY] = sessions.open_session(db, letter, now=_now(), replaces=session.pop(_SESSION_KEY, None))


def _letter_of_session(db: Session) -> Letter | None:
    """The letter of this browser's open reply session, looked up on the server on every request."""
    if _SESSION_KEY not in session:
        return None
    letter = sessions.letter_of_session(db, session[_SESSION_KEY], now=_now())
    if letter is None:
        # Unknown, ended, expired, or the code revoked meanwhile: the session ends at once, whatever the cookie says.
        session.pop(_SESSION_KEY, None)
        db.commit()
    return letter


@blp.get("")
def code_form() -> ResponseReturnValue:
    return render_template("antwoord/code.html", values={}, errors={}, labels=LABELS)


@blp.post("")
def code_submit() -> ResponseReturnValue:
    typed = (request.form.get("code") or "").strip()[:40]
    db = db_session()
    if not typed:
        errors = {"code": ["Vul de antwoordcode van de brief in."]}
        return render_template("antwoord/code.html", values={}, errors=errors, labels=LABELS), 422
    try:
        letter = open_with_code(db, typed, now=_now(), origin=client_address())
    except codes.TooManyAttempts:
        db.commit()
        return render_template("antwoord/code.html", values={}, errors={"code": [TOO_MANY]}, labels=LABELS), 429
    if letter is None:
        db.commit()  # the failed attempt counts towards the limit
        # The typed code is not shown again: it is (part of) a secret.
        return render_template("antwoord/code.html", values={}, errors={"code": [UNKNOWN]}, labels=LABELS), 404
    _open_session(db, letter)
    db.commit()
    return redirect(url_for("reply.answer_form"), code=303)


@blp.get("/<string(minlength=30):token>")
def token_link(token: str) -> ResponseReturnValue:
    db = db_session()
    letter = open_with_link(db, token, now=_now(), origin=client_address())
    if letter is None:
        return render_template("antwoord/code.html", values={}, errors={"code": [UNKNOWN]}, labels=LABELS), 404
    _open_session(db, letter)
    db.commit()
    return redirect(url_for("reply.answer_form"), code=303)


def _context(shown: dict[str, Any]) -> dict[str, Any]:
    """The form's context: what the creditor may see of its letter (replies.queries.letter_as_sent) and the
    form's choices and labels."""
    return {**shown, "no_cooperation_options": list(NO_COOPERATION_LABELS.items()), "labels": LABELS}


def _form_to_answer(form: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The form's text as the schema's input: euro text to cents, ja/nee to booleans, empty to absent."""
    raw: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in ReplyAnswer().fields:
        value = (form.get(name) or "").strip()
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


def _attachment(letter: Letter) -> tuple[StoredAttachment | None, dict[str, list[str]]]:
    upload = request.files.get("attachment")
    if upload is None or not upload.filename:
        return None, {}
    data = upload.read(MAX_ATTACHMENT + 1)
    try:
        check_pdf(data)
    except AttachmentRefused as refused:
        return None, {"attachment": [refused.message]}
    sha = hashlib.sha256(data).hexdigest()
    key = f"replies/{letter.case_id}/{letter.id}-{sha[:16]}.pdf"
    # Stored before the commit: a failed commit leaves an unreferenced file, never a reply without its file.
    runtime().store.put(key, data)
    name = re.sub(r"[^\w.\- ]", "_", upload.filename)[:200]
    return StoredAttachment(key=key, name=name, sha256=sha, size=len(data)), {}


@blp.get("/brief")
def answer_form() -> ResponseReturnValue:
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    shown = read_letter(db, letter, origin=client_address())
    db.commit()
    return render_template("antwoord/form.html", values={}, errors={}, **_context(shown))


@blp.post("/brief")
@body_limit(MAX_ATTACHMENT + _FORM_ALLOWANCE)
def answer_submit() -> ResponseReturnValue:
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    try:
        codes.check_submission_limit(db, letter, now=_now())
    except codes.TooManySubmissions:
        errors = {"_form": [TOO_MANY_ANSWERS]}
        return render_template(
            "antwoord/form.html", values={}, errors=errors, **_context(letter_as_sent(db, letter))
        ), 429
    raw, errors = _form_to_answer(request.form)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    data: dict[str, Any] = {}
    if not errors:
        try:
            data = ReplyAnswer().load(raw)
        except ValidationError as exc:
            errors = {k: list(v) if isinstance(v, list) else [str(v)] for k, v in exc.messages_dict.items()}
    if letter.debt_id is None:
        errors["_form"] = [NOT_ABOUT_A_DEBT]  # before the PDF is stored
    attachment = None
    if not errors:
        attachment, errors = _attachment(letter)
    if not errors:
        try:
            submit_answer(
                db, runtime().engine, letter=letter, data=data, attachment=attachment, origin=client_address()
            )
        except ValidationFailed as exc:
            db.rollback()
            errors = exc.errors
        else:
            # The form is gone once answered; the thank-you page needs no session. Another answer needs the code.
            sessions.end_session(db, session.pop(_SESSION_KEY, None), now=_now(), reason=ReplySessionEnd.SUBMITTED)
            db.commit()
            return redirect(url_for("reply.thanks"), code=303)
    # A refused attempt counts too (every attempt may parse a PDF); committed on its own.
    codes.note_submission(db, letter, now=_now(), address=client_address(), accepted=False)
    db.commit()
    context = _context(letter_as_sent(db, letter))
    return render_template("antwoord/form.html", values=values, errors=errors, **context), 422


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
    errors = {"attachment": [BODY_TOO_BIG]}
    return render_template("antwoord/form.html", values={}, errors=errors, **_context(letter_as_sent(db, letter))), 413


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


@blp.get("/bedankt")
def thanks() -> ResponseReturnValue:
    return render_template("antwoord/thanks.html")
