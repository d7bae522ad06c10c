"""The item store: tables and every query; the only module that runs SQL.

Items are never deleted. Each feed keeps an `order_key` index so that reading
its newest N entries costs the same with a thousand items or a million.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    case,
    create_engine,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement, Select

from feedsvc.feeds import ArchiveKey, DigestKey, FeedKey, affected_feeds
from feedsvc.normalize import Item

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PROBE_PENDING, PROBE_DONE, PROBE_GAVE_UP = "pending", "done", "gave-up"  # items.image_probe
DocumentKey = FeedKey | ArchiveKey | DigestKey  # whatever is kept in `rendered`, by its path


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("last_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("failing_since", UTCDateTime),
    Column("items_on_page", Integer, nullable=False, default=0),
    Column("items_found", Integer, nullable=False, default=0),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    UniqueConstraint("topic", "url"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("items_on_page", Integer),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guid", Text, nullable=False, unique=True),
    Column("link", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary_html", Text, nullable=False),
    Column("summary_text", Text, nullable=False),
    Column("type_slug", String(100), nullable=False),
    Column("type_label", String(200), nullable=False),
    Column("image_url", Text),
    Column("image_caption", Text),
    Column("image_credit", Text),
    Column("author", Text),
    # The image's size and media type, from one HEAD request (feedsvc.probe), and that
    # probe's state: "pending", "done" or "gave-up" (NULL: no image), after how many tries.
    Column("image_length", Integer),
    Column("image_type", String(100)),
    Column("image_probe", String(10)),
    Column("image_probe_attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("published_at", UTCDateTime, nullable=False),
    Column("date_missing", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("order_key", String(40), nullable=False),
    Column("content_hash", String(32), nullable=False),
    Index("ix_items_type_order", "type_slug", "order_key"),
    Index("ix_items_order", "order_key"),
    Index("ix_items_type_insertion", "type_slug", "id"),
    Index("ix_items_image_probe", "image_probe", "id"),
)

topic_items = Table(
    "topic_items",
    metadata,
    Column("id", Integer, primary_key=True),  # insertion order: archive pages are cut along it
    Column("topic", String(200), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("type_slug", String(100), nullable=False),
    Column("order_key", String(40), nullable=False),
    UniqueConstraint("topic", "item_id"),
    Index("ix_topic_items_order", "topic", "order_key"),
    Index("ix_topic_items_type_order", "topic", "type_slug", "order_key"),
    Index("ix_topic_items_insertion", "topic", "id"),
    Index("ix_topic_items_type_insertion", "topic", "type_slug", "id"),
    Index("ix_topic_items_item", "item_id"),  # an entry's topics, whatever the topic
)

types = Table(
    "types",
    metadata,
    Column("slug", String(100), primary_key=True),
    Column("label", String(200), nullable=False),
)

feeds = Table(
    "feeds",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("dirty", Boolean, nullable=False, default=True),
    # Bumped by every change, so a render clears `dirty` only if nothing changed meanwhile.
    Column("version", Integer, nullable=False, default=0, server_default="0"),
    # How many items the feed ever held, kept as they join: archive pages follow from it
    # without counting a million rows at every render.
    Column("member_count", Integer, nullable=False, default=0, server_default="0"),
)

rendered = Table(
    "rendered",
    metadata,
    Column("feed_key", String(400), primary_key=True),
    Column("format", String(20), primary_key=True),
    Column("limit", Integer, primary_key=True),
    Column("body", LargeBinary, nullable=False),
    Column("gzip_body", LargeBinary, nullable=False),
    Column("etag", String(80), nullable=False),
    Column("last_modified", UTCDateTime, nullable=False),
    Column("final", Boolean, nullable=False, default=False),
    Column("stale_at", UTCDateTime),
)

# The columns that make a Rendered, in its field order.
_RENDERED_FIELDS = (
    rendered.c.body,
    rendered.c.gzip_body,
    rendered.c.etag,
    rendered.c.last_modified,
    rendered.c.final,
    rendered.c.stale_at,
)


@dataclass(frozen=True)
class StoredItem:
    """An item as a feed shows it."""

    guid: str
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
    published: datetime
    updated: datetime
    first_seen: datetime
    order_key: str
    topics: tuple[str, ...] = ()
    content_html: str | None = None  # prepared content (a digest's week); None: built from fields
    image_length: int | None = None  # bytes, once a HEAD request has told
    image_type: str | None = None  # the media type the image's server sent


@dataclass(frozen=True)
class ImageProbe:
    """An item whose image still needs its HEAD request, and how many tries failed so far."""

    item_id: int
    image_url: str
    attempts: int


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


@dataclass(frozen=True)
class Changes:
    """What one ingest did to the store."""

    new: int
    updated: int
    unchanged: int
    feeds: frozenset[FeedKey]


@dataclass(frozen=True)
class Rendered:
    """A feed's bytes as served, with the validators that go with them."""

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


class Store:
    """The item store behind one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def create_schema(self) -> None:
        """Create missing tables; safe to call at every start."""
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            from pathlib import Path

            Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        with self.engine.connect() as conn:
            _lock_schema(conn)
            _upgrade(conn)
            metadata.create_all(conn)
            for table in metadata.sorted_tables:  # indexes added since a table was made
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            conn.commit()

    def close(self) -> None:
        self.engine.dispose()

    # -- ingest: the one write path for items ---------------------------------------------

    def record_items(
        self,
        topic: str,
        url: str,
        found: Sequence[Item],
        now: datetime,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        body_hash: str | None = None,
    ) -> Changes:
        """Store the items of one successful fetch in one transaction and mark changed feeds."""
        with self.engine.begin() as conn:
            source_id = _source_id(conn, topic, url)
            run_id = conn.execute(
                insert(ingest_runs).values(
                    source_id=source_id, started_at=now, items_on_page=len(found)
                )
            ).inserted_primary_key[0]
            existing = {
                row.guid: row
                for row in conn.execute(
                    select(
                        items.c.id,
                        items.c.guid,
                        items.c.content_hash,
                        items.c.type_slug,
                        items.c.order_key,
                    ).where(items.c.guid.in_([item.guid for item in found]))
                )
            }
            linked = set(
                conn.scalars(
                    select(topic_items.c.item_id).where(
                        topic_items.c.topic == topic,
                        topic_items.c.item_id.in_([row.id for row in existing.values()]),
                    )
                )
            )
            new = updated = 0
            touched_types: set[str] = set()
            retyped: set[str] = set()
            joined: Counter[FeedKey] = Counter()  # members each feed gains
            unchanged_ids: list[int] = []
            for item in found:
                row = existing.get(item.guid)
                if row is None:
                    item_id, key = _insert_item(conn, item, source_id, run_id, now)
                    _link(conn, topic, item_id, item.type_slug, key)
                    new += 1
                    touched_types.add(item.type_slug)
                    joined.update(_feeds_of(topic, item.type_slug, new_item=True))
                    continue
                if row.content_hash != item.content_hash():
                    _update_item(conn, row.id, item, now)
                    updated += 1
                    touched_types |= {item.type_slug, row.type_slug}
                    if item.type_slug != row.type_slug:
                        retyped |= {item.type_slug, row.type_slug}
                else:
                    unchanged_ids.append(row.id)
                if row.id not in linked:
                    _link(conn, topic, row.id, item.type_slug, row.order_key)
                    touched_types.add(item.type_slug)
                    joined.update(_feeds_of(topic, item.type_slug, new_item=False))
            if unchanged_ids:
                conn.execute(
                    update(items).where(items.c.id.in_(unchanged_ids)).values(last_seen_at=now)
                )
            for item in found:
                _upsert_type(conn, item.type_slug, item.type_label)
            changed = affected_feeds(topic, touched_types) if touched_types else set()
            for key in changed:
                _mark_dirty(conn, key, now, joined[key])
            _forget_type_archives(conn, retyped)
            _recount_types(conn, retyped)
            conn.execute(
                update(sources)
                .where(sources.c.id == source_id)
                .values(
                    last_attempt_at=now,
                    last_success_at=now,
                    last_error=None,
                    failing_since=None,
                    items_on_page=len(found),
                    items_found=sources.c.items_found + new,
                    etag=etag,
                    last_modified=last_modified,
                    body_hash=body_hash,
                )
            )
        return Changes(new, updated, len(found) - new - updated, frozenset(changed))

    def bulk_insert(self, topic: str, url: str, new: Sequence[Item], now: datetime) -> None:
        """Insert items known to be new with one executemany per table: imports and benchmarks.

        Nothing is compared, unlike record_items: a guid already stored fails the whole
        transaction. Items get the ids after the largest one, so run it with no other writer.
        """
        with self.engine.begin() as conn, _large_cache(conn):
            source_id = _source_id(conn, topic, url)
            run_id = conn.execute(
                insert(ingest_runs).values(source_id=source_id, started_at=now)
            ).inserted_primary_key[0]
            last_id = conn.scalar(select(func.max(items.c.id))) or 0
            conn.execute(
                insert(items), [_new_item_row(item, source_id, run_id, now) for item in new]
            )
            inserted = conn.execute(
                select(items.c.id, items.c.type_slug, items.c.order_key).where(
                    items.c.id > last_id, items.c.source_id == source_id
                )
            ).all()
            conn.execute(
                insert(topic_items),
                [dict(topic=topic, item_id=i, type_slug=t, order_key=k) for i, t, k in inserted],
            )
            for slug, label in {(item.type_slug, item.type_label) for item in new}:
                _upsert_type(conn, slug, label)
            joined = Counter(k for item in new for k in _feeds_of(topic, item.type_slug, True))
            for key in affected_feeds(topic, {item.type_slug for item in new}):
                _mark_dirty(conn, key, now, joined[key])

    def record_unchanged(self, topic: str, url: str, now: datetime) -> None:
        """The page was as before (304 or same bytes): only the source row changes."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.id == _source_id(conn, topic, url))
                .values(
                    last_attempt_at=now, last_success_at=now, last_error=None, failing_since=None
                )
            )

    def record_failure(self, topic: str, url: str, error: str, now: datetime) -> None:
        """A failed ingest: the source is marked failing; no item is touched."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.id == _source_id(conn, topic, url))
                .values(
                    last_attempt_at=now,
                    last_error=error,
                    failing_since=func.coalesce(sources.c.failing_since, now),
                )
            )

    def ensure_sources(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Create a status row for every configured (topic, url) so /healthz lists each at once."""
        with self.engine.begin() as conn:
            for topic, url in pairs:
                _source_id(conn, topic, url)

    # -- image probes: one HEAD per new image, outside the ingest transaction --------------

    def pending_image_probes(self, limit: int) -> list[ImageProbe]:
        """Up to `limit` items whose image has not been probed yet, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.id, items.c.image_url, items.c.image_probe_attempts)
                .where(items.c.image_probe == PROBE_PENDING)
                .order_by(items.c.id.desc())
                .limit(limit)
            )
            return [ImageProbe(*row) for row in rows]

    def record_image_probe(
        self, probe: ImageProbe, length: int | None, media_type: str | None, now: datetime
    ) -> None:
        """Keep what the HEAD said and mark the item's feeds changed so they carry it."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(items)
                .where(items.c.id == probe.item_id, items.c.image_url == probe.image_url)
                .values(
                    image_length=length,
                    image_type=media_type,
                    image_probe=PROBE_DONE,
                    image_probe_attempts=probe.attempts + 1,
                )
            ).rowcount
            if not done:  # the image changed meanwhile: its own probe is pending
                return
            for topic, type_slug in conn.execute(
                select(topic_items.c.topic, topic_items.c.type_slug).where(
                    topic_items.c.item_id == probe.item_id
                )
            ):
                for key in affected_feeds(topic, {type_slug}):
                    _mark_dirty(conn, key, now)

    def record_image_probe_failure(self, probe: ImageProbe, max_attempts: int) -> None:
        """One more failed try; after `max_attempts` tries the image is left without a size."""
        attempts = probe.attempts + 1
        with self.engine.begin() as conn:
            conn.execute(
                update(items)
                .where(items.c.id == probe.item_id, items.c.image_url == probe.image_url)
                .values(
                    image_probe_attempts=attempts,
                    image_probe=PROBE_GAVE_UP if attempts >= max_attempts else PROBE_PENDING,
                )
            )

    # -- reads -----------------------------------------------------------------------------

    def source(self, topic: str, url: str) -> SourceStatus | None:
        """The status of one source, or None before its first ingest."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sources).where(sources.c.topic == topic, sources.c.url == url)
            ).first()
        return _status(row) if row else None

    def sources(self) -> list[SourceStatus]:
        """Every source's status, by topic and URL."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.topic, sources.c.url))
            return [_status(row) for row in rows]

    def recent_item_counts(self, topic: str, url: str, runs: int) -> list[int]:
        """Items found on the page by the source's last `runs` stored ingests, newest first."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(ingest_runs.c.items_on_page)
                    .join(sources, sources.c.id == ingest_runs.c.source_id)
                    .where(
                        sources.c.topic == topic,
                        sources.c.url == url,
                        ingest_runs.c.items_on_page.is_not(None),
                    )
                    .order_by(ingest_runs.c.id.desc())
                    .limit(runs)
                )
            )

    def type_labels(self) -> dict[str, str]:
        """Every type seen so far, slug to display label."""
        with self.engine.connect() as conn:
            return {
                slug: label for slug, label in conn.execute(select(types.c.slug, types.c.label))
            }

    def topic_types(self, topic: str) -> list[str]:
        """The type slugs that have items in this topic, read from the topic/type/order index."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(topic_items.c.type_slug)
                    .where(topic_items.c.topic == topic)
                    .distinct()
                    .order_by(topic_items.c.type_slug)
                )
            )

    def entries(self, key: FeedKey, limit: int, before: str | None = None) -> list[StoredItem]:
        """The newest `limit` items of a feed (older than order key `before`), through an index."""
        members, _, order = _membership(key)
        if before is not None:
            members = members.where(order < before)
        return self._load(members.order_by(order.desc()).limit(limit))

    def archive_entries(self, key: FeedKey, page: int, size: int) -> list[StoredItem]:
        """Archive page `page`: the feed's members `size` at a time in the order they joined it."""
        members, joined, _ = _membership(key)
        return self._load(members.order_by(joined).limit(size).offset((page - 1) * size))

    def member_count(self, key: FeedKey) -> int:
        """How many items a feed has ever held (kept as they join); its archive pages follow."""
        with self.engine.connect() as conn:
            return conn.scalar(select(feeds.c.member_count).where(feeds.c.key == key.path)) or 0

    def _load(self, members: Select) -> list[StoredItem]:
        """The items whose ids `members` selects, newest first, each with its topics."""
        query = _items_of(members)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            memberships: dict[int, list[str]] = {}
            for item_id, topic in conn.execute(
                select(topic_items.c.item_id, topic_items.c.topic)
                .where(topic_items.c.item_id.in_([row.id for row in rows]))
                .order_by(topic_items.c.topic)
            ):
                memberships.setdefault(item_id, []).append(topic)
        return [_stored_item(row, memberships.get(row.id, [])) for row in rows]

    def entries_plan(self, key: FeedKey, limit: int) -> list[str]:
        """SQLite's plan for a feed's entries: benchmarks show it seeks an index, never scans."""
        members, _, order = _membership(key)
        query = _items_of(members.order_by(order.desc()).limit(limit)).compile(
            self.engine, compile_kwargs={"literal_binds": True}
        )
        with self.engine.connect() as conn:
            return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}")]

    def count_items(self) -> int:
        """How many items the store holds."""
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(items)) or 0

    # -- rendered feeds ----------------------------------------------------------------------

    def dirty_feeds(self) -> list[FeedKey]:
        """Feeds whose items changed since they were last rendered."""
        with self.engine.connect() as conn:
            keys = conn.scalars(select(feeds.c.key).where(feeds.c.dirty).order_by(feeds.c.key))
            return [FeedKey.from_path(key) for key in keys]

    def feed_changed_at(self, key: FeedKey) -> datetime:
        """When the feed's items last changed; the epoch for a feed that never had any."""
        with self.engine.connect() as conn:
            value = conn.scalar(select(feeds.c.changed_at).where(feeds.c.key == key.path))
        return value or EPOCH

    def feed_version(self, key: FeedKey) -> int:
        """How many times the feed has changed; read before rendering, passed to save_rendered."""
        with self.engine.connect() as conn:
            return conn.scalar(select(feeds.c.version).where(feeds.c.key == key.path)) or 0

    def save_rendered(
        self,
        key: DocumentKey,
        outputs: dict[tuple[str, int], Rendered],
        *,
        replace_all: bool,
        version: int | None = None,
    ) -> None:
        """Keep rendered bytes; `replace_all` drops other limits and clears the dirty mark.

        The mark is cleared only if the feed is still at `version`: a change that
        landed while this render ran leaves the feed dirty for the next publish.
        """
        with self.engine.begin() as conn:
            if replace_all:
                conn.execute(rendered.delete().where(rendered.c.feed_key == key.path))
                clean = update(feeds).where(feeds.c.key == key.path)
                if version is not None:
                    clean = clean.where(feeds.c.version == version)
                conn.execute(clean.values(dirty=False))
            for (fmt, limit), out in outputs.items():
                values = dict(
                    feed_key=key.path,
                    format=fmt,
                    limit=limit,
                    body=out.body,
                    gzip_body=out.gzip_body,
                    etag=out.etag,
                    last_modified=out.last_modified,
                    final=out.final,
                    stale_at=out.stale_at,
                )
                conn.execute(_upsert(conn, rendered, values, ["feed_key", "format", "limit"]))

    def rendered(self, key: DocumentKey, fmt: str, limit: int) -> Rendered | None:
        """Rendered bytes of a feed, or None when it has not been rendered at this limit."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_RENDERED_FIELDS).where(
                    rendered.c.feed_key == key.path,
                    rendered.c.format == fmt,
                    rendered.c.limit == limit,
                )
            ).first()
        return Rendered(*row) if row else None

    def expired_rendered(self, now: datetime) -> set[str]:
        """Paths of rendered documents whose `stale_at` has come (digests whose week closed)."""
        with self.engine.connect() as conn:
            return set(
                conn.scalars(
                    select(rendered.c.feed_key).distinct().where(rendered.c.stale_at <= now)
                )
            )

    def rendered_feeds(self, limit: int) -> list[tuple[FeedKey, str, Rendered]]:
        """Every feed (no archive page, no digest) rendered at `limit`: what an export writes."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rendered.c.feed_key, rendered.c.format, *_RENDERED_FIELDS)
                .where(rendered.c.limit == limit)
                .order_by(rendered.c.feed_key, rendered.c.format)
            )
            return [
                (FeedKey.from_path(key), fmt, Rendered(*rest))
                for key, fmt, *rest in rows
                if FeedKey.is_feed_path(key)
            ]


@contextmanager
def _large_cache(conn: Connection) -> Iterator[None]:
    """A 256 MB SQLite page cache while a bulk insert updates its indexes in random places."""
    if conn.dialect.name != "sqlite":
        yield
        return
    default = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(default)}")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL lets readers go on during an ingest; the busy timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upsert(
    conn: Connection, table: Table, values: dict, keys: list[str], set_: dict | None = None
):
    """INSERT ... ON CONFLICT DO UPDATE (with `set_`, else `values`) in SQLite or PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        dialect_insert = sqlite_insert
    statement = dialect_insert(table).values(**values)
    changes = set_ or {k: v for k, v in values.items() if k not in keys}
    if not changes:
        return statement.on_conflict_do_nothing(index_elements=keys)
    return statement.on_conflict_do_update(index_elements=keys, set_=changes)


def _source_id(conn: Connection, topic: str, url: str) -> int:
    conn.execute(_upsert(conn, sources, {"topic": topic, "url": url}, ["topic", "url"]))
    return conn.scalar(select(sources.c.id).where(sources.c.topic == topic, sources.c.url == url))


def _item_values(item: Item) -> dict:
    return dict(
        link=item.link,
        title=item.title,
        summary_html=item.summary_html,
        summary_text=item.summary_text,
        type_slug=item.type_slug,
        type_label=item.type_label,
        image_url=item.image_url,
        image_caption=item.image_caption,
        image_credit=item.image_credit,
        author=item.author,
        content_hash=item.content_hash(),
    )


def _insert_item(
    conn: Connection, item: Item, source_id: int, run_id: int, now: datetime
) -> tuple[int, str]:
    """Insert a new item; returns its id and order key."""
    row = _new_item_row(item, source_id, run_id, now)
    item_id = conn.execute(insert(items).values(**row)).inserted_primary_key[0]
    return item_id, row["order_key"]


def _new_item_row(item: Item, source_id: int, run_id: int, now: datetime) -> dict:
    """The columns of an item seen for the first time. A missing date becomes first-seen, once."""
    published = item.published or now
    return dict(
        guid=item.guid,
        published_at=published,
        date_missing=item.published is None,
        updated_at=published,
        first_seen_at=now,
        last_seen_at=now,
        source_id=source_id,
        order_key=order_key(published, run_id, item.position),
        image_probe=PROBE_PENDING if item.image_url else None,
        **_item_values(item),
    )


def _update_item(conn: Connection, item_id: int, item: Item, now: datetime) -> None:
    """An edited item keeps its id, guid, date and place; only its content and `updated` move."""
    same_image = items.c.image_url == item.image_url  # read before the row is written
    conn.execute(
        update(items)
        .where(items.c.id == item_id)
        .values(
            updated_at=now,
            last_seen_at=now,
            image_length=case((same_image, items.c.image_length)),
            image_type=case((same_image, items.c.image_type)),
            image_probe=case(
                (same_image, items.c.image_probe),
                (literal(item.image_url is not None), PROBE_PENDING),
            ),
            image_probe_attempts=case((same_image, items.c.image_probe_attempts), else_=0),
            **_item_values(item),
        )
    )
    conn.execute(
        update(topic_items).where(topic_items.c.item_id == item_id).values(type_slug=item.type_slug)
    )


def _lock_schema(conn: Connection) -> None:
    """One process at a time creates or upgrades tables: gunicorn workers start together."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits (busy_timeout) for the other's commit
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(5005)")


def _upgrade(conn: Connection) -> None:
    """Bring a store made before archives up to date, losing nothing but rendered bytes.

    `rendered` is only a cache: when its columns differ it is dropped and every
    feed renders again. topic_items gains its insertion-order id; the old rows
    keep their order by item id, the order in which items were first stored.
    """
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    if "rendered" in tables and {c["name"] for c in inspector.get_columns("rendered")} != set(
        rendered.c.keys()
    ):
        rendered.drop(conn)
    feed_columns = (
        {c["name"] for c in inspector.get_columns("feeds")} if "feeds" in tables else set()
    )
    if feed_columns and "version" not in feed_columns:
        conn.execute(text("ALTER TABLE feeds ADD COLUMN version INTEGER NOT NULL DEFAULT 0"))
    if feed_columns and "member_count" not in feed_columns:
        conn.execute(text("ALTER TABLE feeds ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0"))
        for path in conn.scalars(select(feeds.c.key)).all():
            if FeedKey.is_feed_path(path):
                _set_member_count(conn, path)
    item_columns = (
        {c["name"] for c in inspector.get_columns("items")} if "items" in tables else set()
    )
    if item_columns and "image_probe" not in item_columns:
        for column in (
            "image_length INTEGER",
            "image_type VARCHAR(100)",
            "image_probe VARCHAR(10)",
        ):
            conn.execute(text(f"ALTER TABLE items ADD COLUMN {column}"))
        conn.execute(
            text("ALTER TABLE items ADD COLUMN image_probe_attempts INTEGER NOT NULL DEFAULT 0")
        )
        conn.execute(
            update(items).where(items.c.image_url.is_not(None)).values(image_probe=PROBE_PENDING)
        )
    if "topic_items" in tables and "id" not in {
        c["name"] for c in inspector.get_columns("topic_items")
    }:
        for index in inspector.get_indexes("topic_items"):
            conn.execute(text(f'DROP INDEX "{index["name"]}"'))
        conn.execute(text("ALTER TABLE topic_items RENAME TO topic_items_before_archives"))
        topic_items.create(conn)
        conn.execute(
            text(
                "INSERT INTO topic_items (topic, item_id, type_slug, order_key) "
                "SELECT topic, item_id, type_slug, order_key FROM topic_items_before_archives "
                "ORDER BY item_id, topic"
            )
        )
        conn.execute(text("DROP TABLE topic_items_before_archives"))


def _items_of(members: Select) -> Select:
    """The items `members` selects, newest first: `limit` index entries, then rows by id."""
    page = members.subquery()
    return select(items).join(page, page.c.id == items.c.id).order_by(items.c.order_key.desc())


def _membership(key: FeedKey) -> tuple[Select, ColumnElement, ColumnElement]:
    """The ids of a feed's items as a query, with its insertion-order and order-key columns."""
    if key.topic:
        members = select(topic_items.c.item_id.label("id")).where(topic_items.c.topic == key.topic)
        if key.type:
            members = members.where(topic_items.c.type_slug == key.type)
        return members, topic_items.c.id, topic_items.c.order_key
    members = select(items.c.id).where(items.c.type_slug == key.type)
    return members, items.c.id, items.c.order_key


def _forget_type_archives(conn: Connection, type_slugs: set[str]) -> None:
    """An item that changed type moved between feeds mid-sequence: their archives are redone."""
    for slug in type_slugs:
        conn.execute(
            rendered.delete().where(
                rendered.c.feed_key.startswith(f"types/{slug}/archive/", autoescape=True)
                | (
                    rendered.c.feed_key.startswith("topics/")
                    & rendered.c.feed_key.contains(f"/types/{slug}/archive/", autoescape=True)
                )
            )
        )


def _link(conn: Connection, topic: str, item_id: int, type_slug: str, key: str) -> None:
    conn.execute(
        insert(topic_items).values(topic=topic, item_id=item_id, type_slug=type_slug, order_key=key)
    )


def _upsert_type(conn: Connection, slug: str, label: str) -> None:
    conn.execute(_upsert(conn, types, {"slug": slug, "label": label}, ["slug"]))


def _mark_dirty(conn: Connection, key: FeedKey, now: datetime, joined: int = 0) -> None:
    """The feed changed now, and `joined` items became its members."""
    values = {
        "key": key.path,
        "changed_at": now,
        "dirty": True,
        "version": 1,
        "member_count": joined,
    }
    bump = {
        "changed_at": now,
        "dirty": True,
        "version": feeds.c.version + 1,
        "member_count": feeds.c.member_count + joined,
    }
    conn.execute(_upsert(conn, feeds, values, ["key"], set_=bump))


def _feeds_of(topic: str, type_slug: str, new_item: bool) -> list[FeedKey]:
    """The feeds an item joins: a new item also joins its type's feed across all topics."""
    keys = [FeedKey(topic=topic), FeedKey(topic=topic, type=type_slug)]
    return [*keys, FeedKey(type=type_slug)] if new_item else keys


def _count_members(conn: Connection, key: FeedKey) -> int:
    """Count a feed's members from scratch: only for upgrades and the rare change of type."""
    members, _, _ = _membership(key)
    return conn.scalar(select(func.count()).select_from(members.subquery())) or 0


def _recount_types(conn: Connection, type_slugs: set[str]) -> None:
    """An item that changed type left one set of feeds for another: count those again."""
    for slug in type_slugs:
        paths = conn.scalars(
            select(feeds.c.key).where(
                (feeds.c.key == f"types/{slug}")
                | (feeds.c.key.startswith("topics/") & feeds.c.key.endswith(f"/types/{slug}"))
            )
        ).all()
        for path in paths:
            _set_member_count(conn, path)


def _set_member_count(conn: Connection, path: str) -> None:
    conn.execute(
        update(feeds)
        .where(feeds.c.key == path)
        .values(member_count=_count_members(conn, FeedKey.from_path(path)))
    )


def _status(row) -> SourceStatus:
    return SourceStatus(
        topic=row.topic,
        url=row.url,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        failing_since=row.failing_since,
        items_on_page=row.items_on_page or 0,
        items_found=row.items_found or 0,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
    )


def _stored_item(row, topics: list[str]) -> StoredItem:
    return StoredItem(
        guid=row.guid,
        link=row.link,
        title=row.title,
        summary_html=row.summary_html,
        summary_text=row.summary_text,
        type_slug=row.type_slug,
        type_label=row.type_label,
        image_url=row.image_url,
        image_caption=row.image_caption,
        image_credit=row.image_credit,
        author=row.author,
        published=row.published_at,
        updated=row.updated_at,
        first_seen=row.first_seen_at,
        order_key=row.order_key,
        topics=tuple(topics),
        image_length=row.image_length,
        image_type=row.image_type,
    )
