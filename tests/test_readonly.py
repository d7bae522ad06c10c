"""The web tier only reads: every kind of URL answers from a store the database refuses to
write, and a publish directory nobody may write to."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime

import feedparser
import pytest
from conftest import PageServer
from sqlalchemy.exc import OperationalError
from test_ingest import ingest_both

from feedsvc.config import Config, sqlite_file
from feedsvc.web import create_app

TOPIC = "security-cooperation"


def test_every_url_kind_answers_from_a_read_only_store(
    server: PageServer, run_ingest, config: Config
) -> None:
    ingest_both(server, run_ingest)
    database = sqlite_file(config.service.database)
    assert database is not None
    read_only = [database, *database.parent.glob(database.name + "-*"), config.publish.directory]
    modes = {path: path.stat().st_mode for path in read_only}
    for path in read_only:
        path.chmod(stat.S_IMODE(modes[path]) & ~0o222)
    try:
        client = create_app(config).test_client()
        urls = [
            f"/{path}/feed.{fmt}{query}"
            for path in (f"topics/{TOPIC}", "types/report", f"topics/{TOPIC}/types/commentary")
            for fmt in ("rss", "atom", "json")
            for query in ("", "?limit=3", "?limit=500")
        ]
        urls += [f"/topics/{TOPIC}/archive/1.{fmt}" for fmt in ("rss", "atom", "json")]
        urls += [f"/types/commentary/archive/1.{fmt}" for fmt in ("rss", "atom", "json")]
        urls += [f"/topics/{TOPIC}/digest/weekly.{fmt}" for fmt in ("rss", "atom", "json")]
        urls += ["/", f"/topics/{TOPIC}/", "/feeds.opml", f"/topics/{TOPIC}/feeds.opml", "/healthz"]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.data[:200])
            if "feed." in url and ".json" not in url:
                assert not feedparser.parse(response.data).bozo, url
        limited = feedparser.parse(client.get(f"/topics/{TOPIC}/feed.atom?limit=3").data)
        assert len(limited.entries) == 3
        browser = client.get(
            f"/topics/{TOPIC}/feed.atom",
            headers={"Sec-Fetch-Dest": "document", "Accept": "text/html"},
        )
        assert browser.status_code == 200 and browser.mimetype == "text/html"
    finally:
        for path, mode in modes.items():
            path.chmod(stat.S_IMODE(mode))


def test_the_web_stores_refuse_writes(run_ingest, config: Config) -> None:
    """As root, file modes do not stop a write; the web's own connections do (mode=ro)."""
    run_ingest()
    service = create_app(config).extensions["feedsvc"]
    before = os.stat(sqlite_file(config.service.database)).st_mtime_ns
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        service.store.run("DELETE FROM items", ())
    with pytest.raises(OperationalError, match="readonly"):
        service.full_store.record_failure(TOPIC, "https://example.org/", "no", datetime.now(UTC))
    assert os.stat(sqlite_file(config.service.database)).st_mtime_ns == before
