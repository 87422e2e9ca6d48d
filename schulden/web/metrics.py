"""How this deployment is doing, for its operators: /status (JSON, with the problems in words) and /metrics
(Prometheus's text format), both closed to the public (docs/monitoring.md).

Request figures are counted per process by prometheus_client; under gunicorn its multiprocess mode (the
PROMETHEUS_MULTIPROC_DIR that gunicorn.conf.py sets) adds the workers' figures up on every scrape. The state of the
system (letters waiting, overdue timers, workers, the scheduler's last tick, the letter store) is read fresh on
every scrape from the database and the probe, so any web node answers for the whole deployment.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from schulden.backlog import Backlog, read_backlog
from schulden.http.clients import client_address
from schulden.http.errors import problem
from schulden.http.ports import runtime

blp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)

#: Seconds of latency the buckets separate: the pages' target is 100 ms at p99 (docs/benchmarks.md).
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_SECONDS = Histogram(
    "schuldroute_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by route (the endpoint's name, never the path) and status.",
    ["method", "endpoint", "status"],
    buckets=BUCKETS,
)
#: A queued letter older than this, or a timer this late, means jobs or the scheduler are not doing their work
#: (the sweeper's claim staleness, integrations/letters/jobs.py STALE_CLAIM).
STUCK_SECONDS = 5 * 60
_OWN = frozenset({"metrics.metrics", "metrics.status", "health.healthz", "assets.static", "static"})


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        endpoint = request.endpoint or "unmatched"
        if started is not None and endpoint not in _OWN:
            elapsed = time.perf_counter() - started
            REQUEST_SECONDS.labels(request.method, endpoint, str(response.status_code)).observe(elapsed)
        return response


def _allowed() -> bool:
    """From one of METRICS_NETWORKS (loopback by default), or with METRICS_TOKEN as a bearer token."""
    settings = runtime().settings
    token = settings.metrics_token
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(client_address() or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in settings.metrics_networks)


def _refused() -> Response:
    return problem(403, "Alleen voor de beheerders van de installatie: zie METRICS_NETWORKS en METRICS_TOKEN.")


def _facts() -> dict[str, Any]:
    """Everything the status report and /metrics tell, read now."""
    rt = runtime()
    now = rt.engine.clock()
    backlog: Backlog | None = None
    try:
        with rt.database.session() as session:
            backlog = read_backlog(session, now)
    except Exception as exc:  # a database that does not answer is itself the finding
        log.warning("status: database unreachable", exc_info=exc, extra={"error": type(exc).__name__})
    last_tick = rt.probe.last_tick()
    return {
        "now": now,
        "backlog": backlog,
        "queue_mode": rt.queue.mode,
        "queue_up": rt.queue.mode == "in-process" or rt.queue.ping(),
        "workers": rt.probe.workers(),
        "last_tick": last_tick,
        "tick_age": None if last_tick is None else max(0.0, (now - last_tick).total_seconds()),
        "tick_interval": rt.settings.tick_interval_seconds,
        "store_writable": rt.probe.store_writable(),
    }


def _problems(facts: dict[str, Any]) -> list[str]:
    """What an operator must look at, in words; empty when all is well."""
    found: list[str] = []
    backlog: Backlog | None = facts["backlog"]
    if backlog is None:
        return ["De database antwoordt niet."]
    if not facts["queue_up"]:
        found.append("Redis is niet bereikbaar: nieuwe brieven wachten tot het terug is (de sweeper haalt ze in).")
    if facts["workers"] == 0:
        found.append("Er draait geen enkele worker: brieven en verwijzingen worden niet gemaakt.")
    tick_age, interval = facts["tick_age"], facts["tick_interval"]
    if tick_age is None or tick_age > 3 * interval + 60:
        found.append("De scheduler (schuldroute tick --every) heeft te lang niet getikt: termijnen lopen niet af.")
    if not facts["store_writable"]:
        found.append("In de briefopslag kan niet worden geschreven (vol of alleen-lezen).")
    if (backlog.oldest_queued_letter_seconds or 0) > STUCK_SECONDS:
        found.append("Er wacht een brief al langer dan 5 minuten op een worker.")
    if (backlog.oldest_due_timer_seconds or 0) > STUCK_SECONDS:
        found.append("Een termijn is al langer dan 5 minuten verlopen zonder te zijn afgehandeld.")
    if backlog.letters.get("failed"):
        found.append(f"{backlog.letters['failed']} brief/brieven mislukt: zie Mijn werk van de beheerder.")
    if backlog.referrals.get("failed"):
        found.append(f"{backlog.referrals['failed']} verwijzing(en) niet afgeleverd: zie Beheer > Gemeenten.")
    return found


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@blp.get("/status")
def status() -> ResponseReturnValue:
    """The deployment's state for a person: 200 ok or degraded (with the problems in words), 503 without a
    database."""
    if not _allowed():
        return _refused()
    facts = _facts()
    backlog: Backlog | None = facts["backlog"]
    problems = _problems(facts)
    state = "unavailable" if backlog is None else ("degraded" if problems else "ok")
    body: dict[str, Any] = {
        "status": state,
        "problems": problems,
        "checked_at": _iso(facts["now"]),
        "queue": {"mode": facts["queue_mode"], "reachable": facts["queue_up"], "workers": facts["workers"]},
        "scheduler": {
            "last_tick": _iso(facts["last_tick"]),
            "seconds_ago": facts["tick_age"],
            "expected_every_seconds": facts["tick_interval"],
        },
        "letter_store": {"writable": facts["store_writable"]},
    }
    if backlog is not None:
        body |= {
            "letters": backlog.letters,
            "failed_letters_by_reason": backlog.failed_letters_by_reason,
            "oldest_queued_letter_seconds": backlog.oldest_queued_letter_seconds,
            "timers_due": backlog.timers_due,
            "oldest_due_timer_seconds": backlog.oldest_due_timer_seconds,
            "referrals": backlog.referrals,
        }
    response = jsonify(body)
    response.status_code = 503 if backlog is None else 200
    response.headers["Cache-Control"] = "no-store"
    return response


class _StateCollector(Collector):
    """The facts of one scrape as gauges (not per process: every node reads the same database and Redis)."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts

    def collect(self) -> Iterator[Metric]:
        facts = self.facts
        backlog: Backlog | None = facts["backlog"]
        yield _gauge("schuldroute_database_up", "1 when the database answered this scrape.", backlog is not None)
        yield _gauge("schuldroute_queue_up", "1 when Redis answered (always 1 in-process).", facts["queue_up"])
        yield _gauge("schuldroute_letter_store_writable", "1 when a file could be written.", facts["store_writable"])
        if facts["workers"] is not None:
            yield _gauge("schuldroute_workers", "rq workers alive (-1: Redis could not be asked).", facts["workers"])
        if facts["last_tick"] is not None:
            yield _gauge("schuldroute_tick_last_run_timestamp_seconds", "When the scheduler last finished a tick.",
                         facts["last_tick"].timestamp())  # fmt: skip
        if backlog is None:
            return
        letters = GaugeMetricFamily("schuldroute_letters", "Letters not out yet, by status.", labels=["status"])
        for name, count in sorted(backlog.letters.items()):
            letters.add_metric([name], count)
        yield letters
        failed = GaugeMetricFamily(
            "schuldroute_letters_failed", "Failed letters by the kind of error.", labels=["reason"]
        )
        for reason, count in sorted(backlog.failed_letters_by_reason.items()):
            failed.add_metric([reason], count)
        yield failed
        yield _gauge("schuldroute_oldest_queued_letter_age_seconds", "Age of the oldest queued letter (0: none).",
                     backlog.oldest_queued_letter_seconds or 0)  # fmt: skip
        yield _gauge("schuldroute_timers_due", "Workflow timers due and not fired.", backlog.timers_due)
        yield _gauge("schuldroute_oldest_due_timer_age_seconds", "How late the most overdue timer is (0: none).",
                     backlog.oldest_due_timer_seconds or 0)  # fmt: skip
        referrals = GaugeMetricFamily(
            "schuldroute_referrals_undelivered", "Referrals not delivered, by status.", labels=["status"]
        )
        for name, count in sorted(backlog.referrals.items()):
            referrals.add_metric([name], count)
        yield referrals


def _gauge(name: str, documentation: str, value: float | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


@blp.get("/metrics")
def metrics() -> ResponseReturnValue:
    if not _allowed():
        return _refused()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # gunicorn: every worker's request figures, added up from the shared folder.
        processes = CollectorRegistry()
        MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        base = generate_latest(processes)
    else:
        base = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(_StateCollector(_facts()))
    body = base + generate_latest(state)
    return Response(body, mimetype="text/plain", headers={"Cache-Control": "no-store"},
                    content_type="text/plain; version=0.0.4; charset=utf-8")  # fmt: skip
