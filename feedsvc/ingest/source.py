"""Ingest a source: fetch -> extract -> normalize -> store, in one transaction.

It stops at the store and reports what changed; `cycle.run_cycle` then publishes.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from feedsvc.config import Config, SourceConfig, TopicConfig
from feedsvc.extract.fingerprint import extraction_fingerprint
from feedsvc.extract.listing import ExtractError
from feedsvc.extract.normalize import (
    Context,
)
from feedsvc.extract.sitefeed import FEED_TYPES
from feedsvc.fetch.client import Fetched, Fetcher, FetchError
from feedsvc.fetch.page import accepted_types, fetch_source_page, page_url
from feedsvc.ingest.enrichment import MAX_ATTEMPTS, enrich_new, page_tasks
from feedsvc.ingest.reading import PageItems, implausible, read_pages, unusable
from feedsvc.ingest.repairs import after_broken, in_force, settled, unwaited
from feedsvc.model import Item, SourceStatus
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
    undated: int = 0
    item_pages: int = 0  # items' own pages fetched (enrich, content = "full")

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        """One line per source: what was fetched and what changed, or the error."""
        head = f"{self.topic} {self.url}: {self.outcome}"
        if self.error:
            return f"{head}: {self.error}"
        counts = f"new={self.new} updated={self.updated} unchanged={self.unchanged}"
        counts += f" skipped={self.skipped}" if self.skipped else ""
        return f"{head} {counts}" + (f" undated={self.undated}" if self.undated else "")


def ingest(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    topic: TopicConfig,
    source: SourceConfig,
    *,
    force: bool = False,
    fetched: Fetch | None = None,
) -> SourceReport:
    """One source, one transaction: either every item is stored or nothing changes.

    `force` stores a page that looks broken (far fewer items than usual, many
    incomplete ones) when the operator knows it really changed. `fetched` is the source's
    pages, being fetched on another thread (`start_fetch`); without it they are
    fetched here.
    """
    fetched = fetched or start_fetch(store, topic, source, inline(fetcher))
    now, started = fetched.now, fetched.started
    report = SourceReport(topic.slug, source.url, "error")
    try:
        report = _ingest(store, fetcher, config, topic, source, now, force, fetched)
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
        if report.outcome != "repaired":  # read with the selectors in force: no proposal
            settled(store, topic.slug, source.url, now)
    store.record_run(
        topic.slug, source.url, now, report.outcome, time.monotonic() - started, report.new
    )
    return report


def _ingest(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    topic: TopicConfig,
    source: SourceConfig,
    now: datetime,
    force: bool,
    fetched: Fetch,
) -> SourceReport:
    previous, fingerprint, corrected = fetched.previous, fetched.fingerprint, fetched.corrected
    again, configured, source = fetched.again, source, fetched.source
    try:
        pages = fetched.pages.result()
    except FetchError as failure:  # a browser waiting for markup a redesign took away?
        if not (pages := unwaited(fetcher, config, source, failure)):
            raise
    if pages[0].not_modified:
        store.record_unchanged(topic.slug, source.url, now)
        return SourceReport(topic.slug, source.url, "not-modified")
    body_hash = hashlib.sha256(b"".join(page.body for page in pages)).hexdigest()
    if previous is not None and previous.body_hash == body_hash and not again:
        store.record_unchanged(topic.slug, source.url, now)
        return SourceReport(topic.slug, source.url, "same-bytes")
    labels = {**config.types, **store.type_labels()}
    outcome = "reextracted" if corrected else "fetched"
    try:
        found = _items(pages, source, labels, now)
        if not force:
            _check(implausible(config, found))
            if not corrected:  # recent counts were found by the old config: no yardstick
                _check_not_shrunk(store, config, topic, source, len(found.items))
    except IngestError as broken:  # a redesign? the stored items may tell the new selectors
        repaired, note = after_broken(store, config, topic.slug, configured, pages[0], now)
        if repaired is None:
            raise IngestError(f"{broken}; {note}" if note else str(broken)) from None
        source, outcome, fingerprint = repaired, "repaired", extraction_fingerprint(repaired)
        found = _items(pages, source, labels, now)
    items, skipped = found.items, found.skipped
    context = Context(page_url=pages[0].url, source=source, type_labels=labels, now=now)
    items, tasks = enrich_new(store, fetcher, context, items)
    undated = [item for item in items if item.published is None]
    changes = store.record_items(
        topic.slug,
        source.url,
        items,
        now,
        etag=pages[0].etag,
        last_modified=pages[0].last_modified,
        body_hash=body_hash,
        undated_text=_undated_text(undated, source),
        tasks=tasks,
        custom=config.custom_feeds,
        page_size=config.feeds.archive_page_size,
    )
    store.record_fingerprint(topic.slug, source.url, fingerprint)
    return SourceReport(
        topic.slug,
        source.url,
        outcome,
        changes.new,
        changes.updated,
        changes.unchanged,
        skipped,
        undated=len(undated) if source.selectors.date or source.kind == "feed" else 0,
        item_pages=len({outcome.guid for outcome in tasks if outcome.tried}),
    )


@dataclass(frozen=True)
class Fetch:
    """One source's listing pages, being fetched, and what the store said before the fetch
    (read on the write path)."""

    now: datetime
    started: float  # monotonic, when the fetch was asked for: the run's duration counts it
    source: SourceConfig  # as read now: the config's, or with a repair's selectors (in_force)
    previous: SourceStatus | None
    fingerprint: str
    corrected: bool  # the config that shaped the stored items changed: re-extract once
    again: bool  # read the page whatever the site says (304, same bytes)
    pages: Future[list[Fetched]]


# Starts fetching a source's pages (with these validators, or none): `inline` fetches on
# the calling thread, `feedsvc.jobs.fetching` on a pool's. The future holds the pages or
# the FetchError, raised where the pages are read, on the write path.
PageFetch = Callable[[SourceConfig, SourceStatus | None], Future[list[Fetched]]]


def inline(fetcher: Fetcher) -> PageFetch:
    """Fetch on the calling thread, now."""

    def fetch(source: SourceConfig, validators: SourceStatus | None) -> Future[list[Fetched]]:
        future: Future[list[Fetched]] = Future()
        try:
            future.set_result(fetch_pages(fetcher, source, validators))
        except Exception as exc:  # raised again where the pages are read, as a pool's would be
            future.set_exception(exc)
        return future

    return fetch


def start_fetch(store: Store, topic: TopicConfig, source: SourceConfig, fetch: PageFetch) -> Fetch:
    """Read what the fetch needs from the store (the last validators, whether the config
    changed or items wait for enrichment), then start fetching the pages with `fetch`."""
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    source = in_force(store, topic.slug, source, now)
    previous = store.source(topic.slug, source.url)
    fingerprint = extraction_fingerprint(source)
    corrected = previous is not None and previous.last_success_at is not None
    corrected = corrected and store.extraction_fingerprint(topic.slug, source.url) != fingerprint
    waiting = any(
        store.has_due_tasks(topic.slug, source.url, task, MAX_ATTEMPTS)
        for task in page_tasks(source)
    )
    again = waiting or corrected  # items still to enrich, or a new config: read the page again
    conditional = source.pages == 1 and previous is not None and previous.last_success_at
    pages = fetch(source, previous if conditional and not again else None)
    return Fetch(now, started, source, previous, fingerprint, corrected, again, pages)


def _items(
    pages: list[Fetched], source: SourceConfig, labels: dict[str, str], now: datetime
) -> PageItems:
    """Normalized items of every page; raises when none is usable."""
    found = read_pages(pages, source, labels, now)
    _check(unusable(found, source))
    for message in found.problems:
        log.info("%s: %s", source.url, message)
    return found


def _undated_text(undated: list[Item], source: SourceConfig) -> str | None:
    """What to show as the source's last undated text: the last date that was no date."""
    problems = [item.date_problem for item in undated if item.date_problem]
    if problems:
        return f'{problems[-1]} (date selector "{source.selectors.described("date")}")'
    return None


def _check(problem: str | None) -> None:
    if problem:
        raise IngestError(problem)


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


def fetch_pages(
    fetcher: Fetcher, source: SourceConfig, validators: SourceStatus | None = None
) -> list[Fetched]:
    """The listing pages; page 1 conditionally when the last fetch's validators are given."""
    return [
        fetch_source_page(
            fetcher,
            source,
            page_url(source, number),
            etag=validators.etag if validators and number == 1 else None,
            last_modified=validators.last_modified if validators and number == 1 else None,
            accept=accepted_types(source, FEED_TYPES),
        )
        for number in range(1, source.pages + 1)
    ]
