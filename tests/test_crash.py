"""Crashes and contention: `kill -9` mid-transaction changes nothing; readers are never locked out.

The real `feedsvc ingest` runs in a subprocess against a page of thousands of
items, so that its one transaction lasts long enough to be caught: SQLite spills
the pages of an uncommitted transaction into the -wal file, so a -wal file that
grows means the transaction is under way, and that is when the test strikes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from conftest import TOPIC_PATH, PageServer, page, write_config
from faults import snapshot, wait_until

from feedsvc.config import Config, load
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
MANY = 4000
CLI = [sys.executable, "-m", "feedsvc.cli"]


def big_page(count: int) -> bytes:
    """A valid listing page with `count` distinct report items."""
    items = "".join(
        f'<li><div class="text"><p class="type">Report</p><h3 class="title">'
        f'<a href="/pubs/research_reports/r{n}.html">Report {n} on security cooperation</a></h3>'
        f'<p class="desc">Summary of report {n}, with <b>markup</b>.</p>'
        f'<p class="date">Jan {1 + n % 28}, 2020</p></div></li>'
        for n in range(count)
    )
    return f'<html><body><ul class="teasers">{items}</ul></body></html>'.encode()


def setup(tmp_path: Path, server: PageServer) -> tuple[Config, Path]:
    """A store that holds the 2015 capture, ingested by the real command; then the big page."""
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    path = write_config(tmp_path, server.url(TOPIC_PATH), extra="max_bytes = 50_000_000\n")
    subprocess.run([*CLI, "--config", str(path), "ingest"], check=True, timeout=60)
    server.serve(TOPIC_PATH, big_page(MANY))
    config = load(path)
    return config, Path(config.service.database.removeprefix("sqlite:///") + "-wal")


def test_kill_9_mid_transaction_leaves_the_store_as_it_was(
    tmp_path: Path, server: PageServer
) -> None:
    config, wal = setup(tmp_path, server)
    store = Store(config.service.database)
    before = snapshot(store)
    store.close()  # the last connection closes: the -wal is checkpointed and removed
    assert not wal.exists() or wal.stat().st_size == 0

    ingest = subprocess.Popen([*CLI, "--config", str(config.path), "ingest"])
    wait_until(lambda: wal.exists() and wal.stat().st_size > 0, seconds=60, every=0.002)
    os.kill(ingest.pid, signal.SIGKILL)
    assert ingest.wait(10) == -signal.SIGKILL
    assert wal.stat().st_size > 0  # uncommitted frames were written, and are left behind

    store = Store(config.service.database)
    assert snapshot(store) == before
    store.close()
    again = subprocess.run(
        [*CLI, "--config", str(config.path), "ingest"], capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.endswith(f": fetched new={MANY} updated=0 unchanged=0\n")
    store = Store(config.service.database)
    assert store.count_items() == 21 + MANY
    store.close()


def test_readers_are_never_locked_out_by_an_ingest(tmp_path: Path, server: PageServer) -> None:
    config, wal = setup(tmp_path, server)
    client = create_app(config).test_client()
    paths = [
        f"/topics/{TOPIC}/feed.atom",
        f"/topics/{TOPIC}/feed.json",
        "/types/commentary/feed.rss",
        f"/topics/{TOPIC}/feed.rss?limit=7",  # rendered and saved on first request: a write
        "/healthz",
        "/",
    ]
    statuses: Counter[int] = Counter()
    errors: list[BaseException] = []
    during_write = 0
    ingest = subprocess.Popen([*CLI, "--config", str(config.path), "ingest"])

    def wal_size() -> int:
        return wal.stat().st_size if wal.exists() else 0

    def read() -> None:
        nonlocal during_write
        while ingest.poll() is None:
            for path in paths:
                try:
                    size = wal_size()
                    statuses[client.get(path).status_code] += 1
                    during_write += wal_size() != size  # the writer wrote while we read
                except BaseException as exc:  # the very thing this test is after
                    errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(120)
    assert ingest.wait(10) == 0
    assert errors == []
    assert set(statuses) == {200}, statuses
    assert during_write > 0  # the readers really overlapped the write
