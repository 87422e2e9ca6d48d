"""Cijfers: the outcome figures of schulden.figures as tables that compare the PIs or municipalities, and their CSV.

The same read as GET /api/v1/figures (`read_figures`: period and grouping as FiguresArgs loads them), the same
scope (outcome_figures counts only the cases the user may see), the same roles and the same audit rows
(`figures.read`, `figures.export`). Each measure is a column with a row per group, and each number has a small bar
beside it (an SVG in the cell, hidden from screen readers: the number is the text), so the groups compare side by
side down a column; percentages stand next to the counts they are made of. No JavaScript and no style attributes
(the CSP forbids both): the bars' lengths are SVG attributes computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from schulden.cases.conditions import CHOICES
from schulden.errors import ValidationFailed
from schulden.figures.conditions import BASISVOORWAARDEN, STATE_LABELS
from schulden.figures.export import GROUP_HEADER, csv_filename, figures_csv
from schulden.figures.queries import FIGURE_READERS, FigureRow, Figures, Grouping, check_period, read_figures
from schulden.figures.schemas import FiguresArgs
from schulden.http.clients import client_address
from schulden.http.ports import runtime
from schulden.http.requests import db_session
from schulden.web.auth import current_actor, roles_required
from schulden.web.date_fields import DATE_PARTS, explain_empty_dates, read_dates, with_date_parts

blp = Blueprint("cijfers", __name__, url_prefix="/cijfers")

FORM_LABELS = {"from": "Van", "to": "Tot en met", "group_by": "Per"}
#: The period's two dates, each typed in three boxes (ux.md "Dates"); the CSV link carries them as ISO dates.
PERIOD = ("from", "to")
EMPTY_DATES = {
    "from": "Vul de eerste dag van de periode in, bijvoorbeeld 1 1 2026.",
    "to": "Vul de laatste dag van de periode in, bijvoorbeeld 31 12 2026.",
}
GROUPING_LABELS = {Grouping.PI.value: "PI", Grouping.MUNICIPALITY.value: "Gemeente"}

#: The figures shown, with their Dutch name (as in the CSV) and a sentence on what is counted.
DESCRIPTIONS: dict[str, str] = {
    "cases_opened": "Dossiers die in de periode zijn geopend.",
    "intake_share": "Van de dossiers geopend in de periode: geopend uiterlijk op de 10e werkdag na de start van de "
    "detentie (weekenden en feestdagen tellen niet als werkdag).",
    "released": "Dossiers met de dag van vrijlating in de periode.",
    "inventory_share": "Van de vrijgelatenen: de schuldeninventarisatie was compleet op de dag van vrijlating.",
    "referred_before_release_share": "Van de vrijgelatenen: verwezen naar een gemeente voor de vrijlating.",
    "referred": "Dossiers die in de periode naar een gemeente zijn verwezen.",
    "accepted": "Verwijzingen die de gemeente in de periode heeft geaccepteerd (ook van eerder verwezen dossiers).",
    "first_conversation_share": "Van de verwijzingen waarvan de Wgs-termijn in de periode afloopt en waarvoor de "
    "gemeente de datum van het eerste gesprek heeft vastgelegd: die datum ligt op of voor de laatste dag van de "
    "termijn.",
    "wgs_term_passed_without_first_conversation": "De verwijzing staat nog open, er is geen datum van het eerste "
    "gesprek en de Wgs-termijn is verstreken.",
    "wgs_breaches": "Keren dat een wettelijke termijn van de Wgs is overschreden.",
    "answered_debts": "Schulden met een eerste antwoord in de periode zoals de geschiedenis van de schuld het toont: "
    "ook een stap die de schuldhulpverlener zelf zette, zoals 'Saldo ontvangen'.",
    "median_days_to_first_answer": "De mediaan (de middelste waarde) van het aantal kalenderdagen van de eerste "
    "brief tot het eerste antwoord; bij 'samen' de mediaan over alle schulden, geen optelling.",
    "unanswered_debts": "Schulden waarover in de periode een brief aan de schuldeiser is verstuurd en waarop tot nu "
    "toe geen antwoord van de schuldeiser is vastgelegd: niet via de antwoordpagina en niet ingevoerd van post, "
    "telefoon of e-mail. Een stap als 'Saldo ontvangen' zonder vastgelegd antwoord telt niet als antwoord.",
    "no_response_debts": "Schulden die in de periode na twee herinneringen op 'geen reactie' zijn gezet.",
}
PERCENT = "\N{NO-BREAK SPACE}%"

# The inline bar in a table cell, in SVG user units: the whole width is 100 % or the column's largest count.
BAR_WIDTH = 96
BAR_HEIGHT = 10


@dataclass(frozen=True)
class Share:
    """A percentage measure: `part` of `whole` (FigureRow attributes); the table shows both counts."""

    key: str
    title: str
    part: str
    whole: str
    whole_words: str  # "van de geopende dossiers", read after the count of the whole


#: The percentages compared per PI or municipality, all on one scale of 0 to 100 %.
SHARES: tuple[Share, ...] = (
    Share("intake_share", "Intake binnen 10 werkdagen", "intake_within_10_working_days", "cases_opened", "geopend"),
    Share("inventory_share", "Inventarisatie compleet bij vrijlating", "inventory_complete_at_release", "released",
          "vrijgelaten"),
    Share("referred_before_release_share", "Verwezen voor vrijlating", "referred_before_release", "released",
          "vrijgelaten"),
    Share("first_conversation_share", "Eerste gesprek binnen Wgs-termijn", "first_conversation_within_wgs_term",
          "referrals_with_first_conversation", "met vastgelegd gesprek"),
)  # fmt: skip


@dataclass(frozen=True)
class Count:
    key: str
    title: str
    median: bool = False  # a median, not a count: "samen" is the median over everything, and no bar


#: The counts compared per PI or municipality, in two tables.
CASE_COUNTS: tuple[Count, ...] = (
    Count("cases_opened", "Dossiers geopend"),
    Count("released", "Vrijgelaten in periode"),
    Count("referred", "Verwezen in periode"),
    Count("accepted", "Geaccepteerd door gemeente"),
    Count("wgs_term_passed_without_first_conversation", "Wgs-termijn voorbij zonder eerste gesprek"),
    Count("wgs_breaches", "Wgs-termijn overschreden"),
)
ANSWER_COUNTS: tuple[Count, ...] = (
    Count("answered_debts", "Schulden met eerste antwoord"),
    Count("median_days_to_first_answer", "Mediaan dagen tot eerste antwoord", median=True),
    Count("unanswered_debts", "Schulden zonder antwoord van schuldeiser"),
    Count("no_response_debts", "Schulden zonder reactie na twee herinneringen"),
)


@dataclass(frozen=True)
class Cell:
    """One number in a comparison table: the text, and the bar's length (None: no bar, e.g. a median)."""

    shown: str
    bar: int | None = None


@dataclass(frozen=True)
class Comparison:
    """A table that compares the groups side by side: a row per group, a column per measure, bars in the cells."""

    key: str
    caption: str
    headers: list[str]
    rows: list[tuple[str, list[Cell]]]
    footer: tuple[str, list[Cell]]


def field_messages(exc: ValidationError) -> dict[str, list[str]]:
    """marshmallow's messages of a flat schema as the pages' errors: field -> Dutch messages."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in messages.items()}


def _shown(value: float | None, unit: str = "") -> str:
    if value is None:
        return "\N{EN DASH}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}".replace(".", ",") + unit
    return str(int(value)) + unit


def _bar(value: float | None, full: float) -> int:
    """The bar's length for `value` on a scale where `full` is the whole width; at least 1 for any value above 0."""
    if not value or not full:
        return 0
    return max(1, round(BAR_WIDTH * min(value, full) / full))


def share_cell(row: FigureRow, share: Share) -> Cell:
    """'75 % (3 van 4 geopend)': the percentage first, then the counts it is made of; a dash without any."""
    part, whole = int(getattr(row, share.part)), int(getattr(row, share.whole))
    if not whole:
        return Cell(f"\N{EN DASH} (0 {share.whole_words})", 0)
    percentage = 100 * part / whole
    return Cell(
        f"{_shown(round(percentage, 1), PERCENT)} ({part} van {whole} {share.whole_words})", _bar(percentage, 100)
    )


def _group_name(row: FigureRow) -> str:
    if row.group is None:
        return "Totaal"
    return row.group.name or "Geen gemeente gekozen"


def together(group_by: Grouping) -> str:
    """The label of the row of all groups together ("Alle PI's samen"): a sum for counts, not for a median."""
    return "Alle PI's samen" if group_by is Grouping.PI else "Alle gemeenten samen"


def share_comparison(figures: Figures, group_word: str) -> Comparison:
    return Comparison(
        key="percentages",
        caption=f"Percentages per {group_word}",
        headers=[share.title for share in SHARES],
        rows=[(_group_name(row), [share_cell(row, share) for share in SHARES]) for row in figures.rows],
        footer=(together(figures.group_by), [share_cell(figures.total, share) for share in SHARES]),
    )


def count_comparison(figures: Figures, key: str, caption: str, counts: tuple[Count, ...]) -> Comparison:
    """Counts per group, each bar scaled to the largest group of its column (the total row has none)."""
    largest = {count.key: max((getattr(row, count.key) or 0 for row in figures.rows), default=0) for count in counts}

    def cells(row: FigureRow, *, total: bool) -> list[Cell]:
        out = []
        for count in counts:
            value = getattr(row, count.key)
            unit = " dagen" if count.median and value is not None else ""
            bar = None if count.median or total else _bar(value, largest[count.key])
            out.append(Cell(_shown(value, unit), bar))
        return out

    return Comparison(
        key=key,
        caption=caption,
        headers=[count.title for count in counts],
        rows=[(_group_name(row), cells(row, total=False)) for row in figures.rows],
        footer=(together(figures.group_by), cells(figures.total, total=True)),
    )


def comparisons_of(figures: Figures, group_word: str) -> list[Comparison]:
    return [
        share_comparison(figures, group_word),
        count_comparison(figures, "dossiers", f"Dossiers en verwijzingen per {group_word}", CASE_COUNTS),
        count_comparison(figures, "antwoorden", f"Antwoorden van schuldeisers per {group_word}", ANSWER_COUNTS),
    ]


def measure_descriptions() -> list[tuple[str, str]]:
    """What each column counts, in the order of the tables."""
    titles = [(share.key, share.title) for share in SHARES]
    titles += [(count.key, count.title) for count in CASE_COUNTS + ANSWER_COUNTS]
    return [(title, DESCRIPTIONS[key]) for key, title in titles]


#: The columns of the table "Basisvoorwaarden bij vrijlating" after the group and the state.
CONDITION_HEADERS = tuple(condition.label for condition in BASISVOORWAARDEN.values())


@dataclass(frozen=True)
class ConditionGroup:
    """One group in the table "Basisvoorwaarden bij vrijlating": a row per state, per basisvoorwaarde the count
    with its percentage of the group's released cases ("2 (40 %)")."""

    name: str
    released: int
    states: list[tuple[str, list[str]]]


def _count_with_share(count: int, whole: int) -> str:
    return f"{count} ({_shown(round(100 * count / whole, 1), PERCENT)})" if whole else str(count)


def condition_group(row: FigureRow, name: str | None = None) -> ConditionGroup:
    states = [
        (label, [_count_with_share(row.conditions_at_release[key].of(state), row.released) for key in BASISVOORWAARDEN])
        for state, label in STATE_LABELS.items()
    ]
    return ConditionGroup(name or _group_name(row), row.released, states)


def condition_rules() -> list[tuple[str, str]]:
    """Per basisvoorwaarde, in Dutch, which recorded values count as geregeld and which as niet geregeld: the
    table of schulden.figures.conditions, with the labels the form shows."""
    rules = []
    for name, condition in BASISVOORWAARDEN.items():
        if condition.values is None:
            rules.append((condition.label, condition.note))
            continue
        labels = CHOICES[name]
        arranged = _either([labels[value] for value, ok in condition.values.items() if ok])
        missing = _either([labels[value] for value, ok in condition.values.items() if not ok])
        sentence = f"geregeld bij {arranged}; niet geregeld bij {missing}."
        rules.append((condition.label, f"{sentence} {condition.note}".strip()))
    return rules


def _either(values: list[str]) -> str:
    """'a', 'b' of 'c': the form's labels quoted, so that the value "geregeld" reads as a value."""
    quoted = [f"\N{LEFT SINGLE QUOTATION MARK}{value}\N{RIGHT SINGLE QUOTATION MARK}" for value in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " of " + quoted[-1]


def _default_period(today: date) -> dict[str, str]:
    """This calendar year up to today: what a manager asks for first."""
    return {"from": date(today.year, 1, 1).isoformat(), "to": today.isoformat(), "group_by": Grouping.PI.value}


def _read_query() -> tuple[dict[str, str], dict[str, Any] | None, dict[str, list[str]]]:
    """The form's values (the period's ISO dates and their boxes), the loaded arguments (None on errors) and the Dutch
    errors per field."""
    today = runtime().engine.today()
    boxes = [f"{name}-{part}" for name in PERIOD for part in DATE_PARTS]
    if not any(request.args.get(key, "").strip() for key in (*PERIOD, "group_by", *boxes)):
        return with_date_parts(_default_period(today), PERIOD), *_load(_default_period(today))
    dates, date_errors = read_dates(request.args, PERIOD)
    values = {"group_by": request.args.get("group_by", "").strip()} | dates
    args, errors = _load(values)
    if date_errors:  # a date's own message replaces the schema's "verplicht"
        return values, None, {**errors, **date_errors}
    return values, args, explain_empty_dates(errors, values, EMPTY_DATES)


def _load(values: dict[str, str]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """FiguresArgs and the period's rules on the form's values: the arguments, or None and the errors."""
    try:
        args: dict[str, Any] = FiguresArgs().load({k: values[k] for k in (*PERIOD, "group_by") if values.get(k)})
        check_period(args["start"], args["end"])
    except ValidationError as exc:
        return None, field_messages(exc)
    except ValidationFailed as exc:
        return None, exc.errors
    return args, {}


def _read(*, export: bool) -> tuple[dict[str, str], dict[str, list[str]], Figures | None]:
    """The form's values, its errors, and the figures when the form is valid (the read is logged and committed)."""
    values, args, errors = _read_query()
    if args is None:
        return values, errors, None
    db = db_session()
    engine = runtime().engine
    figures = read_figures(
        db,
        current_actor(),
        args,
        timezone=engine.timezone,
        calendar=engine.calendar,
        today=engine.today(),
        export=export,
        origin=client_address(),
    )
    db.commit()
    return values, errors, figures


def _form_again(values: dict[str, str], errors: dict[str, list[str]]) -> ResponseReturnValue:
    page = render_template(
        "cijfers/index.html",
        values=values,
        errors=errors,
        labels=FORM_LABELS,
        groupings=list(GROUPING_LABELS.items()),
        figures=None,
    )
    return page, 422


@blp.get("")
@roles_required(*FIGURE_READERS)
def index() -> ResponseReturnValue:
    values, errors, result = _read(export=False)
    if result is None:
        return _form_again(values, errors)
    # The CSV link carries the period as ISO dates, not as its boxes.
    query: dict[str, Any] = {key: values[key] for key in (*PERIOD, "group_by") if values.get(key)}
    group_word = "PI" if result.group_by is Grouping.PI else "gemeente"
    return render_template(
        "cijfers/index.html",
        values=values,
        errors={},
        labels=FORM_LABELS,
        groupings=list(GROUPING_LABELS.items()),
        figures=result,
        comparisons=comparisons_of(result, group_word),
        descriptions=measure_descriptions(),
        condition_headers=CONDITION_HEADERS,
        condition_groups=[condition_group(row) for row in result.rows],
        condition_total=condition_group(result.total, together(result.group_by)),
        condition_rules=condition_rules(),
        group_header=GROUP_HEADER[result.group_by],
        group_word=group_word,
        group_name=_group_name,
        csv_url=url_for("cijfers.csv", **query),
        bar_width=BAR_WIDTH,
        bar_height=BAR_HEIGHT,
    )


@blp.get("/kengetallen.csv")
@roles_required(*FIGURE_READERS)
def csv() -> ResponseReturnValue:
    values, errors, result = _read(export=True)
    if result is None:
        return _form_again(values, errors)
    response = Response(figures_csv(result), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{csv_filename(result)}"'
    response.headers["Cache-Control"] = "no-store"
    return response
