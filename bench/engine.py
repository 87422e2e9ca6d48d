"""Benchmark of the workflow engine (workflows/) on PostgreSQL: firing events and ticking due timers.

What is measured, and why:

* **Fire.** 1,000 instances are started, then 10,000 events are fired round-robin over them, each in its own
  session and transaction, the way a web request does it (load the instance, fire, commit). The unit of cost is
  therefore the ORM transaction, whose floor on PostgreSQL over loopback is some hundreds to ~1,300 per second
  on our VMs (../shared/docs/performance.md). The same run also measures that floor: one-row ORM
  get + update + commit on wf_instance, without the engine. The two are run in alternating blocks so that
  the machine's drift (it is a noisy VM) hits both alike; the figure to keep is the ratio.
* **Tick.** A catch-up after an outage: 100,000 pending timers of which N are due, loaded in bulk with SQLAlchemy
  Core. Then ``Engine.tick`` fires every due timer, one transaction per batch. It is run with N = 1,000 and
  N = 10,000 at 100,000 pending, and with N = 10,000 when only the due timers are pending, which shows that the
  cost follows the due timers and not the pending ones. The 10,000-due case is also run with other batch sizes.
  The floor here is the same writes done with Core executemany in one transaction (rolled back), measured on the
  same data just before each tick. Every scenario gets freshly loaded data and runs in 3 rounds (``--rounds``);
  the table shows the median and the min-max. The time spent inside ``cursor.execute`` is reported per kind of
  statement, which separates driver and server time from the ORM's and the engine's own Python.

The process is a synthetic one defined here (states a -> b -> c -> a, two timers per state), so the figures are
the engine's and not the domain's. Each due timer belongs to an instance whose state has a system transition for
its event, so it really fires (is not merely "refused"), and each instance has at most one due timer. After every
tick the result is checked (timers fired, no due timer left, history rows, states); any failed check makes the
script exit with status 1.

Run it with ``make bench`` (scripts/bench.sh starts a throwaway PostgreSQL), or against a server of your own with
``.venv/bin/python bench/engine.py --database-url postgresql+psycopg://...``: the script creates (and drops at the
end) a database ``schulden_bench`` on that server. ``--quick`` runs a tenth of the sizes as a smoke test;
``--profile`` adds a cProfile run of the 10,000-due tick. The figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

import psycopg
import sqlalchemy
from sqlalchemy import Engine as SAEngine
from sqlalchemy import Table, bindparam, event, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere: the application's packages are in the repository
    sys.path.insert(0, str(REPO))

from bench.common import drop_database, fresh_database, host  # noqa: E402
from schulden.db import make_engine  # noqa: E402
from workflows import (  # noqa: E402
    ANY,
    START_EVENT,
    After,
    Engine,
    Process,
    Registry,
    State,
    TimerSpec,
    TimerStatus,
    Transition,
    WorkflowInstance,
    metadata,
)

BENCH_DATABASE = "schulden_bench"
PROCESS = "bench_cycle"
STATES = ("a", "b", "c")
NEXT_STATE = {"a": "b", "b": "c", "c": "a"}
DEADLINE = timedelta(days=14)
REMINDER = timedelta(days=7)
BULK_CHUNK = 10_000
SessionFactory = Callable[[], Session]


# -- the synthetic process ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchActor:
    """A user of the benchmark process."""

    actor_id: str
    roles: frozenset[str]


USER = BenchActor("bench-user", frozenset({"bench"}))


def bench_process() -> Process:
    """States a -> b -> c -> a; each state has a deadline timer (advances) and a reminder timer (internal)."""
    timers = (
        TimerSpec("deadline", "advance", After(DEADLINE)),
        TimerSpec("reminder", "remind", After(REMINDER)),
    )
    return Process(
        name=PROCESS,
        version=1,
        initial="a",
        states=tuple(State(name, label=name.upper(), timers=timers) for name in STATES),
        transitions=(
            *(Transition("advance", s, NEXT_STATE[s], roles={"bench", "system"}) for s in STATES),
            Transition("remind", ANY, ANY, roles={"system"}, internal=True),
        ),
        start_roles=frozenset({"bench"}),
        title="Benchmark",
    )


# -- measuring helpers ----------------------------------------------------------------------------------------------


@dataclass
class SqlCounter:
    """Counts and times the statements the DBAPI cursor executes (per kind), and the commits, on one engine.

    The time is spent inside ``cursor.execute``: the driver (psycopg converts and sends the query) plus the round
    trip and the server's work. What a tick spends outside it is the ORM's and the engine's own Python.
    """

    statements: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    commits: int = 0
    capture: bool = False
    tick_query: tuple[str, Any] | None = None
    _started: float = 0.0

    def attach(self, engine: SAEngine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._on_commit)

    @staticmethod
    def _kind(statement: str, many: bool) -> str:
        return statement.lstrip().split(None, 1)[0].upper() + (" (executemany)" if many else "")

    def _before(self, _conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if self.capture and self.tick_query is None and "SKIP LOCKED" in statement:
            self.tick_query = (statement, params)  # the tick's batch query, for EXPLAIN
        self._started = perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool) -> None:
        kind = self._kind(statement, many)
        self.statements[kind] += 1
        self.seconds[kind] += perf_counter() - self._started

    def _on_commit(self, _conn: Any) -> None:
        self.commits += 1

    def reset(self) -> None:
        self.statements = Counter()
        self.seconds = defaultdict(float)
        self.commits = 0

    def total(self) -> int:
        return sum(self.statements.values())

    def describe(self, per: int) -> str:
        kinds = ", ".join(
            f"{kind} {n / per:.3g} ({self.seconds[kind]:.2f} s)" for kind, n in sorted(self.statements.items())
        )
        return (
            f"{self.total() / per:.3g} statements per item: {kinds}; {sum(self.seconds.values()):.2f} s in "
            f"cursor.execute; {self.commits} commits"
        )


def spread(values: Sequence[float]) -> str:
    """min-max of rates, e.g. "410-460"."""
    return f"{min(values):,.0f}-{max(values):,.0f}"


def cpu_steal() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs from /proc/stat; (0, 0) where it does not exist."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    values = [int(v) for v in fields]
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


@dataclass
class Result:
    """One line of the figures table."""

    what: str
    size: str
    seconds: float
    rate: str
    ratio: str = ""
    check: str = ""
    spread: str = ""


@dataclass
class Checks:
    """Collects OK/FAIL lines; any FAIL makes the script exit non-zero."""

    failed: list[str] = field(default_factory=list)

    def expect(self, label: str, actual: object, expected: object) -> bool:
        ok = actual == expected
        print(f"    {'OK  ' if ok else 'FAIL'} {label}: {actual}" + ("" if ok else f" (expected {expected})"))
        if not ok:
            self.failed.append(label)
        return ok


# -- database -------------------------------------------------------------------------------------------------------


def tables() -> tuple[Table, Table, Table]:
    return metadata.tables["wf_instance"], metadata.tables["wf_history"], metadata.tables["wf_timer"]


def truncate(engine: SAEngine) -> None:
    # TRUNCATE fires no row triggers, so it may empty the append-only history (only in this throwaway database).
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE wf_timer, wf_history, wf_instance RESTART IDENTITY CASCADE"))


def vacuum_analyze(engine: SAEngine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE wf_instance, wf_history, wf_timer"))


def count(session: Session, statement: Any) -> int:
    return int(session.execute(statement).scalar_one())


# -- part 1: fire ---------------------------------------------------------------------------------------------------


def bench_fire(
    sessions: SessionFactory, wf: Engine, sql: SqlCounter, checks: Checks, instances: int, events: int
) -> list[Result]:
    """Start `instances`, then fire `events` round-robin, one transaction each, interleaved with the ORM floor."""
    print(f"\n== fire: start {instances:,} instances, then {events:,} events round-robin, one commit each")
    sql.reset()
    t0 = perf_counter()
    ids: list[int] = []
    for _ in range(instances):
        with sessions() as session:
            ids.append(wf.start(session, PROCESS, actor=USER).id)
            session.commit()
    start_s = perf_counter() - t0
    print(f"    start: {instances / start_s:,.0f}/s; {sql.describe(instances)}")

    # Alternate blocks of engine fires and floor transactions, so a slow minute of the VM hits both alike.
    blocks = 10
    per_block = events // blocks
    fire_times: list[float] = []
    floor_times: list[float] = []
    fire_sql: Counter[str] = Counter()
    fire_sql_s: defaultdict[str, float] = defaultdict(float)
    done = 0
    for block in range(blocks):
        n = per_block if block < blocks - 1 else events - per_block * (blocks - 1)
        sql.reset()
        t0 = perf_counter()
        for i in range(done, done + n):
            with sessions() as session:
                instance = session.get_one(WorkflowInstance, ids[i % instances])
                wf.fire(session, instance, "advance", actor=USER)
                session.commit()
        fire_times.append(perf_counter() - t0)
        fire_sql.update(sql.statements)
        for kind, spent in sql.seconds.items():
            fire_sql_s[kind] += spent
        t0 = perf_counter()
        for i in range(done, done + n):
            with sessions() as session:
                instance = session.get_one(WorkflowInstance, ids[i % instances])
                instance.updated_at = datetime.now(UTC)
                session.commit()
        floor_times.append(perf_counter() - t0)
        done += n
    sql.statements, sql.seconds, sql.commits = fire_sql, fire_sql_s, events
    fire_s, floor_s = sum(fire_times), sum(floor_times)
    fire_spread = spread([per_block / t for t in fire_times[:-1] or fire_times])
    floor_spread = spread([per_block / t for t in floor_times[:-1] or floor_times])
    print(f"    fire: {events / fire_s:,.0f} events/s (blocks of {per_block:,}: {fire_spread})")
    print(f"    {sql.describe(events)}")
    print(f"    floor (ORM get + update + commit of one wf_instance row): {events / floor_s:,.0f}/s ({floor_spread})")

    instance_t, history_t, timer_t = tables()
    with sessions() as session:
        fires = Counter(ids[i % instances] for i in range(events))
        states = {row.id: row.state for row in session.execute(select(instance_t.c.id, instance_t.c.state))}
        in_state = sum(states.get(iid) == STATES[fires[iid] % 3] for iid in ids)
        ok = checks.expect("instances in the expected state", in_state, instances)
        ok &= checks.expect(
            "history rows", count(session, select(func.count()).select_from(history_t)), instances + events
        )
        ok &= checks.expect(
            "active timers (2 per instance)",
            count(session, select(func.count()).where(timer_t.c.status == TimerStatus.PENDING)),
            2 * instances,
        )
    check = "OK" if ok else "FAIL"
    return [
        Result("start instance (1 commit each)", f"{instances:,}", start_s, f"{instances / start_s:,.0f}/s", "", check),
        Result(
            "fire event (1 commit each)",
            f"{events:,} on {instances:,}",
            fire_s,
            f"{events / fire_s:,.0f} events/s ({fire_spread})",
            f"{fire_s / floor_s:.2f}x the ORM floor ({fire_s / events * 1000:.2f} vs {floor_s / events * 1000:.2f} ms)",
            check,
        ),
        Result(
            "floor: ORM get + 1-row update + commit",
            f"{events:,}",
            floor_s,
            f"{events / floor_s:,.0f}/s ({floor_spread})",
            "1.00x",
        ),
    ]


# -- part 2: tick ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """What `load_timers` put in the database."""

    now: datetime
    due: int
    pending: int
    instances: int
    history: int
    due_instances: frozenset[int]
    load_s: float
    rows: int


def load_timers(engine: SAEngine, *, due: int, pending: int, seed: int) -> Population:
    """Bulk-load instances with `pending` pending timers, of which `due` are due, with Core executemany.

    Every instance is in state "a" and looks as if the engine had made it. A due instance was started 15 days
    ago; its reminder fired after 7 days (history seq 2, timer status fired) and its deadline, due a day ago or
    less, is its only pending timer. Every other instance was started recently and has both timers pending in
    the future, so (pending - due) / 2 such instances make up the rest.
    """
    if (pending - due) % 2:
        raise ValueError("pending - due must be even: the other instances have two pending timers each")
    truncate(engine)
    instance_t, history_t, timer_t = tables()
    now = datetime.now(UTC).replace(microsecond=0)
    background = (pending - due) // 2
    total = due + background
    rng = random.Random(seed)
    due_ids = frozenset(rng.sample(range(1, total + 1), due))
    instances: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []

    def timer(instance_id: int, name: str, created: datetime, due_at: datetime, fired: bool) -> int:
        timers.append(
            {
                "id": len(timers) + 1,
                "instance_id": instance_id,
                "name": name,
                "event": "advance" if name == "deadline" else "remind",
                "state": "a",
                "status": TimerStatus.FIRED if fired else TimerStatus.PENDING,
                "due_at": due_at,
                "deadline": None,
                "rule": f"{due_at - created} na {created.isoformat()}",
                "created_at": created,
                "fired_at": due_at if fired else None,
                "outcome": "remind: a" if fired else None,
            }
        )
        return len(timers)

    def entry(instance_id: int, seq: int, event_name: str, at: datetime, timer_id: int | None) -> None:
        history.append(
            {
                "id": len(history) + 1,
                "instance_id": instance_id,
                "seq": seq,
                "event": event_name,
                "from_state": None if seq == 1 else "a",
                "to_state": "a",
                "actor_id": USER.actor_id if timer_id is None else "system",
                "at": at,
                "reason": None,
                "payload": {} if timer_id is None else {"timer": "reminder"},
                "effects": [],
                "timer_id": timer_id,
            }
        )

    for iid in range(1, total + 1):
        if iid in due_ids:
            # Due between 1 day and ~2 hours ago: the outage the tick catches up on.
            created = now - timedelta(days=15) + timedelta(seconds=iid % 80_000)
            reminded = created + REMINDER
            entry(iid, 1, START_EVENT, created, None)
            entry(iid, 2, "remind", reminded, timer(iid, "reminder", created, reminded, fired=True))
            timer(iid, "deadline", created, created + DEADLINE, fired=False)
            last_seq, updated = 2, reminded
        else:
            created = now - timedelta(seconds=rng.randrange(1, 6 * 86_400))
            entry(iid, 1, START_EVENT, created, None)
            timer(iid, "reminder", created, created + REMINDER, fired=False)
            timer(iid, "deadline", created, created + DEADLINE, fired=False)
            last_seq, updated = 1, created
        instances.append(
            {
                "id": iid,
                "process": PROCESS,
                "process_version": 1,
                "state": "a",
                "previous_state": None,
                "is_final": False,
                "held_since": None,
                "last_seq": last_seq,
                "created_at": created,
                "updated_at": updated,
                "row_version": last_seq,
            }
        )

    t0 = perf_counter()
    with engine.begin() as conn:
        for table, rows in ((instance_t, instances), (history_t, history), (timer_t, timers)):
            for start in range(0, len(rows), BULK_CHUNK):
                conn.execute(insert(table), rows[start : start + BULK_CHUNK])
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
                {"table": table.name, "last": len(rows)},
            )
    load_s = perf_counter() - t0
    vacuum_analyze(engine)
    loaded = len(instances) + len(history) + len(timers)
    return Population(now, due, pending, total, len(history), due_ids, load_s, loaded)


def tick_floor(engine: SAEngine, population: Population) -> float:
    """Seconds for the tick's writes done with Core executemany in one transaction (then rolled back)."""
    instance_t, history_t, timer_t = tables()
    now = population.now
    with engine.connect() as conn:
        transaction = conn.begin()
        t0 = perf_counter()
        due = conn.execute(
            select(timer_t.c.id, timer_t.c.instance_id, instance_t.c.last_seq, instance_t.c.row_version)
            .join(instance_t, instance_t.c.id == timer_t.c.instance_id)
            .where(timer_t.c.status == TimerStatus.PENDING, timer_t.c.due_at <= now)
            .order_by(timer_t.c.due_at, timer_t.c.id)
            .with_for_update(skip_locked=True, of=(timer_t, instance_t))
        ).all()
        conn.execute(
            update(timer_t)
            .where(timer_t.c.id == bindparam("b_id"))
            .values(status=TimerStatus.FIRED, fired_at=now, outcome="advance: b"),
            [{"b_id": row.id} for row in due],
        )
        conn.execute(
            update(instance_t)
            .where(instance_t.c.id == bindparam("b_id"), instance_t.c.row_version == bindparam("b_version"))
            .values(
                state="b",
                previous_state="a",
                last_seq=bindparam("b_seq"),
                updated_at=now,
                row_version=bindparam("b_new_version"),
            ),
            [
                {
                    "b_id": row.instance_id,
                    "b_version": row.row_version,
                    "b_seq": row.last_seq + 1,
                    "b_new_version": row.row_version + 1,
                }
                for row in due
            ],
        )
        history = [
            {
                "instance_id": row.instance_id,
                "seq": row.last_seq + 1,
                "event": "advance",
                "from_state": "a",
                "to_state": "b",
                "actor_id": "system",
                "at": now,
                "reason": None,
                "payload": {"timer": "deadline"},
                "effects": [],
                "timer_id": row.id,
            }
            for row in due
        ]
        conn.execute(insert(history_t), history)
        timers = [
            {
                "instance_id": row.instance_id,
                "name": name,
                "event": event_name,
                "state": "b",
                "status": TimerStatus.PENDING,
                "due_at": now + delay,
                "deadline": None,
                "rule": f"{delay} na {now.isoformat()}",
                "created_at": now,
            }
            for row in due
            for name, event_name, delay in (("deadline", "advance", DEADLINE), ("reminder", "remind", REMINDER))
        ]
        conn.execute(insert(timer_t), timers)
        seconds = perf_counter() - t0
        transaction.rollback()
    vacuum_analyze(engine)  # clear the rolled-back rows, so the tick finds the table as loaded
    return seconds


@dataclass(frozen=True)
class Scenario:
    """One tick configuration."""

    due: int
    pending: int
    batch_size: int

    def __str__(self) -> str:
        return f"{self.due:,} due of {self.pending:,} pending, batch_size {self.batch_size}"


@dataclass(frozen=True)
class TickRun:
    """One measured tick."""

    scenario: Scenario
    seconds: float
    floor_s: float
    load: Population
    in_execute_s: float
    ok: bool


def bench_tick(
    engine: SAEngine,
    sessions: SessionFactory,
    wf: Engine,
    sql: SqlCounter,
    checks: Checks,
    scenario: Scenario,
    *,
    seed: int,
    profile: bool = False,
    plan: list[str] | None = None,
) -> TickRun:
    """Load a population, measure the Core floor, then time one `Engine.tick` over it and check the outcome."""
    due, pending = scenario.due, scenario.pending
    print(f"\n== tick: {scenario}{' (under cProfile)' if profile else ''}")
    population = load_timers(engine, due=due, pending=pending, seed=seed)
    print(
        f"    loaded {population.rows:,} rows ({population.instances:,} instances) with Core executemany in "
        f"{population.load_s:.1f} s = {population.rows / population.load_s:,.0f} rows/s"
    )
    if plan is not None:
        plan += explain_tick_query(engine, sessions, wf, sql, population, scenario.batch_size)
    floor_s = tick_floor(engine, population)
    print(f"    floor (the same writes with Core executemany, 1 transaction): {floor_s:.2f} s")

    sql.reset()
    profiler = cProfile.Profile() if profile else None
    t0 = perf_counter()
    if profiler is not None:
        profiler.enable()
    report = wf.tick(sessions, now=population.now, batch_size=scenario.batch_size)
    if profiler is not None:
        profiler.disable()
    seconds = perf_counter() - t0
    in_execute_s = sum(sql.seconds.values())
    print(
        f"    tick: {seconds:.2f} s = {due / seconds:,.0f} timers/s, {seconds / due * 1000:.2f} ms per timer, "
        f"{report.batches} batches; {seconds / floor_s:.1f}x the Core floor"
    )
    print(f"    {sql.describe(due)}")

    instance_t, history_t, timer_t = tables()
    now = population.now
    with sessions() as session:
        ok = checks.expect(
            "report (fired, refused, failed)", (report.fired, report.refused, report.failed), (due, 0, 0)
        )
        ok &= checks.expect(
            "timers fired by this tick",
            count(
                session,
                select(func.count()).where(timer_t.c.status == TimerStatus.FIRED, timer_t.c.fired_at == now),
            ),
            due,
        )
        ok &= checks.expect(
            "due pending timers left",
            count(
                session,
                select(func.count()).where(timer_t.c.status == TimerStatus.PENDING, timer_t.c.due_at <= now),
            ),
            0,
        )
        ok &= checks.expect(
            "history rows added",
            count(session, select(func.count()).select_from(history_t)) - population.history,
            due,
        )
        moved = session.execute(
            select(instance_t.c.id).where(instance_t.c.state == "b", instance_t.c.last_seq == 3)
        ).scalars()
        ok &= checks.expect("due instances moved a -> b (seq 3)", frozenset(moved) == population.due_instances, True)
        ok &= checks.expect(
            "pending timers now (2 new per fired one)",
            count(session, select(func.count()).where(timer_t.c.status == TimerStatus.PENDING)),
            pending + due,
        )
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
    return TickRun(scenario, seconds, floor_s, population, in_execute_s, ok)


def explain_tick_query(
    engine: SAEngine, sessions: SessionFactory, wf: Engine, sql: SqlCounter, population: Population, batch_size: int
) -> list[str]:
    """EXPLAIN ANALYZE of the tick's batch query on `population`, leaving the data as it was.

    The query is the engine's own: one `tick_batch` is run and rolled back to capture its SQL, which is then
    explained (and executed, so locked) in a transaction that is rolled back too.
    """
    sql.tick_query, sql.capture = None, True
    try:
        with sessions() as session:
            wf.tick_batch(session, now=population.now, limit=batch_size)
            session.rollback()
    finally:
        sql.capture = False
    if sql.tick_query is None:
        return ["(the tick's batch query was not captured)"]
    statement, params = sql.tick_query
    with engine.connect() as conn:
        transaction = conn.begin()
        plan = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {statement}", params)]
        transaction.rollback()
    return plan


# -- machine and report ---------------------------------------------------------------------------------------------


def machine(engine: SAEngine) -> dict[str, str]:
    with engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar_one()
        settings = {
            name: conn.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("fsync", "synchronous_commit", "shared_buffers")
        }
    return {
        **host(),
        "PostgreSQL": f"{server} on 127.0.0.1 ({', '.join(f'{k}={v}' for k, v in settings.items())})",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Python": platform.python_version(),
        "SQLAlchemy": sqlalchemy.__version__,
        "psycopg": psycopg.__version__,
    }


def table(results: Sequence[Result]) -> str:
    lines = [
        "| measurement | size | time (s) | min-max (s) | rate | ratio | check |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    lines += [
        f"| {r.what} | {r.size} | {r.seconds:.2f} | {r.spread} | {r.rate} | {r.ratio} | {r.check} |" for r in results
    ]
    return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def tick_results(runs: Sequence[TickRun], main: Scenario, small: Scenario, only_due: Scenario) -> list[Result]:
    """One line per scenario: the median of its repeats, with their spread and the ratios that matter."""
    by_scenario: dict[Scenario, list[TickRun]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    main_s = median([r.seconds for r in by_scenario[main]])
    results = []
    for scenario, group in by_scenario.items():
        seconds = median([r.seconds for r in group])
        ratios = [f"{median([r.seconds / r.floor_s for r in group]):.1f}x Core floor"]
        if scenario == small:
            ratios.append(f"{scenario.due:,} vs {main.due:,} due: {main_s / seconds:.1f}x")
        if scenario == only_due:
            ratios.append(f"{main.pending:,} vs {scenario.pending:,} pending: {main_s / seconds:.2f}x")
        results.append(
            Result(
                f"tick, batch_size {scenario.batch_size}",
                f"{scenario.due:,} due / {scenario.pending:,} pending",
                seconds,
                f"{scenario.due / seconds:,.0f} timers/s ({seconds / scenario.due * 1000:.2f} ms each)",
                "; ".join(ratios),
                "OK" if all(r.ok for r in group) else "FAIL",
                spread=f"{min(r.seconds for r in group):.2f}-{max(r.seconds for r in group):.2f}",
            )
        )
    return results


@contextmanager
def steal_meter() -> Iterator[list[float]]:
    """Yields a list that holds the CPU steal percentage of the block once it is done."""
    result: list[float] = []
    steal0, total0 = cpu_steal()
    yield result
    steal1, total1 = cpu_steal()
    result.append(100 * (steal1 - steal0) / (total1 - total0) if total1 > total0 else 0.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SCHULDEN_BENCH_DATABASE_URL") or os.environ.get("SCHULDEN_TEST_DATABASE_URL"),
        help="a PostgreSQL server URL (any database on it); default: $SCHULDEN_BENCH_DATABASE_URL or "
        "$SCHULDEN_TEST_DATABASE_URL",
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes and one round (smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of tick scenarios (default 3, quick 1)")
    parser.add_argument("--profile", action="store_true", help="also run the main tick once under cProfile")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DATABASE} database afterwards")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL (or set SCHULDEN_BENCH_DATABASE_URL)")
    scale = 10 if args.quick else 1
    rounds = max(1, min(args.rounds or (1 if args.quick else 3), 10))
    instances, events, pending = 1_000 // scale, 10_000 // scale, 100_000 // scale
    main_tick = Scenario(10_000 // scale, pending, 500)
    small_tick = Scenario(1_000 // scale, pending, 500)
    only_due_tick = Scenario(main_tick.due, main_tick.due, 500)
    scenarios = [main_tick, small_tick, only_due_tick, Scenario(main_tick.due, pending, 100)]
    scenarios.append(Scenario(main_tick.due, pending, 2000))

    url = fresh_database(args.database_url, BENCH_DATABASE)
    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    sql = SqlCounter()
    sql.attach(engine)
    wf = Engine(Registry(bench_process()))
    checks = Checks()
    info = machine(engine)
    print("== machine")
    for key, value in info.items():
        print(f"    {key}: {value}")

    t_all = perf_counter()
    runs: list[TickRun] = []
    try:
        with steal_meter() as steal:
            results = bench_fire(sessions, wf, sql, checks, instances, events)
            # Rounds over all scenarios rather than repeats of one, so drift of the VM spreads over all of them.
            plan: list[str] = []
            for round_no in range(rounds):
                for number, scenario in enumerate(scenarios):
                    explain = plan if round_no == 0 and scenario == main_tick else None
                    seed = 100 * round_no + number
                    runs.append(bench_tick(engine, sessions, wf, sql, checks, scenario, seed=seed, plan=explain))
        if args.profile:
            bench_tick(engine, sessions, wf, sql, checks, main_tick, seed=0, profile=True)
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(args.database_url, BENCH_DATABASE)
    total_s = perf_counter() - t_all

    results += tick_results(runs, main_tick, small_tick, only_due_tick)
    main_runs = [r for r in runs if r.scenario == main_tick]
    main_s = median([r.seconds for r in main_runs])
    in_execute = median([r.in_execute_s / r.seconds for r in main_runs])
    load_rate = sum(r.load.rows for r in runs) / sum(r.load.load_s for r in runs)
    sizes = "quick: 1/10 sizes" if args.quick else "full sizes"
    print(f"\n== results ({sizes}; tick figures: median of {rounds} round(s); whole run {total_s:.0f} s)\n")
    print(table(results))
    print(f"\nTick ({main_tick}): {in_execute:.0%} of the time inside cursor.execute (driver + server), the rest")
    print(f"is ORM and engine Python. EXPLAIN ANALYZE of one batch query of that tick (LIMIT {main_tick.batch_size}):")
    for line in plan:
        print(f"    {line}")
    print(f"Bulk load (Core executemany, {BULK_CHUNK:,} rows per call): {load_rate:,.0f} rows/s.")
    print(f"CPU steal during the measurements: {steal[0]:.1f} %.")
    # Issue 16: the tick under 3 s (it was 10 s), and a fire at most 2x the one-row ORM commit of the same run.
    fire_ratio = results[1].seconds / results[2].seconds
    fire_verdict = "met" if fire_ratio <= 2 else "NOT met"
    print(f"Target (fire at most 2x the one-row ORM commit): {fire_verdict} ({fire_ratio:.2f}x).")
    if args.quick:
        print("Target (tick with 10,000 due under 3 s): not judged, the sizes are a tenth (--quick).")
    else:
        verdict = "met" if main_s < 3 else "NOT met"
        print(f"Target (tick with {main_tick.due:,} due under 3 s): {verdict} ({main_s:.2f} s).")
    print("\n| machine | |\n|---|---|")
    for key, value in info.items():
        print(f"| {key} | {value} |")
    if checks.failed:
        print(f"\nFAIL: {', '.join(checks.failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
