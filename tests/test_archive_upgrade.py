"""A store written before archives existed is brought up to date before serving and loses no item."""

from __future__ import annotations

import feedparser
from conftest import PageServer
from sqlalchemy.engine import make_url
from test_archive import walk
from test_ingest import ingest_both

from feedsvc.config import Config
from feedsvc.jobs.cycle import prepare
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.stores import as_first_release

# The two tables as the first release of feedsvc created them, in a store that never met
# Alembic (no version table) nor several hosts.
OLD_LAYOUT = """
DROP TABLE alembic_version;
DROP TABLE leadership;
DROP TABLE publications;
DROP TABLE rendered;
CREATE TABLE rendered (
    feed_key VARCHAR(400) NOT NULL, format VARCHAR(20) NOT NULL, "limit" INTEGER NOT NULL,
    body BLOB NOT NULL, gzip_body BLOB NOT NULL, etag VARCHAR(80) NOT NULL,
    last_modified DATETIME NOT NULL, PRIMARY KEY (feed_key, format, "limit"));
CREATE TABLE old_topic_items (
    topic VARCHAR(200) NOT NULL, item_id INTEGER NOT NULL, type_slug VARCHAR(100) NOT NULL,
    order_key VARCHAR(40) NOT NULL, PRIMARY KEY (topic, item_id),
    FOREIGN KEY(item_id) REFERENCES items (id));
INSERT INTO old_topic_items SELECT topic, item_id, type_slug, order_key FROM topic_items;
DROP TABLE topic_items;
ALTER TABLE old_topic_items RENAME TO topic_items;
CREATE INDEX ix_topic_items_order ON topic_items (topic, order_key);
CREATE INDEX ix_topic_items_type_order ON topic_items (topic, type_slug, order_key);
"""


def test_an_old_store_is_upgraded_in_place(
    server: PageServer, run_ingest, store: Store, config: Config
) -> None:
    ingest_both(server, run_ingest)
    before = store.entries(FeedKey(topic="security-cooperation"), 100)
    store.close()
    as_first_release(make_url(config.service.database).database, OLD_LAYOUT)
    prepare(config)  # what `feedsvc migrate` (and serve, schedule, ingest) runs first
    client = create_app(config).test_client()
    upgraded = Store(config.service.database)
    assert upgraded.entries(FeedKey(topic="security-cooperation"), 100) == before
    assert upgraded.member_count(FeedKey(topic="security-cooperation")) == 43
    parsed = feedparser.parse(client.get("/topics/security-cooperation/feed.atom").data)
    assert not parsed.bozo and len(parsed.entries) == 43
    pages = walk(client, "topics/security-cooperation", "atom")
    ids = [entry.id for _, p in pages for entry in p.entries]
    assert sorted(ids) == sorted(item.guid for item in before)
    upgraded.create_schema()  # a second start finds nothing to do
    upgraded.close()
