"""Vrijlating vastleggen (the case page's release form: date, check step, confirm) and the manual-letter task on
Mijn werk, through the Flask test client on the fast demo world (no job may start: PI staff record the releases,
the demo's cases have no insurer)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from schulden.cases.models import Case
from schulden.letters.models import Channel, Letter, LetterStatus
from tests.demo_world import DemoWorld
from tests.web.dates import box_values, shown
from tests.web.test_foundation import csrf_of
from workflows import WorkflowInstance


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def _without_insurer(world: DemoWorld, case_id: int) -> None:
    """The fast world starts no job: without an insurer the release asks for no letter (L6's reactivation is
    tests/integration/test_release.py's)."""
    with world.db() as s:
        s.get_one(Case, case_id).health_insurer_id = None
        s.commit()


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_pi_staff_check_then_record_a_release(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    _without_insurer(world, demir)
    client = world.client("pi.demo")
    case_page = text(client.get(f"/dossiers/{demir}"))
    assert f'href="/dossiers/{demir}/vrijlating"' in case_page

    url = f"/dossiers/{demir}/vrijlating"
    form = client.get(url)
    assert form.status_code == 200
    assert box_values(text(form), "released_on") == shown(world.today), "the date defaults to today"
    token = csrf_of(client, url)
    released_on = (world.today - timedelta(days=2)).isoformat()

    check = client.post(url, data={"csrf_token": token, "stap": "controleren", "released_on": released_on})
    assert check.status_code == 200
    body = text(check)
    assert "Wat er gaat gebeuren" in body
    l1 = "L1 Melding detentie, verzoek opschorting incasso en saldo-opgave"
    assert body.count(l1) == 2, "both unsent L1s are stopped"
    assert "Er is geen zorgverzekeraar vastgelegd" in body
    assert "De verwijzing is vandaag nodig" in body
    assert "zorgtoeslag opnieuw" in body
    with world.db() as s:
        assert s.get_one(Case, demir).actual_release is None, "the check step writes nothing"
        version = str(s.get_one(Case, demir).row_version)

    done = client.post(
        url, data={"csrf_token": token, "stap": "bevestigen", "released_on": released_on, "version": version}
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/dossiers/{demir}")
    with world.db() as s:
        case = s.get_one(Case, demir)
        assert case.actual_release is not None
        assert case.actual_release.isoformat() == released_on
        assert s.get_one(WorkflowInstance, case.instance_id).state == "referral_due"
        statuses = {letter.status for letter in s.scalars(select(Letter).where(Letter.case_id == demir))}
        assert statuses == {LetterStatus.CANCELLED.value}
    page = text(client.get(f"/dossiers/{demir}"))
    assert "is vastgelegd" in page
    assert f'href="/dossiers/{demir}/vrijlating"' not in page, "recorded once"
    assert world.audit("case.release")


def test_a_release_date_in_the_future_is_shown_at_its_field(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("pi.demo")
    url = f"/dossiers/{demir}/vrijlating"
    token = csrf_of(client, url)
    future = (world.today + timedelta(days=1)).isoformat()

    page = client.post(url, data={"csrf_token": token, "stap": "controleren", "released_on": future})

    assert page.status_code == 422
    assert "De datum van vrijlating ligt in de toekomst." in text(page)
    assert 'aria-invalid="true"' in text(page)
    empty = client.post(url, data={"csrf_token": token, "stap": "controleren", "released_on": ""})
    assert empty.status_code == 422


def test_a_confirmation_on_a_stale_check_step_is_not_applied(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    client = world.client("pi.demo")
    url = f"/dossiers/{demir}/vrijlating"
    token = csrf_of(client, url)

    page = client.post(
        url,
        data={"csrf_token": token, "stap": "bevestigen", "released_on": world.today.isoformat(), "version": "0"},
    )

    assert page.status_code == 409
    assert "intussen gewijzigd" in text(page)
    with world.db() as s:
        assert s.get_one(Case, demir).actual_release is None


def test_the_release_form_is_404_out_of_scope_and_403_for_volunteers(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    assert world.client("pi.lelystad.demo").get(f"/dossiers/{demir}/vrijlating").status_code == 404
    assert world.client("vrijwilliger.demo").get(f"/dossiers/{demir}/vrijlating").status_code == 403


def test_mijn_werk_shows_the_intake_clocks_to_the_pi(world: DemoWorld) -> None:
    body = text(world.client("pi.demo").get("/"))
    assert "Screening afronden (10 werkdagen)" in body
    assert "D&amp;R-plan vaststellen (1 maand)" in body


def test_the_counsellor_marks_a_manual_letter_sent_from_mijn_werk(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    with world.db() as s:
        letter = s.scalars(select(Letter).where(Letter.case_id == demir).order_by(Letter.id)).first()
        assert letter is not None
        letter.channel = Channel.MANUAL.value
        letter.recipient_channel_note = "het webformulier van het CJIB"
        letter.status, letter.sha256, letter.storage_key = LetterStatus.RENDERED.value, "0" * 64, f"k/{letter.id}"
        s.commit()
        letter_id, recipient = letter.id, letter.recipient_name
    client = world.client("schuldhulp.demo")

    home = text(client.get("/"))
    assert "Brieven om zelf te versturen (1)" in home
    assert f"aan {recipient} via het webformulier van het CJIB" in home
    action = f"/taken/brieven/{letter_id}/verstuurd"
    assert f'action="{action}"' in home

    done = client.post(action, data={"csrf_token": csrf_of(client, "/")})
    assert done.status_code == 303
    with world.db() as s:
        assert s.get_one(Letter, letter_id).status == LetterStatus.SENT.value
    assert "Brieven om zelf te versturen" not in text(client.get("/"))
    # A second click finds nothing to send: the list says why, nothing changes.
    again = client.post(action, data={"csrf_token": csrf_of(client, "/")}, follow_redirects=True)
    assert "Alleen een gemaakte brief" in text(again)
    staff = world.client("pi.demo")
    assert staff.post(action, data={"csrf_token": csrf_of(staff, "/")}).status_code == 403
