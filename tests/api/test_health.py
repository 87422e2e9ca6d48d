"""GET /healthz tells an operator whether the database and the queue can be reached."""

from __future__ import annotations

from pathlib import Path

from schulden.app import create_app
from tests.conftest import make_settings


def test_healthy_on_the_embedded_default(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "in-process"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthy_with_redis(committed_url: str, redis_url: str) -> None:
    app = create_app(make_settings(committed_url, redis_url=redis_url))

    response = app.test_client().get("/healthz")

    assert response.json == {"status": "ok", "database": "ok", "queue": "ok"}


def test_degraded_but_serving_when_redis_is_down(committed_url: str) -> None:
    """Requests succeed without Redis (letters wait, the sweeper catches up): a load balancer must keep the node
    (issue 14: a 503 here took every node out during a Redis outage)."""
    app = create_app(make_settings(committed_url, redis_url="redis://127.0.0.1:1/0"))

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "degraded", "database": "ok", "queue": "unreachable"}


def test_unavailable_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/missing/dir/x.db"))

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
    assert response.mimetype == "application/json"
    assert response.headers["Retry-After"] == "5"


def test_unknown_pages_answer_in_dutch(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/bestaat-niet").status_code == 404
    assert "Niet gevonden" in client.get("/bestaat-niet").get_data(as_text=True)
    problem = client.get("/api/v1/bestaat-niet")
    assert problem.mimetype == "application/problem+json"
    assert problem.json == {"type": "about:blank", "title": "Niet gevonden", "status": 404}
