"""The fault drills' own production-style deployment on one machine (issue 14 item 7, docs/drills.md).

Every drill starts its own servers on free 127.0.0.1 ports and never touches the shared test servers: a PostgreSQL
cluster (a copy of a migrated one made once per test process), a redis-server with the flags of scripts/services.sh,
`gunicorn wsgi:app -c gunicorn.conf.py`, `schuldroute worker` processes and `schuldroute tick --every 1`. The drill
talks to it as a client and an operator would: over HTTP (the API, /healthz, /status, /metrics), with signals, with
pg_ctl and redis-cli. It reads the database and the letter store only to check the outcome.

Every process starts in a process group of its own. Processes that leave their group (rq's work horse calls
setpgrp, PostgreSQL's backends call setsid) are remembered with their start time whenever the harness looks, so that
teardown can kill every one of them, and never a process that later got the same pid. Teardown also unmounts what a
drill mounted and removes the folders, whether the drill passed or not. Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import Engine, Interval, create_engine, literal, select, text, update

from schulden.cases.models import Case
from schulden.creditors.models import Creditor
from schulden.debts.models import Debt
from schulden.letters.models import Letter, LetterStatus
from schulden.organisations.models import Organisation, OrganisationKind
from schulden.roles import Role
from schulden.settings import Settings
from schulden.users.services import create_user
from workflows import SYSTEM

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's bin: schuldroute, gunicorn
AS_ROOT = os.geteuid() == 0
PASSWORD = "drill-password-1234"
PI_CODE, TEAM_CODE, MUNICIPALITY_CODE = "PI-DRILL", "SHT-DRILL", "GM0193"
#: Seconds between ticks of `schuldroute tick --every`; the web nodes are told the same (TICK_INTERVAL).
TICK_EVERY = 1
#: The status report's words for each fault (schulden/web/metrics.py `_problems`).
PROBLEM_DATABASE = "De database antwoordt niet."
PROBLEM_REDIS = "Redis is niet bereikbaar"
PROBLEM_NO_WORKER = "Er draait geen enkele worker"
PROBLEM_STORE = "In de briefopslag kan niet worden geschreven"
PROBLEM_OLD_LETTER = "Er wacht een brief al langer dan 5 minuten op een worker."


# -- waiting and processes ---------------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float, what: str, *, every: float = 0.1) -> float:
    """Until `condition()` holds; returns the seconds it took. Raises AssertionError after `timeout` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time in clock ticks) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[19])


def alive(pid: int) -> bool:
    found = _stat(pid)
    return found is not None and found[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in children(pid):
        found.append(child)
        found.extend(descendants(child))
    return found


def signal_pid(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


@dataclass
class Tracker:
    """Every process a drill started or saw under one it started, by (pid, start time)."""

    seen: set[tuple[int, int]] = field(default_factory=set)
    roots: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def remember(self, pid: int) -> None:
        found = _stat(pid)
        if found is not None:
            self.seen.add((pid, found[2]))

    def observe(self, *pids: int) -> None:
        """Remember these processes and everything under them (work horses, RQ schedulers, backends)."""
        for pid in pids:
            self.remember(pid)
            for child in descendants(pid):
                self.remember(child)

    def kill_everything(self) -> None:
        self.observe(*(p.pid for p in self.roots if p.poll() is None))
        for process in self.roots:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # each was started as the leader of its own group
        for pid, started in self.seen:
            found = _stat(pid)
            if found is not None and found[2] == started and found[0] not in ("Z", "X"):
                signal_pid(pid, signal.SIGKILL)
        for process in self.roots:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


# -- PostgreSQL ------------------------------------------------------------------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: as root they run as Debian's `postgres` account (services.sh)."""
    return ["runuser", "-u", "postgres", "--", *command] if AS_ROOT else command


def owned_folder(prefix: str) -> Path:
    """A new folder under /tmp that the `postgres` account may enter (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    if AS_ROOT:
        shutil.chown(folder, "postgres", "postgres")
    return folder


@dataclass
class Postgres:
    """A cluster of our own, started with pg_ctl as scripts/services.sh does.

    fsync stays off (the machine does not crash in any drill, only processes do), but synchronous_commit is on: with
    it off, a commit answers before its WAL leaves PostgreSQL's shared memory, and killing every PostgreSQL process
    (the crash drill) would lose writes that were answered 2xx."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def initdb(self) -> None:
        command = ["initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"]
        subprocess.run(_as_postgres(command), check=True, capture_output=True, timeout=120)

    def pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c synchronous_commit=on "
            "-c full_page_writes=off -c max_connections=100"
        )
        command = ["pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, *args]
        return subprocess.run(_as_postgres(command), capture_output=True, timeout=timeout, check=False)

    def start(self) -> None:
        done = self.pg_ctl("-w", "-t", "60", "start", timeout=90)
        assert done.returncode == 0, f"pg_ctl start: {done.stderr.decode()}\n{self.log_tail()}"

    def restart_fast(self) -> None:
        done = self.pg_ctl("-w", "-t", "60", "-m", "fast", "restart", timeout=90)
        assert done.returncode == 0, f"pg_ctl restart: {done.stderr.decode()}\n{self.log_tail()}"

    def postmaster(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if alive(pid) else None

    def processes(self) -> list[int]:
        """The postmaster and every process under it (backends sit in sessions of their own, so not its group)."""
        pid = self.postmaster()
        return [] if pid is None else [pid, *descendants(pid)]

    def crash(self) -> None:
        """kill -9 the postmaster; its children notice and exit (the stragglers get a kill -9 too)."""
        pid = self.postmaster()
        assert pid is not None, "no postmaster to kill"
        backends = descendants(pid)
        signal_pid(pid, signal.SIGKILL)
        with suppress(AssertionError):
            wait_for(lambda: not any(alive(p) for p in backends), 10, "the backends to notice the postmaster died")
        for straggler in backends:
            signal_pid(straggler, signal.SIGKILL)
        wait_for(lambda: not any(alive(p) for p in [pid, *backends]), 10, "every PostgreSQL process to be gone")

    def send(self, sig: signal.Signals) -> list[int]:
        """Signal the postmaster and every process under it (SIGSTOP: frozen; SIGCONT: thawed)."""
        pids = self.processes()
        for pid in pids:
            signal_pid(pid, sig)
        return pids

    def stop(self) -> None:
        pids = self.processes()
        self.send(signal.SIGCONT)  # a frozen server cannot stop
        self.pg_ctl("-m", "immediate", "stop", timeout=30)
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)

    def log_tail(self, lines: int = 20) -> str:
        with suppress(OSError):
            return "\n".join((self.folder / "server.log").read_text(errors="replace").splitlines()[-lines:])
        return ""


def build_template() -> Postgres:
    """A migrated cluster with the drills' world in it, stopped: each drill starts a copy of its data folder.

    Migrated as tests/conftest.py does it from outside: `schuldroute db upgrade` and `schuldroute reference load`
    (SCHULDROUTE_ENV=test: the maintenance commands would want the whole production environment otherwise)."""
    pg = Postgres(owned_folder("schuldroute-drill-template-"))
    try:
        pg.initdb()
        pg.start()
        env = {**_base_env(), "SCHULDROUTE_ENV": "test", "DATABASE_URL": pg.url}
        for command in (["db", "upgrade"], ["reference", "load"]):
            done = subprocess.run([str(BIN / "schuldroute"), *command], env=env, cwd=REPO, capture_output=True,
                                  timeout=180, check=False)  # fmt: skip
            assert done.returncode == 0, f"schuldroute {' '.join(command)}: {done.stderr.decode()[-2000:]}"
        engine = create_engine(pg.url)
        try:
            _make_world(engine)
        finally:
            engine.dispose()
        done = pg.pg_ctl("-w", "-m", "fast", "stop")
        assert done.returncode == 0, done.stderr.decode()
    except BaseException:
        pg.stop()
        shutil.rmtree(pg.folder, ignore_errors=True)
        raise
    return pg


def _make_world(engine: Engine) -> None:
    """A counselling team, the PI it works for, a casemanager of the PI, a counsellor of the team, and a creditor
    that takes post (its letters stay `rendered` until a print batch): all that the API needs to make letters."""
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        team = Organisation(kind=OrganisationKind.OPERATOR.value, name="Schuldhulpteam Drill", code=TEAM_CODE)
        s.add(team)
        s.flush()
        pi = Organisation(kind=OrganisationKind.PI.value, name="PI Drill", code=PI_CODE, counselling_team_id=team.id,
                          address_line="Postbus 10", postcode="8017 JN", city="Zwolle")  # fmt: skip
        s.add(pi)
        s.flush()
        for username, role, organisation in [("pi.drill", Role.PI_STAFF, pi), ("cns.drill", Role.COUNSELLOR, team)]:
            create_user(s, actor=SYSTEM, username=username, display_name=username, role=role, password=PASSWORD,
                        organisation=organisation)  # fmt: skip
        s.add(Creditor(name="Woonstichting Drill", category="overig", kind="landlord", may_receive_bsn=False,
                       address_line="Postbus 100", postcode="1000 AA", city="Amsterdam"))  # fmt: skip
        s.commit()


def copy_cluster(template: Postgres) -> Postgres:
    pg = Postgres(owned_folder("schuldroute-drill-"))
    # cp -a keeps the owner and the 0700 mode PostgreSQL insists on.
    subprocess.run(["cp", "-a", str(template.data), str(pg.data)], check=True, timeout=120)
    (pg.data / "postmaster.pid").unlink(missing_ok=True)
    return pg


# -- Redis -----------------------------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """redis-server in the foreground (so we own it), with the flags of scripts/services.sh; `aof` as production
    runs it (appendonly yes, appendfsync everysec)."""

    folder: Path
    tracker: Tracker
    aof: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.aof else ["--appendonly", "no"]
        # fmt: off
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--maxmemory-policy", "noeviction", "--dir", str(self.folder),
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        # fmt: on
        self.tracker.roots.append(self.process)
        probe = Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=1)
        try:
            wait_for(lambda: _pings(probe), 10, f"redis-server on port {self.port}")
        finally:
            probe.close()

    def shutdown_nosave(self) -> None:
        """`redis-cli shutdown nosave`: every key is gone, as after a restart without persistence."""
        assert self.process is not None
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "shutdown", "nosave"],
                       check=False, timeout=10, capture_output=True)  # fmt: skip
        self.process.wait(timeout=10)

    def send(self, sig: signal.Signals) -> None:
        assert self.process is not None
        signal_pid(self.process.pid, sig)

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)


def _pings(probe: Redis) -> bool:
    try:
        return bool(probe.ping())
    except RedisError:
        return False


# -- HTTP ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange as the client saw it. status 0: no answer (the connection failed or timed out)."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 40,
) -> Answer:
    """One request on a new connection (a client behind a load balancer gets no keep-alive guarantees either)."""
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        data = response.read()
        return Answer(method, path, response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                      time.monotonic() - started)  # fmt: skip
    except (OSError, http.client.HTTPException) as exc:
        return Answer(method, path, 0, {}, b"", time.monotonic() - started, type(exc).__name__)
    finally:
        connection.close()


def parse_metrics(body: str) -> dict[str, float]:
    """Prometheus's text format as {'name{labels}': value} (labels as written), without comments."""
    found: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with suppress(ValueError):
                found[name] = float(value)
    return found


# -- the deployment --------------------------------------------------------------------------------------------------

#: Loaded by the workers when a drill asks for slow writes (PYTHONPATH): each PDF write first waits a random lo-hi
#: seconds (a slow disk), so that a batch lasts long enough for a fault to land in the middle of it.
SITECUSTOMIZE = """\
import os

_delay = os.environ.get("SCHULDROUTE_DRILL_PUT_DELAY")
if _delay:
    import random
    import time

    from integrations.letters import storage

    _low, _high = (float(part) for part in _delay.split(","))
    _put = storage.FileStore.put
    _random = random.SystemRandom()

    def _slow_put(self, key, data):
        time.sleep(_random.uniform(_low, _high))
        return _put(self, key, data)

    storage.FileStore.put = _slow_put
"""


@dataclass
class Service:
    """A process of the deployment, started in its own process group, with its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        with suppress(OSError):
            return f"--- {self.name}\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Deployment:
    """One drill's deployment: its PostgreSQL, its Redis, and the processes it starts on them."""

    folder: Path  # ours (root's): logs, the letter store, metrics files
    pg: Postgres
    redis: RedisServer
    tracker: Tracker
    secret_key: str = field(default_factory=lambda: uuid.uuid4().hex + uuid.uuid4().hex)
    web_port: int = field(default_factory=free_port)
    services: list[Service] = field(default_factory=list)
    mounts: list[Path] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # the drill's own additions to the environment
    _engine: Engine | None = None
    _tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    born: float = field(default_factory=time.monotonic)

    def note(self, message: str) -> None:
        """A line of the drill's account (shown with -s, and with a failure): what happened when."""
        print(f"[{time.monotonic() - self.born:6.1f} s] {message}", flush=True)

    @property
    def store(self) -> Path:
        return self.folder / "store"

    def env(self, **extra: str) -> dict[str, str]:
        env = _base_env()
        env.update(
            SCHULDROUTE_ENV="production",
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url,
            SECRET_KEY=self.secret_key,
            LETTER_STORE=str(self.store),
            SCHULDROUTE_INSTANCE=str(self.folder / "instance"),
            TICK_INTERVAL=str(TICK_EVERY),
            PROMETHEUS_MULTIPROC_DIR=str(self.folder / "metrics"),
            LOG_LEVEL="WARNING",
            PYTHONPATH=str(self.folder / "hooks"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.settings)
        env.update(extra)
        return env

    def _start(self, name: str, command: list[str], **extra: str) -> Service:
        log = self.folder / f"{name}-{len(self.services)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=self.env(**extra), cwd=REPO, stdout=out, stderr=out,
                                       start_new_session=True)  # fmt: skip
        self.tracker.roots.append(process)
        service = Service(name, process, log)
        self.services.append(service)
        return service

    # -- web ---------------------------------------------------------------------------------------------------------

    def start_web(self, workers: int = 2) -> Service:
        """One node: `gunicorn wsgi:app -c gunicorn.conf.py` (docs/operations.md), on our port."""
        (self.folder / "metrics").mkdir(exist_ok=True)
        # fmt: off
        command = [str(BIN / "gunicorn"), "wsgi:app", "-c", str(REPO / "gunicorn.conf.py"), "--workers", str(workers),
                   "--bind", f"127.0.0.1:{self.web_port}", "--control-socket", str(self.folder / "gunicorn.ctl")]
        # fmt: on
        web = self._start("gunicorn", command)
        wait_for(lambda: self._healthy(web), 60, "gunicorn to answer /healthz")
        wait_for(lambda: len(self.web_workers()) == workers, 30, "gunicorn's workers")
        return web

    def _healthy(self, web: Service) -> bool:
        if not web.running():
            raise AssertionError(f"gunicorn exited with {web.process.returncode}:\n{web.tail()}")
        return request(self.web_port, "GET", "/healthz", timeout=5).status == 200

    @property
    def web(self) -> Service:
        return next(s for s in self.services if s.name == "gunicorn" and s.running())

    def web_workers(self) -> list[int]:
        """The gunicorn master's worker pids."""
        return [pid for pid in children(self.web.pid) if alive(pid)]

    def http(self, method: str, path: str, *, user: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None, timeout: float = 40) -> Answer:  # fmt: skip
        token = self.token(user) if user else None
        return request(self.web_port, method, path, token=token, body=body, headers=headers, timeout=timeout)

    def token(self, username: str) -> str:
        """A bearer token, as a client gets one (POST /api/v1/auth/token), once per drill and user."""
        if username not in self._tokens:
            answer = request(self.web_port, "POST", "/api/v1/auth/token",
                             body={"username": username, "password": PASSWORD})  # fmt: skip
            assert answer.status == 201, (answer.status, answer.body[:300])
            self._tokens[username] = answer.json()["access_token"]
        return self._tokens[username]

    def status(self, timeout: float = 30) -> Answer:
        return request(self.web_port, "GET", "/status", timeout=timeout)

    def metrics(self, timeout: float = 30) -> dict[str, float]:
        answer = request(self.web_port, "GET", "/metrics", timeout=timeout)
        assert answer.status == 200, (answer.status, answer.body[:300])
        return parse_metrics(answer.body.decode())

    # -- workers and the scheduler -----------------------------------------------------------------------------------

    def start_worker(self, *, put_delay: str | None = None, wait: bool = True) -> Service:
        """`schuldroute worker` on every queue, as production runs it."""
        extra = {"SCHULDROUTE_DRILL_PUT_DELAY": put_delay} if put_delay else {}
        worker = self._start("worker", [str(BIN / "schuldroute"), "worker"], **extra)
        if wait:
            self.wait_workers_ready(worker)
        return worker

    def wait_workers_ready(self, *workers: Service, timeout: float = 60) -> None:
        connection = self.redis.client()

        def registered() -> bool:
            for worker in workers:
                if not worker.running():
                    raise AssertionError(f"worker {worker.pid} exited:\n{worker.tail()}")
            try:
                pids = {w.pid for w in Worker.all(connection=connection)}
            except RedisError:
                return False
            return all(w.pid in pids for w in workers)

        try:
            wait_for(registered, timeout, "the workers to register in Redis")
        finally:
            connection.close()

    def start_ticker(self) -> Service:
        return self._start("ticker", [str(BIN / "schuldroute"), "tick", "--every", str(TICK_EVERY)])

    def running(self, name: str) -> list[Service]:
        return [s for s in self.services if s.name == name and s.running()]

    def kill(self, service: Service, sig: signal.Signals = signal.SIGKILL) -> None:
        """kill -9 a process and its group (an rq worker's scheduler child dies with it, as under systemd's
        control-group kill); the horse, in a group of its own, too."""
        self.tracker.observe(service.pid)
        under = descendants(service.pid)
        with suppress(ProcessLookupError):
            os.killpg(service.pid, sig)
        signal_pid(service.pid, sig)
        for pid in under:
            signal_pid(pid, sig)
        service.process.wait(timeout=10)

    def observe(self) -> None:
        self.tracker.observe(*(s.pid for s in self.services if s.running()))
        self.tracker.observe(*self.pg.processes())

    def last_tick(self) -> float | None:
        connection = self.redis.client()
        try:
            raw = connection.get("schuldroute:tick:last")
        except RedisError:
            return None
        finally:
            connection.close()
        return float(raw) if raw else None

    def wait_ticking(self, timeout: float = 60) -> float:
        """Until the scheduler marks a tick newer than now; returns the seconds it took."""
        since = time.time()
        return wait_for(lambda: (self.last_tick() or 0) > since, timeout, "the scheduler to tick")

    # -- the database, for checking outcomes -------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.pg.url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        return self._engine

    def scalar(self, statement: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    def letters(self, **where: Any) -> list[Any]:
        query = select(Letter.id, Letter.debt_id, Letter.letter_type, Letter.round, Letter.status, Letter.attempts,
                       Letter.storage_key, Letter.sha256, Letter.size_bytes, Letter.last_error,
                       Letter.claimed_by).order_by(Letter.id)  # fmt: skip
        for name, value in where.items():
            column = getattr(Letter, name)
            query = query.where(column.in_(value) if isinstance(value, list | set | tuple) else column == value)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def move_letters_back(self, seconds: float, **where: Any) -> int:
        """The database's clock for these letters: asked for `seconds` earlier (what the sweeper and the status
        report read). Stands for waiting that long, as test_fault_injection's `_later()` does."""
        shift = literal(timedelta(seconds=seconds), Interval())
        statement = update(Letter).values(updated_at=Letter.updated_at - shift)
        for name, value in where.items():
            column = getattr(Letter, name)
            statement = statement.where(column.in_(value) if isinstance(value, list | set | tuple) else column == value)
        with self.engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def pdf_store(self) -> Any:
        """The letter store the deployment's processes use, built as they build it (integrations/assembly.py)."""
        from integrations.letters import storage

        settings = Settings.from_env(self.env())
        if getattr(settings, "file_store", "folder") == "database":
            return storage.DatabaseStore(self.engine)  # type: ignore[attr-defined,unused-ignore]
        return storage.FileStore(settings.letter_store_path)

    def stored_files(self) -> list[str]:
        """Every key in the store under letters/, a folder's unfinished temporary files included."""
        store = self.pdf_store()
        if isinstance(getattr(store, "root", None), Path):
            root = store.root / "letters"
            return sorted(p.relative_to(store.root).as_posix() for p in root.rglob("*") if p.is_file())
        return list(store.keys("letters/"))

    # -- teardown ------------------------------------------------------------------------------------------------------

    def logs(self) -> str:
        return "\n".join(s.tail() for s in self.services) + f"\n--- postgres\n{self.pg.log_tail()}"

    def teardown(self) -> None:
        with suppress(Exception):
            self.observe()
        if self._engine is not None:
            self._engine.dispose()
        with suppress(Exception):
            self.redis.send(signal.SIGCONT)  # a drill that failed while Redis was paused
        self.tracker.kill_everything()
        with suppress(Exception):
            self.pg.stop()
        for mount in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True, timeout=30)
        shutil.rmtree(self.pg.folder, ignore_errors=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _base_env() -> dict[str, str]:
    """The environment without the test run's own settings (the shared servers' URLs) or a stray SCHULDROUTE_*."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SCHULDEN_", "SCHULDROUTE_", "PYTEST_"))
            and k not in ("DATABASE_URL", "REDIS_URL", "LETTER_STORE", "PROMETHEUS_MULTIPROC_DIR")}  # fmt: skip


@contextmanager
def deployment(template: Postgres, *, aof: bool = False) -> Iterator[Deployment]:
    """A copy of the template cluster, started; a Redis of our own; nothing else yet."""
    tracker = Tracker()
    folder = Path(tempfile.mkdtemp(prefix="schuldroute-drill-run-", dir="/tmp"))
    (folder / "hooks").mkdir()
    (folder / "hooks" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    pg = copy_cluster(template)
    redis = RedisServer(folder / "redis", tracker, aof=aof)
    deployed = Deployment(folder, pg, redis, tracker)
    try:
        pg.start()
        tracker.observe(*pg.processes())
        redis.start()
        yield deployed
    finally:
        deployed.teardown()


# -- the client: intakes, debts, letters -----------------------------------------------------------------------------

#: Eight-digit stems for BSNs, from a point that differs per run (a drill never meets another run's cases, but
#: the intake's duplicate checks should not meet our own either).
_BSN_STEMS = itertools.count(10_000_000 + int(time.time() * 1000) % 80_000_000)
_BSN_LOCK = threading.Lock()


def new_bsn() -> str:
    """A BSN that passes the elfproef (test data: no person's)."""
    while True:
        with _BSN_LOCK:
            digits = f"{next(_BSN_STEMS) % 100_000_000:08d}"
        total = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11  # 9*d1 + ... + 2*d8 - 1*d9 must be divisible by 11
        if last < 10 and digits[0] != "0":
            return digits + str(last)


@dataclass
class Ledger:
    """Every write a client sent and what it answered, for the check that no 2xx write is lost."""

    answers: list[Answer] = field(default_factory=list)
    cases: list[int] = field(default_factory=list)  # opened with 201
    debts: list[int] = field(default_factory=list)  # added with 201
    letters_asked: list[int] = field(default_factory=list)  # debts whose send_letters answered 201
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, answer: Answer) -> Answer:
        with self.lock:
            self.answers.append(answer)
        return answer

    def statuses(self) -> Counter[int]:
        with self.lock:
            return Counter(a.status for a in self.answers)

    def refusals(self) -> list[Answer]:
        """Answers that are neither a success nor the 503 with Retry-After the outage drills allow."""
        with self.lock:
            return [a for a in self.answers if not a.ok and not (a.status == 503 and "retry-after" in a.headers)]


def intake_body(d: Deployment) -> dict[str, Any]:
    """A new detainee (test data: a made-up BSN and DJI number) and their detention."""
    return {
        "detainee": {"given_names": "Jan", "surname": "Jansen", "date_of_birth": "1990-01-01", "bsn": new_bsn(),
                     "dji_number": f"DJI-{uuid.uuid4().hex[:10]}"},
        "detention": {"type": "prison_sentence", "start": "2026-01-05", "expected_release": "2028-03-01"},
        "registration_municipality_id": _municipality_id(d),
    }  # fmt: skip


def intake(d: Deployment, ledger: Ledger, *, timeout: float = 40) -> int | None:
    """A case opened by the PI's casemanager, with the signed consent to contact creditors (into `inventory`)."""
    answer = ledger.note(d.http("POST", "/api/v1/cases", user="pi.drill", timeout=timeout, body=intake_body(d)))
    if answer.status != 201:
        return None
    case_id = int(answer.json()["id"])
    with ledger.lock:
        ledger.cases.append(case_id)
    today = datetime.now(UTC).date()
    consent = ledger.note(d.http("POST", f"/api/v1/cases/{case_id}/consents", user="pi.drill", timeout=timeout,
                                 body={"purposes": [{"purpose": "contact_creditors"}],
                                       "signed_on": (today - timedelta(days=7)).isoformat(),
                                       "valid_until": (today + timedelta(days=700)).isoformat()}))  # fmt: skip
    return case_id if consent.status == 201 else None


def add_debt(d: Deployment, ledger: Ledger, case_id: int, *, timeout: float = 40) -> int | None:
    answer = ledger.note(d.http("POST", f"/api/v1/cases/{case_id}/debts", user="pi.drill", timeout=timeout,
                                body={"creditor_id": _creditor_id(d), "debt_type": "huur",
                                      "principal_cents": 12_345}))  # fmt: skip
    if answer.status != 201:
        return None
    debt_id = int(answer.json()["id"])
    with ledger.lock:
        ledger.debts.append(debt_id)
    return debt_id


def ask_letters(d: Deployment, ledger: Ledger, debt_id: int, *, timeout: float = 40) -> bool:
    """The counsellor asks for the debt's first letter (L1): committed, then its render job is enqueued."""
    answer = ledger.note(d.http("POST", f"/api/v1/debts/{debt_id}/events", user="cns.drill", timeout=timeout,
                                body={"event": "send_letters"}))  # fmt: skip
    if answer.status == 201:
        with ledger.lock:
            ledger.letters_asked.append(debt_id)
        return True
    return False


def letters_for(d: Deployment, ledger: Ledger, cases: int, debts_per_case: int = 2) -> list[int]:
    """`cases` intakes with their debts and letters, one request at a time; returns the debts with a letter."""
    asked = []
    for _ in range(cases):
        case_id = intake(d, ledger)
        assert case_id is not None, ledger.answers[-1]
        for _ in range(debts_per_case):
            debt_id = add_debt(d, ledger, case_id)
            assert debt_id is not None, ledger.answers[-1]
            assert ask_letters(d, ledger, debt_id), ledger.answers[-1]
            asked.append(debt_id)
    return asked


def _municipality_id(d: Deployment) -> int:
    # Looked up once, before any fault: a client knows its ids, and the load must not need the database itself.
    if "municipality" not in d.ids:
        d.ids["municipality"] = int(d.scalar(select(Organisation.id).where(Organisation.code == MUNICIPALITY_CODE)))
    return d.ids["municipality"]


def _creditor_id(d: Deployment) -> int:
    if "creditor" not in d.ids:
        d.ids["creditor"] = int(d.scalar(select(Creditor.id).where(Creditor.name == "Woonstichting Drill")))
    return d.ids["creditor"]


@dataclass
class Load:
    """A steady stream of writes from one client thread (intake, two debts, their letters), until stopped."""

    d: Deployment
    ledger: Ledger = field(default_factory=Ledger)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    timeout: float = 40

    def start(self) -> Load:
        _municipality_id(self.d), _creditor_id(self.d)
        for user in ("pi.drill", "cns.drill"):
            self.d.token(user)
        self.thread = threading.Thread(target=self._run, name="drill-load", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            case_id = intake(self.d, self.ledger, timeout=self.timeout)
            if case_id is None:
                time.sleep(0.2)
                continue
            for _ in range(2):
                debt_id = add_debt(self.d, self.ledger, case_id, timeout=self.timeout)
                if debt_id is not None:
                    ask_letters(self.d, self.ledger, debt_id, timeout=self.timeout)

    def finish(self, timeout: float = 60) -> Ledger:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the load did not stop"
        return self.ledger


@dataclass
class Monitor:
    """Polls /healthz (and optionally /status) in a thread: what the load balancer and the operator saw, when."""

    d: Deployment
    every: float = 0.25
    seen: list[tuple[float, int, str]] = field(default_factory=list)  # (monotonic time, status, body)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Monitor:
        self.thread = threading.Thread(target=self._run, name="drill-monitor", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            answer = request(self.d.web_port, "GET", "/healthz", timeout=10)
            self.seen.append((time.monotonic(), answer.status, answer.body.decode(errors="replace")))
            self.stop.wait(self.every)

    def finish(self) -> list[tuple[float, int, str]]:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(20)
        return self.seen


# -- the checks every drill makes ------------------------------------------------------------------------------------


def check_no_write_lost(d: Deployment, ledger: Ledger) -> None:
    """Every case and debt answered 201 is in the database, and every letter asked for with 201 exists."""
    with d.engine.connect() as conn:
        cases = set(conn.execute(select(Case.id).where(Case.id.in_(ledger.cases))).scalars())
        debts = set(conn.execute(select(Debt.id).where(Debt.id.in_(ledger.debts))).scalars())
    assert cases == set(ledger.cases), f"cases answered 201 but missing: {set(ledger.cases) - cases}"
    assert debts == set(ledger.debts), f"debts answered 201 but missing: {set(ledger.debts) - debts}"
    with_letter = {row.debt_id for row in d.letters(debt_id=ledger.letters_asked)}
    missing = set(ledger.letters_asked) - with_letter
    assert not missing, f"letters asked for with 201 but missing: debts {missing}"


#: A letter made: rendered (its PDF in the store), or sent since (in a print batch, or e-mailed).
MADE = (LetterStatus.RENDERED.value, LetterStatus.SENT.value)


def wait_rendered(
    d: Deployment, debt_ids: list[int], timeout: float, *, what: str = "every letter", letter_type: str | None = None
) -> float:
    """Until every letter (of this type) of these debts is made; returns the seconds it took."""

    def done() -> bool:
        d.observe()
        letters = [lt for lt in d.letters(debt_id=debt_ids) if letter_type in (None, lt.letter_type)]
        failed = [(lt.id, lt.last_error) for lt in letters if lt.status == LetterStatus.FAILED.value]
        assert not failed, f"letters failed: {failed[:5]}"
        return {lt.debt_id for lt in letters} >= set(debt_ids) and all(lt.status in MADE for lt in letters)

    try:
        return wait_for(done, timeout, what, every=0.25)
    except AssertionError as exc:
        stuck = [(lt.id, lt.status, lt.attempts, lt.last_error) for lt in d.letters(debt_id=debt_ids)
                 if lt.status not in MADE]  # fmt: skip
        raise AssertionError(f"{exc}: {len(stuck)} not rendered, e.g. {stuck[:5]}\n{d.logs()}") from None


def check_one_pdf_each(d: Deployment, debt_ids: list[int], *, letter_type: str | None = None) -> list[Any]:
    """Each debt has exactly one letter of each type and round; each letter is rendered, with exactly one PDF in
    the store whose SHA-256 and size are the row's; no file of these letters in the store beside those. The store
    is the one the deployment uses (FILE_STORE: PostgreSQL, production's default, or the folder), read through
    the product's own store classes."""
    letters = d.letters(debt_id=debt_ids)
    if letter_type is not None:
        letters = [lt for lt in letters if lt.letter_type == letter_type]
    per_debt = Counter((lt.debt_id, lt.letter_type, lt.round) for lt in letters)
    doubled = {key: n for key, n in per_debt.items() if n > 1}
    assert not doubled, f"letters made twice: {doubled}"
    assert {lt.debt_id for lt in letters} == set(debt_ids), "a debt without its letter"
    not_rendered = [(lt.id, lt.status, lt.last_error) for lt in letters if lt.status not in MADE]
    assert not not_rendered, f"letters not rendered: {not_rendered[:5]}"
    keys = [lt.storage_key for lt in letters]
    assert len(set(keys)) == len(keys), "two letters share a PDF"
    store = d.pdf_store()
    files = d.stored_files()
    for letter in letters:
        assert letter.storage_key in files, f"letter {letter.id}: no {letter.storage_key} in the store"
        data = store.get(letter.storage_key)
        assert data.startswith(b"%PDF")
        assert hashlib.sha256(data).hexdigest() == letter.sha256, f"letter {letter.id}: not the recorded file"
        assert len(data) == letter.size_bytes
    ours = {lt.id for lt in letters}
    extra = [f for f in files if f not in set(keys) and _letter_of(f) in ours]
    assert not extra, f"files in the store beside the recorded PDFs: {extra}"
    return letters


def _letter_of(name: str) -> int | None:
    base = name.rsplit("/", 1)[-1].removeprefix(".tmp-")
    head = base.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def metric(values: dict[str, float], name: str) -> float:
    """A metric without labels, or the one line of a name with labels."""
    matches = [v for k, v in values.items() if k == name or k.startswith(name + "{")]
    assert len(matches) == 1, f"{name}: {matches}"
    return matches[0]


def last_ticked(d: Deployment) -> float:
    """The moment of the scheduler's last tick as /metrics shows it (0: none shown)."""
    values = d.metrics()
    return values.get("schuldroute_tick_last_run_timestamp_seconds", 0.0)


def run_sql(d: Deployment, sql: str, **params: Any) -> None:
    with d.engine.begin() as conn:
        conn.execute(text(sql), params)
