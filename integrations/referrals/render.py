"""Render the handover file (`Handover`) and the detainee's summary (`DetaineeSummary`) to PDF bytes with reportlab.

Built on the letters' layout (integrations.letters.render): the same embedded DejaVu Sans, margins, escaping and
page footer. As there, every string from the case is escaped before it becomes a Paragraph, and the output is
deterministic: invariant mode and the file's own date as creation date, so the same input gives the same bytes and
a stored hash can be checked.

Amounts and dates are formatted here, the Dutch way (Babel nl_NL via the letters' `bedrag` and `datum`).

The detainee's summary is one A4 page in a large font (B1, many readers have low literacy): it starts at 14 pt and
steps down to 12 pt at the least; when even that does not fit, the last debts are left out with a line saying how
many and who has the full list.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
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

from integrations.letters.render import (
    GREY,
    LIGHT,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    PAGE_HEIGHT,
    TEXT_WIDTH,
    _Fonts,
    _NumberedCanvas,
    _p,
    _styles_for,
)
from schulden.letters.templates import bedrag, datum, plain_text
from schulden.referrals.handover import (
    Arrangement,
    Contact,
    DetaineeDetails,
    DetaineeSummary,
    Handover,
    HandoverDebt,
    HouseholdPart,
    SummaryDebt,
    Total,
    condition_rows,
    contract_text,
    follow_up_rows,
)

__all__ = ["render_detainee_summary_pdf", "render_handover_pdf"]

FRAME_TOP = 18 * mm
FRAME_BOTTOM = 20 * mm
FRAME_HEIGHT = PAGE_HEIGHT - FRAME_TOP - FRAME_BOTTOM
CREATOR = "Schuldroute"
DASH = "\u2013"  # en dash: an empty cell, and between a name and what it is

#: B1 summary font sizes, largest first; 12 pt is the floor for readers with low literacy or poor sight.
SUMMARY_SIZES = (14.0, 13.0, 12.0)


# -- shared ------------------------------------------------------------------------------------------------------------


def _document(buffer: io.BytesIO, *, title: str, subject: str, fonts: _Fonts) -> BaseDocTemplate:
    frame = Frame(
        MARGIN_LEFT,
        FRAME_BOTTOM,
        TEXT_WIDTH,
        FRAME_HEIGHT,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    return BaseDocTemplate(
        buffer,
        pagesize=A4,
        pageTemplates=[PageTemplate(id="page", frames=[frame])],
        title=title,
        author=CREATOR,
        subject=subject,
        creator=CREATOR,
        invariant=1,
        pageCompression=1,
        lang="nl-NL",
        initialFontName=fonts.regular,
        leftMargin=MARGIN_LEFT,
        rightMargin=MARGIN_RIGHT,
    )


def _canvas_maker(footer: str, fonts: _Fonts, day: date, pages: list[int]) -> Callable[..., Canvas]:
    def make(filename: Any, /, **kwargs: Any) -> Canvas:
        canvas = _CountingCanvas(filename, footer=plain_text(footer), fonts=fonts, day=day, pages=pages, **kwargs)
        return canvas

    return make


class _CountingCanvas(_NumberedCanvas):
    """The letters' canvas ("Pagina 1 van 2", fixed dates) that also reports how many pages it wrote."""

    def __init__(self, *args: Any, pages: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_count = pages

    def save(self) -> None:
        self._page_count.append(len(self._pages))
        super().save()


def _text(value: str | None, empty: str = DASH) -> str:
    return plain_text(value) if value else empty


def _table(data: list[list[Any]], widths: Sequence[float], fonts: _Fonts, size: float, **style: Any) -> Table:
    table = Table(data, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.spaceBefore, table.spaceAfter = 2, 8
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), fonts.regular, size),
        ("FONT", (0, 0), (-1, 0), fonts.bold, size),
        ("BACKGROUND", (0, 0), (-1, 0), LIGHT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, GREY),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if style.get("right_from") is not None:
        commands.append(("ALIGN", (style["right_from"], 0), (style.get("right_to", -1), -1), "RIGHT"))
    if style.get("total_row"):
        commands += [("FONT", (0, -1), (-1, -1), fonts.bold, size), ("LINEABOVE", (0, -1), (-1, -1), 0.5, GREY)]
    table.setStyle(TableStyle(commands))
    return table


# -- the handover file -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _HandoverStyles:
    fonts: _Fonts
    title: ParagraphStyle
    body: ParagraphStyle
    heading: ParagraphStyle
    bullet: ParagraphStyle
    cell: ParagraphStyle
    note: ParagraphStyle
    subheading: ParagraphStyle


def _handover_styles(font_dir: Path | None) -> _HandoverStyles:
    letter_styles = _styles_for(font_dir)  # registers the fonts once (thread-safe) and gives the letters' styles
    fonts = letter_styles.fonts
    body = letter_styles.body
    return _HandoverStyles(
        fonts=fonts,
        title=ParagraphStyle("ho-title", parent=body, fontName=fonts.bold, fontSize=16, leading=20, spaceAfter=6),
        body=body,
        heading=ParagraphStyle(
            "ho-heading",
            parent=body,
            fontName=fonts.bold,
            fontSize=12,
            leading=15,
            spaceBefore=8,
            spaceAfter=4,
            keepWithNext=1,
        ),
        bullet=letter_styles.bullet,
        cell=ParagraphStyle("ho-cell", parent=body, fontSize=7.5, leading=9.5, spaceAfter=0),
        note=ParagraphStyle("ho-note", parent=body, fontSize=8, leading=10, textColor=GREY),
        subheading=ParagraphStyle(
            "ho-subheading", parent=body, fontName=fonts.bold, spaceBefore=4, spaceAfter=2, keepWithNext=1
        ),
    )


def render_handover_pdf(h: Handover, *, font_dir: Path | None = None) -> bytes:
    """The handover file as PDF bytes (A4, as many pages as it takes). Raises `FontsMissing` without the fonts."""
    styles = _handover_styles(font_dir)
    buffer = io.BytesIO()
    doc = _document(
        buffer, title=f"Overdrachtsdossier \u2013 {h.reference}", subject="Warme overdracht", fonts=styles.fonts
    )
    footer = f"{h.reference} · Overdrachtsdossier · vertrouwelijk"
    doc.build(_handover_story(h, styles), canvasmaker=_canvas_maker(footer, styles.fonts, h.made_on, []))
    return buffer.getvalue()


def _facts(rows: Sequence[tuple[str, str]], styles: _HandoverStyles) -> Table:
    return facts_table([(_p(label, styles.body), _p(value, styles.body)) for label, value in rows])


def facts_table(rows: Sequence[tuple[Flowable, Flowable]], *, label_width: float = 52 * mm) -> Table:
    """Label and value side by side, labels in grey, no rules: the fact lists of the handover file and of the
    detainee's access overview (integrations/cases/access_pdf.py)."""
    table = Table(
        [list(row) for row in rows],
        colWidths=[label_width, TEXT_WIDTH - label_width],
        hAlign="LEFT",
        spaceAfter=4,
    )
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TEXTCOLOR", (0, 0), (0, -1), GREY),
            ]
        )
    )
    return table


def _handover_story(h: Handover, s: _HandoverStyles) -> list[Flowable]:
    """The file's parts in order: head, detainee, basisvoorwaarden, contacts, threats and term, consent, debts (the
    overview, then each creditor and the contracts ended), household."""
    story: list[Flowable] = [_p("Overdrachtsdossier schuldhulpverlening", s.title), _facts(_head_rows(h), s)]
    story += _detainee_part(h.detainee, s)
    story += [_p("Basisvoorwaarden na vrijlating", s.heading), _facts(condition_rows(h.conditions), s)]
    story += [_p("Contactpersonen", s.heading), _contacts_table(h.contacts, s)]
    story += _urgency_part(h, s)
    story.append(_p("Toestemming van de gedetineerde", s.heading))
    story += _consent_part(h, s)
    story += _debts_part(h, s)
    story += _creditors_part(h, s)
    if h.household is not None:  # only when asked for
        story += _household_part(h.household, s)
    return story


def _head_rows(h: Handover) -> list[tuple[str, str]]:
    head = [("Datum", datum(h.made_on)), ("Ons kenmerk", h.reference)]
    if h.municipality is not None:
        head.append(("Gemeente", h.municipality.name))
        if h.municipality.team_name:
            head.append(("Team", h.municipality.team_name))
    head.append(("Deel huishouden", "opgenomen" if h.household is not None else "niet opgenomen"))
    return head


def _release(d: DetaineeDetails) -> str:
    if d.pre_trial:
        return "onbekend (voorlopige hechtenis)"
    if d.expected_release is not None:
        return datum(d.expected_release)
    return "nog onbekend"


def _detainee_part(d: DetaineeDetails, s: _HandoverStyles) -> list[Flowable]:
    # After the release the file states it and no longer reads as if he were still inside (issue 12, item 1).
    pi = d.pi_name + (f", {d.pi_address}" if d.pi_address else "")
    released_on = d.actual_release
    released = released_on is not None
    rows = [
        ("Naam", d.name),
        ("Geboortedatum", datum(d.date_of_birth)),
        ("BSN", d.bsn or "niet bekend"),
        ("Registratienummer DJI", d.dji_number or "niet bekend"),
        ("Laatste penitentiaire inrichting" if released else "Penitentiaire inrichting", pi),
        ("Soort detentie", d.detention_type_label),
        ("Begin detentie" if released else "In detentie sinds", datum(d.detention_start)),
        ("Vrijgelaten op", datum(released_on)) if released_on is not None else ("Verwachte vrijlating", _release(d)),
    ]
    if d.intended_postcode:
        rows.append(("Postcode na vrijlating", d.intended_postcode))
    if d.registration_municipality:
        rows.append(("Ingeschreven in (BRP)", d.registration_municipality))
    if d.routing_rule:
        rows.append(("Gemeente gekozen op", d.routing_rule + (f" ({d.routing_reason})" if d.routing_reason else "")))
    return [_p("Gedetineerde", s.heading), _facts(rows, s)]


def _urgency_part(h: Handover, s: _HandoverStyles) -> list[Flowable]:
    """The threats and the Wgs term for the first conversation."""
    u = h.urgency
    out: list[Flowable] = [_p("Dreiging en spoed", s.heading)]
    if u.threats:
        for t in u.threats:
            source = "volgens het dossier" if t.source == "dossier" else f"schuldeiser {t.source}"
            track = f" {DASH} termijn van 3 werkdagen" if t.wgs_urgent else ""
            out.append(_p(f"Er dreigt {t.label} ({source}){track}.", s.bullet, "\u2022"))
        out.append(Spacer(1, 3))
    else:
        out.append(_p("Er is geen dreiging bekend (huisuitzetting, afsluiting, beëindiging zorgverzekering).", s.body))
    term = [
        ("Spoed", "ja" if u.urgent else "nee"),
        ("Eerste gesprek", f"{u.rule}, uiterlijk {datum(u.first_conversation_due)}"),
    ]
    if h.first_conversation is not None:
        term.append(("Eerste gesprek gepland op", datum(h.first_conversation)))
    out.append(_facts(term, s))
    return out


def _debts_part(h: Handover, s: _HandoverStyles) -> list[Flowable]:
    out: list[Flowable] = [_p("Schuldenoverzicht", s.heading)]
    if not h.debts:
        out.append(_p("Er zijn geen schulden bekend.", s.body))
        return out
    out.append(_debt_table(h.debts, s))
    if any(debt.settled for debt in h.debts):
        out.append(
            _p(
                "Betaalde en kwijtgescholden schulden staan in het overzicht maar tellen niet mee in de totalen.",
                s.note,
            )
        )
    out.append(
        KeepTogether([_p("Totalen per categorie", s.heading), _totals_table(h.totals_by_category, "Categorie", s)])
    )
    out.append(
        KeepTogether(
            [_p("Totalen per status van het bedrag", s.heading), _totals_table(h.totals_by_status, "Status", s)]
        )
    )
    return out


def _creditors_part(h: Handover, s: _HandoverStyles) -> list[Flowable]:
    """Per debt where it stands with the creditor (address, contact, judgment, attachment, suspension, letters),
    then the contracts ended. Every row has a value: "onbekend" where nothing is known."""
    out: list[Flowable] = []
    if h.debts:
        out.append(_p("Per schuldeiser", s.heading))
        for d in h.debts:
            title = f"{d.creditor} {DASH} {d.type_label}" + (f" (kenmerk {d.reference})" if d.reference else "")
            out.append(KeepTogether([_p(title, s.subheading), _facts(follow_up_rows(d.follow_up), s)]))
    out.append(_p("Opgezegde overeenkomsten", s.heading))
    if h.terminated_contracts:
        for contract in h.terminated_contracts:
            out.append(_p(contract_text(contract), s.bullet, "\u2022"))
    else:
        out.append(_p("Er zijn geen overeenkomsten opgezegd.", s.body))
    return out


def _household_part(household: HouseholdPart, s: _HandoverStyles) -> list[Flowable]:
    """Who stays behind and the debts shared with the partner."""
    out: list[Flowable] = [_p("Huishouden", s.heading)]
    if household.members:
        data: list[list[Any]] = [["Relatie", "Voornamen", "Geboortedatum", "Deelt de huur", "Gezamenlijke schulden"]]
        for m in household.members:
            data.append(
                [
                    m.relation_label,
                    _p(_text(m.given_names), s.cell),
                    datum(m.date_of_birth) if m.date_of_birth else DASH,
                    "ja" if m.shares_lease else "nee",
                    "ja" if m.shares_debts else "nee",
                ]
            )
        out.append(_table(data, [25 * mm, 50 * mm, 35 * mm, 25 * mm, TEXT_WIDTH - 135 * mm], s.fonts, 8))
    else:
        out.append(_p("Er zijn geen gezinsleden vastgelegd die achterblijven.", s.body))
    if household.joint_debts:
        out.append(_p("Schulden samen met de partner", s.heading))
        for debt in household.joint_debts:
            out.append(_p(f"{debt.creditor} {DASH} {debt.type_label}: {bedrag(debt.total_cents)}", s.bullet, "\u2022"))
        out.append(_p(f"Samen: {bedrag(household.joint_total_cents)}", s.body))
    else:
        out.append(_p("Er zijn geen schulden samen met de partner bekend.", s.body))
    return out


def _contacts_table(contacts: Sequence[Contact], s: _HandoverStyles) -> Table:
    data: list[list[Any]] = [["Rol", "Naam", "Organisatie", "Telefoon", "E-mail"]]
    for c in contacts:
        data.append(
            [
                _p(c.role, s.cell),
                _p(_text(c.name, "niet bekend"), s.cell),
                _p(_text(c.organisation), s.cell),
                _p(_text(c.phone), s.cell),
                _p(_text(c.email), s.cell),
            ]
        )
    widths = [28 * mm, 32 * mm, 38 * mm, 24 * mm, TEXT_WIDTH - 122 * mm]
    return _table(data, widths, s.fonts, 8)


def _consent_part(h: Handover, s: _HandoverStyles) -> list[Flowable]:
    c = h.consent
    out: list[Flowable] = []
    out.append(
        _p(
            "De gedetineerde heeft toestemming gegeven om dit dossier met de gemeente te delen."
            if c.covers_referral
            else "Let op: er is geen geldige toestemming om het dossier met deze gemeente te delen.",
            s.body,
        )
    )
    if c.lines:
        data: list[list[Any]] = [["Doel", "Ontvanger", "Getekend", "Geldig tot", "Versie"]]
        for line in c.lines:
            data.append(
                [
                    _p(line.purpose_label, s.cell),
                    _p(line.recipient, s.cell),
                    datum(line.signed_on),
                    datum(line.valid_until),
                    _p(line.text_version, s.cell),
                ]
            )
        out.append(_table(data, [55 * mm, 35 * mm, 28 * mm, 28 * mm, TEXT_WIDTH - 146 * mm], s.fonts, 8))
    if c.withdrawn:
        out.append(_p("Ingetrokken: " + ", ".join(c.withdrawn) + ".", s.body))
    return out


_DEBT_HEADER = ("Schuldeiser", "Soort", "Hoofdsom", "Rente", "Kosten", "Totaal", "Bedrag", "Stand van zaken")


def _debt_table(debts: Sequence[HandoverDebt], s: _HandoverStyles) -> Table:
    data: list[list[Any]] = [list(_DEBT_HEADER)]
    for d in debts:
        who = [d.creditor]
        if d.collecting_party:
            who.append(f"via {d.collecting_party}")
        if d.reference:
            who.append(f"kenmerk {d.reference}")
        if d.creditor_kvk:
            who.append(f"KvK {d.creditor_kvk}")
        kind = [f"{d.category_label}: {d.type_label}"]
        if d.is_business_debt:
            kind.append("zakelijke schuld")
        if d.joint_with_partner:
            kind.append("samen met partner")
        amount = [d.amount_status_label, f"peildatum {datum(d.peildatum)}" if d.peildatum else "geen peildatum"]
        state = [d.state_label]
        if d.arrangement is not None:
            state.append(_arrangement_short(d.arrangement))
        if d.threat:
            state.append("dreiging")
        data.append(
            [
                _lines(who, s.cell),
                _lines(kind, s.cell),
                bedrag(d.principal_cents),
                bedrag(d.interest_cents),
                bedrag(d.costs_cents),
                bedrag(d.total_cents),
                _lines(amount, s.cell),
                _lines(state, s.cell),
            ]
        )
    counted = [d for d in debts if not d.settled]
    data.append(
        [
            "Totaal",
            "",
            bedrag(sum(d.principal_cents for d in counted)),
            bedrag(sum(d.interest_cents for d in counted)),
            bedrag(sum(d.costs_cents for d in counted)),
            bedrag(sum(d.total_cents for d in counted)),
            "",
            "",
        ]
    )
    # Amount columns as wide as their widest value (never wrapped); the text columns share the rest.
    size, pad = 7.5, 2 * 2.5
    amount_widths = [
        max(pdfmetrics.stringWidth(str(row[col]), s.fonts.bold, size) for row in data) + pad for col in range(2, 6)
    ]
    rest = TEXT_WIDTH - sum(amount_widths)
    who_w, kind_w, status_w = rest * 0.26, rest * 0.25, rest * 0.19
    widths = [who_w, kind_w, *amount_widths, status_w, rest - who_w - kind_w - status_w]
    return _table(data, widths, s.fonts, size, right_from=2, right_to=5, total_row=True)


def _totals_table(rows: Sequence[Total], first: str, s: _HandoverStyles) -> Table:
    data: list[list[Any]] = [[first, "Aantal", "Hoofdsom", "Rente", "Kosten", "Totaal"]]
    for t in rows:
        data.append(
            [
                t.label,
                str(t.count),
                bedrag(t.principal_cents),
                bedrag(t.interest_cents),
                bedrag(t.costs_cents),
                bedrag(t.total_cents),
            ]
        )
    data.append(
        [
            "Totaal",
            str(sum(t.count for t in rows)),
            bedrag(sum(t.principal_cents for t in rows)),
            bedrag(sum(t.interest_cents for t in rows)),
            bedrag(sum(t.costs_cents for t in rows)),
            bedrag(sum(t.total_cents for t in rows)),
        ]
    )
    widths = [40 * mm, 16 * mm, 26 * mm, 26 * mm, 26 * mm, 28 * mm]
    return _table(data, widths, s.fonts, 8, right_from=1, total_row=True)


def _lines(parts: Sequence[str], style: ParagraphStyle) -> Paragraph:
    """Several lines in one cell: each escaped on its own, joined with a line break (the only markup we add)."""
    return Paragraph("<br/>".join(escape(plain_text(part)) for part in parts), style)


def _arrangement_short(a: Arrangement) -> str:
    return f"{bedrag(a.monthly_cents)} per maand, {a.months} mnd, vanaf {datum(a.start_date)}"


# -- the detainee's summary ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SummaryStyles:
    fonts: _Fonts
    title: ParagraphStyle
    body: ParagraphStyle
    heading: ParagraphStyle
    debt: ParagraphStyle
    detail: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    todo: ParagraphStyle


def _summary_styles(fonts: _Fonts, size: float) -> _SummaryStyles:
    leading = round(size * 1.25, 1)
    body = ParagraphStyle("b1-body", fontName=fonts.regular, fontSize=size, leading=leading, spaceAfter=size * 0.35)
    return _SummaryStyles(
        fonts=fonts,
        title=ParagraphStyle(
            "b1-title", parent=body, fontName=fonts.bold, fontSize=size + 6, leading=(size + 6) * 1.25, spaceAfter=4
        ),
        body=body,
        heading=ParagraphStyle(
            "b1-heading",
            parent=body,
            fontName=fonts.bold,
            fontSize=size + 2,
            leading=(size + 2) * 1.3,
            spaceBefore=size * 0.45,
            spaceAfter=size * 0.3,
            keepWithNext=1,
        ),
        debt=ParagraphStyle("b1-debt", parent=body, fontName=fonts.bold, spaceAfter=0, spaceBefore=size * 0.3),
        detail=ParagraphStyle("b1-detail", parent=body, leftIndent=5 * mm, spaceAfter=size * 0.2),
        cell=ParagraphStyle("b1-cell", parent=body, spaceAfter=0),
        cell_bold=ParagraphStyle("b1-cell-bold", parent=body, fontName=fonts.bold, spaceAfter=0),
        todo=ParagraphStyle(
            "b1-todo",
            parent=body,
            leftIndent=5 * mm,
            bulletIndent=1 * mm,
            bulletFontName=fonts.regular,
            spaceAfter=0,
        ),
    )


def render_detainee_summary_pdf(s: DetaineeSummary, *, font_dir: Path | None = None) -> bytes:
    """The detainee's summary as a one-page A4 PDF. Raises `FontsMissing` without the fonts."""
    fonts = _styles_for(font_dir).fonts
    total = len(s.debts)
    # The largest size at which every debt fits ...
    for size in SUMMARY_SIZES:
        styles = _summary_styles(fonts, size)
        if _fits_one_page(_summary_story(s, styles, total)):
            break
    else:
        # ... else the floor size with as many debts as fit: the height grows with the number shown, so a binary
        # search on the measure finds it in a few wraps (a page holds about eight debts at 12 pt).
        low, high = 0, total - 1
        while low < high:
            middle = (low + high + 1) // 2
            if _fits_one_page(_summary_story(s, styles, middle)):
                low = middle
            else:
                high = middle - 1
        total = low
    # The measure is exact for these flowables; the check after the real build is a guard, not the plan.
    for shown in range(total, -1, -1):
        pages: list[int] = []
        pdf = _build_summary(s, _summary_story(s, styles, shown), fonts, pages)
        if pages == [1]:
            return pdf
    raise AssertionError("the summary does not fit one page even without debts")  # pragma: no cover


def _fits_one_page(story: Sequence[Flowable]) -> bool:
    """A quick measure before the real build: the flowables' heights with their spacing, against the frame."""
    used = 0.0
    for index, flowable in enumerate(story):
        _, height = flowable.wrap(TEXT_WIDTH, FRAME_HEIGHT)
        before = flowable.getSpaceBefore() if index else 0.0
        used += before + height + flowable.getSpaceAfter()
    return used <= FRAME_HEIGHT


def _build_summary(s: DetaineeSummary, story: list[Flowable], fonts: _Fonts, pages: list[int]) -> bytes:
    buffer = io.BytesIO()
    doc = _document(
        buffer, title=f"Overzicht van uw schulden \u2013 {s.reference}", subject="Samenvatting", fonts=fonts
    )
    footer = f"{s.reference} · Bewaar dit overzicht goed."
    doc.build(story, canvasmaker=_canvas_maker(footer, fonts, s.made_on, pages))
    return buffer.getvalue()


def _summary_story(s: DetaineeSummary, st: _SummaryStyles, shown: int) -> list[Flowable]:
    story: list[Flowable] = [
        _p("Uw schulden: wat is er geregeld?", st.title),
        _p(f"Voor {s.name}, {datum(s.made_on)}. Bewaar dit papier. Neem het mee naar de gemeente.", st.body),
        _p("Welke schulden zijn bekend?", st.heading),
    ]
    if not s.debts:
        story.append(_p("Wij kennen geen schulden van u.", st.body))
    else:
        story.append(_summary_debts(s.debts[:shown], st))
    hidden = len(s.debts) - shown
    if hidden > 0:
        more = "nog 1 andere schuld" if hidden == 1 else f"nog {hidden} andere schulden"
        story.append(_p(f"U hebt {more}. Uw schuldhulpverlener en de gemeente hebben de hele lijst.", st.body))
    if s.debts:
        story.append(_p(f"Samen is dat {bedrag(s.total_cents)}.", st.debt))

    # Written for both sides of the release: a person who is free is told what happened, never asked whether he
    # is still in prison.
    released = s.released_on is not None
    story.append(_p("Wat gebeurt er nu?" if released else "Wat gebeurt er na uw vrijlating?", st.heading))
    m = s.municipality
    after = []
    if s.released_on is not None:
        after.append(f"U bent vrijgekomen op {datum(s.released_on)}.")
    elif s.expected_release is not None:
        after.append(f"U komt waarschijnlijk vrij op {datum(s.expected_release)}.")
    if m is not None:
        when = "Nu" if released else "Daarna"
        after.append(f"{when} helpt {_gemeente(m.name, start=False)} u verder met uw schulden.")
    if after:
        story.append(_p(" ".join(after), st.body))
    if s.first_conversation is not None:
        story.append(_p(f"Uw eerste gesprek bij de gemeente is op {datum(s.first_conversation)}.", st.debt))
    else:
        soon = " Dat gebeurt snel, want er is haast." if s.wgs_urgent else ""
        heard = "Hebt u na een week nog niets gehoord?" if released else "Hebt u na uw vrijlating nog niets gehoord?"
        story.append(
            _p(
                f"De gemeente maakt een afspraak met u voor een eerste gesprek.{soon} {heard} Neem dan zelf"
                " contact op met de gemeente.",
                st.body,
            )
        )
    if m is not None:
        where = ", ".join(m.address) if m.address else m.name
        story.append(_p(f"Adres: {where}", st.detail))
        reach = _call_or_mail(m.phone, m.email)
        if reach:
            story.append(_p(reach, st.detail))
    else:
        story.append(_p("Welke gemeente u helpt, is nog niet bekend. Uw schuldhulpverlener vertelt het u.", st.detail))

    if s.todo:
        story.append(
            _p("Wat moet u nu doen?" if released else "Wat doet u in de eerste dagen na uw vrijlating?", st.heading)
        )
        story += [_p(item, st.todo, "\u2022") for item in s.todo]

    story.append(_p("Wie kunt u bellen?", st.heading))
    who = s.counsellor_name or "uw schuldhulpverlener"
    org = f" van {s.counsellor_organisation}" if s.counsellor_organisation else ""
    story.append(_p(f"Uw schuldhulpverlener is {who}{org}.", st.body))
    reach = _call_or_mail(s.counsellor_phone, s.counsellor_email)
    if reach:
        story.append(_p(reach, st.detail))
    if not released:
        casemanager = f", {s.casemanager_name}" if s.casemanager_name else ""
        story.append(_p(f"Zolang u in de gevangenis zit, kunt u ook uw casemanager{casemanager} vragen.", st.body))
    return story


def _call_or_mail(phone: str | None, email: str | None) -> str | None:
    if phone and email:
        return f"Bel {phone} of mail naar {email}."
    if phone:
        return f"Bel {phone}."
    return f"Mail naar {email}." if email else None


def _gemeente(name: str, *, start: bool = True) -> str:
    """'de gemeente Zwolle', but not 'de gemeente Gemeente Zwolle' for an organisation named that way."""
    if name.lower().startswith("gemeente "):
        return name
    return f"{'De' if start else 'de'} gemeente {name}"


def _summary_debts(debts: Sequence[SummaryDebt], st: _SummaryStyles) -> Table:
    """Who, how much, and what was arranged: one row a debt, in the summary's large font."""
    data: list[list[Any]] = [
        [_p("Bij wie", st.cell_bold), _p("Bedrag", st.cell_bold), _p("Wat is er geregeld?", st.cell_bold)]
    ]
    for debt in debts:
        arranged = debt.arranged
        if debt.arrangement is not None:
            a = debt.arrangement
            arranged += (
                f" U betaalt {bedrag(a.monthly_cents)} per maand, {a.months} maanden lang, vanaf {datum(a.start_date)}."
            )
        data.append(
            [
                [_p(debt.creditor, st.cell_bold), _p(debt.what, st.cell)],
                [_p(bedrag(debt.total_cents), st.cell_bold), _p(debt.amount_note, st.cell)],
                _p(arranged, st.cell),
            ]
        )
    widths = [TEXT_WIDTH * 0.34, TEXT_WIDTH * 0.23, TEXT_WIDTH * 0.43]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.spaceBefore, table.spaceAfter = 0, 4
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), LIGHT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, GREY),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table
