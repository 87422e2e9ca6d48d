"""The demo world (schulden.demo.seed_demo) for page and API tests: the `demo_world` fixture of tests/conftest.py.

Two ways, chosen as the harness chooses for `app` and `db` (docs/testing.md):

* fast (the default): the demo is seeded with `db` into the shared `app`'s test transaction, which is rolled back
  after the test. Seeding through `db` starts no job, so the demo's letters stay `queued` (no PDF) and its
  referral is not delivered; a request that starts a job (letters, a referral, an e-mail) fails the test, since
  the job would open a connection of its own that cannot see the data (SQLite: that waits for the lock).
* committed: a test (or its file's fixture) that asks for `committed` gets a new app on the committed database with
  a letter store in tmp_path and a real SMTP server (`smtp_server`), and the demo committed through the app, so
  the in-process queue renders the letters, sends the e-mail ones and delivers the referral, as `make run` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from schulden.app import create_app
from schulden.audit import AuditEntry
from schulden.cases.models import Case, Detainee
from schulden.demo import DEMO_PASSWORD, seed_demo
from schulden.http.ports import runtime
from schulden.ports import Runtime
from tests.conftest import SmtpServer, make_settings

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class DemoWorld:
    """The demo seeded on an app: its users (password `DEMO_PASSWORD`), three cases, creditors and letters."""

    app: Flask
    today: date
    #: A test client kept for the whole test, signed in as nobody: the API's calls (with `token`) and the
    #: creditor's reply pages.
    http: FlaskClient
    #: Real commits, rendered letters and e-mail (see the module's docstring); False on the fast path.
    committed: bool
    sessions: Callable[[], Session]
    smtp_server: SmtpServer | None = None
    letter_store: Path | None = None

    @property
    def runtime(self) -> Runtime:
        return runtime(self.app)

    @property
    def smtp(self) -> SmtpServer:
        """The SMTP server the app sends to (committed only)."""
        if self.smtp_server is None:
            raise RuntimeError("the fast demo world sends no e-mail: ask for `committed`")
        return self.smtp_server

    def db(self) -> Session:
        """A session that sees what the requests wrote (committed: the app's own, whose commits start jobs)."""
        return self.sessions()

    def client(self, username: str, password: str = DEMO_PASSWORD) -> FlaskClient:
        """A new test client signed in on the login page as `username`."""
        client = self.app.test_client()
        response = client.post(
            "/aanmelden", data={"username": username, "password": password, "csrf_token": csrf(client, "/aanmelden")}
        )
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        return client

    def token(self, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
        """The API's bearer header for `username`."""
        response = self.http.post("/api/v1/auth/token", json={"username": username, "password": password})
        body = response.json
        assert response.status_code == 201, body
        assert body is not None
        return {"Authorization": f"Bearer {body['access_token']}"}

    def case_id(self, surname: str) -> int:
        """The demo case of this surname: IJsselstein (waits for consent), Demir (inventory), Vries (referred)."""
        with self.db() as s:
            found: int | None = s.scalar(select(Case.id).join(Detainee).where(Detainee.surname == surname))
            assert found is not None, surname
            return found

    def audit(self, *actions: str) -> list[AuditEntry]:
        """The audit rows of these actions, oldest first."""
        with self.db() as s:
            rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.id)))
            s.expunge_all()
            return rows


def csrf(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on `path`."""
    match = CSRF.search(client.get(path, follow_redirects=True).get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def open_demo_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoWorld]:
    """The `demo_world` fixture's body: committed when the test asks for `committed`, otherwise fast."""
    if "committed" in request.fixturenames:
        yield from _committed(request, tmp_path)
    else:
        yield from _fast(request)


def _today(rt: Runtime) -> date:
    return rt.engine.clock().astimezone(rt.engine.timezone).date()


def _committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoWorld]:
    url: str = request.getfixturevalue("committed_url")
    smtp: SmtpServer = request.getfixturevalue("smtp_server")
    try:
        yield seed_committed(url, letter_store=tmp_path / "store", smtp=smtp)
    finally:
        runtime_module._current = None  # the next test's app is built afresh (conftest's _current_app_of)


def seed_committed(url: str, *, letter_store: Path | None = None, smtp: SmtpServer | None = None) -> DemoWorld:
    """A new app on the committed database at `url` with the demo committed through it (the in-process queue
    renders and sends the letters and delivers the referral). Without `smtp` the e-mail waits; without
    `letter_store` the PDFs go to the default store."""
    changes: dict[str, object] = {"letter_store": letter_store} if letter_store is not None else {}
    if smtp is not None:
        changes |= {"smtp_host": "127.0.0.1", "smtp_port": smtp.port}
    app = create_app(make_settings(url, **changes))
    app.config["TESTING"] = True
    rt = runtime(app)
    today = _today(rt)
    with rt.database.session() as session:
        seed_demo(session, rt.engine, today=today)
        session.commit()  # the in-process queue renders and sends the letters and delivers the referral now
    return DemoWorld(app, today, app.test_client(), True, rt.database.session, smtp, letter_store)


def _fast(request: pytest.FixtureRequest) -> Iterator[DemoWorld]:
    app: Flask
    connection: Connection | None
    app, connection = request.getfixturevalue("app_connection")
    assert connection is not None
    sessions: sessionmaker[Session] = request.getfixturevalue("db")
    # The connection is to the demo database, seeded once (conftest's `_seeded_demo`); its letters stay queued.
    today = request.getfixturevalue("_seeded_demos")[-1].today
    rt = runtime(app)
    started: list[str] = []

    def refuse(func: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        started.append(kwargs.get("job_id") or func.__name__)
        return True

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rt.queue, "enqueue", refuse)
        yield DemoWorld(app, today, app.test_client(), False, sessions)
    if started:
        pytest.fail(
            f"requests on the fast demo world started jobs {started}: they need their own connection; give the test"
            " (or its file) `committed` (pytest.mark.usefixtures('committed'))",
            pytrace=False,
        )
