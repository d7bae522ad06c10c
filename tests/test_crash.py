"""Crashes and contention: `kill -9` mid-transaction changes nothing; readers are never locked out.

The real `feedsvc ingest` runs in a subprocess against a page of thousands of
items, so that its one transaction lasts long enough to be caught: SQLite spills
the pages of an uncommitted transaction into the -wal file, so a -wal file that
grows means the transaction is under way; on PostgreSQL, another session holding a
write lock on `items` does. That is when the test strikes. Both databases, in turn.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from conftest import TOPIC_PATH, PageServer, page, write_config
from faults import snapshot, wait_until
from sqlalchemy import text

from feedsvc.config import Config, load
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = "security-cooperation"
MANY = 4000
CLI = [sys.executable, "-m", "feedsvc.cli"]
pytestmark = pytest.mark.both_databases


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


class WriteProbe:
    """Whether another process's ingest transaction is under way, as each database shows it."""

    def __init__(self, config: Config) -> None:
        self.store = Store(config.service.database)
        self.wal = Path(config.service.database.removeprefix("sqlite:///") + "-wal")

    def state(self) -> object:
        """SQLite: the -wal file's size (it grows while a transaction writes); PostgreSQL:
        whether another session holds a write lock on items."""
        if not self.store.shared:
            return self.wal.stat().st_size if self.wal.exists() else 0
        with self.store.engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE c.relname = 'items' AND l.mode = 'RowExclusiveLock' "
                        "AND l.pid <> pg_backend_pid()"
                    )
                )
            )

    def writing(self) -> bool:
        return bool(self.state())

    def overlapped(self, before: object, after: object) -> bool:
        """Whether a read between these two states overlapped the writer's work."""
        return before != after if not self.store.shared else bool(before or after)

    def close(self) -> None:
        self.store.close()


def setup(tmp_path: Path, server: PageServer, database: str) -> Config:
    """A store that holds the 2015 capture, ingested by the real command; then the big page."""
    server.serve(TOPIC_PATH, page("rand-2015.html"))
    path = write_config(
        tmp_path, server.url(TOPIC_PATH), extra="max_bytes = 50_000_000\n", database=database
    )
    subprocess.run([*CLI, "--config", str(path), "ingest"], check=True, timeout=60)
    server.serve(TOPIC_PATH, big_page(MANY))
    return load(path)


def test_kill_9_mid_transaction_leaves_the_store_as_it_was(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    config = setup(tmp_path, server, database_url)
    store = Store(config.service.database)
    before = snapshot(store)
    store.close()  # the last connection closes: the -wal is checkpointed and removed
    probe = WriteProbe(config)
    assert not probe.writing()

    ingest = subprocess.Popen([*CLI, "--config", str(config.path), "ingest"])
    wait_until(probe.writing, seconds=60, every=0.002)
    os.kill(ingest.pid, signal.SIGKILL)
    assert ingest.wait(10) == -signal.SIGKILL
    if not probe.store.shared:
        assert probe.wal.stat().st_size > 0  # uncommitted frames were written, left behind
    probe.close()

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


def test_readers_are_never_locked_out_by_an_ingest(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    config = setup(tmp_path, server, database_url)
    probe = WriteProbe(config)
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

    def read() -> None:
        nonlocal during_write
        while ingest.poll() is None:
            for path in paths:
                try:
                    before = probe.state()
                    statuses[client.get(path).status_code] += 1
                    during_write += probe.overlapped(before, probe.state())
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
    probe.close()
    assert during_write > 0  # the readers really overlapped the write
