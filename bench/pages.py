"""Benchmark of the web pages over HTTP: "Mijn werk" and a case page with 20 debts, next to the API's case detail.

What is measured, and why:

* **Data.** bench/api.py's national year: 30,000 cases with 10 debts each in 30 PIs, loaded the same way (its
  ``load``), into a database of our own (``schulden_benchpages``). The 1,000 cases of the first PI then get 10
  debts more each (with their workflow instance and ``start`` history row), so every case page measured shows 20
  debts, as the issue asks; the other 29,000 cases keep 10.
* **Session.** The benchmark user (staff of the first PI) signs in through the real login form (``/aanmelden``,
  CSRF token and all) and wrk sends the session cookie it got, so every request loads its session row and user
  from the database as in production. The API is called with the same user's bearer token.
* **Server.** gunicorn as in bench/api.py (2 sync workers, ``SCHULDROUTE_ENV=production``, Redis configured, the
  repository's ``gunicorn.conf.py``) serving ``bench.api_app:app``, the product's app.
* **Load.** wrk on 127.0.0.1 at 4 connections, each route in turn, in rounds, a short warm-up first; the figures
  are the medians over the rounds of requests/s, p50 and p99 (wrk's own histogram). Routes:

  - *Mijn werk*: ``GET /`` with the session cookie: the user's work lists over the PI's 1,000 cases.
  - *case page*: ``GET /dossiers/<id>`` with the session cookie, cycling through the PI's 1,000 cases (20 debts
    each): scope check, the case, its debts with totals per category and amount status, the workflow steps, the
    actions, the timeline, and the audit rows of the read (committed).
  - *API case detail*: ``GET /api/v1/cases/<id>`` with the bearer token, on the same ids.

* **Target** (the issue): p99 under 100 ms at 4 connections for Mijn werk and the case page.

Before the load the script checks the answers: each page is 200 for the user and a case of another PI is 404, the
case page shows the 20 debts, the API's debt count is 20. During the load wrk must see no errors and no non-2xx
answer. Any failed check makes the script exit with status 1. CPU per request and the other load on the machine are
reported as in bench/api.py (whose measuring code this script reuses).

Run it with ``make bench-pages`` (scripts/bench-pages.sh starts a throwaway PostgreSQL and Redis), or against
servers of your own: ``.venv/bin/python bench/pages.py --database-url postgresql+psycopg://... --redis-url
redis://...``. ``--quick`` loads a tenth of the data and runs one short round. The figures go to docs/benchmarks.md
by hand.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import cast
from urllib.parse import urlencode, urlsplit

from sqlalchemy import Engine as SAEngine
from sqlalchemy import Table, func, insert, select, text, update

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere: the application's packages are in the repository
    sys.path.insert(0, str(REPO))

from bench import api as bench_api  # noqa: E402
from bench.api import (  # noqa: E402
    Checks,
    Route,
    Run,
    World,
    load,
    machine,
    measure,
    postmaster_pid,
    start_row,
    start_server,
    stop_server,
    wait_for_quiet,
)
from bench.common import drop_database, fresh_database  # noqa: E402
from schulden.db import make_engine  # noqa: E402
from schulden.debts.models import Debt  # noqa: E402
from schulden.users.models import User  # noqa: E402
from schulden.users.password_hashes import hash_password  # noqa: E402
from workflows import HistoryEntry, WorkflowInstance  # noqa: E402

BENCH_DATABASE = "schulden_benchpages"
EXTRA_DEBTS = 10  # on top of bench/api.py's 10: the case pages measured show 20 debts
PASSWORD = "bench-pages-wachtwoord"  # a throwaway database's benchmark account
CONNECTIONS = 4
TARGET_P99_MS = 100.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_debts(engine: SAEngine, case_ids: Sequence[int], extra: int) -> int:
    """Copy the first `extra` debts of each case (new ids, new workflow instance and history row each)."""
    instance_t, history_t, debt_t = (cast(Table, m.__table__) for m in (WorkflowInstance, HistoryEntry, Debt))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        next_instance = int(conn.execute(select(func.max(instance_t.c.id))).scalar_one())
        next_debt = int(conn.execute(select(func.max(debt_t.c.id))).scalar_one())
        debts = conn.execute(
            select(debt_t, instance_t.c.state)
            .join(instance_t, instance_t.c.id == debt_t.c.instance_id)
            .where(debt_t.c.case_id.in_(list(case_ids)))
            .order_by(debt_t.c.case_id, debt_t.c.id)
        ).mappings()
        per_case: dict[int, int] = {}
        instances, history, rows = [], [], []
        for debt in debts:
            if per_case.get(debt["case_id"], 0) >= extra:
                continue
            per_case[debt["case_id"]] = per_case.get(debt["case_id"], 0) + 1
            next_instance += 1
            next_debt += 1
            at = debt["created_at"]
            state = debt["state"]
            instances.append(
                {
                    "id": next_instance,
                    "process": "debt",
                    "process_version": 1,
                    "state": state,
                    "previous_state": None if state == "identified" else "identified",
                    "is_final": state in bench_api.FINAL_DEBT_STATES,
                    "held_since": None,
                    "last_seq": 1,
                    "created_at": at,
                    "updated_at": at,
                    "row_version": 1,
                }
            )
            history.append(start_row(next_instance, "identified", at))
            row = {key: value for key, value in debt.items() if key != "state"}
            rows.append(
                row
                | {
                    "id": next_debt,
                    "instance_id": next_instance,
                    "creditor_reference": f"EXTRA-{next_debt}",
                    "updated_at": now,
                }
            )
        for table, values in ((instance_t, instances), (history_t, history), (debt_t, rows)):
            for start in range(0, len(values), bench_api.BULK_CHUNK):
                conn.execute(insert(table), values[start : start + bench_api.BULK_CHUNK])
        for table in (instance_t, debt_t):
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence(:table, 'id'), (SELECT max(id) FROM " + table.name + "))"),
                {"table": table.name},
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return len(rows)


# -- a browser session over plain HTTP --------------------------------------------------------------------------------


def _request(
    base: str, method: str, path: str, *, cookie: str | None = None, body: str | None = None, token: str | None = None
) -> tuple[int, dict[str, str], str]:
    """One request; the cookie is sent by hand (the production cookie is Secure, which a cookie jar keeps off
    plain http)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Accept": "text/html"}
    if cookie:
        headers["Cookie"] = cookie
    if token:
        headers["Authorization"] = f"Bearer {token}"
        headers["Accept"] = "application/json"
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read().decode("utf-8", "replace")
        got = {key.lower(): value for key, value in response.getheaders() if key.lower() != "set-cookie"}
        cookies = [value.split(";", 1)[0] for key, value in response.getheaders() if key.lower() == "set-cookie"]
        if cookies:
            got["set-cookie"] = cookies[-1]
        return response.status, got, answer
    finally:
        conn.close()


def log_in(base: str, username: str, password: str) -> str:
    """Sign in through the login form; returns the Cookie header value of the session."""
    status, headers, page = _request(base, "GET", "/aanmelden")
    match = CSRF.search(page)
    if status != 200 or match is None or "set-cookie" not in headers:
        raise RuntimeError(f"login page: {status}")
    form = urlencode({"username": username, "password": password, "csrf_token": match.group(1)})
    status, headers, _ = _request(base, "POST", "/aanmelden", cookie=headers["set-cookie"], body=form)
    if status not in (302, 303) or "set-cookie" not in headers:
        raise RuntimeError(f"login failed: {status}")
    return headers["set-cookie"]


def lua_script(workdir: Path, name: str, paths: Sequence[str], header: tuple[str, str]) -> Path:
    """bench/api.py's wrk script, with a header of our choice (the session cookie or the bearer token)."""
    key, value = header
    body = bench_api.LUA_TEMPLATE % {
        "paths": ", ".join(f'"{p}"' for p in paths),
        "offset": len(paths) // 3,
        "headers": f'wrk.headers["{key}"] = "{value}"\nwrk.headers["Accept"] = "text/html"',
    }
    path = workdir / f"{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}.lua"
    path.write_text(body)
    return path


def check_answers(base: str, world: World, cookie: str, checks: Checks) -> None:
    user = world.pi_users[0]
    case_id = user.case_ids[len(user.case_ids) // 2]
    other = world.pi_users[1].case_ids[0]
    status, _, page = _request(base, "GET", "/", cookie=cookie)
    checks.expect("Mijn werk: 200", (status, "Mijn werk" in page), (200, True))
    status, _, page = _request(base, "GET", f"/dossiers/{case_id}", cookie=cookie)
    shows_all = f"Totaal ({10 + EXTRA_DEBTS} schulden)" in page
    checks.expect("case page: 200 with 20 debts", (status, shows_all), (200, True))
    status, _, _ = _request(base, "GET", f"/dossiers/{other}", cookie=cookie)
    checks.expect("case page of another PI's case: 404", status, 404)
    status, _, _ = _request(base, "GET", f"/dossiers/{case_id}")
    checks.expect("case page without a session: to the login page", status, 302)
    status, _, body = _request(base, "GET", f"/api/v1/cases/{case_id}", token=user.token)
    count = json.loads(body).get("debts", {}).get("count") if status == 200 else None
    checks.expect("API case detail: 200 with 20 debts", (status, count), (200, 10 + EXTRA_DEBTS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SCHULDEN_BENCH_DATABASE_URL") or os.environ.get("SCHULDEN_TEST_DATABASE_URL"),
        help="a PostgreSQL server URL (any database on it)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SCHULDEN_BENCH_REDIS_URL") or os.environ.get("SCHULDEN_TEST_REDIS_URL"),
        help="Redis for the app (production refuses to start without)",
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, one short round (smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds over all routes (default 3, quick 1)")
    parser.add_argument("--seconds", type=int, default=None, help="seconds per wrk run (default 10, quick 2)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each run")
    parser.add_argument("--quiet-wait", type=int, default=15, help="wait up to this long for an idle machine")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DATABASE} database afterwards")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL (or set SCHULDEN_BENCH_DATABASE_URL)")
    if not args.redis_url:
        parser.error("--redis-url is needed: the app runs as in production")
    if shutil.which("wrk") is None:
        parser.error("wrk not found: install the Debian package 'wrk' (scripts/bench-pages.sh does it as root)")
    rounds = max(1, min(args.rounds or (1 if args.quick else 3), 10))
    seconds = args.seconds or (2 if args.quick else 10)
    cases = 3_000 if args.quick else 30_000

    checks = Checks()
    t_all = perf_counter()
    url = fresh_database(args.database_url, BENCH_DATABASE)
    engine = make_engine(url)
    print("== machine")
    for key, value in machine(engine).items():
        print(f"    {key}: {value}")
    workdir = Path(tempfile.mkdtemp(prefix="schuldroute-benchpages-"))
    server = None
    runs: list[Run] = []
    try:
        print(
            f"\n== load: {cases:,} cases with 10 debts (bench/api.py), the first PI's with {EXTRA_DEBTS} more",
            flush=True,
        )
        world = load(engine, cases=cases)
        user = world.pi_users[0]
        added = add_debts(engine, user.case_ids, EXTRA_DEBTS)
        print(f"    {world.rows:,} rows in {world.load_s:.1f} s; {added:,} debts added to {len(user.case_ids):,} cases")
        with engine.begin() as conn:
            conn.execute(
                update(User).where(User.username == user.username).values(password_hash=hash_password(PASSWORD))
            )

        server = start_server(url, args.redis_url, workdir)
        print(f"\n== server: gunicorn, 2 sync workers, production settings, at {server.base}")
        cookie = log_in(server.base, user.username, PASSWORD)
        print("\n== checks")
        check_answers(server.base, world, cookie, checks)
        name, _, value = cookie.partition("=")
        cookie_header = ("Cookie", f"{name}={value}")
        case_paths = [f"/dossiers/{cid}" for cid in user.case_ids]
        routes = [
            Route("Mijn werk", lua_script(workdir, "mijn werk", ["/"], cookie_header)),
            Route("case page (20 debts)", lua_script(workdir, "case page", case_paths, cookie_header), "case.read"),
            Route(
                "API case detail (20 debts)",
                lua_script(
                    workdir,
                    "api detail",
                    [f"/api/v1/cases/{cid}" for cid in user.case_ids],
                    ("Authorization", f"Bearer {user.token}"),
                ),
                "case.read",
            ),
        ]
        postmaster = postmaster_pid(engine)
        print(f"\n== load: wrk, {CONNECTIONS} connections, {seconds} s per run, {rounds} round(s)", flush=True)
        for number in range(1, rounds + 1):
            print(f"  round {number}: {wait_for_quiet(args.quiet_wait)}", flush=True)
            for route in routes:
                runs.append(measure(server, engine, route, CONNECTIONS, seconds, args.warmup, checks, postmaster))
    finally:
        if server is not None:
            stop_server(server)
        engine.dispose()
        if not args.keep:
            drop_database(args.database_url, BENCH_DATABASE)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n== results: medians over {rounds} round(s), wrk at c={CONNECTIONS}")
    print("| route | req/s | p50 ms | p99 ms | gunicorn + PostgreSQL CPU per request | p99 < 100 ms |")
    print("|---|---:|---:|---:|---:|---|")
    p99s: dict[str, float] = {}
    for route in routes:
        mine = [run for run in runs if run.route == route.name]
        p99 = statistics.median(r.p99_ms for r in mine)
        target = "" if route.name.startswith("API") else ("yes" if p99 < TARGET_P99_MS else "**no**")
        print(
            f"| {route.name} | {statistics.median(r.rps for r in mine):,.0f} | "
            f"{statistics.median(r.p50_ms for r in mine):.1f} | {p99:.1f} | "
            f"{statistics.median(r.app_ms for r in mine):.2f} + {statistics.median(r.pg_ms for r in mine):.2f} ms | "
            f"{target} |"
        )
        if not route.name.startswith("API"):
            p99s[route.name] = p99
    print()
    for name, p99 in p99s.items():
        checks.expect(f"{name}: p99 under {TARGET_P99_MS:.0f} ms", p99 < TARGET_P99_MS, True)
    print(f"\n== done in {perf_counter() - t_all:.0f} s; {len(checks.failed)} failed check(s)")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
