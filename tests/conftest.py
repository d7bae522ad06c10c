"""Shared fixtures: a real HTTP server on 127.0.0.1 serving fixture pages, real config files,
real SQLite, and a real PostgreSQL cluster for the modules marked `both_databases`.

The server, the config writer, the ports and the cluster live in tests/support/ (the
benchmarks use them too); they are imported here so that `from conftest import
PageServer, write_config` works.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.source import SourceReport
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store
from tests.support.config import FAST_INGEST, write_config
from tests.support.net import Tripwire
from tests.support.pages import ROBOTS_PATH, PageServer, Reply, send
from tests.support.pgcluster import PostgresCluster

__all__ = ["FAST_INGEST", "ROBOTS_PATH", "PageServer", "Reply", "send", "write_config"]

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
TOPIC_PATH = "/topics/security-cooperation.html"
SQLITE_URL = "sqlite:///var/feedsvc.sqlite3"  # relative to the config file


def page(name: str) -> bytes:
    """A fixture page's bytes."""
    return (PAGES / name).read_bytes()


def expected(name: str) -> list[dict]:
    """A fixture page's expected items, written by hand from the seed capture."""
    return json.loads((PAGES / name).read_text(encoding="utf-8"))


TRIPWIRE = Tripwire()
TRIPWIRE.install()  # at import, before any test or fixture can open a connection


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[None]:
    """Every test fails when it tried to connect off this host or to look a name up."""
    before = len(TRIPWIRE.attempts)
    yield
    tried = TRIPWIRE.attempts[before:]
    assert not tried, f"the test tried to leave 127.0.0.1: {tried}"


@pytest.fixture
def server() -> Iterator[PageServer]:
    srv = PageServer()
    yield srv
    srv.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of a module marked `both_databases` run once on SQLite, once on PostgreSQL."""
    if "database_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_databases"
    ):
        metafunc.parametrize("database_kind", ["sqlite", "postgresql"])


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole run (initdb + pg_ctl, fsync off)."""
    try:
        cluster = PostgresCluster()
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL cluster: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def database_kind() -> str:
    """SQLite, unless the module is marked `both_databases` (then both, in turn)."""
    return "sqlite"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database_kind: str) -> str:
    """The store's URL: SQLite beside the config, or a fresh PostgreSQL database per test."""
    if database_kind == "sqlite":
        return SQLITE_URL
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


@pytest.fixture
def config(tmp_path: Path, server: PageServer, database_url: str) -> Config:
    """A config whose one source is the fixture server's topic page (2015 capture to start)."""
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    return load(write_config(tmp_path, server.url(TOPIC_PATH), database=database_url))


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
