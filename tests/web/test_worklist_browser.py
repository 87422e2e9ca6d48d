"""Mijn werk of every demo user in Debian's chromium (issue 13 items 3 and 10): the first login shows work, the page
passes axe (WCAG 2.1 AA) at 1280 and 375 px and never scrolls sideways; screenshots in test-output/web/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SmtpServer
from tests.web.live import Live, demo_server, log_in, log_out
from tests.web.test_browser_smoke import AXE, Visit, _chromium

USERS = (
    "pi.demo",
    "vrijwilliger.demo",
    "schuldhulp.demo",
    "gemeente.demo",
    "gemeente_amsterdam.demo",
    "admin.demo",
    "partner.demo",
)


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        yield server


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("width", [1280, 375])
def test_every_demo_user_starts_with_work_on_a_page_that_fits(live: Live, width: int) -> None:
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
            for username in USERS:
                log_in(page, live, username)
                visit.check(f"mijn-werk-{width}-{username}")
                assert page.get_by_role("heading", level=1).text_content() == "Mijn werk"
                assert page.get_by_text("Er zijn op dit moment geen taken voor u.").count() == 0, username
                overview = page.get_by_role("list", name="Overzicht")
                assert overview.get_by_role("listitem").count() >= 1, username
                # Every kind has its heading with the count, and every task a link to where it is done.
                assert page.locator(".sr-task-group h2").count() >= 1, username
                assert page.locator(".sr-worklist__item a").count() >= 1, username
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{username} at {width} px scrolls sideways: {scroll} px wide"
                log_out(page, live)
        finally:
            browser.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_counsellor_goes_from_an_answer_to_read_to_the_answer(live: Live) -> None:
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    axe = AXE.read_text(encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="nl-NL", viewport={"width": 375, "height": 900}).new_page()
            visit = Visit(page, axe)
            log_in(page, live, "schuldhulp.demo")
            section = page.locator("section", has=page.locator("#taken-reply_to_review"))
            section.get_by_role("link", name="Antwoord lezen").first.click()
            page.wait_for_load_state()
            assert "/antwoorden/" in page.url
            visit.check("mijn-werk-375-antwoord-lezen")
        finally:
            browser.close()
