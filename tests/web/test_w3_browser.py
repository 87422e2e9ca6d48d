"""Beheer and Cijfers in Debian's chromium with axe-core: no WCAG 2.1 AA violation, no CSP error, a screenshot each.

Built on tests/web/test_browser_smoke.py (its Visit checks every page and saves the screenshot to test-output/web/).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from schulden.app import create_app
from schulden.demo import DEMO_PASSWORD, seed_demo
from schulden.http.ports import runtime
from schulden.users.models import LoginAttempt
from tests.conftest import make_settings
from tests.web.dates import fill_date, read_date
from tests.web.test_browser_smoke import AXE, Visit, _chromium


@pytest.fixture
def demo_server(database: object, committed_url: str, committed: sessionmaker[Session]) -> Iterator[str]:
    """The app with the demo world on a real HTTP server in a thread."""
    app: Flask = create_app(make_settings(committed_url))
    engine = runtime(app).engine
    today = engine.clock().astimezone(engine.timezone).date()
    with runtime(app).database.session() as session:
        seed_demo(session, engine, today=today)
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="w3-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with committed() as session:
            session.execute(delete(LoginAttempt))
            session.commit()


def _log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/aanmelden")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url(f"{base}/")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_beheer_and_cijfers_in_chromium_pass_axe(demo_server: str) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    base = demo_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
            page = context.new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))
            _log_in(page, base, "admin.demo")

            page.get_by_role("link", name="Beheer").first.click()
            page.wait_for_url(f"{base}/beheer")
            visit.check("w3-01-beheer")

            page.goto(f"{base}/beheer/gebruikers")
            page.get_by_role("button", name="Gebruiker aanmaken").click()
            page.wait_for_load_state()
            assert page.get_by_label("Rol").get_attribute("aria-invalid") == "true"
            assert page.get_by_label("Gebruikersnaam").get_attribute("aria-invalid") == "true"
            visit.check("w3-02-gebruikers-fouten")
            page.get_by_label("Gebruikersnaam").fill("nieuw.browser")
            page.get_by_label("Naam", exact=True).fill("Nieuwe Browser")
            page.get_by_label("Rol").select_option("admin")
            page.get_by_label("Wachtwoord").fill("browser-wachtwoord")
            page.get_by_role("button", name="Gebruiker aanmaken").click()
            page.wait_for_load_state()
            assert page.get_by_text("Gebruiker nieuw.browser is aangemaakt.").is_visible()
            visit.check("w3-03-gebruikers")

            page.goto(f"{base}/beheer/schuldeisers")
            visit.check("w3-04-schuldeisers")
            page.get_by_role("link", name="Woonstichting De Demo").click()
            page.wait_for_load_state()
            page.get_by_label("E-mailadres").fill("")
            page.get_by_role("button", name="Opslaan").click()
            page.wait_for_load_state()
            assert page.get_by_text("Vul een e-mailadres in", exact=False).first.is_visible()
            visit.check("w3-05-schuldeiser-fout")

            page.goto(f"{base}/beheer/sjablonen")
            visit.check("w3-06-sjablonen")
            page.get_by_role("link", name="L8").click()
            page.wait_for_load_state()
            visit.check("w3-07-sjabloon-l8")

            page.get_by_role("link", name="Cijfers").first.click()
            page.wait_for_load_state()
            # PIs side by side in one table per theme, percentages next to counts (issue 13).
            assert page.get_by_role("table", name="Percentages per PI").is_visible()
            visit.check("w3-08-cijfers")

            # De Vries leaves in three weeks: the basisvoorwaarden table, with axe, and on a phone's width.
            today = read_date(page, "Tot en met")
            page.goto(f"{base}/cijfers?from={today}&to={today + timedelta(days=30)}&group_by=pi")
            assert page.get_by_role("table", name="Basisvoorwaarden bij vrijlating per PI").is_visible()
            visit.check("w3-08b-cijfers-basisvoorwaarden")
            page.set_viewport_size({"width": 375, "height": 800})
            # The wide table scrolls inside its region; the page itself never scrolls sideways.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            visit.check("w3-08c-cijfers-375")
            page.set_viewport_size({"width": 1280, "height": 800})

            page.get_by_role("radio", name="Gemeente").check()
            start = read_date(page, "Van")
            fill_date(page, "Tot en met", start)
            fill_date(page, "Van", start + timedelta(days=3))
            page.get_by_role("button", name="Toon cijfers").click()
            page.wait_for_load_state()
            assert page.get_by_text("De einddatum ligt voor de begindatum.").first.is_visible()
            visit.check("w3-09-cijfers-fout")
            context.close()
        finally:
            browser.close()
