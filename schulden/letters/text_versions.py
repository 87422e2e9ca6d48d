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


def text_differences(before: str, after: str, *, context: int = 1) -> list[tuple[str, str]]:
    """The changed lines between two texts, as (kind, line) with kind "-" (gone), "+" (new), " " (unchanged, around
    a change) or "…" (unchanged lines left out), for the page. Empty when nothing changed."""
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    out: list[tuple[str, str]] = []
    end = 0
    for group in matcher.get_grouped_opcodes(context):
        if group[0][1] > end:
            out.append(("…", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend((" ", line) for line in old[i1:i2])
            else:
                out.extend(("-", line) for line in old[i1:i2])
                out.extend(("+", line) for line in new[j1:j2])
        end = group[-1][2]
    if out and end < len(old):
        out.append(("…", ""))
    return out


def compose_text(*, title: str, version: int, subject: str, required: str, body: str) -> str:
    """The stored form of a text typed in the page's separate boxes: the header lines, ``---``, the body as typed.

    The administrator types title, subject, the required fields and the body; the header syntax and the version
    number are ours, so nobody has to write ``versie: 4`` or keep the ``---`` line intact. Line breaks inside the
    title, subject or required fields would start a new header line, so they become spaces.
    """

    def one_line(value: str) -> str:
        return " ".join(value.split())

    names = ", ".join(name.strip() for name in required.replace("\n", ",").split(",") if name.strip())
    head = [f"titel: {one_line(title)}", f"versie: {version}", f"onderwerp: {one_line(subject)}"]
    if names:
        head.append(f"verplicht: {names}")
    return "\n".join(head) + "\n---\n" + body.replace("\r\n", "\n").replace("\r", "\n")


def text_parts(text: str) -> dict[str, str]:
    """The boxes of the edit form for a stored or shipped text: title, subject, required (without the name of the
    client, which every letter needs) and body. The header is read loosely: a text that no longer parses still
    opens in the form, so it can be repaired."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    head, _sep, body = normalised.partition("\n---\n")
    parts = {"title": "", "subject": "", "required": "", "body": body}
    keys = {"titel": "title", "onderwerp": "subject", "verplicht": "required"}
    for line in head.split("\n"):
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() in keys:
            parts[keys[key.strip().lower()]] = value.strip()
    parts["required"] = ", ".join(
        name.strip() for name in parts["required"].split(",") if name.strip() and name.strip() != "client_name"
    )
    return parts


def readable_text(text: str) -> str:
    """A text as the page compares two versions: the header in words, a blank line, the body; no version line (every
    version differs there, and that says nothing)."""
    parts = text_parts(text)
    lines = [f"Titel: {parts['title']}", f"Onderwerp: {parts['subject']}"]
    lines.append(f"Verplichte gegevens: {parts['required'] or '(alleen de naam van de cliënt)'}")
    return "\n".join(lines) + "\n\n" + parts["body"]


def previous_text(session: Session, letter_type: str, version: int) -> tuple[str, str] | None:
    """The version before stored `version` of `letter_type` as (its name, its text): the stored version just below
    it, else the shipped file when that is older; None when there is nothing before it."""
    row = session.scalar(
        select(LetterTextVersion)
        .where(LetterTextVersion.letter_type == letter_type, LetterTextVersion.version < version)
        .order_by(LetterTextVersion.version.desc())
        .limit(1)
    )
    if row is not None:
        return f"versie {row.version}", row.text
    shipped = (TEXTS_DIR / f"{letter_type}.txt").read_text(encoding="utf-8-sig")
    shipped_version = int(parse_template_text(letter_type, shipped).version)
    if shipped_version < version:
        return f"de meegeleverde tekst (versie {shipped_version})", shipped
    return None
