#!/usr/bin/env bash
# Start or stop the throwaway PostgreSQL and Redis servers that the test suite runs against.
#
#   scripts/services.sh start   -> prints the export lines for SCHULDEN_TEST_DATABASE_URL and SCHULDEN_TEST_REDIS_URL
#   scripts/services.sh stop
#
# Both servers listen on 127.0.0.1 only and keep their data in a temporary directory that `stop` removes.
# PostgreSQL's initdb refuses to run as root, so as root the cluster is owned by the unprivileged `postgres`
# account that Debian's postgresql package creates.
set -euo pipefail

PG_PORT="${SCHULDEN_TEST_PG_PORT:-54329}"
REDIS_PORT="${SCHULDEN_TEST_REDIS_PORT:-63799}"
STATE_DIR="${SCHULDEN_SERVICES_DIR:-/tmp/schuldroute-test-services-${PG_PORT}}"

# pg_bin and as_pg_user
source "$(dirname "${BASH_SOURCE[0]}")/postgres-lib.sh"

start() {
    local bin
    bin="$(pg_bin)"
    command -v redis-server >/dev/null 2>&1 || { echo "redis-server not found: install the Debian package 'redis-server'" >&2; exit 1; }
    stop >/dev/null 2>&1 || true
    mkdir -p "$STATE_DIR/pg" "$STATE_DIR/redis"
    chmod 755 "$STATE_DIR"
    if [ "$(id -u)" = "0" ]; then chown postgres: "$STATE_DIR/pg"; fi
    as_pg_user "$bin/initdb" -D "$STATE_DIR/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$STATE_DIR/initdb.log"
    # fsync off: a test cluster is thrown away; it makes the suite's commits several times cheaper.
    as_pg_user "$bin/pg_ctl" -D "$STATE_DIR/pg/data" -l "$STATE_DIR/pg/server.log" -w \
        -o "-h 127.0.0.1 -p $PG_PORT -k $STATE_DIR/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --maxmemory-policy noeviction --dir "$STATE_DIR/redis" --daemonize yes \
        --pidfile "$STATE_DIR/redis/redis.pid" --logfile "$STATE_DIR/redis/redis.log"
    for _ in $(seq 50); do
        redis-cli -p "$REDIS_PORT" -h 127.0.0.1 ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "export SCHULDEN_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "export SCHULDEN_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

stop() {
    local bin
    if [ -f "$STATE_DIR/redis/redis.pid" ]; then
        kill "$(cat "$STATE_DIR/redis/redis.pid")" 2>/dev/null || true
    fi
    if [ -d "$STATE_DIR/pg/data" ]; then
        bin="$(pg_bin)"
        as_pg_user "$bin/pg_ctl" -D "$STATE_DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$STATE_DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
