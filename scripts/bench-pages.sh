#!/usr/bin/env bash
# The web pages benchmark (bench/pages.py): gunicorn + wrk against a throwaway PostgreSQL and Redis that this script
# starts on 127.0.0.1 and stops again, whatever the outcome. Extra arguments go to the benchmark (e.g. --quick).
# Its own ports and directory, so it does not clash with a test run or the other benchmarks at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."

export SCHULDEN_TEST_PG_PORT="${SCHULDEN_TEST_PG_PORT:-54531}"
export SCHULDEN_TEST_REDIS_PORT="${SCHULDEN_TEST_REDIS_PORT:-63931}"
export SCHULDEN_SERVICES_DIR="${SCHULDEN_SERVICES_DIR:-/tmp/schuldroute-benchpages-services}"

scripts/system-packages.sh
# The load generator: Debian's wrk, installed like the servers (as root), or named when missing.
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" != "0" ]; then
        echo "The pages benchmark needs the Debian package wrk: sudo apt-get install -y wrk" >&2
        exit 1
    fi
    echo "Installing Debian package: wrk"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop' EXIT

echo "== bench/pages.py (PostgreSQL ${SCHULDEN_TEST_DATABASE_URL##*@}, Redis ${SCHULDEN_TEST_REDIS_URL##*//})"
.venv/bin/python bench/pages.py --database-url "$SCHULDEN_TEST_DATABASE_URL" --redis-url "$SCHULDEN_TEST_REDIS_URL" "$@"
