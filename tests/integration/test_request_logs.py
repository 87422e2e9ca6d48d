"""The reply link's token never reaches a request log: the development server (`make run`) and gunicorn
(`gunicorn wsgi:app` with the repository's gunicorn.conf.py) are started for real on 127.0.0.1 and asked for
`/antwoord/<token>`, with the link in the Referer too; then their logs are read (security.md 6 and 17)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own server on loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server on loopback
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _serve_and_ask(command: list[str], env: dict[str, str], port: int, log: Path, token: str) -> str:
    """Start the server, wait until it answers, ask for the token link twice, stop it; return everything it logged."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server stopped: {log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start: {log.read_text()[-3000:]}")
                time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/antwoord/{token}") == 404  # unknown token: the same answer as an expired one
        assert _get(f"{base}/antwoord/bedankt", Referer=f"{base}/antwoord/{token}") in (200, 302, 303)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return log.read_text(encoding="utf-8", errors="replace")


def _env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in changes}
    env.update({k: v for k, v in changes.items() if v is not None})
    return env


def test_the_development_server_logs_the_reply_link_without_its_token(committed_url: str, tmp_path: Path) -> None:
    token = secrets.token_urlsafe(32)
    port = _free_port()
    # As `make run` starts it: no SCHULDROUTE_ENV, bound to loopback.
    env = _env(SCHULDROUTE_ENV=None, SECRET_KEY=None, REDIS_URL=None, DATABASE_URL=committed_url,
               SCHULDROUTE_INSTANCE=str(tmp_path), LOG_LEVEL="INFO", TICK_INTERVAL="3600")  # fmt: skip
    command = [str(BIN / "schuldroute"), "run", "--host", "127.0.0.1", "--port", str(port)]

    output = _serve_and_ask(command, env, port, tmp_path / "server.log", token)

    assert "GET /antwoord/[token] HTTP/1.1" in output, output[-3000:]
    assert token not in output
    assert token[:12] not in output


def test_gunicorn_logs_the_reply_link_without_its_token(committed_url: str, tmp_path: Path) -> None:
    token = secrets.token_urlsafe(32)
    port = _free_port()
    env = _env(SCHULDROUTE_ENV="test", SECRET_KEY=None, REDIS_URL=None, DATABASE_URL=committed_url,
               SCHULDROUTE_INSTANCE=str(tmp_path), LOG_LEVEL="INFO")  # fmt: skip
    # As docs/operations.md starts a web node (one worker here), from the checkout's root so gunicorn.conf.py is read.
    command = [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
               "wsgi:app"]  # fmt: skip

    output = _serve_and_ask(command, env, port, tmp_path / "gunicorn.log", token)

    assert '"GET /antwoord/[token] HTTP/1.1" 404' in output, output[-3000:]
    assert "/antwoord/[token]" in output.split('"GET /antwoord/bedankt HTTP/1.1"')[1]  # the Referer
    assert token not in output
    assert token[:12] not in output
