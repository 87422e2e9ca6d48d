"""Beheer and Cijfers as an administrator clicks through them in Debian's chromium (issue 13, item 9; ux.md).

At 1280 and 375 px: the users page with its grouped organisation list and its errors, disabling a user through the
check page ("Wijzigen" goes back, the confirmation after), a letter text changed, previewed, saved, compared and put
back, a failed delivery put right on the municipality's page and sent again, and Cijfers' comparison tables.
Every page passes axe (WCAG 2.1 AA), has no CSP error, never scrolls sideways, and is saved as a screenshot in
test-output/web/ (tests/web/test_browser_smoke.py's Visit).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schulden.letters.models import LetterTextVersion
from schulden.letters.templates import use_stored_texts
from schulden.users.models import User
from tests.conftest import SmtpServer
from tests.web.live import Live, demo_server, log_in
from tests.web.test_browser_smoke import AXE, Visit, _chromium


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        yield server
    use_stored_texts({}, None)  # the server ran in this process: forget its stored letter texts


def _look(visit: Visit, name: str) -> None:
    """axe, console and screenshot (Visit.check), and no sideways scrolling of the page itself."""
    page = visit.page
    wide, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    culprits = page.evaluate(
        "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1"
        " && !(e.parentElement && e.parentElement.closest('.sr-table-container')))"
        ".slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ':' + e.getBoundingClientRect().right)",
        inner,
    )
    assert wide <= inner, f"{name}: the page scrolls sideways ({wide} > {inner}): {culprits}"
    visit.check(name)


def _submit(page: Any, name: str) -> None:
    page.get_by_role("button", name=name).click()
    page.wait_for_load_state()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("width", [1280, 375])
def test_an_administrator_works_through_beheer_and_cijfers(live: Live, width: int) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    shot = f"admin-{width}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": width, "height": 900})
            page = context.new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))
            log_in(page, live, "admin.demo")
            page.goto(f"{live.url}/beheer")
            assert page.get_by_text("die wijzigt u hier in de browser").is_visible()
            _look(visit, f"{shot}-01-beheer")

            # Users: the organisations in headed groups, PIs first, municipalities last.
            page.goto(f"{live.url}/beheer/gebruikers")
            groups = page.locator("#veld-organisation optgroup").evaluate_all("gs => gs.map(g => g.label)")
            assert groups[0] == "PI's"
            assert groups[-1] == "Gemeenten"
            _look(visit, f"{shot}-02-gebruikers")
            _submit(page, "Gebruiker aanmaken")
            assert page.title().startswith("Fout: ")
            summary = page.locator(".sr-error-summary").inner_text()
            assert "Kies een rol." in summary
            assert "Gebruikersnaam:" not in summary  # each label said once
            _look(visit, f"{shot}-03-gebruikers-fouten")

            # Disabling: the check page, "Wijzigen" back to the list, then the confirmation.
            page.get_by_role("link", name="Uitschakelen vrijwilliger.demo").click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", name="Controleer: gebruiker uitschakelen").is_visible()
            assert page.get_by_text("vrijwilliger.demo kan niet meer aanmelden.").is_visible()
            _look(visit, f"{shot}-04-uitschakelen-controleren")
            page.get_by_role("link", name="Wijzigen gebruikersnaam").click()
            page.wait_for_load_state()
            assert page.url.endswith("/beheer/gebruikers#gebruiker-" + page.url.split("#gebruiker-")[-1])
            page.get_by_role("link", name="Uitschakelen vrijwilliger.demo").click()
            page.wait_for_load_state()
            _submit(page, "Gebruiker vrijwilliger.demo uitschakelen")
            assert page.get_by_role("heading", name="Gebruiker uitgeschakeld").is_visible()
            _look(visit, f"{shot}-05-uitgeschakeld")
            with live.db() as session:
                assert session.scalar(select(User.active).where(User.username == "vrijwilliger.demo")) is False

            # A letter text: change the body, preview, save, compare, put the shipped text back.
            page.goto(f"{live.url}/beheer/sjablonen")
            _look(visit, f"{shot}-06-sjablonen")
            page.get_by_role("link", name="L2", exact=True).click()
            page.wait_for_load_state()
            _look(visit, f"{shot}-07-l2")
            body = page.get_by_label("Tekst van de brief")
            greeting = "Geachte heer, mevrouw,"
            added = f"{greeting}\n\nWij schrijven namens {{{{ client_name }}}}."
            body.fill(body.input_value().replace(greeting, added, 1))
            _submit(page, "Voorbeeld bekijken")
            assert page.get_by_text("Wij schrijven namens Jan de Voorbeeld.").is_visible()
            assert page.locator("ins", has_text="Wij schrijven namens {{ client_name }}.").is_visible()
            _look(visit, f"{shot}-08-voorbeeld")
            _submit(page, "Nieuwe versie opslaan")
            assert page.get_by_text("Versie 3 van L2 is opgeslagen").is_visible()
            assert page.get_by_role("heading", name="Wat er veranderde in versie 3").is_visible()
            _look(visit, f"{shot}-09-opgeslagen")
            page.get_by_role("link", name="Tekst en verschillen van versie 3").click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", name="Verschil met de meegeleverde tekst (versie 2)").is_visible()
            _look(visit, f"{shot}-10-versie-3")
            page.get_by_role("link", name="Terug naar de tekst in gebruik").click()
            page.wait_for_load_state()
            _submit(page, "Meegeleverde tekst terugzetten")
            assert page.get_by_text("terug in gebruik als versie 4").is_visible()
            _look(visit, f"{shot}-11-teruggezet")
            with live.db() as session:
                versions = session.scalars(select(LetterTextVersion.version).order_by(LetterTextVersion.id)).all()
                assert list(versions) == [3, 4]

            # A failed delivery: from Mijn werk to Kampen's page, its e-mail address set, the referral sent again.
            page.goto(f"{live.url}/")
            page.get_by_role("link", name="Aflevering instellen").first.click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", name="Kampen", exact=True).is_visible()
            assert page.get_by_text("zaaksysteem-instellingen van de gemeente zijn niet compleet").is_visible()
            _look(visit, f"{shot}-12-gemeente")
            page.get_by_label("Per e-mail aan het team schuldhulpverlening").check()
            _submit(page, "Opslaan")
            assert page.title().startswith("Fout: ")
            assert page.locator(".sr-error-summary").get_by_text("Vul het e-mailadres van het team in").is_visible()
            _look(visit, f"{shot}-13-gemeente-fout")
            page.get_by_label("E-mailadres van het team", exact=True).fill("schuldhulp@kampen.example")
            _submit(page, "Opslaan")
            assert page.get_by_text("De gegevens van Kampen zijn opgeslagen.").is_visible()
            _submit(page, "Mislukte verwijzingen opnieuw versturen")
            assert page.get_by_text("1 verwijzing wordt opnieuw verstuurd.").is_visible()
            assert page.get_by_text("Verwijzingen die niet zijn afgeleverd").count() == 0
            _look(visit, f"{shot}-14-gemeente-verstuurd")

            # Cijfers: the PIs compared in tables with bars, percentages next to the counts.
            page.goto(f"{live.url}/cijfers")
            assert page.get_by_role("table", name="Percentages per PI").is_visible()
            assert page.get_by_role("columnheader", name="Mediaan dagen tot eerste antwoord").is_visible()
            fill = page.evaluate("getComputedStyle(document.querySelector('.sr-chart__bar')).fill")
            assert fill not in ("", "rgb(0, 0, 0)"), fill
            _look(visit, f"{shot}-15-cijfers")
            context.close()
        finally:
            browser.close()
