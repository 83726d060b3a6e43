# Set-up is automatic: every target creates .venv and installs the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONFIG ?= config.toml

.PHONY: test lint demo run bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/ruff format --check bot tests benchmarks
	$(BIN)/mypy
	$(BIN)/triagebot lint --content faq_content

demo: $(STAMP)
	$(BIN)/triagebot demo

run: $(STAMP)
	$(BIN)/triagebot run --config $(CONFIG)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_matching.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
