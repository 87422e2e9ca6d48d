"""The creditor's reply page in a real browser at desktop width (1280 px; the phone has its own test,
test_reply_phone_browser.py): code, form, check page and confirmation pass axe-core (WCAG 2.1 AA), and the answer
sent from "Controleer uw antwoord" is the one stored. Chromium is Debian's, driven by Playwright."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import select

from schulden.http.ports import runtime
from schulden.letters.models import Letter
from schulden.replies.models import CreditorReply
from tests.web.test_browser_smoke import AXE, _chromium
from tests.web.test_reply_phone_browser import Steps, enter_code, fill_date, printed_code, reply_server

__all__ = ["reply_server"]  # the fixture

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

DESKTOP: ViewportSize = {"width": 1280, "height": 800}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_a_creditor_answers_at_a_desk_and_every_page_passes_axe(
    reply_server: tuple[str, Flask, Letter], tmp_path: Path
) -> None:
    base, app, letter = reply_server
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    rt = runtime(app)
    code = printed_code(app, letter)
    yesterday = (rt.engine.clock() - timedelta(days=1)).astimezone(rt.engine.timezone).date()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="nl-NL", viewport=DESKTOP).new_page()
            steps = Steps(page, DESKTOP["width"])
            page.goto(f"{base}/antwoord")
            steps.check("antwoord-01-code")
            enter_code(steps, base, code)
            steps.check("antwoord-02-formulier")
            page.get_by_label("Hoofdsom").fill("veel")
            steps.click("Antwoord controleren")
            assert "Vul een bedrag in euro in" in page.content()
            steps.check("antwoord-03-fouten")
            page.get_by_label("Hoofdsom").fill("1.234,50")
            fill_date(page, "peildatum", yesterday)
            steps.click("Antwoord controleren")
            steps.check("antwoord-04-controleer")
            steps.click("Antwoord versturen")
            assert page.url == f"{base}/antwoord/bedankt"
            steps.check("antwoord-05-bedankt")
        finally:
            browser.close()

    with rt.database.session() as session:
        [reply] = session.scalars(select(CreditorReply).where(CreditorReply.letter_id == letter.id)).all()
        assert (reply.principal_cents, reply.peildatum, reply.channel) == (123_450, yesterday, "web")
