"""This process's Runtime (schulden/ports.py), for the jobs: they are called with ids only and find their
settings, database, engine and ports here.

Its entry point configures it once: the app factory for the web process (and the in-process jobs of the embedded
default), `integrations.worker.prepare` for an rq worker (its forked work horses inherit it). Built by
integrations/assembly.py; this module imports none of the modules that use it.
"""

from __future__ import annotations

from schulden.ports import Runtime

__all__ = ["Runtime", "configure", "runtime"]

_current: Runtime | None = None


def configure(runtime_: Runtime) -> None:
    """Use this runtime in this process (the entry points call it; tests too)."""
    global _current
    _current = runtime_


def runtime() -> Runtime:
    """This process's runtime. A job that runs where no entry point configured one is refused: run workers as
    `schuldroute worker` or `rq worker -w integrations.worker.PreloadedWorker` (docs/operations.md)."""
    if _current is None:
        raise RuntimeError(
            "no runtime configured in this process: start workers with `schuldroute worker` "
            "or `rq worker -w integrations.worker.PreloadedWorker`"
        )
    return _current
