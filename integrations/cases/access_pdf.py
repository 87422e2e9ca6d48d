"""Render the detainee's access overview (`AccessExport`, schulden/cases/access_export.py) to PDF bytes with reportlab:
the "inzageoverzicht" of AVG art. 15, for the detainee himself to read.

Plain Dutch at B1 level (many readers have low literacy, domain.md 4): short sentences, one heading per question he
may have, a large font (12 pt, the floor of the detainee's summary), dates as "4 december 2026" and amounts the Dutch
way. Built on the house style of the letters and the handover file (integrations/letters/render.py,
integrations/referrals/render.py): the embedded DejaVu Sans, the margins, the page footer "Pagina 1 van 2".

Safe by construction: every string from the database (names, addresses, notes, a creditor's answer) is made plain
text and escaped before it becomes a Paragraph, so it prints literally and can add no markup, link or image; no
template runs. Deterministic: invariant mode and the export's own date as creation date. Not stored: the doors stream
the bytes (schulden/ports.py `AccessPdfRenderer`).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from integrations.letters.render import GREY, LIGHT, TEXT_WIDTH, _Fonts, _styles_for
from integrations.referrals.render import _canvas_maker, _document, facts_table
from schulden.cases.access_export import Access, AccessExport, DebtFacts, LetterFacts, ReplyFacts, Step, Who
from schulden.cases.disclosures import CONSENT, Disclosure
from schulden.letters.templates import bedrag, datum, plain_text

__all__ = ["HEADINGS", "render_access_pdf"]

TIMEZONE = ZoneInfo("Europe/Amsterdam")
SIZE = 12.0
#: The headings the detainee finds, in this order (issue 15); tests look for each.
HEADINGS = (
    "Wie bent u",
    "Wat er met uw dossier gebeurde",
    "Uw schulden",
    "Wat er is verbeterd",
    "Brieven over u",
    "Antwoorden van schuldeisers",
    "Uw toestemming",
    "Verwijzing naar de gemeente",
    "Wie uw dossier bekeek of wijzigde",
    "Aan wie wij gegevens gaven",
    "Wat kunt u doen?",
)


class _Styles:
    def __init__(self, fonts: _Fonts) -> None:
        self.fonts = fonts
        leading = SIZE * 1.3
        self.body = ParagraphStyle("ax-body", fontName=fonts.regular, fontSize=SIZE, leading=leading, spaceAfter=4)
        self.title = ParagraphStyle(
            "ax-title", parent=self.body, fontName=fonts.bold, fontSize=20, leading=25, spaceAfter=6
        )
        self.heading = ParagraphStyle(
            "ax-heading",
            parent=self.body,
            fontName=fonts.bold,
            fontSize=SIZE + 4,
            leading=(SIZE + 4) * 1.3,
            spaceBefore=12,
            spaceAfter=4,
            keepWithNext=1,
        )
        self.item = ParagraphStyle(
            "ax-item", parent=self.body, fontName=fonts.bold, spaceBefore=6, spaceAfter=1, keepWithNext=1
        )
        self.detail = ParagraphStyle("ax-detail", parent=self.body, leftIndent=5 * mm, spaceAfter=1)
        self.note = ParagraphStyle("ax-note", parent=self.body, fontSize=10, leading=13, textColor=GREY)
        self.cell = ParagraphStyle("ax-cell", parent=self.body, fontSize=10, leading=12.5, spaceAfter=0)
        self.cell_bold = ParagraphStyle("ax-cell-bold", parent=self.cell, fontName=fonts.bold)


def _t(text: str | None, style: ParagraphStyle) -> Paragraph:
    """A Paragraph of plain text: control characters out, everything escaped, so no markup can come from the text."""
    return Paragraph(escape(plain_text(text or "")), style)


def _day(moment: date | datetime | None) -> str:
    """A date in words; a moment on the day it was in the Netherlands."""
    if moment is None:
        return "onbekend"
    if isinstance(moment, datetime):
        return datum(moment.astimezone(TIMEZONE).date())
    return datum(moment)


def _who(who: Who) -> str:
    """ "Schuldhulpverlener, Schuldroute": the function and the organisation, never a person's name."""
    if who.organisation and who.role not in ("system", None):
        return f"{who.role_label}, {who.organisation}"
    return who.role_label


#: A letter's status as the detainee reads it: what happened to it, not our queue's words.
LETTER_STATUS_WORDS = {
    "queued": "wordt gemaakt",
    "rendering": "wordt gemaakt",
    "rendered": "klaar, nog niet verstuurd",
    "sent": "verstuurd",
    "failed": "kon niet worden gemaakt; wij proberen het opnieuw",
    "cancelled": "niet verstuurd (gestopt)",
}


def _sentence(text: str) -> str:
    """Text that ends with one full stop (a reason typed with or without one)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def render_access_pdf(export: AccessExport, *, font_dir: Path | None = None) -> bytes:
    """The overview as PDF bytes (A4, as many pages as it takes). Raises `FontsMissing` without the fonts."""
    styles = _Styles(_styles_for(font_dir).fonts)
    buffer = io.BytesIO()
    reference = export.case.reference
    doc = _document(buffer, title=f"Inzageoverzicht \u2013 {reference}", subject="Inzage", fonts=styles.fonts)
    # The footer names the reference, never the person: a page that falls out of the stack says nothing about him.
    footer = f"{reference} · Inzageoverzicht · vertrouwelijk, alleen voor u"
    made_on = export.made_at.astimezone(TIMEZONE).date()
    doc.build(_story(export, styles), canvasmaker=_canvas_maker(footer, styles.fonts, made_on, []))
    return buffer.getvalue()


def _story(x: AccessExport, s: _Styles) -> list[Flowable]:
    story: list[Flowable] = [
        _t("Uw gegevens bij Schuldroute", s.title),
        _t(
            f"Dit overzicht is voor {x.person.full_name}. U wilde weten welke gegevens wij over u hebben. "
            f"Hier staat alles wat wij over u bewaren. Wij maakten dit overzicht op {_day(x.made_at)}.",
            s.body,
        ),
        _t(
            f"Gemaakt door: {_who(x.made_by)}. Het nummer van uw dossier is {x.case.reference}. "
            "Noem dit nummer als u ons iets vraagt.",
            s.body,
        ),
    ]
    story += _person(x, s)
    story += _history(x, s)
    story += _debts(x, s)
    story += _corrections(x, s)
    story += _letters(x.letters, s)
    story += _replies(x.replies, s)
    story += _consents(x, s)
    story += _referrals(x, s)
    story += _access(x.access_log, s)
    story += _disclosures(x.disclosures, s)
    story += _rights(s)
    return story


def _facts(rows: Sequence[tuple[str, str]], s: _Styles) -> Table:
    return facts_table([(_t(label, s.body), _t(value, s.body)) for label, value in rows], label_width=55 * mm)


def _person(x: AccessExport, s: _Styles) -> list[Flowable]:
    p, d = x.person, x.detention
    rows = [
        ("Naam", p.full_name),
        ("Geboortedatum", _day(p.date_of_birth)),
        ("BSN", p.bsn or "niet bekend bij ons"),
        ("Registratienummer DJI", p.dji_number or "niet bekend bij ons"),
        ("Gevangenis (PI)", d.pi),
        ("Soort detentie", d.type_label),
        ("In detentie sinds", _day(d.start)),
    ]
    if d.actual_release is not None:
        rows.append(("Vrijgelaten op", _day(d.actual_release)))
    else:
        rows.append(("Verwachte vrijlating", _day(d.expected_release) if d.expected_release else "nog onbekend"))
    for t in d.transfers:
        rows.append(("Overgeplaatst", f"{_day(t.on)}: van {t.from_pi} naar {t.to_pi}"))
    if x.case.registration_municipality:
        rows.append(("Ingeschreven in", x.case.registration_municipality))
    if x.case.intended_postcode:
        rows.append(("Postcode na vrijlating", x.case.intended_postcode))
    if x.case.municipality:
        rows.append(("Gemeente die u helpt", x.case.municipality))
    rows += [(f.label, f.value) for f in x.insurance]
    if x.benefits:
        rows.append(("Uitkeringen en toeslagen", ", ".join(x.benefits)))
    out: list[Flowable] = [_t(HEADINGS[0], s.heading), _facts(rows, s)]
    if x.household:
        out.append(_t("Uw gezin", s.item))
        for m in x.household:
            born = f", geboren {_day(m.date_of_birth)}" if m.date_of_birth else ""
            out.append(_t(f"{m.relation_label}: {m.given_names or 'naam niet bekend'}{born}", s.detail))
    if x.release_conditions:
        out.append(_t("Na uw vrijlating", s.item))
        out.append(_facts([(f.label, f.value) for f in x.release_conditions], s))
    if x.notes:
        out.append(_t("Notities over u", s.item))
        for n in x.notes:
            out.append(_t(f"{_day(n.at)}, {_who(n.by)}: {n.body}", s.detail))
    return out


def _steps(steps: Sequence[Step], s: _Styles) -> list[Flowable]:
    out: list[Flowable] = []
    for step in steps:
        why = f" Reden: {_sentence(step.reason)}" if step.reason else ""
        out.append(_t(f"{_day(step.at)}: {step.what}. Daarna: {step.to_state_label.lower()}.{why}", s.detail))
    return out


def _history(x: AccessExport, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [
        _t(HEADINGS[1], s.heading),
        _t(f"Wij openden uw dossier op {_day(x.case.opened_at)}. Nu: {x.case.state_label.lower()}.", s.body),
    ]
    if x.case.closure_label:
        out.append(_t(f"Het dossier is gesloten: {x.case.closure_label.lower()}.", s.body))
    out += _steps(x.case.history, s)
    return out


def _debts(x: AccessExport, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_t(HEADINGS[2], s.heading)]
    if not x.debts:
        return [*out, _t("Wij kennen geen schulden van u.", s.body)]
    total = sum(d.total_cents for d in x.debts)
    out.append(
        _t(
            f"Wij kennen {len(x.debts)} {'schuld' if len(x.debts) == 1 else 'schulden'}. Samen is dat {bedrag(total)}.",
            s.body,
        )
    )
    for d in x.debts:
        out.append(KeepTogether(_debt(d, s)))
    return out


def _debt(d: DebtFacts, s: _Styles) -> list[Flowable]:
    via = f" (via {d.collecting_party})" if d.collecting_party else ""
    parts: list[Flowable] = [
        _t(f"{d.creditor}{via}: {d.debt_type_label}", s.item),
        _t(
            f"Bedrag: {bedrag(d.total_cents)} ({d.amount_status_label.lower()}). Hoofdsom {bedrag(d.principal_cents)}, "
            f"rente {bedrag(d.interest_cents)}, kosten {bedrag(d.costs_cents)}.",
            s.detail,
        ),
        _t(f"Waar het staat: {d.state_label.lower()}.", s.detail),
    ]
    if d.creditor_reference:
        parts.append(_t(f"Uw kenmerk bij de schuldeiser: {d.creditor_reference}", s.detail))
    parts += _steps(d.history, s)
    return parts


#: Whose value was corrected, as the detainee reads it (a debt's field is named with its creditor).
OBJECT_WORDS = {"case": "Uw dossier", "detainee": "Uzelf"}


def _corrections(x: AccessExport, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [
        _t(HEADINGS[3], s.heading),
        _t(
            "Als wij een gegeven over u veranderen, bewaren wij ook wat er eerst stond. "
            "Hier ziet u wat er stond, wat er nu staat, wanneer en wie het veranderde.",
            s.body,
        ),
    ]
    if not x.corrections:
        return [*out, _t("Wij hebben nog niets veranderd aan uw gegevens.", s.body)]
    creditors = {d.id: d.creditor for d in x.debts}
    for c in x.corrections:
        whose = creditors.get(c.object_id, "Een schuld") if c.object_type == "debt" else OBJECT_WORDS[c.object_type]
        out.append(
            KeepTogether(
                [
                    _t(f"{_day(c.at)}: {whose}, {c.field_label.lower()}", s.item),
                    _t(f"Eerst: {c.old_value or 'niet ingevuld'}. Nu: {c.new_value or 'niet ingevuld'}.", s.detail),
                    _t(f"Veranderd door: {_who(c.by)}.", s.detail),
                ]
            )
        )
    return out


def _letters(letters: Sequence[LetterFacts], s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_t(HEADINGS[4], s.heading)]
    if not letters:
        return [*out, _t("Wij hebben nog geen brieven gemaakt.", s.body)]
    out.append(
        _t(
            "De brieven die wij over u maakten. Bij elke brief staat aan wie hij gaat, of hij al is verstuurd en "
            "of uw BSN erop staat.",
            s.body,
        )
    )
    for letter in letters:
        out.append(KeepTogether(_letter(letter, s)))
    return out


def _letter(letter: LetterFacts, s: _Styles) -> list[Flowable]:
    r = letter.recipient
    address = ", ".join((r.name, *r.address))
    how = letter.channel_label + (f" ({r.email})" if letter.channel == "email" and r.email else "")
    status = LETTER_STATUS_WORDS.get(letter.status, letter.status_label.lower())
    sent = f" op {_day(letter.sent_at)}" if letter.sent_at else ""
    return [
        _t(f"{_day(letter.letter_date)}: {letter.title}", s.item),
        _t(f"Aan: {address}", s.detail),
        _t(f"Hoe: {how}. Status: {status}{sent}.", s.detail),
        _t(f"Uw BSN staat op de brief: {'ja' if letter.bsn_on_letter else 'nee'}.", s.detail),
    ]


def _replies(replies: Sequence[ReplyFacts], s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_t(HEADINGS[5], s.heading)]
    if not replies:
        return [*out, _t("Er zijn nog geen antwoorden van schuldeisers.", s.body)]
    for r in replies:
        part: list[Flowable] = [_t(f"{_day(r.received_on)}: {r.creditor} ({r.channel_label})", s.item)]
        if r.total_cents is not None:
            when = f" op {_day(r.peildatum)}" if r.peildatum else ""
            part.append(_t(f"Bedrag volgens de schuldeiser{when}: {bedrag(r.total_cents)}.", s.detail))
        part += [_t(f"{line}.", s.detail) for line in r.said]
        if r.note:
            part.append(_t(f"Opmerking: {r.note}", s.detail))
        if r.has_attachment:
            part.append(_t("Er was een bijlage bij.", s.detail))
        if r.superseded:
            part.append(_t("Later kwam er een nieuw antwoord dat dit vervangt.", s.detail))
        out.append(KeepTogether(part))
    return out


def _consents(x: AccessExport, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_t(HEADINGS[6], s.heading)]
    if not x.consents:
        return [*out, _t("U hebt ons nog geen toestemming gegeven.", s.body)]
    out.append(_t("U gaf ons toestemming voor deze dingen. U mag die altijd intrekken.", s.body))
    for c in x.consents:
        general = c.recipient == "alle ontvangers van dit doel" or c.recipient in c.purpose_label
        who = "" if general else f" (voor {c.recipient})"
        part: list[Flowable] = [
            _t(f"{c.purpose_label[:1].upper()}{c.purpose_label[1:]}{who}", s.item),
            _t(f"Getekend op {_day(c.signed_on)}. Geldig tot {_day(c.valid_until)}.", s.detail),
        ]
        if c.withdrawn_at is not None:
            part.append(_t(f"U hebt dit ingetrokken op {_day(c.withdrawn_at)}.", s.detail))
        out.append(KeepTogether(part))
    return out


def _referrals(x: AccessExport, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_t(HEADINGS[7], s.heading)]
    if not x.referrals:
        return [*out, _t("Wij hebben u nog niet aangemeld bij een gemeente.", s.body)]
    for r in x.referrals:
        part: list[Flowable] = [
            _t(f"{_day(r.referred_at)}: aangemeld bij {r.municipality}", s.item),
            _t(f"Status: {r.status_label}.", s.detail),
        ]
        if r.first_conversation_on:
            part.append(_t(f"Eerste gesprek bij de gemeente: {_day(r.first_conversation_on)}.", s.detail))
        if r.refusal_reason:
            part.append(_t(f"Reden van de gemeente: {_sentence(r.refusal_reason)}", s.detail))
        out.append(KeepTogether(part))
    return out


def _access(rows: Sequence[Access], s: _Styles) -> list[Flowable]:
    """Per day and organisation: what was looked at or changed. One line per visit, not per database row: a single
    look at the case page writes six rows (the case, its history, debts, letters, answers, steps)."""
    out: list[Flowable] = [
        _t(HEADINGS[8], s.heading),
        _t(
            "Hier staat wie uw dossier opende of iets veranderde. Wij noemen de organisatie en de functie, "
            "niet de naam van de medewerker.",
            s.body,
        ),
    ]
    if not rows:
        return [*out, _t("Niemand heeft uw dossier bekeken.", s.body)]
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    order: list[tuple[str, str]] = []
    for row in rows:
        key = (_day(row.at), _who(row.by))
        if key not in grouped:
            order.append(key)
        if row.action_label not in grouped[key]:
            grouped[key].append(row.action_label)
    data: list[list[Any]] = [[_t("Datum", s.cell_bold), _t("Wie", s.cell_bold), _t("Wat", s.cell_bold)]]
    for key in order:
        day, who = key
        data.append([_t(day, s.cell), _t(who, s.cell), _t(", ".join(grouped[key]), s.cell)])
    table = Table(data, colWidths=[32 * mm, 62 * mm, TEXT_WIDTH - 94 * mm], repeatRows=1, hAlign="LEFT")
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
    return [*out, table]


KIND_WORDS = {
    "creditor": "schuldeiser",
    "municipality": "gemeente",
    "district_team": "wijkteam",
    "partner": "reclassering of zorg",
}


def _disclosures(items: Sequence[Disclosure], s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [
        _t(HEADINGS[9], s.heading),
        _t(
            "Hier staat aan wie wij gegevens over u gaven, welke gegevens, en waarom dat mocht. "
            "Uw BSN staat er apart bij.",
            s.body,
        ),
    ]
    if not items:
        return [*out, _t("Wij hebben nog geen gegevens over u aan anderen gegeven.", s.body)]
    for d in items:
        kind = KIND_WORDS.get(d.recipient_kind, d.recipient_kind)
        when = _day(d.on)
        if d.last_on is not None and d.last_on != d.on:
            when = f"{when} tot {_day(d.last_on)}"
        if d.times > 1:
            when = f"{when} ({d.times} keer)"
        bsn = f"ja. Dat mocht omdat: {_sentence(d.bsn_basis or '')}" if d.bsn else "nee."
        basis = d.basis
        if basis.startswith(CONSENT):
            basis = f"u gaf toestemming voor {basis.removeprefix(CONSENT)}"
        part: list[Flowable] = [
            _t(f"{when}: {d.recipient} ({kind})", s.item),
            _t(f"Hoe: {d.channel}.", s.detail),
            _t(f"Welke gegevens: {'; '.join(d.what)}.", s.detail),
            _t(f"Waarom dat mocht: {_sentence(basis)}", s.detail),
            _t(f"Uw BSN: {bsn}", s.detail),
        ]
        out.append(KeepTogether(part))
    return out


def _rights(s: _Styles) -> list[Flowable]:
    return [
        _t(HEADINGS[10], s.heading),
        _t(
            "Klopt er iets niet? Vraag ons dan om het te verbeteren. Wij bewaren dan ook wat er eerst stond: "
            "u ziet het onder “Wat er is verbeterd”.",
            s.body,
        ),
        _t(
            "Wilt u niet meer dat wij u helpen? Dan kunt u uw toestemming intrekken. Wat wij al deden, blijft geldig.",
            s.body,
        ),
        _t(
            "Bent u het niet eens met hoe wij met uw gegevens omgaan? Zeg het ons. "
            "U mag ook een klacht indienen bij de Autoriteit Persoonsgegevens.",
            s.body,
        ),
        Spacer(1, 4),
        _t("Bewaar dit overzicht goed. Er staat uw BSN in. Geef het niet aan anderen.", s.note),
    ]
