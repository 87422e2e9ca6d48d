"""Letter texts changed by an administrator: stored as new versions, used by every process from its next job.

A stored text is checked exactly as the shipped files are (header, known fields, Jinja syntax) before it is kept, and
its version must be higher than the one in use, so a letter's `template_version` always names one text. Processes
pick up a new version by comparing the newest row's id with the one they loaded (`sync_stored_texts`, one cheap query
per render job and per template page), so no restart is needed.
"""

from __future__ import annotations

import difflib
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden.errors import ValidationFailed
from schulden.letters.models import LetterTextVersion
from schulden.letters.templates import (
    TEXTS_DIR,
    LetterTextError,
    load_template,
    parse_template_text,
    stored_marker,
    use_stored_texts,
)
from workflows import Actor

_VERSION_LINE = re.compile(r"^versie:.*$", re.MULTILINE)


def sync_stored_texts(session: Session) -> None:
    """Load the newest stored text per type into this process when the stored set changed since the last look."""
    newest = session.scalar(select(func.max(LetterTextVersion.id)))
    if newest == stored_marker():
        return
    latest = (
        select(LetterTextVersion.letter_type, func.max(LetterTextVersion.version).label("version"))
        .group_by(LetterTextVersion.letter_type)
        .subquery()
    )
    rows = session.execute(
        select(LetterTextVersion.letter_type, LetterTextVersion.text).join(
            latest,
            (latest.c.letter_type == LetterTextVersion.letter_type) & (latest.c.version == LetterTextVersion.version),
        )
    ).all()
    use_stored_texts({row.letter_type: row.text for row in rows}, newest)


def save_text_version(session: Session, *, actor: Actor, letter_type: str, text: str) -> LetterTextVersion:
    """Check and store a new text for `letter_type`; ValidationFailed (field `text`) names what is wrong."""
    sync_stored_texts(session)
    try:
        template = parse_template_text(letter_type, text)
    except LetterTextError as exc:
        raise ValidationFailed({"text": [f"De tekst klopt niet: {exc}"]}) from exc
    current = int(load_template(letter_type).version)
    if int(template.version) <= current:
        raise ValidationFailed(
            {
                "text": [
                    f"Verhoog de versie in de kop (versie: {current + 1} of hoger): nu is versie {current} in gebruik."
                ]
            }
        )
    row = LetterTextVersion(
        letter_type=letter_type, version=int(template.version), text=text, created_by=actor.actor_id
    )
    session.add(row)
    session.flush()
    return row


def restore_text_version(session: Session, *, actor: Actor, letter_type: str, version: int | None) -> LetterTextVersion:
    """Use an earlier text again: stored version `version`, or the shipped file when None, saved as a new version.

    The way back is a step forward: the old words get the next version number, so every letter still names exactly
    the text it was made from, and the history shows who went back when.
    """
    sync_stored_texts(session)
    if version is None:
        source = (TEXTS_DIR / f"{letter_type}.txt").read_text(encoding="utf-8-sig")
    else:
        row = session.scalar(
            select(LetterTextVersion).where(
                LetterTextVersion.letter_type == letter_type, LetterTextVersion.version == version
            )
        )
        if row is None:
            raise ValidationFailed({"version": [f"Versie {version} van {letter_type} bestaat niet."]})
        source = row.text
    next_version = int(load_template(letter_type).version) + 1
    text = _VERSION_LINE.sub(f"versie: {next_version}", source.replace("\r\n", "\n"), count=1)
    return save_text_version(session, actor=actor, letter_type=letter_type, text=text)


def text_differences(before: str, after: str) -> list[tuple[str, str]]:
    """The changed lines between two texts, as (kind, line) with kind "-", "+" or " " (context), for the page."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1)
    out: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith(("---", "+++", "@@")):
            if line.startswith("@@"):
                out.append(("…", ""))
            continue
        out.append((line[:1] or " ", line[1:]))
    return out
