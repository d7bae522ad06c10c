"""A cycle costs what changed: a source's publish renders the feeds its items belong to and
nothing else; a feed that never had an item is not rendered, yet is served, valid and empty."""

from __future__ import annotations

from pathlib import Path

import feedparser
from conftest import PageServer, page, write_config

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey, affected_feeds
from feedsvc.publish.publisher import publish
from feedsvc.store import Store, open_store
from feedsvc.web import create_app


def two_topics(tmp_path: Path, server: PageServer) -> Config:
    """Topic "old" reads the 2015 capture, topic "new" the 2024 one (other types)."""
    server.serve("/old.html", page("rand-2015.html"))
    server.serve("/new.html", page("rand-2024.html"))
    return load(
        write_config(tmp_path, {"old": server.url("/old.html"), "new": server.url("/new.html")})
    )


def cycle(store: Store, config: Config, topic: str) -> None:
    fetcher = make_fetcher(config)
    try:
        [report] = run_cycle(store, fetcher, config, targets(config, topic))
        assert report.ok, report.error
    finally:
        fetcher.close()


def kept(store: Store, config: Config) -> set[FeedKey]:
    return store.rendered_feed_keys(config.feeds.default_limit)


def test_a_cycle_renders_only_the_feeds_its_items_belong_to(
    tmp_path: Path, server: PageServer
) -> None:
    config = two_topics(tmp_path, server)
    prepare(config)
    store = open_store(config.service)
    try:
        # Start-up renders each topic's own feed once (empty), and no type or topic x type.
        assert kept(store, config) == {FeedKey(topic="old"), FeedKey(topic="new")}
        cycle(store, config, "old")
        old_types = set(store.topic_types("old"))
        assert old_types
        assert kept(store, config) == affected_feeds("old", old_types) | {FeedKey(topic="new")}
        before = store.rendered(FeedKey(topic="old"), "atom", config.feeds.default_limit)
        cycle(store, config, "new")
        new_types = set(store.topic_types("new"))
        assert kept(store, config) == affected_feeds("old", old_types) | affected_feeds(
            "new", new_types
        )
        # The other topic's feed was not rendered again; a publish with nothing new renders nothing.
        assert store.rendered(FeedKey(topic="old"), "atom", config.feeds.default_limit) == before
        nothing = publish(store, config)
        assert not nothing.anything and nothing.changed == []
    finally:
        store.close()


def test_a_known_topic_and_type_without_items_is_a_valid_empty_feed(
    tmp_path: Path, server: PageServer
) -> None:
    config = two_topics(tmp_path, server)
    prepare(config)
    store = open_store(config.service)
    try:
        cycle(store, config, "old")
        empty_type = sorted(store.topic_types("old"))[0]
        empty = FeedKey(topic="new", type=empty_type)
        assert empty not in kept(store, config)
    finally:
        store.close()
    client = create_app(config).test_client()
    answer = client.get(f"/{empty.path}/feed.atom")
    assert answer.status_code == 200
    parsed = feedparser.parse(answer.data)
    assert not parsed.bozo and parsed.entries == []
    assert parsed.feed.title.startswith("New")
    assert answer.headers["ETag"] and answer.headers["Last-Modified"]
    again = client.get(
        f"/{empty.path}/feed.atom", headers={"If-None-Match": answer.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""
    # Bytes that do not depend on the worker or the moment: every worker sends the same ETag.
    other = create_app(config).test_client().get(f"/{empty.path}/feed.atom")
    assert other.headers["ETag"] == answer.headers["ETag"] and other.data == answer.data
    assert client.get("/topics/new/types/no-such-type/feed.atom").status_code == 404
