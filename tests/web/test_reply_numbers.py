"""The creditor's own numbers on an answer (issue 12 item 8): the reply page and the counsellor's API take "Uw
klantnummer" and "Uw factuurnummer", optional, trimmed, at most 64 characters, refused with a Dutch message that
names the field, and stored on the answer (Schuldenknooppunt's Kennisgeving antwoord carries them).

On the fast demo world: the demo's first letter to a creditor (an L1) is marked sent with reply secrets the test
knows, so the page opens without rendering a PDF (tests/web/reply_support.py does it on the committed world)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden.cases.models import Case, Detainee
from schulden.debts.models import Debt
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.reply_codes import ReplyCodeKey, new_reply_secrets
from schulden.replies.models import CreditorReply
from tests.demo_world import DemoWorld
from tests.web.reply_support import open_with_link, submit
from workflows.store import utcnow


@dataclass
class ReplyWorld:
    demo: DemoWorld
    letter_id: int
    token: str

    @property
    def client(self) -> FlaskClient:
        """The creditor's browser."""
        return self.demo.http

    def db(self) -> Session:
        return self.demo.db()

    def balance(self) -> dict[str, str]:
        return {"principal_cents": "1.234,50", "peildatum": (self.demo.today - timedelta(days=1)).isoformat()}


@pytest.fixture
def world(demo_world: DemoWorld) -> ReplyWorld:
    with demo_world.db() as session:
        letter = session.scalars(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .join(Detainee, Detainee.id == Case.detainee_id)
            .where(Detainee.surname == "Demir", Letter.letter_type == "L1", Letter.debt_id.is_not(None))
            .order_by(Letter.id)
        ).first()
        assert letter is not None
        known = new_reply_secrets(ReplyCodeKey.derive(demo_world.runtime.settings.secret_key))
        letter.status = LetterStatus.SENT.value
        letter.storage_key, letter.sha256 = f"letters/test-{letter.id}.pdf", "0" * 64  # never fetched here
        letter.reply_code_lookup, letter.reply_code_hash = known.lookup, known.code_hash
        letter.reply_token_hash = known.token_hash
        letter.reply_expires_at = utcnow() + timedelta(days=30)
        letter_id = letter.id
        session.commit()
    return ReplyWorld(demo_world, letter_id, known.token)


def _replies(world: ReplyWorld) -> list[CreditorReply]:
    with world.db() as s:
        rows = list(s.scalars(select(CreditorReply).where(CreditorReply.letter_id == world.letter_id)))
        s.expunge_all()
        return rows


def test_the_reply_page_asks_for_the_two_numbers_and_stores_them_trimmed(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)
    form = world.client.get("/antwoord/brief").get_data(as_text=True)
    assert "Uw klantnummer" in form
    assert 'name="creditor_customer_number"' in form
    assert "Uw factuurnummer" in form
    assert 'name="creditor_invoice_number"' in form

    done = submit(
        world.client,
        {**world.balance(), "creditor_customer_number": "  778899-K ", "creditor_invoice_number": "F 2026/0042"},
    )

    assert done.status_code == 303, done.get_data(as_text=True)[:2000]
    [reply] = _replies(world)
    assert reply.creditor_customer_number == "778899-K"
    assert reply.creditor_invoice_number == "F 2026/0042"


def test_the_numbers_alone_are_an_answer(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)

    done = submit(world.client, {"creditor_customer_number": "KL-1"})

    assert done.status_code == 303, done.get_data(as_text=True)[:2000]
    [reply] = _replies(world)
    assert (reply.creditor_customer_number, reply.creditor_invoice_number, reply.principal_cents) == (
        "KL-1",
        None,
        None,
    )


def test_a_number_too_long_is_refused_at_its_field_in_dutch_and_kept_in_the_form(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)
    long_number = "9" * 65

    refused = submit(
        world.client,
        {**world.balance(), "creditor_customer_number": "A" * 64, "creditor_invoice_number": long_number},
    )

    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Uw factuurnummer is te lang: maximaal 64 tekens (nu 65)." in page
    assert "Uw klantnummer is te lang" not in page  # 64 is allowed
    assert long_number in page  # the creditor's input is shown again to correct
    assert _replies(world) == []


def _enter(demo: DemoWorld, **answer: Any) -> Any:
    case_id = demo.case_id("Demir")
    with demo.db() as s:
        debt_id = s.scalar(select(Debt.id).where(Debt.case_id == case_id).order_by(Debt.id))
    return demo.http.post(
        f"/api/v1/debts/{debt_id}/replies",
        json={"channel": "phone", "received_on": demo.today.isoformat(), **answer},
        headers=demo.token("schuldhulp.demo"),
    )


def test_the_counsellors_api_takes_the_numbers_and_names_the_field_when_one_is_too_long(demo_world: DemoWorld) -> None:
    stored = _enter(demo_world, note="Gebeld", creditor_customer_number=" K-9 ", creditor_invoice_number="")
    too_long = _enter(demo_world, note="Gebeld", creditor_customer_number="x" * 65)
    not_text = _enter(demo_world, note="Gebeld", creditor_invoice_number=12345)
    hidden = _enter(demo_world, note="Gebeld", creditor_invoice_number="F-1\u202e2")

    assert stored.status_code == 201, stored.get_json()
    assert stored.get_json()["creditor_customer_number"] == "K-9"
    assert stored.get_json()["creditor_invoice_number"] is None  # empty is absent
    assert too_long.status_code == 422
    assert too_long.get_json()["errors"]["creditor_customer_number"] == [
        "Uw klantnummer is te lang: maximaal 64 tekens (nu 65)."
    ]
    assert not_text.status_code == 422
    assert not_text.get_json()["errors"]["creditor_invoice_number"] == ["Uw factuurnummer: geef het nummer als tekst."]
    assert hidden.status_code == 422
    assert "Uw factuurnummer" in hidden.get_json()["errors"]["creditor_invoice_number"][0]
