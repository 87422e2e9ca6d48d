"""The daily print batch of a PI: a cover sheet, a list, and every letter to post, merged into one PDF.

The PI's mailroom prints it in one go; the letters in it count as sent from that moment (the creditor's answer
clock starts). A letter whose PDF is missing from the store (a restored backup, a file removed by hand) does not
stop the batch (issue 14: it answered 500): it is left out, named on the cover and in `left_out`, and made again for
a later batch.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from schulden.letters import lifecycle
from schulden.letters.compose import our_reference
from schulden.letters.models import Letter, PrintBatch
from schulden.letters.queries import pending_post
from schulden.letters.services import NothingToPrint
from schulden.organisations.models import Organisation
from schulden.ports import FileStore
from workflows import Actor, Engine

#: What a letter left out of the batch says about itself (its `last_error` until it is made again).
MISSING = "De PDF ontbrak in de opslag; de brief wordt opnieuw gemaakt en komt in een volgende printbatch."


def _cover(pi: Organisation, letters: list[Letter], batch_date: date, left_out: list[Letter]) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(f"Printbatch {pi.name} {batch_date.isoformat()}")
    _width, height = A4
    y = height - 30 * mm
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(20 * mm, y, f"Printbatch {pi.name}")
    canvas.setFont("Helvetica", 11)
    y -= 10 * mm
    canvas.drawString(20 * mm, y, f"Datum {batch_date.strftime('%d-%m-%Y')}, {len(letters)} brieven")
    y -= 12 * mm
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(20 * mm, y, "Nr")
    canvas.drawString(35 * mm, y, "Kenmerk")
    canvas.drawString(110 * mm, y, "Soort")
    canvas.setFont("Helvetica", 10)
    for number, letter in enumerate(letters, start=1):
        y -= 6 * mm
        if y < 20 * mm:
            canvas.showPage()
            canvas.setFont("Helvetica", 10)
            y = height - 20 * mm
        # Only references on the list: the mailroom needs no names (they are on the letters themselves).
        canvas.drawString(20 * mm, y, str(number))
        canvas.drawString(35 * mm, y, our_reference(letter))
        # One reference per client and debt: the type and the letter number tell two letters of a debt apart.
        canvas.drawString(110 * mm, y, f"{letter.letter_type}  brief {letter.id}")
    if left_out:
        y -= 12 * mm
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(
            20 * mm, y, f"Niet in deze batch ({len(left_out)}): de PDF ontbrak, de brief wordt opnieuw gemaakt"
        )
        canvas.setFont("Helvetica", 10)
        for letter in left_out:
            y -= 6 * mm
            if y < 20 * mm:
                canvas.showPage()
                canvas.setFont("Helvetica", 10)
                y = height - 20 * mm
            canvas.drawString(35 * mm, y, our_reference(letter))
            canvas.drawString(110 * mm, y, f"{letter.letter_type}  brief {letter.id}")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def create_print_batch(
    session: Session, engine: Engine, store: FileStore, *, pi_id: int, actor: Actor, today: date, now: datetime
) -> PrintBatch:
    """Merge the PI's waiting post into one PDF, store it, and mark those letters sent. Does not commit; the
    operation that calls it (`schulden.letters.services.make_print_batch`) checks who may and audits."""
    pi = session.get_one(Organisation, pi_id)
    letters = pending_post(session, pi_id, lock=True)
    if not letters:
        raise NothingToPrint("Er staan geen brieven voor de post klaar voor deze PI.")
    pdfs: list[bytes] = []
    included: list[Letter] = []
    left_out: list[Letter] = []
    for letter in letters:
        try:
            if not letter.storage_key:
                raise FileNotFoundError(f"letter {letter.id} has no stored PDF")
            pdfs.append(store.get(letter.storage_key))
            included.append(letter)
        except FileNotFoundError:
            left_out.append(letter)
    writer = PdfWriter()
    for part in [_cover(pi, included, today, left_out), *pdfs]:
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    output = io.BytesIO()
    writer.write(output)
    data = output.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    key = f"batches/{pi_id}/{today.isoformat()}-{sha[:16]}.pdf"
    store.put(key, data)
    batch = PrintBatch(
        pi_id=pi_id,
        batch_date=today,
        created_by=actor.actor_id,
        letter_count=len(included),
        storage_key=key,
        sha256=sha,
        left_out=[letter.id for letter in left_out],
    )
    session.add(batch)
    session.flush()
    for letter in included:
        letter.print_batch_id = batch.id
    for letter in left_out:
        lifecycle.make_again(letter, reason=MISSING)
    if included:
        lifecycle.sent(session, engine, included, at=now)
    return batch
