# Two commands for a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The install is redone only when pyproject.toml or constraints.txt change (content, not mtime).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)

.PHONY: run test lint install postgres-binaries clean bench bench-quick wrk

$(STAMP): pyproject.toml constraints.txt
	@# Debian's own python3 needs python3-venv for `-m venv`; install it when we can.
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  [ "$$(id -u)" = 0 ] && apt-get update && apt-get install -y python3-venv \
	  && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
	$(BIN)/dialoog serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's PostgreSQL puts its server binaries in /usr/lib/postgresql/<major>/bin.
postgres-binaries:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "PostgreSQL server binaries are missing: run 'sudo apt-get install -y postgresql'" >&2; exit 1; \
	  fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	fi

# A throwaway cluster in a temp dir runs for the pytest session only; tests/pgcluster.py stops
# it even when tests fail, and fails the run if PostgreSQL cannot start.
test: install postgres-binaries lint
	$(BIN)/python tests/pgcluster.py run -- $(BIN)/pytest -n 2

# Benchmarks (issue 6), never part of `make test`: each run starts its own throwaway PostgreSQL
# cluster and SQLite file and measures every figure against ceilings taken in the same run.
# bench/results/latest.json and docs/BENCHMARKS.md get the table. HTTP load comes from Debian's
# wrk when it can be installed, else from a bounded Python client.
wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } \
	  || echo "wrk not installed: the Python load generator is used" >&2

bench: install postgres-binaries wrk
	$(BIN)/python bench/run.py

bench-quick: install postgres-binaries wrk
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
