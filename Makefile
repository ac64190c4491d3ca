# Two commands on a fresh machine: `make serve` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test check fmt settings-doc lint typecheck unit inner services bench contract clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# torch is an optional extra; the test suite exercises its compile paths and mypy reads its types
# (without torch installed, its ignores would read as unused). torch==2.13.0 is the CPU build on this
# machine's disk (a looser pin would pull a multi-GB CUDA build).
$(VENV)/.torch: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check 'torch==2.13.0'
	touch $@

# dev auth: a local signing key under MLGATE_HOME; the server prints a ready-to-paste token and client config
serve: $(VENV)/.installed
	MLGATE_DEV_AUTH=$${MLGATE_DEV_AUTH:-1} $(VENV)/bin/mlgate serve --http --demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(VENV)/.torch
	$(VENV)/bin/mypy

# PostgreSQL and redis-server for the integration tests, from the distribution when missing (root only)
services:
	./scripts/services.sh

unit: $(VENV)/.installed $(VENV)/.torch services
	$(PY) -m pytest

test: lint typecheck unit

# the inner loop: lint, format, types and the in-process tier (no spawned servers, browsers, Node,
# PostgreSQL or Redis; see the marks in tests/conftest.py)
TIER_OUT := not (subprocess or node or browser or postgres or redis or slow)
# one worker per core (pytest-xdist); tests that share a built registry run on one worker (tests/conftest.py)
inner: $(VENV)/.installed
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -m "$(TIER_OUT)" -p no:cacheprovider -n auto --dist loadgroup

check: lint typecheck inner

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

bench: $(VENV)/.installed
	$(PY) bench/predict_latency.py

contract: $(VENV)/.installed
	$(PY) ../shared/tools/contract_check.py $(VENV)/bin/mlgate

settings-doc: $(VENV)/.installed
	$(PY) -c "from mlgate.config import settings_table; print(settings_table(), end='')" > docs/settings.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
