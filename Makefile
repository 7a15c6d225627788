# `make run` and `make test` work from a clean clone: each creates .venv when missing and installs
# from a lock file with exact versions and hashes: `make run` only what serving needs
# (requirements.txt), `make test` that and the test tools (requirements-dev.txt); the project
# itself goes in editable, without dependencies. `make lock` regenerates both from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LOCK_FLAGS ?=
LOCK := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_FLAGS)

.PHONY: run test lint types pytest install install-run lock browser clean

$(RUN_STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

# The dev lock holds every runtime pin too (a test checks), so it also stands for `make run`.
$(DEV_STAMP): requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements-dev.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@ $(RUN_STAMP)

install: $(DEV_STAMP)

install-run: $(RUN_STAMP)

lock: $(DEV_STAMP)
	$(LOCK) -o requirements.txt pyproject.toml
	$(LOCK) --extra dev -o requirements-dev.txt pyproject.toml

run: $(RUN_STAMP)
	$(BIN)/specialistly db upgrade
	$(BIN)/specialistly serve

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(DEV_STAMP)
	$(BIN)/mypy

# Browser tests drive Debian's chromium (never a downloaded browser); as root, install it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is missing and this is not root: browser tests will skip"; fi; }

pytest: $(DEV_STAMP)
	$(BIN)/pytest

test: lint types browser pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
