"""What the benchmarks share: a throwaway database of their own, and the version of the code they measured."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import make_url

from schulden.cli import upgrade_database

REPO = Path(__file__).resolve().parent.parent


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create the database `name` on the server of `server_url`, migrate it, and return its URL."""
    url = make_url(server_url)
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    bench_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade_database(bench_url)
    return bench_url


def drop_database(server_url: str, name: str) -> None:
    admin = sqlalchemy.create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def code_version() -> str:
    """The commit, and how many files of the application differ from it (others may be editing)."""
    git = ["git", "-C", str(REPO)]
    # git looks upwards for a repository: a checkout without its .git (an export, a tarball) inside another
    # repository would report that one's commit (issue 16). Only our own top level counts.
    top = subprocess.run([*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != REPO.resolve():
        return "? (not a git checkout of its own)"
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", "schulden", "workflows", "integrations"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        return "?"
    dirty = len(changed.stdout.splitlines())
    return head.stdout.strip() + (
        f" with {dirty} changed file(s) in schulden/, workflows/, integrations/" if dirty else ""
    )


def _first(path: str, key: str) -> str:
    """The value on the first line of `path` that starts with `key` ("key: value" or key="value"), or "?"."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "?"


def host() -> dict[str, str]:
    """The machine a report was measured on: CPUs, memory and operating system."""
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    return {
        "CPUs (usable)": str(len(os.sched_getaffinity(0))),
        "CPU": _first("/proc/cpuinfo", "model name"),
        "memory": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "OS": f"{_first('/etc/os-release', 'PRETTY_NAME=')}, kernel {platform.release()}",
    }
