"""The template escape attempt of the security review, through the Beheer page in Debian's chromium (issue 10).

An administrator pastes `{{ cycler.__init__.__globals__.os.getuid() }}` into the body of L2 and saves: the page
refuses it in Dutch with the line and nothing is stored. Then a harmless change is previewed and saved. Every page
is checked with axe at 1280 px and 375 px (screenshots in test-output/web/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from schulden.letters.models import LetterTextVersion
from schulden.letters.templates import TEXTS_DIR
from tests.conftest import SmtpServer
from tests.web.live import Live, demo_server, log_in
from tests.web.test_browser_smoke import AXE, Visit, _chromium

ESCAPE = "{{ cycler.__init__.__globals__.os.getuid() }}"


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        yield server


def _l2_body_with(extra: str) -> str:
    """The body of the shipped L2 (what the page's box "Tekst van de brief" holds) with a sentence added."""
    body = (TEXTS_DIR / "L2.txt").read_text(encoding="utf-8").partition("\n---\n")[2]
    return body.replace("Geachte heer, mevrouw,", f"Geachte heer, mevrouw,\n\n{extra}", 1)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("width", [1280, 375])
def test_a_template_escape_through_the_admin_page_is_refused(live: Live, width: int) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    axe = AXE.read_text(encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": width, "height": 900})
            page = context.new_page()
            visit = Visit(page, axe)
            log_in(page, live, "admin.demo")
            page.goto(f"{live.url}/beheer/sjablonen")
            page.get_by_role("link", name="L2", exact=True).click()
            page.wait_for_load_state()
            visit.check(f"letter-texts-{width}-01-l2")

            # The attack: template code in the text, saved.
            page.get_by_label("Tekst van de brief").fill(_l2_body_with(ESCAPE))
            page.get_by_role("button", name="Nieuwe versie opslaan").click()
            page.wait_for_load_state()
            visit.check(f"letter-texts-{width}-02-refused")
            summary = page.get_by_role("alert")
            assert "De tekst klopt niet" in (summary.text_content() or "")
            assert re.search(r"Regel 3 van de tekst", page.content())  # the line in the box itself
            with live.db() as session:
                assert session.scalars(select(LetterTextVersion)).all() == []

            # A harmless change: preview first, then save.
            page.get_by_label("Tekst van de brief").fill(_l2_body_with("Wij schrijven namens {{ client_name }}."))
            page.get_by_role("button", name="Voorbeeld bekijken").click()
            page.wait_for_load_state()
            visit.check(f"letter-texts-{width}-03-preview")
            assert page.get_by_text("Wij schrijven namens Jan de Voorbeeld.").is_visible()
            page.get_by_role("button", name="Nieuwe versie opslaan").click()
            page.wait_for_load_state()
            visit.check(f"letter-texts-{width}-04-saved")
            assert page.get_by_text("Versie 3 van L2 is opgeslagen").is_visible()
        finally:
            browser.close()
