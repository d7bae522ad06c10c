"""Render a document in memory for one request, from the store, and never keep it.

For what the publisher does not keep: a feed at a `?limit=` other than the default, and
(rarely) a document asked for before its first publish or a digest whose week has just
closed. Reads only. The web tier imports this module on first use, so a worker that
only serves published bytes never loads feedgen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from feedsvc.archive import is_final
from feedsvc.config import Config, TopicConfig
from feedsvc.keys import ArchiveKey, FeedKey
from feedsvc.model import FeedDoc, Rendered
from feedsvc.publish.gather import archive_doc, archive_pages, digest_doc, feed_doc
from feedsvc.publish.render import RENDERERS, package
from feedsvc.store import Store


def feed(store: Store, config: Config, key: FeedKey, fmt: str, limit: int) -> Rendered:
    """A feed's newest `limit` entries in one format."""
    return _rendered(feed_doc(store, config, key, limit), fmt)


def archive_page(store: Store, config: Config, key: ArchiveKey, fmt: str) -> Rendered | None:
    """An archive page in one format; None when the feed has no such page."""
    pages = archive_pages(store, config, key.feed)
    if not 1 <= key.page <= pages:
        return None
    return _rendered(archive_doc(store, config, key, pages), fmt, final=is_final(key, pages))


def digest(store: Store, config: Config, topic: TopicConfig, fmt: str, now: datetime) -> Rendered:
    """A topic's weekly digest as of `now`."""
    doc, closes_at = digest_doc(store, config, topic, now)
    return _rendered(doc, fmt, stale_at=closes_at)


def _rendered(doc: FeedDoc, fmt: str, **marks: Any) -> Rendered:
    """One format of a document, packaged as the publisher packages it."""
    return replace(package(RENDERERS[fmt](doc), doc), **marks)
