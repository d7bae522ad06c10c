"""Render feeds when their items change and keep the bytes with their validators.

A request then only looks the bytes up: rendering happens once per change, in
the ingest process, never once per request.
"""

from __future__ import annotations

import gzip
import hashlib

from feedsvc.config import Config
from feedsvc.export import bump_generation, export_feed, generation_marker
from feedsvc.feeds import FeedKey, feed_description, feed_title
from feedsvc.render import FORMATS, FeedDoc
from feedsvc.store import Rendered, Store


def publish_changed(store: Store, config: Config) -> list[FeedKey]:
    """Render every feed marked changed, in every format, at the default limit."""
    fresh_directory = not generation_marker(config).exists()
    keys = store.dirty_feeds()
    for key in keys:
        publish_feed(store, config, key)
    if fresh_directory:
        export_stored(store, config)
    return keys


def export_stored(store: Store, config: Config) -> None:
    """Write every kept feed into a new or emptied publish directory (first run, upgrade)."""
    by_feed: dict[FeedKey, dict[str, Rendered]] = {}
    for key, fmt, out in store.rendered_feeds(config.feeds.default_limit):
        by_feed.setdefault(key, {})[fmt] = out
    for key, outputs in by_feed.items():
        export_feed(config, key, outputs)
    bump_generation(config)


def publish_feed(store: Store, config: Config, key: FeedKey) -> None:
    """Render one feed in every format and replace whatever was cached for it."""
    limit = config.feeds.default_limit
    doc = feed_doc(store, config, key, limit)
    outputs = {(name, limit): package(fmt.render(doc), doc) for name, fmt in FORMATS.items()}
    store.save_rendered(key, outputs, replace_all=True)
    export_feed(config, key, {name: out for (name, _), out in outputs.items()})
    bump_generation(config)


def render_at_limit(store: Store, config: Config, key: FeedKey, fmt: str, limit: int) -> Rendered:
    """Render a non-default limit on first request; kept until the feed changes."""
    doc = feed_doc(store, config, key, limit)
    out = package(FORMATS[fmt].render(doc), doc)
    store.save_rendered(key, {(fmt, limit): out}, replace_all=False)
    return out


def package(body: bytes, doc: FeedDoc) -> Rendered:
    """Bytes plus a gzip copy, a strong ETag from their hash and Last-Modified from the data."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Rendered(body, gzip.compress(body, compresslevel=6, mtime=0), etag, doc.updated)


def feed_url(config: Config, key: FeedKey, fmt: str) -> str:
    """The public URL of one format of a feed."""
    return f"{config.service.base_url}/{key.path}/feed.{fmt}"


def feed_doc(store: Store, config: Config, key: FeedKey, limit: int) -> FeedDoc:
    """Gather what a renderer needs for one feed."""
    base = config.service.base_url
    labels = {**config.types, **store.type_labels()}
    topic = config.topic(key.topic) if key.topic else None
    return FeedDoc(
        id=f"{base}/{key.path}",
        title=feed_title(key, config, labels),
        description=feed_description(key, config, labels),
        home_url=topic.sources[0].url if topic else f"{base}/",
        urls={fmt: feed_url(config, key, fmt) for fmt in FORMATS},
        updated=store.feed_changed_at(key),
        ttl_minutes=config.ingest.interval_minutes,
        author=config.service.title,
        types_url=f"{base}/types/",
        topics_url=f"{base}/topics/",
        entries=store.entries(key, limit),
    )
