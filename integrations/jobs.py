"""Periodic jobs: the workflow tick. Run by `rq cron` in production, by a thread in the embedded default."""

from __future__ import annotations

import logging

from integrations.runtime import runtime

log = logging.getLogger(__name__)


def tick() -> dict[str, int]:
    """Fire every due workflow timer (safe to run from several places at once: rows are claimed)."""
    rt = runtime()
    report = rt.engine.tick(rt.database.session)
    if report.handled:
        log.info(
            "tick",
            extra={"fired": report.fired, "refused": report.refused, "failed": report.failed},
        )
    return {"fired": report.fired, "refused": report.refused, "failed": report.failed}
