"""Faults a web server can commit, as PageServer routes: each answers one request badly;
and the Site they are tried on, with the check that nothing stored changed.

A route is a callable taking the request handler, so a fault can do what a well
behaved server never would: reset the connection, stall, drip, cut the body short.
Stalls and drips end early when `release` is set, so closing a server never waits.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import lxml.html
from conftest import TOPIC_PATH, PageServer, Reply, send, write_config
from sqlalchemy import select

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.fetch.dial import Dialer
from feedsvc.ingest.source import SourceReport
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.store.schema import ingest_runs, metadata
from feedsvc.web import create_app

Route = Callable[[BaseHTTPRequestHandler], None]
release = threading.Event()

TOPIC = "security-cooperation"
FEED_PATHS = [
    f"/{key.path}/feed.{fmt}"
    for key in (FeedKey(topic=TOPIC), FeedKey(type="commentary"), FeedKey(TOPIC, "report"))
    for fmt in ("rss", "atom", "json")
]
CAP = 1_000_000
TEN_MB = 10 * 1024 * 1024


def fault_config(tmp_path: Path, url: str, extra: str = "") -> Config:
    """The test config with short timeouts and few attempts, so each fault costs a second."""
    path = write_config(
        tmp_path,
        url,
        extra=f"attempts = 2\nmax_wait_seconds = 3\nmax_bytes = {CAP}\n{extra}",
    )
    path.write_text(path.read_text().replace("timeout_seconds = 5", "timeout_seconds = 0.5"))
    return load(path)


@dataclass
class Site:
    """A source that was ingested once and is about to misbehave."""

    server: PageServer
    config: Config
    store: Store
    dialer: Dialer | None = None  # how names resolve and which addresses are forbidden

    @property
    def url(self) -> str:
        return self.server.url(TOPIC_PATH)

    def ingest(self, **kwargs: bool) -> SourceReport:
        fetcher = make_fetcher(self.config, self.dialer)
        try:
            [report] = run_cycle(self.store, fetcher, self.config, targets(self.config), **kwargs)
        finally:
            fetcher.close()
        return report

    def feeds(self) -> dict[str, bytes]:
        client = create_app(self.config).test_client()
        return {path: client.get(path).data for path in FEED_PATHS}


def assert_unchanged(site: Site, before: dict[str, list[tuple]], feeds: dict[str, bytes]) -> None:
    """Nothing lost, nothing changed: every table but the source's status row by row (items,
    feeds, rendered bytes...), and every feed as served, byte for byte. The run log only
    gains this run's row, which stores no items; a repair may be proposed (nothing is in
    force until an operator applies it)."""
    after = snapshot(site.store)
    assert all(row[1] == "proposed" for row in after["source_repairs"])
    for table, rows in before.items():
        if table not in ("sources", "ingest_runs", "source_repairs"):
            assert after[table] == rows, f"{table} changed"
    runs = after["ingest_runs"]
    assert runs[: len(before["ingest_runs"])] == before["ingest_runs"], "ingest_runs changed"
    [added] = runs[len(before["ingest_runs"]) :]
    run = dict(zip(ingest_runs.c.keys(), added, strict=True))
    assert run["items_on_page"] is None and run["new_items"] == 0
    assert site.feeds() == feeds


def _head(handler: BaseHTTPRequestHandler, length: int | None, status: int = 200) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    if length is not None:
        handler.send_header("Content-Length", str(length))
    else:
        handler.send_header("Connection", "close")
    handler.end_headers()


def reset() -> Route:
    """Read the request, then drop the connection with a TCP RST (SO_LINGER 0)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True

    return route


def stall(seconds: float) -> Route:
    """Say nothing at all for `seconds`: the client's read timeout must fire."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        release.wait(seconds)
        handler.close_connection = True

    return route


def drip(body: bytes, every: float) -> Route:
    """Send the headers, then the body one byte every `every` seconds: each read is quick,
    the whole never ends in time."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, len(body))
        try:
            for byte in body:
                if release.wait(every):
                    break
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:  # the client gave up, as it should
            pass
        handler.close_connection = True

    return route


def truncated(body: bytes) -> Route:
    """Promise the whole body in Content-Length, send half of it, close."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, len(body))
        handler.wfile.write(body[: len(body) // 2])
        handler.close_connection = True

    return route


def unannounced(body: bytes) -> Route:
    """A body without Content-Length, ended by closing: only reading it tells its size."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, None)
        handler.wfile.write(body)
        handler.close_connection = True

    return route


def in_turn(*routes: Reply | Route) -> Route:
    """Answer each request with the next route; the last one answers every request after."""
    remaining = list(routes)

    def route(handler: BaseHTTPRequestHandler) -> None:
        current = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(current, Reply):
            send(handler, current)
        else:
            current(handler)

    return route


def redirect_to(location: str) -> Reply:
    """A 302 to `location` (to itself for a loop)."""
    return Reply(b"", 302, {"Location": location, "Content-Type": "text/html"})


def half_the_items(body: bytes) -> bytes:
    """The page with every second item of its lists removed."""
    document = lxml.html.document_fromstring(body)
    for listing in document.cssselect("ul.teasers"):
        for item in listing.findall("li")[1::2]:
            listing.remove(item)
    return lxml.html.tostring(document, doctype="<!DOCTYPE html>")


def redesigned(body: bytes) -> bytes:
    """The page after a redesign: the same words, but no `teasers` lists to find."""
    return body.replace(b"teasers", b"cards")


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, in key order: two snapshots are equal iff nothing changed."""
    with store.engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))]
            for name, table in metadata.tables.items()
        }


def wait_until(check: Callable[[], bool], seconds: float = 20, every: float = 0.01) -> None:
    """Poll `check` until it holds; fail the test when it never does."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)
