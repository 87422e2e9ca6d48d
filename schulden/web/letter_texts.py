"""Beheer of the letter texts: read, preview on a sample case, save as a new version, go back to an earlier one.

Administrators only. A text is written in the letter language of schulden/letters/text_rules.py (named fields,
optional paragraphs, lists), never template code: saving and previewing both check it first and show what is wrong
in Dutch, with the line. The preview renders through the same sandboxed path as a real letter, on an invented case
(schulden/letters/field_guide.py), next to the changed lines against the text in use.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from schulden.audit import record
from schulden.errors import ValidationFailed
from schulden.http.clients import client_address
from schulden.http.requests import db_session
from schulden.letters.content import LETTER_TYPES
from schulden.letters.field_guide import FIELD_GUIDE, FORMAT_GUIDE, sample_content
from schulden.letters.models import LetterTextVersion
from schulden.letters.templates import (
    TEXTS_DIR,
    LetterTextError,
    RenderedText,
    file_template,
    load_template,
    parse_template_text,
    render_text,
)
from schulden.letters.text_versions import (
    restore_text_version,
    save_text_version,
    sync_stored_texts,
    text_differences,
)
from schulden.roles import Role
from schulden.web.auth import current_actor, roles_required

blp = Blueprint("letter_texts", __name__, url_prefix="/beheer/sjablonen")


@blp.get("")
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    sync_stored_texts(db_session())
    rows = []
    for letter_type in LETTER_TYPES:
        try:
            template = load_template(letter_type)
            rows.append({"type": letter_type, "title": template.title, "version": template.version, "error": None})
        except (LetterTextError, OSError) as exc:
            rows.append({"type": letter_type, "title": "", "version": "", "error": str(exc)})
    return render_template("beheer/templates.html", rows=rows)


def _text_in_use(letter_type: str, history: list[LetterTextVersion]) -> str:
    """The text in use, as it would be stored: the header lines, ---, the body."""
    version = load_template(letter_type).version
    current = next((row.text for row in history if str(row.version) == version), None)
    return current or (TEXTS_DIR / f"{letter_type}.txt").read_text(encoding="utf-8-sig")


def _page(
    letter_type: str,
    text: str | None,
    errors: dict[str, list[str]],
    status: int,
    *,
    preview: RenderedText | None = None,
) -> tuple[str, int]:
    session = db_session()
    sync_stored_texts(session)
    history = list(
        session.scalars(
            select(LetterTextVersion)
            .where(LetterTextVersion.letter_type == letter_type)
            .order_by(LetterTextVersion.version.desc())
        )
    )
    template = load_template(letter_type)
    in_use = _text_in_use(letter_type, history)
    values = {"text": in_use if text is None else text}
    differences = text_differences(in_use, text) if preview is not None and text is not None else []
    page = render_template(
        "beheer/template.html", template=template, values=values, errors=errors, history=history,
        shipped=file_template(letter_type), preview=preview, differences=differences,
        preview_blocks=[(type(block).__name__, block) for block in preview.blocks] if preview else [],
        field_guide=FIELD_GUIDE, format_guide=FORMAT_GUIDE,
    )  # fmt: skip
    return page, status


def _known(letter_type: str) -> None:
    if letter_type not in LETTER_TYPES:
        abort(404)


def _submitted_text() -> str:
    return (request.form.get("text") or "").replace("\r\n", "\n")


@blp.get("/<letter_type>")
@roles_required(Role.ADMIN)
def show(letter_type: str) -> ResponseReturnValue:
    _known(letter_type)
    return _page(letter_type, None, {}, 200)


@blp.post("/<letter_type>/voorbeeld")
@roles_required(Role.ADMIN)
def preview(letter_type: str) -> ResponseReturnValue:
    """The changed text on an invented case, and its differences with the text in use; nothing is stored."""
    _known(letter_type)
    text = _submitted_text()
    try:
        template = parse_template_text(letter_type, text)
        rendered = render_text(sample_content(letter_type), template=template)
    except (LetterTextError, ValueError) as exc:
        return _page(letter_type, text, {"text": [f"De tekst klopt niet: {exc}"]}, 422)
    return _page(letter_type, text, {}, 200, preview=rendered)


@blp.post("/<letter_type>")
@roles_required(Role.ADMIN)
def save(letter_type: str) -> ResponseReturnValue:
    """Store a changed text as a new version; letters rendered from the next job on use it."""
    _known(letter_type)
    text = _submitted_text()
    session = db_session()
    actor = current_actor()
    try:
        row = save_text_version(session, actor=actor, letter_type=letter_type, text=text)
    except ValidationFailed as exc:
        session.rollback()
        record(session, actor=actor, action="letter_text.refused", object_type="letter_text", object_id=None,
               result="refused", origin=client_address(), details={"letter_type": letter_type})  # fmt: skip
        session.commit()
        return _page(letter_type, text, exc.errors, 422)
    record(session, actor=actor, action="letter_text.store", object_type="letter_text", object_id=row.id,
           origin=client_address(), details={"letter_type": letter_type, "version": row.version})  # fmt: skip
    session.commit()
    sync_stored_texts(session)
    flash(f"Versie {row.version} van {letter_type} is opgeslagen en wordt vanaf nu gebruikt.", "ok")
    return redirect(url_for("letter_texts.show", letter_type=letter_type), 303)


@blp.post("/<letter_type>/terugzetten")
@roles_required(Role.ADMIN)
def restore(letter_type: str) -> ResponseReturnValue:
    """Use an earlier stored version, or the shipped text, again (as a new version)."""
    _known(letter_type)
    raw = request.form.get("version", "")
    if raw != "meegeleverd" and not (raw.isascii() and raw.isdigit() and len(raw) < 9):
        abort(400)
    session = db_session()
    actor = current_actor()
    try:
        row = restore_text_version(
            session, actor=actor, letter_type=letter_type, version=None if raw == "meegeleverd" else int(raw)
        )
    except ValidationFailed as exc:
        session.rollback()
        return _page(letter_type, None, {"text": [m for ms in exc.errors.values() for m in ms]}, 422)
    record(session, actor=actor, action="letter_text.restore", object_type="letter_text", object_id=row.id,
           origin=client_address(), details={"letter_type": letter_type, "version": row.version,
                                                "from": raw})  # fmt: skip
    session.commit()
    sync_stored_texts(session)
    what = "de meegeleverde tekst" if raw == "meegeleverd" else f"versie {raw}"
    flash(f"De tekst van {what} is terug in gebruik als versie {row.version} van {letter_type}.", "ok")
    return redirect(url_for("letter_texts.show", letter_type=letter_type), 303)
