# feedsvc: `make run` serves the default config on SQLite; `make test` runs every test.
# Both create the virtual environment in .venv and install feedsvc into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[test]'
	touch $@

run: install
	$(BIN)/feedsvc serve

test: install
	$(BIN)/ruff check feedsvc tests
	$(BIN)/ruff format --check feedsvc tests
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check feedsvc tests
	$(BIN)/ruff format --check feedsvc tests

format: install
	$(BIN)/ruff format feedsvc tests
	$(BIN)/ruff check --fix feedsvc tests

clean:
	rm -rf $(VENV) var .pytest_cache
