"""The basisvoorwaarden at release (issue 12 item 9): per PI and per municipality, of the cases released in the
period, how many had each condition geregeld, niet geregeld or onbekend. Conditions recorded through the real
service (set_release_conditions); docs/figures.md defines the figure and the table of values
(schulden/figures/conditions.py). The expected values are worked out by hand from it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from schulden.actors import UserActor
from schulden.cases.conditions import CHOICES, FIELDS, set_release_conditions
from schulden.cases.models import Case
from schulden.cases.services import fire_case_event
from schulden.figures.conditions import BASISVOORWAARDEN, STATE_LABELS
from schulden.figures.export import HEADERS, figures_csv
from schulden.figures.queries import ConditionCounts, FigureRow, Figures, Grouping, Period, outcome_figures
from schulden.organisations.models import Organisation
from schulden.processes import build_engine
from schulden.roles import Role
from tests.conftest import actor
from tests.factories import make_case, make_municipality, make_pi
from workflows import Engine

AMS = ZoneInfo("Europe/Amsterdam")
ADMIN = UserActor(user_id=1, role=Role.ADMIN)
COUNSELLOR = UserActor(user_id=2, role=Role.COUNSELLOR)
PI_STAFF = actor(Role.PI_STAFF.value, "user:pi")
FIRST_HALF = Period(date(2026, 1, 1), date(2026, 6, 30))

#: Every condition recorded, each in a state that counts as geregeld, some of them only just (an application made,
#: the insurance suspended, a place in the shelter).
FULL = {
    "id_document": "valid",
    "id_valid_until": date(2030, 1, 1),
    "bank_account": "basic_account",
    "income_after_release": "benefit_applied",
    "income_office": "gemeente Zwolle",
    "housing_after_release": "shelter",
    "postal_address": "Postbus 1, 8000 AA Zwolle",
    "health_insurance": "suspended",
    "care_arranged": "not_needed",
    "contact_after_release": "06-12345678",
}
#: Some recorded, every one of them niet geregeld; income and contact left empty.
PARTIAL = {
    "id_document": "none",
    "bank_account": "blocked",
    "housing_after_release": "none",
    "health_insurance": "ended",
    "care_arranged": "needed",
}


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def engine() -> Engine:
    return build_engine()


def _case(
    session: Session,
    engine: Engine,
    pi: Organisation,
    municipality: Organisation,
    *,
    expected: date | None = None,
    actual: date | None = None,
    conditions: dict[str, Any] | None = None,
    today: date = date(2026, 1, 15),
) -> Case:
    case = make_case(session, engine, pi=pi, municipality=municipality, expected_release=expected, now=at(2026, 1, 5))
    case.actual_release = actual
    session.flush()
    if conditions is not None:
        set_release_conditions(session, COUNSELLOR, case, conditions, today=today)
    return case


def _figures(session: Session, engine: Engine, group_by: Grouping) -> Figures:
    return outcome_figures(
        session, actor=ADMIN, period=FIRST_HALF, group_by=group_by, timezone=engine.timezone,
        calendar=engine.calendar, today=date(2026, 7, 15),
    )  # fmt: skip


def _counts(row: FigureRow) -> dict[str, tuple[int, int, int]]:
    return {
        name: (counts.arranged, counts.not_arranged, counts.unknown)
        for name, counts in row.conditions_at_release.items()
    }


def _by_name(figures: Figures) -> dict[str, FigureRow]:
    return {row.group.name: row for row in figures.rows if row.group is not None}


def _all(arranged: int, not_arranged: int, unknown: int, **other: tuple[int, int, int]) -> dict[str, Any]:
    return {name: other.get(name, (arranged, not_arranged, unknown)) for name in BASISVOORWAARDEN}


@pytest.fixture
def world(session: Session, engine: Engine) -> None:
    """PI Alfa: a case with everything recorded (Gemeente Een) and one with part of it (Gemeente Twee). PI Bravo,
    both in Gemeente Twee: a valid ID that expired four days before the early release, and nothing recorded at all.
    Outside the period: a release on 1 July, and a recorded release on 31 December 2025 whose expected day is in
    the period (the recorded day wins)."""
    alfa, bravo = make_pi(session, name="PI Alfa"), make_pi(session, name="PI Bravo")
    een, twee = make_municipality(session, name="Gemeente Een"), make_municipality(session, name="Gemeente Twee")
    # Released on the expected day, which nobody recorded as the release: it counts, as in "Vrijgelaten".
    _case(session, engine, alfa, een, expected=date(2026, 3, 31), conditions=FULL)
    # Released before the expected day, recorded as such.
    _case(session, engine, alfa, twee, expected=date(2026, 8, 1), actual=date(2026, 4, 10), conditions=PARTIAL)
    expired = _case(
        session, engine, bravo, twee, expected=date(2026, 9, 1),
        conditions={"id_document": "valid", "id_valid_until": date(2026, 5, 1)}, today=date(2026, 4, 1),
    )  # fmt: skip
    fire_case_event(session, engine, expired, "release_early", actor=PI_STAFF, now=at(2026, 5, 5))
    _case(session, engine, bravo, twee, expected=date(2026, 6, 30))
    _case(session, engine, alfa, een, expected=date(2026, 7, 1), conditions=FULL)
    _case(session, engine, alfa, een, expected=date(2026, 2, 1), actual=date(2025, 12, 31), conditions=FULL)


@pytest.mark.usefixtures("world")
def test_conditions_at_release_per_pi(session: Session, engine: Engine) -> None:
    figures = _figures(session, engine, Grouping.PI)

    rows = _by_name(figures)
    assert rows["PI Alfa"].released == 2
    assert _counts(rows["PI Alfa"]) == _all(1, 1, 0, income_after_release=(1, 0, 1), contact_after_release=(1, 0, 1))
    # The expired ID is niet geregeld; everything else of PI Bravo's two cases is unknown.
    assert rows["PI Bravo"].released == 2
    assert _counts(rows["PI Bravo"]) == _all(0, 0, 2, id_document=(0, 1, 1))
    assert _counts(figures.total) == _all(
        1, 1, 2, id_document=(1, 2, 1), income_after_release=(1, 0, 3), contact_after_release=(1, 0, 3)
    )
    for row in [*figures.rows, figures.total]:
        for counts in row.conditions_at_release.values():
            assert counts.arranged + counts.not_arranged + counts.unknown == row.released


@pytest.mark.usefixtures("world")
def test_conditions_at_release_per_municipality(session: Session, engine: Engine) -> None:
    rows = _by_name(_figures(session, engine, Grouping.MUNICIPALITY))

    assert (rows["Gemeente Een"].released, _counts(rows["Gemeente Een"])) == (1, _all(1, 0, 0))
    assert rows["Gemeente Twee"].released == 3
    assert _counts(rows["Gemeente Twee"]) == _all(
        0, 1, 2, id_document=(0, 2, 1), income_after_release=(0, 0, 3), contact_after_release=(0, 0, 3)
    )


def test_a_valid_id_counts_up_to_its_last_day_and_an_application_counts(session: Session, engine: Engine) -> None:
    pi, municipality = make_pi(session), make_municipality(session)
    release = date(2026, 3, 31)
    _case(session, engine, pi, municipality, expected=release,
          conditions={"id_document": "valid", "id_valid_until": release})  # fmt: skip
    _case(session, engine, pi, municipality, expected=release, conditions={"id_document": "applied"})
    _case(session, engine, pi, municipality, expected=release, conditions={"id_document": "expired"})

    counts = _figures(session, engine, Grouping.PI).total.conditions_at_release["id_document"]

    assert counts == ConditionCounts(arranged=2, not_arranged=1, unknown=0)


@pytest.mark.usefixtures("world")
def test_the_csv_has_three_columns_per_condition(session: Session, engine: Engine) -> None:
    figures = _figures(session, engine, Grouping.PI)

    rows = list(csv.reader(io.StringIO(figures_csv(figures).decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert header == ["PI", *HEADERS]
    assert header[-21:] == [
        f"{label} {state}"
        for label in (
            "Identiteitsbewijs", "Bankrekening", "Inkomen", "Wonen", "Zorgverzekering", "Zorg en begeleiding",
            "Contact na vrijlating",
        )
        for state in ("geregeld", "niet geregeld", "onbekend")
    ]  # fmt: skip
    assert [row[0] for row in rows[1:]] == ["PI Alfa", "PI Bravo", "Totaal"]
    alfa = dict(zip(header, rows[1], strict=True))
    assert (alfa["Inkomen geregeld"], alfa["Inkomen niet geregeld"], alfa["Inkomen onbekend"]) == ("1", "0", "1")
    total = dict(zip(header, rows[-1], strict=True))
    assert total["Vrijgelaten in periode"] == "4"
    assert [total[f"Identiteitsbewijs {state}"] for state in STATE_LABELS.values()] == ["1", "2", "1"]


def test_the_table_names_every_value_a_condition_can_take() -> None:
    """A value added to a condition's choices must be placed as geregeld or niet geregeld here, not fall through
    to onbekend unnoticed."""
    for name, labels in CHOICES.items():
        values = BASISVOORWAARDEN[name].values
        assert values is not None
        assert set(values) == set(labels), name
    assert set(BASISVOORWAARDEN) == {*CHOICES, "contact_after_release"}
    assert set(BASISVOORWAARDEN) <= set(FIELDS)
