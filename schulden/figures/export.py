"""The figures as a CSV file for Dutch spreadsheet users: semicolons, a decimal comma, UTF-8 with a byte order mark
(without it Excel reads the file as Windows-1252 and garbles accented names)."""

from __future__ import annotations

import csv
import io

from schulden.figures.conditions import BASISVOORWAARDEN, STATE_LABELS
from schulden.figures.queries import FigureRow, Figures, Grouping

GROUP_HEADER = {Grouping.PI: "PI", Grouping.MUNICIPALITY: "Gemeente"}
HEADERS = (
    "Code",
    "Dossiers geopend",
    "Vrijgelaten in periode",
    "Inventarisatie compleet bij vrijlating",
    "Verwezen voor vrijlating",
    "Verwezen in periode",
    "Geaccepteerd door gemeente",
    "Schulden met eerste antwoord",
    "Mediaan dagen tot eerste antwoord",
    "Schulden zonder reactie na twee herinneringen",
    "Schulden zonder antwoord van schuldeiser",
    "Schuldeisers zonder antwoord",
    "Wgs-termijn overschreden",
    "Intake binnen 10 werkdagen",
    "Eerste gesprek vastgelegd",
    "Eerste gesprek binnen Wgs-termijn",
    "Wgs-termijn voorbij zonder eerste gesprek",
    # Three columns per basisvoorwaarde: "Identiteitsbewijs geregeld", "... niet geregeld", "... onbekend".
    *(f"{condition.label} {state}" for condition in BASISVOORWAARDEN.values() for state in STATE_LABELS.values()),
)

# A cell starting with one of these is read as a formula by spreadsheet programs (CSV injection): creditor names
# are typed by users, so such text is prefixed with an apostrophe, which shows it as plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def _cells(name: str, code: str | None, row: FigureRow) -> list[str | int]:
    creditors = ", ".join(f"{c.name} ({c.debts})" for c in row.never_answering_creditors)
    return [
        _text(name),
        _text(code),
        row.cases_opened,
        row.released,
        row.inventory_complete_at_release,
        row.referred_before_release,
        row.referred,
        row.accepted,
        row.answered_debts,
        _decimal(row.median_days_to_first_answer),
        row.no_response_debts,
        row.unanswered_debts,
        _text(creditors),
        row.wgs_breaches,
        row.intake_within_10_working_days,
        row.referrals_with_first_conversation,
        row.first_conversation_within_wgs_term,
        row.wgs_term_passed_without_first_conversation,
        *(row.conditions_at_release[name].of(state) for name in BASISVOORWAARDEN for state in STATE_LABELS),
    ]


def figures_csv(figures: Figures) -> bytes:
    """One line per PI or municipality, then the total."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([GROUP_HEADER[figures.group_by], *HEADERS])
    for row in figures.rows:
        group = row.group
        writer.writerow(_cells(group.name if group else "", group.code if group else None, row))
    writer.writerow(_cells("Totaal", None, figures.total))
    return buffer.getvalue().encode("utf-8-sig")


def csv_filename(figures: Figures) -> str:
    """The download's name: what, grouped how, which period; never a person's name."""
    return f"kengetallen-{figures.group_by.value}-{figures.period.start}-tot-{figures.period.end}.csv"
