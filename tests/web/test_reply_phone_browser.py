"""The creditor's reply page on a phone (375 x 812) in a real browser (issue 13 item 8; ux.md "Public creditor
page"): the code, the form, the form with errors (the chosen PDF kept), "Controleer uw antwoord", "Wijzigen" back
to the form, the confirmation, and a correction with the same code; axe-core finds no WCAG 2.1 AA violation on any
step, no step scrolls sideways (at 375 px, and the form at 320 px), and every step is saved as a screenshot in
test-output/web/. Chromium is Debian's, driven by Playwright (see test_browser_smoke.py)."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select
from werkzeug.serving import make_server

from integrations import runtime as runtime_module
from schulden.app import create_app
from schulden.cases.models import Case, Detainee
from schulden.demo import seed_demo
from schulden.http.ports import runtime
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.reply_codes import ReplyCodeKey, new_reply_secrets
from schulden.replies.models import CreditorReply
from tests.conftest import make_settings
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from tests.web.test_reply_uploads import make_pdf
from workflows.store import utcnow

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b")
PHONE: ViewportSize = {"width": 375, "height": 812}


@pytest.fixture
def reply_server(database: object, committed_url: str, tmp_path: Path) -> Iterator[tuple[str, Flask, Letter]]:
    """The app with the demo on a real HTTP server; returns its address, the app and Demir's first letter to a
    creditor (the notice, L1: it asks the balance and the suspension)."""
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


def printed_code(app: Flask, letter: Letter) -> str:
    """The reply code as the letter's PDF prints it."""
    assert letter.storage_key is not None
    pdf = runtime(app).store.get(letter.storage_key)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    code = CODE.search(text)
    assert code, "the letter prints a reply code"
    return code.group(1)


#: What sticks out: elements past the right edge, or whose content overflows them (a long word in a heading).
WIDER = """width => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 0.5 || e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.textContent.trim().slice(0, 30)} ${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`)
  .slice(0, 8)"""


def no_sideways_scroll(page: Any, width: int, name: str) -> None:
    """Nothing wider than the screen; the message names what sticks out."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, page.evaluate(WIDER, width))


class Steps:
    """Each step: axe clean, a screenshot, and nothing wider than the screen."""

    def __init__(self, page: Any, width: int) -> None:
        self.page = page
        self.width = width
        self.visit = Visit(page, AXE.read_text(encoding="utf-8"))

    def check(self, name: str) -> None:
        self.visit.check(name)
        no_sideways_scroll(self.page, self.width, name)

    def click(self, name: str) -> None:
        self.page.get_by_role("button", name=name).click()
        self.page.wait_for_load_state()


def enter_code(steps: Steps, base: str, code: str) -> None:
    steps.page.goto(f"{base}/antwoord")
    steps.page.get_by_label("Antwoordcode").fill(code)
    steps.click("Verder")
    assert steps.page.url == f"{base}/antwoord/brief"


def fill_date(page: Any, name: str, day: Any) -> None:
    page.locator(f"#veld-{name}").fill(str(day.day))
    page.locator(f"#veld-{name}-maand").fill(str(day.month))
    page.locator(f"#veld-{name}-jaar").fill(str(day.year))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
def test_a_creditor_answers_and_corrects_on_a_phone_and_every_step_passes_axe(
    reply_server: tuple[str, Flask, Letter], tmp_path: Path
) -> None:
    base, app, letter = reply_server
    chromium = _chromium()
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    rt = runtime(app)
    code = printed_code(app, letter)
    pdf = tmp_path / "saldo-overzicht.pdf"
    pdf.write_bytes(make_pdf())
    yesterday = (rt.engine.clock() - timedelta(days=1)).astimezone(rt.engine.timezone).date()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport=PHONE, is_mobile=True, has_touch=True)
            page = context.new_page()
            steps = Steps(page, PHONE["width"])

            page.goto(f"{base}/antwoord")
            assert page.get_by_text("Wie zijn wij?").is_visible()
            steps.check("antwoord-telefoon-01-code")
            enter_code(steps, base, code)
            assert page.get_by_role("heading", name="Opschorting van de incasso").is_visible()  # the notice asks it
            assert page.get_by_role("link", name=rt.settings.sender_phone).is_visible()
            steps.check("antwoord-telefoon-02-formulier")
            page.set_viewport_size({"width": 320, "height": PHONE["height"]})
            no_sideways_scroll(page, 320, "formulier op 320 px")
            page.set_viewport_size(PHONE)

            # An error on the amount; the PDF chosen with it is kept.
            page.get_by_label("Hoofdsom").fill("veel")
            page.get_by_label("Bijlage (PDF, hooguit 4 MB)").set_input_files(str(pdf))
            steps.click("Antwoord controleren")
            assert page.title().startswith("Fout: ")
            assert "Vul een bedrag in euro in" in page.content()
            assert page.get_by_text("Wij hebben het bewaard").is_visible()
            steps.check("antwoord-telefoon-03-fouten")

            page.get_by_label("Hoofdsom").fill("1.234,50")
            fill_date(page, "peildatum", yesterday)
            page.get_by_role("group", name="Schort u de incasso op?", exact=True).get_by_label("Ja", exact=True).check()
            steps.click("Antwoord controleren")
            assert page.url == f"{base}/antwoord/controleer"
            assert page.get_by_role("heading", name="Controleer uw antwoord").is_visible()
            assert "1.234,50" in page.content()
            assert "saldo-overzicht.pdf" in page.content()
            steps.check("antwoord-telefoon-04-controleer")

            # "Wijzigen" goes back to the form with the answer in it.
            page.get_by_role("link", name="Wijzigen hoofdsom").click()
            page.wait_for_load_state()
            assert page.get_by_label("Hoofdsom").input_value() == "1.234,50"
            page.get_by_label("Hoofdsom").fill("1.234,56")
            steps.click("Antwoord controleren")
            steps.click("Antwoord versturen")
            assert page.url == f"{base}/antwoord/bedankt"
            assert re.fullmatch(r"SR-\d{6}-\d+, antwoord 1", page.locator(".sr-panel__reference strong").inner_text())
            assert "1.234,56" in page.content()
            steps.check("antwoord-telefoon-05-bevestiging")

            # The same code again: the earlier answer is shown, and the correction is the next version.
            enter_code(steps, base, code)
            assert page.get_by_role("heading", name="U hebt al geantwoord").is_visible()
            steps.check("antwoord-telefoon-06-eerder-antwoord")
            page.get_by_label("Hoofdsom").fill("1.300,00")
            steps.click("Antwoord controleren")
            assert page.get_by_text("Dit antwoord vervangt uw antwoord van").is_visible()
            steps.check("antwoord-telefoon-07-controleer-correctie")
            steps.click("Antwoord versturen")
            assert re.fullmatch(r"SR-\d{6}-\d+, antwoord 2", page.locator(".sr-panel__reference strong").inner_text())
            steps.check("antwoord-telefoon-08-bevestiging-correctie")
        finally:
            browser.close()

    with rt.database.session() as session:
        replies = list(
            session.scalars(
                select(CreditorReply).where(CreditorReply.letter_id == letter.id).order_by(CreditorReply.version)
            )
        )
        got = [(r.version, r.principal_cents, r.attachment_name, r.superseded_at is None) for r in replies]
    assert got == [(1, 123_456, "saldo-overzicht.pdf", False), (2, 130_000, None, True)]


def _letters_of_each_kind(app: Flask, first: Letter) -> dict[str, str]:
    """A payment proposal (L4), a termination (L5), a statement request (L2) and an insurer's notice without a
    debt (L6) next to the demo's notice, sent, with reply links the test knows: kind -> token."""
    tokens: dict[str, str] = {}
    rt = runtime(app)
    today = rt.engine.clock().astimezone(rt.engine.timezone).date()
    with rt.database.session() as session:
        for kind in ("L2", "L4", "L5", "L6"):
            known = new_reply_secrets(ReplyCodeKey.derive(rt.settings.secret_key))
            session.add(
                Letter(
                    case_id=first.case_id,
                    debt_id=None if kind == "L6" else first.debt_id,
                    creditor_id=first.creditor_id,
                    recipient_name=first.recipient_name,
                    letter_type=kind,
                    idempotency_key=f"test-phone-{kind}-{first.id}",
                    letter_date=today - timedelta(days=2),
                    requested_by="user:1",
                    status=LetterStatus.SENT.value,
                    storage_key=first.storage_key,
                    sha256=first.sha256,
                    reply_code_lookup=known.lookup,
                    reply_code_hash=known.code_hash,
                    reply_token_hash=known.token_hash,
                    reply_expires_at=utcnow() + timedelta(days=30),
                )
            )
            tokens[kind] = known.token
        session.commit()
    return tokens


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_proposal_termination_and_other_letters_on_a_phone_pass_axe(
    reply_server: tuple[str, Flask, Letter],
) -> None:
    base, app, letter = reply_server
    chromium = _chromium()
    tokens = _letters_of_each_kind(app, letter)
    rt = runtime(app)
    end = (rt.engine.clock() + timedelta(days=30)).astimezone(rt.engine.timezone).date()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="nl-NL", viewport=PHONE, is_mobile=True, has_touch=True)
            page = context.new_page()
            steps = Steps(page, PHONE["width"])

            page.goto(f"{base}/antwoord/{tokens['L2']}")
            assert page.get_by_role("heading", name="Het saldo").is_visible()
            assert page.get_by_role("heading", name="Opschorting van de incasso").count() == 0  # L2 does not ask it
            steps.check("antwoord-telefoon-10-saldo-opgave")

            page.goto(f"{base}/antwoord/{tokens['L4']}")
            assert page.get_by_role("heading", name="Ons voorstel").is_visible()
            assert page.get_by_label("Hoofdsom").count() == 0
            steps.check("antwoord-telefoon-11-voorstel")
            page.get_by_role("group", name="Gaat u akkoord met ons voorstel?").get_by_label(
                "Nee, wij gaan niet akkoord"
            ).check()
            steps.click("Antwoord controleren")
            assert page.title().startswith("Fout: ")
            assert page.get_by_text("Schrijf waarom u niet akkoord gaat.").first.is_visible()
            steps.check("antwoord-telefoon-12-voorstel-fout")
            page.get_by_label("Gaat u niet akkoord? Schrijf waarom niet").fill("Het bedrag is te laag.")
            steps.click("Antwoord controleren")
            assert page.get_by_text("Nee, wij gaan niet akkoord").is_visible()
            steps.check("antwoord-telefoon-13-voorstel-controleer")
            steps.click("Antwoord versturen")
            steps.check("antwoord-telefoon-14-voorstel-bevestiging")

            page.goto(f"{base}/antwoord/{tokens['L5']}")
            assert page.get_by_role("heading", name="De opzegging").is_visible()
            steps.check("antwoord-telefoon-15-opzegging")
            page.get_by_role("group", name="Bevestigt u de opzegging?").get_by_label("Ja", exact=True).check()
            fill_date(page, "termination_date", end)
            steps.click("Antwoord controleren")
            steps.check("antwoord-telefoon-16-opzegging-controleer")
            steps.click("Antwoord versturen")
            assert page.url == f"{base}/antwoord/bedankt"

            page.goto(f"{base}/antwoord/{tokens['L6']}")
            # The insurer answers its L6 online too, with only what the letter asked.
            assert page.get_by_role("heading", name="De schorsing van de basisverzekering").is_visible()
            assert page.get_by_label("Hoofdsom").count() == 0
            steps.check("antwoord-telefoon-17-zorgverzekering")
            question = "Schort u de basisverzekering van de klant op tijdens de detentie?"
            page.get_by_role("group", name=question).get_by_label("Ja", exact=True).check()
            fill_date(page, "insurance_suspended_from", end - timedelta(days=33))
            steps.click("Antwoord controleren")
            steps.check("antwoord-telefoon-18-zorgverzekering-controleer")
            steps.click("Antwoord versturen")
            assert page.url == f"{base}/antwoord/bedankt"
        finally:
            browser.close()
