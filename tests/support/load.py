"""A load run against the real `feedsvc serve` (gunicorn) while ingests run every few seconds.

A listing page on 127.0.0.1 gains an item before every ingest, so each ingest
writes items and re-renders feeds while the load runs. Every response must be a
200 whose body is a complete, valid feed: the Python client checks each one
(same length as announced, parsed by feedparser or as JSON, one ETag never
naming two bodies); with tool "wrk", wrk drives the load and counts failures,
and the Python client checks bodies beside it with fewer connections.
`python -m bench.load` runs it at length; tests/test_faults_load.py for a few seconds.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import feedparser

from tests.support.config import write_config
from tests.support.net import free_port
from tests.support.pages import PageServer, Reply, send
from tests.support.servers import feedsvc_serve

BASE_PAGE = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "rand-2024.html"
CLI = [sys.executable, "-m", "feedsvc.cli"]
TOPIC = "load"
PAGE_PATH = f"/topics/{TOPIC}.html"
FEED_PATHS = [
    f"/topics/{TOPIC}/feed.rss",
    f"/topics/{TOPIC}/feed.atom",
    f"/topics/{TOPIC}/feed.json",
    "/types/commentary/feed.atom",
    f"/topics/{TOPIC}/types/report/feed.rss",
    f"/topics/{TOPIC}/feed.atom?limit=10",  # rendered on first request after each change: writes
]
WRK_SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


@dataclass
class Tally:
    """What the clients saw, shared by all their threads."""

    requests: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    bodies: dict[str, str] = field(default_factory=dict)  # body hash -> verdict ("ok" or why not)
    etags: dict[str, str] = field(default_factory=dict)  # ETag -> body hash
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, reason: str) -> None:
        with self.lock:
            self.failures[reason] += 1


@dataclass
class LoadResult:
    """The outcome of one load run."""

    seconds: float
    connections: int
    tool: str
    requests: int
    failures: dict[str, int]
    reconnects: int
    distinct_bodies: int
    ingests_ok: int
    ingests_failed: int
    server_errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.ingests_failed and not self.server_errors

    def lines(self) -> list[str]:
        """A human summary, one fact per line."""
        return [
            f"tool={self.tool} connections={self.connections} seconds={self.seconds:.1f}",
            f"requests={self.requests} ({self.requests / self.seconds:,.0f}/s)",
            f"failed requests={sum(self.failures.values())} {dict(self.failures) or ''}".rstrip(),
            f"distinct feed bodies checked={self.distinct_bodies}",
            f"keep-alive connections closed by the server and reopened={self.reconnects}",
            f"ingests ok={self.ingests_ok} failed={self.ingests_failed}",
            f"tracebacks in the server log={len(self.server_errors)}",
        ]


class GrowingSite:
    """The source: a listing page that gains one item each time `grow` is called."""

    def __init__(self) -> None:
        self.base_page = BASE_PAGE.read_text(encoding="utf-8")
        self.added = 0
        self.body = self._render()
        # (monotonic start, monotonic end) of every page request: who fetched when.
        self.requests: list[tuple[float, float]] = []
        self.pages = PageServer()
        self.pages.routes[PAGE_PATH] = self._answer

    @property
    def url(self) -> str:
        return self.pages.url(PAGE_PATH)

    def grow(self, count: int = 1) -> None:
        self.added += count
        self.body = self._render()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        send(handler, Reply(self.body))
        self.requests.append((started, time.monotonic()))

    def _render(self) -> bytes:
        new = "".join(
            f'<li><div class="text"><p class="type">Report</p><h3 class="title">'
            f'<a href="/pubs/research_reports/load-{n}.html">Load test report {n}</a></h3>'
            f'<p class="desc">Added before ingest {n}.</p>'
            f'<p class="date">Jan 1, 2025</p></div></li>'
            for n in range(self.added)
        )
        return self.base_page.replace(
            '<ul class="teasers list organic">', '<ul class="teasers list organic">' + new, 1
        ).encode()

    def close(self) -> None:
        self.pages.close()


def ingest_every(
    config: Path, site: GrowingSite, every: float, stop: threading.Event, outcomes: Counter[str]
) -> None:
    """Grow the page and run the real `feedsvc ingest` now, then every `every` seconds until
    stopped."""
    while not stop.is_set():
        site.grow()
        done = subprocess.run(
            [*CLI, "--config", str(config), "ingest"], capture_output=True, text=True, timeout=120
        )
        outcomes[
            "ok" if done.returncode == 0 and ": fetched new=1 " in done.stdout else "failed"
        ] += 1
        if done.returncode != 0:
            print(done.stdout, done.stderr, file=sys.stderr)
        stop.wait(every)


def verdict(path: str, body: bytes) -> str:
    """ "ok" for a complete, valid feed, else what is wrong with it."""
    if path.split("?")[0].endswith(".json"):
        try:
            items = json.loads(body)["items"]
        except (ValueError, KeyError) as exc:
            return f"invalid JSON Feed: {exc}"
        return "ok" if items else "JSON Feed without items"
    parsed = feedparser.parse(body)
    if parsed.bozo:
        return f"invalid XML feed: {parsed.get('bozo_exception')}"
    return "ok" if parsed.entries else "feed without entries"


def client(port: int, deadline: float, tally: Tally, offset: int) -> None:
    """One keep-alive connection fetching feeds in turn and checking every answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    fresh = True
    turn = offset
    while time.monotonic() < deadline:
        path = FEED_PATHS[turn % len(FEED_PATHS)]
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            if fresh:
                tally.fail(f"{type(exc).__name__} on a new connection")
            else:  # an idle keep-alive connection the server closed: retry, as any client does
                with tally.lock:
                    tally.reconnects += 1
            fresh = True
            continue
        except OSError as exc:
            conn.close()
            tally.fail(type(exc).__name__)
            fresh = True
            continue
        fresh = False
        turn += 1
        with tally.lock:
            tally.requests += 1
        if response.status != 200:
            tally.fail(f"HTTP {response.status}")
            continue
        check(tally, path, body, response.getheader("ETag", ""))
    conn.close()


def check(tally: Tally, path: str, body: bytes, etag: str) -> None:
    """Parse each distinct body once; a strong ETag must always name the same bytes."""
    digest = hashlib.sha256(body).hexdigest()
    with tally.lock:
        known = tally.bodies.get(digest)
        named = tally.etags.setdefault(etag, digest)
    if named != digest:
        tally.fail("one ETag for two different bodies")
    if known is None:
        known = verdict(path, body)
        with tally.lock:
            tally.bodies[digest] = known
    if known != "ok":
        tally.fail(known)


def run_wrk(port: int, seconds: float, connections: int, folder: Path) -> tuple[int, Counter[str]]:
    """wrk's request count and its failures (non-2xx answers and socket errors)."""
    script = folder / "paths.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in FEED_PATHS), encoding="utf-8")
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    failures: Counter[str] = Counter()
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        failures["wrk: non-2xx answers"] = int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        for name, value in zip(
            ("connect", "read", "write", "timeout"), match.groups(), strict=True
        ):
            if int(value):
                failures[f"wrk: socket {name} errors"] = int(value)
    return int(re.search(r"(\d+) requests in", out).group(1)), failures


def run_load(
    *,
    seconds: float,
    connections: int,
    ingest_seconds: float,
    tool: str = "python",
    workers: int = 2,
) -> LoadResult:
    """Serve, ingest every `ingest_seconds`, drive load for `seconds`; report what happened."""
    folder = Path(tempfile.mkdtemp(prefix="feedsvc-load-"))
    site = GrowingSite()
    port = free_port()
    config = write_config(folder, {TOPIC: site.url}, base_url=f"http://127.0.0.1:{port}")
    subprocess.run(
        [*CLI, "--config", str(config), "ingest"], check=True, capture_output=True, timeout=120
    )
    tally, outcomes, stop = Tally(), Counter[str](), threading.Event()
    log = folder / "serve.log"
    try:
        with feedsvc_serve(config, port, log, workers=workers, scheduler=False):
            ingests = threading.Thread(
                target=ingest_every, args=(config, site, ingest_seconds, stop, outcomes)
            )
            ingests.start()
            started = time.monotonic()
            checkers = connections if tool == "python" else min(8, connections)
            threads = [
                threading.Thread(target=client, args=(port, started + seconds, tally, n))
                for n in range(checkers)
            ]
            for thread in threads:
                thread.start()
            wrk_requests, wrk_failures = (
                run_wrk(port, seconds, connections, folder) if tool == "wrk" else (0, Counter())
            )
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            stop.set()
            ingests.join()
        server_log = log.read_text(encoding="utf-8", errors="replace")
        return LoadResult(
            seconds=elapsed,
            connections=connections,
            tool=tool,
            requests=tally.requests + wrk_requests,
            failures=dict(tally.failures + wrk_failures),
            reconnects=tally.reconnects,
            distinct_bodies=len(tally.bodies),
            ingests_ok=outcomes["ok"],
            ingests_failed=outcomes["failed"],
            server_errors=[line for line in server_log.splitlines() if "Traceback" in line],
        )
    finally:
        stop.set()
        site.close()
        shutil.rmtree(folder, ignore_errors=True)
