"""A real HTTP server on 127.0.0.1 that serves fixture pages: the sources tests and bench read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from feedsvc.fetch.politeness import HOSTS

ROBOTS_PATH = "/robots.txt"


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


def validated(reply: Reply) -> Callable[[BaseHTTPRequestHandler], None]:
    """A route that answers `reply` with its ETag and Last-Modified, or 304 with no body when
    the request's If-None-Match or If-Modified-Since names them, as a caching server does."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        etag, modified = reply.headers.get("ETag"), reply.headers.get("Last-Modified")
        asked_etag = handler.headers.get("If-None-Match")
        if (etag and asked_etag == etag) or (
            not asked_etag and modified and handler.headers.get("If-Modified-Since") == modified
        ):
            send(handler, Reply(b"", 304, {"ETag": etag or "", "Last-Modified": modified or ""}))
        else:
            send(handler, reply)

    return answer


class PageServer:
    """A threaded HTTP server on 127.0.0.1; tests set what each path answers and read the request log.

    `requests` logs page requests; the fetcher's visits to /robots.txt (404 unless a
    test serves one) are logged in `robots_requests` instead. `history` has the
    monotonic time and path of every request, robots.txt included.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Reply | Callable[[BaseHTTPRequestHandler], None]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.robots_requests: list[tuple[str, dict[str, str]]] = []
        self.history: list[tuple[float, str]] = []
        self.head_requests: list[str] = []  # paths asked for with HEAD (image probes)
        self.posts: list[tuple[str, str]] = []  # (path, form) of each POST (WebSub pings)
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

            def do_POST(self) -> None:
                """Take the form (a WebSub ping), keep it in `posts`, answer 204."""
                length = int(self.headers.get("Content-Length") or 0)
                server.posts.append((self.path, self.rfile.read(length).decode()))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:
                """What GET would answer, without the body (Content-Length still says its size)."""
                server.history.append((time.monotonic(), self.path))
                server.head_requests.append(self.path)
                route = server.routes.get(self.path)
                reply = route if isinstance(route, Reply) else Reply(b"", 404)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        # The process's fetchers keep robots.txt per origin for an hour: an earlier test's
        # server on this same port must not speak for this one.
        HOSTS.forget(self.base)

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
