"""A creditor's answer as the counsellor meets it, in Debian's chromium at 1280 and 375 px (issue 13 item 1):
the case page's list, the answer page, "Gelezen", the check page of "Bedragen overnemen", and a phone answer typed
in with its errors and check page. axe-core finds no WCAG 2.1 AA violation on any of them, no page scrolls
sideways on a phone, and every page is saved as a screenshot in test-output/web/ (test_browser_smoke.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from integrations import runtime as runtime_module
from schulden.app import create_app
from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.demo import DEMO_PASSWORD, seed_demo
from schulden.http.ports import runtime
from schulden.letters.models import Letter
from schulden.replies.services import submit_answer
from tests.conftest import make_settings
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from workflows import WorkflowInstance

SIZES = {"breed": {"width": 1280, "height": 900}, "telefoon": {"width": 375, "height": 740}}


@pytest.fixture
def answer_server(database: object, committed_url: str, tmp_path: Path) -> Iterator[tuple[str, Flask, int, int]]:
    """The demo on a real HTTP server, with Demir's landlord's answer from the reply page: the address, the app,
    Demir's case id and the rent debt's id."""
    app = create_app(make_settings(committed_url, letter_store=tmp_path / "store"))
    rt = runtime(app)
    today = rt.engine.clock().astimezone(rt.engine.timezone).date()
    with rt.database.session() as session:
        seed_demo(session, rt.engine, today=today)
        session.commit()
    with rt.database.session() as session:
        case_id = session.scalar(select(Case.id).join(Detainee).where(Detainee.surname == "Demir"))
        debt = session.scalars(select(Debt).where(Debt.case_id == case_id, Debt.debt_type == "huur")).one()
        letter = session.scalars(select(Letter).where(Letter.debt_id == debt.id).order_by(Letter.id)).first()
        assert case_id is not None
        assert letter is not None
        submit_answer(session, rt.engine, letter=letter, attachment=None, origin=None, data={
            "principal_cents": 190_000, "interest_cents": 1_250, "costs_cents": 4_000,
            "peildatum": today - timedelta(days=2), "collection_suspended": True, "contact_name": "Mevrouw Jansen",
            "contact_phone": "038 123 45 67", "contact_email": "incasso@woning.example",
            "note": "De huur tot en met november. Wij schorten de incasso op tot de vrijlating.",
        })  # fmt: skip
        session.commit()
        debt_id = debt.id
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="answer-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app, case_id, debt_id
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        runtime_module._current = None


#: The elements that reach past the right edge (not inside a scrolling container), to name them when one does.
_TOO_WIDE = """width => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"""


def _no_sideways_scroll(page: Any, width: int) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= width, (page.url, page.evaluate(_TOO_WIDE, width))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("size", list(SIZES))
def test_reading_an_answer_and_taking_its_amounts_over_in_chromium(
    answer_server: tuple[str, Flask, int, int], size: str
) -> None:
    base, app, case_id, debt_id = answer_server
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    viewport = SIZES[size]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="nl-NL", viewport=viewport).new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))
            page.goto(f"{base}/aanmelden")
            page.get_by_label("Gebruikersnaam").fill("schuldhulp.demo")
            page.get_by_label("Wachtwoord").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Aanmelden").click()
            page.wait_for_url(f"{base}/")

            # The case page lists the answer, new, with its total; the debt waits for the check.
            page.goto(f"{base}/dossiers/{case_id}")
            section = page.locator("section", has=page.get_by_role("heading", name="Antwoorden van schuldeisers"))
            assert "Nieuw" in section.inner_text()
            assert "Antwoord ontvangen, te controleren" in page.content()
            section.scroll_into_view_if_needed()
            visit.check(f"antwoorden-01-dossier-{size}")
            _no_sideways_scroll(page, viewport["width"])

            section.get_by_role("table").get_by_role("link").first.click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", level=1).inner_text().startswith("Antwoord van ")
            assert "Mevrouw Jansen" in page.content()
            visit.check(f"antwoorden-02-antwoord-{size}")
            _no_sideways_scroll(page, viewport["width"])

            page.get_by_role("button", name="Gelezen").click()
            page.wait_for_load_state()
            assert "gemarkeerd als gelezen" in page.content()
            assert page.get_by_role("button", name="Gelezen").count() == 0

            page.get_by_role("link", name="Bedragen overnemen").click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", level=1).inner_text() == "Controleer de bedragen voordat u ze overneemt"
            assert page.get_by_role("link", name="Wijzigen hoofdsom").count() == 1
            visit.check(f"antwoorden-03-controleren-{size}")
            _no_sideways_scroll(page, viewport["width"])

            page.get_by_role("button", name="Bedragen overnemen").click()
            page.wait_for_load_state()
            assert "Bedragen overgenomen" in page.content()
            assert "Overgenomen" in page.content()
            visit.check(f"antwoorden-04-overgenomen-{size}")

            # A phone call later: the counsellor types in the new amounts, with a mistake first.
            page.goto(f"{base}/dossiers/{case_id}/schulden/{debt_id}/antwoord-invoeren")
            visit.check(f"antwoorden-05-invoeren-{size}")
            _no_sideways_scroll(page, viewport["width"])
            page.get_by_label("Telefoon", exact=True).first.check()
            page.get_by_label("Dag").first.fill("1")
            page.get_by_label("Hoofdsom").fill("veel")
            page.get_by_role("button", name="Verder naar controleren").click()
            page.wait_for_load_state()
            assert page.title().startswith("Fout: ")
            assert "Vul ook de maand en de jaar in" in page.content() or "Vul ook de" in page.content()
            visit.check(f"antwoorden-06-invoeren-fouten-{size}")
            _no_sideways_scroll(page, viewport["width"])

            rt = runtime(app)
            today = rt.engine.clock().astimezone(rt.engine.timezone).date()
            page.locator("#veld-received_on-dag").fill(str(today.day))
            page.locator("#veld-received_on-maand").fill(str(today.month))
            page.locator("#veld-received_on-jaar").fill(str(today.year))
            page.get_by_label("Hoofdsom").fill("1.800,00")
            page.locator("#veld-peildatum-dag").fill(str(today.day))
            page.locator("#veld-peildatum-maand").fill(str(today.month))
            page.locator("#veld-peildatum-jaar").fill(str(today.year))
            page.get_by_label("Opmerking").fill("Telefonisch: rente en kosten kwijtgescholden.")
            page.get_by_role("button", name="Verder naar controleren").click()
            page.wait_for_load_state()
            assert "1.800,00" in page.locator("main").inner_text()
            visit.check(f"antwoorden-07-invoeren-controleren-{size}")
            _no_sideways_scroll(page, viewport["width"])

            page.get_by_role("button", name="Opslaan").click()
            page.wait_for_load_state()
            assert "de bedragen zijn overgenomen (versie 2)" in page.content()
            visit.check(f"antwoorden-08-ingevoerd-{size}")
        finally:
            browser.close()

    with runtime(app).database.session() as session:
        debt = session.get_one(Debt, debt_id)
        state = session.get_one(WorkflowInstance, debt.instance_id).state
    assert (debt.total_cents, debt.amount_status, state) == (180_000, "confirmed", "balance_confirmed")
