# `make run` and `make test` work from a clean clone: each creates .venv when missing
# and installs the project (with its pinned dependency ranges) into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint types pytest install browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/specialistly db upgrade
	$(BIN)/specialistly serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy

# Browser tests drive Debian's chromium (never a downloaded browser); as root, install it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is missing and this is not root: browser tests will skip"; fi; }

pytest: $(STAMP)
	$(BIN)/pytest

test: lint types browser pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
