"""`feedsvc import-db` / `export-db`: a SQLite store moves to PostgreSQL and serves the same
archive, page for page and byte for byte (every guid, date and page boundary kept)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from random import Random

from conftest import write_config
from test_archive import PAGE_SIZE, SOURCE, START, TOPIC, filled_store, make_items, path, walk

from feedsvc.config import load
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.pgcluster import PostgresCluster

CLI = [sys.executable, "-m", "feedsvc.cli"]
EXTRA = f"[feeds]\ndefault_limit = {PAGE_SIZE}\n"


def every_page(config_path: Path) -> dict[str, bytes]:
    """The bytes of the current feed and of every archive page, walked as a reader does."""
    client = create_app(load(config_path)).test_client()
    pages = {}
    for feed in (f"topics/{TOPIC}", "types/report"):
        for fmt in ("atom", "rss"):
            pages[f"/{feed}/feed.{fmt}"] = client.get(f"/{feed}/feed.{fmt}").data
            for url, _ in walk(client, feed, fmt):
                pages[path(url)] = client.get(path(url)).data
    return pages


def test_a_sqlite_store_moves_to_postgresql_with_every_page_intact(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    sqlite_config, sqlite_store = filled_store(tmp_path)
    sqlite_store.close()
    before = every_page(sqlite_config.path)
    assert len(before) == 2 * (2 + 1200 // PAGE_SIZE + 600 // PAGE_SIZE)

    target = postgres_cluster.create_database()
    (tmp_path / "pg").mkdir()
    pg_path = write_config(tmp_path / "pg", SOURCE, extra=EXTRA, database=target)
    done = subprocess.run(
        [*CLI, "--config", str(pg_path), "import-db", sqlite_config.service.database],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert " items=1200 " in done.stdout and " topic_items=1200\n" in done.stdout
    assert every_page(pg_path) == before

    again = subprocess.run(
        [*CLI, "--config", str(pg_path), "import-db", sqlite_config.service.database],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 1 and "already holds 1200 items" in again.stderr

    # The moved store goes on: new ids follow the copied ones (sequences advanced).
    store = Store(target)
    store.record_items(TOPIC, SOURCE, make_items(range(1200, 1201), Random(1)), START)
    assert store.count_items() == 1201 and store.member_count(FeedKey(topic=TOPIC)) == 1201
    store.close()


def test_export_db_copies_the_configured_store_out(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    sqlite_config, sqlite_store = filled_store(tmp_path)
    guids = {i.guid for i in sqlite_store.entries(FeedKey(topic=TOPIC), 5000)}
    sqlite_store.close()
    target = postgres_cluster.create_database()
    done = subprocess.run(
        [*CLI, "--config", str(sqlite_config.path), "export-db", target],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    moved = Store(target)
    assert {i.guid for i in moved.entries(FeedKey(topic=TOPIC), 5000)} == guids
    moved.close()
