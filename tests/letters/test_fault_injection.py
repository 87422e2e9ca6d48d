"""Fault injection for the letter pipeline with real `schuldroute worker` processes, PostgreSQL and Redis.

security.md part 3 D: scenario 25 (kill -9 of workers and their work horses during 100 letters), 27 (Redis restarted
without persistence during a batch), 28 (Redis down while a request asks for letters) and 29 (no job before commit,
with a worker waiting for one). PostgreSQL only (`pg_database`).

Each test starts its own redis-server on a free port with the flags of scripts/services.sh (the shared test Redis is
flushed by other test runs at any moment) and its own worker processes, and kills all of them in teardown: workers,
their work horses and their RQ scheduler children. Every wait is bounded. Three kinds of worker: `schuldroute worker`
(PreloadedWorker: letter jobs in the worker process), `schuldroute worker --no-fork` (InProcessWorker) and
`rq worker -w integrations.worker.ForkingWorker` (a work horse per job, so that kills hit horses too).

Recovery after a kill takes minutes of real time: a dead job's claim may be taken over after STALE_CLAIM (5 min),
and RQ only notices an abandoned job in its maintenance (heartbeat + 60 s at the earliest, then every
--maintenance-interval, 10 minutes by default). The tests do not wait that long. `_later()` moves both clocks on
while no worker is alive, as `sweep_letters(now=...)` does for the sweeper:

- database: the claims of the dead jobs are moved back by STALE_CLAIM + 1 minute;
- Redis: RQ's own maintenance runs as of 11 minutes later, with rq's own functions (jobs stuck in the intermediate
  queue and abandoned jobs are retried or failed; retries that are due by then are enqueued).

Four defects were found here and fixed (issue 4): a killed job's PDF left in the store, a sweeper that could not
replace a job RQ still held as started, a commit that raised when Redis was down, and a reply-code lookup collision
that cost a letter an attempt. Each test raises its own exception class when its defect comes back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy import Engine, Interval, func, literal, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from integrations import runtime as runtime_module
from integrations.assembly import build_runtime
from integrations.letters import jobs
from integrations.letters.dispatch import enqueue_render
from integrations.letters.job_ids import letters_of_job, render_job_id
from integrations.queue import QueueUnavailable
from integrations.runtime import Runtime
from schulden.debts.services import fire_debt_event
from schulden.letters.models import Letter, LetterStatus
from schulden.letters.reply_codes import ReplyCodeKey, new_reply_secrets
from tests.conftest import NOW, REDIS_URL, DatabaseUnderTest, actor, make_settings
from tests.factories import make_case, make_creditor, make_debt
from workflows.store import utcnow

COUNSELLOR = actor("counsellor", "user:cns")
BIN = Path(sys.executable).parent  # the venv's bin: python, schuldroute
REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
#: Short, as security.md 1.5.1 asks: an idle worker blocks in its dequeue for worker_ttl - 15 s (1 s here).
WORKER_TTL = "16"
#: The worker class that forks a horse for every job, letters too (rq's own CLI runs it).
FORKING_WORKER = "integrations.worker.ForkingWorker"
#: How far `_later()` moves the clocks: past STALE_CLAIM and LOST_AFTER, and past RQ's maintenance interval.
LATER = timedelta(minutes=11)

pytestmark = pytest.mark.skipif(
    not REDIS_URL or REDIS_SERVER is None or REDIS_CLI is None or not (BIN / "schuldroute").exists(),
    reason="needs SCHULDEN_TEST_REDIS_URL (run `make test`), redis-server and redis-cli (Debian package redis-server) "
    "and pytest run by the venv's python (its bin holds `schuldroute`)",
)


# -- defects found by these tests and fixed (each raised when its defect comes back) -----------------------------------


class OrphanPdfLeft(Exception):
    """A PDF (or temporary file) in the store that no letter row points at."""


class SweepCannotRequeue(Exception):
    """The sweeper asked for a job again, and the queue silently did nothing."""


class CommitRaisedAfterRedisDown(Exception):
    """The transaction committed, and then commit() raised the failed enqueue into the caller."""


class ReplyCodeCollision(Exception):
    """A render failed because its random reply-code lookup was already taken by another letter."""


# -- processes ---------------------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[19])


def _alive(pid: int) -> bool:
    found = _stat(pid)
    return found is not None and found[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in _children(pid):
        found.append(child)
        found.extend(_descendants(child))
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(condition: Callable[[], bool], timeout: float, what: str, tick: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if tick is not None:
            tick()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class RedisServer:
    """Our own redis-server, with the flags of scripts/services.sh (in the foreground, so we own the process)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        # fmt: off
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxmemory-policy", "noeviction", "--dir", str(self.folder),
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # fmt: on
        probe = Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            _wait(self._pings(probe), 10, f"redis-server on port {self.port}")
        finally:
            probe.close()

    @staticmethod
    def _pings(probe: Redis) -> Callable[[], bool]:
        def ping() -> bool:
            try:
                return bool(probe.ping())
            except RedisConnectionError:
                return False

        return ping

    def shutdown_nosave(self) -> None:
        """`redis-cli shutdown nosave`: every key is gone, as after a restart without persistence."""
        assert REDIS_CLI is not None
        assert self.process is not None
        subprocess.run(
            [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port), "shutdown", "nosave"],
            check=False,
            timeout=10,
            capture_output=True,
        )
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


#: Loaded by every worker process (PYTHONPATH): with SCHULDROUTE_TEST_PUT_DELAY="lo,hi" each PDF write first waits a
#: random lo-hi seconds (a slow disk), so that a batch lasts long enough for kills to land in the middle of jobs.
SITECUSTOMIZE = """\
import os

_delay = os.environ.get("SCHULDROUTE_TEST_PUT_DELAY")
if _delay:
    import random
    import time

    from integrations.letters import storage

    _low, _high = (float(part) for part in _delay.split(","))
    _put = storage.FileStore.put
    _random = random.SystemRandom()  # not the state a forked horse inherits from its parent

    def _slow_put(self, key, data):
        time.sleep(_random.uniform(_low, _high))
        return _put(self, key, data)

    storage.FileStore.put = _slow_put
"""


@dataclass
class Fleet:
    """`schuldroute worker` processes. Remembers every process it saw under them, so teardown can kill them all."""

    env: dict[str, str]
    folder: Path
    redis: Redis
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    seen: set[tuple[int, int]] = field(default_factory=set)  # (pid, start time): never kill a reused pid
    killed_workers: int = 0
    killed_children: int = 0

    def start(self, kind: str = "default", *, put_delay: str | None = None) -> subprocess.Popen[bytes]:
        """A worker on the letters queue: `default` (schuldroute worker), `no-fork` or `fork` (a horse per job)."""
        env = dict(self.env)
        if put_delay:
            env["SCHULDROUTE_TEST_PUT_DELAY"] = put_delay
        command = {
            "default": [str(BIN / "schuldroute"), "worker"],
            "no-fork": [str(BIN / "schuldroute"), "worker", "--no-fork"],
            "fork": [str(BIN / "rq"), "worker", "--url", env["REDIS_URL"], "--with-scheduler", "-w", FORKING_WORKER],
        }[kind] + ["--worker-ttl", WORKER_TTL]
        log = self.folder / f"worker-{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([*command, "letters"], env=env, cwd=self.folder, stdout=out, stderr=out)
        self.processes.append(process)
        self._remember(process.pid)
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def wait_ready(self, *processes: subprocess.Popen[bytes], timeout: float = 45) -> None:
        """Until each worker has registered in Redis (after its renderer is warmed up)."""

        def ready() -> bool:
            for process in processes:
                if process.poll() is not None:
                    raise AssertionError(f"worker {process.pid} exited with {process.returncode}:\n{self.log_tail()}")
            pids = {w.pid for w in Worker.all(connection=self.redis)}
            return all(p.pid in pids for p in processes)

        _wait(ready, timeout, "the workers to register", self.observe)

    def busy(self) -> list[subprocess.Popen[bytes]]:
        """The live workers that RQ says are in the middle of a job."""
        busy = {w.pid for w in Worker.all(connection=self.redis) if w.get_state() == "busy"}
        return [p for p in self.alive() if p.pid in busy]

    def wait_busy(self, timeout: float = 30) -> list[subprocess.Popen[bytes]]:
        """Until a worker is in the middle of a job (RQ says `busy`; a forking one then has its horse)."""
        found: list[subprocess.Popen[bytes]] = []

        def any_busy() -> bool:
            found[:] = self.busy()
            return bool(found)

        _wait(any_busy, timeout, "a busy worker", self.observe)
        return found

    def observe(self) -> None:
        """Note the horses and scheduler processes of the live workers."""
        for process in self.alive():
            for pid in _descendants(process.pid):
                self._remember(pid)

    def _remember(self, pid: int) -> None:
        found = _stat(pid)
        if found is not None:
            self.seen.add((pid, found[1]))

    def kill(self, process: subprocess.Popen[bytes]) -> int:
        """kill -9 a worker and everything under it (horse, scheduler); returns how many children died with it."""
        with suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGSTOP)  # no new horse while we list the children
        children = _descendants(process.pid)
        for pid in children:
            self._remember(pid)
        for pid in [process.pid, *children]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)
        _wait(lambda: not any(_alive(pid) for pid in children), 10, "the killed children to die")
        self.killed_workers += 1
        self.killed_children += len(children)
        return len(children)

    def kill_all(self) -> None:
        for process in self.alive():
            self.kill(process)

    def teardown(self) -> None:
        self.observe()
        for process in self.alive():
            with suppress(Exception):
                self.kill(process)
        for pid, started in self.seen:
            found = _stat(pid)
            if found is not None and found[1] == started and found[0] not in ("Z", "X"):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for process in self.processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)

    def log_tail(self, lines: int = 15) -> str:
        tails = []
        for log in sorted(self.folder.glob("worker-*.log")):
            text_ = log.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {log.name}\n" + "\n".join(text_))
        return "\n".join(tails)


# -- the pipeline under test -------------------------------------------------------------------------------------------


@dataclass
class Pipeline:
    rt: Runtime
    factory: sessionmaker[Session]
    engine: Engine  # for the test's own statements (locks, clock moves)
    store: Path
    redis: RedisServer
    connection: Redis
    fleet: Fleet

    @property
    def queue(self) -> Queue:
        return Queue("letters", connection=self.connection)


@pytest.fixture
def pipeline(pg_database: DatabaseUnderTest, committed_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    """Our Redis, a runtime on it in this process (after-commit dispatch, sweeper), and a fleet of workers."""
    redis = RedisServer(_free_port(), tmp_path / "redis")
    redis.start()
    store = tmp_path / "store"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (tmp_path / "workers").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHULDEN_TEST_")}
    env.update(
        DATABASE_URL=committed_url,
        REDIS_URL=redis.url,
        SCHULDROUTE_ENV="test",
        SECRET_KEY=SECRET_KEY,
        LETTER_STORE=str(store),
        LOG_LEVEL="WARNING",
        SCHULDROUTE_INSTANCE=str(tmp_path / "instance"),
        PYTHONPATH=str(hooks),
        PYTHONUNBUFFERED="1",
    )
    connection = Redis.from_url(redis.url)
    fleet = Fleet(env, tmp_path / "workers", connection)
    rt = build_runtime(make_settings(committed_url, redis_url=redis.url, letter_store=store))
    runtime_module.configure(rt)
    assert rt.database.sessionmaker is not None
    assert rt.database.engine is not None
    try:
        yield Pipeline(rt, rt.database.sessionmaker, rt.database.engine, store, redis, connection, fleet)
    finally:
        fleet.teardown()
        runtime_module._current = None
        rt.database.engine.dispose()
        connection.close()
        rt.queue.connection.close()  # type: ignore[attr-defined]
        redis.stop()


def _ask_for_letters(p: Pipeline, cases: int, *, per_commit: int | None = None) -> list[int]:
    """`cases` cases with two debts each, and the counsellor asking for their first letters (an L1 each: two letters
    a case, as the L1 + L2 of one debt were before issue 12); a commit per `per_commit` cases (default: one commit
    for all), after each of which the session hook enqueues the letters of that commit (one job per chunk of up to
    25). Returns the new letters' ids."""
    with p.factory() as s:
        before = set(s.scalars(select(Letter.id)))
        creditor = make_creditor(s)
        for n in range(cases):
            case = make_case(s, p.rt.engine)
            for _ in range(2):
                debt = make_debt(s, p.rt.engine, case, creditor=creditor)
                fire_debt_event(s, p.rt.engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
            if per_commit is not None and (n + 1) % per_commit == 0:
                s.commit()
        s.commit()
        return sorted(set(s.scalars(select(Letter.id))) - before)


def _counts(p: Pipeline) -> Counter[str]:
    with p.factory() as s:
        rows = s.execute(select(Letter.status, func.count()).group_by(Letter.status)).all()
        return Counter(dict(rows))


def _letters(p: Pipeline) -> list[Letter]:
    with p.factory() as s:
        return list(s.scalars(select(Letter).order_by(Letter.id)))


def _store_files(p: Pipeline) -> set[str]:
    """Every file in the store, temporary ones included (FileStore.keys() hides those)."""
    if not p.store.exists():
        return set()
    return {str(f.relative_to(p.store)) for f in p.store.rglob("*") if f.is_file()}


def _later(p: Pipeline) -> datetime:
    """Move both clocks on by LATER (see the module docstring); returns the sweeper's `now` for that moment.
    Only while no worker is alive: every claim is then a dead job's."""
    assert not p.fleet.alive(), "the clocks move only while no worker is alive"
    # The database: claims of dead jobs are old enough to be taken over.
    with p.engine.begin() as conn:
        conn.execute(
            update(Letter)
            .where(Letter.status == LetterStatus.RENDERING.value)
            .values(claimed_at=Letter.claimed_at - literal(jobs.STALE_CLAIM + timedelta(minutes=1), Interval()))
        )
    # Redis: RQ's maintenance and scheduler, as a worker would run them LATER from now.
    queue = p.queue
    moment = time.time() + LATER.total_seconds()
    janitor = Worker([queue], connection=p.connection)  # never started: only its failure handling is used
    # In the order of rq's Worker.clean_registries: abandoned jobs first, then the intermediate queue.
    StartedJobRegistry(queue=queue).cleanup(timestamp=moment)
    for job_id in queue.intermediate_queue.get_job_ids():
        if job_id not in queue.started_job_registry:
            job = queue.fetch_job(job_id)
            if job is not None:
                janitor.handle_job_failure(job, queue, exc_string="Job was stuck in intermediate queue.")
            queue.intermediate_queue.remove(job_id)
    scheduled = queue.scheduled_job_registry
    for job_id in scheduled.get_jobs_to_schedule(int(moment)):
        scheduled.remove(job_id)
        job = queue.fetch_job(job_id)
        if job is not None:
            queue.enqueue_job(job)
    return utcnow() + LATER


def _check_one_pdf_each(p: Pipeline, letter_ids: list[int]) -> set[str]:
    """Every letter rendered, its file in the store with the recorded SHA-256 and size; returns the files that no
    letter points at."""
    letters = [lt for lt in _letters(p) if lt.id in set(letter_ids)]
    assert len(letters) == len(letter_ids)
    not_rendered = [(lt.id, lt.status, lt.last_error) for lt in letters if lt.status != LetterStatus.RENDERED.value]
    assert not not_rendered, f"letters not rendered: {not_rendered}"
    keys = {lt.storage_key for lt in letters}
    assert len(keys) == len(letters), "two letters share a PDF"
    for letter in letters:
        assert letter.storage_key is not None
        data = (p.store / letter.storage_key).read_bytes()
        assert data.startswith(b"%PDF")
        assert hashlib.sha256(data).hexdigest() == letter.sha256, (
            f"letter {letter.id}: the file is not the recorded one"
        )
        assert len(data) == letter.size_bytes
    files = _store_files(p)
    assert keys <= files
    return files - keys


_PDF_OF_LETTER = re.compile(r"letters/(?P<case>\d+)/(?P<letter>\d+)-[0-9a-f]{16}\.pdf")


def _orphans_of_known_kind(p: Pipeline, extra: set[str], letter_ids: list[int]) -> list[str]:
    """The extra files, each checked to be what a killed job leaves: another PDF of one of our letters under its
    own case, or a temporary file of a write that never finished. Anything else fails the test."""
    cases = {lt.id: lt.case_id for lt in _letters(p)}
    described = []
    for name in sorted(extra):
        match = _PDF_OF_LETTER.fullmatch(name)
        if match and int(match["letter"]) in letter_ids and cases[int(match["letter"])] == int(match["case"]):
            described.append(f"{name} (a second PDF of letter {match['letter']})")
        elif Path(name).name.startswith(".tmp-"):
            described.append(f"{name} (temporary file of an unfinished write)")
        else:
            raise AssertionError(f"unexpected file in the letter store: {name}")
    return described


@contextmanager
def _publishing_held(p: Pipeline) -> Iterator[None]:
    """Hold every job at its last step: it has written its PDF and updated its row, and waits for the audit row
    (LOCK TABLE audit_entry IN SHARE MODE lets reads through and blocks inserts)."""
    with p.engine.connect() as conn:
        conn.execute(text("LOCK TABLE audit_entry IN SHARE MODE"))
        try:
            yield
        finally:
            conn.rollback()


def _jobs_waiting_on_the_lock(p: Pipeline) -> int:
    with p.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO audit%'"
                )
            ).scalar_one()
        )


def _recover(p: Pipeline, letter_ids: list[int], *, workers: int, timeout: float = 60) -> dict[str, int]:
    """Later: fresh workers, the sweeper, until every letter is rendered. Failed letters (if kills made any) are
    re-queued as `POST /letters/{id}/retry` does. Returns what it took."""
    now = _later(p)
    started = [p.fleet.start("fork" if i % 2 == 0 else "default") for i in range(workers)]
    p.fleet.wait_ready(*started)
    report = {"swept": 0, "sweeps": 0, "retried_failed": 0}
    ids = set(letter_ids)
    deadline = time.monotonic() + timeout
    last_sweep = 0.0
    while True:
        p.fleet.observe()
        letters = [lt for lt in _letters(p) if lt.id in ids]
        if all(lt.status == LetterStatus.RENDERED.value for lt in letters):
            return report
        failed = [lt for lt in letters if lt.status == LetterStatus.FAILED.value]
        for letter in failed:
            assert letter.last_error, f"letter {letter.id} failed without a reason"
            with p.factory() as s:
                s.execute(update(Letter).where(Letter.id == letter.id).values(status="queued", attempts=0))
                s.commit()
            enqueue_render(p.rt.queue, letter.id)
            report["retried_failed"] += 1
        if time.monotonic() - last_sweep > 3:
            report["swept"] += jobs.sweep_letters(now=now)["render"]
            report["sweeps"] += 1
            last_sweep = time.monotonic()
        if time.monotonic() > deadline:
            stuck = [(lt.id, lt.status, lt.attempts, lt.claimed_by) for lt in letters if lt.status != "rendered"]
            raise AssertionError(f"letters not rendered after {timeout:.0f} s: {stuck[:10]}\n{p.fleet.log_tail()}")
        time.sleep(0.1)


# -- scenario 25: kill -9 of workers and their horses during 100 letters -----------------------------------------------


def test_killing_workers_and_horses_mid_batch_still_gives_one_pdf_per_letter(pipeline: Pipeline) -> None:
    p = pipeline
    rng = random.Random(25)
    # A forking worker (ForkingWorker, a horse per job) and the default one (PreloadedWorker, letter jobs in the
    # worker process); each write waits 0.1-0.3 s, so the batch outlasts the six kill rounds (about half of it is
    # rendered under fire).
    delay = "0.1,0.3"
    slots = {p.fleet.start("fork", put_delay=delay): "fork", p.fleet.start("default", put_delay=delay): "default"}
    p.fleet.wait_ready(*slots)

    # Two cases per request: 25 jobs of 4 letters, so that a kill mid-job leaves letters of its chunk unrendered
    # (claimed by the dead job) and others of it possibly written but not recorded.
    letter_ids = _ask_for_letters(p, 50, per_commit=2)
    assert len(letter_ids) == 100

    rounds = busy_kills = 0
    while rounds < 6 and _counts(p)[LetterStatus.RENDERED.value] < len(letter_ids):
        time.sleep(rng.uniform(1.5, 3.0))
        busy = p.fleet.wait_busy()
        victims = [proc for proc in slots if proc.poll() is None] if rounds % 3 == 2 else [rng.choice(busy)]
        for victim in victims:
            busy_kills += victim in busy
            p.fleet.kill(victim)
            kind = slots.pop(victim)
            slots[p.fleet.start(kind, put_delay=delay)] = kind
        rounds += 1
    p.fleet.kill_all()
    during = _counts(p)

    report = _recover(p, letter_ids, workers=2)

    letters = [lt for lt in _letters(p) if lt.id in set(letter_ids)]
    print(  # shown with -s or on failure: what the kills did
        f"\nkill rounds {rounds}: {p.fleet.killed_workers} workers killed, {busy_kills} of them mid-job, with "
        f"{p.fleet.killed_children} children (horses, RQ schedulers); letters after the kills {dict(during)}; "
        f"recovery {report}; attempts {dict(sorted(Counter(lt.attempts for lt in letters).items()))}"
    )
    assert rounds == 6, f"the batch finished before the kills: {dict(during)}"
    assert busy_kills >= 4
    assert not [lt.id for lt in letters if lt.status == LetterStatus.FAILED.value]
    assert report["retried_failed"] == 0, "killed attempts made letters fail (MAX_ATTEMPTS): see the report"
    extra = _check_one_pdf_each(p, letter_ids)
    if extra:
        # The defect of test_a_job_killed_after_writing_its_pdf_leaves_no_second_file, hit at random here.
        raise OrphanPdfLeft(f"files no letter points at: {_orphans_of_known_kind(p, extra, letter_ids)}")


def test_a_job_killed_after_writing_its_pdf_leaves_no_second_file(pipeline: Pipeline) -> None:
    p = pipeline
    letter_ids = _ask_for_letters(p, 1)  # two L1s, waiting in Redis; no worker yet
    with _publishing_held(p):
        worker = p.fleet.start("fork")
        _wait(lambda: _jobs_waiting_on_the_lock(p) == 1, 45, "a job to block on its audit row", p.fleet.observe)
        # One job for both letters (one commit's chunk): both PDFs are in the store; their rows' updates are not
        # committed.
        assert len(_store_files(p)) == len(letter_ids)
        assert p.fleet.kill(worker) >= 1  # the worker and its horse, mid-publish
    assert _counts(p)[LetterStatus.RENDERING.value] == len(letter_ids)

    _recover(p, letter_ids, workers=1)

    extra = _check_one_pdf_each(p, letter_ids)
    if extra:
        raise OrphanPdfLeft(f"files no letter points at: {_orphans_of_known_kind(p, extra, letter_ids)}")


def test_the_sweeper_brings_back_a_letter_whose_worker_was_killed(pipeline: Pipeline) -> None:
    p = pipeline
    letter_ids = _ask_for_letters(p, 1)
    with _publishing_held(p):
        worker = p.fleet.start("fork")
        _wait(lambda: _jobs_waiting_on_the_lock(p) == 1, 45, "a job to block on its audit row", p.fleet.observe)
        p.fleet.kill(worker)
    # Both letters were in the killed job (one chunk), both claimed by it.
    killed = sorted(lt.id for lt in _letters(p) if lt.status == LetterStatus.RENDERING.value)
    assert killed == sorted(letter_ids)
    # Only the database's clock moves on: the claims are stale. RQ has not yet run its maintenance (it would in
    # 90 s to 10 min), so it still holds the killed job as started.
    with p.engine.begin() as conn:
        conn.execute(update(Letter).where(Letter.id.in_(killed)).values(claimed_at=utcnow() - timedelta(minutes=6)))
    assert Job.fetch(render_job_id(killed), connection=p.connection).get_status() == "started"
    replacement = p.fleet.start("fork")
    p.fleet.wait_ready(replacement)

    swept = jobs.sweep_letters(now=utcnow() + LATER)

    assert swept["render"] == len(killed)
    with suppress(AssertionError):
        _wait(
            lambda: all(_status_of(p, i) == LetterStatus.RENDERED.value for i in killed),
            30,
            "the killed letters",
            p.fleet.observe,
        )
    if any(_status_of(p, i) != LetterStatus.RENDERED.value for i in killed):
        job = Job.fetch(render_job_id(killed), connection=p.connection)
        raise SweepCannotRequeue(
            f"letters {[(i, _status_of(p, i)) for i in killed]} after the sweep; their RQ job is {job.get_status()!r}"
        )
    _check_one_pdf_each(p, killed)


def _stuck(p: Pipeline) -> list[tuple[int, str, int, str | None, str]]:
    """The letters not rendered, each with the status of the RQ jobs that name it."""
    queue = p.queue
    job_ids = {
        *queue.job_ids,
        *queue.started_job_registry.get_job_ids(),
        *queue.scheduled_job_registry.get_job_ids(),
        *queue.failed_job_registry.get_job_ids(),
    }
    statuses: dict[int, list[str]] = {}
    for job_id in job_ids:
        job = queue.fetch_job(job_id)
        for letter_id in letters_of_job(job_id):
            statuses.setdefault(letter_id, []).append("gone" if job is None else str(job.get_status()))
    found = []
    for letter in _letters(p):
        if letter.status != LetterStatus.RENDERED.value:
            job_status = ", ".join(statuses.get(letter.id, ["no job"]))
            found.append((letter.id, letter.status, letter.attempts, letter.claimed_by, job_status))
    return found


def _status_of(p: Pipeline, letter_id: int) -> str:
    with p.factory() as s:
        return s.get_one(Letter, letter_id).status


# -- scenarios 27 and 28: Redis loses everything, or is not there ------------------------------------------------------


def test_redis_restarted_without_persistence_mid_batch_loses_no_letter(pipeline: Pipeline) -> None:
    p = pipeline
    worker = p.fleet.start("fork", put_delay="0.1,0.2")
    p.fleet.wait_ready(worker)
    letter_ids = _ask_for_letters(p, 15, per_commit=1)  # 15 requests: 15 jobs of 2 letters
    _wait(lambda: _counts(p)[LetterStatus.RENDERED.value] >= 3, 30, "the first letters", p.fleet.observe)

    p.redis.shutdown_nosave()
    p.redis.start()  # same port, same flags, empty

    assert p.queue.count == 0, "the queued jobs are gone with Redis"
    # The job the worker held when Redis went away finishes on its own (its horse needs only PostgreSQL); then
    # nothing moves any more: the other jobs are lost.
    history: list[Counter[str]] = []

    def settled() -> bool:
        history.append(_counts(p))
        return len(history) > 20 and history[-1] == history[-21] and not history[-1][LetterStatus.RENDERING.value]

    _wait(settled, 30, "the batch to stop", p.fleet.observe)
    lost = history[-1][LetterStatus.QUEUED.value]
    assert lost > 0
    # rq's worker either reconnects or quits ("found an unhandled exception, quitting"), depending on where the
    # ConnectionError hits it; under systemd, Restart=always starts it again. So does this test.
    with suppress(AssertionError):
        _wait(lambda: worker.poll() is not None, 3, "the worker to quit")
    fate = "survived" if worker.poll() is None else "quit at"
    print(f"\nthe worker {fate} the Redis restart; {lost} letters lost their jobs")

    swept = jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER + timedelta(seconds=10))

    assert swept["render"] == lost

    def keep_a_worker() -> None:
        p.fleet.observe()
        if not p.fleet.alive():
            p.fleet.start("fork")

    try:
        _wait(lambda: _counts(p)[LetterStatus.RENDERED.value] == len(letter_ids), 60, "every letter", keep_a_worker)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_stuck(p)}\n{p.fleet.log_tail()}") from None
    assert not _check_one_pdf_each(p, letter_ids)


def test_with_redis_down_asking_for_letters_still_succeeds_and_the_sweeper_catches_up(pipeline: Pipeline) -> None:
    p = pipeline
    p.redis.shutdown_nosave()
    raised: Exception | None = None
    started = time.monotonic()
    try:
        _ask_for_letters(p, 10)
    except (RedisConnectionError, QueueUnavailable) as exc:
        raised = exc
    took = time.monotonic() - started
    letter_ids = [lt.id for lt in _letters(p)]
    assert len(letter_ids) == 20, "the request's transaction committed its letters"
    assert _counts(p) == Counter({LetterStatus.QUEUED.value: 20})
    # A person's retry (POST /letters/{id}/retry) and the sweeper, with Redis still down: nothing raised, nothing
    # counted as enqueued, and no hanging (the Redis client has connect and read timeouts).
    assert enqueue_render(p.rt.queue, letter_ids[0]) is False
    assert jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER + timedelta(seconds=10)) == {"render": 0, "email": 0}
    assert took < 10, f"asking for letters with Redis down took {took:.1f} s"

    p.redis.start()
    p.fleet.wait_ready(p.fleet.start("default"))
    swept = jobs.sweep_letters(now=utcnow() + jobs.LOST_AFTER + timedelta(seconds=10))

    assert swept["render"] == 20
    _wait(lambda: _counts(p)[LetterStatus.RENDERED.value] == 20, 60, "every letter", p.fleet.observe)
    assert not _check_one_pdf_each(p, letter_ids)
    if raised is not None:
        raise CommitRaisedAfterRedisDown(f"commit() raised {type(raised).__name__}: {raised}")


# -- scenario 29: with a worker waiting, no job before commit and none after a rollback --------------------------------


def test_with_a_worker_waiting_a_job_starts_only_after_commit_and_never_after_rollback(pipeline: Pipeline) -> None:
    p = pipeline
    worker = p.fleet.start("no-fork")
    p.fleet.wait_ready(worker)

    with p.factory() as s:
        case = make_case(s, p.rt.engine)
        debt = make_debt(s, p.rt.engine, case)
        fire_debt_event(s, p.rt.engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
        s.flush()
        committed_ids = sorted(s.scalars(select(Letter.id).where(Letter.debt_id == debt.id)))
        time.sleep(1)  # the commit is slow: a job enqueued already would now run and find no row
        assert p.queue.count == 0
        assert _store_files(p) == set()
        s.commit()
    rendered = LetterStatus.RENDERED.value
    _wait(lambda: _counts(p)[rendered] == len(committed_ids), 30, "the committed letters", p.fleet.observe)

    with p.factory() as s:
        case = make_case(s, p.rt.engine)
        debt = make_debt(s, p.rt.engine, case)
        fire_debt_event(s, p.rt.engine, debt, "send_letters", actor=COUNSELLOR, now=NOW)
        s.flush()
        s.rollback()
    time.sleep(1)

    assert p.queue.count == 0
    assert len(StartedJobRegistry(queue=p.queue)) == 0
    assert len(p.queue.failed_job_registry) == 0
    assert jobs.sweep_letters(now=utcnow() + LATER) == {"render": 0, "email": 0}
    assert [lt.id for lt in _letters(p)] == committed_ids
    assert not _check_one_pdf_each(p, committed_ids)


# -- found by bench/letters.py: reply-code lookups collide ------------------------------------------------------------


def test_a_reply_code_lookup_that_is_taken_does_not_cost_the_letter_an_attempt(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = pipeline
    first, second = _ask_for_letters(p, 1)  # queued in our Redis; no worker: the jobs run here
    assert jobs.render_letter(first).endswith(".pdf")
    with p.factory() as s:
        taken = s.get_one(Letter, first).reply_code_lookup
    assert taken is not None
    real = new_reply_secrets
    key = ReplyCodeKey.derive(p.rt.settings.secret_key)
    draws = iter([dataclasses.replace(real(key), lookup=taken)])  # the first draw is the taken one, then random again
    monkeypatch.setattr(jobs, "new_reply_secrets", lambda key: next(draws, None) or real(key))

    try:
        outcome = jobs.render_letter(second)
    except Exception as exc:  # raised for RQ to retry: the attempt is spent
        outcome = f"raised {type(exc).__name__}"

    with p.factory() as s:
        letter = s.get_one(Letter, second)
    if (letter.status, letter.attempts) != (LetterStatus.RENDERED.value, 1):
        raise ReplyCodeCollision(
            f"render_letter {outcome}; the letter is {letter.status!r} after {letter.attempts} attempt(s): "
            f"{letter.last_error}"
        )
    assert outcome == letter.storage_key
    assert letter.reply_code_lookup != taken
    assert not _check_one_pdf_each(p, [first, second])


# -- issue 14: a worker outlives Redis, and nothing of it outlives the worker -----------------------------------------


@pytest.mark.parametrize("kind", ["default", "no-fork"])
def test_a_worker_waits_out_a_redis_outage_and_then_renders_the_letters(pipeline: Pipeline, kind: str) -> None:
    p = pipeline
    worker = p.fleet.start(kind)
    p.fleet.wait_ready(worker)

    p.redis.shutdown_nosave()
    time.sleep(3)  # RQ's loop meets the outage: before issue 14 the worker quit here, for good
    assert worker.poll() is None, f"the worker exited during the outage:\n{p.fleet.log_tail()}"
    p.redis.start()
    # It registers again (under a new name) once Redis answers: within its longest pause, 30 s, and here within
    # the first few (1, 2, 4 s).
    p.fleet.wait_ready(worker, timeout=40)
    letter_ids = _ask_for_letters(p, 3)

    _wait(lambda: _counts(p)[LetterStatus.RENDERED.value] == len(letter_ids), 60, "every letter", p.fleet.observe)
    assert worker.poll() is None
    assert not _check_one_pdf_each(p, letter_ids)
    worker.terminate()  # a stop request still stops it
    assert worker.wait(timeout=20) == 0


def test_killing_a_worker_takes_its_rq_scheduler_process_with_it(pipeline: Pipeline) -> None:
    p = pipeline
    worker = p.fleet.start("default")
    p.fleet.wait_ready(worker)
    _wait(lambda: bool(_children(worker.pid)), 20, "the worker's scheduler process")
    children = _children(worker.pid)

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)

    # Before issue 14 the scheduler lived on as an orphan, holding the scheduler lock of the queues.
    _wait(lambda: not any(_alive(pid) for pid in children), 10, "the scheduler process to die with its worker")
