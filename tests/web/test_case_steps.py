"""The case page's overview and its steps behind check pages (issue 13 items 4-6), on both backends.

What a counsellor or casemanager notices: the page says where the case stands and what comes next; a step that
cannot be undone shows what will happen before it happens; "Alle schuldeisers aanschrijven" exists once; a debt's
refusal or confirmation appears next to that debt; withdrawing consent ticks nothing in advance; the intake and
the print batch end on a confirmation with a reference.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from schulden.cases.models import Case, Consent
from schulden.consents import proposed_consent_validity
from schulden.debts.models import Debt
from schulden.letters.models import Letter
from schulden.web.filters import datum
from tests.demo_world import DemoWorld
from tests.web.dates import box_values, shown
from tests.web.test_foundation import csrf_of
from workflows import WorkflowInstance


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def _state(world: DemoWorld, instance_id: int) -> str:
    with world.db() as s:
        return s.get_one(WorkflowInstance, instance_id).state


def _debts(world: DemoWorld, case_id: int) -> dict[str, Debt]:
    with world.db() as s:
        rows = s.scalars(select(Debt).where(Debt.case_id == case_id)).all()
        s.expunge_all()
    return {d.debt_type: d for d in rows}


def test_the_overview_says_where_the_case_stands_and_what_comes_next(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    body = text(world.client("schuldhulp.demo").get(f"/dossiers/{demir}"))
    overview = body[body.index("Waar het dossier staat") : body.index("Andere stappen")]
    assert "PI Zwolle, gevangenisstraf sinds" in overview
    assert "Verwachte vrijlating" in overview
    assert re.search(
        r"\d+ (januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december) \d{4}", overview
    )
    assert "Inventarisatie</strong>. De schulden worden in kaart gebracht" in overview
    # One unwritten creditor: the next step is writing to it, for the counsellor, with the one primary button.
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", overview))
    assert "1 schuldeiser aanschrijven. Door de schuldhulpverlener." in words, words
    assert overview.count("utrecht-button--primary-action") == 1
    assert f'href="/dossiers/{demir}/schuldeisers-aanschrijven"' in overview
    # Labels, not codes: no letter codes and no snake_case debt types anywhere on the page.
    assert not re.search(r"\bL\d{1,2} \(ronde", body)
    assert "cjib boete" not in body
    assert "cjib_boete" not in body
    assert "CJIB-boete" in body
    # Closing is a destructive step: warning style, behind its check page.
    assert re.search(rf'utrecht-button--danger[^"]*" href="/dossiers/{demir}/stap/close"', body)


@pytest.mark.usefixtures("committed")  # the letters asked for render after the commit
def test_writing_to_all_creditors_goes_through_its_check_page(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("schuldhulp.demo")
    before = _debts(world, demir)
    unwritten = [d for d in before.values() if _state(world, d.instance_id) == "identified"]
    assert unwritten, "the demo keeps one creditor unwritten"

    check = client.get(f"/dossiers/{demir}/schuldeisers-aanschrijven")
    assert check.status_code == 200
    page = text(check)
    assert "Wie een brief krijgt" in page
    assert "Melding detentie, verzoek opschorting incasso en saldo-opgave" in page
    assert "Wat er gebeurt als u bevestigt" in page
    with world.db() as s:  # nothing was asked for yet
        assert s.scalar(select(Letter.id).where(Letter.debt_id == unwritten[0].id, Letter.letter_type == "L1")) is None

    token = csrf_of(client, f"/dossiers/{demir}/schuldeisers-aanschrijven")
    done = client.post(f"/dossiers/{demir}/schuldeisers-aanschrijven", data={"confirm": "1", "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/dossiers/{demir}#schulden-kop")
    after = text(client.get(done.headers["Location"]))
    assert "Brieven gevraagd voor 1 schuldeiser" in after
    assert f"Referentie: dossier {demir}" in after
    assert _state(world, unwritten[0].instance_id) != "identified"
    # Nothing left to write: the button is gone, the check page says so.
    assert "Alle schuldeisers aanschrijven (" not in after
    assert "al aangeschreven" in text(client.get(f"/dossiers/{demir}/schuldeisers-aanschrijven"))
    # Only counsellors write to creditors.
    assert world.client("pi.demo").get(f"/dossiers/{demir}/schuldeisers-aanschrijven").status_code == 403


def test_betaald_shows_what_happens_then_confirms_next_to_the_debt(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("schuldhulp.demo")
    fine = _debts(world, demir)["cjib_boete"]
    page = text(client.get(f"/dossiers/{demir}"))
    assert f'href="/dossiers/{demir}/schulden/{fine.id}/stap/mark_paid"' in page

    check = text(client.get(f"/dossiers/{demir}/schulden/{fine.id}/stap/mark_paid"))
    assert "dat kan niet worden teruggedraaid" in check
    assert "Centraal Justitieel Incassobureau (CJIB): CJIB-boete" in check
    assert "utrecht-button--danger" in check
    assert _state(world, fine.instance_id) != "paid"

    token = csrf_of(client, f"/dossiers/{demir}")
    done = client.post(f"/dossiers/{demir}/schulden/{fine.id}/actie", data={"event": "mark_paid", "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"#schuld-{fine.id}")
    assert _state(world, fine.instance_id) == "paid"
    after = text(client.get(done.headers["Location"]))
    card = after[after.index(f'id="schuld-{fine.id}"') :]
    card = card[: card.index("</section>")]
    assert "Betaald: uitgevoerd op" in card  # next to the debt, not at the top of the page

    # A refused debt step is shown next to its debt as well.
    again = client.post(f"/dossiers/{demir}/schulden/{fine.id}/actie", data={"event": "mark_paid", "csrf_token": token})
    assert again.status_code == 303
    refused = text(client.get(again.headers["Location"]))
    card = refused[refused.index(f'id="schuld-{fine.id}"') :]
    assert "Deze stap kan niet bij deze schuld." in card[: card.index("</section>")]


@pytest.mark.usefixtures("committed")  # the withdrawal letter (L10) renders after the commit
def test_withdrawing_consent_ticks_nothing_checks_then_withdraws(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("schuldhulp.demo")
    path = f"/dossiers/{demir}/toestemming-intrekken"
    form = text(client.get(path))
    assert 'name="consent_ids"' in form
    assert " checked" not in form  # nothing ticked in advance (ux.md)

    token = csrf_of(client, path)
    none = client.post(path, data={"csrf_token": token})
    assert none.status_code == 422
    assert "Kies welke toestemming de gedetineerde intrekt." in text(none)
    assert "<title>Fout: " in text(none)

    with world.db() as s:
        active = s.scalars(
            select(Consent).where(Consent.case_id == demir, Consent.withdrawn_at.is_(None)).order_by(Consent.id)
        ).all()
        ids = [c.id for c in active]
    assert len(ids) >= 2, "the demo's case has consent for more than one purpose"
    check = client.post(path, data={"consent_ids": str(ids[-1]), "note": "Wil zelf bellen", "csrf_token": token})
    assert check.status_code == 200
    assert "Controleer de intrekking van" in text(check)
    assert "Wil zelf bellen" in text(check)
    with world.db() as s:
        assert s.get_one(Consent, ids[-1]).withdrawn_at is None  # the check page withdraws nothing

    done = client.post(
        path, data={"consent_ids": str(ids[-1]), "note": "Wil zelf bellen", "confirm": "1", "csrf_token": token}
    )
    assert done.status_code == 303
    after = text(client.get(done.headers["Location"]))
    assert "De gekozen toestemming is ingetrokken" in after
    with world.db() as s:
        assert s.get_one(Consent, ids[-1]).withdrawn_at is not None
        assert s.get_one(Consent, ids[0]).withdrawn_at is None
        assert s.scalar(select(Letter.id).where(Letter.case_id == demir, Letter.letter_type == "L10")) is not None
    assert [r.case_id for r in world.audit("consent.withdraw")] == [demir]
    # Volunteers and municipalities do not withdraw consent.
    assert world.client("vrijwilliger.demo").get(path).status_code == 403


def test_the_consent_step_proposes_the_validity_printed_on_the_form(world: DemoWorld) -> None:
    """Nothing is ticked for the detainee, and "Geldig tot" is the date the L9 he signs proposes."""
    case_id = world.case_id("IJsselstein")  # waiting for the signature, its L9 made
    page = text(world.client("pi.demo").get(f"/intake/{case_id}/toestemming"))
    assert not re.search(r'name="purpose\.[a-z_]+"[^>]*checked', page)
    with world.db() as s:
        case = s.get_one(Case, case_id)
        form_date = s.scalar(select(Letter.letter_date).where(Letter.case_id == case_id, Letter.letter_type == "L9"))
        expected = proposed_consent_validity(case.expected_release, form_date)
    assert box_values(page, "valid_until") == shown(expected)


def test_the_intake_ends_saying_who_does_what_next(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    page = text(world.client("pi.demo").get(f"/intake/{demir}/klaar"))
    assert "Intake afgerond" in page
    assert f"Dossier {demir}" in page
    assert "Wat er nu gebeurt" in page
    assert "schuldhulpverlener" in page
    assert world.client("pi.lelystad.demo").get(f"/intake/{demir}/klaar").status_code == 404


@pytest.mark.usefixtures("committed")  # the demo's letters rendered: they wait for the batch
def test_the_print_batch_is_checked_before_the_letters_count_as_sent(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    token = csrf_of(client, "/printbatch")
    with world.db() as s:
        pi_id = s.scalar(select(Case.pi_id).where(Case.id == world.case_id("Demir")))
        waiting = s.scalar(
            select(Letter.id).where(Letter.channel == "post", Letter.sent_at.is_(None), Letter.status == "rendered")
        )
    assert waiting is not None, "the demo's post letters wait for the print batch"
    check = client.post("/printbatch", data={"pi_id": str(pi_id), "csrf_token": token})
    assert check.status_code == 200
    assert "Wat in de printbatch komt" in text(check)
    assert "gelden ze als verstuurd" in text(check)
    with world.db() as s:
        assert s.get_one(Letter, waiting).sent_at is None
    done = client.post("/printbatch", data={"pi_id": str(pi_id), "confirm": "1", "csrf_token": token})
    assert done.status_code == 303
    assert "Referentie: printbatch" in text(client.get("/printbatch"))
    with world.db() as s:
        assert s.get_one(Letter, waiting).sent_at is not None


def test_dates_read_as_prose(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    with world.db() as s:
        start = s.get_one(Case, demir).detention_start
    body = text(world.client("pi.demo").get(f"/dossiers/{demir}"))
    assert datum.__name__ == "datum"
    months = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
    assert re.search(rf"sinds {start.day} ({months}) {start.year}", body)
    assert start.strftime("%d-%m-%Y") not in body
