"""What the cache stands on in the store: bulk loading and index-only reads of a feed."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from feedsvc.keys import FeedKey
from feedsvc.store import Store
from tests.support.items import TOPICS, item, source_url

NOW = datetime(2024, 6, 1, tzinfo=UTC)
KEYS = [FeedKey(topic=TOPICS[0]), FeedKey(type="report"), FeedKey(topic=TOPICS[0], type="report")]


def filled(path: Path, bulk: bool) -> Store:
    """A store holding the same 300 items, by bulk_insert or by the ingest write path."""
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    rng = random.Random(7)
    found = [item(n, rng, n) for n in range(300)]
    if bulk:
        store.bulk_insert([(TOPICS[0], source_url(TOPICS[0]), found)], NOW)
    else:
        store.record_items(TOPICS[0], source_url(TOPICS[0]), found, NOW)
    return store


def test_bulk_insert_stores_what_the_ingest_path_stores(tmp_path: Path) -> None:
    bulk, one_by_one = filled(tmp_path / "bulk.db", True), filled(tmp_path / "one.db", False)
    for key in KEYS:
        assert bulk.entries(key, 500) == one_by_one.entries(key, 500)
        assert len(bulk.entries(key, 500)) > 10
    assert bulk.dirty_feeds() == one_by_one.dirty_feeds()
    assert bulk.type_labels() == one_by_one.type_labels()


def test_a_feed_is_read_through_indexes_only(tmp_path: Path) -> None:
    store = filled(tmp_path / "bulk.db", True)
    for key in KEYS:
        plan = " ".join(store.entries_plan(key, 50))
        assert "USING INDEX ix_" in plan or "USING COVERING INDEX ix_" in plan, plan
        assert "SCAN items" not in plan and "SCAN topic_items" not in plan, plan
        # the only sort is of the `limit` rows found (SQLite's "TEMP B-TREE FOR ORDER BY")
        assert plan.count("TEMP B-TREE") <= 1, plan
