"""Periodic jobs: the workflow tick. Run by `rq cron` in production, by a thread in the embedded default."""

from __future__ import annotations

import logging

from integrations.letters.jobs import sweep_letters
from integrations.referrals.delivery import sweep_referrals
from integrations.retention import retention_tick
from integrations.runtime import runtime
from integrations.status import mark_tick
from workflows.store import utcnow

log = logging.getLogger(__name__)


def tick() -> dict[str, int]:
    """Fire every due workflow timer, then sweep up letters and referrals whose job got lost. Safe to run from
    several places at once: timers and letters are claimed with row locks and conditional updates."""
    rt = runtime()
    report = rt.engine.tick(rt.database.session)
    swept = sweep_letters()
    # Referrals whose delivery job got lost (or that wait for SMTP settings) are enqueued again.
    swept["referrals"] = sweep_referrals()
    # Retention (issue 15): one batch of erasure at most once an hour; cheap (one indexed read) in between.
    erased = retention_tick(rt)
    swept["erased"] = len(erased.cases) if erased is not None else 0
    mark_tick(rt.queue, utcnow())  # the status report and /metrics show when the scheduler last got here
    if report.handled or any(swept.values()):
        log.info(
            "tick",
            extra={"fired": report.fired, "refused": report.refused, "failed": report.failed, **swept},
        )
    return {"fired": report.fired, "refused": report.refused, "failed": report.failed, **swept}
