"""The values that flow between the stages: items, stored items, the document a renderer
writes (`FeedDoc`), rendered bytes, statuses.

No stage's machinery lives here (no SQLAlchemy, no feedgen, no Flask), so the pure
stages can share these types without importing the store or the web framework.
An item's content fields are declared once, in `ItemContent`; the store's columns and
both directions of its row mapping are made from that one list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ItemContent:
    """What a reader sees of an item: every field the page gave, cleaned."""

    link: str
    title: str
    summary_html: str
    summary_text: str
    type_slug: str
    type_label: str
    image_url: str | None
    image_caption: str | None
    image_credit: str | None
    author: str | None


CONTENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ItemContent))


def content_of(source: object) -> dict[str, object]:
    """The content fields of an item, a stored item or a database row, by name."""
    return {name: getattr(source, name) for name in CONTENT_FIELDS}


@dataclass(frozen=True, kw_only=True)
class Item(ItemContent):
    """A feed-ready item as a page shows it. `guid` is its canonical link and never changes."""

    guid: str
    published: datetime | None
    position: int
    date_day_only: bool = False  # the page gave a day, not an instant: enrichment may refine it
    date_problem: str | None = None  # text that was there but not a usable date, and why
    full_html: str | None = None  # the page's main text, when fetched in this run (content=full)

    def content_hash(self) -> str:
        """A fingerprint of what a reader sees, so an edit is noticed and nothing else is."""
        visible = asdict(self)
        volatile_fields = ("published", "position", "date_day_only", "date_problem", "full_html")
        for volatile in volatile_fields:
            visible.pop(volatile)
        encoded = json.dumps(visible, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()[:32]


@dataclass(frozen=True)
class KnownItem:
    """A stored item as a repair compares it with a redesigned page: guid, link, title and
    its date (None when the page never gave one)."""

    guid: str
    link: str
    title: str
    published: datetime | None


@dataclass(frozen=True)
class SourceRepair:
    """A source's repaired selectors: proposed, or applied (in force in place of the
    config's); `config_fingerprint` is the config's block when it was found."""

    topic: str
    url: str
    state: str  # "proposed" or "applied"
    since: datetime
    config_fingerprint: str
    block: str  # the [topics.sources.selectors] keys, TOML
    recognised: int  # stored items it found again
    visible: int  # stored items the page linked
    note: str  # what it found, in one line


@dataclass(frozen=True, kw_only=True)
class StoredItem(ItemContent):
    """An item as a feed shows it: its content plus the dates and place the store gave it."""

    guid: str
    published: datetime
    updated: datetime
    first_seen: datetime
    order_key: str
    topics: tuple[str, ...] = ()
    content_html: str | None = None  # prepared content (a digest's week); None: built from fields
    full_html: str | None = None  # the main text of the item's page (a source's content = "full")
    image_length: int | None = None  # bytes, once a HEAD request has told (feedsvc.ingest.probe)
    image_type: str | None = None  # the media type the image's server sent


@dataclass(frozen=True)
class ImageProbe:
    """An item whose image still needs its HEAD request, and how many tries failed so far."""

    guid: str
    image_url: str
    attempts: int
    source_url: str  # whose page showed the image: the guard allows that source's kinds


@dataclass(frozen=True)
class Headline:
    """An item as the discovery pages list it: title, link, type, date and thumbnail."""

    title: str
    link: str
    type_label: str
    published: datetime
    image_url: str | None
    image_caption: str | None


@dataclass(frozen=True)
class SourceStatus:
    """What an operator needs to know about one source."""

    topic: str
    url: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failing_since: datetime | None
    items_on_page: int
    items_found: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_undated_text: str | None = None  # the last date text that was no usable date, and why
    last_undated_at: datetime | None = None
    full_text_failures: int = 0  # items whose main text could not be had (content = "full")
    last_full_text_error: str | None = None  # the last reason, with the item's link
    last_full_text_error_at: datetime | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """One item's once-only task after a run: done (`error` None), failed (tried again on a
    later run), refused (`final`: never tried again), or not yet tried."""

    guid: str
    task: str
    tried: bool = True
    error: str | None = None
    final: bool = False
    result: str | None = None


@dataclass(frozen=True)
class Leader:
    """Who schedules (`host:pid`) and since when."""

    holder: str
    since: datetime


@dataclass(frozen=True)
class QueueState:
    """A source's place in the shared ingest's queue (PostgreSQL, store/queue.py)."""

    due_at: datetime | None  # when the leader queues it next (None: not scheduled)
    queued_at: datetime | None  # waiting or running since then (None: not in the queue)
    leased_by: str | None  # the host (host:pid) that claimed it
    lease_until: datetime | None  # past: its holder stopped renewing and another host may take it

    def held_by(self, now: datetime) -> str | None:
        """The host whose lease on the source is live at `now` (None: waiting or idle)."""
        live = self.lease_until is not None and self.lease_until >= now
        return self.leased_by if self.queued_at is not None and live else None


@dataclass(frozen=True)
class QueueTotals:
    """The whole queue at once: the signal that the hosts keep up, or do not."""

    queued: int  # in the queue, waiting or running
    leased: int  # of those, held by a live lease (running on a host)
    oldest_waiting_seconds: float  # how long the oldest source no host holds has waited (0: none)


@dataclass(frozen=True)
class Changes:
    """What one source's ingest did to the store."""

    new: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class Rendered:
    """A document's bytes as served, with the validators that go with them."""

    body: bytes
    gzip_body: bytes
    etag: str
    last_modified: datetime
    final: bool = False  # these bytes never change again (a complete archive page)
    stale_at: datetime | None = None  # render again from this time on (a digest's week closes)


def order_key(published: datetime, run_id: int, position: int) -> str:
    """Sorts newest first when descending: by date, then later ingests, then page order."""
    return (
        f"{published.astimezone(UTC):%Y%m%d%H%M%S}{run_id:010d}{99_999 - min(position, 99_999):05d}"
    )


@dataclass(frozen=True)
class FeedDoc:
    """Everything a renderer needs: feed metadata, its URLs and its entries, newest first."""

    id: str
    title: str
    description: str
    home_url: str
    urls: dict[str, str]
    updated: datetime
    ttl_minutes: int
    author: str  # the channel's author and publisher; entries without a byline get their topic's
    types_url: str
    topics_url: str
    entries: Sequence[StoredItem]
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # rel -> format -> URL
    hub: str | None = None  # the WebSub hub subscribers may use
    archive: bool = False  # an RFC 5005 archive document, marked <fh:archive/>
    stylesheet_url: str | None = None
    topic_titles: Mapping[str, str] = field(default_factory=dict)  # slug -> category label
    topic_authors: Mapping[str, str] = field(default_factory=dict)  # slug -> default author


@dataclass(frozen=True)
class SchemaChange:
    """A store moved to a newer schema revision; `before` is None when it was just created."""

    before: str | None
    after: str

    def line(self) -> str:
        """What the command line says of it: one line."""
        if self.before is None:
            return f"store created at revision {self.after}"
        return f"store upgraded to revision {self.after} (from {self.before})"
