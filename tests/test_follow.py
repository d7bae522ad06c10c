"""Every host's published files and web workers follow the store, wherever the publish ran.

`feedsvc export --follow` runs for a second "host" (its own config and directory, the
same store) while the first ingests; a web worker on PostgreSQL learns of publishes
through LISTEN, and keeps doing so after its listening connection is cut.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TOPIC_PATH, PageServer, page, write_config
from faults import wait_until
from sqlalchemy import text

from feedsvc.config import Config, load
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

CLI = [sys.executable, "-m", "feedsvc.cli"]
FEED = "topics/security-cooperation/feed.atom"
TOPIC = FeedKey(topic="security-cooperation")


def etag_file(directory: Path) -> str | None:
    headers = directory / (FEED + ".headers")
    if not headers.exists():
        return None
    return next(
        line.split(": ", 1)[1]
        for line in headers.read_text().splitlines()
        if line.startswith("ETag: ")
    )


@pytest.mark.both_databases
def test_export_follow_rebuilds_then_rewrites_what_any_host_published(
    tmp_path: Path, server: PageServer, config: Config, run_ingest, store: Store
) -> None:
    run_ingest()
    other = tmp_path / "other-host"
    other.mkdir()
    path = write_config(other, server.url(TOPIC_PATH), database=config.service.database)
    directory = load(path).publish.directory
    follow = subprocess.Popen([*CLI, "--config", str(path), "export", "--follow"])
    try:
        first = store.rendered_feed_etags(config.feeds.default_limit)
        wait_until(lambda: etag_file(directory) is not None, seconds=30)  # rebuilt at start
        assert (directory / FEED).read_bytes() == (config.publish.directory / FEED).read_bytes()
        server.serve(TOPIC_PATH, page("rand-2024.html"))
        run_ingest()  # on the first host: its own directory, and the store
        changed = store.rendered_feed_etags(config.feeds.default_limit)
        assert changed != first
        published = time.monotonic()
        wait_until(lambda: etag_file(directory) == etag_file(config.publish.directory), 10)
        assert time.monotonic() - published < 5
        assert (directory / FEED).read_bytes() == (config.publish.directory / FEED).read_bytes()
    finally:
        follow.terminate()
        follow.wait(10)


@pytest.mark.parametrize("database_kind", ["postgresql"])
def test_a_web_worker_follows_publishes_and_survives_a_cut_listener(
    server: PageServer, config: Config, run_ingest, store: Store
) -> None:
    run_ingest()
    client = create_app(config).test_client()
    first = client.get(f"/{FEED}").headers["ETag"]
    assert client.get(f"/{FEED}").headers["ETag"] == first  # cached
    wait_until(lambda: listeners(store) == 1, 10)  # the worker's LISTEN thread connects
    with store.engine.connect() as conn:  # cut the worker's LISTEN connection
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %' AND datname = current_database()"
            )
        )
    wait_until(lambda: listeners(store) == 0, seconds=10)
    wait_until(lambda: listeners(store) == 1, seconds=10)  # the worker listens again
    server.serve(TOPIC_PATH, page("rand-2024.html"))
    run_ingest()
    wait_until(lambda: client.get(f"/{FEED}").headers["ETag"] != first, seconds=10)
    kept = store.rendered(TOPIC, "atom", config.feeds.default_limit)
    answer = client.get(f"/{FEED}", headers={"Accept-Encoding": "identity"})
    assert (answer.headers["ETag"], answer.data) == (kept.etag, kept.body)


def listeners(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' "
                "AND datname = current_database()"
            )
        )
