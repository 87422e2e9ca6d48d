"""gunicorn settings. gunicorn reads ./gunicorn.conf.py by itself, so `gunicorn wsgi:app` run from the repository
root (docs/operations.md) uses it; the command line still sets workers, bind and logging."""

from __future__ import annotations

import gc
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from schulden.logs import exception_summary, redact


class _Redact(logging.Filter):
    """Format the record here and redact the result: a reply link's token never reaches a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[0] is not None:
            # As in our own logs: the exception's type and frames, not its message (schulden/logs.py).
            record.exc_text = redact(json.dumps(exception_summary(*record.exc_info)))
            record.exc_info = None
        return True


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, with reply tokens (`/antwoord/<token>`, valid 60 days) and nine-digit numbers masked in
    its access log (the request line, the Referer) and its error log (e.g. "Error handling request <uri>")."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, _Redact) for f in log.filters):
                log.addFilter(_Redact())


logger_class = RedactingLogger


def post_worker_init(worker: Any) -> None:
    """Move what building the app created out of the garbage collector's reach, once per worker.

    Each sync worker imports wsgi.py and so builds its own app (≈130,000 tracked objects: modules, mappers,
    schemas, the OpenAPI spec). They live as long as the worker, but every full collection scans them again:
    55-70 ms in the middle of a request, which was the p99 of the case list at 1 connection (docs/benchmarks.md,
    API). Frozen, they are never scanned again; requests still collect their own garbage as before. This lives
    here and not in create_app, because tests build many apps in one process and must not freeze each of them.
    """
    gc.collect()  # start-up garbage is not frozen for good
    gc.freeze()


# -- /metrics across the workers (schulden/web/metrics.py, docs/monitoring.md) ------------------------------------
# prometheus_client's multiprocess mode: each worker writes its request figures to files in one folder, and the
# worker that answers a scrape adds them all up. The folder must be set before any worker imports the app, and
# emptied when the server starts (figures of an earlier run would be added in).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="schuldroute-metrics-")


def on_starting(server: Any) -> None:
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exits takes its live gauges with it; its counters and histograms stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
