"""POST /api/v1/cases/{id}/release and POST /api/v1/letters/{id}/sent-manually on the demo world (fast: no job
may start, so the releases here make no letter: PI staff record them, and the demo's cases have no insurer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.test import TestResponse

from schulden.cases.models import Case
from schulden.debts.models import Debt
from schulden.letters.models import Channel, Letter, LetterStatus
from tests.demo_world import DemoWorld
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


def _release(world: DemoWorld, username: str, case_id: int, body: object, **headers: str) -> TestResponse:
    return world.http.post(f"/api/v1/cases/{case_id}/release", json=body, headers=world.token(username) | headers)


def test_pi_staff_record_a_release_and_the_unsent_letters_stop(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    _without_insurer(world, demir)
    released_on = world.today - timedelta(days=1)

    response = _release(world, "pi.demo", demir, {"released_on": released_on.isoformat()})

    assert response.status_code == 200, response.json
    body = response.json
    assert body["state"] == "referral_due"
    assert body["detention"]["actual_release"] == released_on.isoformat()
    assert response.headers["ETag"]
    with world.db() as s:
        case = s.get_one(Case, demir)
        assert case.actual_release == released_on
        # The demo's unsent letters all describe the detention (L1s, and the intake's L6 and L7 if any).
        letters = list(s.scalars(select(Letter).where(Letter.case_id == demir)))
        assert {letter.status for letter in letters} == {LetterStatus.CANCELLED.value}
        assert "L1" in {letter.letter_type for letter in letters}
    [row] = world.audit("case.release")
    assert row.case_id == demir
    assert row.details["released_on"] == released_on.isoformat()

    again = _release(world, "pi.demo", demir, {"released_on": released_on.isoformat()})
    assert again.status_code == 409
    assert "al vastgelegd" in again.json["detail"]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (1, "De datum van vrijlating ligt in de toekomst."),
        (-400, "De datum van vrijlating ligt voor het begin van de detentie."),
    ],
)
def test_a_release_date_in_the_future_or_before_the_detention_is_422(world: DemoWorld, days: int, message: str) -> None:
    demir = world.case_id("Demir")
    response = _release(world, "pi.demo", demir, {"released_on": (world.today + timedelta(days=days)).isoformat()})
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json["errors"] == {"released_on": [message]}
    with world.db() as s:
        assert s.get_one(Case, demir).actual_release is None


@pytest.mark.parametrize("body", [{}, {"released_on": "gisteren"}, {"released_on": "2026-02-30"}, {"x": 1}])
def test_a_missing_or_malformed_release_date_is_422(world: DemoWorld, body: dict[str, object]) -> None:
    response = _release(world, "pi.demo", world.case_id("Demir"), body)
    assert response.status_code == 422
    assert set(response.json["errors"]) & {"released_on", "x"}


def test_out_of_scope_is_404_and_other_roles_403(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    today = {"released_on": world.today.isoformat()}
    assert _release(world, "pi.lelystad.demo", demir, today).status_code == 404
    assert _release(world, "vrijwilliger.demo", demir, today).status_code == 403
    assert _release(world, "gemeente.demo", demir, today).status_code == 403


def test_a_stale_if_match_is_refused(world: DemoWorld) -> None:
    demir = world.case_id("Demir")
    response = _release(world, "pi.demo", demir, {"released_on": world.today.isoformat()}, **{"If-Match": '"999"'})
    assert response.status_code == 412


def _manual_letter(world: DemoWorld) -> tuple[int, int]:
    """The demo's letter to the CJIB made a manual one, rendered: (letter id, debt id)."""
    with world.db() as s:
        letter = s.scalars(
            select(Letter)
            .where(Letter.case_id == world.case_id("Demir"), Letter.letter_type == "L1")
            .order_by(Letter.id)
        ).first()
        assert letter is not None
        assert letter.debt_id is not None
        letter.channel = Channel.MANUAL.value
        letter.recipient_channel_note = "het webformulier van de schuldeiser"
        letter.status, letter.sha256, letter.storage_key = LetterStatus.RENDERED.value, "0" * 64, f"k/{letter.id}"
        s.commit()
        return letter.id, letter.debt_id


def test_the_counsellor_marks_a_manual_letter_sent(world: DemoWorld) -> None:
    letter_id, debt_id = _manual_letter(world)
    tasks = world.http.get("/api/v1/tasks", headers=world.token("schuldhulp.demo")).json
    assert ("send_manually", letter_id) in [(t["kind"], t["object_id"]) for t in tasks]

    url = f"/api/v1/letters/{letter_id}/sent-manually"
    assert world.http.post(url, headers=world.token("pi.demo")).status_code == 403
    response = world.http.post(url, headers=world.token("schuldhulp.demo"))

    assert response.status_code == 200, response.json
    assert (response.json["id"], response.json["status"], response.json["channel"]) == (letter_id, "sent", "manual")
    with world.db() as s:
        debt = s.get_one(Debt, debt_id)
        assert s.get_one(WorkflowInstance, debt.instance_id).state == "notified"
    again = world.http.post(url, headers=world.token("schuldhulp.demo"))
    assert again.status_code == 409
    assert world.audit("letter.sent_manually")[0].object_id == str(letter_id)


def test_sent_manually_for_an_unknown_letter_is_404(world: DemoWorld) -> None:
    response = world.http.post("/api/v1/letters/999999/sent-manually", headers=world.token("schuldhulp.demo"))
    assert response.status_code == 404
