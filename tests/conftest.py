"""Shared fixtures: a real HTTP server on 127.0.0.1 serving fixture pages, real config files, real SQLite.

The server, the config writer and the ports live in tests/support/ (the benchmarks use them
too); they are imported here so that `from conftest import PageServer, write_config` works.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from feedsvc.config import Config, load
from feedsvc.cycle import run_cycle, targets
from feedsvc.ingest import SourceReport, make_fetcher
from feedsvc.store import Store
from tests.support.config import FAST_INGEST, write_config
from tests.support.pages import ROBOTS_PATH, PageServer, Reply, send

__all__ = ["FAST_INGEST", "ROBOTS_PATH", "PageServer", "Reply", "send", "write_config"]

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
TOPIC_PATH = "/topics/security-cooperation.html"


def page(name: str) -> bytes:
    """A fixture page's bytes."""
    return (PAGES / name).read_bytes()


def expected(name: str) -> list[dict]:
    """A fixture page's expected items, written by hand from the seed capture."""
    return json.loads((PAGES / name).read_text(encoding="utf-8"))


@pytest.fixture
def server() -> Iterator[PageServer]:
    srv = PageServer()
    yield srv
    srv.close()


@pytest.fixture
def config(tmp_path: Path, server: PageServer) -> Config:
    """A config whose one source is the fixture server's topic page (2015 capture to start)."""
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    return load(write_config(tmp_path, server.url(TOPIC_PATH)))


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    st = Store(config.service.database)
    st.create_schema()
    yield st
    st.close()


@pytest.fixture
def run_ingest(store: Store, config: Config) -> Callable[[], list[SourceReport]]:
    """Run one real ingest pass (fetch over HTTP, store in SQLite, render) and return its reports."""

    def run() -> list[SourceReport]:
        fetcher = make_fetcher(config)
        try:
            return run_cycle(store, fetcher, config, targets(config))
        finally:
            fetcher.close()

    return run
