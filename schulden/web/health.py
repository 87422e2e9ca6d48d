"""GET /healthz: is the database reachable, is the queue reachable (or jobs in-process)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from schulden.http.ports import runtime

blp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blp.get("/healthz")
def healthz() -> ResponseReturnValue:
    checks: dict[str, str] = {}
    rt = runtime()
    try:
        with rt.database.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("health: database unreachable", extra={"error": type(exc).__name__})
        checks["database"] = "unreachable"
    queue = rt.queue
    if queue.mode == "in-process":
        checks["queue"] = "in-process"
    else:
        checks["queue"] = "ok" if queue.ping() else "unreachable"
    healthy = "unreachable" not in checks.values()
    body = {"status": "ok" if healthy else "unavailable", **checks}
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
