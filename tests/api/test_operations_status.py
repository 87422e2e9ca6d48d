"""What an operator sees (issue 14 item 3): /status and /metrics, closed to the public; a database that is down or
too slow answers 503 with Retry-After, never 500."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from schulden.app import create_app
from schulden.db import make_engine
from schulden.letters.models import Letter, LetterStatus
from tests.conftest import DatabaseUnderTest, make_settings
from tests.demo_world import DemoWorld, csrf

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
TOKEN = "metrics-token-for-the-tests-0123456789"


def _metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_status_and_metrics_are_for_the_operators_only(demo_world: DemoWorld) -> None:
    outside = demo_world.app.test_client()
    for path in ("/status", "/metrics"):
        refused = outside.get(path, environ_base=OUTSIDE)
        assert refused.status_code == 403, path
        assert "METRICS_NETWORKS" in refused.json["detail"]
        assert outside.get(path).status_code == 200, path  # from loopback, as the test client is


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the access rule needs no second backend
def test_a_token_opens_them_from_elsewhere(database: DatabaseUnderTest, tmp_path: Any) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/x.db", metrics_token=TOKEN, metrics_networks=()))
    client = app.test_client()
    assert client.get("/metrics").status_code == 403  # loopback is not listed any more
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/status", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=OUTSIDE).status_code in (
        200,
        503,  # no schema in this empty file: the database part says so
    )


def test_metrics_count_requests_by_route_and_show_the_backlog(demo_world: DemoWorld) -> None:
    client = demo_world.client("schuldhulp.demo")
    client.get("/")
    body = demo_world.app.test_client().get("/metrics").get_data(as_text=True)
    assert 'schuldroute_http_request_duration_seconds_count{endpoint="home.index",method="GET",status="200"}' in body
    assert "/dossiers/" not in body  # routes by name, never a path with an id or a reply token in it
    assert _metric(body, "schuldroute_database_up") == 1.0
    assert _metric(body, "schuldroute_queue_up") == 1.0
    assert _metric(body, "schuldroute_letter_store_writable") == 1.0
    # The fast demo world's letters wait unrendered: they show as queued, with an age.
    assert _metric(body, 'schuldroute_letters{status="queued"}') > 0
    assert "schuldroute_oldest_queued_letter_age_seconds" in body
    assert "schuldroute_timers_due" in body
    assert 'schuldroute_referrals_undelivered{status="failed"} 1.0' in body  # the demo's Kampen delivery


def test_the_status_report_says_what_to_look_at(demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations import status as status_module

    monkeypatch.setattr(status_module, "_last_tick_in_process", None)  # an earlier test's tick must not count
    with demo_world.db() as s:
        s.execute(update(Letter).where(Letter.status == LetterStatus.QUEUED.value)
                  .values(updated_at=demo_world.runtime.engine.clock() - timedelta(minutes=30)))  # fmt: skip
        s.commit()
    report = demo_world.app.test_client().get("/status")
    assert report.status_code == 200
    body = report.json
    assert body["status"] == "degraded"
    assert body["queue"]["mode"] == "in-process"
    assert body["letters"]["queued"] > 0
    assert body["oldest_queued_letter_seconds"] >= 30 * 60
    assert body["referrals"]["failed"] == 1
    problems = " ".join(body["problems"])
    assert "Er wacht een brief al langer dan 5 minuten op een worker." in problems
    assert "verwijzing(en) niet afgeleverd" in problems
    assert "De scheduler (schuldroute tick --every) heeft te lang niet getikt" in problems


def test_a_database_that_is_down_answers_503_with_retry_after() -> None:
    app = create_app(make_settings("postgresql+psycopg://nobody@127.0.0.1:1/nothing", database_connect_timeout=1.0))
    client: FlaskClient = app.test_client()
    api = client.get("/api/v1/cases", headers={"Authorization": "Bearer whatever"})
    assert api.status_code == 503
    assert api.headers["Retry-After"] == "5"
    assert api.mimetype == "application/problem+json"
    assert "De database is even niet bereikbaar" in api.json["detail"]
    form = {"username": "iemand", "password": "wat-dan-ook", "csrf_token": csrf(client, "/aanmelden")}
    page = client.post("/aanmelden", data=form)
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert "Probeer het over enkele seconden opnieuw" in page.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["database"] == "unreachable"


def test_a_statement_that_runs_too_long_is_cancelled_by_the_server(pg_database: DatabaseUnderTest) -> None:
    engine = make_engine(pg_database.url, statement_timeout=0.2, connect_timeout=2, pool_timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"), sessionmaker(engine)() as s:
            s.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 2
        with Session(engine) as s:  # the connection is usable again
            assert s.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()
