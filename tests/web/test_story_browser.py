"""The whole story in Debian's chromium, every page checked by axe-core (WCAG 2.1 AA) with a screenshot in
test-output/web/ (see tests/web/test_browser_smoke.py for the set-up): the PI's intake (detainee, detention,
consent, two debts), the counsellor writing to the creditors, a creditor answering on the reply page with the code
on its letter, the inventory completed, the referral sent (delivered by e-mail to a local SMTP server), the
municipality accepting it and the outcome figures counting it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from schulden.cases.models import Case, Detainee
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.http.ports import runtime
from schulden.letters.models import Letter
from schulden.referrals.models import Referral
from tests.conftest import SmtpServer
from tests.web.dates import fill_date
from tests.web.live import Live, demo_server, log_in, log_out
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from workflows import WorkflowInstance

CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b")
BSN = "999993653"  # an RvIG test number (11-proef), not in the demo
CJIB = "Centraal Justitieel Incassobureau (CJIB)"
LANDLORD = "Woonstichting De Demo"


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    """The demo world on a real HTTP server; letters render in-process, mail goes to `smtp_server`."""
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        yield server


def _submit(page: Any, name: str, *, within: Any = None) -> None:
    (within or page).get_by_role("button", name=name).click()
    page.wait_for_load_state()


def _debt_actions(page: Any, creditor: str) -> Any:
    """The region of the case page with one debt's buttons."""
    return page.get_by_role("region", name=re.compile(re.escape(creditor)))


def _state(page: Any) -> str:
    return (page.locator('[aria-current="step"]').text_content() or "").strip()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_the_whole_story_in_chromium_passes_axe(live: Live, smtp_server: SmtpServer) -> None:
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    axe = AXE.read_text(encoding="utf-8")
    rt = runtime(live.app)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
            page = context.new_page()
            visit = Visit(page, axe)

            # 1. The PI's casemanager: the intake wizard.
            log_in(page, live, "pi.demo")
            visit.check("story-01-mijn-werk-pi")
            page.get_by_role("link", name="Nieuwe intake").click()
            page.wait_for_load_state()
            visit.check("story-02-intake-gedetineerde")
            page.get_by_label("Voornamen").fill("Sanne")
            page.get_by_label("Achternaam").fill("Verhoeven")
            fill_date(page, "Geboortedatum", "1988-02-29")
            page.get_by_label("BSN").fill(BSN)
            _submit(page, "Volgende stap")
            visit.check("story-03-intake-detentie")
            page.get_by_label("Soort detentie").select_option("prison_sentence")
            fill_date(page, "Begin detentie", live.today - timedelta(days=10))
            fill_date(page, "Verwachte vrijlating", live.today + timedelta(weeks=20))
            _submit(page, "Verder naar controleren")
            visit.check("story-03b-intake-controleren")
            _submit(page, "Dossier openen")
            assert page.get_by_text("Het dossier is geopend.").is_visible()
            case_id = int(re.search(r"/intake/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
            visit.check("story-04-intake-toestemming")
            page.get_by_label("schuldeisers benaderen en saldo opvragen").check()  # nothing is ticked in advance
            _submit(page, "Toestemming vastleggen")
            assert page.get_by_text("De toestemming is vastgelegd.").is_visible()
            visit.check("story-05-intake-schulden")
            page.get_by_label("Schuldeiser", exact=True).select_option(label=CJIB)
            page.get_by_label("Soort schuld").select_option("cjib_boete")
            page.get_by_label("Bedrag (euro)").fill("450,00")
            _submit(page, "Schuld toevoegen")
            assert page.get_by_role("cell", name="€\xa0450,00").is_visible()
            page.get_by_label("Schuldeiser", exact=True).select_option(label=LANDLORD)
            page.get_by_label("Soort schuld").select_option("huur")
            page.get_by_label("Bedrag (euro)").fill("1.250,00")
            _submit(page, "Schuld toevoegen")
            assert page.get_by_role("cell", name="€\xa01.250,00").is_visible()
            visit.check("story-06-intake-twee-schulden")
            log_out(page, live)

            # 2. The counsellor writes to both creditors; the letters render in-process after the commit.
            log_in(page, live, "schuldhulp.demo")
            page.goto(f"{live.url}/dossiers/{case_id}")
            assert _state(page).startswith("Inventarisatie")
            visit.check("story-07-dossier")
            page.get_by_role("link", name="Alle schuldeisers aanschrijven").first.click()
            page.wait_for_load_state()
            assert page.get_by_text(CJIB).first.is_visible()
            visit.check("story-07b-aanschrijven-controleren")
            _submit(page, "2 schuldeisers aanschrijven")
            assert page.get_by_text("Brieven gevraagd voor 2 schuldeisers").is_visible()
            visit.check("story-08-dossier-aangeschreven")
            with live.db() as s:
                letters = {
                    name: letter
                    for letter, name in s.execute(
                        select(Letter, Creditor.name)
                        .join(Debt, Debt.id == Letter.debt_id)
                        .join(Creditor, Creditor.id == Debt.creditor_id)
                        .where(Letter.case_id == case_id, Letter.letter_type == "L1")
                    ).all()
                }
                s.expunge_all()
            assert sorted(letters) == sorted([CJIB, LANDLORD]), letters
            landlord_letter = letters[LANDLORD]
            assert landlord_letter.storage_key, "the letter was rendered after the commit"
            pdf_link = page.get_by_role("link", name=f"Brief {landlord_letter.id} downloaden (PDF)")
            with page.expect_download() as download:
                pdf_link.click()
            pdf = Path(download.value.path()).read_bytes()
            assert pdf == rt.store.get(landlord_letter.storage_key)
            text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
            code = CODE.search(text)
            assert code, "the letter prints a reply code"

            # 3. The landlord answers on the reply page, in a browser of its own (no account, no session).
            creditor_context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 800})
            creditor_page = creditor_context.new_page()
            creditor_visit = Visit(creditor_page, axe)
            creditor_page.goto(f"{live.url}/antwoord")
            creditor_visit.check("story-09-antwoord-code")
            creditor_page.get_by_label("Antwoordcode").fill(code.group(1))
            _submit(creditor_page, "Verder")
            assert creditor_page.url == f"{live.url}/antwoord/brief"
            creditor_visit.check("story-10-antwoord-formulier")
            creditor_page.get_by_label("Hoofdsom").fill("1.310,75")
            peildatum = live.today - timedelta(days=1)
            creditor_page.locator("#veld-peildatum").fill(str(peildatum.day))
            creditor_page.locator("#veld-peildatum-maand").fill(str(peildatum.month))
            creditor_page.locator("#veld-peildatum-jaar").fill(str(peildatum.year))
            _submit(creditor_page, "Antwoord controleren")
            assert creditor_page.url == f"{live.url}/antwoord/controleer"
            creditor_visit.check("story-10b-antwoord-controleren")
            _submit(creditor_page, "Antwoord versturen")
            assert creditor_page.url == f"{live.url}/antwoord/bedankt"
            creditor_visit.check("story-11-antwoord-bedankt")
            creditor_context.close()

            # 4. The counsellor reads the answer and takes its amounts over (a check page first); the fine is
            # written off; the inventory completed, the referral can be sent at once.
            page.reload()
            answers = page.get_by_role("region", name="Antwoorden van schuldeisers")
            answers.get_by_role("link", name=LANDLORD, exact=True).click()
            page.wait_for_load_state()
            visit.check("story-12-antwoord")
            page.get_by_role("link", name="Bedragen overnemen").click()
            page.wait_for_load_state()
            visit.check("story-12b-bedragen-controleren")
            _submit(page, "Bedragen overnemen")
            page.goto(f"{live.url}/dossiers/{case_id}")
            fine = _debt_actions(page, CJIB)
            fine.get_by_role("link", name="Kwijtgescholden").click()
            page.wait_for_load_state()
            page.get_by_label("Reden", exact=True).fill("Kwijtgescholden na detentie (demo)")
            _submit(page, "Kwijtgescholden: bevestigen")
            assert page.get_by_text("Kwijtgescholden: uitgevoerd op").is_visible()
            _submit(page, "Inventarisatie afronden")
            assert page.get_by_text("Inventarisatie afronden: uitgevoerd op").is_visible()
            assert _state(page).startswith("Inventarisatie compleet")
            visit.check("story-13-inventarisatie-compleet")
            page.get_by_role("link", name="Verwijzing naar de gemeente").click()
            page.wait_for_url(f"{live.url}/dossiers/{case_id}/verwijzing")
            visit.check("story-15-verwijzing")
            page.get_by_label("Gemeente", exact=True).select_option(label="Zwolle")
            page.get_by_label("Reden van de keuze").fill("Gaat na de vrijlating bij familie in Zwolle wonen.")
            _submit(page, "Gemeente kiezen")
            visit.check("story-16-gemeente-gekozen")
            # The consent signed at intake could not name a municipality; the referral's own consent names Zwolle.
            _submit(page, "Toestemming voor Zwolle vastleggen")
            assert page.get_by_text("De toestemming voor de verwijzing is vastgelegd.").is_visible()
            _submit(page, "Verwijzing controleren")
            visit.check("story-17a-verwijzing-controleren")
            _submit(page, "Verwijzing versturen")
            assert page.get_by_role("heading", name="Verwijzing verstuurd").is_visible()
            visit.check("story-17-verwijzing-verstuurd")
            with live.db() as s:
                referral_id = s.scalar(select(Referral.id).where(Referral.case_id == case_id))
            assert referral_id is not None
            assert smtp_server.messages, "the referral was delivered by e-mail"
            log_out(page, live)

            # 5. The municipality accepts it with the date of the first conversation.
            log_in(page, live, "gemeente.demo")
            page.get_by_role("link", name="Inbox gemeente").click()
            page.wait_for_load_state()
            visit.check("story-18-gemeente-inbox")
            page.get_by_role("link", name="Sanne Verhoeven").click()
            page.wait_for_load_state()
            assert page.url.endswith(f"/gemeente/verwijzingen/{referral_id}")
            visit.check("story-19-gemeente-verwijzing")
            fill_date(page, "Datum eerste gesprek", live.today + timedelta(days=7))
            _submit(page, "Accepteren controleren")
            visit.check("story-19b-besluit-controleren")
            _submit(page, "Verwijzing accepteren")
            assert page.get_by_role("heading", name="Verwijzing geaccepteerd").is_visible()
            visit.check("story-20-gemeente-geaccepteerd")

            # 6. The outcome figures count it: the demo has no other accepted referral.
            page.get_by_role("link", name="Cijfers").first.click()
            page.wait_for_load_state()
            # One table per theme, the groups side by side; the fourth count is "Geaccepteerd door gemeente".
            cases = page.get_by_role("table", name=re.compile(r"^Dossiers en verwijzingen per "))
            assert (cases.locator("thead th").nth(4).text_content() or "").strip() == "Geaccepteerd door gemeente"
            assert (cases.locator("tfoot td").nth(3).locator(".sr-compare__value").text_content() or "").strip() == "1"
            visit.check("story-21-cijfers")
            context.close()
        finally:
            browser.close()

    with live.db() as s:
        case = s.get_one(Case, case_id)
        state = s.get_one(WorkflowInstance, case.instance_id).state
        detainee = s.get_one(Detainee, case.detainee_id)
    assert (state, detainee.surname) == ("accepted", "Verhoeven")
