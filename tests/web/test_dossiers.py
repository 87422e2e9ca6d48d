"""Mijn werk, the case list and the case page through the Flask test client, on the demo world (SQLite and
PostgreSQL): scope (404 page plus the API's authz_denied row), the API's audit rows, masked BSN by role, the
surname search kept out of URLs, filter errors in Dutch, actions fired through the service, letter PDFs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from schulden.cases.models import Case
from schulden.letters.models import Letter
from tests.demo_world import DemoWorld
from tests.web.test_foundation import csrf_of
from workflows import WorkflowInstance


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --- Mijn werk ---------------------------------------------------------------------------------------------------


def test_mijn_werk_groups_the_tasks_and_links_each_to_its_case(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    with world.db() as s:  # the release comes within six weeks: a task for the PI
        s.execute(update(Case).where(Case.id == demir).values(expected_release=world.today + timedelta(weeks=2)))
        s.commit()
    page = world.client("pi.demo").get("/")
    assert page.status_code == 200
    body = text(page)
    assert "Vrijlating binnen 6 weken zonder verwijzing (1)" in body
    assert f'href="/dossiers/{demir}"' in body
    assert "Ayşe Demir" in body
    assert "Dringend" in body
    # The newest case (IJsselstein, four days in) still has its intake clocks: screening and D&R-plan.
    assert "Screening afronden" in body
    [row] = world.audit("tasks.list")
    assert set(row.details["case_ids"]) == {demir, world.case_id("IJsselstein")}


def test_mijn_werk_of_another_pi_shows_nothing_of_zwolle(world: DemoWorld) -> None:
    body = text(world.client("pi.lelystad.demo").get("/"))
    assert "geen taken" in body
    assert "Demir" not in body


def test_mijn_werk_puts_groups_with_urgent_tasks_first() -> None:
    from schulden.web.home import group_tasks
    from schulden.worklist import Task

    tasks = [
        Task("reply_to_review", "Antwoord lezen", 1, "A"),
        Task("letter_failed", "Brief L1 mislukt", 2, "B", urgent=True),
        Task("reply_to_review", "Antwoord lezen", 3, "C"),
    ]
    groups = group_tasks(tasks)
    assert [g.kind for g in groups] == ["letter_failed", "reply_to_review"]
    assert [t.case_id for t in groups[1].tasks] == [1, 3]


# --- the case list -----------------------------------------------------------------------------------------------


def test_case_list_shows_the_cases_in_scope_with_an_audit_row(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    page = client.get("/dossiers")
    assert page.status_code == 200
    body = text(page)
    for name in ("IJsselstein", "Demir", "Vries, de"):
        assert name in body
    assert '<caption class="utrecht-table__caption">Dossiers</caption>' in body
    [row] = world.audit("case.list")
    assert len(row.details["case_ids"]) == 3

    other = text(world.client("pi.lelystad.demo").get("/dossiers"))
    assert "Geen dossiers gevonden" in other
    assert "Demir" not in other


def test_case_list_filters_by_state_and_urgency_in_the_url(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    body = text(client.get("/dossiers?state=inventory"))
    assert "Demir" in body
    assert "IJsselstein" not in body
    assert '<option value="inventory" selected>' in body
    assert "Demir" not in text(client.get("/dossiers?urgent=true"))
    soon = (world.today + timedelta(weeks=4)).isoformat()
    body = text(client.get(f"/dossiers?release_before={soon}"))
    assert "Vries" in body
    assert "Demir" not in body


def test_bad_filters_answer_422_in_dutch_with_the_field_marked(world: DemoWorld) -> None:
    page = world.client("pi.demo").get("/dossiers?release_after=31-02-2025&urgent=misschien")
    assert page.status_code == 422
    body = text(page)
    assert "Controleer de invoer" in body
    assert 'href="#veld-release_after"' in body
    assert 'id="veld-release_after"' in body
    assert 'aria-invalid="true"' in body
    assert 'value="31-02-2025"' in body  # what was typed is kept


def test_surname_search_is_a_post_and_the_name_never_reaches_a_url(world: DemoWorld) -> None:
    client = world.client("pi.demo")
    token = csrf_of(client, "/dossiers")
    page = client.post("/dossiers", data={"surname": "dem", "csrf_token": token})
    assert page.status_code == 200
    body = text(page)
    assert "Demir" in body
    assert "IJsselstein" not in body
    assert "dem" not in "".join(re.findall(r'href="([^"]+)"', body))
    # A surname in the query string is not a filter of the list.
    assert "IJsselstein" in text(client.get("/dossiers?surname=dem"))
    # Without the CSRF token the search is refused.
    assert client.post("/dossiers", data={"surname": "dem"}).status_code == 400


def test_case_list_pages_with_the_keyset_cursor(world: DemoWorld) -> None:
    from schulden.web import cases as dossiers

    client = world.client("pi.demo")
    original = dossiers.PAGE_SIZE
    dossiers.PAGE_SIZE = 2
    try:
        first = text(client.get("/dossiers"))
        link = re.search(r'href="(/dossiers\?after=[^"]+)"', first)
        assert link, "no link to the next page"
        second = text(client.get(link.group(1).replace("&amp;", "&")))
        assert "IJsselstein" in second  # the oldest case, alone on page two
        assert "Volgende pagina" not in second
        assert client.get("/dossiers?after=onzin").status_code == 422
    finally:
        dossiers.PAGE_SIZE = original


# --- the case page -----------------------------------------------------------------------------------------------


def test_case_page_shows_summary_debts_timeline_diagram_and_actions(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    page = world.client("pi.demo").get(f"/dossiers/{demir}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    body = text(page)
    assert "Dossier" in body
    assert "Ayşe Demir" in body
    assert "*****9842" in body
    assert "000009842" not in body
    assert "PI Zwolle" in body
    # Debts: 450 + 1825,50 + 40 + 612 = 2927,50; per category and per amount status.
    assert "€\xa02.927,50" in body
    assert "Totaal per categorie" in body
    assert "Totaal per bedragstatus" in body
    assert "Geschat" in body
    # The diagram: the states in order, the current one marked.
    assert re.search(r'aria-current="step">\s*<strong>Inventarisatie</strong>', body)
    # The overview first: where, the state in words, the next step and who takes it.
    assert "Waar het dossier staat" in body
    assert "PI Zwolle, gevangenisstraf sinds" in body
    assert "Door de schuldhulpverlener." in body
    # Actions: allowed as buttons (a step with a reason opens its check page), refused listed with the reason.
    assert f'href="/dossiers/{demir}/stap/put_on_hold"' in body
    assert "Inventarisatie afronden" in body
    assert "Uw rol mag deze actie niet uitvoeren." in body
    # The timeline merges history and letters, in words rather than letter codes.
    assert "Stap:" in body
    assert re.search(r"Brief:</span>\s*Melding detentie, verzoek opschorting incasso en saldo-opgave:", body)
    assert "L1 (ronde 1)" not in body
    for action in ("case.read", "case.history", "case.actions", "debt.list", "letter.list", "reply.list"):
        assert [r.case_id for r in world.audit(action)] == [demir], action


def test_volunteer_sees_no_bsn_field(world: DemoWorld) -> None:
    body = text(world.client("vrijwilliger.demo").get(f"/dossiers/{world.case_id('Demir')}"))
    assert "Ayşe Demir" in body
    assert "BSN" not in body
    assert "9842" not in body


def test_a_case_out_of_scope_is_a_404_page_with_the_apis_audit_row(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("pi.lelystad.demo")
    page = client.get(f"/dossiers/{demir}", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "Niet gevonden" in text(page)
    assert "Demir" not in text(page)
    assert client.get("/dossiers/999999").status_code == 404
    denied = world.audit("authz_denied")
    assert [(r.object_type, r.object_id, r.result) for r in denied] == [
        ("case", str(demir), "denied"),
        ("case", "999999", "denied"),
    ]
    assert world.audit("case.read") == []
    token = csrf_of(client, "/dossiers")
    assert (
        client.post(
            f"/dossiers/{demir}/actie", data={"event": "put_on_hold", "reason": "x", "csrf_token": token}
        ).status_code
        == 404
    )


def test_actions_fire_through_the_service_and_refusals_say_why(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("pi.demo")
    token = csrf_of(client, f"/dossiers/{demir}")
    url = f"/dossiers/{demir}/actie"

    # "Aanhouden" asks a reason on its check page, which says what will happen.
    check = text(client.get(f"/dossiers/{demir}/stap/put_on_hold"))
    assert "De termijnen van het dossier stoppen" in check
    missing = client.post(url, data={"event": "put_on_hold", "csrf_token": token})
    assert missing.status_code == 409
    assert "Geef een reden op voor deze actie." in text(missing)
    assert "<title>Fout: " in text(missing)
    assert 'id="veld-reason"' in text(missing)
    assert 'href="#veld-reason">Geef een reden op' in text(missing)  # the summary links the field

    # A bare button refused: back to the case page, the reason at the top.
    refused = client.post(url, data={"event": "complete_inventory", "csrf_token": token})
    assert refused.status_code == 303
    assert "Uw rol mag deze actie niet uitvoeren." in text(client.get(refused.headers["Location"]))

    service = client.post(url, data={"event": "send_referral", "csrf_token": token})
    assert service.status_code == 303
    assert "Deze stap heeft een eigen formulier." in text(client.get(service.headers["Location"]))

    done = client.post(url, data={"event": "put_on_hold", "reason": "Gedetineerde ziek", "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/dossiers/{demir}")
    body = text(client.get(done.headers["Location"]))
    assert "Aanhouden: uitgevoerd op" in body
    assert f"Referentie: dossier {demir}." in body
    assert re.search(r'aria-current="step">\s*<strong>Aangehouden</strong>', body)
    assert "Gedetineerde ziek" in body  # the reason in the timeline
    with world.db() as s:
        state = s.scalar(
            select(WorkflowInstance.state).join(Case, Case.instance_id == WorkflowInstance.id).where(Case.id == demir)
        )
    assert state == "on_hold"
    [event_row] = world.audit("case.event")
    assert event_row.details == {"event": "put_on_hold"}

    assert client.post(url, data={"event": "resume"}).status_code == 400  # no CSRF token


@pytest.mark.usefixtures("committed")  # the demo's letters rendered: their PDFs
def test_letter_pdf_with_the_apis_checks(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    with world.db() as s:
        letter = s.scalars(
            select(Letter).where(Letter.case_id == demir, Letter.storage_key.is_not(None)).order_by(Letter.id)
        ).first()
        assert letter is not None
        letter_id = letter.id
    client = world.client("pi.demo")
    assert f"/dossiers/brieven/{letter_id}.pdf" in text(client.get(f"/dossiers/{demir}"))
    pdf = client.get(f"/dossiers/brieven/{letter_id}.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="brief-{letter_id}.pdf"'
    inline = client.get(f"/dossiers/brieven/{letter_id}.pdf?bekijken=1")
    assert inline.headers["Content-Disposition"].startswith("inline;")
    assert [r.object_id for r in world.audit("letter.download")] == [str(letter_id)] * 2

    other = world.client("pi.lelystad.demo")
    assert other.get(f"/dossiers/brieven/{letter_id}.pdf").status_code == 404
    assert [r.object_id for r in world.audit("authz_denied")] == [str(letter_id)]


def test_flag_threat_takes_the_kind_of_threat_from_its_select(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("vrijwilliger.demo")
    token = csrf_of(client, f"/dossiers/{demir}")
    url = f"/dossiers/{demir}/actie"
    assert f'href="/dossiers/{demir}/stap/flag_threat"' in text(client.get(f"/dossiers/{demir}"))
    assert 'id="veld-choice"' in text(client.get(f"/dossiers/{demir}/stap/flag_threat"))

    missing = client.post(url, data={"event": "flag_threat", "csrf_token": token})
    assert missing.status_code == 409
    assert re.search(r'id="veld-choice" name="choice"[^>]*aria-invalid="true"', text(missing))

    wrong = client.post(url, data={"event": "flag_threat", "choice": "meteoriet", "csrf_token": token})
    assert wrong.status_code == 422

    done = client.post(url, data={"event": "flag_threat", "choice": "eviction", "csrf_token": token})
    assert done.status_code == 303
    with world.db() as s:
        assert s.scalar(select(Case.urgent).where(Case.id == demir)) is True


def test_closing_takes_a_reason_and_the_kind_of_closure(world: DemoWorld) -> None:
    case_id = world.case_id("IJsselstein")
    client = world.client("schuldhulp.demo")
    page = text(client.get(f"/dossiers/{case_id}"))
    assert f'href="/dossiers/{case_id}/stap/close"' in page
    assert "utrecht-button--danger" in page  # closing is in the warning style
    assert "consent_reminder_due" not in page  # the clocks' events are no buttons
    check = text(client.get(f"/dossiers/{case_id}/stap/close"))
    assert 'id="veld-choice"' in check
    assert "dat kan niet worden teruggedraaid" in check
    token = csrf_of(client, f"/dossiers/{case_id}")
    url = f"/dossiers/{case_id}/actie"
    missing = client.post(url, data={"event": "close", "reason": "Dubbel dossier", "csrf_token": token})
    assert missing.status_code == 409
    assert 'href="#veld-choice"' in text(missing)
    assert "Dubbel dossier" in text(missing)  # what was typed stays
    done = client.post(url, data={"event": "close", "reason": "Dubbel dossier", "choice": "other", "csrf_token": token})
    assert done.status_code == 303
    body = text(client.get(f"/dossiers/{case_id}"))
    assert re.search(r'aria-current="step">\s*<strong>Afgesloten</strong>', body)
