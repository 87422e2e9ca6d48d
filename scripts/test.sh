#!/usr/bin/env bash
# The whole test run: lint, type check, then pytest against SQLite and real PostgreSQL and Redis servers
# that this script starts on 127.0.0.1 and stops again, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/system-packages.sh
eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop' EXIT

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== import contracts (.importlinter, docs/architecture.md)"
.venv/bin/lint-imports
echo "== pytest (SQLite and PostgreSQL ${SCHULDEN_TEST_DATABASE_URL##*@}, Redis ${SCHULDEN_TEST_REDIS_URL##*//})"
# Both cores: pytest-xdist's workers each get their own PostgreSQL database and Redis database (tests/conftest.py).
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" "$@"
