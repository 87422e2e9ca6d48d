"""The one command of the production layout (docs/operations.md, "A production layout on one machine"):
scripts/production.sh starts a layout whose balancer answers, with two workers and a ticking scheduler, and
`scripts/production.sh stop` leaves no process behind. It starts PostgreSQL, Redis, haproxy, two gunicorn nodes,
two workers and the ticker, about 35 s on the 2-core VM: a drill (`make drills`); the Procfile's and the systemd
units' checks run in every `make test` (tests/integration/test_production_layout.py)."""

from __future__ import annotations

import http.client
import json
import os
import re
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

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "production.sh"
PROCFILE = ROOT / "deploy" / "Procfile"
UNITS = ROOT / "deploy" / "systemd"
#: From the start of the script to the balancer's first 200: ~30 s on the 2-core CI machine with an empty folder.
START_WITHIN = 90.0


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
