# Two commands for a fresh clone with nothing but Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint bench bench-db clean

$(BIN)/qmsflow: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/qmsflow

# The main job: validate every bundled definition set, run every bundled scenario, then bring
# the database up to date, publish the default set and verify the audit trail.
run: setup
	$(BIN)/qmsflow validate definitions/default definitions/examples/*/
	$(BIN)/qmsflow simulate --quiet scenarios
	$(BIN)/qmsflow db upgrade
	$(BIN)/qmsflow definitions publish definitions/default
	$(BIN)/qmsflow audit verify

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n auto

bench: setup
	$(BIN)/python bench/compile_bench.py

# Needs the PostgreSQL server on 127.0.0.1:5432; seeds 1,000,000 cases (a few minutes).
bench-db: setup
	$(BIN)/python bench/seed.py --fresh
	$(BIN)/python bench/persistence_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
