"""The deployment of deploy/README.md in miniature: feedsvc "hosts" on 127.0.0.1, one PostgreSQL.

Each host has its own folder, config, port and published directory (var/public in its
folder), the same store and public URL, and runs what a real
host runs, each part in a process group of its own: `feedsvc serve --no-scheduler` (the
web tier), `feedsvc schedule` (a candidate scheduler) and `feedsvc export --follow` (the
files nginx would serve). Used by tests/test_cluster.py and `make bench-cluster`.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from feedsvc.store import Store
from tests.support.config import write_config
from tests.support.load import TOPIC, GrowingSite, verdict
from tests.support.net import free_port
from tests.support.servers import stop_group

CLI = [sys.executable, "-m", "feedsvc.cli"]
FEED = f"/topics/{TOPIC}/feed.atom"
PUBLIC_URL = "http://feeds.cluster.test"  # the CDN's address: the same on every host


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """One GET to a host: status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def wait_for(check: Callable[[], object], seconds: float, every: float = 0.05) -> object:
    """Poll until `check` returns something true; that value. TimeoutError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not met within {seconds} s")
        time.sleep(every)


@dataclass
class Host:
    """One simulated host: its folder, config, port and running parts."""

    name: str
    folder: Path
    database: str
    source_url: str
    workers: int = 2
    port: int = field(default_factory=free_port)
    parts: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = write_config(
            self.folder, {TOPIC: self.source_url}, database=self.database, base_url=PUBLIC_URL
        )
        self.public = self.folder / "var" / "public"  # [publish] directory's default

    def start(self, part: str) -> None:
        """Start `web`, `scheduler` or `follow` in a process group of its own."""
        args = {
            "web": [
                "serve",
                "--no-scheduler",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            "scheduler": ["schedule"],
            "follow": ["export", "--follow"],
        }[part]
        log = open(self.folder / f"{part}.log", "ab")  # noqa: SIM115 - the child owns it
        self.parts[part] = subprocess.Popen(
            [*CLI, "--config", str(self.config), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if part == "web":
            wait_for(self._answers, 60, every=0.2)

    def _answers(self) -> bool:
        process = self.parts["web"]
        if process.poll() is not None:
            raise RuntimeError(f"{self.name}: serve exited; see {self.folder / 'web.log'}")
        try:
            return get(self.port, "/healthz")[0] in (200, 503)
        except OSError:
            return False

    def kill(self, part: str) -> None:
        """kill -9 of a part's whole process group (no goodbye to the database)."""
        process = self.parts.pop(part)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        """Stop every running part: SIGTERM to its group, SIGKILL after 20 s."""
        for part in list(self.parts):
            stop_group(self.parts.pop(part))

    def scheduler_pid(self) -> int | None:
        process = self.parts.get("scheduler")
        return process.pid if process else None

    def leader(self) -> str | None:
        """The leader this host's /healthz names (host:pid)."""
        body = get(self.port, "/healthz")[2]
        scheduler = json.loads(body).get("scheduler")
        return scheduler["leader"] if scheduler else None

    def feed(self) -> tuple[str | None, bytes | None]:
        """This host's web answer for the topic feed: ETag and bytes (None before it exists)."""
        status, headers, body = get(self.port, FEED, {"Accept-Encoding": "identity"})
        return (headers["ETag"], body) if status == 200 else (None, None)

    def published(self) -> tuple[str | None, bytes | None]:
        """The topic feed file in this host's published directory: ETag (from .headers), bytes."""
        plain = self.public / FEED.lstrip("/")
        try:
            body = plain.read_bytes()
            lines = plain.with_name(plain.name + ".headers").read_text(encoding="ascii")
        except FileNotFoundError:
            return None, None
        headers = dict(line.split(": ", 1) for line in lines.splitlines() if ": " in line)
        return headers.get("ETag"), body


class Readers:
    """Bounded load on every host while the cluster changes: one client thread per host,
    each answer checked (200 with a valid feed, or 304); every failure kept."""

    def __init__(self, hosts: list[Host], pause: float = 0.01) -> None:
        self.hosts = hosts
        self.pause = pause
        self.answers = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(h,)) for h in hosts]

    def __enter__(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _read(self, host: Host) -> None:
        etag = ""
        while not self._stop.is_set():
            try:
                status, headers, body = get(host.port, FEED, {"If-None-Match": etag})
                if status == 200 and verdict(FEED, body) == "ok":
                    etag = headers["ETag"]
                elif status != 304:
                    self.failures.append(f"{host.name}: {status} {verdict(FEED, body)}")
                self.answers += 1
            except OSError as exc:
                self.failures.append(f"{host.name}: {exc!r}")
            self._stop.wait(self.pause)


@dataclass(frozen=True)
class Failover:
    """One kill -9 of the leader's scheduler and what followed."""

    old_leader: str
    new_leader: str
    seconds_to_ingest: float  # kill -9 (the source due again) to a host's page request
    seconds_to_serve: float  # the ingest's page fetched to every host serving the new feed


def leading(hosts: list[Host]) -> Host | None:
    """The host whose scheduler every host's /healthz names as the leader, if they agree."""
    named = {host.leader() for host in hosts}
    if len(named) != 1 or None in named:
        return None
    [holder] = named
    pid = int(holder.rsplit(":", 1)[1])
    return next((h for h in hosts if h.scheduler_pid() == pid), None)


def serving_everywhere(hosts: list[Host], old_etag: str | None) -> str | None:
    """The ETag every host's web answer and published file carry, once all agree on a new one."""
    answers = [host.feed() for host in hosts] + [host.published() for host in hosts]
    etags = {etag for etag, _ in answers}
    bodies = {body for _, body in answers}
    if len(etags) == 1 and len(bodies) == 1 and old_etag not in etags:
        return etags.pop()
    return None


def due_now(database: str) -> None:
    """Every source's interval has come: its next time in the shared queue's schedule is now."""
    store = Store(database)
    try:
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE source_schedule SET due_at = timezone('utc', now())"))
    finally:
        store.close()


def fail_over(hosts: list[Host], site: GrowingSite, new_items: int) -> Failover:
    """Grow the page, kill -9 the leader's scheduler group as the source comes due again,
    time the takeover (the new leader queues the source, a host ingests it) and the update.

    The schedule lives in the store, so a new leader does not ingest anything at once: the
    source is made due by hand, as its interval would. The dead leader's scheduler is
    started again afterwards, as a follower.
    """
    old = wait_for(lambda: leading(hosts), 30)
    assert isinstance(old, Host)
    old_etag = serving_everywhere(hosts, None)
    fetched = len(site.requests)
    site.grow(new_items)
    killed = time.monotonic()
    old.kill("scheduler")
    due_now(old.database)
    wait_for(lambda: len(site.requests) > fetched, 30, every=0.01)
    started, ended = site.requests[fetched]
    wait_for(lambda: serving_everywhere(hosts, old_etag), 30, every=0.01)
    served = time.monotonic()
    new = wait_for(lambda: leading(hosts), 30)
    assert isinstance(new, Host)
    result = Failover(old.name, new.name, started - killed, served - ended)
    old.start("scheduler")
    return result
