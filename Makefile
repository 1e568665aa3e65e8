# Wachter: two commands on a fresh machine.
#   make run    create .venv, install, migrate the embedded database, start on 127.0.0.1:8080
#   make test   install test tools, start what the tests need, run every gate and test
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
CATALOGS := $(wildcard web/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
SOURCE_PACKAGES := core storage access_control ingest detection_rules incidents staff_safety web wachter

.PHONY: help run test test-long bench install install-test lint typecheck imports security-lint pytest translations constraints clean

help:
	@echo "make run    start Wachter on http://127.0.0.1:8080 (first run creates .venv and ./var)"
	@echo "make test   run ruff, mypy, the import contract, bandit and the whole test suite"
	@echo "make test-long  the minutes-long reliability runs: overload (2 min), search outage, soak (30 min)"

run: install
	$(BIN)/wachter serve

test: install-test
	bash scripts/ensure-postgres
	bash scripts/ensure-chromium
	bash scripts/ensure-rsyslog
	bash scripts/ensure-search-nodes
	$(MAKE) --no-print-directory lint typecheck imports security-lint pytest

# Marker `long` (excluded from `make test`): .ci/run runs it as a step of its own, so the
# suite stays well under 15 minutes. WACHTER_OVERLOAD_SECONDS and WACHTER_SOAK_MINUTES
# shorten them for a try; the figures land in tests/reliability/figures/.
test-long: install-test
	bash scripts/ensure-search-nodes
	$(BIN)/pytest -m long --numprocesses=0 -s

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Wachter needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]'
	@touch $@

web/translations/%/LC_MESSAGES/messages.mo: web/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel -q compile -i $< -o $@

install: $(VENV)/.installed $(COMPILED)

install-test: $(VENV)/.installed-test $(COMPILED)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

# bandit over the product's code: any high-severity finding fails the build. Medium and low
# ones are ruff's S rules too, each waived in place with its reason (docs/reliability.md).
security-lint:
	$(BIN)/bandit -q -r $(SOURCE_PACKAGES) --severity-level high

# Two worker processes halve the suite's time; each has its own PostgreSQL cluster and
# temporary directories. PYTEST_WORKERS=0 runs it in one process (easier to debug).
PYTEST_WORKERS ?= 2
pytest:
	$(BIN)/pytest --numprocesses=$(PYTEST_WORKERS)

# Benchmarks (not part of make test): figures go into bench/README.md.
bench: install-test
	$(BIN)/python bench/ingest/run.py
	$(MAKE) --no-print-directory bench-detect

# Detection against the Zircolite approach; a module run, so that bench.detect.* import each other.
.PHONY: bench-detect
bench-detect: install-test
	$(BIN)/python -m bench.detect.run

# The console under load: 20 officers on a real `wachter serve` with 1M events (bench/console).
.PHONY: bench-console
bench-console: install-test
	$(BIN)/python -m bench.console.run

# Extract strings from the code, merge them into every catalogue, compile.
translations: install
	$(BIN)/pybabel -q extract -F web/babel.cfg -k _l -k N_ --project=Wachter -o web/translations/messages.pot $(SOURCE_PACKAGES)
	$(BIN)/pybabel -q update -i web/translations/messages.pot -d web/translations --no-fuzzy-matching
	rm -f web/translations/messages.pot
	$(MAKE) --no-print-directory $(COMPILED)

constraints: install-test
	{ echo "# Exact versions for reproducible installs (make uses: pip install -c constraints.txt)."; \
	  echo "# Regenerate with: make constraints"; \
	  $(BIN)/pip freeze --exclude-editable | grep -vi '^wachter' | sort -f; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache $(COMPILED)
