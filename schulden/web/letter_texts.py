"""Beheer of the letter texts: read, preview on a sample case, save as a new version, compare, go back.

Administrators only (ux.md "Administration"). A text is typed in separate boxes (title, subject, the required
fields, the body) with named fields such as {{ client_name }} and optional paragraphs; the header syntax and the
version number are added here (text_versions.compose_text), so nobody types template code or bumps a version by hand.
The body is checked against the letter language of schulden/letters/text_rules.py (no calls, no code) before a
preview or a save, with the line of the problem in Dutch. The preview renders through the same sandboxed path as a
real letter, on an invented case (schulden/letters/field_guide.py), next to the differences with the text in use;
each stored version shows its differences with the version before it, and any earlier version can be put back (as
a new version, audited).

The form may also post one `text` with the whole file (header, `---`, body), as the files in schulden/letters/texts
are written: the API-less tests and scripts use that, and it keeps its own version line.
"""

from __future__ import annotations

import re

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
    compose_text,
    previous_text,
    readable_text,
    restore_text_version,
    save_text_version,
    sync_stored_texts,
    text_differences,
    text_parts,
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


def _history(letter_type: str) -> list[LetterTextVersion]:
    session = db_session()
    sync_stored_texts(session)
    return list(
        session.scalars(
            select(LetterTextVersion)
            .where(LetterTextVersion.letter_type == letter_type)
            .order_by(LetterTextVersion.version.desc())
        )
    )


#: The form's boxes; their errors all come from the whole text's check, which names the line.
FORM_LABELS = {
    "title": "Titel",
    "subject": "Onderwerp",
    "required": "Gegevens die er altijd moeten zijn",
    "body": "Tekst van de brief",
}


def _page(
    letter_type: str,
    text: str | None,
    errors: dict[str, list[str]],
    status: int,
    *,
    preview: RenderedText | None = None,
) -> tuple[str, int]:
    history = _history(letter_type)
    template = load_template(letter_type)
    in_use = _text_in_use(letter_type, history)
    values = text_parts(in_use if text is None else text)
    differences = text_differences(readable_text(in_use), readable_text(text)) if preview and text else []
    last_change = None
    if history and str(history[0].version) == template.version:
        before = previous_text(db_session(), letter_type, history[0].version)
        if before is not None:
            last_change = (before[0], text_differences(readable_text(before[1]), readable_text(history[0].text)))
    page = render_template(
        "beheer/template.html", template=template, values=values, errors=errors, history=history,
        shipped=file_template(letter_type), preview=preview, differences=differences, last_change=last_change,
        preview_blocks=[(type(block).__name__, block) for block in preview.blocks] if preview else [],
        field_guide=FIELD_GUIDE, format_guide=FORMAT_GUIDE, labels=FORM_LABELS,
    )  # fmt: skip
    return page, status


def _known(letter_type: str) -> None:
    if letter_type not in LETTER_TYPES:
        abort(404)


def _submitted_text(letter_type: str) -> str:
    """The whole text the form stands for: as posted in one `text`, or composed from the boxes as the next version."""
    if "text" in request.form:
        return (request.form.get("text") or "").replace("\r\n", "\n")
    form = {key: request.form.get(key) or "" for key in FORM_LABELS}
    return compose_text(
        title=form["title"],
        version=int(load_template(letter_type).version) + 1,
        subject=form["subject"],
        required=form["required"],
        body=form["body"],
    )


_BODY_LINE = re.compile(r"(?:L\d+\.txt: )?Regel (\d+) \(de tekst\)|L\d+\.txt regel (\d+)")
_FILE_NAME = re.compile(r"L\d+\.txt(?: regel \d+)?: ")


def _box_errors(errors: dict[str, list[str]], text: str) -> dict[str, list[str]]:
    """The whole text's messages at the box they are about: a problem in the subject at Onderwerp, in the required
    fields at their box, the rest at the body, with the line counted in the body box (the page shows no header)."""
    header_lines = text.replace("\r\n", "\n").partition("\n---\n")[0].count("\n") + 2

    def body_line(match: re.Match[str]) -> str:
        line = int(match.group(1) or match.group(2)) - header_lines
        return f"Regel {line} van de tekst" if line > 0 else "In de kop"

    out: dict[str, list[str]] = {}
    for message in (m for ms in errors.values() for m in ms):
        if "(het onderwerp)" in message or "geen onderwerp" in message:
            key, message = "subject", _FILE_NAME.sub("", message)
        elif "verplicht noemt" in message:
            key, message = "required", _FILE_NAME.sub("", message)
        elif "geen titel" in message:
            key, message = "title", _FILE_NAME.sub("", message)
        else:
            key, message = "body", _BODY_LINE.sub(body_line, message)
        out.setdefault(key, []).append(message)
    return out


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
    sync_stored_texts(db_session())
    text = _submitted_text(letter_type)
    try:
        template = parse_template_text(letter_type, text)
        rendered = render_text(sample_content(letter_type), template=template)
    except (LetterTextError, ValueError) as exc:
        return _page(letter_type, text, _box_errors({"text": [f"De tekst klopt niet: {exc}"]}, text), 422)
    return _page(letter_type, text, {}, 200, preview=rendered)


@blp.post("/<letter_type>")
@roles_required(Role.ADMIN)
def save(letter_type: str) -> ResponseReturnValue:
    """Store a changed text as a new version; letters rendered from the next job on use it."""
    _known(letter_type)
    session = db_session()
    sync_stored_texts(session)
    text = _submitted_text(letter_type)
    actor = current_actor()
    try:
        row = save_text_version(session, actor=actor, letter_type=letter_type, text=text)
    except ValidationFailed as exc:
        session.rollback()
        record(session, actor=actor, action="letter_text.refused", object_type="letter_text", object_id=None,
               result="refused", origin=client_address(), details={"letter_type": letter_type})  # fmt: skip
        session.commit()
        return _page(letter_type, text, _box_errors(exc.errors, text), 422)
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
        return _page(letter_type, None, {"body": [m for ms in exc.errors.values() for m in ms]}, 422)
    record(session, actor=actor, action="letter_text.restore", object_type="letter_text", object_id=row.id,
           origin=client_address(), details={"letter_type": letter_type, "version": row.version,
                                                "from": raw})  # fmt: skip
    session.commit()
    sync_stored_texts(session)
    what = "de meegeleverde tekst" if raw == "meegeleverd" else f"versie {raw}"
    flash(f"De tekst van {what} is terug in gebruik als versie {row.version} van {letter_type}.", "ok")
    return redirect(url_for("letter_texts.show", letter_type=letter_type), 303)


@blp.get("/<letter_type>/versies/<version>")
@roles_required(Role.ADMIN)
def version_page(letter_type: str, version: str) -> ResponseReturnValue:
    """One stored version (or the shipped text, "meegeleverd"): its words, and what changed against the one before."""
    _known(letter_type)
    history = _history(letter_type)
    shipped_text = (TEXTS_DIR / f"{letter_type}.txt").read_text(encoding="utf-8-sig")
    if version == "meegeleverd":
        text, name, before = shipped_text, f"meegeleverde tekst (versie {file_template(letter_type).version})", None
    else:
        row = next((r for r in history if str(r.version) == version), None)
        if row is None:
            abort(404)
        text, name = row.text, f"versie {row.version}"
        before = previous_text(db_session(), letter_type, row.version)
    differences = text_differences(readable_text(before[1]), readable_text(text)) if before else []
    return render_template(
        "beheer/template_version.html", template=load_template(letter_type), name=name, version=version,
        readable=readable_text(text), before=before[0] if before else None, differences=differences,
        row=next((r for r in history if str(r.version) == version), None), shipped=file_template(letter_type),
    )  # fmt: skip
