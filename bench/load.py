"""Load: the real `feedsvc serve` (gunicorn) under bounded load while ingests run every few seconds.

    .venv/bin/python bench/load.py --seconds 60 --connections 200 --tool wrk

A listing page on 127.0.0.1 gains an item before every ingest, so each ingest
writes items and re-renders feeds while the load runs. Every response must be a
200 whose body is a complete, valid feed: the Python client checks each one
(same length as announced, parsed by feedparser or as JSON, one ETag never
naming two bodies); with `--tool wrk`, wrk drives the load and counts failures,
and the Python client checks bodies beside it with fewer connections.
Exits 1 when any request failed or any ingest failed.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
BASE_PAGE = ROOT / "tests" / "fixtures" / "pages" / "rand-2024.html"
CLI = [sys.executable, "-m", "feedsvc.cli"]
TOPIC = "load"
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
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                started = time.monotonic()
                self._answer()
                if self.path.startswith("/topics/"):
                    site.requests.append((started, time.monotonic()))

            def _answer(self) -> None:
                body = site.body if self.path.startswith("/topics/") else b"not found"
                self.send_response(200 if self.path.startswith("/topics/") else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/topics/{TOPIC}.html"

    def grow(self, count: int = 1) -> None:
        self.added += count
        self.body = self._render()

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
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(
    folder: Path,
    source_url: str,
    port: int,
    database: str = "sqlite:///var/feedsvc.sqlite3",
    base_url: str | None = None,
) -> Path:
    """The load test's config (bench/cluster.py's hosts too: another store and public URL)."""
    path = folder / "config.toml"
    path.write_text(
        f"""
[service]
database = "{database}"
base_url = "{base_url or f"http://127.0.0.1:{port}"}"

[ingest]
interval_minutes = 60
timeout_seconds = 10
host_delay_seconds = 0

[[topics]]
slug = "{TOPIC}"
title = "Load"

  [[topics.sources]]
  url = "{source_url}"
  preset = "rand-topic"
""",
        encoding="utf-8",
    )
    return path


@contextmanager
def serving(config: Path, port: int, workers: int, log: Path) -> Iterator[subprocess.Popen]:
    """`feedsvc serve` in its own process group, up and answering, stopped afterwards."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                *CLI,
                "--config",
                str(config),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-scheduler",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"feedsvc serve did not come up; see {log}")
            time.sleep(0.2)
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to a child's process group, SIGKILL when it is not gone within 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
    config = write_config(folder, site.url, port)
    subprocess.run(
        [*CLI, "--config", str(config), "ingest"], check=True, capture_output=True, timeout=120
    )
    tally, outcomes, stop = Tally(), Counter[str](), threading.Event()
    log = folder / "serve.log"
    try:
        with serving(config, port, workers, log):
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--ingest-seconds", type=float, default=3, help="pause between ingests")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    result = run_load(
        seconds=args.seconds,
        connections=args.connections,
        ingest_seconds=args.ingest_seconds,
        tool=tool,
        workers=args.workers,
    )
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
