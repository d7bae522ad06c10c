"""The reads a web worker makes, as plain SQL run by the database's own driver.

A web worker answers from published bytes and a few small lookups; loading SQLAlchemy for
them would cost every worker about 14 MB. Each statement is written once, here: the web
tier runs it through `Reader` (sqlite3 or psycopg, no SQLAlchemy) and the full `Store`
runs the same statement through its engine, so there is one version of each read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from feedsvc.config import sqlite_file
from feedsvc.keys import DocumentKey, FeedKey
from feedsvc.model import Headline, Leader, QueueState, QueueTotals, Rendered, SourceStatus
from feedsvc.store.search_reads import SearchReads

# Runs one statement (qmark parameters) and returns its rows.
Run = Callable[[str, Sequence[Any]], list[tuple]]
# The page cache of a web worker's SQLite search connection, KiB (see Reader).
SEARCH_CACHE_KIB = 16 * 1024

_RENDERED = (
    "SELECT body, gzip_body, etag, last_modified, final, stale_at FROM rendered "
    'WHERE doc = ? AND format = ? AND "limit" = ?'
)
_SOURCE_COLUMNS = ", ".join(SourceStatus.__dataclass_fields__)
_SOURCES = f"SELECT {_SOURCE_COLUMNS} FROM sources ORDER BY topic, url"
_SOURCE = f"SELECT {_SOURCE_COLUMNS} FROM sources WHERE topic = ? AND url = ?"
_TYPE_LABELS = "SELECT slug, label FROM types"
_TOPIC_TYPES = "SELECT DISTINCT type_slug FROM topic_items WHERE topic = ? ORDER BY type_slug"
_COUNT_ITEMS = "SELECT count(*) FROM items"
_LEADER = "SELECT holder, since FROM leadership WHERE role = 'scheduler'"
_REPAIRS = (
    "SELECT s.topic, s.url, r.state, r.since FROM source_repairs r "
    "JOIN sources s ON s.id = r.source_id"
)
# The shared ingest's queue (PostgreSQL only), on the database's clock as store/queue.py runs it.
_QUEUE_NOW = "timezone('utc', clock_timestamp())"
_QUEUE = (
    "SELECT s.topic, s.url, q.due_at, q.queued_at, q.leased_by, q.leased_until "
    "FROM source_schedule q JOIN sources s ON s.id = q.source_id"
)
_QUEUE_TOTALS = (
    "SELECT count(q.queued_at), count(*) FILTER (WHERE q.queued_at IS NOT NULL "
    f"AND q.leased_until >= {_QUEUE_NOW}), COALESCE(EXTRACT(EPOCH FROM {_QUEUE_NOW} - "
    f"min(q.queued_at) FILTER (WHERE q.leased_until IS NULL OR q.leased_until < {_QUEUE_NOW})"
    "), 0) FROM source_schedule q"
)
_MEMBER_COUNT = "SELECT member_count FROM feeds WHERE key = ?"
_NEWEST = (
    "SELECT i.title, i.link, i.type_label, i.published_at, i.image_url, i.image_caption "
    "FROM topic_items t JOIN items i ON i.id = t.item_id "
    "WHERE t.topic = ? AND NOT t.hidden AND NOT t.history ORDER BY t.order_key DESC LIMIT ?"
)
_SOURCE_DATES = {
    "last_attempt_at",
    "last_success_at",
    "failing_since",
    "last_undated_at",
    "last_full_text_error_at",
}


class Reads(SearchReads):
    """The web tier's reads over any way of running a statement."""

    run: Run

    def rendered(self, key: DocumentKey, fmt: str, limit: int) -> Rendered | None:
        """The kept bytes of a document, or None when it has not been rendered at this limit."""
        rows = self.run(_RENDERED, (key.path, fmt, limit))
        if not rows:
            return None
        body, gzip_body, etag, last_modified, final, stale_at = rows[0]
        return Rendered(
            bytes(body), bytes(gzip_body), etag, _utc(last_modified), bool(final), _utc(stale_at)
        )

    def sources(self) -> list[SourceStatus]:
        """Every source's status, by topic and URL."""
        return [_status(row) for row in self.run(_SOURCES, ())]

    def source(self, topic: str, url: str) -> SourceStatus | None:
        """The status of one source, or None before its first ingest."""
        rows = self.run(_SOURCE, (topic, url))
        return _status(rows[0]) if rows else None

    def type_labels(self) -> dict[str, str]:
        """Every type seen so far, slug to display label."""
        return dict(self.run(_TYPE_LABELS, ()))

    def topic_types(self, topic: str) -> list[str]:
        """The type slugs that have items in this topic, read from the topic/type/order index."""
        return [slug for (slug,) in self.run(_TOPIC_TYPES, (topic,))]

    def count_items(self) -> int:
        """How many items the store holds."""
        return self.run(_COUNT_ITEMS, ())[0][0]

    def leader(self) -> Leader | None:
        """The scheduler that last took the lead, if any did (store/cluster.py records it)."""
        rows = self.run(_LEADER, ())
        return Leader(rows[0][0], _utc(rows[0][1])) if rows else None

    def repair_states(self) -> dict[tuple[str, str], tuple[str, datetime]]:
        """Each repaired source's repair state ("proposed", "applied") and since when."""
        return {
            (topic, url): (state, _utc(since))
            for topic, url, state, since in self.run(_REPAIRS, ())
        }

    def queue_states(self) -> dict[tuple[str, str], QueueState]:
        """Each scheduled source's place in the shared ingest's queue; empty on SQLite, whose
        one scheduler keeps no queue."""
        if self.dialect != "postgresql":
            return {}
        return {
            (topic, url): QueueState(_utc(due), _utc(queued), holder, _utc(until))
            for topic, url, due, queued, holder, until in self.run(_QUEUE, ())
        }

    def queue_totals(self) -> QueueTotals | None:
        """How many sources are queued and leased, and the oldest wait; None on SQLite."""
        if self.dialect != "postgresql":
            return None
        queued, leased, oldest = self.run(_QUEUE_TOTALS, ())[0]
        return QueueTotals(queued, leased, float(oldest))

    def member_count(self, key: FeedKey) -> int:
        """How many items a feed has ever held (kept as they join); its archive pages follow."""
        rows = self.run(_MEMBER_COUNT, (key.path,))
        return rows[0][0] if rows else 0

    def newest(self, topic: str, limit: int) -> list[Headline]:
        """A topic's newest items as the discovery pages list them, through the topic's index."""
        return [
            Headline(title, link, label, _utc(published), image, caption)
            for title, link, label, published, image, caption in self.run(_NEWEST, (topic, limit))
        ]


class Reader(Reads):
    """The web tier's read-only store: driver connections opened per process, writes refused.

    A worker's threads take turns on it: each read is one short indexed lookup, and one
    connection keeps one page cache per worker instead of one per thread. Searches have a
    connection of their own on SQLite, whose larger page cache holds what a search ranks
    (at a million items its candidates' rows are about 1,000 pages, twice SQLite's default
    cache, which would read them from the OS again on every search); feed reads keep the
    default, so a worker that serves no search holds no more memory than before.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._connect = _connector(url)
        self._connections: dict[str, Any] = {}
        self._postgres = url.startswith("postgresql")
        self.dialect = "postgresql" if self._postgres else "sqlite"
        self.trace: Callable[[str], None] | None = None  # sees every statement (tests, debugging)

    def connection(self, purpose: str = "reads") -> Any:
        """The driver connection for feed reads or "search", opened on first use (after
        gunicorn forked the worker); PostgreSQL shares one (its cache is the server's)."""
        if self._postgres:
            purpose = "reads"
        if purpose not in self._connections:
            connection = self._connect()
            if purpose == "search":
                connection.execute(f"PRAGMA cache_size = -{SEARCH_CACHE_KIB}")
            self._connections[purpose] = connection
        return self._connections[purpose]

    def run(self, statement: str, parameters: Sequence[Any]) -> list[tuple]:
        """Run one statement and return its rows."""
        return self._run("reads", statement, parameters)

    def run_search(self, statement: str, parameters: Sequence[Any]) -> list[tuple]:
        """Run a search's statement on the search connection."""
        return self._run("search", statement, parameters)

    def _run(self, purpose: str, statement: str, parameters: Sequence[Any]) -> list[tuple]:
        if self._postgres:
            statement = statement.replace("?", "%s")
        if self.trace is not None:
            self.trace(statement)
        with self._lock:
            connection = self.connection(purpose)
            rows = connection.execute(statement, parameters).fetchall()
            if self._postgres:
                connection.rollback()  # end the read-only transaction: later reads see new rows
        return rows

    def close(self) -> None:
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()


def _connector(url: str) -> Callable[[], Any]:
    """How to open a read-only connection to the store at `url`."""
    database = sqlite_file(url)
    if database is not None:
        uri = f"file:{database}?mode=ro"
        return lambda: sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10)
    if url.startswith("postgresql"):
        import psycopg  # the [postgres] extra; loaded only for a PostgreSQL store

        _, netloc, path, query, fragment = urlsplit(url)
        conninfo = urlunsplit(("postgresql", netloc, path, query, fragment))
        options = "-c default_transaction_read_only=on"
        return lambda: psycopg.connect(conninfo, options=options)
    raise ValueError(f"the web tier reads SQLite or PostgreSQL stores, not {url!r}")


def _utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite keeps text, PostgreSQL naive UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def _status(row: tuple) -> SourceStatus:
    """A status from its row; counts of a source never ingested are 0."""
    values = dict(zip(SourceStatus.__dataclass_fields__, row, strict=True))
    for name in _SOURCE_DATES:
        values[name] = _utc(values[name])
    values["items_on_page"] = values["items_on_page"] or 0
    values["items_found"] = values["items_found"] or 0
    values["full_text_failures"] = values["full_text_failures"] or 0
    return SourceStatus(**values)
