"""The PI's casemanager and the volunteer do their day's work in Debian's chromium, at a desk (1280 px) and on a
phone (375 px), through the check pages: every page passes axe-core (WCAG 2.1 AA), none scrolls sideways, and each
step leaves a screenshot in test-output/web/role-<role>-<width>-NN-*.png (issue 13). The counsellor, municipality,
administrator and creditor stories are in test_story_browser.py, test_referral_browser.py, test_admin_browser.py
and test_reply_phone_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schulden.cases.models import Case, Detainee
from tests.conftest import SmtpServer
from tests.web.dates import fill_date
from tests.web.live import Live, demo_server, log_in
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from workflows import WorkflowInstance

CJIB = "Centraal Justitieel Incassobureau (CJIB)"
LANDLORD = "Woonstichting De Demo"


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        yield server


class Story:
    """A role's walk: each page checked by axe, measured for sideways scrolling, and photographed in order."""

    def __init__(self, page: Any, role: str, width: int) -> None:
        self.page = page
        self.visit = Visit(page, AXE.read_text(encoding="utf-8"))
        self.prefix = f"role-{role}-{width}"
        self.width = width
        self.step = 0

    def check(self, name: str) -> None:
        self.step += 1
        self.visit.check(f"{self.prefix}-{self.step:02d}-{name}")
        scroll = self.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= self.width, f"{name}: the page is {scroll} px wide at {self.width} px"

    def submit(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()
        self.page.wait_for_load_state()


def _browser(p: Any, width: int) -> tuple[Any, Any]:
    browser = p.chromium.launch(executable_path=str(_chromium()), headless=True, args=["--no-sandbox"])
    context = browser.new_context(locale="nl-NL", viewport={"width": width, "height": 900})
    return browser, context.new_page()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("width", [1280, 375])
def test_the_casemanager_takes_a_detainee_in_and_sends_the_post(live: Live, width: int) -> None:
    from playwright.sync_api import sync_playwright

    surname = f"Bakker{width}"
    with sync_playwright() as p:
        browser, page = _browser(p, width)
        try:
            story = Story(page, "pi", width)
            log_in(page, live, "pi.demo")
            assert page.locator("main").get_by_role("link").count() > 3, "Mijn werk shows work at the first login"
            story.check("mijn-werk")

            page.get_by_role("link", name="Nieuwe intake").first.click()
            page.wait_for_load_state()
            story.check("intake-gedetineerde")
            page.get_by_label("Voornamen").fill("Johan")
            page.get_by_label("Achternaam").fill(surname)
            fill_date(page, "Geboortedatum", "1979-06-15")
            story.submit("Volgende stap")
            story.check("intake-detentie")
            page.get_by_label("Soort detentie").select_option("pre_trial")
            fill_date(page, "Begin detentie", live.today - timedelta(days=3))
            story.submit("Verder naar controleren")
            # The check page: what was typed, nothing stored yet, and a way back.
            assert page.get_by_role("heading", name="Controleer de gegevens voordat u het dossier opent").is_visible()
            assert page.get_by_text("Voorlopige hechtenis").is_visible()
            story.check("intake-controleren")
            page.get_by_role("button", name="Wijzigen soort detentie").click()
            page.wait_for_load_state()
            page.get_by_label("Soort detentie").select_option("prison_sentence")
            fill_date(page, "Verwachte vrijlating", live.today + timedelta(weeks=12))
            story.submit("Verder naar controleren")
            assert page.get_by_text("Gevangenisstraf").is_visible()
            with live.db() as s:
                assert s.scalar(select(Detainee.id).where(Detainee.surname == surname)) is None
            story.submit("Dossier openen")
            assert page.get_by_text("Het dossier is geopend. Referentie: dossier").is_visible()
            case_id = int(re.search(r"/intake/(\d+)/", page.url).group(1))  # type: ignore[union-attr]

            # The consent: nothing ticked for the detainee; the casemanager ticks what was signed.
            boxes = page.locator('input[type="checkbox"][name^="purpose."]')
            assert boxes.count() >= 3
            assert all(not boxes.nth(i).is_checked() for i in range(boxes.count()))
            story.check("intake-toestemming")
            page.get_by_label("schuldeisers benaderen en saldo opvragen").check()
            story.submit("Toestemming vastleggen")
            assert page.get_by_text("De toestemming is vastgelegd.").is_visible()
            page.get_by_label("Schuldeiser", exact=True).select_option(label=LANDLORD)
            page.get_by_label("Soort schuld").select_option("huur")
            page.get_by_label("Bedrag (euro)").fill("1.250,00")
            story.submit("Schuld toevoegen")
            story.check("intake-schulden")
            page.get_by_role("link", name="Intake afronden").click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", name="Intake afgerond").is_visible()
            assert page.get_by_text(f"Dossier {case_id}").first.is_visible()
            assert page.get_by_role("heading", name="Wat er nu gebeurt").is_visible()
            story.check("intake-afgerond")

            # The day's post: the print batch, checked, then made.
            page.goto(f"{live.url}/printbatch")
            story.check("printbatch")
            make = page.get_by_role("button", name=re.compile(r"^Printbatch van vandaag maken"))
            if make.count():
                make.first.click()
                page.wait_for_load_state()
                assert page.get_by_role("heading", name="Wat in de printbatch komt").is_visible()
                story.check("printbatch-controleren")
                page.get_by_role("button", name=re.compile(r"^Printbatch maken")).click()
                page.wait_for_load_state()
                assert page.get_by_text("Referentie: printbatch").is_visible()
                story.check("printbatch-gemaakt")

            page.goto(f"{live.url}/dossiers/{case_id}")
            assert page.get_by_role("heading", level=1).text_content() == f"Johan {surname}"
            story.check("dossier")
        finally:
            browser.close()
    with live.db() as s:
        case = s.scalar(select(Case).join(Detainee).where(Detainee.surname == surname))
        assert case is not None
        assert s.get_one(WorkflowInstance, case.instance_id).state == "inventory"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_the_volunteer_records_an_intake_and_reports_a_threat(live: Live, width: int) -> None:
    from playwright.sync_api import sync_playwright

    surname = f"Visser{width}"
    with sync_playwright() as p:
        browser, page = _browser(p, width)
        try:
            story = Story(page, "vrijwilliger", width)
            log_in(page, live, "vrijwilliger.demo")
            story.check("mijn-werk")
            page.get_by_role("link", name="Nieuwe intake").first.click()
            page.wait_for_load_state()
            assert page.get_by_label("BSN").count() == 0  # a volunteer records no BSN
            page.get_by_label("Voornamen").fill("Els")
            page.get_by_label("Achternaam").fill(surname)
            fill_date(page, "Geboortedatum", "1990-01-31")
            story.submit("Volgende stap")
            page.get_by_label("Soort detentie").select_option("prison_sentence")
            fill_date(page, "Begin detentie", live.today - timedelta(days=20))
            fill_date(page, "Verwachte vrijlating", live.today + timedelta(weeks=30))
            story.submit("Verder naar controleren")
            assert page.get_by_text("BSN", exact=True).count() == 0
            story.check("intake-controleren")
            story.submit("Dossier openen")
            case_id = int(re.search(r"/intake/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
            # The consent is the casemanager's: the page says so and leads on to the debts.
            assert page.get_by_text("De casemanager legt de toestemming vast.").is_visible()
            story.check("intake-toestemming-niet-van-mij")
            page.get_by_role("link", name="Verder naar de schulden").click()
            page.wait_for_load_state()
            page.get_by_label("Schuldeiser", exact=True).select_option(label=CJIB)
            page.get_by_label("Soort schuld").select_option("cjib_boete")
            page.get_by_label("Bedrag (euro)").fill("390")
            story.submit("Schuld toevoegen")
            page.get_by_role("link", name="Intake afronden").click()
            page.wait_for_load_state()
            story.check("intake-afgerond")

            # A threat learnt later: the step page asks which, says what happens, then confirms.
            page.goto(f"{live.url}/dossiers/{case_id}")
            story.check("dossier")
            page.get_by_role("link", name="Dreiging melden").click()
            page.wait_for_url(f"{live.url}/dossiers/{case_id}/stap/flag_threat")
            assert page.get_by_text("de gemeente moet binnen 3 werkdagen beginnen").first.is_visible()
            story.submit("Dreiging melden: bevestigen")
            assert page.title().startswith("Fout: ")  # no kind chosen
            story.check("dreiging-fout")
            page.get_by_label("Soort dreiging").select_option("eviction")
            story.submit("Dreiging melden: bevestigen")
            page.wait_for_url(f"{live.url}/dossiers/{case_id}")
            assert page.get_by_text("Dreiging melden: uitgevoerd op").is_visible()
            assert page.get_by_text("Huisuitzetting: de gemeente moet binnen 3 werkdagen beginnen").is_visible()
            story.check("dossier-dringend")
        finally:
            browser.close()
    with live.db() as s:
        case = s.get_one(Case, case_id)
        assert (case.urgent, case.threat) == (True, "eviction")
