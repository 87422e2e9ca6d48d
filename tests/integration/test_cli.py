"""The `schuldroute` command as an operator uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from schulden.cli import main
from schulden.users.models import User
from schulden.users.services import authenticate
from workflows import TimerRow, WorkflowInstance

ROOT = Path(__file__).resolve().parents[2]


def _env(database_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "SCHULDROUTE_ENV": "test", "LOG_LEVEL": "WARNING", "REDIS_URL": "", **extra}


def _run(args: list[str], database_url: str, input: str | None = None, **extra: str) -> Result:
    return CliRunner().invoke(main, args, env=_env(database_url, **extra), input=input, catch_exceptions=False)


def test_db_upgrade_creates_the_schema_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new/schuldroute.db"

    first = _run(["db", "upgrade"], url)
    again = _run(["db", "upgrade"], url)

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0
    assert (tmp_path / "new" / "schuldroute.db").exists()


def test_seed_demo_once_and_a_second_time_keeps_the_data(committed_url: str, committed: sessionmaker[Session]) -> None:
    first = _run(["seed-demo", "--if-empty"], committed_url)
    second = _run(["seed-demo", "--if-empty"], committed_url)
    plain_again = _run(["seed-demo"], committed_url)

    assert first.exit_code == 0, first.output
    assert "demo seeded" in first.output
    assert "data kept" in second.output
    assert plain_again.exit_code != 0
    with committed() as s:
        usernames = set(s.scalars(select(User.username)))
        assert {"pi.demo", "schuldhulp.demo", "gemeente.demo", "admin.demo"} <= usernames
        assert authenticate(s, username="pi.demo", password="demo") is not None
        assert authenticate(s, username="pi.demo", password="wrong") is None
        states = sorted(s.scalars(select(WorkflowInstance.state).where(WorkflowInstance.process == "case")))
        assert states == ["awaiting_consent", "inventory", "referred"]


def test_production_refuses_the_demo_seed(committed_url: str) -> None:
    result = CliRunner().invoke(
        main,
        ["seed-demo"],
        env={
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SCHULDROUTE_ENV": "production",
            "SECRET_KEY": "p" * 40,
        },
    )
    assert result.exit_code != 0
    assert "nooit in productie" in result.output


def test_production_refuses_the_default_secret_key() -> None:
    result = CliRunner().invoke(
        main,
        ["tick"],
        env={
            "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/x",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SCHULDROUTE_ENV": "production",
            "SECRET_KEY": "",
        },
    )
    assert result.exit_code != 0
    assert "SECRET_KEY" in str(result.exception) + result.output


def test_users_create_names_the_field_that_is_wrong(committed_url: str) -> None:
    _run(["seed-demo"], committed_url)

    bad = _run(
        [
            "users",
            "create",
            "--username",
            "Bad Name",
            "--display-name",
            "X",
            "--role",
            "pi_staff",
            "--organisation",
            "PI-ZWOLLE",
            "--password-stdin",
        ],
        committed_url,
        input="geheim-wachtwoord\n",
    )
    wrong_org = _run(
        [
            "users",
            "create",
            "--username",
            "nieuw",
            "--display-name",
            "X",
            "--role",
            "municipality",
            "--organisation",
            "PI-ZWOLLE",
            "--password-stdin",
        ],
        committed_url,
        input="geheim-wachtwoord\n",
    )
    good = _run(
        [
            "users",
            "create",
            "--username",
            "nieuw",
            "--display-name",
            "Nieuwe Collega",
            "--role",
            "pi_staff",
            "--organisation",
            "PI-ZWOLLE",
            "--password-stdin",
        ],
        committed_url,
        input="geheim-wachtwoord\n",
    )

    assert bad.exit_code != 0
    assert "username: Gebruikersnaam" in bad.output
    assert "organisation:" in wrong_org.output
    assert good.exit_code == 0, good.output
    assert "user nieuw created" in good.output


def test_tick_fires_due_timers_and_reports_them(
    committed_url: str, committed: sessionmaker[Session], wf_engine
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import actor

    with committed() as s:
        # A debt found 30 days ago: its 5-working-day letter timer is long overdue.
        from datetime import UTC, datetime

        wf_engine.start(s, "debt", actor=actor("counsellor"), now=datetime.now(UTC) - timedelta(days=30))
        s.commit()

    result = _run(["tick"], committed_url)

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"fired": 1, "refused": 0, "failed": 0, "render": 0, "email": 0, "referrals": 0}


def test_worker_refuses_to_start_without_redis(committed_url: str) -> None:
    result = CliRunner().invoke(main, ["worker", "--burst"], env=_env(committed_url))
    assert result.exit_code != 0
    assert "REDIS_URL" in result.output


def test_an_rq_worker_process_runs_the_tick_job(
    committed_url: str,
    committed: sessionmaker[Session],
    redis_url: str,
    wf_engine,  # type: ignore[no-untyped-def]
) -> None:
    from datetime import UTC, datetime

    from integrations.jobs import tick
    from integrations.queue import RedisQueue
    from tests.conftest import actor

    with committed() as s:
        wf_engine.start(s, "debt", actor=actor("counsellor"), now=datetime.now(UTC) - timedelta(days=30))
        s.commit()
    RedisQueue(redis_url).enqueue(tick, job_id="tick-test")

    env = {**os.environ, **_env(committed_url, REDIS_URL=redis_url)}
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "schuldroute"), "worker", "--burst", "default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    with committed() as s:
        fired = s.scalar(select(func.count()).select_from(TimerRow).where(TimerRow.status == "fired"))
        assert fired == 1


@pytest.mark.parametrize("queue_name", ["default", "letters", "mail", "municipal"])
def test_every_queue_has_a_worker_in_the_operations_guide(queue_name: str) -> None:
    from integrations.queue import QUEUE_NAMES

    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert queue_name in QUEUE_NAMES
    assert "schuldroute worker" in guide
    assert queue_name in guide
