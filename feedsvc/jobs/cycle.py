"""The one write path: ingest -> publish -> export -> announce (-> probe images -> publish),
for the CLI, the scheduler and the tests.

`prepare` runs once before a process serves or schedules: it creates or upgrades the
store and publishes whatever was never rendered, so web workers start read-only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from feedsvc.config import Config, SourceConfig, TopicConfig
from feedsvc.fetch.client import Fetcher
from feedsvc.generation import generation_marker
from feedsvc.ingest.enrichment import fill_backlog
from feedsvc.ingest.probe import probe_images
from feedsvc.ingest.source import SourceReport, ingest
from feedsvc.model import SchemaChange
from feedsvc.publish.announce import announce
from feedsvc.publish.export import export
from feedsvc.publish.follow import kept_feeds
from feedsvc.publish.publisher import publish
from feedsvc.store import Store, open_store

Target = tuple[TopicConfig, SourceConfig]
# The scheduler's jobs run in threads; their publishes take turns (each would redo the other's).
_PUBLISHING = threading.Lock()


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
) -> list[SourceReport]:
    """Ingest these sources, render what changed, write the files, ping the hub; then HEAD
    new images, fetch backfilled items' main text (what `enrich_per_run` leaves), and
    publish again with what they gave.

    The probes come after the first publish, so a slow image host never delays new items.
    """
    chosen = list(sources)
    store.sync_custom_feeds(config.custom_feeds, datetime.now(UTC))  # a definition changed
    reports = [
        ingest(store, fetcher, config, topic, source, force=force) for topic, source in chosen
    ]
    publish_and_export(store, config, fetcher, now)
    texts = sum(
        fill_backlog(
            store,
            fetcher,
            topic.slug,
            source,
            source.enrich_per_run - report.item_pages,
            datetime.now(UTC).replace(microsecond=0),
        )
        for (topic, source), report in zip(chosen, reports, strict=True)
    )
    if probe_images(store, fetcher, config.ingest.image_probes_per_run) or texts:
        publish_and_export(store, config, fetcher, now)
    return reports


def publish_and_export(
    store: Store,
    config: Config,
    fetcher: Fetcher | None = None,
    now: datetime | None = None,
    archive_budget: int | None = None,
) -> None:
    """Render what changed or is due (a digest whose week closed), write it out, announce it."""
    with _PUBLISHING:
        fresh_directory = not generation_marker(config).exists()
        published = publish(store, config, now, archive_budget)
        feeds = kept_feeds(store, config) if fresh_directory else published.feeds
        export(config, feeds, changed=published.anything)
        if published.anything:
            store.bump_publication()  # every host's web workers and `export --follow`
    if fetcher is not None:
        announce(fetcher, config, published.changed)


def prepare(config: Config) -> SchemaChange | None:
    """Create or upgrade the store and publish what was never rendered: before workers start.
    Returns the schema change made, None when the store was current."""
    store = open_store(config.service)
    try:
        change = store.create_schema()
        store.ensure_sources((topic.slug, source.url) for topic, source in targets(config))
        store.sync_custom_feeds(config.custom_feeds, datetime.now(UTC))
        # Feeds and digests only: a store filled in bulk (import-db, a benchmark) may owe
        # thousands of archive pages, which the scheduler's first publish renders instead of
        # holding the workers' start back (until then a request renders a page in memory).
        publish_and_export(store, config, archive_budget=0)
    finally:
        store.close()
    return change
