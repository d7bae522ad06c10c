"""Faults a web server can commit, as PageServer routes: each answers one request badly.

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
from http.server import BaseHTTPRequestHandler

import lxml.html
from conftest import Reply, send
from sqlalchemy import select

from feedsvc.store import Store
from feedsvc.store.schema import metadata

Route = Callable[[BaseHTTPRequestHandler], None]
release = threading.Event()


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
