"""The tables, and the one way a store is created or brought up to date.

Items are never deleted. Each feed keeps an `order_key` index so that reading its
newest N entries costs the same with a thousand items or a million. Feeds and rendered
documents are keyed by their path (`topics/t/types/y`) and also carry the topic, type
and archive page as columns, so queries select them by those, never by matching paths.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
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
    false,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement, Select

from feedsvc.feeds import FeedKey
from feedsvc.model import ItemContent


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


# Column types of the content fields that are not free text.
_CONTENT_TYPES = {"type_slug": String(100), "type_label": String(200)}


def _content_columns() -> list[Column]:
    """One column per field of model.ItemContent: the item's content is declared once."""
    return [
        Column(f.name, _CONTENT_TYPES.get(f.name, Text), nullable="None" in str(f.type))
        for f in fields(ItemContent)
    ]


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
    Column("last_undated_text", Text),  # the last date text that was not a usable date, and why
    Column("last_undated_at", UTCDateTime),
    # What shaped the last stored extraction (fingerprint.py); a change re-extracts once.
    Column("extraction_fingerprint", String(64)),
    UniqueConstraint("topic", "url"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("items_on_page", Integer),
    # What the run did and how long it took (store/runs.py); NULL in runs from before.
    Column("outcome", String(20)),
    Column("duration_seconds", Float),
    Column("new_items", Integer),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guid", Text, nullable=False, unique=True),
    *_content_columns(),
    Column("published_at", UTCDateTime, nullable=False),
    Column("date_missing", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("order_key", String(40), nullable=False),
    Column("content_hash", String(32), nullable=False),
    # Hidden by an operator (`feedsvc hide`): in no feed, but kept so it never returns as new.
    Column("hidden", Boolean, nullable=False, default=False, server_default=false()),
    # Found by `feedsvc backfill`: in the archives, never in a current feed or a digest.
    Column("history", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_items_type_order", "type_slug", "order_key"),
    Index("ix_items_order", "order_key"),
    Index("ix_items_type_insertion", "type_slug", "id"),
)

# Once-per-item work done after extraction and retried on later runs (enrichment from the
# item's own page; any other such task, e.g. an image probe, shares it by its `task` name).
item_tasks = Table(
    "item_tasks",
    metadata,
    Column("guid", Text, primary_key=True),
    Column("task", String(40), primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("state", String(20), nullable=False),  # pending, failed, off-page, done, refused
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("result", Text),  # what the task found (JSON), re-applied whenever the item is seen
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_item_tasks_source", "source_id", "task", "state"),
)

topic_items = Table(
    "topic_items",
    metadata,
    Column("id", Integer, primary_key=True),  # insertion order: archive pages are cut along it
    Column("topic", String(200), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("type_slug", String(100), nullable=False),
    Column("order_key", String(40), nullable=False),
    # items.hidden, kept beside the topic's rows so a feed's reads never join items to filter.
    Column("hidden", Boolean, nullable=False, default=False, server_default=false()),
    Column("history", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("topic", "item_id"),
    Index("ix_topic_items_order", "topic", "order_key"),
    Index("ix_topic_items_type_order", "topic", "type_slug", "order_key"),
    Index("ix_topic_items_insertion", "topic", "id"),
    Index("ix_topic_items_type_insertion", "topic", "type_slug", "id"),
    Index("ix_topic_items_item", "item_id"),  # an entry's topics, whatever the topic
)

# Where a source's `feedsvc backfill` stands, saved with each page's items: a killed
# backfill starts again at `next_url`; `done` once it read the last listing page.
backfills = Table(
    "backfills",
    metadata,
    Column("source_id", ForeignKey("sources.id"), primary_key=True),
    Column("next_page", Integer, nullable=False),
    Column("next_url", Text),
    Column("pages_read", Integer, nullable=False, default=0),
    Column("items_new", Integer, nullable=False, default=0),
    Column("items_known", Integer, nullable=False, default=0),
    Column("oldest_at", UTCDateTime),
    Column("done", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# What operators did to the store (hide, unhide), newest last: `feedsvc history`.
operator_actions = Table(
    "operator_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False),
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
    Column("topic", String(200)),
    Column("type_slug", String(100)),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("dirty", Boolean, nullable=False, default=True),
    # Bumped by every change, so a render clears `dirty` only if nothing changed meanwhile.
    Column("version", Integer, nullable=False, default=0, server_default="0"),
    # How many items the feed ever held, kept as they join: archive pages follow from it
    # without counting a million rows at every render.
    Column("member_count", Integer, nullable=False, default=0, server_default="0"),
    # Archive pages 1..final_pages are rendered for good; the publisher renders the rest.
    Column("final_pages", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_feeds_type", "type_slug"),
)

# A document is a feed, one of its archive pages, or a topic's digest.
rendered = Table(
    "rendered",
    metadata,
    Column("doc", String(400), primary_key=True),
    Column("format", String(20), primary_key=True),
    Column("limit", Integer, primary_key=True),
    Column("kind", String(10), nullable=False),  # feed, archive or digest
    Column("topic", String(200)),
    Column("type_slug", String(100)),
    Column("page", Integer),
    Column("body", LargeBinary, nullable=False),
    Column("gzip_body", LargeBinary, nullable=False),
    Column("etag", String(80), nullable=False),
    Column("last_modified", UTCDateTime, nullable=False),
    Column("final", Boolean, nullable=False, default=False),
    Column("stale_at", UTCDateTime),
    Index("ix_rendered_type", "type_slug", "kind"),
)


def membership(key: FeedKey) -> tuple[Select, ColumnElement, ColumnElement]:
    """The ids of a feed's items as a query, with its insertion-order and order-key columns."""
    if key.topic:
        members = select(topic_items.c.item_id.label("id")).where(
            topic_items.c.topic == key.topic, topic_items.c.hidden == false()
        )
        if key.type:
            members = members.where(topic_items.c.type_slug == key.type)
        return members, topic_items.c.id, topic_items.c.order_key
    members = select(items.c.id).where(items.c.type_slug == key.type, items.c.hidden == false())
    return members, items.c.id, items.c.order_key


def current_only(key: FeedKey, members: Select) -> Select:
    """A feed's members without backfilled history: what its current document and digest show."""
    flags = topic_items if key.topic else items
    return members.where(flags.c.history == false())


def count_members(conn: Connection, key: FeedKey) -> int:
    """Count a feed's members from scratch: only for upgrades and the rare change of type."""
    members, _, _ = membership(key)
    return conn.scalar(select(func.count()).select_from(members.subquery())) or 0


def create_schema(engine: Engine) -> None:
    """Create missing tables and bring an older store up to date; safe at every start."""
    if engine.dialect.name == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        _lock_schema(conn)
        _upgrade(conn)
        metadata.create_all(conn)
        for table in metadata.sorted_tables:  # indexes added since a table was made
            for index in table.indexes:
                index.create(conn, checkfirst=True)
        conn.commit()


def _lock_schema(conn: Connection) -> None:
    """One process at a time creates or upgrades tables: hosts and processes start together."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits (busy_timeout) for the other's commit
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(5005)")


def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def _upgrade(conn: Connection) -> None:
    """Bring a store made by an older feedsvc up to date, losing nothing but rendered bytes.

    `rendered` is only a cache: when its columns differ it is dropped and every feed is
    marked to render again. topic_items gains its insertion-order id; the old rows keep
    their order by item id, the order in which items were first stored.
    """
    tables = set(inspect(conn).get_table_names())
    if "sources" in tables:
        _add_columns(
            conn,
            "sources",
            (
                ("last_undated_text", "TEXT"),
                ("last_undated_at", "TIMESTAMP"),
                ("extraction_fingerprint", "VARCHAR(64)"),
            ),
        )
    for table in ("items", "topic_items"):
        if table in tables:
            flags = ("hidden", "history")
            _add_columns(conn, table, tuple((f, "BOOLEAN NOT NULL DEFAULT FALSE") for f in flags))
    if "ingest_runs" in tables:
        _add_columns(
            conn,
            "ingest_runs",
            (("outcome", "VARCHAR(20)"), ("duration_seconds", "FLOAT"), ("new_items", "INTEGER")),
        )
    if "feeds" in tables:
        _upgrade_feeds(conn)
    if "rendered" in tables and _columns(conn, "rendered") != set(rendered.c.keys()):
        rendered.drop(conn)
        conn.execute(update(feeds).values(dirty=True, final_pages=0))
    if "topic_items" in tables and "id" not in _columns(conn, "topic_items"):
        _upgrade_topic_items(conn)


def _upgrade_feeds(conn: Connection) -> None:
    """Feeds gained a version, a member count, final pages and their topic and type."""
    present = _columns(conn, "feeds")
    _add_columns(
        conn,
        "feeds",
        (
            ("version", "INTEGER NOT NULL DEFAULT 0"),
            ("member_count", "INTEGER NOT NULL DEFAULT 0"),
            ("final_pages", "INTEGER NOT NULL DEFAULT 0"),
            ("topic", "VARCHAR(200)"),
            ("type_slug", "VARCHAR(100)"),
        ),
    )
    if "type_slug" not in present:
        for path in conn.scalars(select(feeds.c.key)).all():
            key = FeedKey.from_path(path)
            conn.execute(
                update(feeds).where(feeds.c.key == path).values(topic=key.topic, type_slug=key.type)
            )
    if "member_count" not in present:
        for path in conn.scalars(select(feeds.c.key)).all():
            count = count_members(conn, FeedKey.from_path(path))
            conn.execute(update(feeds).where(feeds.c.key == path).values(member_count=count))


def _add_columns(conn: Connection, table: str, columns: tuple[tuple[str, str], ...]) -> None:
    """Add the columns a table lacks (ALTER TABLE ... ADD COLUMN name ddl)."""
    present = _columns(conn, table)
    for name, ddl in columns:
        if name not in present:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))


def _upgrade_topic_items(conn: Connection) -> None:
    """Rebuild topic_items with its insertion-order id, in the order items were first stored."""
    for index in inspect(conn).get_indexes("topic_items"):
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
