# Two commands for a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The install is redone only when pyproject.toml or constraints.txt change (content, not mtime).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)

.PHONY: run test soak lint lint-openapi lint-owasp install postgres-binaries clean bench bench-quick wrk

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

# The server checks `iss` and `aud` of the tokens `dialoog token issue` and `dialoog demo` make
# (their defaults: dialoog-local, dialoog-api); settings already in the environment win.
run: install
	DIALOOG_JWT_ISSUER="$${DIALOOG_JWT_ISSUER:-dialoog-local}" \
	DIALOOG_JWT_AUDIENCE="$${DIALOOG_JWT_AUDIENCE:-dialoog-api}" $(BIN)/dialoog serve

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

# The Logius linter (NLGov REST API Design Rules) on the OpenAPI document the service serves;
# any error fails the build. Spectral comes from the npm registry at a pinned version into the
# git-ignored .tools/ (reinstalled only when the version changes); the ruleset is the shared
# one beside the repository, as in CI (../shared/adr/linter.yaml).
SPECTRAL_VERSION := 6.16.3
SPECTRAL_DIR := .tools/spectral
SPECTRAL := $(SPECTRAL_DIR)/node_modules/.bin/spectral
SPECTRAL_STAMP := $(SPECTRAL_DIR)/.installed-$(SPECTRAL_VERSION)
ADR_RULESET := ../shared/adr/linter.yaml

$(SPECTRAL_STAMP):
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "npm is missing (needed for the Spectral linter): run 'sudo apt-get install -y npm'" >&2; exit 1; \
	  fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm; \
	fi
	rm -rf $(SPECTRAL_DIR)
	npm install --prefix $(SPECTRAL_DIR) --save-exact --no-audit --no-fund --loglevel=error \
	  @stoplight/spectral-cli@$(SPECTRAL_VERSION)
	@touch $@

lint-openapi: install $(SPECTRAL_STAMP)
	@test -f $(ADR_RULESET) || { echo "The NLGov linter ruleset $(ADR_RULESET) is missing: \
	the shared folder must sit beside this repository (../shared/adr/)." >&2; exit 1; }
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	  $(BIN)/python tests/tools/dump_openapi.py "$$out/openapi.json"; \
	  $(SPECTRAL) lint -r $(ADR_RULESET) "$$out/openapi.json" --fail-severity error

# The OWASP API Security ruleset (pinned, from npm into .tools/) over the same document, with
# the Spectral above; no ../shared needed. Errors fail the build; the warnings it leaves are
# explained in docs/SECURITY.md.
OWASP_RULESET_VERSION := 2.0.1
OWASP_DIR := .tools/spectral-owasp
OWASP_STAMP := $(OWASP_DIR)/.installed-$(OWASP_RULESET_VERSION)

$(OWASP_STAMP): $(SPECTRAL_STAMP)
	rm -rf $(OWASP_DIR)
	npm install --prefix $(OWASP_DIR) --save-exact --no-audit --no-fund --loglevel=error \
	  @stoplight/spectral-owasp-ruleset@$(OWASP_RULESET_VERSION)
	@touch $@

lint-owasp: install $(SPECTRAL_STAMP) $(OWASP_STAMP)
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	  $(BIN)/python tests/tools/dump_openapi.py "$$out/openapi.json"; \
	  $(SPECTRAL) lint -r tests/tools/owasp-ruleset.yaml "$$out/openapi.json" --fail-severity error \
	  --display-only-failures

# A throwaway cluster in a temp dir runs for the pytest session only; tests/pgcluster.py stops
# it even when tests fail, and fails the run if PostgreSQL cannot start.
test: install postgres-binaries lint lint-openapi lint-owasp
	$(BIN)/python tests/pgcluster.py run -- $(BIN)/pytest -n 2 -m "not soak"

# Tests longer than a minute (marked `soak`, issue 6's reliability tests: tests/reliability/),
# never part of `make test`: e.g. schemathesis' ≥ 1,000 requests against the live server.
soak: install postgres-binaries
	$(BIN)/python tests/pgcluster.py run -- $(BIN)/pytest -m soak tests/reliability

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
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
