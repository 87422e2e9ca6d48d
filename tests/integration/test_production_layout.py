"""The production layout (docs/operations.md, "A production layout on one machine" and "Several machines"):
deploy/Procfile runs two workers on every queue, and the systemd units of deploy/systemd parse and keep their
promises. That the one command, scripts/production.sh, starts the layout and stops it again is a drill
(tests/drills/test_production_layout.py, `make drills`): it takes about 35 s."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from honcho.environ import parse_procfile  # type: ignore[import-untyped]

from integrations.queue import JOB_TIMEOUT, QUEUE_NAMES
from schulden.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "production.sh"
PROCFILE = ROOT / "deploy" / "Procfile"
UNITS = ROOT / "deploy" / "systemd"
#: From the start of the script to the balancer's first 200: ~30 s on the 2-core CI machine with an empty folder.
START_WITHIN = 90.0


def _procfile() -> dict[str, list[str]]:
    """Each process's command as words, without the keeper in front (`exec scripts/production.sh keep NAME`)."""
    commands: dict[str, list[str]] = {}
    for name, line in parse_procfile(PROCFILE.read_text()).processes.items():
        words = shlex.split(line)
        assert words[:4] == ["exec", "scripts/production.sh", "keep", name], f"{name} does not run under its keeper"
        commands[name] = words[4:]
    return commands


def test_the_procfile_runs_two_nodes_two_workers_one_ticker_and_the_balancer() -> None:
    commands = _procfile()

    assert set(commands) == {"lb", "web1", "web2", "worker1", "worker2", "tick"}
    assert commands["lb"][0] == "haproxy"
    for node in ("web1", "web2"):
        words = commands[node]
        assert words[:2] == ["env", f"PROMETHEUS_MULTIPROC_DIR=$SCHULDROUTE_PRODUCTION_DIR/metrics/{node}"]
        assert words[2:6] == ["gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"]  # the redacting logger, /metrics
        assert f"$SCHULDROUTE_PRODUCTION_DIR/run/{node}.ctl" in words  # two nodes never share a control socket
    assert commands["tick"] == ["schuldroute", "tick", "--every", "$TICK_INTERVAL"]


def test_the_procfile_workers_listen_on_every_queue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The Procfile names no queue, so what counts is the worker command's default: every queue there is."""
    workers = {name: words for name, words in _procfile().items() if words[:2] == ["schuldroute", "worker"]}
    assert sorted(workers) == ["worker1", "worker2"]
    named = {tuple(words[2:]) for words in workers.values()}
    assert named == {()} or named == {QUEUE_NAMES}, f"a worker leaves a queue out: {named}"

    listened: list[tuple[str, ...]] = []

    class Recorder:
        def __init__(self, queues: list[Any], **_: Any) -> None:
            listened.append(tuple(queue.name for queue in queues))

        def work(self, **_: Any) -> None:
            pass

    monkeypatch.setattr("integrations.worker.PreloadedWorker", Recorder)
    env = {
        "SCHULDROUTE_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path}/schuldroute.db",
        "SCHULDROUTE_INSTANCE": str(tmp_path),
        # Never reached: the recorder stands in for the worker that would connect.
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "LOG_LEVEL": "WARNING",
    }
    result = CliRunner().invoke(main, ["worker", *next(iter(named))], env=env, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert listened == [QUEUE_NAMES]


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


@pytest.mark.parametrize(
    "name", ["schuldroute-web@.service", "schuldroute-worker@.service", "schuldroute-tick.service"]
)
def test_each_unit_restarts_kills_its_children_and_is_confined(name: str) -> None:
    service = _unit(name)["Service"]

    assert service["Restart"] == "always"
    assert int(service["RestartSec"]) <= 5
    # mixed: SIGTERM to the main process (a warm shutdown), SIGKILL for what is left of the group once it is gone.
    assert service["KillMode"] in ("mixed", "control-group")
    assert service["EnvironmentFile"] == "/etc/schuldroute/env"
    assert service["User"] == "schuldroute"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert service["ExecStart"].startswith("/opt/schuldroute/.venv/bin/")
    if "worker" in name:
        assert int(service["TimeoutStopSec"]) > JOB_TIMEOUT  # a warm shutdown is never cut short


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the units as installed, with this checkout standing in for /opt/schuldroute (it
    checks that ExecStart's programs exist) and the templates instantiated (it skips templates otherwise)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed; the structural checks above still ran")
    instances = {
        "schuldroute-web@.service": "schuldroute-web@8000.service",
        "schuldroute-worker@.service": "schuldroute-worker@1.service",
        "schuldroute-tick.service": "schuldroute-tick.service",
    }
    for template, instance in instances.items():
        (tmp_path / instance).write_text((UNITS / template).read_text().replace("/opt/schuldroute", str(ROOT)))

    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / unit) for unit in instances.values())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # A setting systemd does not understand is only a warning, with status 0: any output is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


# -- the layout itself ------------------------------------------------------------------------------------------------
