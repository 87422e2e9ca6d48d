"""The demo app for the reply page's tests (sessions, versions, uploads, limits): a creditor letter with a code and
QR token the test knows, and helpers that open the page and answer as a creditor's browser would.

The letter's secrets are replaced by fresh ones after the demo's letters were rendered, so the tests need not read
the code back from the PDF (test_referral_story.py does that once, end to end).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from integrations import runtime as runtime_module
from schulden.app import create_app
from schulden.cases.models import Case, Detainee
from schulden.demo import seed_demo
from schulden.letters.models import Letter
from schulden.letters.reply_codes import new_reply_secrets
from tests.conftest import make_settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class ReplyWorld:
    app: Flask
    client: FlaskClient
    today: date
    letter_id: int
    debt_id: int
    case_id: int
    code: str
    token: str
    other_letter_id: int
    other_token: str

    def db(self) -> Any:
        return self.app.extensions["schuldroute.runtime"].database.session()

    def new_client(self) -> FlaskClient:
        return self.app.test_client()

    def bearer(self, username: str = "schuldhulp.demo") -> dict[str, str]:
        response = self.client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
        assert response.status_code == 201, response.json
        return {"Authorization": f"Bearer {response.json['access_token']}"}

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


def submit(client: FlaskClient, answer: dict[str, Any]) -> Any:
    """Post the answer form of the open session (with its CSRF token), as multipart like the browser."""
    fields = MultiDict({**answer, "csrf_token": csrf(client, "/antwoord/brief")})
    # Encoded here in memory: the test client would spool a big body to a temporary file it never closes.
    boundary, body = encode_multipart(fields)
    return client.post("/antwoord/brief", data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def world(committed_url: str, tmp_path: Path) -> Iterator[ReplyWorld]:
    app = create_app(make_settings(committed_url, letter_store=tmp_path / "store"))
    app.config["TESTING"] = True
    rt = app.extensions["schuldroute.runtime"]
    today = rt.engine.clock().astimezone(rt.engine.timezone).date()
    with rt.database.session() as session:
        seed_demo(session, rt.engine, today=today)
        session.commit()  # the demo's letters are rendered by the in-process queue after this commit
    with rt.database.session() as session:
        letter, other = session.scalars(
            select(Letter)
            .join(Case, Case.id == Letter.case_id)
            .join(Detainee, Detainee.id == Case.detainee_id)
            .where(Detainee.surname == "Demir", Letter.letter_type == "L2")
            .order_by(Letter.id)
        ).all()[:2]
        assert letter.status in ("rendered", "sent")
        assert letter.debt_id is not None
        known = new_reply_secrets()
        letter.reply_code_lookup, letter.reply_code_hash = known.lookup, known.code_hash
        letter.reply_token_hash = known.token_hash
        other_known = new_reply_secrets()
        other.reply_code_lookup, other.reply_code_hash = other_known.lookup, other_known.code_hash
        other.reply_token_hash = other_known.token_hash
        ids = (letter.id, letter.debt_id, letter.case_id, other.id)
        session.commit()
    yield ReplyWorld(app, app.test_client(), today, ids[0], ids[1], ids[2], known.code, known.token, ids[3],
                     other_known.token)  # fmt: skip
    runtime_module._current = None
