"""Cijfers: the outcome figures of schulden.figures as tables and server-side SVG bar charts, and their CSV.

The same read as GET /api/v1/figures (`read_figures`: period and grouping as FiguresArgs loads them), the same
scope (outcome_figures counts only the cases the user may see), the same roles and the same audit rows
(`figures.read`, `figures.export`). The charts are SVG elements in the page, drawn from numbers computed here: no
JavaScript and no style attributes (the CSP forbids both); each chart's text alternative is the table beside it.
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

blp = Blueprint("cijfers", __name__, url_prefix="/cijfers")

FORM_LABELS = {"from": "Van", "to": "Tot en met", "group_by": "Per"}
GROUPING_LABELS = {Grouping.PI.value: "PI", Grouping.MUNICIPALITY.value: "Gemeente"}

#: The figures shown, in order, with their Dutch name (as in the CSV) and a sentence on what is counted; the two
#: shares are percentages (UNITS) of counts the table "Intake en eerste gesprek" shows.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("cases_opened", "Dossiers geopend", "Dossiers die in de periode zijn geopend."),
    (
        "intake_share",
        "Intake binnen 10 werkdagen",
        "Van de dossiers geopend in de periode: het percentage dat uiterlijk op de 10e werkdag na de start van de "
        "detentie is geopend (weekenden en feestdagen tellen niet als werkdag).",
    ),
    ("released", "Vrijgelaten in periode", "Dossiers met de dag van vrijlating in de periode."),
    (
        "inventory_complete_at_release",
        "Inventarisatie compleet bij vrijlating",
        "Van de vrijgelatenen: de schuldeninventarisatie was compleet op de dag van vrijlating.",
    ),
    ("referred_before_release", "Verwezen voor vrijlating", "Van de vrijgelatenen: verwezen voor de vrijlating."),
    ("referred", "Verwezen in periode", "Dossiers die in de periode naar een gemeente zijn verwezen."),
    ("accepted", "Geaccepteerd door gemeente", "Verwijzingen die de gemeente in de periode heeft geaccepteerd."),
    (
        "answered_debts",
        "Schulden met eerste antwoord",
        "Schulden met een eerste antwoord in de periode zoals de geschiedenis van de schuld het toont: ook een "
        "stap die de schuldhulpverlener zelf zette, zoals 'Saldo ontvangen'.",
    ),
    (
        "median_days_to_first_answer",
        "Mediaan dagen tot eerste antwoord",
        "De mediaan van het aantal kalenderdagen van de eerste brief tot het eerste antwoord.",
    ),
    (
        "unanswered_debts",
        "Schulden zonder antwoord van schuldeiser",
        "Schulden waarover in de periode een brief aan de schuldeiser is verstuurd en waarop tot nu toe geen "
        "antwoord van de schuldeiser is vastgelegd: niet via de antwoordpagina en niet ingevoerd van post, telefoon "
        "of e-mail. Een stap als 'Saldo ontvangen' zonder vastgelegd antwoord telt niet als antwoord.",
    ),
    (
        "no_response_debts",
        "Schulden zonder reactie na twee herinneringen",
        "Schulden die in de periode na twee herinneringen op 'geen reactie' zijn gezet.",
    ),
    ("wgs_breaches", "Wgs-termijn overschreden", "Keren dat een wettelijke termijn van de Wgs is overschreden."),
    (
        "first_conversation_share",
        "Eerste gesprek binnen Wgs-termijn",
        "Van de verwijzingen waarvan de Wgs-termijn in de periode afloopt en waarvoor de gemeente de datum van het "
        "eerste gesprek heeft vastgelegd: het percentage met die datum op of voor de laatste dag van de termijn.",
    ),
)
PERCENT = " %"
UNITS = {"intake_share": PERCENT, "first_conversation_share": PERCENT}

# Chart geometry in SVG user units; the SVG scales to the width of the page (viewBox).
CHART_WIDTH = 640
LABEL_WIDTH = 220
VALUE_WIDTH = 60
BAR_HEIGHT = 22
ROW_HEIGHT = 30


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    shown: str  # the value as text, Dutch decimals
    y: int
    width: int  # bar length in user units; 0 for nothing or no value


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    description: str
    bars: list[Bar]
    total: str
    height: int
    bar_x: int
    value_x_offset: int


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


def bar_chart(
    key: str,
    title: str,
    description: str,
    rows: list[tuple[str, float | None]],
    total: str,
    *,
    unit: str = "",
    full: float | None = None,
) -> Chart:
    """Bars scaled to the largest value, or to `full` when given (a percentage: 100, so that 33 % is a third of
    the width and not all of it); a value of 0 or none draws no bar (the text still says it)."""
    largest = full or max((value for _, value in rows if value), default=0)
    span = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for index, (label, value) in enumerate(rows):
        width = round(span * value / largest) if value and largest else 0
        bars.append(Bar(label, value, _shown(value, unit), index * ROW_HEIGHT, width))
    return Chart(
        key=key,
        title=title,
        description=description,
        bars=bars,
        total=total,
        height=max(len(rows), 1) * ROW_HEIGHT,
        bar_x=LABEL_WIDTH,
        value_x_offset=LABEL_WIDTH + 6,
    )


def _group_name(row: FigureRow) -> str:
    if row.group is None:
        return "Totaal"
    return row.group.name or "Geen gemeente gekozen"


def charts_of(figures: Figures) -> list[Chart]:
    charts = []
    for key, title, description in FIGURES:
        unit = UNITS.get(key, "")
        rows = [(_group_name(row), getattr(row, key)) for row in figures.rows]
        total = _shown(getattr(figures.total, key), unit)
        charts.append(
            bar_chart(key, title, description, rows, total, unit=unit, full=100.0 if unit == PERCENT else None)
        )
    return charts


#: The columns of the table "Intake en eerste gesprek" after the group's name.
OUTCOME_HEADERS = (
    "Dossiers geopend",
    "Intake binnen 10 werkdagen",
    "Eerste gesprek vastgelegd",
    "Eerste gesprek binnen Wgs-termijn",
    "Wgs-termijn voorbij zonder eerste gesprek",
)


def _count_and_share(count: int, share: float | None) -> str:
    return str(count) if share is None else f"{count} ({_shown(share, PERCENT)})"


def outcome_cells(row: FigureRow) -> list[str]:
    """One row of the table "Intake en eerste gesprek": the counts, with the shares the charts show."""
    return [
        _group_name(row),
        str(row.cases_opened),
        _count_and_share(row.intake_within_10_working_days, row.intake_share),
        str(row.referrals_with_first_conversation),
        _count_and_share(row.first_conversation_within_wgs_term, row.first_conversation_share),
        str(row.wgs_term_passed_without_first_conversation),
    ]


#: The columns of the table "Basisvoorwaarden bij vrijlating" after the group and the state.
CONDITION_HEADERS = tuple(condition.label for condition in BASISVOORWAARDEN.values())


@dataclass(frozen=True)
class ConditionGroup:
    """One group in the table "Basisvoorwaarden bij vrijlating": a row per state, a count per basisvoorwaarde."""

    name: str
    released: int
    states: list[tuple[str, list[int]]]


def condition_group(row: FigureRow) -> ConditionGroup:
    states = [
        (label, [row.conditions_at_release[name].of(state) for name in BASISVOORWAARDEN])
        for state, label in STATE_LABELS.items()
    ]
    return ConditionGroup(_group_name(row), row.released, states)


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
    """The form's values, the loaded arguments (None on errors) and the Dutch errors per field."""
    today = runtime().engine.today()
    values = {key: request.args.get(key, "").strip() for key in ("from", "to", "group_by")}
    if not any(values.values()):
        values = _default_period(today)
    try:
        args: dict[str, Any] = FiguresArgs().load({k: v for k, v in values.items() if v})
        check_period(args["start"], args["end"])
    except ValidationError as exc:
        return values, None, field_messages(exc)
    except ValidationFailed as exc:
        return values, None, exc.errors
    return values, args, {}


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
    query: dict[str, Any] = dict(values)
    return render_template(
        "cijfers/index.html",
        values=values,
        errors={},
        labels=FORM_LABELS,
        groupings=list(GROUPING_LABELS.items()),
        figures=result,
        charts=charts_of(result),
        outcome_headers=OUTCOME_HEADERS,
        outcome_rows=[outcome_cells(row) for row in result.rows],
        outcome_total=outcome_cells(result.total),
        condition_headers=CONDITION_HEADERS,
        condition_groups=[condition_group(row) for row in result.rows],
        condition_total=condition_group(result.total),
        condition_rules=condition_rules(),
        group_header=GROUP_HEADER[result.group_by],
        group_word="PI" if result.group_by is Grouping.PI else "gemeente",
        group_name=_group_name,
        csv_url=url_for("cijfers.csv", **query),
        chart_width=CHART_WIDTH,
        label_width=LABEL_WIDTH,
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
