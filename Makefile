# feedsvc: `make run` serves the default config on SQLite; `make test` runs every test;
# `make bench` measures serving, ingest and rendering and rewrites docs/benchmarks.md.
# Each creates the virtual environment in .venv and installs feedsvc into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser tools postgres run test lint format bench bench-load bench-cluster clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[test,postgres]'
	touch $@

# nginx with Debian's Lua module (the static tier in deploy/) and wrk (the load generator):
# installed with apt-get when missing and run as root; else the static-tier test is skipped.
tools:
	@if command -v nginx >/dev/null && command -v wrk >/dev/null \
	    && [ -e /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq nginx libnginx-mod-http-lua wrk >/dev/null; \
	else \
	    echo "make: nginx, libnginx-mod-http-lua or wrk is missing (install needs root and apt-get)"; \
	fi

# PostgreSQL server binaries (initdb, pg_ctl): the tests start a throwaway cluster with them.
# Installed with apt-get when missing and run as root; else the PostgreSQL tests skip.
postgres:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get -o DPkg::Lock::Timeout=900 install -y -qq postgresql >/dev/null \
	    || echo "make: postgresql could not be installed: the PostgreSQL tests will skip"; \
	else \
	    echo "make: PostgreSQL is missing (install needs root and apt-get): its tests will skip"; \
	fi

run: install
	$(BIN)/feedsvc serve

# The browser tests need Debian's chromium: installed here when missing and we are root,
# otherwise those tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
			|| echo "chromium could not be installed: the browser tests will skip"; \
	fi

test: install browser tools postgres
	$(BIN)/ruff check feedsvc tests bench
	$(BIN)/ruff format --check feedsvc tests bench
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check feedsvc tests bench
	$(BIN)/ruff format --check feedsvc tests bench

format: install
	$(BIN)/ruff format feedsvc tests bench
	$(BIN)/ruff check --fix feedsvc tests bench

bench: install tools
	$(BIN)/python -m bench.run

# 60 s, 200 connections against `feedsvc serve` while ingests run every 3 s (bench/load.py);
# wrk drives the load when installed (apt-get install wrk, done here when run as root).
bench-load: install tools
	$(BIN)/python bench/load.py --seconds 60 --connections 200

# Two hosts on one throwaway PostgreSQL (bench/cluster.py): failover and cross-host
# invalidation times under load, and PostgreSQL against SQLite (ingest, cached feed req/s);
# rewrites the bench-cluster section of docs/benchmarks.md.
bench-cluster: install tools postgres
	$(BIN)/python -m bench.cluster_run --rounds 5 --seconds 10

clean:
	rm -rf $(VENV) var .pytest_cache
