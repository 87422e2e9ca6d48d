"""The reply page for creditors (security.md 2.2, scenarios 4-6): no account, one letter.

A creditor arrives with the QR link (/antwoord/<token>, 256 bits) or types the code printed on the letter at
/antwoord. Either is exchanged at once for a short session that names only the letter, and the browser is sent on
to /antwoord/brief: from the first response on the address no longer holds the token (the Referrer-Policy of
every page is no-referrer, so it leaks nowhere before that either). Unknown, expired, revoked and altered codes all
get the same page. The answer is validated by the same schema and service as a counsellor's paper entry.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import NumberFormatError, parse_decimal
from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import CreditorActor
from schulden.cases.models import Case, Detainee
from schulden.debts.models import Creditor, Debt
from schulden.errors import ValidationFailed
from schulden.extensions import workflow
from schulden.letters.compose import DEBT_TYPE_LABELS, our_reference
from schulden.letters.models import Letter
from schulden.replies import codes
from schulden.replies.models import NO_COOPERATION_LABELS, ReplyChannel
from schulden.replies.schemas import ReplyAnswer
from schulden.replies.services import StoredAttachment, record_reply
from schulden.web.requests import db_session
from workflows.store import utcnow

blp = Blueprint("reply", __name__, url_prefix="/antwoord")

#: How long a reply session lasts after the code or link was used: long enough to look up a balance.
SESSION_LIFETIME = timedelta(minutes=45)
MAX_ATTACHMENT = 4 * 1024 * 1024
_SESSION_KEY = "reply"
UNKNOWN = "Deze code of link is onbekend, verlopen of ingetrokken. Controleer de code op de brief."
TOO_MANY = "Te veel pogingen met een verkeerde code. Probeer het over een uur opnieuw, of bel ons (zie de brief)."

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
_DOT_DECIMAL = re.compile(r"^\d+\.\d{2}$")


def _now() -> datetime:
    return utcnow()


def _open_session(letter: Letter) -> None:
    # A fresh cookie content: nothing of an earlier visit carries over into this letter's session.
    session.pop(_SESSION_KEY, None)
    session[_SESSION_KEY] = {"letter": letter.id, "until": (_now() + SESSION_LIFETIME).isoformat()}


def _letter_of_session(db: Session) -> Letter | None:
    data = session.get(_SESSION_KEY)
    if not isinstance(data, dict):
        return None
    try:
        until = datetime.fromisoformat(str(data["until"]))
        letter_id = int(data["letter"])
    except (KeyError, TypeError, ValueError):
        return None
    if until <= _now():
        session.pop(_SESSION_KEY, None)
        return None
    letter = codes.letter_in_reply_session(db, letter_id, now=_now())
    if letter is None:
        session.pop(_SESSION_KEY, None)  # revoked or expired meanwhile: the session ends at once
    return letter


def _audit(db: Session, letter: Letter, action: str, **details: Any) -> None:
    audit.record(db, actor=CreditorActor(letter.id), action=action, object_type="letter", object_id=letter.id,
                 case_id=letter.case_id, origin=request.remote_addr, details=details or None)  # fmt: skip


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
        letter = codes.letter_for_code(db, typed, now=_now(), address=request.remote_addr)
    except codes.TooManyAttempts:
        db.commit()
        return render_template("antwoord/code.html", values={}, errors={"code": [TOO_MANY]}, labels=LABELS), 429
    if letter is None:
        db.commit()  # the failed attempt counts towards the limit
        # The typed code is not shown again: it is (part of) a secret.
        return render_template("antwoord/code.html", values={}, errors={"code": [UNKNOWN]}, labels=LABELS), 404
    codes.note_use(letter, now=_now())
    _audit(db, letter, "reply.open", via="code")
    db.commit()
    _open_session(letter)
    return redirect(url_for("reply.answer_form"), code=303)


@blp.get("/<string(minlength=30):token>")
def token_link(token: str) -> ResponseReturnValue:
    db = db_session()
    letter = codes.letter_for_token(db, token, now=_now())
    if letter is None:
        return render_template("antwoord/code.html", values={}, errors={"code": [UNKNOWN]}, labels=LABELS), 404
    codes.note_use(letter, now=_now())
    _audit(db, letter, "reply.open", via="link")
    db.commit()
    _open_session(letter)
    return redirect(url_for("reply.answer_form"), code=303)


def _context(db: Session, letter: Letter) -> dict[str, Any]:
    """What the creditor may see: what the letter itself says, and nothing more (no BSN, no other debts)."""
    debt = db.get_one(Debt, letter.debt_id) if letter.debt_id is not None else None
    case = db.get_one(Case, letter.case_id)
    detainee = db.get_one(Detainee, case.detainee_id)
    creditor = db.get(Creditor, letter.creditor_id) if letter.creditor_id else None
    initials = "".join(f"{part[0]}." for part in detainee.given_names.split() if part)
    surname = f"{detainee.surname_prefix} {detainee.surname}" if detainee.surname_prefix else detainee.surname
    return {
        "letter": letter,
        "reference": our_reference(letter),
        "creditor_name": creditor.name if creditor else None,
        "client": f"{initials} {surname}",
        "date_of_birth": detainee.date_of_birth,
        "debt": debt,
        "debt_type": DEBT_TYPE_LABELS.get(debt.debt_type, debt.debt_type) if debt is not None else None,
        "no_cooperation_options": list(NO_COOPERATION_LABELS.items()),
        "labels": LABELS,
    }


def euro_to_cents(text: str) -> int:
    text = text.replace("€", "").replace("\xa0", "").replace(" ", "")
    try:
        amount = Decimal(text) if _DOT_DECIMAL.match(text) else parse_decimal(text, locale="nl_NL", strict=False)
    except (NumberFormatError, InvalidOperation, ValueError) as exc:
        raise ValueError("Vul een bedrag in euro in, bijvoorbeeld 1.234,50.") from exc
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("Vul een bedrag in euro in, met hooguit twee cijfers achter de komma.")
    return int(amount * 100)


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
    if len(data) > MAX_ATTACHMENT:
        return None, {"attachment": ["De bijlage is groter dan 4 MB."]}
    if not data.startswith(b"%PDF-"):
        return None, {"attachment": ["Alleen een PDF-bestand kan als bijlage mee."]}
    try:
        from pypdf import PdfReader

        if len(PdfReader(io.BytesIO(data)).pages) < 1:
            raise ValueError("geen pagina's")
    except Exception:
        return None, {"attachment": ["Dit PDF-bestand kan niet worden gelezen."]}
    sha = hashlib.sha256(data).hexdigest()
    key = f"replies/{letter.case_id}/{letter.id}-{sha[:16]}.pdf"
    # Stored before the commit: a failed commit leaves an unreferenced file, never a reply without its file.
    current_app.extensions["schuldroute.runtime"].store.put(key, data)
    name = re.sub(r"[^\w.\- ]", "_", upload.filename)[:200]
    return StoredAttachment(key=key, name=name, sha256=sha, size=len(data)), {}


@blp.get("/brief")
def answer_form() -> ResponseReturnValue:
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    _audit(db, letter, "reply.view")
    db.commit()
    return render_template("antwoord/form.html", values={}, errors={}, **_context(db, letter))


@blp.post("/brief")
def answer_submit() -> ResponseReturnValue:
    # A PDF may be attached: this form may be bigger than the API's 1 MB (request bodies are read after this).
    request.max_content_length = MAX_ATTACHMENT + 64 * 1024
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None:
        return redirect(url_for("reply.code_form"), code=303)
    raw, errors = _form_to_answer(request.form)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    data: dict[str, Any] = {}
    if not errors:
        try:
            data = ReplyAnswer().load(raw)
        except ValidationError as exc:
            errors = {k: list(v) if isinstance(v, list) else [str(v)] for k, v in exc.messages_dict.items()}
    if letter.debt_id is None:
        errors["_form"] = ["Deze brief hoort niet bij een schuld; bel ons (zie de brief)."]
    attachment = None
    if not errors:
        attachment, errors = _attachment(letter)
    if not errors:
        today = workflow.engine.clock().astimezone(workflow.engine.timezone).date()
        try:
            reply = record_reply(
                db,
                workflow.engine,
                actor=CreditorActor(letter.id),
                debt=db.get_one(Debt, letter.debt_id),
                letter_id=letter.id,
                channel=ReplyChannel.WEB,
                data=data,
                received_on=today,
                today=today,
                attachment=attachment,
            )
        except ValidationFailed as exc:
            db.rollback()
            errors = exc.errors
        else:
            _audit(db, letter, "reply.submit", reply_id=reply.id, events=reply.events)
            db.commit()
            session.pop(_SESSION_KEY, None)
            return redirect(url_for("reply.thanks"), code=303)
    context = _context(db, letter)
    return render_template("antwoord/form.html", values=values, errors=errors, **context), 422


@blp.get("/brief.pdf")
def letter_pdf() -> ResponseReturnValue:
    db = db_session()
    letter = _letter_of_session(db)
    if letter is None or letter.storage_key is None:
        return redirect(url_for("reply.code_form"), code=303)
    data = current_app.extensions["schuldroute.runtime"].store.get(letter.storage_key)
    _audit(db, letter, "reply.download")
    db.commit()
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="brief-{our_reference(letter)}.pdf"'
    return response


@blp.get("/bedankt")
def thanks() -> ResponseReturnValue:
    return render_template("antwoord/thanks.html")
