"""gunicorn settings. gunicorn reads ./gunicorn.conf.py by itself, so `gunicorn wsgi:app` run from the repository
root (docs/operations.md) uses it; the command line still sets workers, bind and logging."""

from __future__ import annotations

import gc
from typing import Any


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
