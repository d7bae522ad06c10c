"""Render the documents whose items changed, and keep the bytes.

The web tier only looks the bytes up: a feed, each of its archive pages and each topic's
digest are rendered here, in the ingest process, once per change, never per request.
A publish costs what changed: it reads the dirty feeds (an index) and the digests whose
week closed, never every topic x type. A feed that never had an item is not rendered at
all (the feeds config.toml declares excepted, once: `unrendered_declared_feeds`): the web
tier answers for it with the empty document (`feedsvc.publish.live`), the same bytes a
publish would have kept, cached per worker like any other.

Hosts sharing a PostgreSQL store publish side by side: each document is rendered under its
render turn (`Store.feed_render_turn`, an advisory lock), a feed only while it is still dirty,
so one host renders a change and announces it, and a later change stays dirty for the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feedsvc.archive import is_final
from feedsvc.config import Config
from feedsvc.keys import ArchiveKey, DigestKey, DocumentKey, FeedKey, custom_keys
from feedsvc.model import Rendered
from feedsvc.publish.gather import archive_doc, archive_pages, digest_doc, feed_doc
from feedsvc.publish.render import render_all
from feedsvc.store import Store

Outputs = dict[tuple[DocumentKey, str, int], Rendered]


@dataclass
class Published:
    """What a publish rendered: the feeds whose items changed, and every current feed's bytes."""

    changed: list[FeedKey] = field(default_factory=list)
    feeds: dict[FeedKey, dict[str, Rendered]] = field(default_factory=dict)
    digests: list[str] = field(default_factory=list)  # topics whose digest was rendered

    @property
    def anything(self) -> bool:
        """Whether any document was rendered: web workers must then drop what they keep."""
        return bool(self.feeds or self.digests)


def publish(
    store: Store,
    config: Config,
    now: datetime | None = None,
    archive_budget: int | None = None,
    also: Iterable[FeedKey] = (),
) -> Published:
    """Render the changed feeds, those `also` named, and the digests that need it.

    `archive_budget` caps the final archive pages rendered per feed (None: all of them);
    a feed with pages left over stays dirty, so later publishes go on where this one stopped.
    """
    now = now or datetime.now(UTC)
    asked = set(also)
    published = Published()
    for key in dict.fromkeys([*store.dirty_feeds(), *also]):
        # One host renders a feed at a time; not dirty: another rendered it meanwhile.
        with store.feed_render_turn(key) as dirty:
            if dirty or key in asked:
                published.feeds[key] = publish_feed(store, config, key, archive_budget)
            if dirty:
                published.changed.append(key)
    changed_topics = {key.topic for key in published.changed if key.topic and not key.type}
    published.digests = publish_digests(store, config, changed_topics, now)
    return published


def publish_feed(
    store: Store, config: Config, key: FeedKey, archive_budget: int | None = None
) -> dict[str, Rendered]:
    """Render a feed and its archive pages not yet final; returns the feed's own bytes."""
    limit = config.feeds.default_limit
    version = store.feed_version(key)  # before reading items: a later change stays dirty
    current = render_all(feed_doc(store, config, key, limit))
    outputs = _keyed(key, limit, current)
    pages = archive_pages(store, config, key)
    first = store.final_pages(key) + 1
    last_final = pages - 1 if archive_budget is None else min(pages - 1, first + archive_budget - 1)
    newest = [pages] if pages > max(last_final, 0) else []  # an empty feed has no page 0
    for page in [*range(first, last_final + 1), *newest]:
        outputs |= _archive_outputs(store, config, ArchiveKey(key, page), pages)
    store.save_rendered(outputs)
    store.mark_rendered(key, version, final_pages=max(last_final, 0), done=last_final >= pages - 1)
    return current


def _archive_outputs(store: Store, config: Config, key: ArchiveKey, pages: int) -> Outputs:
    """An archive page in every format; a page with a newer one after it is final."""
    size = config.feeds.archive_page_size
    doc = archive_doc(store, config, key, pages)
    return _keyed(key, size, render_all(doc, final=is_final(key, pages)))


def unrendered_declared_feeds(store: Store, config: Config) -> list[FeedKey]:
    """The feeds config.toml declares (each topic's, each [[custom_feeds]]) with no bytes
    kept, even without items: rendered once, at start-up, so each has its file in the
    published directory. Type and topic x type feeds are not: there are types times topics
    of them, and the web tier answers for one that never had an item with the empty
    document."""
    kept = store.rendered_feed_keys(config.feeds.default_limit)
    declared = [FeedKey(topic=topic.slug) for topic in config.topics] + custom_keys(config)
    return [key for key in declared if key not in kept]


def publish_digests(
    store: Store, config: Config, changed_topics: set[str], now: datetime
) -> list[str]:
    """Render the digests of changed topics and of those whose week closed; returns those
    topics. A topic without a digest yet is answered by the web tier until its first change."""
    due = changed_topics | store.expired_digests(now)
    topics = [topic for slug in sorted(due) if (topic := config.topic(slug)) is not None]
    for topic in topics:
        key = DigestKey(topic.slug)
        with store.render_turn(key.path):  # the later of two hosts reads what the first kept
            doc, closes_at = digest_doc(store, config, topic, now)
            rendered = render_all(doc, stale_at=closes_at)
            store.save_rendered(_keyed(key, config.feeds.default_limit, rendered))
    return [topic.slug for topic in topics]


def _keyed(key: DocumentKey, limit: int, rendered: dict[str, Rendered]) -> Outputs:
    """A document's formats keyed as the store keeps them."""
    return {(key, fmt, limit): out for fmt, out in rendered.items()}
