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

from schulden import cli as cli_module
from schulden.cli import main
from schulden.users.models import User
from schulden.users.services import authenticate
from workflows import TimerRow, WorkflowInstance

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STRONG_KEY = "kV3q9ZtR0w-L7mYpX2cF_8sNbJ4hGdE1uAoTiWe6"


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
        # The three original cases are there; the demo's other PI adds more (worklist per role, issue 13).
        assert {"awaiting_consent", "inventory", "referred"} <= set(states)


def test_production_refuses_the_demo_seed(committed_url: str) -> None:
    result = CliRunner().invoke(
        main,
        ["seed-demo"],
        env={
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SCHULDROUTE_ENV": "production",
            "SECRET_KEY": STRONG_KEY,
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
    assert "username: Kies een gebruikersnaam van 2 tot 64 tekens" in bad.output
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
    assert json.loads(result.output) == {"fired": 1, "refused": 0, "failed": 0, "render": 0, "email": 0, "referrals": 0,
                                         "erased": 0}  # fmt: skip


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

    from integrations.queue import RedisQueue
    from integrations.tick import tick
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


# -- SCHULDROUTE_ENV must be named, except for `make run` -----------------------------------------------------------


def _unnamed(tmp_path: Path) -> dict[str, str | None]:
    """An environment that names no SCHULDROUTE_ENV (None removes a variable in CliRunner and below)."""
    return {"SCHULDROUTE_ENV": None, "DATABASE_URL": f"sqlite:///{tmp_path}/dev.db", "REDIS_URL": None,
            "SCHULDROUTE_INSTANCE": str(tmp_path), "LOG_LEVEL": "WARNING", "SECRET_KEY": None}  # fmt: skip


def _process_env(changes: dict[str, str | None]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in changes}
    env.update({k: v for k, v in changes.items() if v is not None})
    return env


def test_the_maintenance_commands_of_make_run_need_no_environment_name(tmp_path: Path) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"], env=_unnamed(tmp_path), catch_exceptions=False)
    seeded = runner.invoke(main, ["seed-demo", "--if-empty"], env=_unnamed(tmp_path), catch_exceptions=False)

    assert upgraded.exit_code == 0, upgraded.output
    assert seeded.exit_code == 0, seeded.output
    assert "demo seeded" in seeded.output


@pytest.mark.parametrize("args", [["tick"], ["worker", "--burst"]])
def test_the_worker_and_the_ticker_refuse_an_unnamed_environment(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env=_unnamed(tmp_path))

    assert result.exit_code != 0
    assert "SCHULDROUTE_ENV is not set" in result.output


def test_the_development_server_needs_a_name_unless_it_listens_on_loopback_only(tmp_path: Path) -> None:
    # In a subprocess with a time limit: if the refusal were missing, the server would start and serve.
    completed = subprocess.run(
        [str(BIN / "schuldroute"), "run", "--host", "0.0.0.0", "--port", "1"],
        env=_process_env(_unnamed(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode != 0
    assert "SCHULDROUTE_ENV is not set" in completed.stderr


@pytest.mark.parametrize("module", ["wsgi", "integrations.cron"])
def test_gunicorn_and_rq_cron_refuse_an_unnamed_environment(tmp_path: Path, module: str) -> None:
    # `gunicorn wsgi:app` and `rq cron integrations.cron` import these modules first.
    completed = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=_process_env(_unnamed(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode != 0
    assert "ConfigurationError: SCHULDROUTE_ENV is not set" in completed.stderr


def test_a_production_web_app_refuses_a_database_with_the_demo_accounts(committed_url: str) -> None:
    from schulden.app import create_app
    from schulden.settings import ConfigurationError
    from tests.conftest import make_settings

    production = make_settings(committed_url, environment="production", secret_key=STRONG_KEY)
    create_app(production)  # an empty database is fine
    assert _run(["seed-demo"], committed_url).exit_code == 0

    with pytest.raises(ConfigurationError, match=r"demo accounts \(admin\.demo, gemeente\.demo"):
        create_app(production)
    # Maintenance on that database still works, e.g. to see what is in it (and development serves it).
    assert create_app(production, check_database=False)
    assert create_app(make_settings(committed_url))


def test_a_production_worker_refuses_a_database_with_the_demo_accounts(
    pg_database: object, committed_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.worker import prepare
    from schulden.settings import ConfigurationError

    assert _run(["seed-demo"], committed_url).exit_code == 0
    for key, value in {"DATABASE_URL": committed_url, "REDIS_URL": redis_url, "SCHULDROUTE_ENV": "production",
                       "SECRET_KEY": STRONG_KEY}.items():  # fmt: skip
        monkeypatch.setenv(key, value)

    with pytest.raises(ConfigurationError, match="demo accounts"):
        prepare()


def test_the_development_server_prints_its_own_address_on_letters(
    committed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without PUBLIC_URL, the reply link on letters made by `schuldroute run --port N` leads to port N (issue 13)."""
    import werkzeug.serving

    from integrations.letters.jobs import sender_from_settings

    served: list[tuple[str, int]] = []
    tickers: list[float] = []
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda host, port, app, **_: served.append((host, port)))
    # The ticker thread would outlive this test and tick through the process's shared database object, which later
    # tests bind to their own rolled-back connection: two threads on one connection (CI's vanished savepoints).
    monkeypatch.setattr(cli_module, "start_ticker", lambda app, interval: tickers.append(interval))
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    env = {**_env(committed_url), "SCHULDROUTE_ENV": "development", "SECRET_KEY": STRONG_KEY}
    env.pop("PUBLIC_URL", None)
    result = CliRunner().invoke(main, ["run", "--port", "5077"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 5077)]
    assert len(tickers) == 1, "the embedded default ticks in the server's process"
    assert sender_from_settings().public_url == "http://127.0.0.1:5077"


def test_the_scheduler_keeps_ticking_through_database_errors_and_backs_off() -> None:
    """`schuldroute tick --every N` used to exit on the first error, which also stopped the sweeper that rescues
    lost letters (issue 14). Now it logs, waits longer each time (up to a minute) and goes on; a success restores
    the interval."""
    from sqlalchemy.exc import OperationalError

    results = iter([OperationalError("SELECT 1", {}, Exception("server closed the connection")), None, None, None])
    reports: list[dict[str, int]] = []
    pauses: list[float] = []

    def tick_once() -> dict[str, int]:
        failure = next(results)
        if failure is not None:
            raise failure
        return {"fired": 1}

    class Stop:
        def wait(self, seconds: float) -> bool:
            pauses.append(seconds)
            return len(pauses) == 4

    cli_module.keep_ticking(5.0, Stop(), tick_once, reports.append)  # type: ignore[arg-type]
    assert reports == [{"fired": 1}] * 3
    assert pauses == [10.0, 5.0, 5.0, 5.0]


def test_the_scheduler_backs_off_up_to_a_minute_while_the_database_stays_down() -> None:
    pauses: list[float] = []

    def down() -> dict[str, int]:
        raise ConnectionError("database down")

    class Stop:
        def wait(self, seconds: float) -> bool:
            pauses.append(seconds)
            return len(pauses) == 6

    cli_module.keep_ticking(5.0, Stop(), down)  # type: ignore[arg-type]
    assert pauses == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
