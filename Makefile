# Quick start: `make run` and `make test` from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The shared real klines when they are beside the clone; otherwise the session's own default applies
# (the data directory when it holds data, else the synthetic market).
DATA_DIR ?= $(firstword $(wildcard ../shared/data/klines))
DATA_FLAG = $(if $(DATA_DIR),--data $(DATA_DIR))

.PHONY: run test lint typecheck pytest sandbox bench soak clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) main.py run $(DATA_FLAG)

sandbox: $(STAMP)
	$(PY) main.py sandbox --port 8700 $(DATA_FLAG)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	CASINO_DATA_DIR=$(DATA_DIR) $(VENV)/bin/pytest -q

test: lint typecheck pytest

# The crash test, longer: SIGKILL a paper session CRASH_ROUNDS times (make test runs 20) and check the
# invariants after every restart.
CRASH_ROUNDS ?= 80
soak: $(STAMP)
	CASINO_DATA_DIR=$(DATA_DIR) CASINO_CRASH_ROUNDS=$(CRASH_ROUNDS) $(VENV)/bin/pytest -q -s tests/test_crash_session.py

bench: $(STAMP)
	$(PY) -m bench.sandbox_throughput

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
