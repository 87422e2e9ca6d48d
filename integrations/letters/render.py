"""Render a `LetterContent` to PDF bytes with reportlab: A4, window-envelope address, Dutch formats, embedded fonts.

Safe by construction: every string from the case is escaped before it becomes a reportlab Paragraph (so a name with
"<font>", "<a href>" or "<img>" prints literally and adds no link or image) or is drawn with drawString, which
interprets nothing. Deterministic: the same content gives the same bytes (invariant mode, the creation date is the
letter date, no random ids), so a retried letter job overwrites an identical file (security.md 1.7). Thread-safe:
each call builds its own document; the one piece of global state, reportlab's font registry, is filled once under
a lock.

Import cost is reportlab's own (~160 ms). Worker processes call `warm_up()` before forking so the horses inherit
registered fonts, loaded texts and Babel's locale data instead of paying ~100 ms on their first letter.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from integrations.letters.qr import draw_qr
from schulden.letters import templates as texts
from schulden.letters.content import AMOUNT_STATUS_NL, Address, DebtLine, LetterContent

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_DIR_ENV = "SCHULDROUTE_FONT_DIR"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_LEFT = 22 * mm
MARGIN_RIGHT = 18 * mm
TEXT_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT

#: The recipient's address field, in mm from the top-left corner of the page: (left, top, width, height).
#: It fits the standard Dutch window envelope for A4 folded in three, EA5/6 (110 x 220 mm, "Amerikaanse envelop")
#: with the window on the left: a window of about 90-100 x 40-45 mm whose left edge sits about 20 mm from the
#: envelope's left edge. The folded letter (99 mm panels) can slide a few mm in a 110 mm envelope, so the field is
#: the part of the window that stays visible wherever it slides: 22 mm from the left (DIN 5008 uses 20-25 mm),
#: 50-85 mm from the top (DIN 5008 form B's field runs 45-90 mm with a 5 mm return-address strip we do not use).
#: Nothing else is printed inside it: postal sorters may read any text in the window as the address.
WINDOW_MM = (22.0, 50.0, 85.0, 35.0)

SENDER_LEFT = 125 * mm
SENDER_TOP = 15 * mm
SENDER_WIDTH = PAGE_WIDTH - MARGIN_RIGHT - SENDER_LEFT
FIRST_FRAME_TOP = 92 * mm  # page 1: the text starts under the address field
LATER_FRAME_TOP = 20 * mm
FRAME_BOTTOM = 20 * mm
FOOTER_Y = 11 * mm
FOLD_MARKS_MM = (99.0, 198.0)  # A4 folded in three equal panels
QR_SIZE = 30 * mm  # quiet zone included; ~0.6 mm modules for a version 5-6 code

FONT_SIZE = 10
GREY = colors.Color(0.35, 0.35, 0.35)
LIGHT = colors.Color(0.92, 0.92, 0.92)


class FontsMissing(RuntimeError):
    """The DejaVu Sans font files are not where we look for them."""


# -- fonts and styles (global, filled once) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fonts:
    regular: str
    bold: str


@dataclass(frozen=True)
class _Styles:
    fonts: _Fonts
    body: ParagraphStyle
    heading: ParagraphStyle
    subject: ParagraphStyle
    bullet: ParagraphStyle
    checkbox: ParagraphStyle
    label: ParagraphStyle
    value: ParagraphStyle
    cell: ParagraphStyle
    code: ParagraphStyle


_font_lock = threading.Lock()
_styles: dict[Path, _Styles] = {}


def font_dir(override: Path | None = None) -> Path:
    """The font directory: the argument, else $SCHULDROUTE_FONT_DIR, else Debian's fonts-dejavu-core location."""
    return Path(override or os.environ.get(FONT_DIR_ENV) or DEFAULT_FONT_DIR).resolve()


def _styles_for(override: Path | None) -> _Styles:
    directory = font_dir(override)
    found = _styles.get(directory)
    if found is not None:
        return found
    with _font_lock:
        found = _styles.get(directory)
        if found is None:
            found = _styles[directory] = _make_styles(_register_fonts(directory, len(_styles)))
    return found


def _register_fonts(directory: Path, number: int) -> _Fonts:
    paths = [directory / name for name in FONT_FILES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FontsMissing(
            f"font file(s) {', '.join(missing)} not found in {directory}: install the Debian package "
            f"fonts-dejavu-core (apt-get install fonts-dejavu-core) or point {FONT_DIR_ENV} at a folder holding "
            f"{' and '.join(FONT_FILES)}"
        )
    # Registered under our own names (one pair per folder) so another folder or other code cannot clash with them.
    # The names do not end up in the PDF: reportlab names the embedded subsets after the font itself.
    fonts = _Fonts(regular=f"SchuldrouteSans{number}", bold=f"SchuldrouteSans{number}-Bold")
    pdfmetrics.registerFont(TTFont(fonts.regular, str(paths[0]), asciiReadable=1))
    pdfmetrics.registerFont(TTFont(fonts.bold, str(paths[1]), asciiReadable=1))
    pdfmetrics.registerFontFamily(
        fonts.regular, normal=fonts.regular, bold=fonts.bold, italic=fonts.regular, boldItalic=fonts.bold
    )
    return fonts


def _make_styles(fonts: _Fonts) -> _Styles:
    body = ParagraphStyle("body", fontName=fonts.regular, fontSize=FONT_SIZE, leading=14, spaceAfter=7)
    return _Styles(
        fonts=fonts,
        body=body,
        heading=ParagraphStyle(
            "heading", parent=body, fontName=fonts.bold, spaceBefore=5, spaceAfter=3, keepWithNext=1
        ),
        subject=ParagraphStyle("subject", parent=body, fontName=fonts.bold, fontSize=11, leading=15, spaceAfter=10),
        bullet=ParagraphStyle(
            "bullet", parent=body, leftIndent=6 * mm, bulletIndent=1.5 * mm, bulletFontName=fonts.regular, spaceAfter=2
        ),
        checkbox=ParagraphStyle(
            "checkbox",
            parent=body,
            leftIndent=8 * mm,
            bulletIndent=1 * mm,
            bulletFontName=fonts.regular,
            bulletFontSize=14,
            leading=18,
            spaceAfter=3,
        ),
        label=ParagraphStyle("label", parent=body, fontSize=8, leading=10, textColor=GREY, spaceAfter=0),
        value=ParagraphStyle("value", parent=body, leading=13, spaceAfter=0),
        cell=ParagraphStyle("cell", parent=body, fontSize=8, leading=10, spaceAfter=0),
        code=ParagraphStyle("code", parent=body, fontName=fonts.bold, fontSize=13, leading=18, spaceAfter=0),
    )


# -- the document ------------------------------------------------------------------------------------------------------


def render_pdf(content: LetterContent, *, font_dir: Path | None = None) -> bytes:
    """The letter as PDF bytes. Raises `FontsMissing` without the fonts and the text errors of `render_text`."""
    styles = _styles_for(font_dir)
    rendered = texts.render_text(content)
    buffer = io.BytesIO()
    frame_kw: dict[str, Any] = {"leftPadding": 0, "rightPadding": 0, "topPadding": 0, "bottomPadding": 0}
    first = PageTemplate(
        id="first",
        frames=[Frame(MARGIN_LEFT, FRAME_BOTTOM, TEXT_WIDTH, PAGE_HEIGHT - FIRST_FRAME_TOP - FRAME_BOTTOM, **frame_kw)],
        onPage=lambda canvas, _doc: _draw_first_page(canvas, content, styles.fonts),
        autoNextPageTemplate="later",
    )
    later = PageTemplate(
        id="later",
        frames=[Frame(MARGIN_LEFT, FRAME_BOTTOM, TEXT_WIDTH, PAGE_HEIGHT - LATER_FRAME_TOP - FRAME_BOTTOM, **frame_kw)],
    )
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        pageTemplates=[first, later],
        title=f"{rendered.title} \u2013 {content.our_reference}",
        author=texts.plain_text(content.sender.lines[0]),
        subject=rendered.subject,
        creator="Schuldroute",
        invariant=1,
        pageCompression=1,
        lang="nl-NL",
        initialFontName=styles.fonts.regular,  # no unused Helvetica in the page resources
    )
    # Our reference is one per client and debt (the same on the notice, the reminder and the proposal); the letter
    # number tells this letter apart on every page, for the mailroom and for a creditor who calls about it.
    footer = f"{content.our_reference} · {content.letter_type} versie {rendered.version} · brief {content.letter_id}"

    def canvas_maker(filename: Any, /, **kwargs: Any) -> Canvas:
        return _NumberedCanvas(
            filename, footer=texts.plain_text(footer), fonts=styles.fonts, day=content.date, **kwargs
        )

    doc.build(_story(content, rendered, styles), canvasmaker=canvas_maker)
    return buffer.getvalue()


class _NumberedCanvas(Canvas):
    """Holds the pages back until the end, so that each can say "Pagina 1 van 2" (one layout pass, not two)."""

    def __init__(self, *args: Any, footer: str, fonts: _Fonts, day: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []
        self._footer = footer
        self._fonts = fonts
        stamp = f"D:{day:%Y%m%d}000000+00'00'"
        self.setDateFormatter(lambda *_parts: stamp)  # CreationDate/ModDate = the letter date, not "now"

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab's own reset, not in the stubs

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(self._fonts.regular, 7.5)
            self.setFillColor(GREY)
            self.drawString(MARGIN_LEFT, FOOTER_Y, self._footer)
            self.drawRightString(PAGE_WIDTH - MARGIN_RIGHT, FOOTER_Y, f"Pagina {number} van {total}")
            super().showPage()
        super().save()


def _draw_first_page(canvas: Canvas, content: LetterContent, fonts: _Fonts) -> None:
    canvas.saveState()
    # Sender block, top right: organisation (bold), team and address, then the counsellor's contact lines.
    y = PAGE_HEIGHT - SENDER_TOP - 9
    for index, line in enumerate(content.sender.lines):
        font, size = (fonts.bold, 9.5) if index == 0 else (fonts.regular, 8.5)
        canvas.setFont(font, size)
        canvas.drawString(SENDER_LEFT, y, _fit(line, font, size, SENDER_WIDTH))
        y -= 11
    y -= 4
    canvas.setFillColor(GREY)
    for line in content.sender_contact:
        canvas.setFont(fonts.regular, 8.5)
        canvas.drawString(SENDER_LEFT, y, _fit(line, fonts.regular, 8.5, SENDER_WIDTH))
        y -= 11
    canvas.setFillColor(colors.black)
    _draw_address(canvas, content.recipient, fonts.regular)
    # Fold marks on the left edge for folding by hand.
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.3)
    for mark in FOLD_MARKS_MM:
        canvas.line(4 * mm, PAGE_HEIGHT - mark * mm, 8 * mm, PAGE_HEIGHT - mark * mm)
    canvas.restoreState()


def window_rect() -> tuple[float, float, float, float]:
    """The address field in PDF points: (x0, y0, x1, y1), origin bottom-left."""
    left, top, width, height = WINDOW_MM
    return (left * mm, PAGE_HEIGHT - (top + height) * mm, (left + width) * mm, PAGE_HEIGHT - top * mm)


class AddressDoesNotFit(ValueError):
    """The recipient's address does not fit the envelope window: the letter fails with this reason instead of being
    posted with a cut-off name or department (issue 12: a department that does not fit is an error, not '…')."""


def _draw_address(canvas: Canvas, address: Address, font: str) -> None:
    x0, y0, x1, y1 = window_rect()
    lines = [texts.plain_text(line) for line in address.lines]
    # The largest size at which every line fits the window, in height and in width.
    for size in (10.0, 9.0, 8.0, 7.0):
        leading = size * 1.25
        first = y1 - 2 * mm - size
        tall_enough = first - (len(lines) - 1) * leading >= y0 + 2 * mm
        if tall_enough and all(pdfmetrics.stringWidth(line, font, size) <= x1 - x0 for line in lines):
            break
    else:
        # The line by its number, not its text: the error is stored on the letter and may be a person's name.
        too_wide = [n for n, line in enumerate(lines, 1) if pdfmetrics.stringWidth(line, font, 7.0) > x1 - x0]
        if too_wide:
            raise AddressDoesNotFit(
                f"Adresregel {too_wide[0]} ({len(lines[too_wide[0] - 1])} tekens) past niet in het venster van de "
                "envelop: kort de naam of de afdeling in bij de schuldeiser (schuldeisersgids) en laat de brief "
                "opnieuw maken."
            )
        raise AddressDoesNotFit(
            f"Het adres heeft {len(lines)} regels en past niet in het venster van de envelop: kort het in bij de "
            "schuldeiser (schuldeisersgids) en laat de brief opnieuw maken."
        )
    canvas.setFont(font, size)
    for index, line in enumerate(lines):
        canvas.drawString(x0, first - index * leading, line)


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` shortened with an ellipsis where it would run past `width` (only for absurdly long lines)."""
    text = texts.plain_text(text)
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


# -- the story ---------------------------------------------------------------------------------------------------------


def _p(text: str, style: ParagraphStyle, bullet: str | None = None) -> Paragraph:
    """A Paragraph of plain text: everything escaped, so no markup can come from the text."""
    return Paragraph(escape(text), style, bulletText=bullet)


def _story(content: LetterContent, rendered: texts.RenderedText, styles: _Styles) -> list[Flowable]:
    story: list[Flowable] = [_references(content, styles), Spacer(1, 9 * mm), _p(rendered.subject, styles.subject)]
    for block in rendered.blocks:
        if isinstance(block, texts.Paragraph):
            story.append(_p(block.text, styles.body))
        elif isinstance(block, texts.Heading):
            story.append(_p(block.text, styles.heading))
        elif isinstance(block, texts.BulletList):
            if block.checkbox:
                story.extend(_p(item, styles.checkbox, "\u2610") for item in block.items)
            else:
                story.extend(_p(item, styles.bullet, "\u2022") for item in block.items)
            story.append(Spacer(1, 5))
        elif isinstance(block, texts.Facts):
            story.append(_facts(block.rows, styles))
        elif isinstance(block, texts.DebtTable) and content.debts:
            # Only where the text asks for it ("[[schuldenoverzicht]]"): L1, L2, L4 and L8. The line introducing the
            # table and a short table move to the next page together rather than leave the totals row behind.
            intro = [story.pop()] if isinstance(story[-1], Paragraph) else []
            story.append(KeepTogether([*intro, _debt_table(content.debts, styles)]))
    if content.signature:
        # The closing line ("Met vriendelijke groet,") and the signature stay on one page.
        closing = [story.pop()] if isinstance(story[-1], Paragraph) else []
        signature = [_p(line, styles.value) for line in content.signature]
        story.append(KeepTogether([*closing, Spacer(1, 2 * mm), *signature]))
    if content.attachments:
        story.append(Spacer(1, 6 * mm))
        attachments = [_p(item, styles.bullet, "\u2022") for item in content.attachments]
        story.append(KeepTogether([_p("Bijlagen", styles.heading), *attachments]))
    if content.reply_code:
        story.append(Spacer(1, 6 * mm))
        story.append(_ReplyBlock(content.reply_code, content.reply_url, styles.fonts))
    return story


def _references(content: LetterContent, styles: _Styles) -> Table:
    columns: list[tuple[str, str]] = [("Datum", texts.datum(content.date)), ("Ons kenmerk", content.our_reference)]
    if content.their_reference:
        # The CJIB files everything under its betalingskenmerk and asks for it by that name (domain.md 2.2).
        label = "Betalingskenmerk" if content.fields.get("cjib") else "Uw kenmerk"
        columns.append((label, content.their_reference))
    widths = [45 * mm, 55 * mm, TEXT_WIDTH - 100 * mm][: len(columns)]
    table = Table(
        [[_p(label, styles.label) for label, _ in columns], [_p(value, styles.value) for _, value in columns]],
        colWidths=widths,
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), styles.fonts.regular, FONT_SIZE),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _facts(rows: Sequence[tuple[str, str]], styles: _Styles) -> Table:
    table = Table(
        [[_p(label, styles.body), _p(value, styles.body)] for label, value in rows],
        colWidths=[52 * mm, TEXT_WIDTH - 52 * mm],
        hAlign="LEFT",
        spaceAfter=7,
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), styles.fonts.regular, FONT_SIZE),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TEXTCOLOR", (0, 0), (0, -1), GREY),
            ]
        )
    )
    return table


_DEBT_HEADER = ("Schuldeiser", "Kenmerk", "Omschrijving", "Hoofdsom", "Rente", "Kosten", "Totaal", "Status")


def _debt_table(debts: Sequence[DebtLine], styles: _Styles) -> Table:
    regular, bold = styles.fonts.regular, styles.fonts.bold
    size = 8
    amounts = [
        [texts.bedrag(cents) for cents in (d.principal_cents, d.interest_cents, d.costs_cents, d.total_cents)]
        for d in debts
    ]
    totals = [
        texts.bedrag(sum(d.principal_cents for d in debts)),
        texts.bedrag(sum(d.interest_cents for d in debts)),
        texts.bedrag(sum(d.costs_cents for d in debts)),
        texts.bedrag(sum(d.total_cents for d in debts)),
    ]
    statuses = [AMOUNT_STATUS_NL[d.amount_status] for d in debts]
    pad = 2 * 2.5

    def width(values: Sequence[str], header: str) -> float:
        return max(pdfmetrics.stringWidth(v, bold, size) for v in [*values, header]) + pad

    amount_widths = [width([row[i] for row in amounts] + [totals[i]], _DEBT_HEADER[3 + i]) for i in range(4)]
    status_width = width(statuses, _DEBT_HEADER[7])
    rest = TEXT_WIDTH - sum(amount_widths) - status_width
    text_widths = [rest * 0.36, rest * 0.28, rest * 0.36]
    # Text columns are Paragraphs (they wrap) made from escaped text; amounts and statuses are plain strings, which
    # reportlab draws as they are.
    data: list[list[Any]] = [list(_DEBT_HEADER)]
    for debt, row, status in zip(debts, amounts, statuses, strict=True):
        data.append(
            [
                _p(debt.creditor, styles.cell),
                _p(debt.reference or "", styles.cell),
                _p(debt.description, styles.cell),
                *row,
                status,
            ]
        )
    data.append(["Totaal", "", "", *totals, ""])
    table = Table(data, colWidths=[*text_widths, *amount_widths, status_width], repeatRows=1, hAlign="LEFT")
    table.spaceBefore, table.spaceAfter = 2, 9
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), regular, size),
                ("FONT", (0, 0), (-1, 0), bold, size),
                ("FONT", (0, -1), (-1, -1), bold, size),
                ("BACKGROUND", (0, 0), (-1, 0), LIGHT),
                ("ALIGN", (3, 0), (6, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, GREY),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, GREY),
                ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def reply_instruction(reply_code: str, reply_url: str | None) -> str:
    """The one-line Dutch instruction under "Reageren" (the token in the URL is never printed, only the host)."""
    code = texts.plain_text(reply_code)
    if reply_url is None:
        return f"Vermeld bij uw antwoord de code {code}."
    host = urlsplit(reply_url).netloc
    return f"Antwoorden kan op {host}/antwoord met code {code} of via de QR-code."


class _ReplyBlock(Flowable):
    """The reply block: the QR code on the left, heading, instruction and code beside it, vertically centred.

    Drawn straight onto the canvas (drawString interprets no markup) instead of as a platypus Table of Paragraphs:
    the table cost ~1 ms a letter of layout work for four lines of text. It is never split: a block that does not
    fit moves to the next page whole.
    """

    GAP = 5 * mm + 6  # between the QR code and the text: the former table's column gap and cell padding

    def __init__(self, reply_code: str, reply_url: str | None, fonts: _Fonts) -> None:
        super().__init__()
        self.code = texts.plain_text(reply_code)
        self.url = reply_url
        self.fonts = fonts
        self.instruction = reply_instruction(reply_code, reply_url)
        self.text_x = QR_SIZE + self.GAP if reply_url is not None else 0.0
        self.lines: list[str] = []
        self.text_height = 0.0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803 - reportlab's names
        self.lines = simpleSplit(self.instruction, self.fonts.regular, FONT_SIZE, availWidth - self.text_x)
        # Heading, instruction and code with the leading and spacing of the body styles.
        self.text_height = 14 + 3 + 14 * len(self.lines) + 7 + 18
        self.width = availWidth
        self.height = max(QR_SIZE if self.url is not None else 0.0, self.text_height)
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        if self.url is not None:
            draw_qr(canvas, 0, (self.height - QR_SIZE) / 2, QR_SIZE, self.url)
        canvas.saveState()
        canvas.setFillColor(colors.black)
        y = (self.height + self.text_height) / 2  # the top of the text, centred on the QR code
        canvas.setFont(self.fonts.bold, FONT_SIZE)
        canvas.drawString(self.text_x, y - FONT_SIZE, "Online antwoorden")
        y -= 14 + 3
        canvas.setFont(self.fonts.regular, FONT_SIZE)
        for line in self.lines:
            canvas.drawString(self.text_x, y - FONT_SIZE, line)
            y -= 14
        y -= 7
        canvas.setFont(self.fonts.bold, 13)
        canvas.drawString(self.text_x, y - 13, self.code)
        canvas.restoreState()


# -- warm-up -----------------------------------------------------------------------------------------------------------


def warm_up(*, font_dir: Path | None = None) -> None:
    """Register the fonts, load every text and render one small letter (for worker processes, before they fork)."""
    from schulden.letters.content import LETTER_TYPES

    for letter_type in LETTER_TYPES:
        texts.load_template(letter_type)
    day = date(2026, 1, 5)
    render_pdf(
        LetterContent(
            letter_type="L2",
            letter_id=0,
            our_reference="SR-000000",
            their_reference=None,
            date=day,
            sender=Address(("Schuldroute",)),
            sender_contact=(),
            recipient=Address(("Warm-up", "Postbus 1", "1000 AA  AMSTERDAM")),
            fields={"client_name": "Ĳsbrand Öztürk", "date_of_birth": day, "reply_deadline": day},
            debts=(DebtLine("Warm-up", None, "test", 123456, 0, 0, "estimated"),),
            reply_code="AAAA-AAAA-AA",
            reply_url="https://schuldroute.invalid/antwoord/warm-up",
        ),
        font_dir=font_dir,
    )
