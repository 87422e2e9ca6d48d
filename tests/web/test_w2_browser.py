"""The intake wizard, the print batch, the referral and the municipality's inbox in Debian's chromium, each page
checked by axe-core for WCAG 2.1 AA, with no console error (a CSP violation is one) and a screenshot in
test-output/web/ (see tests/web/test_browser_smoke.py for the set-up)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schulden.cases.models import Case, Detainee
from schulden.referrals.models import Referral
from tests.conftest import SmtpServer
from tests.web.dates import fill_date
from tests.web.live import Live, demo_server, log_in, log_out
from tests.web.test_browser_smoke import AXE, Visit, _chromium


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    """The demo world on a real HTTP server; letters render in-process, mail goes to `smtp_server`."""
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        yield server


def _submit(page: Any, name: str) -> None:
    page.get_by_role("button", name=name).click()
    page.wait_for_load_state()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_intake_print_batch_referral_and_inbox_in_chromium_pass_axe(live: Live) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    with live.db() as s:
        demir = s.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "Demir"))
        referral_id = s.scalar(select(Referral.id))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
            page = context.new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))

            # The casemanager's intake, with an error at each step on the way.
            log_in(page, live, "pi.demo")
            page.get_by_role("link", name="Nieuwe intake").click()
            page.wait_for_load_state()
            assert page.get_by_role("link", name="Nieuwe intake").get_attribute("aria-current") == "page"
            visit.check("w2-01-intake-gedetineerde")
            page.get_by_label("Voornamen").fill("Fatima")
            _submit(page, "Volgende stap")
            assert page.get_by_label("Achternaam").get_attribute("aria-invalid") == "true"
            assert page.get_by_label("Voornamen").input_value() == "Fatima"
            visit.check("w2-02-intake-gedetineerde-fouten")
            page.get_by_label("Achternaam").fill("El Amrani")
            fill_date(page, "Geboortedatum", "1990-05-17")
            page.get_by_label("BSN").fill("000009878")
            _submit(page, "Volgende stap")
            visit.check("w2-03-intake-detentie")
            page.get_by_label("Soort detentie").select_option("prison_sentence")
            _submit(page, "Verder naar controleren")
            start = page.get_by_role("group", name="Begin detentie")
            assert start.get_by_label("Dag", exact=True).get_attribute("aria-invalid") == "true"
            visit.check("w2-04-intake-detentie-fouten")
            fill_date(page, "Begin detentie", live.today - timedelta(days=3))
            fill_date(page, "Verwachte vrijlating", live.today + timedelta(weeks=20))
            _submit(page, "Verder naar controleren")
            visit.check("w2-04b-intake-controleren")
            _submit(page, "Dossier openen")
            assert page.get_by_text("Het dossier is geopend.").is_visible()
            visit.check("w2-05-intake-toestemming")
            page.get_by_label("schuldeisers benaderen en saldo opvragen").check()
            _submit(page, "Toestemming vastleggen")
            assert page.get_by_text("De toestemming is vastgelegd.").is_visible()
            visit.check("w2-06-intake-schulden")
            page.get_by_label("Schuldeiser", exact=True).select_option(label="Centraal Justitieel Incassobureau (CJIB)")
            page.get_by_label("Bedrag (euro)").fill("veel")
            _submit(page, "Schuld toevoegen")
            assert page.get_by_label("Bedrag (euro)").input_value() == "veel"
            visit.check("w2-07-intake-schulden-fouten")
            page.get_by_label("Soort schuld").select_option("cjib_boete")
            page.get_by_label("Bedrag (euro)").fill("450,00")
            _submit(page, "Schuld toevoegen")
            assert page.get_by_role("cell", name="€\xa0450,00").is_visible()
            visit.check("w2-08-intake-schuld-toegevoegd")

            page.get_by_role("link", name="Printbatch").click()
            page.wait_for_load_state()
            visit.check("w2-09-printbatch")
            page.get_by_role("button", name="Printbatch van vandaag maken").first.click()
            page.wait_for_load_state()
            visit.check("w2-09b-printbatch-controleren")
            page.get_by_role("button", name=re.compile(r"^Printbatch maken")).click()
            page.wait_for_load_state()
            assert page.get_by_text("De printbatch van PI Zwolle is gemaakt").is_visible()
            visit.check("w2-10-printbatch-gemaakt")
            log_out(page, live)

            # A volunteer sees why the consent is not theirs.
            log_in(page, live, "vrijwilliger.demo")
            with live.db() as s:
                waiting = s.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "IJsselstein"))
            page.goto(f"{live.url}/intake/{waiting}/toestemming")
            assert page.get_by_text("Uw rol mag deze actie niet uitvoeren").is_visible()
            visit.check("w2-11-intake-toestemming-vrijwilliger")
            log_out(page, live)

            # The counsellor's referral page: not yet possible, and why.
            log_in(page, live, "schuldhulp.demo")
            page.goto(f"{live.url}/dossiers/{demir}/verwijzing")
            assert page.get_by_text("De verwijzing kan nog niet worden verstuurd").first.is_visible()
            visit.check("w2-12-verwijzing")
            log_out(page, live)

            # The municipality: inbox, referral, a wrong refusal, then the acceptance.
            log_in(page, live, "gemeente.demo")
            page.get_by_role("link", name="Inbox gemeente").click()
            page.wait_for_load_state()
            visit.check("w2-13-gemeente-inbox")
            page.get_by_role("link", name="Pieter de Vries").click()
            page.wait_for_load_state()
            assert page.get_by_role("link", name="Overdrachtsdossier 1 (PDF)").is_visible()
            visit.check("w2-14-gemeente-verwijzing")
            _submit(page, "Weigeren controleren")
            assert page.get_by_text("Controleer de invoer").is_visible()
            visit.check("w2-15-gemeente-weigeren-fouten")
            fill_date(page, "Datum eerste gesprek", live.today + timedelta(days=7))
            _submit(page, "Accepteren controleren")
            _submit(page, "Verwijzing accepteren")
            assert page.get_by_role("heading", name="Verwijzing geaccepteerd").is_visible()
            assert page.url.endswith(f"/gemeente/verwijzingen/{referral_id}/besluit")
            visit.check("w2-16-gemeente-geaccepteerd")
            context.close()
        finally:
            browser.close()
