"""A real browser on the real server: Debian's chromium through Playwright, with axe-core checking WCAG 2.1 AA.

The app runs in a thread of this process on 127.0.0.1 (a werkzeug server on a free port); chromium is
/usr/bin/chromium from Debian (scripts/system-packages.sh installs it; `playwright install` is never run, it
would download a browser of its own). axe-core comes from node_modules, pinned in package-lock.json. It is evaluated
through the DevTools protocol rather than added as a <script> tag, so the page keeps its Content-Security-Policy
(no inline script) while it is checked, and a CSP violation would show as a console error. Screenshots of every
page go to test-output/web/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from schulden.actors import SYSTEM
from schulden.app import create_app
from schulden.roles import Role
from schulden.users.models import LoginAttempt
from schulden.users.services import create_user
from tests.conftest import make_settings
from tests.factories import make_pi

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "test-output" / "web"
PASSWORD = "browser-wachtwoord-1234"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _chromium() -> Path:
    """Debian's chromium; installed here through scripts/system-packages.sh when it is missing and we may."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run([str(ROOT / "scripts" / "system-packages.sh")], check=False, timeout=900)
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed and cannot be installed here (scripts/system-packages.sh)")
    return CHROMIUM


@pytest.fixture
def live_server(database: object, committed_url: str, committed: sessionmaker[Session]) -> Iterator[str]:
    """The app on a real HTTP server in a thread, with one casemanager to sign in as."""
    with committed() as session:
        pi = make_pi(session, name="PI Browser")
        create_user(
            session,
            actor=SYSTEM,
            username="browser_pi",
            display_name="Bram Browser",
            role=Role.PI_STAFF,
            password=PASSWORD,
            organisation=pi,
        )
        session.commit()
    app: Flask = create_app(make_settings(committed_url))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
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


class Visit:
    """One browser page: checks every page it lands on with axe and saves a screenshot."""

    def __init__(self, page: Any, axe_source: str) -> None:
        self.page = page
        self.axe_source = axe_source
        self.console_errors: list[str] = []
        self.broken_resources: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        page.on("response", self._response)

    def _console(self, msg: Any) -> None:
        # A page answered 422 or 429 on purpose is reported as "Failed to load resource"; _response sees
        # the resources that really failed.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.console_errors.append(msg.text)

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.broken_resources.append(f"{response.status} {response.url}")

    def check(self, name: str) -> None:
        """No WCAG 2.1 AA violation, no console error (a CSP violation is one); screenshot to test-output/."""
        OUTPUT.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
        self.page.evaluate(self.axe_source)
        result = self.page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            WCAG_21_AA,
        )
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
        ]
        assert violations == [], f"{name}: {violations}"
        assert result["passes"], f"{name}: axe checked nothing"
        assert self.console_errors == [], f"{name}: {self.console_errors}"
        assert self.broken_resources == [], f"{name}: {self.broken_resources}"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_login_and_mijn_werk_in_chromium_pass_axe(live_server: str) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
            page = context.new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))

            page.goto(f"{live_server}/")
            assert page.url == f"{live_server}/aanmelden"
            assert page.title() == "Aanmelden \N{EN DASH} Schuldroute"
            # The theme and our token mapping are applied: Noto Sans (or its fallback), not the browser's Times.
            font = page.evaluate("getComputedStyle(document.body).fontFamily")
            assert "Noto Sans" in font, font
            visit.check("01-aanmelden")

            # The skip link is the first stop for the keyboard.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Direct naar de inhoud"

            page.get_by_role("button", name="Aanmelden").click()
            page.wait_for_load_state()
            assert page.get_by_text("Vul uw gebruikersnaam in.").first.is_visible()
            assert page.get_by_label("Gebruikersnaam").get_attribute("aria-invalid") == "true"
            visit.check("02-aanmelden-fouten")

            page.get_by_label("Gebruikersnaam").fill("browser_pi")
            page.get_by_label("Wachtwoord").fill("niet-goed")
            page.get_by_role("button", name="Aanmelden").click()
            page.wait_for_load_state()
            assert page.get_by_text("Gebruikersnaam of wachtwoord onjuist.").is_visible()
            assert page.get_by_label("Gebruikersnaam").input_value() == "browser_pi"
            assert page.get_by_label("Wachtwoord").input_value() == ""
            visit.check("03-aanmelden-onjuist")

            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Aanmelden").click()
            page.wait_for_url(f"{live_server}/")
            assert page.get_by_role("heading", level=1).text_content() == "Mijn werk"
            assert page.get_by_text("Bram Browser").first.is_visible()
            visit.check("04-mijn-werk")

            page.get_by_role("button", name="Afmelden").click()
            page.wait_for_url(f"{live_server}/aanmelden")
            assert page.get_by_text("U bent afgemeld.").is_visible()
            visit.check("05-afgemeld")
            context.close()
        finally:
            browser.close()
