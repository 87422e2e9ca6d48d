#!/usr/bin/env bash
# The production shape of Schuldroute on one machine, to try it (docs/operations.md, "A production layout on one
# machine"; `make production`):
#
#   scripts/production.sh [start]   prepare the folder, start PostgreSQL and Redis, migrate, load the reference data,
#                                   make the first administrator, write the load balancer's configuration, then run
#                                   deploy/Procfile with honcho in the foreground (Ctrl-C stops those processes)
#   scripts/production.sh stop      stop everything it started, PostgreSQL and Redis included; the data stays
#   scripts/production.sh services start PostgreSQL and Redis when they are not running (e.g. after a Redis restart
#                                   drill: `redis-cli ... shutdown`, then this)
#   scripts/production.sh env       print the path of the environment file (`set -a; . that-file; set +a` before a
#                                   `schuldroute` command by hand)
#
# Settings, all optional: SCHULDROUTE_PRODUCTION_DIR (instance/production: the data, the secrets, the logs),
# SCHULDROUTE_HTTP_PORT (8080, the load balancer), SCHULDROUTE_WEB1_PORT and SCHULDROUTE_WEB2_PORT (8081, 8082, the
# gunicorn nodes), SCHULDROUTE_PG_PORT (54380), SCHULDROUTE_REDIS_PORT (63880), SCHULDROUTE_ADMIN_USERNAME (beheer)
# and SCHULDROUTE_ADMIN_PASSWORD (when unset, the first administrator's password is generated and printed once).
#
# Every server listens on 127.0.0.1 only. PostgreSQL's initdb refuses to run as root, so as root the cluster is owned
# by Debian's `postgres` account, as in scripts/services.sh; the application's processes run as the caller.
set -euo pipefail

START_DIR="$PWD"
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="$ROOT/.venv"
# Absolute: the mark by which `stop` finds every process of this layout is SCHULDROUTE_LAYOUT=$DIR (see ours).
DIR="$(cd "$START_DIR" && realpath -m "${SCHULDROUTE_PRODUCTION_DIR:-$ROOT/instance/production}")"
HTTP_PORT="${SCHULDROUTE_HTTP_PORT:-8080}"
WEB1_PORT="${SCHULDROUTE_WEB1_PORT:-8081}"
WEB2_PORT="${SCHULDROUTE_WEB2_PORT:-8082}"
PG_PORT="${SCHULDROUTE_PG_PORT:-54380}"
REDIS_PORT="${SCHULDROUTE_REDIS_PORT:-63880}"
#: What the scheduler runs as `schuldroute tick --every`, and so what the web nodes expect of it (TICK_INTERVAL).
TICK_EVERY=5
#: The pause before a process that stopped is started again, as RestartSec= in deploy/systemd.
RESTART_SEC=2

# pg_bin and as_pg_user
source "$ROOT/scripts/postgres-lib.sh"

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# The pids of every process whose environment holds SCHULDROUTE_LAYOUT=<this folder>, which `start` sets for honcho
# alone, so that everything honcho starts inherits it: the keepers, gunicorn and its workers, the rq workers with
# their horses and scheduler children, the ticker, haproxy. Found by their environment rather than by pid files, so
# nothing is missed when a process manager was killed hard and left children behind. Not SCHULDROUTE_PRODUCTION_DIR:
# a shell that exported it would mark whatever else it runs. PostgreSQL and Redis are started before the mark is set;
# `stop` ends them through their own shutdown. This script's own ancestors are left out.
ours() {
    "$VENV/bin/python" - "$DIR" <<'PY'
import os
import sys

mark = b"SCHULDROUTE_LAYOUT=" + os.fsencode(sys.argv[1])
spared, pid = set(), os.getpid()
while pid > 1:
    spared.add(pid)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            pid = int(f.read().rsplit(b")", 1)[1].split()[1])
    except OSError:
        break
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) in spared:
        continue
    try:
        with open(f"/proc/{entry}/environ", "rb") as f:
            if mark in f.read().split(b"\0"):
                print(entry)
    except OSError:  # gone meanwhile, or not ours to read
        pass
PY
}

signal_ours() {
    local pid
    for pid in $(ours); do kill "-$1" "$pid" 2>/dev/null || true; done
}

wait_until_none_of_ours() {  # seconds
    local i
    for i in $(seq $(($1 * 10))); do
        [ -z "$(ours)" ] && return 0
        sleep 0.1
    done
    return 1
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

load_secrets() {
    # Made once and kept: a new SECRET_KEY would end every session, a new password would lock out the cluster.
    if [ ! -s "$DIR/secrets" ]; then
        (umask 077 && "$VENV/bin/python" -c '
import secrets
for name in ("SECRET_KEY", "DATABASE_PASSWORD", "REDIS_PASSWORD"):
    print(f"{name}={secrets.token_urlsafe(32)}")' >"$DIR/secrets.new")
        mv "$DIR/secrets.new" "$DIR/secrets"
    fi
    # Plain variables, not exported: the passwords reach the processes inside the URLs of the environment file.
    # shellcheck disable=SC1091
    . "$DIR/secrets"
}

write_env() {
    # What /etc/schuldroute/env holds on several machines (docs/operations.md, "Several machines").
    (umask 077 && cat >"$DIR/env.new" <<EOF
SCHULDROUTE_ENV=production
SECRET_KEY=$SECRET_KEY
DATABASE_URL=postgresql+psycopg://schuldroute:$DATABASE_PASSWORD@127.0.0.1:$PG_PORT/schuldroute
REDIS_URL=redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0
PUBLIC_URL=http://127.0.0.1:$HTTP_PORT
SCHULDROUTE_INSTANCE=$DIR
LETTER_STORE=$DIR/letters
TICK_INTERVAL=$TICK_EVERY
TRUSTED_PROXIES=1
EOF
    )
    mv "$DIR/env.new" "$DIR/env"
}

start_postgres() {
    local bin running_port
    bin="$(pg_bin)"
    mkdir -p "$DIR/pg"
    if [ "$(id -u)" = "0" ]; then chown postgres: "$DIR/pg"; fi
    if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
        # Passwords over TCP (the application's role); the superuser only through the socket in the folder.
        as_pg_user "$bin/initdb" -D "$DIR/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$DIR/log/initdb.log"
    fi
    if as_pg_user "$bin/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; then
        running_port="$(sed -n 4p "$DIR/pg/data/postmaster.pid")"
        if [ "$running_port" != "$PG_PORT" ]; then
            echo "PostgreSQL of $DIR already runs on port $running_port: stop it first (scripts/production.sh stop)" >&2
            exit 1
        fi
    else
        # fsync stays on (unlike the tests' cluster): a restart, or a crash drill, keeps every commit.
        as_pg_user "$bin/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w -t 60 \
            -o "-h 127.0.0.1 -p $PG_PORT -k $DIR/pg -c unix_socket_permissions=0700 -c max_connections=200" \
            start >/dev/null
    fi
    # The application's own role and database (not the superuser), made once.
    as_pg_user "$bin/psql" -h "$DIR/pg" -p "$PG_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
\set pw '$DATABASE_PASSWORD'
SELECT format('CREATE ROLE schuldroute LOGIN PASSWORD %L', :'pw')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'schuldroute') \gexec
SELECT 'CREATE DATABASE schuldroute OWNER schuldroute'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'schuldroute') \gexec
SQL
}

redis_pid() { cat "$DIR/redis/redis.pid" 2>/dev/null || true; }

redis_cli() { REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

start_redis() {
    command -v redis-server >/dev/null 2>&1 \
        || { echo "redis-server not found: install the Debian package 'redis-server'" >&2; exit 1; }
    mkdir -p "$DIR/redis"
    # As docs/operations.md asks of production's Redis: an append-only file synced every second, no eviction,
    # a password. The file holds the password, so only its owner reads it.
    (umask 077 && cat >"$DIR/redis/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
dir "$DIR/redis"
appendonly yes
appendfsync everysec
save ""
maxmemory-policy noeviction
requirepass $REDIS_PASSWORD
daemonize yes
pidfile "$DIR/redis/redis.pid"
logfile "$DIR/log/redis.log"
EOF
    )
    if ! alive "$(redis_pid)"; then
        redis-server "$DIR/redis/redis.conf"
    fi
    local i
    for i in $(seq 100); do
        [ "$(redis_cli ping 2>/dev/null)" = "PONG" ] && return 0
        sleep 0.1
    done
    echo "Redis does not answer on 127.0.0.1:$REDIS_PORT (see $DIR/log/redis.log; another port in use?)" >&2
    exit 1
}

services() {
    mkdir -p "$DIR/log" "$DIR/run" "$DIR/letters"
    # PostgreSQL's account must reach its cluster inside the folder.
    chmod 755 "$DIR"
    load_secrets
    start_postgres
    start_redis
    write_env
}

first_administrator() {
    local bin count username password generated=""
    bin="$(pg_bin)"
    count="$(as_pg_user "$bin/psql" -h "$DIR/pg" -p "$PG_PORT" -U postgres -d schuldroute -tAq \
        -c "SELECT count(*) FROM app_user WHERE role = 'admin'")"
    [ "$count" = "0" ] || return 0
    username="${SCHULDROUTE_ADMIN_USERNAME:-beheer}"
    password="${SCHULDROUTE_ADMIN_PASSWORD:-}"
    if [ -z "$password" ]; then
        password="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(15))')"
        generated=1
    fi
    printf '%s\n' "$password" | schuldroute users create --username "$username" \
        --display-name "Functioneel beheer" --role admin --password-stdin >/dev/null
    if [ -n "$generated" ]; then
        # Shown once and stored nowhere; it must be changed at the first sign-in (docs/accounts.md).
        echo "=================================================================================================="
        echo " First administrator: $username   password: $password"
        echo " Shown once. Sign in at http://127.0.0.1:$HTTP_PORT/aanmelden; you choose a new password and set up"
        echo " two-step verification (required for administrators in production)."
        echo "=================================================================================================="
    else
        echo "First administrator $username created with the password of SCHULDROUTE_ADMIN_PASSWORD."
    fi
}

write_haproxy_config() {
    command -v haproxy >/dev/null 2>&1 \
        || { echo "haproxy not found: install the Debian package 'haproxy' (scripts/system-packages.sh)" >&2; exit 1; }
    sed -e "s/@HTTP_PORT@/$HTTP_PORT/g" -e "s/@WEB1_PORT@/$WEB1_PORT/g" -e "s/@WEB2_PORT@/$WEB2_PORT/g" \
        deploy/haproxy.cfg >"$DIR/haproxy.cfg"
    haproxy -c -q -f "$DIR/haproxy.cfg"
}

start() {
    local pid port
    [ -x "$VENV/bin/honcho" ] || { echo "$VENV has no honcho: run make .venv/.installed-dev first" >&2; exit 1; }
    if [ -n "$(ours)" ]; then
        echo "The layout of $DIR is running already (or left processes behind): scripts/production.sh stop" >&2
        exit 1
    fi
    for port in "$HTTP_PORT" "$WEB1_PORT" "$WEB2_PORT"; do
        if port_taken "$port"; then
            echo "Port $port on 127.0.0.1 is taken; choose others with SCHULDROUTE_HTTP_PORT, ..._WEB1_PORT, ..._WEB2_PORT" >&2
            exit 1
        fi
    done
    export SCHULDROUTE_PRODUCTION_DIR="$DIR" SCHULDROUTE_WEB1_PORT="$WEB1_PORT" SCHULDROUTE_WEB2_PORT="$WEB2_PORT"
    export PATH="$VENV/bin:$PATH"
    services
    set -a
    # shellcheck disable=SC1091
    . "$DIR/env"
    set +a
    schuldroute db upgrade
    # The municipalities, the PC4 table and the public creditors; never seed-demo (production refuses its accounts).
    schuldroute reference load >/dev/null
    first_administrator
    write_haproxy_config
    mkdir -p "$DIR/metrics/web1" "$DIR/metrics/web2"
    echo "Schuldroute (production) on http://127.0.0.1:$HTTP_PORT  (status: /status, metrics: /metrics)"
    echo "Ctrl-C stops the application; scripts/production.sh stop also stops PostgreSQL and Redis."
    echo "$$" >"$DIR/run/honcho.pid"
    export SCHULDROUTE_LAYOUT="$DIR"
    # -e names the environment file, so a developer's .env in the checkout is never read instead.
    colour=()
    [ -t 1 ] || colour=(--no-colour)
    exec honcho start "${colour[@]}" -f "$ROOT/deploy/Procfile" -e "$DIR/env" -d "$ROOT"
}

stop() {
    local pid bin
    if [ ! -d "$DIR" ]; then
        echo "Nothing to stop: $DIR does not exist"
        return 0
    fi
    pid="$(cat "$DIR/run/honcho.pid" 2>/dev/null || true)"
    if alive "$pid" && ours | grep -qx "$pid"; then
        kill -TERM "$pid"
        for _ in $(seq 200); do alive "$pid" || break; sleep 0.1; done
    fi
    # What honcho did not end (it kills its keepers after 5 s; a worker finishing a job may take longer): a keeper
    # forwards SIGTERM to its process and stops restarting it; then SIGKILL for whatever is still there.
    signal_ours TERM
    if ! wait_until_none_of_ours 20; then
        signal_ours KILL
        wait_until_none_of_ours 5 || echo "Processes of $DIR survived SIGKILL: $(ours | tr '\n' ' ')" >&2
    fi
    if alive "$(redis_pid)"; then
        pid="$(redis_pid)"
        # SHUTDOWN writes the append-only file; the password is in the configuration file, not on a command line.
        REDISCLI_AUTH="$(sed -n 's/^requirepass //p' "$DIR/redis/redis.conf")" \
            redis-cli -h 127.0.0.1 -p "$(sed -n 's/^port //p' "$DIR/redis/redis.conf")" shutdown >/dev/null 2>&1 \
            || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    fi
    if [ -f "$DIR/pg/data/postmaster.pid" ]; then
        bin="$(pg_bin)"
        as_pg_user "$bin/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    rm -f "$DIR/run/"*
    echo "Stopped the layout of $DIR (the data stays; remove the folder to start afresh)"
}

# keep NAME COMMAND...: run COMMAND and start it again RESTART_SEC after it stops, until told to stop: for each line
# of deploy/Procfile, what systemd's Restart=always is on several machines (deploy/systemd). honcho itself ends
# everything when any one process ends, so without this a killed worker would take the whole layout down instead of
# being a drill. The command runs in its own process group: SIGTERM goes to it alone (a gunicorn master's or an rq
# worker's warm shutdown, which must not have its work horse killed under it), and once it has exited whatever is
# left of its group (rq's scheduler child, a horse) is killed, as KillMode=mixed does.
keep() {
    local name="$1" child=0 status stopping=0
    shift
    trap 'stopping=1; if [ "$child" -gt 0 ]; then kill -TERM "$child" 2>/dev/null || true; fi' TERM INT
    while :; do
        setsid "$@" &
        child=$!
        # The pid to aim a drill at: `kill -9 $(cat instance/production/run/worker1.pid)` (not the keeper's).
        echo "$child" >"$DIR/run/$name.pid"
        status=0
        wait "$child" || status=$?
        # A trapped signal ends `wait` early: wait again until the command itself has exited.
        while alive "$child"; do status=0; wait "$child" || status=$?; done
        kill -KILL -- "-$child" 2>/dev/null || true
        rm -f "$DIR/run/$name.pid"
        [ "$stopping" = 0 ] || exit 0
        echo "$name stopped (status $status); starting it again in ${RESTART_SEC}s" >&2
        sleep "$RESTART_SEC" &
        wait $! || true
        [ "$stopping" = 0 ] || exit 0
    done
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    services)
        export PATH="$VENV/bin:$PATH"
        services
        echo "PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT are running"
        ;;
    env) echo "$DIR/env" ;;
    keep) shift; keep "$@" ;;
    *) echo "usage: $0 [start|stop|services|env]" >&2; exit 2 ;;
esac
