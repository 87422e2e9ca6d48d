#!/usr/bin/env bash
# The workflow engine benchmark (bench/engine.py) against a throwaway PostgreSQL that this script starts on
# 127.0.0.1 and stops again, whatever the outcome. Extra arguments go to the benchmark (e.g. --quick).
# Its own ports and directory, so it does not clash with a test run (scripts/test.sh) going on at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."

export SCHULDEN_TEST_PG_PORT="${SCHULDEN_TEST_PG_PORT:-54339}"
export SCHULDEN_TEST_REDIS_PORT="${SCHULDEN_TEST_REDIS_PORT:-63809}"
export SCHULDEN_SERVICES_DIR="${SCHULDEN_SERVICES_DIR:-/tmp/schuldroute-bench-services}"

scripts/system-packages.sh
eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop' EXIT

echo "== bench/engine.py (PostgreSQL ${SCHULDEN_TEST_DATABASE_URL##*@})"
.venv/bin/python bench/engine.py --database-url "$SCHULDEN_TEST_DATABASE_URL" "$@"
