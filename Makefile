# feedsvc: `make run` serves the default config on SQLite; `make test` runs every test.
# Both create the virtual environment in .venv and install feedsvc into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench bench-load clean

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

# 60 s, 200 connections against `feedsvc serve` while ingests run every 3 s (bench/load.py);
# wrk drives the load when installed (apt-get install wrk, done here when run as root).
bench-load: install
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || apt-get install -y -q wrk >/dev/null \
		|| echo "wrk unavailable: the Python client drives the load"
	$(BIN)/python bench/load.py --seconds 60 --connections 200

clean:
	rm -rf $(VENV) var .pytest_cache
