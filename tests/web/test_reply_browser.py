"""The creditor's reply page in a real browser on a phone-sized screen: axe-core finds no WCAG 2.1 AA violation on
the code page, the answer form (also with errors shown) and the thank-you page, and the whole answer can be given
without scrolling sideways. Chromium is Debian's, driven by Playwright (see test_browser_smoke.py)."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select
from werkzeug.serving import make_server

from integrations import runtime as runtime_module
from schulden.app import create_app
from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.demo import seed_demo
from schulden.http.ports import runtime
from schulden.letters.models import Letter
from tests.conftest import make_settings
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from workflows import WorkflowInstance

CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b")
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def reply_server(database: object, committed_url: str, tmp_path: Path) -> Iterator[tuple[str, Flask, Letter]]:
    """The app with the demo on a real HTTP server; returns its address, the app and a creditor letter (L2)."""
    app = create_app(make_settings(committed_url, letter_store=tmp_path / "store"))
    rt = runtime(app)
    today = rt.engine.clock().astimezone(rt.engine.timezone).date()
    with rt.database.session() as session:
        seed_demo(session, rt.engine, today=today)
        session.commit()
    with rt.database.session() as session:
        letter = session.scalar(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .join(Detainee, Detainee.id == Case.detainee_id)
            .where(Detainee.surname == "Demir", Letter.letter_type == "L1")
            .order_by(Letter.id)
            .limit(1)
        )
        assert letter is not None
        session.expunge(letter)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="reply-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app, letter
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        runtime_module._current = None


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_a_creditor_answers_on_a_phone_and_every_page_passes_axe(reply_server: tuple[str, Flask, Letter]) -> None:
    base, app, letter = reply_server
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    rt = runtime(app)
    pdf = rt.store.get(letter.storage_key)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    code = CODE.search(text)
    assert code, "the letter prints a reply code"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport=PHONE, is_mobile=True, has_touch=True)
            page = context.new_page()
            visit = Visit(page, AXE.read_text(encoding="utf-8"))

            page.goto(f"{base}/antwoord")
            visit.check("antwoord-01-code-telefoon")
            page.get_by_label("Antwoordcode").fill(code.group(1))
            page.get_by_role("button", name="Verder").click()
            page.wait_for_load_state()
            assert page.url == f"{base}/antwoord/brief"
            visit.check("antwoord-02-formulier-telefoon")
            # Usable on a phone: nothing wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            page.get_by_label("Hoofdsom").fill("veel")
            page.get_by_role("button", name="Antwoord versturen").click()
            page.wait_for_load_state()
            assert "Vul een bedrag in euro in" in page.content()
            visit.check("antwoord-03-fouten-telefoon")

            yesterday = (rt.engine.clock() - timedelta(days=1)).astimezone(rt.engine.timezone).date()
            page.get_by_label("Hoofdsom").fill("1.234,50")
            page.get_by_label("Peildatum van het saldo").fill(yesterday.isoformat())
            page.get_by_role("button", name="Antwoord versturen").click()
            page.wait_for_load_state()
            assert page.url == f"{base}/antwoord/bedankt"
            visit.check("antwoord-04-bedankt-telefoon")
        finally:
            browser.close()

    with rt.database.session() as session:
        debt = session.get_one(Debt, letter.debt_id)
        state = session.get_one(WorkflowInstance, debt.instance_id).state
    assert (debt.principal_cents, debt.amount_status, state) == (123_450, "confirmed", "balance_confirmed")
