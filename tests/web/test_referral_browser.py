"""The referral in Debian's chromium, at a desk (1280 px) and on a phone (375 px): the counsellor sends a referral
through "Controleer de verwijzing" and gets its reference; the municipality reads the debts and the handover file,
accepts through its check page and gets a confirmation, and finds a refused referral under "Geweigerd". Every page
passes axe-core (WCAG 2.1 AA), none scrolls sideways, and each step leaves a screenshot in
test-output/web/referral-<role>-<width>-NN-*.png (issue 13, items 4 and 7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schulden.actors import SYSTEM, UserActor
from schulden.cases.models import Case, Detainee
from schulden.http.ports import runtime
from schulden.organisations.models import Organisation
from schulden.referrals import services
from schulden.referrals.models import Referral
from schulden.roles import Role
from schulden.users.models import User
from schulden.users.services import create_user
from tests.conftest import SmtpServer
from tests.web.dates import fill_date
from tests.web.live import Live, demo_server, log_in, log_out
from tests.web.test_browser_smoke import AXE, Visit, _chromium
from workflows import WorkflowInstance

PASSWORD = "amsterdam-browser-wachtwoord-1"


@pytest.fixture
def live(database: object, committed_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Live]:
    with demo_server(committed_url, tmp_path, smtp_port=smtp_server.port) as server:
        yield server


class Story:
    """A walk: each page checked by axe, measured for sideways scrolling, and photographed in order."""

    def __init__(self, page: Any, width: int) -> None:
        self.page = page
        self.visit = Visit(page, AXE.read_text(encoding="utf-8"))
        self.width = width
        self.step = 0

    def check(self, role: str, name: str) -> None:
        self.step += 1
        self.visit.check(f"referral-{role}-{self.width}-{self.step:02d}-{name}")
        scroll = self.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= self.width, f"{name}: the page is {scroll} px wide at {self.width} px"

    def submit(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()
        self.page.wait_for_load_state()


def _refuse_de_vries(live: Live) -> int:
    """Zwolle refuses the demo's referral of De Vries (not a resident): his case waits for another municipality."""
    with live.db() as s:
        user = s.scalars(select(User).where(User.username == "gemeente.demo")).one()
        actor = UserActor(user.id, Role.MUNICIPALITY, user.organisation_id)
        case_id: int = s.scalars(select(Case.id).join(Detainee).where(Detainee.surname == "Vries")).one()
        referral = s.scalars(select(Referral).where(Referral.case_id == case_id)).one()
        services.refuse(s, actor, referral.id, engine=runtime(live.app).engine,
                        kind="not_resident", reason="Staat in Amsterdam ingeschreven.")  # fmt: skip
        s.commit()
        return case_id


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("width", [1280, 375])
def test_the_counsellor_sends_and_the_municipality_accepts_through_check_pages(
    live: Live, smtp_server: SmtpServer, width: int
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
    from playwright.sync_api import sync_playwright

    case_id = _refuse_de_vries(live)
    with live.db() as s:
        amsterdam = s.scalars(select(Organisation).where(Organisation.code == "GM0363")).one()
        create_user(s, actor=SYSTEM, username="amsterdam.browser", display_name="Ada Amsterdam",
                    role=Role.MUNICIPALITY, password=PASSWORD, organisation=amsterdam)  # fmt: skip
        s.commit()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(_chromium()), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="nl-NL", viewport={"width": width, "height": 900}).new_page()
            story = Story(page, width)

            # 1. The counsellor: another municipality, its own consent, then the check page and the send.
            log_in(page, live, "schuldhulp.demo")
            page.goto(f"{live.url}/dossiers/{case_id}/verwijzing")
            assert page.get_by_text("De verwijzing kan nog niet worden verstuurd. Doe eerst dit:").is_visible()
            assert page.get_by_role("link", name="Kies eerst een andere gemeente").is_visible()
            assert page.get_by_text("Zwolle weigerde de verwijzing: de cliënt is er geen inwoner.").is_visible()
            story.check("counsellor", "verwijzing-geblokkeerd")
            page.get_by_label("Gemeente", exact=True).select_option(label="Amsterdam")
            page.get_by_label("Reden van de keuze").fill("Staat in Amsterdam ingeschreven en gaat daar wonen.")
            story.submit("Gemeente kiezen")
            assert page.get_by_text("De toestemming voor de verwijzing naar Amsterdam ontbreekt.").is_visible()
            story.submit("Toestemming voor Amsterdam vastleggen")
            assert page.get_by_text("Alles is klaar om te versturen.").is_visible()
            story.check("counsellor", "verwijzing-klaar")
            story.submit("Verwijzing controleren")
            assert f"/dossiers/{case_id}/verwijzing/controleren" in page.url
            assert page.get_by_role("heading", name="Controleer de verwijzing").is_visible()
            assert page.get_by_text("Per e-mail aan schuldhulp@amsterdam.example").first.is_visible()
            assert page.get_by_role("link", name="Wijzigen gemeente").is_visible()
            story.check("counsellor", "controleer-verwijzing")
            story.submit("Verwijzing versturen")
            assert page.get_by_role("heading", name="Verwijzing verstuurd").is_visible()
            assert page.get_by_text(f"SR-{case_id:06d}-OD-2").is_visible()
            story.check("counsellor", "verwijzing-verstuurd")
            assert smtp_server.messages, "the referral was delivered by e-mail"
            page.goto(f"{live.url}/dossiers/{case_id}/verwijzing")
            assert page.get_by_text("Afgeleverd op", exact=False).first.is_visible()
            story.check("counsellor", "verwijzing-afgeleverd")
            log_out(page, live)

            # 2. Amsterdam reads what it decides on, accepts through its check page, and gets a confirmation.
            with live.db() as s:
                sent = s.scalars(select(Referral.id).where(Referral.case_id == case_id, Referral.sequence == 2)).one()
            page.goto(f"{live.url}/aanmelden")
            page.get_by_label("Gebruikersnaam").fill("amsterdam.browser")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Aanmelden").click()
            page.wait_for_url(f"{live.url}/")
            page.goto(f"{live.url}/gemeente")
            story.check("gemeente", "inbox")
            page.locator(f'main a[href="/gemeente/verwijzingen/{sent}"]').click()
            page.wait_for_load_state()
            assert page.get_by_role("heading", name="Verwijzing van Pieter de Vries").is_visible()
            assert page.get_by_role("table", name="Schulden in het overdrachtsdossier").is_visible()
            assert page.get_by_text("Belastingdienst/Toeslagen").first.is_visible()
            assert page.get_by_text("Eerste gesprek uiterlijk").first.is_visible()
            story.check("gemeente", "verwijzing")
            fill_date(page, "Datum eerste gesprek", live.today + timedelta(days=7))
            story.submit("Accepteren controleren")
            assert page.get_by_role("heading", name="Controleer uw besluit: accepteren").is_visible()
            story.check("gemeente", "controleer-accepteren")
            story.submit("Verwijzing accepteren")
            assert page.get_by_role("heading", name="Verwijzing geaccepteerd").is_visible()
            assert page.get_by_text(f"SR-{case_id:06d}-OD-2").is_visible()
            story.check("gemeente", "geaccepteerd")
            log_out(page, live)

            # 3. Zwolle finds its refusal of the first referral again, although the case left its scope.
            log_in(page, live, "gemeente.demo")
            page.goto(f"{live.url}/gemeente?tab=geweigerd")
            assert page.get_by_role("link", name="Pieter de Vries").is_visible()
            story.check("gemeente", "geweigerd")
        finally:
            browser.close()

    with live.db() as s:
        accepted = s.get_one(Case, case_id)
        assert s.get_one(WorkflowInstance, accepted.instance_id).state == "accepted"
