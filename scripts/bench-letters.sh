#!/usr/bin/env bash
# The letter pipeline benchmark (bench/letters.py): 2 rq workers against a throwaway PostgreSQL and Redis that this
# script starts on 127.0.0.1 and stops again, whatever the outcome. Extra arguments go to the benchmark (e.g. --quick).
# Its own ports and directory, so it does not clash with a test run (scripts/test.sh) or another benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

export SCHULDEN_TEST_PG_PORT="${SCHULDEN_TEST_PG_PORT:-54369}"
export SCHULDEN_TEST_REDIS_PORT="${SCHULDEN_TEST_REDIS_PORT:-63829}"
export SCHULDEN_SERVICES_DIR="${SCHULDEN_SERVICES_DIR:-/tmp/schuldroute-benchletters-services}"

scripts/system-packages.sh
eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop' EXIT

echo "== bench/letters.py (PostgreSQL ${SCHULDEN_TEST_DATABASE_URL##*@}, Redis ${SCHULDEN_TEST_REDIS_URL##*//})"
.venv/bin/python bench/letters.py --database-url "$SCHULDEN_TEST_DATABASE_URL" --redis-url "$SCHULDEN_TEST_REDIS_URL" "$@"
