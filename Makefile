# feedsvc: `make run` serves the default config on SQLite; `make test` runs every test.
# Both create the virtual environment in .venv and install feedsvc into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser run test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[test]'
	touch $@

run: install
	$(BIN)/feedsvc serve

# The browser tests need Debian's chromium: installed here when missing and we are root,
# otherwise those tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
			|| echo "chromium could not be installed: the browser tests will skip"; \
	fi

test: install browser
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
