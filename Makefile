# The two commands: `make run` (set up everything and serve) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PYTEST_ARGS ?=
# pytest-xdist workers of `make test`: one per core of the 2-core machines the
# suite must fit on (tests/conftest.py gives each its own Redis database;
# pytest-django its own test database). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

.PHONY: help setup run serve test test-pythons stop stop-web lint format services browser media-tools load-tools bench chaos
BENCH_DB_URL ?= postgres://ainfluencer@127.0.0.1:$(or $(LOCAL_PG_PORT),5433)/ainfluencer_bench
# its own Redis database: the tests flush theirs (cache.clear()) while they run
BENCH_REDIS_URL ?= redis://127.0.0.1:$(or $(LOCAL_REDIS_PORT),6380)/2
BENCH_ARGS ?=
CHAOS_ARGS ?=
# written by `make run`, read by `make stop`
HONCHO_PID ?= .local/honcho.pid

help:
	@echo "make run    set up PostgreSQL, Redis, the venv, migrations, demo data; serve on http://127.0.0.1:8000"
	@echo "make test   the same setup, then the whole test suite"
	@echo "make test-pythons  the suite on Python 3.12 and 3.13 too (pyenv's)"
	@echo "make stop   stop the local servers"
	@echo "make lint   ruff, mypy and makemigrations --check"
	@echo "make bench  benchmarks on a scale database (BENCHMARKS.md)"
	@echo "make chaos  publishing under kills, outages and platform faults (~15 min; CHAOS_ARGS)"

$(VENV)/.stamp: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[test,dev,bench]"
	@touch $@

.env: | $(VENV)/.stamp
	@scripts/dotenv.sh

services:
	@scripts/services.sh start

setup: $(VENV)/.stamp .env services media-tools
	$(MANAGE) migrate --noinput

run: setup
	$(MANAGE) seed_demo --if-empty
	$(MANAGE) ensure_local_admin
	$(MANAGE) setup_periodic_tasks
	@# the first base backup, so the archived WAL can be replayed from day one
	@if [ -z "$$DATABASE_URL" ]; then $(MANAGE) base_backup --if-none; fi
	$(MANAGE) collectstatic --noinput -v 0
	@mkdir -p $(dir $(HONCHO_PID))
	@# exec: honcho keeps this shell's pid, written where `make stop` finds it
	@echo $$$$ > $(HONCHO_PID); exec $(VENV)/bin/honcho -f Procfile start

serve: run

browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium missing: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; fi; }

# ffprobe/ffmpeg (Debian's ffmpeg): the media library reads videos' and audio's
# size and duration and draws video thumbnails with them.
media-tools:
	@command -v ffprobe >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else echo "ffmpeg missing: sudo apt-get install -y ffmpeg" >&2; exit 1; fi; }

# wrk (Debian's): the load generator of `make bench`'s load section (and of
# its short variant in the tests, tests/ops/test_load.py).
load-tools:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk missing: sudo apt-get install -y wrk" >&2; exit 1; fi; }

test: setup browser load-tools
	$(MANAGE) makemigrations --check --dry-run
	$(MANAGE) collectstatic --noinput -v 0
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The whole suite again on the other Pythons the project supports, each in a
# venv of its own (.venv-3.12, .venv-3.13) beside the services of `make test`.
# CI runs it after `make test` (.ci/run).
OTHER_PYTHONS ?= 3.12 3.13
test-pythons:
	@set -e; for v in $(OTHER_PYTHONS); do \
	  py=$$(scripts/python-for.sh $$v); \
	  echo "==> the suite on Python $$v ($$py)"; \
	  $(MAKE) --no-print-directory test VENV=.venv-$$v PYTHON=$$py; \
	done

# Not part of `make test`: seeds a scale database once (minutes), then measures.
bench: setup load-tools
	@scripts/services.sh createdb ainfluencer_bench
	DATABASE_URL=$(BENCH_DB_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(BENCH_DB_URL) REDIS_URL=$(BENCH_REDIS_URL) $(PY) -m benchmarks $(BENCH_ARGS)

# Not part of `make test` (its short variant is: tests/chaos/test_chaos.py).
# Its own throwaway PostgreSQL and Redis; writes BENCHMARKS.md's Chaos section
# and docs/chaos-latest.json. `make chaos CHAOS_ARGS="--help"` lists the knobs.
chaos: setup
	$(PY) -m tests.chaos $(CHAOS_ARGS)

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(MANAGE) makemigrations --check --dry-run

format: $(VENV)/.stamp
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Only what this checkout started: the honcho of `make run` (its pid file; a
# pid now used by another program is left alone), then the local servers.
stop: stop-web
	@scripts/services.sh stop

stop-web:
	@pid=$$(cat $(HONCHO_PID) 2>/dev/null) || exit 0; \
	if ps -o args= -p "$$pid" 2>/dev/null | grep -q honcho; then \
	  echo "==> stopping the web processes (honcho, pid $$pid)"; \
	  kill -TERM "$$pid"; \
	  for _ in $$(seq 100); do ps -o args= -p "$$pid" | grep -q honcho || break; sleep 0.1; done; \
	fi; \
	rm -f $(HONCHO_PID)
