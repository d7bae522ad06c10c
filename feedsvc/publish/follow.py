"""`feedsvc export --follow`: keep this host's published directory in step with the store.

One per host, beside nginx. At start it writes every kept feed (a new or emptied directory
is whole at once); then, whenever the store's publish version moves (a publish on any
host: NOTIFY on PostgreSQL, a one-second poll on SQLite), it rewrites the feed files
whose ETag changed, atomically (export.export), and bumps the local generation marker.
"""

from __future__ import annotations

import logging
import threading
import time

from feedsvc.config import Config
from feedsvc.keys import FeedKey
from feedsvc.model import Rendered
from feedsvc.publish.export import bump_generation, export, export_whole, remove_feed
from feedsvc.store import Store, open_store
from feedsvc.store.watch import PublishWatch

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # SQLite: how often the publish version is read


def kept_feeds(store: Store, config: Config) -> dict[FeedKey, dict[str, Rendered]]:
    """Every feed's kept bytes: what a new or emptied publish directory needs."""
    feeds: dict[FeedKey, dict[str, Rendered]] = {}
    for key, fmt, out in store.rendered_feeds(config.feeds.default_limit):
        feeds.setdefault(key, {})[fmt] = out
    return feeds


def export_all(config: Config) -> int:
    """Write every kept feed into the published directory (`feedsvc export`); how many."""
    store = open_store(config.service, readonly=True)
    try:
        feeds = kept_feeds(store, config)
        export_whole(config, feeds)
        return len(feeds)
    finally:
        store.close()


def follow(config: Config, stop: threading.Event | None = None) -> None:
    """Rebuild the directory, then rewrite changed feeds after every publish, until `stop`."""
    stop = stop or threading.Event()
    store = open_store(config.service, readonly=True)
    try:
        version = store.publication_version()  # before the snapshot: a publish during it shows
        feeds = kept_feeds(store, config)
        export_whole(config, feeds)
        # What was written, from the snapshot itself: a publish landing meanwhile differs.
        written = {(key, fmt): out.etag for key, outs in feeds.items() for fmt, out in outs.items()}
        log.info("published directory rebuilt: %d feed files", len(written))
        watch = PublishWatch(store) if store.shared else None
        while not stop.is_set():
            moved = _next_version(store, watch, version, stop)
            if moved is not None:
                version = moved
                written = _export_changed(store, config, written)
    finally:
        store.close()


def _next_version(
    store: Store, watch: PublishWatch | None, seen: int, stop: threading.Event
) -> int | None:
    """The publish version once it differs from `seen`; None when nothing moved yet."""
    if watch is not None:
        current = watch.wait_for_change(seen, timeout=1.0)
    else:
        stop.wait(POLL_SECONDS)
        current = store.publication_version()
    return current if current is not None and current != seen else None


def _export_changed(
    store: Store, config: Config, written: dict[tuple[FeedKey, str], str]
) -> dict[tuple[FeedKey, str], str]:
    """Write the feed formats whose ETag differs from the one last written, and remove those
    the store no longer keeps; the new ETags."""
    limit = config.feeds.default_limit
    current = store.rendered_feed_etags(limit)
    changed: dict[FeedKey, dict[str, Rendered]] = {}
    for (key, fmt), etag in current.items():
        if written.get((key, fmt)) != etag and (out := store.rendered(key, fmt, limit)):
            changed.setdefault(key, {})[fmt] = out
    gone = [(key, fmt) for key, fmt in written if (key, fmt) not in current]
    for key, fmt in gone:
        remove_feed(config, key, [fmt])
    if changed:
        started = time.monotonic()
        export(config, changed)
        log.info("exported %d changed feeds in %.3f s", len(changed), time.monotonic() - started)
    elif gone:
        bump_generation(config)
    if gone:
        log.info("removed %d feed files the store no longer keeps", len(gone))
    return current
