"""The retention job (schulden/retention.py): one batch of erasure in its own transaction, then the files.

Called from the tick at most once an hour (the last `retention_run` is the mark), and by `schuldroute retention
run`. The erasure and its audit rows commit together; only then are the folder store's files removed (a file
cannot join a transaction), each part's `files_removed_at` recording that it happened.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from integrations.runtime import Runtime, runtime
from schulden import retention
from workflows import SYSTEM
from workflows.store import utcnow

log = logging.getLogger(__name__)

#: The tick runs the job at most this often: erasure is measured in months, an hour late costs nothing.
EVERY = timedelta(hours=1)


def run_retention(
    rt: Runtime | None = None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = retention.DEFAULT_BATCH,
) -> retention.ErasureReport:
    """One batch: erase what is due and commit, then remove the files. `dry_run` reports and rolls back."""
    rt = rt or runtime()
    now = now or utcnow()
    terms = rt.settings.retention
    with rt.database.session() as session:
        report = retention.erase_due(session, actor=SYSTEM, now=now, terms=terms, batch_size=batch_size)
        if dry_run:
            session.rollback()
            return report
        retention.record_run(session, report)
        session.commit()
    with rt.database.session() as session:
        files = retention.remove_erased_files(session, rt.store, now=now, terms=terms)
        session.commit()
    if report.changed or files:
        # Counts and ids only: never a name, a BSN or any other content.
        log.info("retention", extra={"cases": sorted(report.cases), "files": files, **report.purged})
    return report


def retention_tick(rt: Runtime | None = None, *, now: datetime | None = None) -> retention.ErasureReport | None:
    """From the tick: a batch when the last run is an hour old (or there was none); None otherwise."""
    rt = rt or runtime()
    now = now or utcnow()
    with rt.database.session() as session:
        last = retention.last_run(session)
    if last is not None and last.at > now - EVERY:
        return None
    return run_retention(rt, now=now)
