"""A store written before enrichment and undated reports upgrades in place, losing nothing."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from conftest import TOPIC_PATH, PageServer, page

from feedsvc.config import Config
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from tests.support.stores import as_revision_0004


def test_a_store_from_before_issue_9_upgrades_in_place(
    config: Config, store: Store, run_ingest: Callable, server: PageServer
) -> None:
    [first] = run_ingest()
    assert first.ok and first.new == 21
    path = store.engine.url.database
    store.close()
    as_revision_0004(path)  # the tables as the last release made them

    upgraded = Store(config.service.database)
    upgraded.create_schema()
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(sources)")}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"last_undated_text", "last_undated_at"} <= columns and "item_tasks" in tables
    assert len(upgraded.entries(FeedKey(topic="security-cooperation"), 50)) == 21

    # a label where the date was: a text holding a date beside other words would yield it
    body = re.sub(
        rb'<p class="date">[^<]*', b'<p class="date">Multimedia', page("rand-2015.html"), count=1
    )
    server.serve(TOPIC_PATH, body)
    fetcher = make_fetcher(config)
    [report] = run_cycle(upgraded, fetcher, config, targets(config))
    fetcher.close()
    assert report.ok and report.undated == 1, report.line()
    status = upgraded.source("security-cooperation", config.topics[0].sources[0].url)
    assert status.last_undated_text.startswith("not a date: 'Multimedia'")
    upgraded.close()
