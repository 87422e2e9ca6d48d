"""An unhandled error answers with a short page or problem+json and is logged with its traceback's frames, but
without the exception's message or anything the request carried (security.md 13 and 17)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask, request

from schulden.logs import JsonFormatter

BSN = "111222333"
NAME = "Jolanda Vermeulen-Oosterhuis"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the app's loggers write, formatted as in production (JSON lines on stderr)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _failing_routes(app: Flask) -> None:
    def fail() -> str:
        data = request.args
        # A bug that quotes its input, as a careless message or a library's error (e.g. SQL parameters) does.
        raise ValueError(f"kan {data['naam']} met BSN {data['bsn']} niet verwerken")

    app.add_url_rule("/test-fout", "test_fout", fail, methods=["GET"])
    app.add_url_rule("/api/v1/test-fout", "api_test_fout", fail, methods=["GET"])


@pytest.mark.parametrize("path", ["/test-fout", "/api/v1/test-fout"])
def test_an_unhandled_error_is_logged_with_its_frames_and_without_personal_data(
    committed_app: Flask, log_output: io.StringIO, path: str
) -> None:
    app = committed_app  # an app of its own: routes are added and TESTING is switched off
    app.config["TESTING"] = False  # let the error handler answer, as in production
    _failing_routes(app)

    response = app.test_client().get(path, query_string={"naam": NAME, "bsn": BSN})

    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert NAME not in body
    assert BSN not in body
    assert "Traceback" not in body
    output = log_output.getvalue()
    assert NAME not in output
    assert "Vermeulen" not in output
    assert BSN not in output
    [line] = [json.loads(raw) for raw in output.splitlines() if '"unhandled error"' in raw]
    assert line["level"] == "ERROR"
    assert line["error"] == "ValueError"
    assert line["path"] == path
    [exception] = line["traceback"]
    assert any(frame.endswith("in fail: raise ValueError(f\"kan {data['naam']} met BSN {data['bsn']} niet verwerken\")")
               for frame in exception["frames"]), exception["frames"]  # fmt: skip
