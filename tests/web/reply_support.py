"""The demo app for the reply page's tests (sessions, versions, uploads, limits): a creditor letter with a code and
QR token the test knows, and helpers that open the page and answer as a creditor's browser would.

The letter's secrets are replaced by fresh ones after the demo's letters were rendered, so the tests need not read
the code back from the PDF (test_referral_story.py does that once, end to end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from schulden.cases.models import Case, Detainee
from schulden.letters.models import Letter
from schulden.letters.reply_codes import ReplyCodeKey, new_reply_secrets
from tests.demo_world import CSRF, DemoWorld


@dataclass
class ReplyWorld:
    """The committed demo world and the two letters whose secrets the test knows."""

    demo: DemoWorld
    letter_id: int
    debt_id: int
    case_id: int
    code: str
    token: str
    other_letter_id: int
    other_token: str

    @property
    def app(self) -> Flask:
        return self.demo.app

    @property
    def client(self) -> FlaskClient:
        """The creditor's browser: one test client for the whole test."""
        return self.demo.http

    @property
    def today(self) -> date:
        return self.demo.today

    def db(self) -> Session:
        return self.demo.db()

    def new_client(self) -> FlaskClient:
        return self.app.test_client()

    def bearer(self, username: str = "schuldhulp.demo") -> dict[str, str]:
        return self.demo.token(username)

    def balance(self, euro: str = "1.234,50") -> dict[str, str]:
        return {"principal_cents": euro, "peildatum": (self.today - timedelta(days=1)).isoformat()}


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, (page.status_code, page.get_data(as_text=True)[:500])
    return match.group(1)


def open_with_link(client: FlaskClient, token: str) -> None:
    opened = client.get(f"/antwoord/{token}")
    assert opened.status_code == 303, opened.get_data(as_text=True)[:300]
    assert opened.headers["Location"].endswith("/antwoord/brief")


def fill(client: FlaskClient, answer: dict[str, Any]) -> Any:
    """Post the answer form of the open session (with its CSRF token), as multipart like the browser: 303 to the
    check page when the answer passes, the form again (422) when it does not."""
    fields = MultiDict({**answer, "csrf_token": csrf(client, "/antwoord/brief")})
    # Encoded here in memory: the test client would spool a big body to a temporary file it never closes.
    boundary, body = encode_multipart(fields)
    return client.post("/antwoord/brief", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def confirm(client: FlaskClient) -> Any:
    """ "Antwoord versturen" on the check page."""
    token = csrf(client, "/antwoord/controleer")
    return client.post("/antwoord/controleer", data={"confirm": "1", "csrf_token": token})


def submit(client: FlaskClient, answer: dict[str, Any]) -> Any:
    """Fill the form and send the answer from "Controleer uw antwoord", as a creditor does: the last response (303
    to the confirmation when sent; the form's own response when the form refused the answer)."""
    filled = fill(client, answer)
    if filled.status_code != 303 or not filled.headers["Location"].endswith("/antwoord/controleer"):
        return filled
    return confirm(client)


@pytest.fixture
def world(committed: object, demo_world: DemoWorld) -> ReplyWorld:
    """Committed: the demo's letters are rendered (and answering starts jobs)."""
    with demo_world.db() as session:
        letter, other = session.scalars(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .join(Detainee, Detainee.id == Case.detainee_id)
            .where(Detainee.surname == "Demir", Letter.letter_type == "L1")
            .order_by(Letter.id)
        ).all()[:2]
        assert letter.status in ("rendered", "sent")
        assert letter.debt_id is not None
        key = ReplyCodeKey.derive(demo_world.runtime.settings.secret_key)
        known = new_reply_secrets(key)
        letter.reply_code_lookup, letter.reply_code_hash = known.lookup, known.code_hash
        letter.reply_token_hash = known.token_hash
        other_known = new_reply_secrets(key)
        other.reply_code_lookup, other.reply_code_hash = other_known.lookup, other_known.code_hash
        other.reply_token_hash = other_known.token_hash
        ids = (letter.id, letter.debt_id, letter.case_id, other.id)
        session.commit()
    return ReplyWorld(demo_world, ids[0], ids[1], ids[2], known.code, known.token, ids[3], other_known.token)
