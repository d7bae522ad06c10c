"""Gather what a renderer needs for a feed, an archive page or a digest. Reads the store only.

Both the publisher (after an ingest) and the web tier (for a `?limit=` or a document not
published yet, rendered in memory) build their documents here, so the two agree byte for
byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from feedsvc.archive import current_links, page_count, page_links
from feedsvc.config import Config, TopicConfig
from feedsvc.formats import FEED_STYLESHEET, static_url
from feedsvc.keys import (
    ArchiveKey,
    DigestKey,
    FeedKey,
    digest_description,
    digest_title,
    feed_author,
    feed_description,
    feed_title,
    home_url,
    type_labels,
)
from feedsvc.keys import urls as document_urls
from feedsvc.model import EPOCH, FeedDoc, StoredItem, order_key
from feedsvc.publish.digest import Week, closed_weeks, week_entry, week_start
from feedsvc.store import Store

DIGEST_BATCH = 200  # items read at a time while gathering a digest's weeks


def feed_doc(store: Store, config: Config, key: FeedKey, limit: int) -> FeedDoc:
    """A feed's metadata and its newest `limit` entries (none for limit 0)."""
    base = config.service.base_url
    labels = type_labels(config, store.type_labels())
    return FeedDoc(
        id=f"{base}/{key.path}",
        title=feed_title(key, config, labels),
        description=feed_description(key, config, labels),
        home_url=home_url(key, config),
        urls=document_urls(key, base),
        updated=store.feed_changed_at(key),
        ttl_minutes=config.ingest.interval_minutes,
        author=feed_author(key, config),
        types_url=f"{base}/types/",
        topics_url=f"{base}/topics/",
        entries=store.entries(key, limit) if limit else [],
        links=current_links(base, key, archive_pages(store, config, key)),
        hub=config.websub.hub,
        stylesheet_url=static_url(base, FEED_STYLESHEET),
        topic_titles=config.topic_titles,
        topic_authors=config.topic_authors,
    )


def archive_pages(store: Store, config: Config, key: FeedKey) -> int:
    """How many archive pages a feed has."""
    return page_count(store.member_count(key), config.feeds.archive_page_size)


def archive_doc(store: Store, config: Config, key: ArchiveKey, pages: int) -> FeedDoc:
    """An archive page: the feed's metadata with the page's own URLs, links and members."""
    base = config.service.base_url
    feed = feed_doc(store, config, key.feed, 0)  # metadata only
    return replace(
        feed,
        id=f"{base}/{key.path}",
        urls=document_urls(key, base),
        entries=store.archive_entries(key.feed, key.page, config.feeds.archive_page_size),
        links=page_links(base, key, pages, feed.urls),
        hub=None,
        archive=True,
    )


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
        urls=document_urls(key, base),
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
