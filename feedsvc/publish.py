"""Render feeds when their items change and keep the bytes with their validators.

A request then only looks the bytes up: rendering happens once per change, in
the ingest process, never once per request.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from feedsvc.archive import archive_urls, current_links, is_final, page_count, page_links
from feedsvc.config import Config, TopicConfig
from feedsvc.digest import Week, closed_weeks, week_entry, week_start
from feedsvc.export import bump_generation, export_feed, generation_marker
from feedsvc.feeds import (
    ArchiveKey,
    DigestKey,
    FeedKey,
    digest_description,
    digest_title,
    feed_author,
    feed_description,
    feed_title,
)
from feedsvc.fetch import Fetcher, PingError
from feedsvc.render import FEED_STYLESHEET, FORMATS, FeedDoc, static_url
from feedsvc.store import EPOCH, Rendered, Store, StoredItem, order_key

log = logging.getLogger(__name__)
DIGEST_BATCH = 200  # items read at a time while gathering a digest's weeks


def publish_changed(store: Store, config: Config) -> list[FeedKey]:
    """Render every feed marked changed, in every format, at the default limit; then digests."""
    fresh_directory = not generation_marker(config).exists()
    keys = store.dirty_feeds()
    for key in keys:
        publish_feed(store, config, key)
    publish_digests(store, config, {key.topic for key in keys if key.topic and not key.type})
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


def announce(fetcher: Fetcher, config: Config, keys: Sequence[FeedKey]) -> None:
    """Ping the WebSub hub once per changed feed with all its URLs; a failing hub only logs.

    Once a ping has failed after its retries the hub is taken to be down and the
    other feeds are not tried, so a dead hub costs an ingest one feed's retries.
    """
    if not config.websub.hub:
        return
    for done, key in enumerate(keys):
        try:
            fetcher.ping_hub(config.websub.hub, [feed_url(config, key, fmt) for fmt in FORMATS])
        except PingError as exc:
            log.warning("%s; %d more changed feeds not announced", exc, len(keys) - done - 1)
            return


def publish_feed(store: Store, config: Config, key: FeedKey) -> None:
    """Render one feed in every format and replace whatever was cached for it."""
    limit = config.feeds.default_limit
    version = store.feed_version(key)  # before reading items: a later change stays dirty
    doc = feed_doc(store, config, key, limit)
    outputs = render_formats(doc, limit)
    store.save_rendered(key, outputs, replace_all=True, version=version)
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


def feed_home_url(config: Config, key: FeedKey) -> str:
    """The web page a feed stands for: its topic's first source page, else the index."""
    topic = config.topic(key.topic) if key.topic else None
    return topic.sources[0].url if topic else f"{config.service.base_url}/"


def feed_doc(store: Store, config: Config, key: FeedKey, limit: int) -> FeedDoc:
    """Gather what a renderer needs for one feed."""
    base = config.service.base_url
    labels = {**config.types, **store.type_labels()}
    return FeedDoc(
        id=f"{base}/{key.path}",
        title=feed_title(key, config, labels),
        description=feed_description(key, config, labels),
        home_url=feed_home_url(config, key),
        urls={fmt: feed_url(config, key, fmt) for fmt in FORMATS},
        updated=store.feed_changed_at(key),
        ttl_minutes=config.ingest.interval_minutes,
        author=feed_author(key, config),
        types_url=f"{base}/types/",
        topics_url=f"{base}/topics/",
        entries=store.entries(key, limit),
        links=current_links(
            base, key, page_count(store.member_count(key), config.feeds.archive_page_size)
        ),
        hub=config.websub.hub,
        stylesheet_url=static_url(base, FEED_STYLESHEET),
        topic_titles={t.slug: t.title for t in config.topics},
        topic_authors={t.slug: t.author for t in config.topics},
    )


def render_formats(doc: FeedDoc, limit: int, **marks: Any) -> dict[tuple[str, int], Rendered]:
    """A document in every format, packaged, with `marks` (final, stale_at) on each."""
    return {
        (name, limit): replace(package(fmt.render(doc), doc), **marks)
        for name, fmt in FORMATS.items()
    }


def archive_page(store: Store, config: Config, key: ArchiveKey, fmt: str) -> Rendered | None:
    """An archive page's bytes: kept ones while they hold, else rendered now; None if no page.

    A final page holds forever; the newest page holds while its Last-Modified is
    the feed's last change, so an ingest that changes the feed makes it render again.
    """
    size = config.feeds.archive_page_size
    out = store.rendered(key, fmt, size)
    changed_at = store.feed_changed_at(key.feed)  # read before the members, never after
    if out is not None and (out.final or out.last_modified == changed_at):
        return out
    pages = page_count(store.member_count(key.feed), size)
    if not 1 <= key.page <= pages:
        return None
    outputs = render_formats(
        archive_doc(store, config, key, pages, changed_at), size, final=is_final(key, pages)
    )
    store.save_rendered(key, outputs, replace_all=False)
    return outputs[(fmt, size)]


def archive_doc(
    store: Store, config: Config, key: ArchiveKey, pages: int, changed_at: datetime
) -> FeedDoc:
    """An archive page: the feed's metadata with the page's own URLs, links and members."""
    base = config.service.base_url
    feed = feed_doc(store, config, key.feed, 0)  # metadata only
    return replace(
        feed,
        id=f"{base}/{key.path}",
        urls=archive_urls(base, key),
        updated=changed_at,
        entries=store.archive_entries(key.feed, key.page, config.feeds.archive_page_size),
        links=page_links(base, key, pages, feed.urls),
        hub=None,
        archive=True,
    )


def weekly_digest(
    store: Store, config: Config, topic: TopicConfig, fmt: str, now: datetime
) -> Rendered:
    """A topic's digest bytes: kept ones until their week closes, else rendered now."""
    out = store.rendered(DigestKey(topic.slug), fmt, config.feeds.default_limit)
    if out is not None and out.stale_at is not None and now < out.stale_at:
        return out
    return publish_digest(store, config, topic, now)[(fmt, config.feeds.default_limit)]


def publish_digests(
    store: Store, config: Config, changed_topics: set[str], now: datetime | None = None
) -> None:
    """Render the digests of changed topics, and those whose week closed since they were kept."""
    now = now or datetime.now(UTC)
    expired = store.expired_rendered(now)
    for topic in config.topics:
        if topic.slug in changed_topics or DigestKey(topic.slug).path in expired:
            publish_digest(store, config, topic, now)


def publish_digest(
    store: Store, config: Config, topic: TopicConfig, now: datetime
) -> dict[tuple[str, int], Rendered]:
    """Render a topic's weekly digest in every format; kept until the current week closes."""
    doc, closes_at = digest_doc(store, config, topic, now)
    outputs = render_formats(doc, config.feeds.default_limit, stale_at=closes_at)
    store.save_rendered(DigestKey(topic.slug), outputs, replace_all=True)
    return outputs


def digest_doc(
    store: Store, config: Config, topic: TopicConfig, now: datetime
) -> tuple[FeedDoc, datetime]:
    """The newest closed weeks of a topic as a feed document, and when the current week closes."""
    key = DigestKey(topic.slug)
    zone = topic.sources[0].timezone
    current = Week(week_start(now, zone))
    feed = FeedKey(topic=topic.slug)
    before = order_key(current.start, 0, 99_999)  # the lowest key of the week's first instant
    weeks = closed_weeks(_older_batches(store, feed, before), zone, config.feeds.default_limit)
    base = config.service.base_url
    doc = feed_doc(store, config, feed, 0)  # metadata only
    digest_id = f"{base}/{key.path}"
    entries = [week_entry(w, digest_id, topic.slug, topic.title, doc.home_url) for w in weeks]
    return replace(
        doc,
        id=digest_id,
        title=digest_title(topic),
        description=digest_description(topic, config.service.title),
        urls={fmt: f"{base}/{key.path}.{fmt}" for fmt in FORMATS},
        updated=max((entry.updated for entry in entries), default=EPOCH),
        entries=entries,
        links={},
        hub=None,
    ), current.end


def _older_batches(store: Store, key: FeedKey, before: str) -> Iterator[list[StoredItem]]:
    """A feed's items older than order key `before`, newest first, a batch at a time."""
    while True:
        batch = store.entries(key, DIGEST_BATCH, before=before)
        yield batch
        if len(batch) < DIGEST_BATCH:
            return
        before = batch[-1].order_key
