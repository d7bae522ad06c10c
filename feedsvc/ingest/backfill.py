"""`feedsvc backfill`: a source's whole listing history, page by page, on day one.

It walks `?page=2`, `?page=3`, ... (the source's `page_param`) or follows the page's `next`
selector, politely (the fetcher keeps robots.txt and the per-host delay), until the last
page, a page limit or a date. Each page is stored with where the walk stands, so an
interrupted backfill (Ctrl-C, SIGKILL) goes on from the next page and stores nothing twice.
Page 1 is the regular ingest's: backfill starts at the page after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from feedsvc.config import Config, SourceConfig
from feedsvc.extract.listing import parse_html
from feedsvc.extract.normalize import canonical_link
from feedsvc.fetch.client import Fetched, Fetcher, FetchError
from feedsvc.fetch.page import fetch_source_page, page_url
from feedsvc.ingest.reading import read_pages
from feedsvc.ingest.repairs import in_force
from feedsvc.model import Item
from feedsvc.store import Store
from feedsvc.store.backfills import BackfillState

GONE = ("HTTP 404", "HTTP 410")  # past the last page, sites that count pages answer these
Progress = Callable[[str, int, int], None]  # (url, new, known) after each page


@dataclass(frozen=True)
class Summary:
    """What a backfill run did, and where the source's backfill stands."""

    topic: str
    url: str
    pages_read: int
    items_new: int
    items_known: int
    oldest: datetime | None
    done: bool

    def line(self) -> str:
        oldest = self.oldest.date().isoformat() if self.oldest else "none"
        state = "complete" if self.done else "stopped (run backfill again to go on)"
        return (
            f"{self.topic} {self.url}: backfill pages={self.pages_read} new={self.items_new} "
            f"known={self.items_known} oldest={oldest}: {state}"
        )


def backfill(
    store: Store,
    fetcher: Fetcher,
    config: Config,
    topic: str,
    source: SourceConfig,
    *,
    pages: int | None = None,
    until: date | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Read the source's older pages from where its backfill stands; store each as history."""
    source = in_force(store, topic, source, datetime.now(UTC).replace(microsecond=0))
    state = store.backfill_state(topic, source.url) or _start(store, fetcher, topic, source)
    labels = {**config.types, **store.type_labels()}
    read = new = known = 0
    previous: set[str] = set()
    while not state.done and state.next_url and (pages is None or read < pages):
        now = datetime.now(UTC).replace(microsecond=0)
        page = _fetch(fetcher, source, state.next_url)
        found = read_pages([page], source, labels, now) if page else None
        guids = {item.guid for item in found.items} if found else set()
        if found is None or not found.raws or guids <= previous:  # past the last page
            store.record_backfill_page(topic, source.url, [], {}, replace(state, done=True), now)
            state = replace(state, done=True)
            break
        placed = _placed(found.items, state.oldest_at or now)
        dates = [item.published for item in found.items if item.published] + list(placed.values())
        oldest = min([*dates, *([state.oldest_at] if state.oldest_at else [])], default=None)
        after = replace(
            state,
            next_page=state.next_page + 1,
            next_url=_next_url(source, page, state.next_page + 1),
            pages_read=state.pages_read + 1,
            oldest_at=oldest,
        )
        added, seen = store.record_backfill_page(
            topic,
            source.url,
            found.items,
            placed,
            after,
            now,
            full_text=source.content == "full",
            custom=config.custom_feeds,
            page_size=config.feeds.archive_page_size,
        )
        state = replace(
            after, items_new=state.items_new + added, items_known=state.items_known + seen
        )
        read, new, known, previous = read + 1, new + added, known + seen, guids
        if progress:
            progress(page.url, added, seen)
        if until and oldest and oldest.date() < until:
            break
    done = state.done or not state.next_url
    return Summary(topic, source.url, read, new, known, state.oldest_at, done)


def _start(store: Store, fetcher: Fetcher, topic: str, source: SourceConfig) -> BackfillState:
    """A new walk: from page 2, or the link page 1's `next` selector names."""
    oldest = store.oldest_published(topic, source.url)
    if not source.selectors.next:
        return BackfillState(next_page=2, next_url=page_url(source, 2), oldest_at=oldest)
    first = _fetch(fetcher, source, source.url)
    following = _next_url(source, first, 2) if first else None
    return BackfillState(next_page=2, next_url=following, oldest_at=oldest)


def _fetch(fetcher: Fetcher, source: SourceConfig, url: str) -> Fetched | None:
    """The page, or None past the last one (404, 410); other failures stop the run."""
    try:
        # a `next` link comes from a page: it may reach what the source's own host may
        return fetch_source_page(fetcher, source, url)
    except FetchError as exc:
        if exc.reason.startswith(GONE):
            return None
        raise


def _next_url(source: SourceConfig, page: Fetched, number: int) -> str | None:
    """The page after this one: its `next` link when the source has that selector, else
    page `number` by `page_param`."""
    if not source.selectors.next:
        return page_url(source, number)
    links = parse_html(page.body, page.encoding).cssselect(source.selectors.next)
    hrefs = [link.get("href") for link in links if link.get("href")]
    return canonical_link(hrefs[0], page.url, keep_query=True) if hrefs else None


def _placed(found: list[Item], floor: datetime) -> dict[str, datetime]:
    """Undated items dated by their place in the listing, never "now": each a second older
    than the one before it, all older than the pages read before (`floor`)."""
    return {
        item.guid: floor - timedelta(seconds=index + 1)
        for index, item in enumerate(found)
        if item.published is None
    }
