# tickwork: `make run` starts the all-in-one server on SQLite with the demo app;
# `make test` runs the whole suite (SQLite and PostgreSQL, browser tests included).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint typecheck check bench chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

# Debian's Chromium for the browser tests; never a downloaded browser.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; \
	fi

run: $(STAMP)
	$(BIN)/tickwork migrate --db sqlite:///tickwork.db
	$(BIN)/tickwork run --db sqlite:///tickwork.db

test: $(DEV_STAMP) chromium
	$(BIN)/pytest -n 2 --dist loadgroup -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests bench

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

check: lint typecheck test

# bench/queue.py installs its peers (procrastinate, pgqueuer) into a virtualenv of their own,
# never tickwork's: PEERS_VENV (default .bench-venv). The soak (an hour) and the 10-million-run
# retention benchmark are run by hand: bench/soak.py, bench/retention.py.
PEERS_VENV ?= .bench-venv

bench: $(STAMP)
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/queue.py --peers-venv $(PEERS_VENV)
	$(BIN)/python bench/ui.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tickwork.db tickwork.db-wal tickwork.db-shm tickwork.db-lock
