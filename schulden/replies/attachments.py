"""Checking a creditor's PDF attachment before it is stored (security.md 2.2; issue 10 item 8).

The counsellor opens these files, so a PDF that can run code or carry other files is refused, not cleaned:
encryption (we could not look inside), JavaScript anywhere (/JS, /JavaScript: the names tree, OpenAction,
annotation actions, additional actions), Launch actions, embedded files and file attachment annotations, rich
media and XFA forms. The whole object graph reachable from the trailer is walked, so an action hidden in a page's
annotation or under a hex-escaped name (pypdf decodes `/J#53`) is found as well as one in the catalogue. Each
reason has its own Dutch message, because the creditor can usually fix it (print to PDF again).
"""

from __future__ import annotations

import io
import logging
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

log = logging.getLogger(__name__)

MAX_BYTES = 4 * 1024 * 1024
MAX_LABEL = "4 MB"
#: Objects visited at most; a 4 MB PDF of ordinary scans has a few thousand. More is treated as unreadable.
_MAX_OBJECTS = 200_000

TOO_BIG = f"Het bestand is groter dan {MAX_LABEL}. Stuur een kleiner bestand (bijvoorbeeld minder pagina's)."
NOT_PDF = "Alleen een PDF-bestand kan als bijlage mee."
UNREADABLE = "Dit PDF-bestand kan niet worden gelezen. Sla het opnieuw op als PDF en probeer het nog eens."
ENCRYPTED = "Dit PDF-bestand is versleuteld of met een wachtwoord beveiligd. Stuur het zonder beveiliging."
JAVASCRIPT = "Dit PDF-bestand bevat JavaScript. Sla het op of druk het af als gewone PDF, zonder scripts."
LAUNCH = "Dit PDF-bestand probeert een programma of bestand te openen (Launch-actie). Dat nemen wij niet aan."
EMBEDDED = "Dit PDF-bestand bevat ingesloten bestanden of bijlagen. Stuur alleen het document zelf, als gewone PDF."
RICH_MEDIA = "Dit PDF-bestand bevat video, geluid, Flash of 3D. Stuur een PDF met alleen tekst en afbeeldingen."
XFA = "Dit PDF-bestand is een XFA-formulier. Druk het af als gewone PDF en stuur die."

#: Keys whose presence alone refuses the file, and the reason.
_KEYS = {
    "/JS": JAVASCRIPT,
    "/JavaScript": JAVASCRIPT,
    "/EmbeddedFiles": EMBEDDED,
    "/EmbeddedFile": EMBEDDED,
    "/EF": EMBEDDED,  # a file specification that carries the file itself
    "/RichMediaContent": RICH_MEDIA,
    "/RichMediaSettings": RICH_MEDIA,
    "/XFA": XFA,
}
#: Values of /S (action type), /Subtype and /Type that refuse the file.
_NAMES = {
    "/JavaScript": JAVASCRIPT,
    "/Launch": LAUNCH,
    "/EmbeddedFile": EMBEDDED,
    "/FileAttachment": EMBEDDED,
    "/GoToE": EMBEDDED,  # go to an embedded document
    "/RichMedia": RICH_MEDIA,
    "/Movie": RICH_MEDIA,
    "/Sound": RICH_MEDIA,
    "/Screen": RICH_MEDIA,
    "/3D": RICH_MEDIA,
}


class AttachmentRefused(Exception):
    """The file may not be attached; `message` (Dutch) says why and what the creditor can do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_pdf(data: bytes) -> int:
    """Refuse a file that is too big, no PDF, unreadable, encrypted or active; returns its number of pages."""
    if len(data) > MAX_BYTES:
        raise AttachmentRefused(TOO_BIG)
    if not data.startswith(b"%PDF-"):
        raise AttachmentRefused(NOT_PDF)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise AttachmentRefused(ENCRYPTED)
        pages = len(reader.pages)
        if pages < 1:
            raise AttachmentRefused(UNREADABLE)
        reason = _active_content(reader.trailer)
    except AttachmentRefused:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file; each means the same to the creditor
        log.info("reply attachment unreadable: %s", type(exc).__name__)
        raise AttachmentRefused(UNREADABLE) from exc
    if reason is not None:
        raise AttachmentRefused(reason)
    return pages


def _active_content(trailer: Any) -> str | None:
    """The first reason found in the object graph under the trailer, or None."""
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [trailer]
    visited = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            ref = (item.idnum, item.generation)
            if ref in seen:
                continue
            seen.add(ref)
            item = item.get_object()
        visited += 1
        if visited > _MAX_OBJECTS:
            raise ValueError("too many objects")
        if isinstance(item, DictionaryObject):  # streams are dictionaries too: their dictionary is checked
            for key, value in item.items():
                if str(key) in _KEYS:
                    return _KEYS[str(key)]
                named = key in ("/S", "/Subtype", "/Type") and isinstance(value, NameObject)
                if named and str(value) in _NAMES:
                    return _NAMES[str(value)]
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return None
