"""The creditor answer's API for the counsellor (issue 13 item 1): read one, mark it read, take its amounts over,
type in a paper answer. Roles before versions, problem JSON in Dutch, the debt changed only by /confirm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from schulden.debts.models import Debt
from schulden.letters.models import Letter
from schulden.replies.services import submit_answer
from tests.demo_world import DemoWorld
from workflows import WorkflowInstance

API = "/api/v1"


@pytest.fixture
def world(demo_world: DemoWorld) -> DemoWorld:
    return demo_world


def _rent(world: DemoWorld) -> tuple[int, int]:
    """Demir's rent debt and its first letter."""
    case_id = world.case_id("Demir")
    with world.db() as s:
        debt_id = s.scalars(select(Debt.id).where(Debt.case_id == case_id, Debt.debt_type == "huur")).one()
        letter_id = s.scalars(select(Letter.id).where(Letter.debt_id == debt_id).order_by(Letter.id)).first()
        assert letter_id is not None
        return debt_id, letter_id


def _creditor_answers(world: DemoWorld, letter_id: int, **changes: Any) -> int:
    rt = world.runtime
    with world.db() as s:
        data = {"principal_cents": 150_000, "costs_cents": 2_500, "peildatum": world.today - timedelta(days=1)}
        reply = submit_answer(
            s, rt.engine, letter=s.get_one(Letter, letter_id), data={**data, **changes}, attachment=None, origin=None
        )
        s.commit()
        return reply.id


def _debt(world: DemoWorld, debt_id: int) -> tuple[int, str, str]:
    with world.db() as s:
        debt = s.get_one(Debt, debt_id)
        return debt.total_cents, debt.amount_status, s.get_one(WorkflowInstance, debt.instance_id).state


def test_read_review_and_confirm_an_answer(world: DemoWorld) -> None:
    debt_id, letter_id = _rent(world)
    reply_id = _creditor_answers(world, letter_id)
    counsellor = world.token("schuldhulp.demo")
    http = world.http

    got = http.get(f"{API}/replies/{reply_id}", headers=counsellor)
    assert got.status_code == 200
    assert got.json is not None
    assert (got.json["review_status"], got.json["awaits_take_over"], got.json["total_cents"]) == ("new", True, 152_500)
    assert got.json["events"] == "reply_received,balance_received"
    assert _debt(world, debt_id) == (186_550, "estimated", "answer_received")

    reviewed = http.post(f"{API}/replies/{reply_id}/review", headers=counsellor)
    assert reviewed.status_code == 200
    assert reviewed.json is not None
    assert (reviewed.json["review_status"], reviewed.json["reviewed_by"]) == ("read", reviewed.json["reviewed_by"])
    assert reviewed.json["reviewed_at"] is not None
    assert _debt(world, debt_id) == (186_550, "estimated", "answer_received")  # reading changes no amount

    # A stale version is refused before anything changes; the debt's ETag is the version to send.
    stale = http.post(f"{API}/replies/{reply_id}/confirm", headers={**counsellor, "If-Match": '"0"'})
    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    etag = http.get(f"{API}/debts/{debt_id}", headers=counsellor).headers["ETag"]
    confirmed = http.post(f"{API}/replies/{reply_id}/confirm", headers={**counsellor, "If-Match": etag})
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json is not None
    assert (confirmed.json["review_status"], confirmed.json["amounts_taken_over"]) == ("taken_over", True)
    assert confirmed.headers["ETag"] != etag
    assert _debt(world, debt_id) == (152_500, "confirmed", "balance_confirmed")

    again = http.post(f"{API}/replies/{reply_id}/confirm", headers=counsellor)
    assert again.status_code == 409
    assert again.json is not None
    assert again.json["detail"] == "De bedragen van dit antwoord zijn al overgenomen."
    assert [row.object_id for row in world.audit("reply.confirm")] == [str(reply_id)]


def test_an_answer_without_amounts_has_nothing_to_take_over(world: DemoWorld) -> None:
    _debt_id, letter_id = _rent(world)
    reply_id = _creditor_answers(
        world, letter_id, principal_cents=None, costs_cents=None, peildatum=None, note="Wij zoeken het uit."
    )
    refused = world.http.post(f"{API}/replies/{reply_id}/confirm", headers=world.token("schuldhulp.demo"))
    assert refused.status_code == 409
    assert refused.json is not None
    assert refused.json["detail"] == "Dit antwoord noemt geen bedragen om over te nemen."


@pytest.mark.parametrize("username", ["pi.demo", "vrijwilliger.demo", "gemeente.demo"])
def test_only_a_counsellor_reviews_and_confirms_and_the_role_comes_before_the_version(
    world: DemoWorld, username: str
) -> None:
    debt_id, letter_id = _rent(world)
    reply_id = _creditor_answers(world, letter_id)
    headers = {**world.token(username), "If-Match": '"0"'}

    for path in (f"{API}/replies/{reply_id}/confirm", f"{API}/replies/{reply_id}/review"):
        response = world.http.post(path, headers=headers)
        assert response.status_code == 403, path
        assert response.mimetype == "application/problem+json"
    assert _debt(world, debt_id)[1] == "estimated"


def test_a_paper_answer_through_the_api_takes_its_amounts_over(world: DemoWorld) -> None:
    debt_id, letter_id = _rent(world)
    earlier = _creditor_answers(world, letter_id)
    counsellor = world.token("schuldhulp.demo")
    path = f"{API}/debts/{debt_id}/replies"

    bad = world.http.post(
        path,
        json={"channel": "web", "received_on": "gisteren", "principal_cents": "1.234,56", "letter_id": letter_id},
        headers=counsellor,
    )
    assert bad.status_code == 422
    assert bad.mimetype == "application/problem+json"
    assert bad.json is not None
    assert set(bad.json["errors"]) == {"channel", "received_on", "principal_cents"}

    yesterday = (world.today - timedelta(days=1)).isoformat()
    created = world.http.post(
        path,
        json={
            "channel": "phone",
            "received_on": yesterday,
            "principal_cents": 99_000,
            "peildatum": yesterday,
            "letter_id": letter_id,
            "contact_name": "Dhr. Bakker",
        },
        headers=counsellor,
    )
    assert created.status_code == 201, created.json
    assert created.json is not None
    body = created.json
    assert (body["channel"], body["version"], body["review_status"], body["amounts_taken_over"]) == (
        "phone", 2, "taken_over", True,
    )  # fmt: skip
    assert _debt(world, debt_id) == (99_000, "confirmed", "balance_confirmed")
    earlier_now = world.http.get(f"{API}/replies/{earlier}", headers=counsellor).json
    assert earlier_now is not None
    assert earlier_now["superseded_at"] is not None
    assert earlier_now["awaits_take_over"] is False


def test_an_unknown_answer_is_not_found(world: DemoWorld) -> None:
    counsellor = world.token("schuldhulp.demo")
    for method, path in (("get", "/replies/987654"), ("post", "/replies/987654/review"),
                         ("post", "/replies/987654/confirm")):  # fmt: skip
        response = getattr(world.http, method)(f"{API}{path}", headers=counsellor)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
