"""The one write path: ingest -> publish -> export -> announce (-> probe images -> publish),
for the CLI, the scheduler and the tests.

`prepare` runs once before a process serves or schedules: it creates or upgrades the
store and publishes every feed with items that has no bytes kept, so web workers start
read-only; from then on a cycle renders only the feeds its items changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from feedsvc.config import Config
from feedsvc.fetch.client import Fetcher
from feedsvc.generation import generation_marker
from feedsvc.ingest.enrichment import fill_backlog
from feedsvc.ingest.probe import probe_images
from feedsvc.ingest.source import Fetch, SourceReport, ingest, inline, start_fetch
from feedsvc.jobs.fetching import Target, fetched_in_turn
from feedsvc.keys import FeedKey
from feedsvc.model import SchemaChange
from feedsvc.publish.announce import announce
from feedsvc.publish.export import bump_generation, export, export_whole, prune
from feedsvc.publish.follow import kept_feeds
from feedsvc.publish.publisher import publish, unrendered_declared_feeds
from feedsvc.store import Store, open_store

# The one write path: storing a source's items and publishing take turns, whichever thread
# fetched (the scheduler's jobs, the fetch pool); fetching never waits for it.
_WRITE_PATH = threading.Lock()
# A long run of many sources publishes what it stored this often, not only at its end.
PUBLISH_SECONDS = 10.0


def targets(config: Config, topic_slug: str | None = None) -> list[Target]:
    """Every configured source, or one topic's, with its topic."""
    return [
        (topic, source)
        for topic in config.topics
        if topic_slug in (None, topic.slug)
        for source in topic.sources
    ]


def run_cycle(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    sources: Iterable[Target],
    *,
    force: bool = False,
    now: datetime | None = None,
    stored: Callable[[int], None] | None = None,
) -> list[SourceReport]:
    """Ingest these sources, render what changed, write the files, ping the hub; then HEAD
    new images, fetch backfilled items' main text (what `enrich_per_run` leaves), and
    publish again with what they gave. Reports come in `sources` order.

    One source is fetched on this thread; more are fetched `[ingest] concurrency` at a
    time (feedsvc.jobs.fetching). Either way storing and publishing are the write path.
    The probes come after the first publish, so a slow image host never delays new items.
    `stored` hears each source's position once its ingest is committed (the shared queue
    lets the source go then: its changes wait in the store as dirty feeds, whichever host
    publishes them).
    """
    chosen = list(sources)
    if len(chosen) == 1:
        fetches: Iterable[tuple[int, Fetch]] = [
            (0, start_fetch(store, *chosen[0], inline(fetcher)))
        ]
    else:
        fetches = fetched_in_turn(store, config, chosen)
    reports: dict[int, SourceReport] = {}
    published_at = time.monotonic()
    for position, fetched in fetches:
        topic, source = chosen[position]
        with _WRITE_PATH:
            reports[position] = ingest(
                store, fetcher, config, topic, source, force=force, fetched=fetched
            )
        if stored is not None:
            stored(position)
        if time.monotonic() - published_at >= PUBLISH_SECONDS:
            publish_and_export(store, config, fetcher, now)
            published_at = time.monotonic()
    publish_and_export(store, config, fetcher, now)
    ordered = [reports[position] for position in sorted(reports)]
    with _WRITE_PATH:
        texts = sum(
            fill_backlog(
                store,
                fetcher,
                config,
                topic.slug,
                source,
                source.enrich_per_run - report.item_pages,
                datetime.now(UTC).replace(microsecond=0),
            )
            for (topic, source), report in zip(chosen, ordered, strict=True)
        )
    if probe_images(store, fetcher, config.ingest.image_probes_per_run) or texts:
        publish_and_export(store, config, fetcher, now)
    return ordered


def publish_and_export(
    store: Store,
    config: Config,
    fetcher: Fetcher | None = None,
    now: datetime | None = None,
    archive_budget: int | None = None,
    also: Iterable[FeedKey] = (),
) -> None:
    """Render what changed or is due (a digest whose week closed) and the feeds `also`
    named, tell the web workers, write the files, announce it.

    The workers hear of a publish before the files are written: they read the committed
    feeds from the store, so a slow or failing published directory never leaves them
    serving the old bytes. A directory without its marker is written whole first; a failed
    write drops the marker, so the next publish rewrites the directory.
    """
    with _WRITE_PATH:
        fresh_directory = not generation_marker(config).exists()
        published = publish(store, config, now, archive_budget, also)
        if published.anything:
            store.bump_publication()  # every host's web workers and `export --follow`
        if fresh_directory:
            export_whole(config, kept_feeds(store, config))  # every file, then the marker
        else:
            if published.anything:
                bump_generation(config)  # this host's web workers
            try:
                export(config, published.feeds, changed=False)
            except OSError:
                generation_marker(config).unlink()  # the next publish writes every file again
                raise
    if fetcher is not None:
        announce(fetcher, config, published.changed)


def prepare(config: Config) -> SchemaChange | None:
    """Create or upgrade the store and publish what was never rendered: before workers start.
    Returns the schema change made, None when the store was current."""
    store = open_store(config.service)
    try:
        change = store.create_schema()
        store.ensure_sources((topic.slug, source.url) for topic, source in targets(config))
        if store.sync_custom_feeds(config.custom_feeds, datetime.now(UTC)):
            store.bump_publication()  # every host's export removes a dropped feed's files
        store.redo_unrendered(config.feeds.default_limit)  # publishes look at dirty feeds only
        # Feeds and digests only: a store filled in bulk (import-db, a benchmark) may owe
        # thousands of archive pages, which the scheduler's first publish renders instead of
        # holding the workers' start back (until then a request renders a page in memory).
        publish_and_export(
            store, config, archive_budget=0, also=unrendered_declared_feeds(store, config)
        )
        prune(config, store.rendered_feed_keys(config.feeds.default_limit))  # feeds dropped
    finally:
        store.close()
    return change
