"""Cijfers through the Flask test client on the demo world: the API's figures as tables, SVG charts and a CSV."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from schulden.actors import UserActor
from schulden.audit import AuditEntry
from schulden.cases.conditions import set_release_conditions
from schulden.cases.models import Case
from schulden.roles import Role
from schulden.web.figures import CHART_WIDTH, LABEL_WIDTH, VALUE_WIDTH, bar_chart
from tests.demo_world import DemoWorld
from tests.web.test_beheer import text


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


SPAN = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH


def _period(world: DemoWorld) -> dict[str, str]:
    engine = world.runtime.engine
    today: date = engine.clock().astimezone(engine.timezone).date()
    return {"from": (today - timedelta(days=365)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


def test_bars_scale_to_the_largest_value() -> None:
    chart = bar_chart("x", "X", "", [("A", 4), ("B", 2), ("C", 0), ("D", None)], "6")
    assert [bar.width for bar in chart.bars] == [SPAN, SPAN // 2, 0, 0]
    assert [bar.shown for bar in chart.bars] == ["4", "2", "0", "\N{EN DASH}"]
    assert bar_chart("m", "M", "", [("A", 2.5)], "2,5").bars[0].shown == "2,5"
    assert bar_chart("e", "E", "", [], "0").bars == []


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
    assert '<caption class="utrecht-table__caption">Dossiers geopend per PI</caption>' in page
    assert page.count('role="img"') == 13
    assert page.count('<title id="grafiek-') == 13
    assert 'class="sr-chart__bar"' in page
    assert "style=" not in page  # the CSP forbids style attributes: colours come from the stylesheet
    opened = re.search(r"Dossiers geopend</h3>\s*<p[^>]*>[^<]*Totaal: <strong>(\d+)</strong>", page)
    assert opened
    assert int(opened.group(1)) == 3
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
        label: [int(n) for n in re.findall(r'numeric-column">(\d+)</td>', cells)]
        for label, cells in re.findall(r'<th scope="row"[^>]*>([^<]+)</th>(.*?)</tr>', table, re.S)
    }
    # The total repeats PI Zwolle's row: the last match per state wins.
    assert rows == {
        "geregeld": [1, 0, 0, 1, 0, 0, 0],
        "niet geregeld": [0, 1, 0, 0, 0, 0, 0],
        "onbekend": [0, 0, 1, 0, 1, 1, 1],
    }
    assert "<strong>Wonen</strong>: geregeld bij \u2018eigen woning\u2019, " in page
    assert "niet geregeld bij \u2018geen woonplek\u2019." in page
    assert page.count('role="img"') == 13  # a table, no new chart


def test_default_period_and_dutch_errors(world: DemoWorld) -> None:
    client = world.client("gemeente.demo")
    page = text(client.get("/cijfers"))
    engine = world.runtime.engine
    today = engine.clock().astimezone(engine.timezone).date()
    assert f'value="{today.year}-01-01"' in page
    assert f'value="{today.isoformat()}"' in page

    response = client.get("/cijfers", query_string={"from": "2025-05-01", "to": "2025-04-01", "group_by": "pi"})
    assert response.status_code == 422
    page = text(response)
    assert "De einddatum ligt voor de begindatum." in page
    assert 'value="2025-05-01"' in page
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
