# feedsvc: `make run` serves the default config on SQLite; `make demo` serves two bundled
# captures offline; `make test` runs every test;
# `make bench` measures serving, ingest and rendering and rewrites docs/benchmarks.md;
# `make docs` writes docs/cli.md and the walk in docs/adding-a-site.md from real runs.
# Each creates the virtual environment in .venv and installs feedsvc into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser socks tools consumers postgres run demo test lint format docs bench bench-search bench-load bench-cluster bench-discover bench-ingest clean

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

# Offline first run: serves the two bundled captures of the institute's page from 127.0.0.1,
# ingests 2015 then 2024, and serves the feeds with the scheduler; writes only under var/demo/.
demo: install
	$(BIN)/feedsvc demo

# The browser tests need Debian's chromium: installed here when missing and we are root,
# otherwise those tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
			|| echo "chromium could not be installed: the browser tests will skip"; \
	fi

# The SOCKS5 proxy tests (tests/test_socks_proxy.py) relay through Debian's microsocks:
# installed when missing and we are root; else those tests skip.
socks:
	@if command -v microsocks >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get -o DPkg::Lock::Timeout=900 install -y -qq microsocks >/dev/null) \
	        || echo "microsocks could not be installed: the SOCKS proxy tests will skip"; \
	else \
	    echo "make: microsocks is missing (install needs root and apt-get)"; \
	fi

# The feed consumers the consumer matrix drives (tests/test_consumers.py): Debian's
# rss2email, newsboat and sfeed, installed when missing and we are root; else those tests skip.
consumers:
	@if command -v r2e >/dev/null && command -v newsboat >/dev/null && command -v sfeed >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get -o DPkg::Lock::Timeout=900 install -y -qq rss2email newsboat sfeed >/dev/null) \
	        || echo "rss2email, newsboat or sfeed could not be installed: the consumer tests will skip"; \
	else \
	    echo "make: rss2email, newsboat or sfeed is missing (install needs root and apt-get)"; \
	fi

# pytest in two workers, a test file each at a time (module fixtures and servers stay per
# file): most tests wait on servers and subprocesses, so two share the 2 cores well.
test: install browser socks tools consumers postgres
	$(BIN)/ruff check feedsvc tests bench
	$(BIN)/ruff format --check feedsvc tests bench
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=15

lint: install
	$(BIN)/ruff check feedsvc tests bench
	$(BIN)/ruff format --check feedsvc tests bench

format: install
	$(BIN)/ruff format feedsvc tests bench
	$(BIN)/ruff check --fix feedsvc tests bench

# The generated docs: the command reference from the parsers, and the walk on every markup
# family from real runs on 127.0.0.1 (tests/test_docs.py fails when either is out of date).
docs: install
	$(BIN)/python -m feedsvc.cli.reference docs/cli.md
	$(BIN)/python -m tests.support.walk docs/adding-a-site.md

bench: install tools
	$(BIN)/python -m bench.run

# Search latency at 1k/100k/1M items, main-text extraction time, store size per item.
bench-search: install
	$(BIN)/python -m bench.search

# 60 s, 200 connections against `feedsvc serve` while ingests run every 3 s (python -m bench.load);
# wrk drives the load when installed (apt-get install wrk, done here when run as root).
bench-load: install tools
	$(BIN)/python -m bench.load --seconds 60 --connections 200

# discover -> preview -> ingest on every real page of ../shared/realpages (served from
# 127.0.0.1), scored against its labels; skips when the corpus is absent. Rewrites the
# bench-discover section of docs/benchmarks.md.
bench-discover: install
	$(BIN)/python -m bench.discover

# Two hosts on one throwaway PostgreSQL (bench/cluster.py): failover and cross-host
# invalidation times under load, and PostgreSQL against SQLite (ingest, cached feed req/s);
# rewrites the bench-cluster section of docs/benchmarks.md.
bench-cluster: install tools postgres
	$(BIN)/python -m bench.cluster_run --rounds 5 --seconds 10

# One source's cycle at 10, 1,000 and 10,000 sources (unchanged and changed, against 10),
# an interval of 10,000 unchanged sources on one host (against one fetch at a time), the
# same interval on one and on three hosts sharing a PostgreSQL queue (one killed in a further
# run), disk per stored item; rewrites the bench-ingest section of docs/benchmarks.md
# (bench/ingest_scale.py, bench/shared_ingest.py).
bench-ingest: install postgres
	$(BIN)/python -m bench.ingest_scale

clean:
	rm -rf $(VENV) var .pytest_cache
