"""The debt counsellor (schuldhulpverlener) does a day's work in Debian's chromium, at a desk (1280 px) and on a
phone (375 px), through the check pages and starting from Mijn werk, as a new counsellor would (issue 13): reads a
creditor's answer and takes its amounts over, writes to every creditor of a case in inventory, types in an answer
that came by post, marks a debt paid (a step that cannot be undone, its button in the danger style), and sends the
referral of the case with an eviction threat, then reads its delivery in words. Every page passes axe-core
(WCAG 2.1 AA), none scrolls sideways, and each step leaves a screenshot in test-output/web/counsellor-<width>-NN-*.png.
The walk, the browser and the demo server are those of test_role_stories_browser.py and live.py.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.referrals.models import Referral
from tests.web.live import Live, log_in
from tests.web.test_role_stories_browser import Story, _browser, live  # noqa: F401 - `live` is the demo server
from workflows import WorkflowInstance

CJIB = "Centraal Justitieel Incassobureau (CJIB)"
TOESLAGEN = "Belastingdienst/Toeslagen"
LANDLORD = "Woonstichting De Demo"
EURO = "€\xa0"
#: The referral page of a case with a Wgs threat that is still in inventory (Mijn werk: "Dreiging: nu verwijzen").
THREAT_DEAD_END = (
    "Mijn werk > Nu verwijzen > 'Naar de verwijzing' (Sanne Bakker, eviction threat, case in inventory): the "
    "referral page says only 'De verwijzing kan nog niet worden verstuurd. Doe eerst dit: Eerst de inventarisatie "
    "afronden' and links to the case page, whose next step is to wait for the creditors' answers; it does not offer "
    "'Verwijzing voorbereiden' (request_referral, open to the counsellor in inventory), the step that lets the "
    "referral go within the 3 working days. Found only under 'Andere stappen' on the case page."
)


class CounsellorStory(Story):
    """The role stories' walk, its screenshots named counsellor-<width>-NN-<step>.png."""

    def __init__(self, page: Any, width: int) -> None:
        super().__init__(page, "counsellor", width)
        self.prefix = f"counsellor-{width}"

    def follow(self, name: str | re.Pattern[str], *, within: Any = None) -> None:
        """Click the (first) link of that name, on the page or within a part of it."""
        (within or self.page).get_by_role("link", name=name).first.click()
        self.page.wait_for_load_state()

    def mijn_werk(self) -> None:
        self.page.get_by_role("navigation").get_by_role("link", name="Mijn werk").click()
        self.page.wait_for_load_state()
        assert self.page.get_by_role("heading", name="Mijn werk", level=1).is_visible()


def _fill_date(page: Any, legend: str, day: date) -> None:
    """A date as the user types it: three boxes Dag/Maand/Jaar under the legend, or else one date box."""
    group = page.get_by_role("group", name=legend)
    if group.count() and group.get_by_label("Dag", exact=True).count():
        group.get_by_label("Dag", exact=True).fill(str(day.day))
        group.get_by_label("Maand", exact=True).fill(str(day.month))
        group.get_by_label("Jaar", exact=True).fill(str(day.year))
    else:
        page.get_by_label(legend).fill(day.isoformat())


def _task_group(page: Any, title: str) -> Any:
    """One group of Mijn werk, by its heading ("Nu verwijzen (1)")."""
    return page.get_by_role("region", name=re.compile(rf"^{re.escape(title)} \(\d+\)$"))


def _debt_row(page: Any, creditor: str) -> Any:
    """The row of one debt in the case page's table of debts."""
    table = page.get_by_role("table", name=re.compile(r"^Schulden van "))
    return table.get_by_role("row").filter(has=page.get_by_role("cell", name=creditor, exact=True))


def _debt_card(page: Any, creditor: str) -> Any:
    """The case page's card of one debt ("CAK: Zorgpremie"), with its amounts and buttons."""
    return page.get_by_role("region", name=f"{creditor}: ")


def _assert_confirmed(page: Any, creditor: str, total: str) -> None:
    """The debt's total in the table, and its card saying the amount is confirmed (the table's column for the amount
    status is left out on a phone; the card is there at every width)."""
    assert _debt_row(page, creditor).get_by_role("cell", name=f"{EURO}{total}", exact=True).is_visible()
    card = _debt_card(page, creditor)
    assert card.get_by_text("Saldo bevestigd", exact=True).is_visible()
    assert card.get_by_text("Totaal (bevestigd)", exact=True).is_visible()
    assert card.get_by_text(f"{EURO}{total}", exact=True).is_visible()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the browser adds nothing on a second backend
@pytest.mark.parametrize("width", [1280, 375])
def test_the_counsellor_does_a_days_work(live: Live, width: int) -> None:  # noqa: F811 - the imported fixture
    from playwright.sync_api import sync_playwright

    with live.db() as s:
        ids = dict(s.execute(select(Detainee.surname, Case.id).join(Case, Case.detainee_id == Detainee.id)).all())
    boer, demir, bakker = ids["Boer"], ids["Demir"], ids["Bakker"]
    bugs: list[str] = []
    with sync_playwright() as p:
        browser, page = _browser(p, width)
        try:
            story = CounsellorStory(page, width)
            log_in(page, live, "schuldhulp.demo")
            assert page.get_by_role("heading", name="Mijn werk", level=1).is_visible()
            story.check("mijn-werk")

            # 1. An answer from the reply page: read it, take its amounts over through the check page.
            story.follow("Antwoord lezen", within=_task_group(page, "Antwoorden van schuldeisers te lezen"))
            assert page.get_by_role("heading", name=f"Antwoord van {TOESLAGEN}", level=1).is_visible()
            amounts = page.get_by_role("table", name=re.compile("^Bedragen volgens de schuldeiser"))
            total = amounts.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Totaal"))
            assert total.get_by_role("cell", name=f"{EURO}927,50").is_visible()
            assert page.get_by_text("de inning staat stil zolang de schuldhulp loopt").is_visible()
            story.check("antwoord-lezen")
            story.follow("Bedragen overnemen")
            assert page.get_by_role("heading", name="Controleer de bedragen voordat u ze overneemt").is_visible()
            assert page.get_by_text("het totaal wordt € 927,50 in plaats van € 864,00").is_visible()
            story.check("bedragen-controleren")
            story.submit("Bedragen overnemen")
            assert page.get_by_text(f"Bedragen overgenomen: de schuld bij {TOESLAGEN} is nu € 927,50").is_visible()
            story.check("bedragen-overgenomen")
            story.follow(re.compile(r"^Terug naar dossier \d+$"))
            _assert_confirmed(page, TOESLAGEN, "927,50")
            story.check("dossier-bevestigd")

            # 2. A case whose letters were never asked for: all its creditors written to, through the check page.
            story.mijn_werk()
            story.check("mijn-werk-termijnen")
            story.follow("Eva de Boer", within=_task_group(page, "Termijnen die vandaag verlopen"))
            assert page.get_by_role("heading", name="Eva de Boer", level=1).is_visible()
            assert _debt_row(page, CJIB).get_by_role("cell", name="Bekend", exact=True).is_visible()
            story.check("dossier-inventarisatie")
            story.follow("Alle schuldeisers aanschrijven")
            assert page.get_by_role("heading", name="Alle schuldeisers aanschrijven", level=1).is_visible()
            assert page.get_by_text(CJIB).first.is_visible()
            story.check("aanschrijven-controleren")
            story.submit("1 schuldeiser aanschrijven")
            assert page.get_by_text(f"Brieven gevraagd voor 1 schuldeiser: {CJIB}").is_visible()
            assert page.get_by_text(f"Referentie: dossier {boer}, ").is_visible()
            assert _debt_row(page, CJIB).get_by_role("cell", name="Brieven klaargezet", exact=True).is_visible()
            timeline = page.get_by_role("region", name="Tijdlijn")
            assert timeline.get_by_text("Melding detentie, verzoek opschorting incasso en saldo-opgave").is_visible()
            assert timeline.get_by_role("link", name=re.compile(r"^Brief \d+ bekijken$")).count() == 1, "the letter"
            story.check("aangeschreven")

            # 3. The landlord's answer came by post: typed in, checked, stored.
            page.get_by_role("navigation").get_by_role("link", name="Dossiers").click()
            page.wait_for_load_state()
            page.get_by_label("Achternaam begint met").fill("Demir")
            page.get_by_role("button", name="Zoeken").click()
            page.wait_for_load_state()
            story.check("dossiers-gezocht")
            story.follow(re.compile("Demir"), within=page.get_by_role("table", name="Dossiers"))
            assert page.get_by_role("heading", name="Ayşe Demir", level=1).is_visible()
            story.check("dossier-demir")
            story.follow(re.compile(rf"^Antwoord invoeren\s+van\s+{re.escape(LANDLORD)}$"))
            assert page.get_by_role("heading", name=f"Antwoord van {LANDLORD} invoeren").is_visible()
            story.check("antwoord-invoeren")
            page.get_by_role("radio", name="Post").check()
            _fill_date(page, "Ontvangen op", live.today)
            page.get_by_label("Hoofdsom").fill("1.825,50")
            page.get_by_label("Kosten (incasso, gerechtelijk)").fill("95,00")
            _fill_date(page, "Peildatum van het saldo", live.today)
            page.get_by_label("Opmerking").fill("Brief van de verhuurder: huur tot en met november, incasso gestopt.")
            story.submit("Verder naar controleren")
            assert page.get_by_role("heading", name=f"Controleer het antwoord van {LANDLORD}").is_visible()
            assert page.get_by_text(f"{EURO}1.825,50").first.is_visible()
            assert page.get_by_text("totaal € 1.920,50 in plaats van € 1.865,50").is_visible()
            story.check("antwoord-controleren")
            story.submit("Opslaan")
            assert page.get_by_text(re.compile(rf"Het antwoord van {re.escape(LANDLORD)} is .*versie 1")).is_visible()
            story.check("antwoord-opgeslagen")
            story.follow(f"Terug naar dossier {demir}")
            _assert_confirmed(page, LANDLORD, "1.920,50")
            story.check("dossier-antwoord-ingevoerd")

            # 4. The fine was paid: a step that ends the debt, its check page with the button in the danger style.
            story.follow("Betaald", within=_debt_card(page, CJIB))
            assert page.get_by_role("heading", name="Betaald", level=1).is_visible()
            assert page.get_by_text("dat kan niet worden teruggedraaid").is_visible()
            confirm = page.get_by_role("button", name="Betaald: bevestigen")
            assert "utrecht-button--danger" in (confirm.get_attribute("class") or "")
            story.check("betaald-controleren")
            reason = page.get_by_label("Reden", exact=True)
            if reason.count():
                reason.fill("Betaald door de familie, bevestigd door het CJIB.")
            confirm.click()
            page.wait_for_load_state()
            assert page.get_by_text(re.compile(r"^Betaald: uitgevoerd op .*Referentie: schuld \d+\.")).is_visible()
            assert _debt_row(page, CJIB).get_by_role("cell", name="Betaald", exact=True).is_visible()
            assert _debt_card(page, CJIB).get_by_role("link", name="Betaald").count() == 0
            story.check("betaald")

            # 5. The eviction threat: Mijn werk says refer now; the referral goes out through its check page.
            story.mijn_werk()
            refer_now = _task_group(page, "Nu verwijzen")
            assert refer_now.get_by_text("Dreiging: nu verwijzen naar de gemeente").is_visible()
            story.check("mijn-werk-nu-verwijzen")
            story.follow("Naar de verwijzing", within=refer_now)
            assert page.url.endswith(f"/dossiers/{bakker}/verwijzing")
            story.check("verwijzing")
            ready = page.get_by_role("button", name="Verwijzing controleren")
            prepare = page.get_by_role("button", name="Verwijzing voorbereiden").or_(
                page.get_by_role("link", name="Verwijzing voorbereiden")
            )
            if not ready.count() and not prepare.count():
                bugs.append(THREAT_DEAD_END)
                # What the page does offer: its blocker's link to the case page, where the step is.
                story.follow("Eerst de inventarisatie afronden")
                story.check("dossier-dringend")
            if not ready.count():
                prepare.first.click()
                page.wait_for_load_state()
                assert page.get_by_text(re.compile(r"^Verwijzing voorbereiden: uitgevoerd op ")).is_visible()
                story.check("verwijzing-voorbereid")
                if not page.url.endswith("/verwijzing"):
                    story.follow("Naar de verwijzing")
            assert page.get_by_text("Alles is klaar om te versturen.").is_visible()
            assert page.get_by_text("Er is een dreiging, dus de verwijzing gaat nu").first.is_visible()
            story.check("verwijzing-klaar")
            story.submit("Verwijzing controleren")
            assert page.get_by_role("heading", name="Controleer de verwijzing").is_visible()
            assert page.get_by_text("Per e-mail aan schuldhulp@amsterdam.example").first.is_visible()
            assert page.get_by_text("Urgent: een huisuitzetting.").is_visible()
            story.check("verwijzing-controleren")
            story.submit("Verwijzing versturen")
            assert page.get_by_role("heading", name="Verwijzing verstuurd").is_visible()
            assert page.get_by_text(f"SR-{bakker:06d}-OD-1").is_visible()
            # The delivery in words: the e-mail went out after the commit.
            delivered = re.compile(r"^Afgeleverd op \d{1,2} [a-z]+ \d{4}; wacht op het besluit van de gemeente\.$")
            assert page.get_by_role("heading", name="Stand van zaken").is_visible()
            assert page.get_by_text(delivered).is_visible()
            story.check("verwijzing-verstuurd")
            story.follow("Naar de verwijzingspagina")
            referrals = page.get_by_role("table", name=f"Verwijzingen van dossier {bakker}")
            assert referrals.get_by_role("cell", name=re.compile(r"^Afgeleverd op ")).count() == 1
            assert page.get_by_text("De verwijzing is verstuurd. Hieronder staat hoe zij ervoor staat.").is_visible()
            assert page.get_by_text("kan nog niet worden verstuurd").count() == 0
            story.check("verwijzing-afgeleverd")
        finally:
            browser.close()

    with live.db() as s:
        states = {
            debt.id: s.get_one(WorkflowInstance, debt.instance_id).state
            for debt in s.scalars(select(Debt).where(Debt.case_id.in_([demir, boer])))
        }
        referral = s.scalars(select(Referral).where(Referral.case_id == bakker)).one()
        assert (referral.urgent, referral.threat) == (True, "eviction")
    assert sorted(states.values()).count("balance_confirmed") == 1
    assert "paid" in states.values(), states
    if bugs:
        pytest.xfail(" ".join(bugs))
