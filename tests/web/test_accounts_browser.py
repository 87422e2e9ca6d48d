"""Staff accounts in chromium (docs/accounts.md): an administrator enrols two-step verification from the QR page,
signs in again with a TOTP code and with a recovery code, and creates an account whose user must choose a new
password at the first login. Every page passes axe (WCAG 2.1 AA) with the CSP in force; screenshots go to
test-output/web/ (tests/web/test_browser_smoke.py's Visit).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pyotp
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
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from workflows.store import utcnow

PASSWORD = "browser-beheer-wachtwoord"
NEW_USER_PASSWORD = "tijdelijk gekozen door beheer"
OWN_PASSWORD = "mijn eigen lange wachtwoord"


@pytest.fixture
def live(database: object, committed_url: str, committed: sessionmaker[Session]) -> Iterator[str]:
    with committed() as session:
        make_pi(session, name="PI Accounts")
        create_user(
            session, actor=SYSTEM, username="browser.beheer", display_name="Bea Beheer", role=Role.ADMIN,
            password=PASSWORD, organisation=None,
        )  # fmt: skip
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


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_totp_enrolment_sign_in_and_first_login_password_change_in_chromium(live: str) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
            page = context.new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))

            def sign_in(username: str, password: str) -> None:
                page.goto(f"{live}/aanmelden")
                page.get_by_label("Gebruikersnaam").fill(username)
                page.get_by_label("Wachtwoord").fill(password)
                page.get_by_role("button", name="Aanmelden").click()

            def sign_out() -> None:
                page.get_by_role("button", name="Afmelden").click()
                page.wait_for_url(f"{live}/aanmelden")

            # Enrol from Mijn account: the QR code is an image, the key is there to type over.
            sign_in("browser.beheer", PASSWORD)
            page.wait_for_url(f"{live}/")
            page.get_by_role("link", name="Mijn account").click()
            visit.check("accounts-01-mijn-account")
            page.get_by_role("link", name="Tweestapsverificatie instellen").click()
            qr = page.get_by_role("img", name="QR-code om Schuldroute aan uw authenticator-app toe te voegen")
            assert qr.evaluate("img => img.naturalWidth") > 100  # the data: URL rendered (the CSP let it in)
            visit.check("accounts-02-tweestaps-instellen")
            secret = page.locator("#totp-sleutel").inner_text().replace(" ", "")
            page.get_by_label("Code uit de app").fill("000000")
            page.get_by_role("button", name="Instellen").click()
            assert page.get_by_text("De code is onjuist of al gebruikt.").first.is_visible()
            visit.check("accounts-03-tweestaps-fout")
            # The code of the previous 30 seconds: the current one stays unused for the sign-in below.
            page.get_by_label("Code uit de app").fill(pyotp.TOTP(secret).at(utcnow() - timedelta(seconds=30)))
            page.get_by_role("button", name="Instellen").click()
            page.get_by_role("heading", name="Tweestapsverificatie is ingesteld").wait_for()
            codes = page.locator("code.sr-recovery-code").all_inner_texts()
            assert len(codes) == 10
            visit.check("accounts-04-herstelcodes")
            page.get_by_role("link", name="Ik heb de codes bewaard, verder").click()
            page.wait_for_url(f"{live}/")
            sign_out()

            # Password, then the code from the app.
            sign_in("browser.beheer", PASSWORD)
            page.wait_for_url(f"{live}/aanmelden/code")
            visit.check("accounts-05-code")
            page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
            page.get_by_role("button", name="Controleren").click()
            page.wait_for_url(f"{live}/")
            assert page.get_by_text("Bea Beheer", exact=True).is_visible()
            sign_out()

            # Password, then a recovery code.
            sign_in("browser.beheer", PASSWORD)
            page.wait_for_url(f"{live}/aanmelden/code")
            page.get_by_label("Code").fill(codes[0])
            page.get_by_role("button", name="Controleren").click()
            page.wait_for_url(f"{live}/")

            # Beheer: a new account under the password rule.
            page.goto(f"{live}/beheer/gebruikers")
            page.get_by_label("Gebruikersnaam").fill("browser.nieuw")
            page.get_by_label("Naam", exact=True).fill("Nina Nieuw")
            page.get_by_label("Rol").select_option("admin")
            page.get_by_label("Wachtwoord").fill("welkom123456")
            page.get_by_role("button", name="Gebruiker aanmaken").click()
            assert page.get_by_text("veelgebruikte wachtwoorden").first.is_visible()
            visit.check("accounts-06-beheer-wachtwoordregel")
            page.get_by_label("Wachtwoord").fill(NEW_USER_PASSWORD)
            page.get_by_role("button", name="Gebruiker aanmaken").click()
            page.get_by_text("Gebruiker browser.nieuw is aangemaakt.").wait_for()
            visit.check("accounts-07-beheer-gebruikers")
            sign_out()

            # The new user's first login: choose a password of their own before anything else.
            sign_in("browser.nieuw", NEW_USER_PASSWORD)
            page.wait_for_url(f"{live}/account/wachtwoord")
            page.goto(f"{live}/dossiers")
            assert page.url == f"{live}/account/wachtwoord"
            visit.check("accounts-08-wachtwoord-kiezen")
            page.get_by_label("Huidig wachtwoord").fill(NEW_USER_PASSWORD)
            page.get_by_label("Nieuw wachtwoord", exact=True).fill(OWN_PASSWORD)
            page.get_by_label("Nieuw wachtwoord nogmaals").fill(OWN_PASSWORD)
            page.get_by_role("button", name="Wachtwoord wijzigen").click()
            page.wait_for_url(f"{live}/")
            assert page.get_by_text("Uw wachtwoord is gewijzigd.").is_visible()
            visit.check("accounts-09-na-wijziging")
        finally:
            browser.close()
