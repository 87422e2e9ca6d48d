# Two commands for a newcomer (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PORT ?= 5000
# The reply link printed on the demo's letters leads to this server (set PUBLIC_URL for another address).
PUBLIC_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test lock lint format bench bench-api bench-letters bench-pages production drills clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Every third-party package, pip and the build backend included, comes from a lock file with its sha256 (make lock,
# README "Dependencies"); the project itself is the checkout, built with the locked setuptools (no build isolation,
# which would fetch setuptools unhashed). pip check: the lock has everything that pyproject.toml asks for.
$(VENV)/.installed: requirements/run.txt pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/run.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	$(VENV)/bin/pip check
	touch $@

$(VENV)/.installed-dev: requirements/test.txt pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/test.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	$(VENV)/bin/pip check
	touch $@ $(VENV)/.installed

# The NL Design System CSS the pages link (and axe-core for the browser tests), exactly as package-lock.json pins
# them; served from node_modules at /static/vendor/ (docs/web.md). Nothing in them needs an install script.
node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null 2>&1 || scripts/system-packages.sh npm
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## make run: install, migrate, seed the demo once and serve on http://127.0.0.1:$(PORT) (SQLite, jobs in-process)
run: export PUBLIC_URL := $(PUBLIC_URL)
run: $(VENV)/.installed node_modules/.installed
	$(VENV)/bin/schuldroute db upgrade
	$(VENV)/bin/schuldroute reference load
	$(VENV)/bin/schuldroute seed-demo --if-empty
	$(VENV)/bin/schuldroute run --host 127.0.0.1 --port $(PORT)

## make test: install with test extras, start PostgreSQL + Redis, run ruff, mypy and pytest, stop the servers
test: $(VENV)/.installed-dev node_modules/.installed
	scripts/test.sh

## make lock: rewrite requirements/*.txt from pyproject.toml, keeping existing pins (scripts/lock.sh; CPython 3.11)
lock:
	PYTHON=$(PYTHON) scripts/lock.sh

## make lint: ruff, mypy and the import-linter contracts of .importlinter (the allowed arrows, docs/architecture.md)
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make bench: the engine benchmark on a throwaway PostgreSQL (figures go to docs/benchmarks.md by hand)
bench: $(VENV)/.installed-dev
	scripts/system-packages.sh
	scripts/bench.sh

## make bench-api: the API benchmark (gunicorn + wrk) on a throwaway PostgreSQL and Redis
bench-api: $(VENV)/.installed-dev
	scripts/bench-api.sh

## make bench-letters: 10,000 letters through the real queue with 2 workers, next to the plain-reportlab floor
bench-letters: $(VENV)/.installed-dev
	scripts/bench-letters.sh

## make bench-pages: Mijn werk and a case page with 20 debts (gunicorn + wrk, 30,000 cases), next to the API's detail
bench-pages: $(VENV)/.installed-dev node_modules/.installed
	scripts/bench-pages.sh

## make production: the production layout on one machine: PostgreSQL, Redis, 2 gunicorn nodes behind haproxy on
## http://127.0.0.1:8080, 2 workers and the scheduler (docs/operations.md); scripts/production.sh stop stops it all
production: $(VENV)/.installed-dev node_modules/.installed
	scripts/system-packages.sh
	scripts/production.sh

## make drills: every fault drill (tests/drills, docs/drills.md), the expensive ones too; each starts its own servers
drills: $(VENV)/.installed-dev
	scripts/system-packages.sh
	SCHULDEN_DRILLS=all $(VENV)/bin/python -m pytest -p no:cacheprovider tests/drills -v

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
