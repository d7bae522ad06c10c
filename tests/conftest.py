"""Shared fixtures: a real HTTP server on 127.0.0.1 serving fixture pages, real config files,
real SQLite, and a real PostgreSQL cluster for the modules marked `both_databases`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.pgcluster import PostgresCluster
from feedsvc.config import Config, load
from feedsvc.cycle import run_cycle, targets
from feedsvc.ingest import SourceReport, make_fetcher
from feedsvc.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
TOPIC_PATH = "/topics/security-cooperation.html"
ROBOTS_PATH = "/robots.txt"
# Politeness that costs no test time: no pause between requests, retries almost at once.
FAST_INGEST = "host_delay_seconds = 0\nbackoff_seconds = 0.01\n"
SQLITE_URL = "sqlite:///var/feedsvc.sqlite3"  # relative to the config file


def page(name: str) -> bytes:
    """A fixture page's bytes."""
    return (PAGES / name).read_bytes()


def expected(name: str) -> list[dict]:
    """A fixture page's expected items, written by hand from the seed capture."""
    return json.loads((PAGES / name).read_text(encoding="utf-8"))


@dataclass
class Reply:
    """What the fixture server answers for a path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"}
    )


def send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """Answer a request with a Reply, its length announced."""
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    handler.wfile.write(reply.body)


class PageServer:
    """A threaded HTTP server on 127.0.0.1; tests set what each path answers and read the request log.

    `requests` logs page requests; the fetcher's visits to /robots.txt (404 unless a
    test serves one) are logged in `robots_requests` instead. `history` has the
    monotonic time and path of every request, robots.txt included.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Callable[[BaseHTTPRequestHandler], None]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.robots_requests: list[tuple[str, dict[str, str]]] = []
        self.history: list[tuple[float, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.history.append((time.monotonic(), self.path))
                log = server.robots_requests if self.path == ROBOTS_PATH else server.requests
                log.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path)
                if callable(route):
                    route(self)
                    return
                send(self, route or Reply(b"not found", 404, {"Content-Type": "text/plain"}))

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes, **kwargs: object) -> None:
        self.routes[path] = Reply(body, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[PageServer]:
    srv = PageServer()
    yield srv
    srv.close()


def write_config(
    tmp_path: Path,
    source_url: str,
    extra: str = "",
    source_extra: str = "",
    database: str = SQLITE_URL,
) -> Path:
    """A real config.toml in a temp folder, with one topic reading `source_url` with the preset."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
database = "{database}"
base_url = "http://feeds.test"

[ingest]
interval_minutes = 30
timeout_seconds = 5
{FAST_INGEST}{extra}
[[topics]]
slug = "security-cooperation"
title = "Security Cooperation"

  [[topics.sources]]
  url = "{source_url}"
  preset = "rand-topic"
  {source_extra}
""",
        encoding="utf-8",
    )
    return path


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
