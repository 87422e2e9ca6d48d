# Shell functions for finding and running PostgreSQL's server binaries, sourced by scripts/services.sh (the test
# servers), scripts/production.sh (the production layout) and scripts/bench-letters.sh.

# The folder of initdb and pg_ctl: Debian keeps them out of PATH, under /usr/lib/postgresql/<version>/bin.
pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    done
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return 0
    echo "PostgreSQL server binaries not found: install the Debian package 'postgresql' (scripts/system-packages.sh)" >&2
    return 1
}

# Run a command as the postgres user when we are root (PostgreSQL refuses to run as root), as ourselves otherwise.
as_pg_user() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
