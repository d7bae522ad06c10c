"""Ingest a source: fetch -> extract -> normalize -> store, then render what changed."""

from __future__ import annotations

import hashlib
import logging
import statistics
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from feedsvc.config import Config, SourceConfig, TopicConfig
from feedsvc.extract import ExtractError, RawItem, extract
from feedsvc.fetch import Fetcher, FetchError, user_agent
from feedsvc.normalize import Context, Item, NormalizeError, normalize
from feedsvc.probe import probe_images
from feedsvc.publish import announce, publish_changed
from feedsvc.store import Store

log = logging.getLogger(__name__)

RECENT_RUNS = 5  # how many stored ingests tell what a normal page of a source holds


class IngestError(Exception):
    """A page that was fetched but cannot be trusted: the store is left as it was."""


@dataclass(frozen=True)
class SourceReport:
    """The outcome of one source's ingest, as the CLI prints it."""

    topic: str
    url: str
    outcome: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        """One line per source: what was fetched and what changed, or the error."""
        head = f"{self.topic} {self.url}: {self.outcome}"
        if self.error:
            return f"{head}: {self.error}"
        counts = f"new={self.new} updated={self.updated} unchanged={self.unchanged}"
        return f"{head} {counts}" + (f" skipped={self.skipped}" if self.skipped else "")


def make_fetcher(config: Config) -> Fetcher:
    """The fetcher the config asks for."""
    return Fetcher(config.ingest, agent=user_agent(config.service.base_url))


def ingest(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    topic_slug: str | None = None,
    *,
    force: bool = False,
) -> list[SourceReport]:
    """Ingest every source (or one topic's), render the feeds that changed, then probe images."""
    topics = [t for t in config.topics if topic_slug in (None, t.slug)]
    reports = [
        ingest_source(store, fetcher, config, topic, source, force=force)
        for topic in topics
        for source in topic.sources
    ]
    publish_then_probe(store, fetcher, config)
    return reports


def publish_then_probe(store: Store, fetcher: Fetcher, config: Config) -> None:
    """Render and announce what changed; then HEAD new images and publish the sizes they gave.

    The probes come after the first publish, so a slow image host never delays new items.
    """
    announce(fetcher, config, publish_changed(store, config))
    if probe_images(store, fetcher, config.ingest.image_probes_per_run):
        announce(fetcher, config, publish_changed(store, config))


def ingest_source(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    topic: TopicConfig,
    source: SourceConfig,
    *,
    force: bool = False,
) -> SourceReport:
    """One source, one transaction: either every item is stored or nothing changes.

    `force` stores a page that looks broken (far fewer items than usual, many
    incomplete ones) when the operator knows it really changed.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    report = SourceReport(topic.slug, source.url, "error")
    try:
        report = _ingest(store, fetcher, config, topic, source, now, force)
    except (FetchError, ExtractError, IngestError) as exc:
        report = SourceReport(topic.slug, source.url, "error", error=str(exc))
    except Exception as exc:  # a bug must not stop the other sources; it is logged in full
        log.exception("ingest of %s failed unexpectedly", source.url)
        report = SourceReport(topic.slug, source.url, "error", error=f"internal: {exc!r}")
    if report.error:
        store.record_failure(topic.slug, source.url, report.error, now)
        log.warning("%s", report.line())
    else:
        log.info("%s", report.line())
    return report


def _ingest(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    topic: TopicConfig,
    source: SourceConfig,
    now: datetime,
    force: bool,
) -> SourceReport:
    previous = store.source(topic.slug, source.url)
    conditional = source.pages == 1 and previous is not None and previous.last_success_at
    pages = [
        fetcher.fetch(
            page_url(source, number),
            etag=previous.etag if conditional else None,
            last_modified=previous.last_modified if conditional else None,
            robots=source.robots,
        )
        for number in range(1, source.pages + 1)
    ]
    if pages[0].not_modified:
        store.record_unchanged(topic.slug, source.url, now)
        return SourceReport(topic.slug, source.url, "not-modified")
    body_hash = hashlib.sha256(b"".join(page.body for page in pages)).hexdigest()
    if previous is not None and previous.body_hash == body_hash:
        store.record_unchanged(topic.slug, source.url, now)
        return SourceReport(topic.slug, source.url, "same-bytes")
    labels = {**config.types, **store.type_labels()}
    items, skipped = _items(pages, source, labels, now)
    if not force:
        _check_plausible(config, source, len(items), skipped)
        _check_not_shrunk(store, config, topic, source, len(items))
    changes = store.record_items(
        topic.slug,
        source.url,
        items,
        now,
        etag=pages[0].etag,
        last_modified=pages[0].last_modified,
        body_hash=body_hash,
    )
    return SourceReport(
        topic.slug, source.url, "fetched", changes.new, changes.updated, changes.unchanged, skipped
    )


def _items(
    pages: list, source: SourceConfig, labels: dict[str, str], now: datetime
) -> tuple[list[Item], int]:
    """Normalized items of every page, each link once, in page order; raises when none is usable."""
    found: dict[str, Item] = {}
    raw_count = skipped = 0
    for page in pages:
        context = Context(page_url=page.url, source=source, type_labels=labels, now=now)
        for raw in extract(page.body, source.selectors, page.encoding):
            raw_count += 1
            item = _normalized(raw, context)
            if item is None:
                skipped += 1
            elif item.guid not in found:
                found[item.guid] = _placed(item, raw_count - 1)
    if not raw_count:
        raise IngestError(f'extract: no items matched "{source.selectors.item}"')
    if not found:
        raise IngestError(f"normalize: none of the {raw_count} items had a title and a link")
    return list(found.values()), skipped


def _normalized(raw: RawItem, context: Context) -> Item | None:
    """The clean item, or None for one no feed can carry: one odd item never fails a page."""
    try:
        return normalize(raw, context)
    except NormalizeError as exc:
        log.info("%s: %s", context.source.url, exc)
    except Exception:  # a bug met by one odd item; logged in full, the page goes on
        log.exception("%s: item %d could not be normalized", context.source.url, raw.position)
    return None


def _check_plausible(config: Config, source: SourceConfig, usable: int, skipped: int) -> None:
    """Many items without a title or link means the markup changed under the selectors."""
    total = usable + skipped
    limit = config.ingest.max_incomplete_ratio
    if total and skipped / total > limit:
        raise IngestError(
            f"normalize: {skipped} of {total} items have no title or usable link (more than "
            f"{limit:.0%}); the page layout may have changed"
        )


def _check_not_shrunk(
    store: Store, config: Config, topic: TopicConfig, source: SourceConfig, usable: int
) -> None:
    """Far fewer items than recent runs found means a broken page, not a quiet month."""
    recent = store.recent_item_counts(topic.slug, source.url, RECENT_RUNS)
    if not recent:
        return
    usual = statistics.median(recent)
    ratio = config.ingest.min_items_ratio
    if usable < ratio * usual:
        raise IngestError(
            f"extract: only {usable} items on the page, fewer than {ratio:.0%} of the {usual:g} "
            f"found by recent runs; the page may be broken (if it really shrank: "
            f"feedsvc ingest --force)"
        )


def _placed(item: Item, position: int) -> Item:
    """The item with its position across all pages read, so page 2 sorts after page 1."""
    return item if item.position == position else replace(item, position=position)


def page_url(source: SourceConfig, number: int) -> str:
    """The URL of listing page `number`; page 1 is the configured URL itself."""
    if number == 1:
        return source.url
    parts = urlsplit(source.url)
    query = [(k, v) for k, v in parse_qsl(parts.query, True) if k != source.page_param]
    query.append((source.page_param, str(number)))
    return urlunsplit(parts._replace(query=urlencode(query)))
