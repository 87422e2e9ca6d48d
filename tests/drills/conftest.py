"""The fault drills (docs/drills.md). The cheap ones run in every `make test`; the expensive ones only with
`make drills` (SCHULDEN_DRILLS=all). Those are not collected otherwise, rather than skipped: the suite has no skips.

Each drill starts its own PostgreSQL (a copy of a cluster migrated once per test process), Redis, gunicorn, workers
and scheduler on free ports (tests/drills/harness.py); the shared test servers are never touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.drills.harness import Deployment, Postgres, build_template, deployment

#: Drills that take longer than a few seconds (an outage held for a while, RQ's retry interval, a batch under
#: fire, a whole layout started): `make drills` only. The zombie job and the schedulers take 13-15 s each and have
#: cheaper twins in every `make test` (tests/letters/test_letter_recovery.py, tests/integration/test_engine_tick.py).
EXPENSIVE = [
    "test_zombie_job.py",
    "test_tickers.py",
    "test_production_layout.py",
    "test_redis_restarted.py",
    "test_postgres_outage.py",
    "test_postgres_frozen.py",
    "test_store_full.py",
    "test_redis_paused.py",
]

collect_ignore_glob = [] if os.environ.get("SCHULDEN_DRILLS") == "all" else EXPENSIVE


@pytest.fixture(scope="session")
def template() -> Iterator[Postgres]:
    """A migrated cluster with the drills' world, stopped; each drill runs on a copy of it."""
    pg = build_template()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(pg.folder, ignore_errors=True)


@pytest.fixture
def d(template: Postgres) -> Iterator[Deployment]:
    """A deployment of the drill's own: PostgreSQL and Redis with AOF, as production runs them; the drill starts
    the web node, workers and scheduler it needs."""
    with deployment(template, aof=True) as deployed:
        yield deployed
