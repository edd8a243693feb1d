# Two set-up commands (README): `make run` and `make test`. Every target creates or reuses .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt requirements-layer-nodeps.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
ENV ?= dev
PROJECT ?= ql-algo-trading
PROFILE ?= default
PYTEST_ARGS ?=
# Deployment inputs (required for staging and production, docs/operations.md), e.g.
# SYNTH_ARGS="-c alarm_emails=ops@firm.in -c cors_allowed_origins=https://app.firm.in"
# DEPLOY_ARGS="--alarm-email ops@firm.in --cors-origin https://app.firm.in"
SYNTH_ARGS ?=
DEPLOY_ARGS ?=
DATE ?= 2026-11-23
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell test "$$(id -u)" -eq 0 || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Bytecode goes to one cache outside the source tree (no __pycache__ next to the code or in the
# Lambda asset), written by the first process that imports a module and reused by every later one;
# pip installs without compiling (half of a fresh venv's set-up time), the first import does it.
export PYTHONPYCACHEPREFIX := $(CURDIR)/.build/pycache
# A shell that sets PYTHONDONTWRITEBYTECODE would make every test subprocess and the 40-odd
# interpreters of the suite compile the whole dependency tree again: the cache is the point.
unexport PYTHONDONTWRITEBYTECODE
export CHROMIUM

.PHONY: venv browser run test test-all date-shift lint format typecheck synth build deploy bench simulate backtest clean

$(STAMP): requirements.txt requirements-dev.txt requirements-layer-nodeps.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -r requirements-dev.txt
	# As in the Lambda layer: without their declared dependencies (requirements-layer-nodeps.txt).
	$(BIN)/python -m pip install -q --no-compile --no-deps -r requirements-layer-nodeps.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy shared_utils lambda_functions local_platform

build: venv
	$(BIN)/python -m cdk_stack.assets
	# The console (console/): no dependencies, from its committed lockfile; hashed files in .build/console.
	cd console && { npm ci --no-audit --no-fund --offline --prefer-offline || npm ci --no-audit --no-fund; }
	node console/build.mjs

synth: build
	$(BIN)/python app.py --env $(ENV) -c project=$(PROJECT) $(SYNTH_ARGS)

# Headless Chromium for tests/e2e/test_browser.py, from Debian's packages (the lists are
# refreshed only if the first install fails). No browser means a failed run, never a skipped test.
browser:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests ..."; \
	  $(APT_INSTALL) || { $(SUDO) apt-get update -q && $(APT_INSTALL); }; }; \
	test -x $(CHROMIUM) || { echo "error: $(CHROMIUM) is missing and Debian's chromium package could not be \
	installed (apt-get install chromium, as root): the browser tests need it" >&2; exit 1; }
	@$(CHROMIUM) --version 2>/dev/null || $(CHROMIUM) --version

# Two lanes, one per core. The first: lint, types, build, browser, then the suite without the
# second lane's tests. The second (needs only the venv): the date-shift guard, then those
# tests (chosen so both lanes end together; none of them needs the build or the browser).
SIDE_TESTS ?= tests/reliability tests/integration/timer \
	tests/integration/execution tests/integration/api/test_contract.py tests/integration/brokers
test: venv
	@mkdir -p .build; start=$$(date +%s); \
	{ $(MAKE) --no-print-directory date-shift DATE_SHIFT_JOBS=1 DATE_SHIFT_INSTANTS="$(TEST_DATE_SHIFT_INSTANTS)"; guard=$$?; \
	  $(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider $(SIDE_TESTS) $(PYTEST_ARGS); side=$$?; \
	  echo "second lane: $$(( $$(date +%s) - start )) s"; \
	  test $$guard -eq 0 -a $$side -eq 0; } > .build/side-lane.log 2>&1 & lane=$$!; \
	$(MAKE) --no-print-directory lint typecheck build browser \
	  && $(BIN)/python -m pytest -m "not slow" $(addprefix --ignore=,$(SIDE_TESTS)) $(PYTEST_ARGS); main=$$?; \
	echo "first lane: $$(( $$(date +%s) - start )) s"; \
	wait $$lane; second=$$?; cat .build/side-lane.log; \
	test $$main -eq 0 -a $$second -eq 0

# The date-shift guard: the tests that run on the platform's clock (the API, the marketplace, the
# timer and the execution routes) again at far-apart instants: a year-end after the close, and a
# leap day in a year without an official holiday list (the main run is the third: 2026-11-25
# 09:30 IST). The suite must pass whatever the machine's date; PLATFORM_NOW sets the tests'
# clock. The schema fuzzing and the Step Functions runs (real waits, fixed past dates) run once,
# in the main run. Alone, the instants run side by side (one per core); beside `make test`'s main
# run, one after the other (DATE_SHIFT_JOBS=1). Each one's output is in .build/date-shift/.
DATE_SHIFT_INSTANTS ?= 2026-12-31T10:15:00Z 2028-02-29T04:30:00Z
# `make test` reruns them at the year-end only (after the close, the next session across the year
# boundary, on a calendar year past the shipped lists); `make date-shift` and `make test-all` at
# both, the leap day included.
TEST_DATE_SHIFT_INSTANTS ?= 2026-12-31T10:15:00Z
DATE_SHIFT_TESTS ?= tests/integration/api tests/integration/marketplace tests/integration/timer \
	tests/integration/execution/test_routes.py
# Not on the platform's clock, so the same at any PLATFORM_NOW: failure injection and tenant
# isolation set no date; the marketplace repository's tests and the execution tests other than
# the routes run their services on a clock of their own, at a fixed instant.
DATE_FREE_TESTS ?= tests/integration/api/test_failures.py tests/integration/api/test_tenant_isolation.py \
	tests/integration/marketplace/test_repository.py
DATE_SHIFT_JOBS ?= 2
date-shift: venv
	@mkdir -p .build/date-shift; pids=""; status=0; \
	for instant in $(DATE_SHIFT_INSTANTS); do \
	  PLATFORM_NOW=$$instant $(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider \
	    -k "not test_contract and not test_state_machine" $(DATE_SHIFT_TESTS) \
	    $(addprefix --ignore=,$(DATE_FREE_TESTS)) $(PYTEST_ARGS) \
	    > .build/date-shift/$$instant.log 2>&1 & pids="$$pids $$!"; \
	  if [ "$(DATE_SHIFT_JOBS)" = 1 ]; then wait $$! || status=1; pids=""; fi; \
	done; \
	for pid in $$pids; do wait $$pid || status=1; done; \
	for instant in $(DATE_SHIFT_INSTANTS); do \
	  echo "== date-shift guard: PLATFORM_NOW=$$instant"; \
	  if [ $$status -ne 0 ]; then cat .build/date-shift/$$instant.log; else tail -n 1 .build/date-shift/$$instant.log; fi; \
	done; \
	exit $$status

test-all: lint typecheck build browser date-shift
	$(BIN)/python -m pytest $(PYTEST_ARGS)

run: venv
	$(BIN)/python -m local_platform run

simulate: venv
	$(BIN)/python -m local_platform simulate --date $(DATE)

FROM ?= 2026-11-02
TO ?= 2026-11-27
STRATEGIES ?=
backtest: venv
	$(BIN)/python -m local_platform backtest --from $(FROM) --to $(TO) $(if $(STRATEGIES),--strategies $(STRATEGIES))

deploy: build
	./deploy.sh -p $(PROJECT) -e $(ENV) -a $(PROFILE) $(DEPLOY_ARGS)

bench: venv
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf .build cdk.out .pytest_cache .mypy_cache .ruff_cache
