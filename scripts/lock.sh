#!/usr/bin/env bash
# Write the hashed lock files from pyproject.toml (README, "Dependencies"):
#
#   requirements/run.txt         the runtime dependencies, plus pip and the build backend (make run)
#   requirements/test.txt        the same plus the dev extra, which includes test (make test, lint, bench)
#   requirements/lock-tools.txt  pip-tools for this script (from requirements/lock-tools.in)
#
# Pins already in a lock file stay while pyproject.toml allows them, so a second run writes the same files.
# Arguments go to every pip-compile:
#
#   scripts/lock.sh --upgrade-package rq    # one package to its newest allowed version
#   scripts/lock.sh --upgrade               # everything
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
TOOLS_VENV=build/lock-venv
WORK=build/lock

# pip-compile resolves for the interpreter it runs on (environment markers, which wheels exist): the lock is made
# for CPython 3.11, the version the project runs on.
is_cpython311() {
    "$1" -c 'import sys; sys.exit(not (sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)))' \
        2>/dev/null
}
if ! is_cpython311 "$PYTHON"; then
    if command -v python3.11 >/dev/null 2>&1 && is_cpython311 python3.11; then
        PYTHON=python3.11
    else
        echo "scripts/lock.sh needs CPython 3.11 (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    fi
fi

# Only the public index, as pip's defaults name it, whatever this machine's pip configuration adds (local mirrors,
# find-links, constraints): another machine then writes the same files. PIP_CERT (a CA bundle) stays.
public_index() {
    env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_CONSTRAINT \
        PIP_CONFIG_FILE=/dev/null "$@"
}

# The tools live in their own venv, so pip-tools and its own pins never mix with the project's .venv.
if [ ! -x "$TOOLS_VENV/bin/pip-compile" ] || [ ! -f requirements/lock-tools.txt ] \
    || [ requirements/lock-tools.txt -nt "$TOOLS_VENV/.installed" ]; then
    rm -rf "$TOOLS_VENV"
    "$PYTHON" -m venv "$TOOLS_VENV"
    if [ -f requirements/lock-tools.txt ]; then
        public_index "$TOOLS_VENV/bin/pip" install --quiet --require-hashes --no-deps -r requirements/lock-tools.txt
    else
        # First run ever (or lock-tools.txt deleted): take pip-tools unhashed once; lock-tools.txt is written below.
        public_index "$TOOLS_VENV/bin/pip" install --quiet -r requirements/lock-tools.in
    fi
    touch "$TOOLS_VENV/.installed"
fi

mkdir -p "$WORK"

# What the lock files are made from, as pyproject.toml says it (comments and formatting do not count). Its sha256 is
# written into each lock file; tests/test_lockfile.py recomputes it the same way, so a dependency added to
# pyproject.toml without running `make lock` fails the suite.
deps_sha256="$("$PYTHON" - <<'PY'
import hashlib
import json
import tomllib

with open("pyproject.toml", "rb") as f:
    pyproject = tomllib.load(f)
inputs = {
    "requires-python": pyproject["project"].get("requires-python"),
    "build-system.requires": pyproject["build-system"]["requires"],
    "dependencies": pyproject["project"].get("dependencies", []),
    "optional-dependencies": pyproject["project"].get("optional-dependencies", {}),
}
print(hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest())
PY
)"

# `make run` installs the project with --no-build-isolation and --no-deps, so pip itself and the build backend
# ([build-system] requires) come from the lock too, with hashes, like everything else.
"$PYTHON" - <<'PY' > "$WORK/pip-and-build-backend.in"
import tomllib

with open("pyproject.toml", "rb") as f:
    pyproject = tomllib.load(f)
print("pip")
for requirement in pyproject["build-system"]["requires"]:
    print(requirement)
PY

compile() {
    # pip-compile's note that the self-reference (see drop_self) would need a hash is answered by drop_self.
    public_index env CUSTOM_COMPILE_COMMAND="make lock" \
        "$TOOLS_VENV/bin/pip-compile" --no-config --quiet --generate-hashes --allow-unsafe --strip-extras \
        --no-emit-index-url --no-emit-find-links --newline lf "$@" \
        2> >(grep -v '^The generated requirements file may be rejected by pip install' >&2)
}

# pip-compile's own header, preceded by the sha256 of pyproject.toml's dependency lists.
add_header() {
    local file="$1"
    {
        echo "# pyproject-dependencies-sha256: $deps_sha256"
        echo "# (of pyproject.toml's requires-python, [build-system] requires, dependencies and optional-dependencies;"
        echo "# tests/test_lockfile.py fails when they no longer match: run \`make lock\`)"
        cat "$file"
    } > "$file.new"
    mv "$file.new" "$file"
}

# The dev extra names the test extra as "schuldroute[test]": pip-compile then lists the project itself as
# "schuldroute @ file:///<this checkout>" with a warning. The project is installed from the checkout, not from the
# lock, so that entry goes; anything else without a pin and a hash stops the script.
drop_self() {
    local file="$1"
    awk '
        /^# WARNING: pip install will require the following package to be hashed\.$/ { next }
        /^# Consider using a hashable URL like / { next }
        /^schuldroute @ / { skipping = 1; next }
        skipping && /^[[:space:]]/ { next }
        { skipping = 0; print }
    ' "$file" > "$file.new"
    mv "$file.new" "$file"
    if grep -nE '^[^#[:space:]-]' "$file" | grep -vE '^[0-9]+:[A-Za-z0-9._-]+==[^ ]+ \\$'; then
        echo "scripts/lock.sh: $file has a requirement without a pin and a hash (above)" >&2
        exit 1
    fi
}

# test.txt first: it is the superset. run.txt is then constrained to its pins, so both install the same versions.
compile --extra dev -o requirements/test.txt "$@" pyproject.toml "$WORK/pip-and-build-backend.in"
drop_self requirements/test.txt
add_header requirements/test.txt

compile -c requirements/test.txt -o requirements/run.txt "$@" pyproject.toml "$WORK/pip-and-build-backend.in"
drop_self requirements/run.txt
add_header requirements/run.txt

compile -o requirements/lock-tools.txt "$@" requirements/lock-tools.in

echo "requirements/run.txt, requirements/test.txt and requirements/lock-tools.txt are up to date"
