# Patron: `make run` serves on the embedded SQLite store, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench schema clean

# `make bench` passes ARGS to `python -m bench`: make bench ARGS="--peer vendure --stores sqlite".
# make takes `--peer` for one of its own options, so the bare `make bench --peer vendure` cannot
# work; after `--` the words are handed on too: make bench -- --peer vendure --contacts 2000.
ARGS ?=
ifeq (bench,$(firstword $(MAKECMDGOALS)))
BENCH_GOALS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
ifneq ($(BENCH_GOALS),)
$(eval $(BENCH_GOALS):;@:)
endif
endif

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PATRON_ACCESS_LOG=$${PATRON_ACCESS_LOG:-true} $(BIN)/patron serve

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS) $(BENCH_GOALS)

schema: $(STAMP)
	$(BIN)/patron schema > schema/native.graphql

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
