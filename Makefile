# GTM Copilot — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
UV_VERSION := 0.13.9
UV := $(TOOLS)/bin/uv
# The CPU build of torch 2.13.0 lives in a local wheel folder on these machines; the lock pins
# torch==2.13.0+cpu, which no CUDA index carries, so CUDA packages can never be pulled in.
TORCH_FIND_LINKS ?= /opt/wheels
UV_FLAGS := --python $(VENV)/bin/python $(if $(wildcard $(TORCH_FIND_LINKS)),--find-links $(TORCH_FIND_LINKS),)

.PHONY: install install-dev run test lint lock bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/bin/python: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(VENV)/bin/python
	$(UV) pip sync --quiet $(UV_FLAGS) requirements.lock
	$(UV) pip install --quiet $(UV_FLAGS) --no-deps -e .
	@rm -f $(VENV)/.installed-dev
	@touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(VENV)/bin/python
	$(UV) pip sync --quiet $(UV_FLAGS) requirements-dev.lock
	$(UV) pip install --quiet $(UV_FLAGS) --no-deps -e .
	@touch $(VENV)/.installed $@

## install: the runtime environment in .venv/ (gtm lands in .venv/bin/)
install: $(VENV)/.installed

## install-dev: runtime + test and lint tools
install-dev: $(VENV)/.installed-dev

# Bytecode is written even where the environment sets PYTHONDONTWRITEBYTECODE: without .pyc files every
# process compiles torch, transformers and langchain again (measured: 25 s to import them, 10 s with bytecode),
# and the suite starts dozens of them (servers, `gtm setup`, CLI tests).
PY_ENV := env -u PYTHONDONTWRITEBYTECODE

## run: install if needed, seed demo data, ingest the knowledge base, start the app
run: install
	$(PY_ENV) $(VENV)/bin/gtm setup
	$(PY_ENV) $(VENV)/bin/gtm serve

## test: install if needed, run the whole suite
test: install-dev
	$(PY_ENV) $(VENV)/bin/python -m pytest

lint: install-dev
	$(VENV)/bin/ruff check app graph tests bench
	$(VENV)/bin/ruff format --check app graph tests bench
	$(VENV)/bin/mypy app graph

## lock: re-resolve the pinned lock files from pyproject.toml
lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 $(if $(wildcard $(TORCH_FIND_LINKS)),--find-links $(TORCH_FIND_LINKS),) pyproject.toml -o requirements.lock
	$(UV) pip compile --quiet --python-version 3.11 $(if $(wildcard $(TORCH_FIND_LINKS)),--find-links $(TORCH_FIND_LINKS),) --group dev pyproject.toml -o requirements-dev.lock

## bench: latency, accuracy and throughput benchmarks (print figures; never part of the tests)
bench: install-dev
	$(VENV)/bin/python bench/bench_graph.py
	$(VENV)/bin/python bench/bench_routing.py
	$(VENV)/bin/python bench/eval_routing.py
	$(VENV)/bin/python bench/bench_analytics.py
	$(VENV)/bin/python bench/eval_support.py

clean:
	rm -rf $(VENV) $(TOOLS) .gtm
