"""The demo world on a real HTTP server in a thread, for the browser tests (chromium needs a real address).

Letters render in-process after each commit; mail goes to the given SMTP port (the `smtp_server` fixture).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete
from werkzeug.serving import make_server

from integrations import runtime as runtime_module
from schulden.app import create_app
from schulden.demo import DEMO_PASSWORD, seed_demo
from schulden.http.ports import runtime
from schulden.users.models import LoginAttempt
from tests.conftest import make_settings


@dataclass
class Live:
    url: str
    app: Flask
    today: date

    def db(self) -> Any:
        return runtime(self.app).database.session()

    def tick(self) -> None:
        rt = runtime(self.app)
        rt.engine.tick(rt.database.session)


@contextmanager
def demo_server(committed_url: str, tmp_path: Path, *, smtp_port: int) -> Iterator[Live]:
    settings = make_settings(committed_url, letter_store=tmp_path / "store", smtp_host="127.0.0.1", smtp_port=smtp_port)
    app = create_app(settings)
    rt = runtime(app)
    today = rt.engine.clock().astimezone(rt.engine.timezone).date()
    with rt.database.session() as session:
        seed_demo(session, rt.engine, today=today)
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", app, today)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with rt.database.session() as session:
            session.execute(delete(LoginAttempt))
            session.commit()
        runtime_module._current = None


def log_in(page: Any, live: Live, username: str) -> None:
    page.goto(f"{live.url}/aanmelden")
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url(f"{live.url}/")


def log_out(page: Any, live: Live) -> None:
    page.get_by_role("button", name="Afmelden").click()
    page.wait_for_url(f"{live.url}/aanmelden")
