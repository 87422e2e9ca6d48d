#!/usr/bin/env bash
# The letter pipeline benchmark (bench/letters.py): 2 rq workers against a throwaway PostgreSQL (durable, as in
# production) and Redis that this script starts on 127.0.0.1 and stops again, whatever the outcome. Extra arguments
# go to the benchmark (e.g. --quick, --store database).
# Its own ports and directory, so it does not clash with a test run (scripts/test.sh) or another benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

export SCHULDEN_TEST_PG_PORT="${SCHULDEN_TEST_PG_PORT:-54369}"
export SCHULDEN_TEST_REDIS_PORT="${SCHULDEN_TEST_REDIS_PORT:-63829}"
export SCHULDEN_SERVICES_DIR="${SCHULDEN_SERVICES_DIR:-/tmp/schuldroute-benchletters-services}"

scripts/system-packages.sh
eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop' EXIT

# A durable PostgreSQL, as in production: services.sh starts the test suite's cluster with fsync, synchronous_commit
# and full_page_writes off, which would let the database PDF store (FILE_STORE=database) commit its PDFs for free
# while the folder store fsyncs each file. Command-line settings beat ALTER SYSTEM, so restart our own throwaway
# cluster with the same address and the server's defaults. BENCH_PG_FAST=1 keeps the test suite's settings.
if [ "${BENCH_PG_FAST:-0}" != "1" ]; then
    source scripts/postgres-lib.sh
    pg_dir="$SCHULDEN_SERVICES_DIR/pg"
    as_pg_user "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -m fast restart \
        -o "-h 127.0.0.1 -p $SCHULDEN_TEST_PG_PORT -k $pg_dir -c max_connections=200" >/dev/null
fi

echo "== bench/letters.py (PostgreSQL ${SCHULDEN_TEST_DATABASE_URL##*@}, Redis ${SCHULDEN_TEST_REDIS_URL##*//})"
.venv/bin/python bench/letters.py --database-url "$SCHULDEN_TEST_DATABASE_URL" --redis-url "$SCHULDEN_TEST_REDIS_URL" "$@"
