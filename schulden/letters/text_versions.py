"""Letter texts changed by an administrator: stored as new versions, used by every process from its next job.

A stored text is checked exactly as the shipped files are (header, known fields, Jinja syntax) before it is kept, and
its version must be higher than the one in use, so a letter's `template_version` always names one text. Processes
pick up a new version by comparing the newest row's id with the one they loaded (`sync_stored_texts`, one cheap query
per render job and per template page), so no restart is needed.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schulden.errors import ValidationFailed
from schulden.letters.models import LetterTextVersion
from schulden.letters.templates import (
    LetterTextError,
    load_template,
    parse_template_text,
    stored_marker,
    use_stored_texts,
)
from workflows import Actor


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
