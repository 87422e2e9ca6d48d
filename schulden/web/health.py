"""GET /healthz: can this node serve requests? For the load balancer (docs/monitoring.md).

About this node only: 200 when the database answers within HEALTH_TIMEOUT seconds, 503 when it does not. Redis is
reported but does not fail the check: requests succeed without it by design (letters wait and the sweeper enqueues
them later), so a load balancer that took every node out for a Redis outage would turn a delay into an outage
(issue 14: 39 answers of 503 from haproxy in 9.5 s). Redis down answers 200 with "degraded". The rest of the deployment
(workers, scheduler, store, backlog) is in /status and /metrics, which are not public.

Each probe runs on a thread of its own with a deadline: a frozen database (or Redis) must cost the check two
seconds, not hang it. While an earlier probe of that kind still hangs, no new one is started: it counts as
unreachable at once, so a frozen database does not pile up threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from schulden.db import Database
from schulden.http.ports import runtime

blp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 2.0
_hanging: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def _within_deadline(name: str, probe: Callable[[], bool]) -> bool:
    """Whether `probe` said yes within HEALTH_TIMEOUT seconds."""
    with _lock:
        earlier = _hanging.get(name)
        if earlier is not None and earlier.is_alive():
            return False
        answer: list[bool] = []

        def run() -> None:
            try:
                answer.append(probe())
            except Exception as exc:
                log.warning("health: probe failed", extra={"probe": name, "error": type(exc).__name__})
                answer.append(False)

        thread = threading.Thread(target=run, name=f"health-{name}", daemon=True)
        _hanging[name] = thread
    thread.start()
    thread.join(HEALTH_TIMEOUT)
    return bool(answer and answer[0])


def _database(database: Database) -> Callable[[], bool]:
    def probe() -> bool:
        with database.session() as session:
            session.execute(text("SELECT 1"))
        return True

    return probe


@blp.get("/healthz")
def healthz() -> ResponseReturnValue:
    rt = runtime()
    reached = _within_deadline("database", _database(rt.database))  # the thread has no app context: pass the port
    checks: dict[str, str] = {"database": "ok" if reached else "unreachable"}
    if rt.queue.mode == "in-process":
        checks["queue"] = "in-process"
    else:
        queue = rt.queue
        checks["queue"] = "ok" if _within_deadline("queue", queue.ping) else "unreachable"
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif checks["queue"] == "unreachable":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    response = jsonify({"status": status, **checks})
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    if code == 503:
        response.headers["Retry-After"] = "5"
    return response
