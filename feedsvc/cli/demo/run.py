"""What `feedsvc demo` does: a first run that shows the product, offline.

Two captures of the institute's topic page (2015 and 2024) ship with feedsvc. The demo
serves them from a server of its own on 127.0.0.1, ingests the 2015 page and then the 2024
one, and serves the result with the scheduler like `feedsvc serve`. It writes only under
its directory (var/demo/ by default). The captures' images are not bundled: the page server
answers every image URL with the same placeholder.
"""

from __future__ import annotations

import logging
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from feedsvc.cli.common import prepare_store
from feedsvc.cli.server import serve
from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store

TOPIC = "security-cooperation"
TOPIC_PATH = f"/topics/{TOPIC}.html"
CAPTURES = ("rand-2015.html", "rand-2024.html")
DEMO_FILES = ("feedsvc.sqlite3", "feedsvc.sqlite3-wal", "feedsvc.sqlite3-shm")
PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">'
    b'<rect width="240" height="160" fill="#dbe4f0"/><circle cx="70" cy="60" r="22" '
    b'fill="#b7c7de"/><path d="M0 160 L90 80 L150 130 L190 100 L240 150 L240 160 Z" '
    b'fill="#9fb3d1"/></svg>'
)


class CapturePages:
    """A page server on 127.0.0.1 answering the topic URL with the capture chosen now."""

    def __init__(self) -> None:
        self.body = b""
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(send_body=True)

            def do_HEAD(self) -> None:  # feedsvc asks each image's size once (feedsvc.ingest.probe)
                self._answer(send_body=False)

            def _answer(self, send_body: bool) -> None:
                if self.path == TOPIC_PATH:
                    status, media_type, body = 200, "text/html; charset=utf-8", pages.body
                elif self.path.startswith("/content/"):
                    status, media_type, body = 200, "image/svg+xml", PLACEHOLDER
                else:
                    status, media_type, body = 404, "text/plain", b"not found"
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def topic_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{TOPIC_PATH}"

    def show(self, capture: str) -> None:
        self.body = resources.files(__package__).joinpath(capture).read_bytes()


def write_config(directory: Path, port: int, topic_url: str) -> Path:
    """The demo's config.toml: its store, exported feeds and lock all stay in `directory`."""
    path = directory / "config.toml"
    path.write_text(
        f"""# Written by `feedsvc demo`; rewritten at every demo start.
[service]
database = "sqlite:///feedsvc.sqlite3"
base_url = "http://127.0.0.1:{port}"
title = "feedsvc demo"
port = {port}

[ingest]
host_delay_seconds = 0

[publish]
directory = "public"

[[topics]]
slug = "{TOPIC}"
title = "Security Cooperation"
description = "The institute's topic page, from two bundled captures (2015, then 2024)."

  [[topics.sources]]
  url = "{topic_url}"
  preset = "rand-topic"
""",
        encoding="utf-8",
    )
    return path


def prepare_demo(directory: Path, port: int, pages: CapturePages) -> Config:
    """Start afresh, write the config, then ingest the 2015 capture and the 2024 one.

    The captures' relative links resolve against the page server's port, which changes
    at every start: the last demo's store and feeds are removed, never mixed with these.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        (directory / name).unlink(missing_ok=True)
    shutil.rmtree(directory / "public", ignore_errors=True)
    config = load(write_config(directory, port, pages.topic_url))
    prepare_store(config)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    ingest_log = logging.getLogger("feedsvc.ingest.source")
    level = ingest_log.level
    ingest_log.setLevel(logging.WARNING)  # each line is printed below, once
    try:
        for capture in CAPTURES:
            pages.show(capture)
            for report in run_cycle(store, fetcher, config, targets(config)):
                print(f"demo: ingested {capture}: {report.line()}", flush=True)
    finally:
        ingest_log.setLevel(level)
        fetcher.close()
        store.close()
    return config


def run_demo(directory: Path, port: int, *, verbose: bool = False) -> int:
    """Prepare the demo, print where to look, and serve until stopped."""
    pages = CapturePages()
    config = prepare_demo(directory, port, pages)
    base = config.service.base_url
    print(
        "demo: open these in a browser (Ctrl-C stops the demo):\n"
        f"  {base}/                          every topic and feed\n"
        f"  {base}/topics/{TOPIC}/   the topic, its newest items and its feeds\n"
        f"  {base}/topics/{TOPIC}/feed.atom\n"
        f"  {base}/status                    every source, its runs and errors\n"
        f"  {base}/metrics                   Prometheus metrics",
        flush=True,
    )
    serve(config, host="127.0.0.1", port=port, workers=2, scheduler=True, verbose=verbose)
    return 0
