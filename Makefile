# Two commands for a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The install is redone only when pyproject.toml or constraints.txt change (content, not mtime).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)

.PHONY: run test soak lint lint-openapi lint-owasp spectral openapi-json install postgres-binaries \
	clean bench bench-scale bench-quick wrk pages-assets chromium screenshots pdf-libs

$(STAMP): pyproject.toml constraints.txt
	@# Debian's own python3 needs python3-venv for `-m venv`; install it when we can.
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  [ "$$(id -u)" = 0 ] && apt-get update && apt-get install -y python3-venv \
	  && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP) pages-assets pdf-libs

# WeasyPrint (the auditor's dossier PDF) needs Pango from Debian; installed when missing and we
# are root, else one line says how.
pdf-libs:
	@/sbin/ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0; } \
	  || { echo "Pango is missing (the dossier PDF): run 'sudo apt-get install -y libpangoft2-1.0-0'" >&2; exit 1; }

# The server checks `iss` and `aud` of the tokens `dialoog token issue` and `dialoog demo` make
# (their defaults: dialoog-local, dialoog-api); settings already in the environment win. The
# development sign-in page is on unless an OIDC issuer is configured; webhooks may go to a
# receiver on 127.0.0.1 or localhost (docs/INTEGRATION.md).
run: install
	DIALOOG_JWT_ISSUER="$${DIALOOG_JWT_ISSUER:-dialoog-local}" \
	DIALOOG_JWT_AUDIENCE="$${DIALOOG_JWT_AUDIENCE:-dialoog-api}" \
	DIALOOG_DEV_SIGNIN="$${DIALOOG_DEV_SIGNIN:-$$([ -n "$${DIALOOG_OIDC_ISSUER:-}" ] && echo 0 || echo 1)}" \
	DIALOOG_WEBHOOKS_ALLOW_LOCAL="$${DIALOOG_WEBHOOKS_ALLOW_LOCAL:-1}" \
	$(BIN)/dialoog serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Pages for people (api/pages/, docs/PAGES.md) ---------------------------------------------------
# The NL Design System CSS (@utrecht/component-library-css, EUPL-1.2), the open example theme
# (@nl-design-system-unstable/voorbeeld-design-tokens, EUPL-1.2) and axe-core (MPL-2.0, for the
# browser tests only), from npm at pinned versions into .tools/pages; the two stylesheets are
# copied into the git-ignored api/pages/static/nlds/ that the app serves. Redone when a
# version changes.
UTRECHT_CSS_VERSION := 9.0.4
VOORBEELD_TOKENS_VERSION := 7.4.1
AXE_CORE_VERSION := 4.14.1
PAGES_NPM := .tools/pages
PAGES_STATIC := api/pages/static/nlds
PAGES_STAMP := $(PAGES_STATIC)/.installed-$(UTRECHT_CSS_VERSION)-$(VOORBEELD_TOKENS_VERSION)-$(AXE_CORE_VERSION)

$(PAGES_STAMP):
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "npm is missing (needed for the pages' CSS): run 'sudo apt-get install -y npm'" >&2; exit 1; \
	  fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm; \
	fi
	rm -rf $(PAGES_NPM) $(PAGES_STATIC)
	npm install --prefix $(PAGES_NPM) --save-exact --no-audit --no-fund --loglevel=error \
	  @utrecht/component-library-css@$(UTRECHT_CSS_VERSION) \
	  @nl-design-system-unstable/voorbeeld-design-tokens@$(VOORBEELD_TOKENS_VERSION) \
	  axe-core@$(AXE_CORE_VERSION)
	mkdir -p $(PAGES_STATIC)
	cp $(PAGES_NPM)/node_modules/@utrecht/component-library-css/dist/index.css $(PAGES_STATIC)/index.css
	cp $(PAGES_NPM)/node_modules/@nl-design-system-unstable/voorbeeld-design-tokens/dist/theme.css \
	  $(PAGES_STATIC)/theme.css
	@touch $@

pages-assets: $(PAGES_STAMP)

# The browser tests drive Debian's Chromium (Playwright's own download is unavailable here).
chromium:
	@test -x /usr/lib/chromium/chromium || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || { echo "Chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1; }

# docs/screenshots/*.png: every page, on the demo, in Chromium (tests/pages/screenshots.py).
screenshots: install chromium
	$(BIN)/python tests/pages/screenshots.py docs/screenshots

# Debian's PostgreSQL puts its server binaries in /usr/lib/postgresql/<major>/bin.
postgres-binaries:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "PostgreSQL server binaries are missing: run 'sudo apt-get install -y postgresql'" >&2; exit 1; \
	  fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	fi

# Checks that need files from outside the repository: the shared folder beside it (../shared,
# always there in CI) holds the Logius ruleset now and the OCDS schema later. A fresh clone
# without it still passes `make test`: each such check it cannot run prints one line
# `skipped: <check> (<file> not found)`, and the project's own tests cover what they can
# (tests/api/test_nlgov_rules.py checks the NLGov rules on the OpenAPI document). In CI
# (CI=true) a missing shared file is an error, so CI never skips silently.
SHARED := ../shared
ADR_RULESET := $(SHARED)/adr/linter.yaml

# `$(call skip-shared,check,file)`: one line when a shared file is absent; fails under CI.
define skip-shared
@if [ "$${CI:-}" = true ]; then echo "$(1): $(2) not found (CI needs the shared folder beside the repository)" >&2; exit 1; fi
@echo "skipped: $(1) ($(2) not found)"
endef

# Spectral (the OpenAPI linter) from the npm registry at a pinned version into the git-ignored
# .tools/, reinstalled only when the version changes; `spectral` is the target any ruleset
# (Logius here, others later) depends on, and only checks that will run pull it (and npm) in.
SPECTRAL_VERSION := 6.16.3
SPECTRAL_DIR := .tools/spectral
SPECTRAL := $(SPECTRAL_DIR)/node_modules/.bin/spectral
SPECTRAL_STAMP := $(SPECTRAL_DIR)/.installed-$(SPECTRAL_VERSION)

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

spectral: $(SPECTRAL_STAMP)

# The OpenAPI document the service serves, written once per run for the linters.
OPENAPI_JSON := .tools/openapi.json

openapi-json: install
	@mkdir -p .tools
	$(BIN)/python tests/tools/dump_openapi.py $(OPENAPI_JSON)

# The Logius linter (NLGov REST API Design Rules) on that document; any error fails the build.
ifneq ($(wildcard $(ADR_RULESET)),)
lint-openapi: spectral openapi-json
	$(SPECTRAL) lint -r $(ADR_RULESET) $(OPENAPI_JSON) --fail-severity error
else
lint-openapi:
	$(call skip-shared,NLGov Logius ruleset,$(ADR_RULESET))
endif

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

lint-owasp: spectral $(OWASP_STAMP) openapi-json
	$(SPECTRAL) lint -r tests/tools/owasp-ruleset.yaml $(OPENAPI_JSON) --fail-severity error \
	  --display-only-failures

# A throwaway cluster in a temp dir runs for the pytest session only; tests/support/pgcluster.py
# stops it even when tests fail, and fails the run if PostgreSQL cannot start.
test: install postgres-binaries chromium lint lint-openapi lint-owasp
	$(BIN)/python tests/support/pgcluster.py run -- $(BIN)/pytest -n 2 -m "not soak"

# Tests longer than a minute (marked `soak`, wherever they live), never part of `make test`:
# schemathesis' ≥ 3,000 requests against the live server, and a fresh clone of HEAD (without
# ../shared) running `make run` and `make test` (tests/e2e/test_fresh_clone.py).
soak: install postgres-binaries
	$(BIN)/python tests/support/pgcluster.py run -- $(BIN)/pytest -m soak

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

# P13 (issue 14): a store of 1,000,000 events over 2,000 contracts against a fresh one, the full
# rebuild, and two server processes on one cluster (bench/scale.py; ~30 min, docs/SCALING.md).
bench-scale: install postgres-binaries wrk
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
