"""The production layout (docs/operations.md, "A production layout on one machine" and "Several machines"):
deploy/Procfile runs two workers on every queue, the systemd units of deploy/systemd parse and keep their promises,
and the one command, scripts/production.sh, starts a layout whose balancer answers, with two workers and a ticking
scheduler, and `scripts/production.sh stop` leaves no process behind."""

from __future__ import annotations

import configparser
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import suppress
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


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _marked(folder: Path) -> list[int]:
    """Processes marked with this layout's folder (as `scripts/production.sh stop` finds them)."""
    mark = b"SCHULDROUTE_LAYOUT=" + os.fsencode(folder)
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError), open(f"/proc/{entry}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    found.append(int(entry))
    return found


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not left running; only its parent has not collected it yet.
    with suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def _servers(folder: Path) -> dict[str, int | None]:
    return {
        "postgres": _pid_in(folder / "pg" / "data" / "postmaster.pid"),
        "redis": _pid_in(folder / "redis" / "redis.pid"),
    }


class Http:
    """Requests through the balancer with the session cookie sent back by hand: the app marks it Secure, which
    Python's cookie jar (like curl) keeps only for https."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def status_code(self, path: str) -> int:
        try:
            return self.request("GET", path)[0]
        except OSError:
            return 0


def _stop_everything(folder: Path, env: dict[str, str], process: subprocess.Popen[bytes] | None) -> None:
    """Whatever happened: the script's own stop, then by force what it left (process groups, marked processes,
    the servers by their pid files)."""
    with suppress(subprocess.TimeoutExpired, OSError):
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=60, check=False, capture_output=True)
    if process is not None and process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    for pid in _marked(folder):
        with suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for server in _servers(folder).values():
        if server is not None and _alive(server):
            with suppress(ProcessLookupError):
                os.kill(server, signal.SIGKILL)


@pytest.fixture
def layout_folder() -> Iterator[Path]:
    # Not pytest's tmp_path: PostgreSQL's account must reach the folder, and /tmp/pytest-of-root is closed to it.
    folder = Path(tempfile.mkdtemp(prefix="schuldroute-layout-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder / "production"
    shutil.rmtree(folder, ignore_errors=True)


def test_the_one_command_starts_the_layout_and_stop_leaves_nothing(layout_folder: Path) -> None:
    missing = [p for p in ("redis-server", "haproxy") if shutil.which(p) is None]
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and shutil.which("initdb") is None:
        missing.append("postgresql")
    if missing:
        pytest.skip(f"the layout needs the Debian packages {', '.join(missing)} (scripts/system-packages.sh)")
    http_port, web1, web2, pg_port, redis_port = _free_ports(5)
    admin_password = "zeven paarse olifanten op de dijk"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "SCHULDROUTE_PRODUCTION_DIR": str(layout_folder),
        "SCHULDROUTE_HTTP_PORT": str(http_port),
        "SCHULDROUTE_WEB1_PORT": str(web1),
        "SCHULDROUTE_WEB2_PORT": str(web2),
        "SCHULDROUTE_PG_PORT": str(pg_port),
        "SCHULDROUTE_REDIS_PORT": str(redis_port),
        "SCHULDROUTE_ADMIN_PASSWORD": admin_password,
    }
    log = layout_folder.parent / "layout.log"
    process: subprocess.Popen[bytes] | None = None
    client = Http(http_port)
    try:
        with log.open("wb") as out:
            # Its own session: honcho and everything it starts can be killed as a group if all else fails.
            process = subprocess.Popen(
                [str(SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started = time.monotonic()
        while client.status_code("/healthz") != 200:
            assert process.poll() is None, f"scripts/production.sh ended:\n{log.read_text()[-4000:]}"
            assert time.monotonic() - started < START_WITHIN, f"no 200 from the balancer:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)

        status: dict[str, Any] = {}
        while time.monotonic() - started < START_WITHIN + 30:
            code, _headers, body = client.request("GET", "/status")
            if code not in (200, 503) or not body.startswith("{"):  # the balancer's own page while a node boots
                time.sleep(0.5)
                continue
            status = json.loads(body)
            if status.get("queue", {}).get("workers") == 2 and (status["scheduler"]["seconds_ago"] or 1e9) < 15:
                break
            time.sleep(0.5)
        assert status["status"] == "ok", status
        assert status["queue"] == {"mode": "rq", "reachable": True, "workers": 2}
        assert status["scheduler"]["expected_every_seconds"] == 5.0
        assert status["scheduler"]["seconds_ago"] < 15

        # The first administrator signs in through the balancer and is sent to choose a password of their own.
        form = client.request("GET", "/aanmelden")[2]
        match = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert match is not None
        login = client.request(
            "POST", "/aanmelden", {"csrf_token": match.group(1), "username": "beheer", "password": admin_password}
        )
        assert login[0] == 302, login[2][:500]
        assert client.request("GET", "/")[1].get("location") == "/account/wachtwoord"

        # The secrets and the environment stay in the folder, readable by their owner only.
        assert (layout_folder / "secrets").stat().st_mode & 0o077 == 0
        assert (layout_folder / "env").stat().st_mode & 0o077 == 0
        servers = _servers(layout_folder)
        assert all(_alive(pid) for pid in servers.values()), servers

        stop = subprocess.run([str(SCRIPT), "stop"], env=env, timeout=60, check=False, capture_output=True, text=True)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert process.wait(timeout=30) is not None
        assert _marked(layout_folder) == []
        assert not any(_alive(pid) for pid in servers.values()), servers
        assert [port for port in (http_port, web1, web2, pg_port, redis_port) if _listening(port)] == []
    finally:
        _stop_everything(layout_folder, env, process)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
