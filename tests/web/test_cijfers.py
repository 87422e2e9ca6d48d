"""Cijfers through the Flask test client on the demo world: comparison tables with bars, and the CSV."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.cases.conditions import set_release_conditions
from schulden.cases.models import Case
from schulden.figures.queries import FigureRow
from schulden.roles import Role
from schulden.web.figures import BAR_WIDTH, SHARES, share_cell
from tests.demo_world import DemoWorld
from tests.web.dates import box_values, shown
from tests.web.test_beheer import text


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def _period(world: DemoWorld) -> dict[str, str]:
    engine = world.runtime.engine
    today: date = engine.clock().astimezone(engine.timezone).date()
    return {"from": (today - timedelta(days=365)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


def test_a_share_shows_its_percentage_with_the_counts_and_a_bar_against_a_hundred() -> None:
    intake = SHARES[0]
    assert share_cell(FigureRow(None, cases_opened=4, intake_within_10_working_days=3), intake).shown == (
        "75\N{NO-BREAK SPACE}% (3 van 4 geopend)"
    )
    assert share_cell(FigureRow(None, cases_opened=4, intake_within_10_working_days=3), intake).bar == 72
    third = share_cell(FigureRow(None, cases_opened=3, intake_within_10_working_days=1), intake)
    assert third.shown.startswith("33,3\N{NO-BREAK SPACE}%")
    assert third.bar == round(BAR_WIDTH / 3)
    assert share_cell(FigureRow(None), intake).shown == "\N{EN DASH} (0 geopend)"


def test_figures_page_shows_tables_charts_and_csv_link(world: DemoWorld) -> None:
    admin = world.client("pi.demo")
    period = _period(world)
    response = admin.get("/cijfers", query_string=period | {"group_by": "pi"})
    assert response.status_code == 200
    page = text(response)
    assert '<a class="utrecht-nav-list__link" href="/cijfers" aria-current="page">Cijfers</a>' in page
    # A PI's staff count only their PI's cases: PI Zwolle, never PI Lelystad.
    assert "PI Zwolle" in page
    assert "PI Lelystad" not in page
    # One table per kind of figure, a row per PI and one for all together, instead of a chart per figure.
    for caption in ("Percentages per PI", "Dossiers en verwijzingen per PI", "Antwoorden van schuldeisers per PI"):
        assert f'<caption class="utrecht-table__caption">{caption}</caption>' in page
    assert 'role="img"' not in page  # the bars are decoration beside the numbers, not pictures to describe
    assert 'class="sr-chart__bar"' in page
    assert "style=" not in page  # the CSP forbids style attributes: colours come from the stylesheet
    counts = page.split("Dossiers en verwijzingen per PI</caption>")[1].split("</table>")[0]
    together = counts.split("<tfoot")[1]
    assert "Alle PI&#39;s samen" in together
    assert re.findall(r'sr-compare__value">([^<]+)</span>', together)[0] == "3"  # Dossiers geopend
    # Percentages stand next to the counts they are made of.
    shares = page.split("Percentages per PI</caption>")[1].split("</table>")[0]
    assert re.search(r'sr-compare__value">\d+(,\d)?\xa0% \(\d+ van 3 geopend\)</span>', shares)
    # A median is a median, not a total.
    answers = page.split("Antwoorden van schuldeisers per PI</caption>")[1].split("</table>")[0]
    assert "Mediaan dagen tot eerste antwoord" in answers
    assert "Totaal" not in page.split("Percentages per PI</caption>")[1].split("cijfer-basisvoorwaarden")[0]
    assert "/cijfers/kengetallen.csv?from=" in page
    # Nobody in the demo was released in the past year: the section says so instead of a table of zeros.
    assert '<h3 class="utrecht-heading-3" id="cijfer-basisvoorwaarden">Basisvoorwaarden bij vrijlating</h3>' in page
    assert "Er zijn in deze periode geen dossiers vrijgelaten." in page
    with world.db() as s:
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "figures.read")) == 1

    csv = admin.get("/cijfers/kengetallen.csv", query_string=period | {"group_by": "municipality"})
    assert csv.status_code == 200
    assert csv.mimetype == "text/csv"
    assert csv.headers["Content-Disposition"].startswith('attachment; filename="kengetallen-municipality-')
    assert csv.data.startswith("\ufeffGemeente;Code;Dossiers geopend".encode())
    with world.db() as s:
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "figures.export")) == 1


def test_the_basisvoorwaarden_at_release_as_a_table(world: DemoWorld) -> None:
    """De Vries leaves in three weeks: part of his basisvoorwaarden is recorded. One row per state under the PI,
    a column per basisvoorwaarde, and the rules that say what counts as geregeld."""
    with world.db() as s:
        case = s.get_one(Case, world.case_id("Vries"))
        counsellor = UserActor(user_id=1, role=Role.COUNSELLOR)
        values = {"id_document": "applied", "bank_account": "blocked", "housing_after_release": "shelter"}
        set_release_conditions(s, counsellor, case, values, today=world.today)
        s.commit()
    period = {"from": world.today.isoformat(), "to": (world.today + timedelta(days=30)).isoformat()}

    page = text(world.client("pi.demo").get("/cijfers", query_string=period | {"group_by": "pi"}))

    assert '<caption class="utrecht-table__caption">Basisvoorwaarden bij vrijlating per PI</caption>' in page
    assert 'role="region" aria-label="Basisvoorwaarden bij vrijlating per PI"' in page
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', page.split("cijfer-basisvoorwaarden")[-1])
    assert headers[:9] == [
        "PI", "Stand", "Identiteitsbewijs", "Bankrekening", "Inkomen", "Wonen", "Zorgverzekering",
        "Zorg en begeleiding", "Contact na vrijlating",
    ]  # fmt: skip
    assert '<th scope="rowgroup" rowspan="3" class="utrecht-table__header-cell">PI Zwolle (1 vrijgelaten)</th>' in page
    table = page.split("Basisvoorwaarden bij vrijlating per PI</caption>")[1].split("</table>")[0]
    rows = {
        label: re.findall(r'numeric-column">([^<]+)</td>', cells)
        for label, cells in re.findall(r'<th scope="row"[^>]*>([^<]+)</th>(.*?)</tr>', table, re.S)
    }
    # The total repeats PI Zwolle's row: the last match per state wins. Each count with its share of the released.
    yes, no = "1 (100\xa0%)", "0 (0\xa0%)"
    assert rows == {
        "geregeld": [yes, no, no, yes, no, no, no],
        "niet geregeld": [no, yes, no, no, no, no, no],
        "onbekend": [no, no, yes, no, yes, yes, yes],
    }
    assert "Alle PI&#39;s samen (1 vrijgelaten)" in table
    assert "<strong>Wonen</strong>: geregeld bij \u2018eigen woning\u2019, " in page
    assert "niet geregeld bij \u2018geen woonplek\u2019." in page


def test_default_period_and_dutch_errors(world: DemoWorld) -> None:
    client = world.client("gemeente.demo")
    page = text(client.get("/cijfers"))
    engine = world.runtime.engine
    today = engine.clock().astimezone(engine.timezone).date()
    assert box_values(page, "from") == ("1", "1", str(today.year))
    assert box_values(page, "to") == shown(today)

    response = client.get("/cijfers", query_string={"from": "2025-05-01", "to": "2025-04-01", "group_by": "pi"})
    assert response.status_code == 422
    page = text(response)
    assert "De einddatum ligt voor de begindatum." in page
    assert box_values(page, "from") == ("1", "5", "2025")
    response = client.get("/cijfers", query_string={"from": "gisteren", "to": "2025-04-01", "group_by": "wijk"})
    assert response.status_code == 422
    assert 'href="#veld-from"' in text(response)
    assert 'href="#veld-group_by"' in text(response)
    assert client.get("/cijfers/kengetallen.csv", query_string={"from": "x", "to": "y"}).status_code == 422


def test_volunteers_do_not_read_figures(world: DemoWorld) -> None:
    volunteer = world.client("vrijwilliger.demo")
    assert volunteer.get("/cijfers").status_code == 403
    assert volunteer.get("/cijfers/kengetallen.csv").status_code == 403
    assert 'href="/cijfers"' not in text(volunteer.get("/"))
