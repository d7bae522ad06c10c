"""Several hosts sharing the ingest through the store's queue, on 127.0.0.1: their sources
and their processes. Used by tests/test_shared_ingest.py and bench/shared_ingest.py.

`Sites` serves topic pages /t<n>.html that answer after a delay and gain items on demand,
and logs every page request's start and end, so that two runs of one source at once are
seen where they happen (the page). `start_host` runs a real `feedsvc schedule` process
(`python -m tests.support.queue_host`) with a short pace in a process group of its own,
which `kill_host` ends with SIGKILL.
"""

from __future__ import annotations

import html
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from feedsvc.store import Store
from tests.support.pages import PageServer, Reply, send
from tests.support.servers import stop_group

DATE = "Jan 2, 2025"


def topic_slug(number: int) -> str:
    return f"t{number}"


class Sites:
    """`count` topic pages of `items` items each, answering after `delay` seconds; with
    `same`, every page answers those bytes instead (a benchmark's unchanged sources)."""

    def __init__(self, count: int, items: int, delay: float, same: bytes | None = None) -> None:
        self.delay = delay
        self.items = {topic_slug(n): items for n in range(count)}
        self.bodies = {slug: same or self._page(slug) for slug in self.items}
        self.fetches: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self._lock = threading.Lock()
        self.pages = PageServer()
        for slug in self.items:
            self.pages.routes[f"/{slug}.html"] = self._answer

    def urls(self) -> dict[str, str]:
        return {slug: self.pages.url(f"/{slug}.html") for slug in self.items}

    def grow(self, slug: str) -> str:
        """One more item on the topic's page, first in the list; its title."""
        with self._lock:
            self.items[slug] += 1
            self.bodies[slug] = self._page(slug)
        return item_title(slug, self.items[slug] - 1)

    def titles(self, slug: str) -> set[str]:
        """Every item title the topic's page ever listed."""
        return {item_title(slug, n) for n in range(self.items[slug])}

    def overlapping(self) -> list[str]:
        """Topics whose page was being fetched twice at the same time."""
        return [
            slug
            for slug, spans in self.fetches.items()
            if any(b[0] < a[1] for a, b in itertools.pairwise(sorted(spans)))
        ]

    def close(self) -> None:
        self.pages.close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        slug = handler.path.strip("/").removesuffix(".html")
        time.sleep(self.delay)
        try:
            send(handler, Reply(self.bodies[slug]))
        except (BrokenPipeError, ConnectionResetError):  # the host was killed meanwhile
            return
        self.fetches[slug].append((started, time.monotonic()))

    def _page(self, slug: str) -> bytes:
        teasers = "".join(
            f"<li><div class='text'><p class='type'>{'Report' if n % 2 else 'Commentary'}</p>"
            f"<h3 class='title'><a href='/{slug}/item-{n}.html'>"
            f"{html.escape(item_title(slug, n))}</a></h3>"
            f"<p class='desc'>Item {n} of {slug}.</p><p class='date'>{DATE}</p></div></li>"
            for n in reversed(range(self.items[slug]))
        )
        return f"<html><body><ul class='teasers'>{teasers}</ul></body></html>".encode()


def item_title(slug: str, number: int) -> str:
    return f"{slug} item {number}"


def start_host(
    config: Path, interval: float, lease: float, poll: float, log: Path
) -> subprocess.Popen:
    """A `feedsvc schedule` process on the shared queue, at this pace."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.queue_host", str(config)]
            + [str(value) for value in (interval, lease, poll)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[2],
        )


def kill_host(process: subprocess.Popen) -> None:
    """kill -9 of the host's process group: no goodbye to the database."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def stop_host(process: subprocess.Popen) -> None:
    stop_group(process)


def queued_holders(store: Store) -> dict[tuple[str, str], str | None]:
    """Every queued source and the host whose lease on it is live (None: waiting)."""
    now = datetime.now(UTC)
    return {
        key: state.held_by(now) for key, state in store.queue_states().items() if state.queued_at
    }
