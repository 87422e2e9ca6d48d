"""Benchmark of the letter pipeline: 10,000 letters through the real queue with 2 workers, against a floor.

What is measured, and why:

* **Data.** A fresh, migrated database ``schulden_benchletters``. Cases with 2 debts each are made through the
  services (``open_case``, ``add_debt``, consent, ``send_letters``), so every debt asks for its first letter, L1
  (the detention notice with the saldo request), as in the application; these rows are then copied with SQLAlchemy
  Core as rounds 2-10 of the same letters (their own idempotency keys), which gives 10,000 queued ``letter`` rows:
  500 cases, 1,000 debts, 10 letters per debt. Every letter goes to a creditor, so every one carries a reply code
  (keyed hash) and a QR code.
* **Pipeline.** Two worker processes on the ``letters`` queue (``SCHULDROUTE_ENV=production``, logs to a file)
  are started and wait until both have registered. Then the clock starts: the letter ids are enqueued with RQ's
  pipelined ``enqueue_many`` in chunks of 25, as the after-commit dispatch does, with the options of
  ``RedisQueue.enqueue`` (job id from ``render_job_id``, timeout, retry, no result kept), and the workers run
  ``render_letters`` on them: one claim for the chunk, compose (the case, debt and
  creditor from PostgreSQL), reply secrets, render with QR, atomic write with fsync to the file store, record and
  audit row. The clock stops at the last letter's ``rendered_at``. Three worker classes are measured (``--variants``),
  one after the other on the same rows (reset in between): ``default``, what ``schuldroute worker`` runs
  (``PreloadedWorker``: renderer loaded once, letter jobs in the worker process, a pooled database connection);
  ``no-fork``, ``schuldroute worker --no-fork`` (``InProcessWorker``, every job in the worker process); and ``fork``,
  ``rq worker -w integrations.worker.ForkingWorker`` (a work horse per job of 25 letters, renderer loaded before
  the fork, a new database connection per job; RQ's own model, for comparison). The forking worker gets the first
  1,000 letters only (``--fork-count``): its rate is steady after the first seconds.
* **PDF store** (``--store folder|database|both``, default both; issue 14). The default worker runs once per store,
  the two passes one right after the other on the same rows and the same PostgreSQL: ``folder`` (``FILE_STORE=folder``,
  the atomic write with fsync above) and ``database`` (``FILE_STORE=database``, production's default: the PDF is
  written into ``stored_file`` by ``put_within`` in the transaction that records the letter). The other worker
  classes run with the first store only: what they compare does not depend on where the PDF goes. After the
  database pass the script reads the table's size (``pg_total_relation_size('stored_file')``: heap, TOAST and
  indexes) and divides it by the letters; for both passes it reads the WAL written (``pg_current_wal_lsn``), which is
  what replication and backups carry. ``--store-count`` gives the second store fewer letters.
* **Floor.** The same letters' content (``compose`` with no reply secrets: no reply block, no QR code) rendered by
  ``integrations.letters.render.render_pdf`` in a pool of 2 processes (renderer warmed up first), without database,
  queue or files. Half of the sample is rendered before the pipelines and half after, so the drift of the noisy VM
  hits both alike; the rate is the whole sample over both times.
* **Memory.** Peak RSS (``VmHWM`` in /proc) of each worker process, and of its children (work horses and the RQ
  scheduler process), sampled every 0.2 s while the batch runs. A horse lives ~30 ms, so the sample sees some of
  them, not all; its RSS counts the pages it shares with its parent.
* **CPU.** Core-milliseconds per letter of the worker trees (their children included), of PostgreSQL (the
  postmaster and its backends, when the server runs here and its data directory is readable) and of Redis, from
  /proc; for the floor, of the pool's processes. The *CPU ratio* (floor's CPU per letter over the pipeline's) does
  not depend on what else runs on the machine; the *other load* column says how much did (busy CPU that was not
  ours, in % of all CPUs). Before each phase the script waits (``--quiet-wait``) for the machine to be idle.

After each batch the script checks: every letter rendered and none failed; no extra attempts (a reply-code lookup
that is taken, about n²/(2·23⁵) of n new letters, 7.8 of 10,000, is drawn again inside the claim); one PDF per
letter in the store and nothing else; the SHA-256 and size of every file equal to its row's (for the database
store: one ``stored_file`` row per letter under its key, SHA-256 and size computed by PostgreSQL, and no file in
the folder); the letters outside a batch untouched. Any failed check makes the script
exit with status 1.

**Targets** (issue 16): the pipeline reaches at least 80 % of the floor's letters per second and of its CPU per
letter (where the machine is too noisy for the wall-clock ratio, the CPU ratio decides: "met on CPU"), and worker
memory stays under 200 MB (the forking variant is there for comparison and is not held to them). When the default or
``no-fork`` pipeline misses the first (or with ``--profile``), one worker's job is profiled
in-process: ``render_letters`` on 500 letters in jobs of 25 with the database store, first timed without and then
with cProfile, and the time is split into render, QR code, reply secrets, compose, the PDF's insert and the rest
(claim, record, commits); the difference with the pipeline's time per
letter and worker is the queue's share. For the forking worker, forks without RQ then show what a horse pays: the
fork, a new PostgreSQL connection, ``render_letter`` after ``prepare()``, and the same after one job in the parent.

Run it with ``scripts/bench-letters.sh`` (it starts a throwaway PostgreSQL, durable as in production, and Redis), or
against servers of your
own with ``.venv/bin/python bench/letters.py --database-url postgresql+psycopg://... --redis-url redis://...``. The
script creates (and drops at the end, unless ``--keep``) the database ``schulden_benchletters``, and FLUSHES the
Redis database of ``--redis-url``: give it a throwaway server. ``--quick`` runs 500 letters as a smoke test. The
figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import multiprocessing
import os
import platform
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any, cast

import sqlalchemy
from redis import Redis
from rq import Queue, Retry, Worker
from sqlalchemy import Engine as SAEngine
from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere: the application's packages are in the repository
    sys.path.insert(0, str(REPO))

from bench.common import code_version, drop_database, fresh_database, host  # noqa: E402
from integrations.letters.job_ids import CHUNK, chunks, render_job_id  # noqa: E402
from integrations.letters.jobs import render_letter, render_letters  # noqa: E402
from schulden.cases.models import Consent, ConsentPurpose, DetentionType  # noqa: E402
from schulden.cases.services import open_case  # noqa: E402
from schulden.creditors.models import Creditor  # noqa: E402
from schulden.db import make_engine  # noqa: E402
from schulden.debts.models import AmountStatus, DebtCategory  # noqa: E402
from schulden.debts.services import add_debt, fire_debt_event  # noqa: E402
from schulden.letters.content import LetterContent  # noqa: E402
from schulden.letters.models import Letter, LetterStatus  # noqa: E402
from schulden.organisations.models import Organisation, OrganisationKind  # noqa: E402
from schulden.processes import build_engine  # noqa: E402

LETTER = cast(Table, Letter.__table__)
BENCH_DATABASE = "schulden_benchletters"
QUEUE = "letters"
ROUNDS = 10  # letter rows per letter made by the services: rounds 1-10
DEBTS_PER_CASE = 2
LETTERS_PER_DEBT = 1  # send_letters asks for L1 (the detention notice with the saldo request; no separate L2)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET_KEY = "bench-letters-secret-key-0123456789abcdef"
TARGET_RATIO = 0.80  # issue 16 (issue 8 asked for 0.50)
TARGET_MEMORY_MB = 200.0
VARIANTS = {
    "default": "`schuldroute worker` PreloadedWorker (letters in the worker process)",
    "no-fork": "`schuldroute worker --no-fork` InProcessWorker",
    "fork": "ForkingWorker (a work horse per job)",
}
#: How each variant's worker is started (`letters` is appended): the ForkingWorker only through rq's own CLI.
WORKER_COMMANDS = {
    "default": ["schuldroute", "worker"],
    "no-fork": ["schuldroute", "worker", "--no-fork"],
    "fork": ["rq", "worker", "--with-scheduler", "-w", "integrations.worker.ForkingWorker"],
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Where the workers put the PDFs (FILE_STORE): set explicitly, as SCHULDROUTE_ENV=production defaults to database.
STORES = ("folder", "database")
STORE_NAMES = {"folder": "folder store", "database": "database store"}


@dataclass(frozen=True)
class BenchActor:
    actor_id: str
    roles: frozenset[str]


PI_STAFF = BenchActor("user:bench-pi", frozenset({"pi_staff"}))
COUNSELLOR = BenchActor("user:bench-counsellor", frozenset({"counsellor"}))


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> str:
        if not ok:
            self.failed.append(what)
        return "OK" if ok else "FAILED"


def spread(values: Sequence[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}" if values else ""


# -- database ----------------------------------------------------------------------------------------------------------


SURNAMES = ("Jansen", "de Vries", "Bakker", "Öztürk", "El Amrani", "Visser", "Smit", "Meijer", "de Boer", "Mulder")
GIVEN = ("Jan", "Mohamed", "Kevin", "Ĳsbrand", "Dennis", "Stefan", "Rachid", "Patrick", "Bart", "Youssef")
CREDITORS = (
    ("Woonstichting De Linie", DebtCategory.OVERIG, "huur"),
    ("Energie Direct N.V.", DebtCategory.NUTS, "energie"),
    ("Waterbedrijf Oost", DebtCategory.NUTS, "water"),
    ("Zorgverzekeraar Zeker", DebtCategory.ZORG, "zorgpremie"),
    ("Incassobureau Vlot B.V.", DebtCategory.OVERIG, "huur"),
    ("Telecom Plus", DebtCategory.OVERIG, "huur"),
)


@dataclass
class Loaded:
    letter_ids: list[int]
    cases: int
    debts: int
    services_s: float
    copy_s: float


def load_letters(url: str, count: int) -> Loaded:
    """Queued letter rows: a fifth made through the services, the rest Core copies of those as later rounds."""
    per_case = DEBTS_PER_CASE * LETTERS_PER_DEBT * ROUNDS
    cases = max(1, -(-count // per_case))
    engine = make_engine(url)
    factory = sessionmaker(engine, expire_on_commit=False)  # no dispatch hook: rows stay queued, nothing enqueued
    wf = build_engine()
    t0 = perf_counter()
    with factory() as s:
        pi = Organisation(kind=OrganisationKind.PI.value, name="PI Benchstad", code="PI-BENCH")
        municipality = Organisation(
            kind=OrganisationKind.MUNICIPALITY.value, name="Benchstad", code="GM9999", email="shv@benchstad.example"
        )
        s.add_all([pi, municipality])
        creditors = [
            Creditor(
                name=name,
                category=category.value,
                address_line=f"Postbus {1000 + i}",
                postcode="3500 AA",
                city="Utrecht",
            )
            for i, (name, category, _) in enumerate(CREDITORS)
        ]
        s.add_all(creditors)
        s.flush()
        for n in range(cases):
            case = open_case(
                s,
                wf,
                actor=PI_STAFF,
                given_names=GIVEN[n % len(GIVEN)],
                surname=SURNAMES[n // len(GIVEN) % len(SURNAMES)],
                date_of_birth=date(1970 + n % 35, 1 + n % 12, 1 + n % 28),
                pi=pi,
                detention_type=DetentionType.PRISON_SENTENCE,
                detention_start=date(2025, 9, 1),
                expected_release=date(2026, 9, 1) if n % 3 else None,
                dji_number=f"{1_000_000 + n}",
                now=NOW,
            )
            case.municipality_id = municipality.id
            s.add_all(
                Consent(
                    case_id=case.id,
                    purpose=purpose.value,
                    signed_on=date(2025, 9, 15),
                    valid_until=date(2030, 12, 31),
                    text_version="bench",
                    recorded_by=PI_STAFF.actor_id,
                )
                for purpose in ConsentPurpose
            )
            s.flush()
            for d in range(DEBTS_PER_CASE):
                index = (n + d * 3) % len(CREDITORS)
                _, category, debt_type = CREDITORS[index]
                debt = add_debt(
                    s,
                    wf,
                    case,
                    actor=PI_STAFF,
                    creditor=creditors[index],
                    category=category,
                    debt_type=debt_type,
                    principal_cents=10_000 + 3_517 * n % 250_000,
                    interest_cents=1_234 * d,
                    costs_cents=4_000,
                    amount_status=AmountStatus.ESTIMATED,
                    creditor_reference=f"REF-{n:05d}-{d}",
                    now=NOW,
                )
                fire_debt_event(s, wf, debt, "send_letters", actor=COUNSELLOR, now=NOW)
            if n % 100 == 99:
                s.commit()
        s.commit()
    services_s = perf_counter() - t0

    t0 = perf_counter()
    table = LETTER
    skip = {"id"}
    with engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
        copies = []
        for round_ in range(2, ROUNDS + 1):
            for row in rows:
                copy = {k: v for k, v in row.items() if k not in skip}
                copy["idempotency_key"] = f"{row['idempotency_key']}:r{round_}"
                copy["round"] = round_
                copies.append(copy)
        if copies:
            conn.execute(insert(table), copies)
        ids = list(conn.scalars(select(table.c.id).order_by(table.c.id).limit(count)))
        # Exactly `count` letters: the surplus of the last case's rows goes.
        conn.execute(sqlalchemy.delete(table).where(table.c.id.not_in(ids)))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return Loaded(ids, cases, cases * DEBTS_PER_CASE, services_s, perf_counter() - t0)


#: A letter as it was asked for: queued, no claim, no file, no reply secrets.
AS_ASKED: dict[str, Any] = {
    "status": LetterStatus.QUEUED.value,
    "attempts": 0,
    "claimed_at": None,
    "claimed_by": None,
    "last_error": None,
    "storage_key": None,
    "sha256": None,
    "size_bytes": None,
    "rendered_at": None,
    "template_version": None,
    "reply_code_lookup": None,
    "reply_code_hash": None,
    "reply_token_hash": None,
    "reply_expires_at": None,
}


def reset_letters(engine: SAEngine, store: Path) -> None:
    """Every letter back to `queued`, as asked for; both stores emptied."""
    with engine.begin() as conn:
        conn.execute(update(LETTER).values(**AS_ASKED))
        # TRUNCATE, not DELETE: new, empty files, so that the size read after a pass is that pass's PDFs alone.
        conn.execute(text("TRUNCATE stored_file"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE letter"))
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)


# -- processes ---------------------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in children(pid):
        found.append(child)
        found.extend(descendants(child))
    return found


def tree_cpu_s(root: int | None) -> float:
    """CPU seconds of a process tree: each live process's own and its reaped children's (a dead horse's time is
    in its worker's cutime/cstime)."""
    if root is None:
        return 0.0
    total = 0
    for pid in [root, *descendants(root)]:
        fields = _stat_fields(pid)
        if fields is not None:
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / CLOCK_TICKS


def own_cpu_s(pid: int) -> float:
    """CPU seconds of the process itself (utime + stime), without its children."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def vm_kb(pid: int) -> dict[str, int]:
    found = {}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                found[key] = int(value.split()[0])
    return found


class MemorySampler(threading.Thread):
    """Peak RSS of the workers and of their children, sampled every `interval` seconds."""

    def __init__(self, pids: Sequence[int], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids = list(pids)
        self.interval = interval
        self.stop_event = threading.Event()
        self.worker_kb = 0
        self.child_kb = 0
        self.children_seen: set[int] = set()

    def sample(self) -> None:
        for pid in self.pids:
            self.worker_kb = max(self.worker_kb, vm_kb(pid).get("VmHWM", 0))
            for child in children(pid):
                self.children_seen.add(child)
                self.child_kb = max(self.child_kb, vm_kb(child).get("VmHWM", 0))

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.stop_event.set()
        self.join()
        self.sample()


def postmaster_pid(engine: SAEngine) -> int | None:
    """The PostgreSQL server's pid when it runs on this machine and we may read its data directory."""
    try:
        with engine.connect() as conn:
            data_directory = conn.execute(text("SHOW data_directory")).scalar_one()
        return int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, sqlalchemy.exc.DBAPIError):
        return None


def redis_pid(redis: Redis) -> int | None:
    pid = int(redis.info("server").get("process_id", 0))
    return pid if pid and Path(f"/proc/{pid}").exists() else None


def _cpu_jiffies() -> list[int]:
    return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


class Meter:
    """The whole machine's CPU over a phase: busy and steal, and how much of it was not ours (other load)."""

    def __init__(self) -> None:
        self.jiffies = _cpu_jiffies()
        self.bench_s = sum(os.times()[:2])

    def stop(self, ours_s: float) -> tuple[float, float, float]:
        """(busy, steal, other) in % of all CPUs; `ours_s` is the CPU of the processes under test."""
        delta = [b - a for a, b in zip(self.jiffies, _cpu_jiffies(), strict=True)]
        total = max(1, sum(delta))
        ours_s += sum(os.times()[:2]) - self.bench_s  # this script too
        busy = 100 * (1 - (delta[3] + delta[4]) / total)
        return busy, 100 * delta[7] / total, max(0.0, busy - 100 * ours_s * CLOCK_TICKS / total)


def busy_share(seconds: float = 2.0) -> float:
    """The share of all CPUs busy over the next `seconds` (steal counted as busy)."""
    first = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    time.sleep(seconds)
    second = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    delta = [b - a for a, b in zip(first, second, strict=True)]
    return 1 - (delta[3] + delta[4]) / max(1, sum(delta))


def wait_for_quiet(limit_s: float, threshold: float = 0.25) -> str:
    """Wait (at most `limit_s`) until other work on this machine leaves it mostly idle; say how it went."""
    t0 = time.monotonic()
    share = busy_share()
    while share > threshold and time.monotonic() - t0 < limit_s:
        time.sleep(3)
        share = busy_share()
    return f"machine {share:.0%} busy before the measurement (waited {time.monotonic() - t0:.0f} s)"


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]


def start_workers(
    variant: str,
    count: int,
    database_url: str,
    redis_url: str,
    store: Path,
    workdir: Path,
    redis: Redis,
    file_store: str,
) -> Workers:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SCHULDROUTE_ENV="production",
        SECRET_KEY=SECRET_KEY,
        FILE_STORE=file_store,
        LETTER_STORE=str(store),
        SCHULDROUTE_INSTANCE=str(workdir / "instance"),
    )
    program, *options = WORKER_COMMANDS[variant]
    command = [str(REPO / ".venv" / "bin" / program), *options]
    if program == "rq":
        command += ["--url", redis_url]
    processes, logs = [], []
    for n in range(count):
        log = workdir / f"worker-{variant}-{file_store}-{n}.log"
        with log.open("wb") as out:
            processes.append(subprocess.Popen([*command, QUEUE], env=env, cwd=workdir, stdout=out, stderr=out))
        logs.append(log)
    deadline = time.monotonic() + 120
    while True:
        registered = {w.pid for w in Worker.all(connection=redis)}
        if all(p.pid in registered for p in processes):
            return Workers(processes, logs)
        dead = [p for p in processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            stop_workers(Workers(processes, logs))
            tail = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
            raise RuntimeError(f"workers did not start:\n{tail}")
        time.sleep(0.1)


def stop_workers(workers: Workers) -> None:
    """One SIGTERM (warm shutdown), then SIGKILL for what is left, children included."""
    tree = {p.pid: descendants(p.pid) for p in workers.processes if p.poll() is None}
    for process in workers.processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in workers.processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pids in tree.values():
        for pid in pids:
            fields = _stat_fields(pid)
            if fields is not None and fields[0] not in ("Z", "X"):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# -- the pipeline ------------------------------------------------------------------------------------------------------


def enqueue_all(redis: Redis, letter_ids: Sequence[int], chunk: int = 1_000) -> None:
    """Every letter's render job, pipelined, as the after-commit dispatch builds them: chunks of CHUNK letters
    (`render_letters`, job id from `render_job_id`) with the options of RedisQueue.enqueue."""
    queue = Queue(QUEUE, connection=redis)
    jobs = list(chunks(letter_ids))
    per_pipe = max(1, chunk // CHUNK)
    for start in range(0, len(jobs), per_pipe):
        datas = [
            Queue.prepare_data(
                render_letters,
                args=(ids,),
                job_id=render_job_id(ids),
                timeout=120,
                result_ttl=0,
                failure_ttl=7 * 24 * 3600,
                retry=Retry(max=2, interval=[10, 60]),
            )
            for ids in jobs[start : start + per_pipe]
        ]
        with redis.pipeline() as pipe:
            queue.enqueue_many(datas, pipeline=pipe)
            pipe.execute()


@dataclass(frozen=True)
class TableSize:
    """`stored_file` on disk after a database pass, in bytes: pg_total_relation_size is the sum of the three."""

    total: int
    heap: int  # the rows without their PDFs (key, folder, size, hash, time, a TOAST pointer)
    toast: int  # the PDFs, out of line and uncompressed (STORAGE EXTERNAL), with the TOAST table's own index
    indexes: int  # primary key on `key`, index on `folder`


def wal_lsn(engine: SAEngine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one())


def wal_bytes_since(engine: SAEngine, lsn: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :lsn)"), {"lsn": lsn}).scalar_one())


def stored_file_size(engine: SAEngine) -> TableSize:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
                "coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0), pg_indexes_size(c.oid) "
                "FROM pg_class c WHERE c.oid = 'stored_file'::regclass"
            )
        ).one()
    return TableSize(*(int(x) for x in row))


@dataclass
class PipelineRun:
    variant: str
    store: str  # FILE_STORE: folder or database
    letters: int
    seconds: float
    enqueue_s: float
    worker_peak_mb: float
    child_peak_mb: float
    children_seen: int
    cpu_workers_ms: float  # per letter: worker processes and their children
    cpu_parents_ms: float  # per letter: the worker processes' own CPU (dequeue, fork, bookkeeping, or the whole job)
    cpu_postgres_ms: float
    cpu_redis_ms: float
    steal_pct: float
    busy_pct: float
    other_pct: float  # of all CPUs, used by processes other than the ones under test
    pdf_bytes: float  # average size of the batch's PDFs (the letters' size_bytes)
    wal_bytes: int  # WAL written during the pass (the whole server: ours alone on the script's cluster)
    table: TableSize | None  # stored_file after a database pass
    workers: int = 2  # `--workers`: the worker processes started for the pass (each may fork horses)
    checks: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{VARIANTS[self.variant]}, {STORE_NAMES[self.store]}"

    @property
    def rate(self) -> float:
        return self.letters / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_workers_ms + self.cpu_postgres_ms + self.cpu_redis_ms


def run_pipeline(
    variant: str,
    *,
    engine: SAEngine,
    database_url: str,
    redis_url: str,
    redis: Redis,
    letter_ids: Sequence[int],
    workers: int,
    store: Path,
    file_store: str,
    workdir: Path,
    checks: Checks,
    timeout_s: float,
) -> PipelineRun:
    reset_letters(engine, store)
    redis.flushdb()
    fleet = start_workers(variant, workers, database_url, redis_url, store, workdir, redis, file_store)
    try:
        sampler = MemorySampler([p.pid for p in fleet.processes])
        postmaster, redis_server = postmaster_pid(engine), redis_pid(redis)
        cpu_before = [tree_cpu_s(p.pid) for p in fleet.processes], tree_cpu_s(postmaster), tree_cpu_s(redis_server)
        own_before = [own_cpu_s(p.pid) for p in fleet.processes]
        lsn = wal_lsn(engine)
        meter = Meter()
        sampler.start()
        started = datetime.now(UTC)
        t0 = perf_counter()
        enqueue_all(redis, letter_ids)
        enqueue_s = perf_counter() - t0
        n = len(letter_ids)
        deadline = time.monotonic() + timeout_s
        with engine.connect() as conn:
            while True:
                done, failed = conn.execute(
                    select(
                        func.count().filter(Letter.status == LetterStatus.RENDERED.value),
                        func.count().filter(Letter.status == LetterStatus.FAILED.value),
                    )
                ).one()
                conn.rollback()
                if done + failed >= n or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        sampler.stop()
        cpu_after = [tree_cpu_s(p.pid) for p in fleet.processes], tree_cpu_s(postmaster), tree_cpu_s(redis_server)
        own_after = [own_cpu_s(p.pid) for p in fleet.processes]
        ours = sum(cpu_after[0]) - sum(cpu_before[0]) + cpu_after[1] - cpu_before[1] + cpu_after[2] - cpu_before[2]
        busy, steal, other = meter.stop(ours)
    finally:
        stop_workers(fleet)
    wal = wal_bytes_since(engine, lsn)
    size = stored_file_size(engine) if file_store == "database" else None
    with engine.connect() as conn:
        last = conn.execute(select(func.max(Letter.rendered_at))).scalar_one()
        pdf_bytes = conn.execute(select(func.avg(Letter.size_bytes))).scalar_one()
    seconds = (last - started).total_seconds() if last is not None else float("nan")
    run = PipelineRun(
        workers=workers,
        variant=variant,
        store=file_store,
        letters=n,
        seconds=seconds,
        enqueue_s=enqueue_s,
        worker_peak_mb=sampler.worker_kb / 1024,
        child_peak_mb=sampler.child_kb / 1024,
        children_seen=len(sampler.children_seen),
        cpu_workers_ms=1000 * (sum(cpu_after[0]) - sum(cpu_before[0])) / n,
        cpu_parents_ms=1000 * (sum(own_after) - sum(own_before)) / n,
        cpu_postgres_ms=1000 * (cpu_after[1] - cpu_before[1]) / n if postmaster else float("nan"),
        cpu_redis_ms=1000 * (cpu_after[2] - cpu_before[2]) / n if redis_server else float("nan"),
        steal_pct=steal,
        busy_pct=busy,
        other_pct=other,
        pdf_bytes=float(pdf_bytes or 0),
        wal_bytes=wal,
        table=size,
    )
    run.checks = check_batch(engine, store, file_store, letter_ids, checks, f"{variant}/{file_store}", fleet.logs)
    return run


#: Reply-code lookups: 5 characters of a 23-symbol alphabet (schulden/letters/reply_codes.py), unique over all letters.
LOOKUP_SPACE = 23**5
REDRAW = "reply code lookup taken"


def check_batch(
    engine: SAEngine,
    store: Path,
    file_store: str,
    letter_ids: Sequence[int],
    checks: Checks,
    variant: str,
    logs: Sequence[Path],
) -> list[str]:
    batch = set(letter_ids)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Letter.id, Letter.status, Letter.attempts, Letter.storage_key, Letter.sha256, Letter.size_bytes)
        ).all()
        # The database store's rows, each with the SHA-256 and size PostgreSQL computes from its bytes: reading
        # 10,000 PDFs into this process would cost more than the check is worth.
        stored = {
            key: (sha, size)
            for key, sha, size in conn.execute(
                text("SELECT key, encode(sha256(data), 'hex'), octet_length(data) FROM stored_file")
            )
        }
    others = [row for row in rows if row.id not in batch]
    rows = [row for row in rows if row.id in batch]
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    folder_files = {str(f.relative_to(store)) for f in store.rglob("*") if f.is_file()}
    # The store the workers used must hold one PDF per letter; the other must stay empty.
    files, other = (set(stored), folder_files) if file_store == "database" else (folder_files, set(stored))
    keys = {row.storage_key for row in rows}
    bad_files = 0
    for row in rows:
        if row.storage_key is None or row.storage_key not in files:
            bad_files += 1
            continue
        if file_store == "database":
            sha, size = stored[row.storage_key]
        else:
            data = (store / row.storage_key).read_bytes()
            sha, size = hashlib.sha256(data).hexdigest(), len(data)
        if sha != row.sha256 or size != row.size_bytes:
            bad_files += 1
    n = len(letter_ids)
    retried = sum(row.attempts - 1 for row in rows if row.attempts > 1)
    # A taken lookup is drawn again inside the claim (logged at INFO when the log level shows it), never an attempt.
    redraws = sum(REDRAW in line for log in logs for line in log.read_text(errors="replace").splitlines())
    expected = n * (n - 1) / 2 / LOOKUP_SPACE
    return [
        f"{variant}: all {n:,} letters rendered ({by_status}): "
        + checks.check(by_status.get(LetterStatus.RENDERED.value) == n == len(rows), f"{variant}: rendered"),
        f"{variant}: the {len(others):,} letters outside the batch untouched: "
        + checks.check(all(row.status == LetterStatus.QUEUED.value for row in others), f"{variant}: others queued"),
        f"{variant}: no extra attempts ({retried}); reply-code lookups drawn again: {redraws} in the logs, "
        f"{expected:.1f} expected among {n:,} new codes: "
        + checks.check(retried == 0, f"{variant}: {retried} extra attempts"),
        f"{variant}: one PDF per letter, nothing else in the {file_store} store ({len(files):,} files), "
        f"nothing in the other ({len(other)}): "
        + checks.check(files == keys and len(files) == n and not other, f"{variant}: one PDF per letter"),
        f"{variant}: every file's SHA-256 and size as recorded: "
        + checks.check(bad_files == 0, f"{variant}: {bad_files} files differ from their rows"),
    ]


# -- the floor ---------------------------------------------------------------------------------------------------------


def contents_without_reply(url: str, letter_ids: Sequence[int]) -> list[LetterContent]:
    """The letters' content as the job composes it, but without reply secrets: no reply block, no QR code."""
    from schulden.letters.compose import Sender, compose
    from schulden.settings import Settings

    settings = Settings.from_env({"SECRET_KEY": SECRET_KEY, "DATABASE_URL": url, "SCHULDROUTE_ENV": "development"})
    sender = Sender(
        settings.sender_name, settings.sender_address, settings.sender_phone, settings.sender_email, settings.public_url
    )
    calendar = build_engine(settings).calendar
    engine = make_engine(url)
    found = []
    with Session(engine) as s:
        for letter_id in letter_ids:
            found.append(compose(s, s.get_one(Letter, letter_id), sender=sender, calendar=calendar, reply=None))
    engine.dispose()
    return found


def _warm() -> None:
    from integrations.letters.render import warm_up

    warm_up()


def _render_chunk(contents: list[LetterContent]) -> int:
    from integrations.letters.render import render_pdf

    return sum(len(render_pdf(c)) for c in contents)


@dataclass
class FloorHalf:
    letters: int
    seconds: float
    kb_per_pdf: float
    cpu_s: float  # the pool processes'
    busy_pct: float
    other_pct: float

    @property
    def rate(self) -> float:
        return self.letters / self.seconds


@dataclass
class FloorRun:
    halves: list[FloorHalf]
    processes: int  # the render pool's size: `--workers`, as many as the pipeline has workers

    @property
    def letters(self) -> int:
        return sum(h.letters for h in self.halves)

    @property
    def seconds(self) -> float:
        return sum(h.seconds for h in self.halves)

    @property
    def rate(self) -> float:
        return self.letters / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * sum(h.cpu_s for h in self.halves) / self.letters

    @property
    def other_pct(self) -> float:
        return max(h.other_pct for h in self.halves)


@contextmanager
def render_pool(processes: int) -> Iterator[Any]:
    # A pool whose initializer raises starts a new process for ever (issue 16: missing fonts hung the benchmark):
    # warm up here first, so that a missing font or renderer fails at once, with the renderer's own message.
    _warm()
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, initializer=_warm) as pool:
        pool.map(_render_chunk, [[] for _ in range(processes * 4)])  # every process started and warmed up
        yield pool


def describe(half: FloorHalf) -> str:
    return (
        f"{half.rate:,.1f} letters/s ({half.kb_per_pdf:.1f} KB per PDF); CPU {1000 * half.cpu_s / half.letters:.1f} "
        f"ms per letter; machine {half.busy_pct:.0f} % busy, other load {half.other_pct:.0f} %"
    )


def floor_half(pool: Any, contents: Sequence[LetterContent], chunk: int = 25) -> FloorHalf:
    chunks = [list(contents[i : i + chunk]) for i in range(0, len(contents), chunk)]
    pids = [process.pid for process in pool._pool]  # the pool's worker processes
    cpu0 = sum(own_cpu_s(pid) for pid in pids)
    meter = Meter()
    t0 = perf_counter()
    size = sum(pool.map(_render_chunk, chunks))
    seconds = perf_counter() - t0
    cpu = sum(own_cpu_s(pid) for pid in pids) - cpu0
    busy, _steal, other = meter.stop(cpu)
    return FloorHalf(len(contents), seconds, size / len(contents) / 1024, cpu, busy, other)


# -- profile of one worker's job ---------------------------------------------------------------------------------------


def profile_job(url: str, letter_ids: Sequence[int], workdir: Path) -> list[str]:
    """render_letters in this process on jobs of CHUNK letters, as the default worker runs them (pooled connection,
    production's database store), timed, then under cProfile."""
    from integrations import runtime as runtime_module
    from integrations.assembly import build_runtime
    from integrations.letters.render import warm_up
    from schulden.settings import Settings

    store = workdir / "profile-store"
    settings = Settings.from_env(
        {"SECRET_KEY": SECRET_KEY, "DATABASE_URL": url, "LETTER_STORE": str(store), "SCHULDROUTE_ENV": "production",
         "FILE_STORE": "database",  # production's store, as the pipeline's database pass
         "REDIS_URL": "redis://127.0.0.1:1/0"}  # never used: post letters enqueue nothing
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.configure(rt)
    assert rt.database.engine is not None
    warm_up()
    lines = []
    failed = 0

    def render(job: list[int]) -> None:
        nonlocal failed
        try:
            render_letters(job)
        except Exception:  # a reply-code collision, say: counted, and the letters go back to the queue
            failed += 1

    try:
        _forget_reply_codes(rt.database.engine)
        timed = list(letter_ids[: max(CHUNK, len(letter_ids) // 5)])
        _reset_some(rt.database.engine, letter_ids, store)
        t0 = perf_counter()
        for job in chunks(timed):
            render(job)
        plain_ms = 1000 * (perf_counter() - t0) / len(timed)
        _reset_some(rt.database.engine, letter_ids, store)
        profiler = cProfile.Profile()
        t0 = perf_counter()
        profiler.enable()
        for job in chunks(list(letter_ids)):
            render(job)
        profiler.disable()
        profiled_ms = 1000 * (perf_counter() - t0) / len(letter_ids)
        connect_ms = _connect_ms(url)
    finally:
        runtime_module._current = None
        rt.database.engine.dispose()
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = vars(pstats.Stats(profiler))["stats"]
    n = len(letter_ids)

    def cum(file_part: str, name: str) -> float:
        return 1000 * sum(v[3] for (file, _, fn), v in raw.items() if fn == name and file_part in file) / n

    def own(name: str) -> float:
        return 1000 * sum(v[2] for (_, _, fn), v in raw.items() if name in fn) / n

    total = cum("letters/jobs.py", "render_letters")
    render_ms = cum("letters/render.py", "render_pdf")
    qr = cum("letters/qr.py", "draw_qr")
    secrets = cum("letters/reply.py", "new_reply_secrets")
    put = cum("letters/storage.py", "put_within")
    compose_ms = cum("letters/compose.py", "compose")
    sql = cum("psycopg/cursor.py", "execute") + cum("psycopg/connection.py", "commit")
    parts = [
        ("render_pdf without the QR code (reportlab)", render_ms - qr),
        ("QR code (segno encode + one path)", qr),
        ("reply secrets (random draws, HMAC-SHA256 of the code)", secrets),
        ("compose (reads case, debt, creditor; texts)", compose_ms),
        ("PDF into stored_file (database store's put_within)", put),
    ]
    rest = total - sum(ms for _, ms in parts)
    lines.append(
        f"render_letters in-process, jobs of {CHUNK}: {plain_ms:.1f} ms per letter without the profiler (on "
        f"{len(timed)}), "
        f"{profiled_ms:.1f} ms under cProfile (on {n}); {failed} render(s) failed; shares from the profile:"
    )
    for label, ms in [*parts, ("claim, record, audit row, commits, rest", rest)]:
        lines.append(f"    {label:52} {ms:6.1f} ms  {ms / total:5.0%}")
    lines.append(
        f"    all SQL (psycopg execute + commit) within the above  {sql:6.1f} ms  {sql / total:5.0%}"
        f"\n    a new PostgreSQL connection (each forked horse opens one): {connect_ms:.1f} ms"
    )
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(12)
    body = buffer.getvalue().splitlines()
    body = body[next((i for i, ln in enumerate(body) if ln.strip().startswith("ncalls")), 0) :]
    lines.append("    top functions by own time:\n" + "\n".join("      " + ln for ln in body if ln.strip()))
    return lines


def _forget_reply_codes(engine: SAEngine) -> None:
    """Free the batch's reply-code lookups, so that the profile does not meet 10,000 of them (collisions)."""
    with engine.begin() as conn:
        conn.execute(update(LETTER).values(reply_code_lookup=None))


def _reset_some(engine: SAEngine, letter_ids: Sequence[int], store: Path) -> None:
    with engine.begin() as conn:
        conn.execute(update(LETTER).where(Letter.id.in_(list(letter_ids))).values(**AS_ASKED))
        conn.execute(text("DELETE FROM stored_file"))  # the pipeline's passes are checked and measured by now
    shutil.rmtree(store, ignore_errors=True)


def _connect_ms(url: str, n: int = 50) -> float:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    t0 = perf_counter()
    for _ in range(n):
        with psycopg.connect(conninfo) as conn:
            conn.execute("SELECT 1")
    return 1000 * (perf_counter() - t0) / n


def fork_breakdown(url: str, letter_ids: Sequence[int], workdir: Path, postmaster: int | None) -> list[str]:
    """Per job: a fork and exit; a fork that connects to PostgreSQL; a fork that runs render_letter after
    `prepare()` (the parent's state in ForkingWorker); the same after one render_letter in the parent (ORM mappers
    configured, statements compiled and cached before the fork; the horse still drops the inherited pool)."""
    from integrations import runtime as runtime_module
    from integrations.worker import prepare

    store = workdir / "fork-store"
    saved = dict(os.environ)
    os.environ.update(
        DATABASE_URL=url,
        SCHULDROUTE_ENV="production",
        SECRET_KEY=SECRET_KEY,
        FILE_STORE="folder",  # as the forking worker's pipeline pass (the first store), and as before issue 14
        LETTER_STORE=str(store),
        REDIS_URL="redis://127.0.0.1:1/0",  # never used: post letters enqueue nothing
    )
    try:
        prepare()
        rt = runtime_module.runtime()
        assert rt.database.engine is not None
        engine = rt.database.engine
        _forget_reply_codes(engine)
        _reset_some(engine, letter_ids, store)
        quarter = len(letter_ids) // 4

        def connect(_: int) -> None:
            with engine.connect() as conn:
                conn.execute(select(1))

        def forked(label: str, job: Any, ids: Sequence[int]) -> str:
            wall = cpu = 0.0
            failed = 0
            pg0 = tree_cpu_s(postmaster)
            for letter_id in ids:
                t0 = perf_counter()
                pid = os.fork()
                if pid == 0:
                    code = 0
                    try:
                        job(letter_id)
                    except BaseException:
                        code = 1
                    os._exit(code)
                _, status, usage = os.wait4(pid, 0)
                wall += perf_counter() - t0
                cpu += usage.ru_utime + usage.ru_stime
                failed += status != 0
            pg = 1000 * (tree_cpu_s(postmaster) - pg0) / len(ids) if postmaster else float("nan")
            n = len(ids)
            return (
                f"    {label:58} {1000 * wall / n:6.1f} ms wall, child CPU {1000 * cpu / n:5.1f} ms, "
                f"PostgreSQL {pg:4.1f} ms" + (f" ({failed} failed)" if failed else "")
            )

        lines = [
            forked("fork + exit", lambda _: None, letter_ids[:quarter]),
            forked("fork + new connection + SELECT 1", connect, letter_ids[:quarter]),
            forked("fork + render_letter, parent as ForkingWorker prepares it", render_letter, letter_ids[:quarter]),
        ]
        render_letter(letter_ids[-1])  # one job in the parent: everything lazily built once is built before forking
        lines.append(
            forked(
                "fork + render_letter, after one job in the parent", render_letter, letter_ids[quarter : 2 * quarter]
            )
        )
        return lines
    finally:
        runtime_module._current = None
        os.environ.clear()
        os.environ.update(saved)


# -- report ------------------------------------------------------------------------------------------------------------


def machine(engine: SAEngine, store: Path) -> dict[str, str]:
    with engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar_one()
        settings = ", ".join(
            f"{name}={conn.execute(text(f'SHOW {name}')).scalar_one()}"
            for name in ("fsync", "synchronous_commit", "shared_buffers")
        )
    fs = "?"
    with suppress(OSError):
        mounts = [ln.split() for ln in Path("/proc/mounts").read_text().splitlines()]
        best = max((m for m in mounts if str(store).startswith(m[1])), key=lambda m: len(m[1]), default=None)
        fs = f"{best[2]} on {best[0]} ({best[1]})" if best else "?"
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    return {
        **host(),
        "PostgreSQL": f"{server} on 127.0.0.1 ({settings})",
        "Redis": (redis_version.split()[2] if redis_version else "?"),
        "letter store": fs,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Python": platform.python_version(),
        "stack": ", ".join(
            f"{name} {version(name)}" for name in ("rq", "redis", "reportlab", "segno", "sqlalchemy", "psycopg")
        ),
        "code": code_version(),
    }


def table(runs: Sequence[PipelineRun], floor: FloorRun) -> str:
    lines = [
        "| measurement | letters | time (s) | letters/s | ratio to floor | CPU per letter (core-ms) | CPU ratio "
        "| peak RSS: worker / children | other load | target |",
        "|---|---:|---:|---:|---:|---|---:|---|---:|---|",
    ]
    for run in runs:
        ratio, cpu_ratio = run.rate / floor.rate, floor.cpu_ms / run.cpu_ms
        memory_ok = max(run.worker_peak_mb, run.child_peak_mb) < TARGET_MEMORY_MB
        verdict = (
            "comparison"
            if run.variant == "fork"
            else "MISSED (memory)"
            if not memory_ok
            else "met"
            if min(ratio, cpu_ratio) >= TARGET_RATIO
            else "met on CPU"
            if cpu_ratio >= TARGET_RATIO
            else "MISSED"
        )
        lines.append(
            f"| pipeline, {run.workers} worker{'s' if run.workers != 1 else ''}, {run.label} | {run.letters:,} | "
            f"{run.seconds:.1f} | "
            f"{run.rate:,.1f} | **{ratio:.0%}** | {run.cpu_ms:.1f} (workers {run.cpu_workers_ms:.1f}, PostgreSQL "
            f"{run.cpu_postgres_ms:.1f}, Redis {run.cpu_redis_ms:.1f}) | **{cpu_ratio:.0%}** | "
            f"{run.worker_peak_mb:.0f} / {run.child_peak_mb:.0f} MB | {run.other_pct:.0f} % | "
            f"{verdict} |"
        )
    halves = [h.rate for h in floor.halves]
    lines.append(
        f"| floor: render_pdf without QR, {floor.processes} process{'es' if floor.processes != 1 else ''} | "
        f"{floor.letters:,} | {floor.seconds:.1f} | "
        f"{floor.rate:,.1f} "
        f"(halves {spread(halves)}) | 100% | {floor.cpu_ms:.1f} | 100% | | {floor.other_pct:.0f} % | |"
    )
    return "\n".join(lines)


def store_table(runs: Sequence[PipelineRun]) -> str:
    """The PDF stores side by side (one worker class), and what the database store costs over the folder."""
    by_store = {run.store: run for run in runs}
    lines = [
        "| PDF store | letters | letters/s | CPU per letter, workers (core-ms) | CPU per letter, PostgreSQL (core-ms) "
        "| CPU per letter, all (core-ms) | WAL per letter (KB) | PDF, average (KB) | stored_file per letter (KB) "
        "| other load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        per_letter = (
            f"{run.table.total / run.letters / 1024:.1f} (heap {run.table.heap / run.letters:.0f} B, TOAST "
            f"{run.table.toast / run.letters / 1024:.1f} KB, indexes {run.table.indexes / run.letters:.0f} B)"
            if run.table
            else ""
        )
        lines.append(
            f"| {STORE_NAMES[run.store]} | {run.letters:,} | {run.rate:,.1f} | {run.cpu_workers_ms:.1f} | "
            f"{run.cpu_postgres_ms:.2f} | {run.cpu_ms:.1f} | {run.wal_bytes / run.letters / 1024:.1f} | "
            f"{run.pdf_bytes / 1024:.1f} | {per_letter} | {run.other_pct:.0f} % |"
        )
    if {"folder", "database"} <= by_store.keys():
        db, folder = by_store["database"], by_store["folder"]
        lines.append(
            f"| **database / folder** | | **{db.rate / folder.rate:.0%}** | "
            f"{db.cpu_workers_ms / folder.cpu_workers_ms:.0%} | {db.cpu_postgres_ms / folder.cpu_postgres_ms:.0%} | "
            f"**{db.cpu_ms / folder.cpu_ms:.0%}** | {db.wal_bytes / max(1, folder.wal_bytes):.1f} times | | | |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SCHULDEN_BENCH_DATABASE_URL") or os.environ.get("SCHULDEN_TEST_DATABASE_URL"),
        help="a PostgreSQL server URL (any database on it); default: $SCHULDEN_TEST_DATABASE_URL",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SCHULDEN_BENCH_REDIS_URL") or os.environ.get("SCHULDEN_TEST_REDIS_URL"),
        help="a THROWAWAY Redis (its database is flushed); default: $SCHULDEN_TEST_REDIS_URL",
    )
    parser.add_argument("--quick", action="store_true", help="500 letters, a small floor sample (smoke test)")
    parser.add_argument("--count", type=int, default=None, help="letters (default 10,000; quick 500)")
    parser.add_argument("--floor-count", type=int, default=None, help="floor sample (default min(count, 3,000))")
    parser.add_argument(
        "--fork-count",
        type=int,
        default=None,
        help="letters for the forking worker (default min(count, 1,000): at ~10/s 10,000 would take 17 minutes)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variants", default="default,no-fork,fork", help="comma-separated: default, no-fork, fork")
    parser.add_argument(
        "--store",
        choices=("folder", "database", "both"),
        default="both",
        help="PDF store (FILE_STORE) of the default worker; both: folder, then database (the other worker classes "
        "run with the first)",
    )
    parser.add_argument(
        "--store-count", type=int, default=None, help="letters for the second store's pass (default: as many)"
    )
    parser.add_argument("--profile", action="store_true", help="profile one worker's job even if the target is met")
    parser.add_argument("--no-profile", action="store_true", help="never profile")
    parser.add_argument("--profile-count", type=int, default=500)
    parser.add_argument(
        "--quiet-wait", type=int, default=120, help="wait up to this many seconds for an idle machine before measuring"
    )
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DATABASE} database afterwards")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL (or set SCHULDEN_TEST_DATABASE_URL)")
    if not args.redis_url:
        parser.error("--redis-url is needed (a throwaway Redis: the script flushes its database)")
    variants = [v for v in args.variants.split(",") if v]
    if set(variants) - set(VARIANTS):
        parser.error(f"--variants: choose from {', '.join(VARIANTS)}")
    count = args.count or (500 if args.quick else 10_000)
    floor_count = min(count, args.floor_count or (count if args.quick else 3_000))
    batch_size = {"default": count, "no-fork": count, "fork": min(count, args.fork_count or 1_000)}
    stores = list(STORES) if args.store == "both" else [args.store]
    # (variant, store, letters) in the order they run: both stores' passes of the default worker next to each other,
    # so that the machine's drift hits them alike.
    passes = [
        (variant, store_name, batch_size[variant] if i == 0 else min(count, args.store_count or count))
        for variant in variants
        for i, store_name in enumerate(stores if variant == "default" else stores[:1])
    ]

    checks = Checks()
    t_all = perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="schuldroute-benchletters-"))
    store = workdir / "store"
    url = fresh_database(args.database_url, BENCH_DATABASE)
    engine = make_engine(url)
    redis = Redis.from_url(args.redis_url)
    print("== machine")
    for key, value in machine(engine, workdir).items():
        print(f"    {key}: {value}")
    runs: list[PipelineRun] = []
    profile_lines: list[str] = []
    try:
        print(f"\n== load: {count:,} queued letters", flush=True)
        loaded = load_letters(url, count)
        ids = loaded.letter_ids
        print(
            f"    {loaded.cases:,} cases with {loaded.debts:,} debts and {loaded.debts * LETTERS_PER_DEBT:,} letters "
            f"through the services in {loaded.services_s:.1f} s; rounds 2-{ROUNDS} copied with Core in "
            f"{loaded.copy_s:.1f} s"
        )
        checks.check(len(ids) == count, "letter rows loaded")

        step = max(1, count // floor_count)
        sample = ids[::step][:floor_count]
        t0 = perf_counter()
        contents = contents_without_reply(url, sample)
        print(
            f"    floor sample: {len(contents):,} letters composed without reply secrets in {perf_counter() - t0:.1f} s"
        )
        half = len(contents) // 2
        halves: list[FloorHalf] = []
        print(f"    {wait_for_quiet(args.quiet_wait)}", flush=True)
        with render_pool(args.workers) as pool:
            print(f"\n== floor, first half: {half:,} letters, render_pdf without QR, {args.workers} processes")
            halves.append(floor_half(pool, contents[:half]))
            print(f"    {describe(halves[-1])}", flush=True)

            for variant, file_store, size in passes:
                print(f"\n   {wait_for_quiet(args.quiet_wait / 2)}", flush=True)
                batch = ids[:size]
                print(
                    f"\n== pipeline: {len(batch):,} letters, {args.workers} workers, {VARIANTS[variant]}, "
                    f"{STORE_NAMES[file_store]}",
                    flush=True,
                )
                run = run_pipeline(
                    variant,
                    engine=engine,
                    database_url=url,
                    redis_url=args.redis_url,
                    redis=redis,
                    letter_ids=batch,
                    workers=args.workers,
                    store=store,
                    file_store=file_store,
                    workdir=workdir,
                    checks=checks,
                    timeout_s=max(120.0, len(batch) / 4),
                )
                runs.append(run)
                print(
                    f"    {run.seconds:.1f} s = {run.rate:,.1f} letters/s (enqueue {run.enqueue_s:.1f} s); worker "
                    f"peak RSS {run.worker_peak_mb:.0f} MB, children {run.child_peak_mb:.0f} MB; CPU busy "
                    f"{run.busy_pct:.0f} %, steal {run.steal_pct:.1f} %, other load {run.other_pct:.0f} %; CPU per "
                    f"letter: workers "
                    f"{run.cpu_workers_ms:.1f} ms ({run.cpu_parents_ms:.1f} in the worker processes themselves), "
                    f"PostgreSQL {run.cpu_postgres_ms:.1f} ms, Redis {run.cpu_redis_ms:.1f} ms; PDF "
                    f"{run.pdf_bytes:,.0f} bytes on average; WAL {run.wal_bytes / run.letters:,.0f} bytes per letter"
                    + (
                        f"; stored_file {run.table.total:,} bytes = {run.table.total / run.letters:,.0f} per letter"
                        if run.table
                        else ""
                    )
                )
                for line in run.checks:
                    print(f"    {line}")

            print(f"\n   {wait_for_quiet(args.quiet_wait / 2)}", flush=True)
            rest = len(contents) - half
            print(f"\n== floor, second half: {rest:,} letters", flush=True)
            halves.append(floor_half(pool, contents[half:]))
            print(f"    {describe(halves[-1])}", flush=True)
        floor = FloorRun(halves, args.workers)

        # The ForkingWorker is there for comparison: it misses the target by design (a horse per letter).
        missed = any(
            min(r.rate / floor.rate, floor.cpu_ms / r.cpu_ms) < TARGET_RATIO for r in runs if r.variant != "fork"
        )
        if (missed or args.profile) and not args.no_profile:
            forks = ids[-min(160, len(ids) // 2) :]  # 40 jobs for each of 4 kinds of fork, at the end of the ids
            n = min(args.profile_count, len(ids) - len(forks))
            print(f"\n== profile: render_letters in-process on {n} letters, jobs of {CHUNK}", flush=True)
            profile_lines = profile_job(url, ids[:n], workdir)
            for line in profile_lines:
                print(line)
            print("\n== the forking worker's horse, without RQ: fork per job as ForkingWorker does", flush=True)
            for line in fork_breakdown(url, forks, workdir, postmaster_pid(engine)):
                print(line)
    finally:
        engine.dispose()
        redis.flushdb()
        redis.close()
        if not args.keep:
            drop_database(args.database_url, BENCH_DATABASE)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n== results (whole run {perf_counter() - t_all:.0f} s)\n")
    print(table(runs, floor))
    same_worker = [run for run in runs if run.variant == "default"]
    if len({run.store for run in same_worker}) > 1:
        print(f"\nPDF stores, {args.workers} workers, {VARIANTS['default']}:\n")
        print(store_table(same_worker))
    print()
    for run in runs:
        per_worker_ms = 1000 * args.workers / run.rate
        print(
            f"{run.label}: {run.rate / floor.rate:.0%} of the floor's rate, {floor.cpu_ms / run.cpu_ms:.0%} of its CPU "
            f"per letter (target {TARGET_RATIO:.0%}); {per_worker_ms:.1f} ms per letter and worker against "
            f"{1000 * args.workers / floor.rate:.1f} ms for the floor; peak RSS {run.worker_peak_mb:.0f} MB worker, "
            f"{run.child_peak_mb:.0f} MB child (target < {TARGET_MEMORY_MB:.0f} MB)"
        )
    if checks.failed:
        print(f"\nFAILED checks: {checks.failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
