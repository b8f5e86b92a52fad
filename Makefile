# nonlinbench: `make bench` and `make test` are all a fresh clone needs.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv test test-slow lint format bench perf clean

help: ## show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

# pip's --no-compile skips byte-compiling all of torch (26 s of a 41 s install on 2 cores);
# bench.engine.warm then imports what the commands use with bytecode writing on (so only those
# modules get .pyc files) and compiles the fused kernel into Numba's cache on both cores.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -c constraints.txt -e '.[dev,distributed]'
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m bench.engine.warm
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install nonlinbench (editable, dev + distributed extras)

test: $(STAMP) ## run the test suite (excludes tests marked slow)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP) ## run only the slow tests (e.g. the scikit-learn cross-check)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## run the default and real grids, then write reports/default and reports/real
	$(BIN)/nonlinbench run --grid default
	$(BIN)/nonlinbench report --grid default
	$(BIN)/nonlinbench run --grid real
	$(BIN)/nonlinbench report --grid real

perf: $(STAMP) ## benchmark the engine against the notebook loop and scikit-learn
	$(BIN)/nonlinbench perf --out results/perf

clean: ## remove the venv, caches and generated results (not the committed reports)
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find results -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
