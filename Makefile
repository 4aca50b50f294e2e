# Two commands for a fresh clone with nothing but Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

# Debian packages the tests need: Chromium for the browser tests (never a downloaded browser)
# a CJK font for PDFs in Chinese, and HarfBuzz-Subset, which WeasyPrint 70 wants for font
# subsetting (it warns without it; the tests turn warnings into errors). Installed when missing
# (as root, or through sudo).
SYSTEM_PACKAGES := chromium fonts-wqy-zenhei libharfbuzz-subset0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system run test check lint bench bench-db bench-web bench-sweep bench-writers bench-engine bench-hostile translations clean

$(BIN)/qmsflow: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/qmsflow

system:
	@missing=""; for package in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The main job: validate every bundled definition set and run every bundled scenario, then set
# up the SQLite database in instance/ with the default definitions and demo data (one user per
# role, cases in every state), run the deadline sweep, count the notifications waiting, verify
# the audit trail, and serve the web application: the URL
# and the logins are printed. Stop the server with Ctrl+C.
run: setup
	$(BIN)/qmsflow validate definitions/default definitions/examples/*/
	$(BIN)/qmsflow simulate --quiet scenarios
	$(BIN)/qmsflow demo --no-serve
	$(BIN)/qmsflow sweep
	$(BIN)/qmsflow outbox status
	$(BIN)/qmsflow audit verify
	$(BIN)/qmsflow demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint system
	$(BIN)/pytest -n auto

# The fast loop while working: the same lint and type check, then every test not marked
# @pytest.mark.slow (those take more than a few seconds each). `make test` still runs them all.
check: lint system
	$(BIN)/pytest -n auto -m "not slow"

bench: setup
	$(BIN)/python bench/compile_bench.py

# A request with 1e999999 or a 200,000-digit number against a normal one (SQLite, no server).
bench-hostile: setup
	$(BIN)/python bench/hostile_number_bench.py

# Needs the PostgreSQL server on 127.0.0.1:5432; seeds 1,000,000 cases (a few minutes).
bench-db: setup
	$(BIN)/python bench/seed.py --fresh
	$(BIN)/python bench/persistence_bench.py

# The engine in memory through a whole complaint, against a minimal state machine.
bench-engine: setup
	$(BIN)/python bench/engine_bench.py

# Needs the database seeded by bench-db: steps/s with 1, 2, 4 and 8 writers on their own cases.
bench-writers: setup
	$(BIN)/python bench/writers_bench.py

# Needs wrk (Debian package, installed when missing) and the database seeded by bench-db.
bench-web: setup
	@command -v wrk >/dev/null || $(MAKE) system SYSTEM_PACKAGES=wrk
	$(BIN)/python bench/web_bench.py

# Needs the database seeded by bench-db: the monthly complaint report through qmsflow against
# the same aggregate in hand-written SQL (the last line is their ratio).
bench-reports: setup
	$(BIN)/python bench/report_bench.py

# Needs the database seeded by bench-db (left as it is: the sweep runs on a copy, dropped after).
bench-sweep: setup
	$(BIN)/python bench/sweep_bench.py

# Re-extract the UI strings, merge them into each catalog, compile (commit the .po and .mo).
translations: setup
	$(BIN)/pybabel extract --no-location --sort-output -F web/babel.cfg -o web/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i web/translations/messages.pot -d web/translations -l zh_Hans_CN
	$(BIN)/pybabel compile --statistics -d web/translations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
