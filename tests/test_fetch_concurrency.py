"""Many sources fetched at once: bounded by `[ingest] concurrency` and the per-host delay,
a hanging source holding none of the others back, storing one source at a time."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from itertools import pairwise
from pathlib import Path

from conftest import PageServer, Reply, page, send, write_config

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.source import SourceReport
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store

PAGE = page("rand-2015.html")
HANG_SECONDS = 7.0  # longer than the config's timeout_seconds (5): the fetch gives up first


def pages_of(server: PageServer, count: int) -> dict[str, str]:
    """`count` topics, each its own page on `server`."""
    for number in range(count):
        server.serve(f"/topics/t{number}.html", PAGE)
    return {f"t{number}": server.url(f"/topics/t{number}.html") for number in range(count)}


def configured(tmp_path: Path, sources: dict[str, str], ingest: str) -> Config:
    """A real config file with these topics; `ingest` adds [ingest] lines (or replaces one)."""
    path = write_config(tmp_path, sources)
    text = path.read_text(encoding="utf-8")
    if "host_delay_seconds" in ingest:
        text = text.replace("host_delay_seconds = 0\n", "")
    text = text.replace("[ingest]\n", f"[ingest]\n{ingest}")
    path.write_text(text, encoding="utf-8")
    return load(path)


def run(config: Config) -> list[SourceReport]:
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)
    try:
        return run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()
        store.close()


def sources_paths(sources: dict[str, str], server: PageServer) -> list[str]:
    return [url.removeprefix(server.base) for url in sources.values()]


class InFlight:
    """A route that answers after `seconds`, counting how many requests it holds at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self.seconds)
        with self.lock:
            self.now -= 1
        send(handler, Reply(PAGE))


def hanging(released: threading.Event) -> Callable[[BaseHTTPRequestHandler], None]:
    """A route that answers nothing for HANG_SECONDS (or until released), then gives up."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        released.wait(HANG_SECONDS)
        with contextlib.suppress(OSError):  # the fetcher hung up long ago
            send(handler, Reply(PAGE))

    return answer


def test_a_hanging_source_holds_none_of_the_others_back(tmp_path: Path) -> None:
    fast, slow = PageServer(), PageServer()
    released = threading.Event()
    try:
        slow.routes["/topics/hang.html"] = hanging(released)
        sources = {"hang": slow.url("/topics/hang.html"), **pages_of(fast, 6)}
        config = configured(tmp_path, sources, "concurrency = 3\nattempts = 1\n")
        reports: list[SourceReport] = []
        cycle = threading.Thread(target=lambda: reports.extend(run(config)))
        cycle.start()
        reader = Store(config.service.database)
        deadline = time.monotonic() + 4.0  # within the hanging fetch's 5 s timeout
        stored: list[str] = []
        while time.monotonic() < deadline and len(stored) < 6:
            with contextlib.suppress(Exception):  # the schema may not be there yet
                stored = [
                    slug
                    for slug in sources
                    if (status := reader.source(slug, sources[slug])) and status.last_success_at
                ]
            time.sleep(0.05)
        hung_meanwhile = not cycle.is_alive() or len(slow.requests) == 1
        cycle.join(30)
        reader.close()
    finally:
        released.set()
        fast.close()
        slow.close()
    assert sorted(stored) == [f"t{n}" for n in range(6)], "the fast sources were stored first"
    assert hung_meanwhile and not cycle.is_alive()
    assert [report.topic for report in reports] == list(sources)  # config order
    assert reports[0].error is not None and "timed out" in reports[0].error.lower()
    assert all(report.ok for report in reports[1:])


def test_no_more_than_concurrency_fetches_at_once(tmp_path: Path) -> None:
    server = PageServer()
    route = InFlight(0.3)
    try:
        sources = pages_of(server, 8)
        for path in sources_paths(sources, server):
            server.routes[path] = route
        config = configured(tmp_path, sources, "concurrency = 3\n")
        reports = run(config)
    finally:
        server.close()
    assert all(report.ok for report in reports)
    assert route.most == 3  # three at once, never a fourth


def test_the_per_host_delay_holds_across_fetch_threads(tmp_path: Path) -> None:
    server = PageServer()
    try:
        sources = pages_of(server, 4)
        config = configured(tmp_path, sources, "concurrency = 4\nhost_delay_seconds = 0.3\n")
        reports = run(config)
    finally:
        server.close()
    assert all(report.ok for report in reports)
    paths = sorted(path for _, path in server.history)
    assert paths == ["/robots.txt", *sorted(sources_paths(sources, server))]  # robots.txt once
    starts = [at for at, _ in server.history]
    # Each request leaves 0.3 s after the one before (a thread scheduled late on a busy
    # machine arrives late by up to a tenth or two, the next one on time); without the
    # delay, four threads would send theirs within milliseconds.
    assert all(later - earlier >= 0.1 for earlier, later in pairwise(starts))
    assert starts[-1] - starts[0] >= 4 * 0.3 - 0.05
