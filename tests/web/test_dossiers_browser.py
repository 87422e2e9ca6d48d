"""Mijn werk, the case list and the case page in Debian's chromium, checked with axe-core (WCAG 2.1 AA) on every
page, with a screenshot of each in test-output/web/ (see tests/web/test_browser_smoke.py for the set-up)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from integrations import runtime as runtime_module
from schulden.app import create_app
from schulden.cases.models import Case, Detainee
from schulden.demo import seed_demo
from schulden.http.ports import runtime
from schulden.users.models import LoginAttempt
from tests.conftest import make_settings
from tests.web.test_browser_smoke import AXE, Visit, _chromium

PASSWORD = "demo"


@pytest.fixture
def demo_server(
    database: object, committed_url: str, committed: sessionmaker[Session], tmp_path: Path
) -> Iterator[tuple[str, int]]:
    """The app with the demo world on a real HTTP server in a thread; Demir's release moved within six weeks so
    that Mijn werk has a task. Yields the base URL and Demir's case id."""
    app: Flask = create_app(make_settings(committed_url, letter_store=tmp_path / "store"))
    engine = runtime(app).engine
    today = engine.clock().astimezone(engine.timezone).date()
    with runtime(app).database.session() as session:
        seed_demo(session, engine, today=today)
        session.commit()
        demir = session.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "Demir"))
        assert demir is not None
        session.execute(update(Case).where(Case.id == demir).values(expected_release=today + timedelta(weeks=2)))
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", demir
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        runtime_module._current = None
        with committed() as session:
            session.execute(delete(LoginAttempt))
            session.commit()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_mijn_werk_case_list_and_case_page_pass_axe(demo_server: tuple[str, int]) -> None:
    base, demir = demo_server
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

            page.goto(f"{base}/aanmelden")
            page.get_by_label("Gebruikersnaam").fill("pi.demo")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Aanmelden").click()
            page.wait_for_url(f"{base}/")
            assert page.get_by_role("heading", level=2, name="Vrijlating binnen 6 weken zonder verwijzing (1)")
            visit.check("dossiers-01-mijn-werk")

            page.get_by_role("link", name="Ayşe Demir").click()
            page.wait_for_url(f"{base}/dossiers/{demir}")
            assert page.get_by_role("heading", level=1).text_content() == "Ayşe Demir"
            assert page.get_by_text(f"Dossier {demir} · geboren").is_visible()
            assert (page.locator('[aria-current="step"]').text_content() or "").strip().startswith("Inventarisatie")
            visit.check("dossiers-02-dossier")

            # Correcting the person (issue 15 part 2): the form, and a wrong BSN said at its field.
            page.get_by_role("link", name="Persoonsgegevens verbeteren").click()
            page.wait_for_url(f"{base}/dossiers/{demir}/persoonsgegevens")
            assert page.get_by_label("Achternaam").input_value() == "Demir"
            visit.check("dossiers-02a-persoonsgegevens")
            page.get_by_label("Nieuw BSN").fill("123456789")
            page.get_by_role("button", name="Verbetering opslaan").click()
            page.wait_for_load_state()
            assert page.title().startswith("Fout: ")
            assert page.get_by_text("Dit BSN klopt niet: de elfproef faalt.").first.is_visible()
            visit.check("dossiers-02b-persoonsgegevens-fout")
            page.goto(f"{base}/dossiers/{demir}")

            # An action that needs a reason opens its check page; sent without one, the reason field says why.
            page.get_by_role("link", name="Aanhouden").click()
            page.wait_for_url(f"{base}/dossiers/{demir}/stap/put_on_hold")
            visit.check("dossiers-03-aanhouden-controleren")
            page.get_by_role("button", name="Aanhouden: bevestigen").click()
            page.wait_for_load_state()
            assert page.get_by_text("Geef een reden op voor deze actie.").first.is_visible()
            assert page.title().startswith("Fout: ")
            visit.check("dossiers-03-actie-geweigerd")

            page.get_by_label("Reden", exact=True).fill("Gedetineerde in het ziekenhuis")
            page.get_by_role("button", name="Aanhouden: bevestigen").click()
            page.wait_for_url(f"{base}/dossiers/{demir}")
            assert page.get_by_text("Aanhouden: uitgevoerd op").is_visible()
            assert "Aangehouden" in (page.locator('[aria-current="step"]').text_content() or "")
            visit.check("dossiers-04-aangehouden")

            page.get_by_role("link", name="Dossiers").first.click()
            page.wait_for_url(f"{base}/dossiers")
            visit.check("dossiers-05-lijst")

            page.locator("summary", has_text="Filters").click()  # the filters are folded away from the results
            page.get_by_label("Status").select_option("on_hold")
            page.get_by_role("button", name="Filteren").click()
            page.wait_for_load_state()
            assert "state=on_hold" in page.url
            visit.check("dossiers-06-gefilterd")

            page.get_by_label("Achternaam begint met").fill("Dem")
            page.get_by_role("button", name="Zoeken").click()
            page.wait_for_load_state()
            assert "Dem" not in page.url
            assert page.get_by_role("link", name="Demir, Ayşe").is_visible()
            visit.check("dossiers-07-zoeken")

            page.goto(f"{base}/dossiers?release_after=2025-13-45")
            assert page.get_by_role("heading", name="Controleer de invoer").is_visible()
            visit.check("dossiers-08-filterfout")

            # The counsellor: another set of tasks and actions, on the referred case.
            page.get_by_role("button", name="Afmelden").click()
            page.wait_for_url(f"{base}/aanmelden")
            page.get_by_label("Gebruikersnaam").fill("schuldhulp.demo")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Aanmelden").click()
            page.wait_for_url(f"{base}/")
            visit.check("dossiers-09-mijn-werk-schuldhulp")
            page.goto(f"{base}/dossiers")
            page.get_by_role("link", name="Vries, de, Pieter").click()
            page.wait_for_load_state()
            assert "Verwezen" in (page.locator('[aria-current="step"]').text_content() or "")
            page.get_by_text("Nu niet mogelijk").click()  # the refused actions, with their reasons
            visit.check("dossiers-10-dossier-verwezen")
            context.close()
        finally:
            browser.close()
