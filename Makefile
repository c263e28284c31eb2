# llmplan developer commands. `make install` creates .venv; every other target depends on it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: fuzz mutate install test test-all test-ray lint typecheck fmt bench examples demo goldens golden schema clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## The quick suite (what CI runs): everything but slow solves and benchmarks, one pytest-xdist worker per core
## (each module's tests stay on one worker, so a module's fixtures are built once).
test: install
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -n auto --dist loadscope -m "not slow and not bench and not ray and not fuzz"

## Everything, including slow solves (not benchmarks).
test-all: install
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -n auto --dist loadscope -m "not bench and not ray and not fuzz"

## The Ray executor's tests: installs the optional extra (llmplan[ray]) and starts Ray in-process (2 CPUs).
test-ray: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,ray]'
	MPLBACKEND=Agg $(BIN)/python -m pytest -q -m ray -p no:cacheprovider

## Ruff (lint and format check) and mypy, strict on planner/ (what CI runs).
lint: install
	$(BIN)/ruff check planner tests scripts
	$(BIN)/ruff format --check planner tests scripts
	$(BIN)/mypy

## mypy alone, strict on planner/ (configured in pyproject.toml [tool.mypy]).
typecheck: install
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format planner tests scripts
	$(BIN)/ruff check --fix planner tests scripts

## Benchmarks: every documented figure (tests/bench/figures.py) re-measured and asserted, time and memory as ratios to
## a reference workload; issue targets not met yet are strict xfails (docs/testing.md). Prints the measured figures.
bench: install
	MPLBACKEND=Agg $(BIN)/python -m pytest -m bench tests/bench -q -s -p no:cacheprovider

## The fuzz suite: 10,000 generated hostile inputs in-process (FUZZ_CASES / FUZZ_SEED to change); prints the figures.
fuzz: install
	MPLBACKEND=Agg $(BIN)/python -m pytest -m fuzz tests/fuzz -q -s -p no:cacheprovider

## Mutation testing (mutmut) of the modules that decide correctness, one at a time against the unit tests that cover
## each, one worker under nice; prints the score table docs/testing.md records. MUTATE=helix-bounds runs one module.
mutate: install
	nice -n 10 $(BIN)/python scripts/mutate.py $(MUTATE)

## Run every shipped spec end to end through its solver.
examples: install
	MPLBACKEND=Agg $(BIN)/python scripts/run_examples.py

## A real plan on a shipped example.
demo: install
	$(BIN)/plan helix cluster_specs/helix-single24-llama2-70b.yaml --time-limit 30

## Rewrite the golden plans under tests/golden (review the diff before committing).
goldens golden: install
	MPLBACKEND=Agg $(BIN)/python scripts/update_goldens.py

## Regenerate the shipped JSON Schema of the plan document.
schema: install
	$(BIN)/plan schema > planner/schemas/plan.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
