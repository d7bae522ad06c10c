"""The tables, as the code reads and writes them (`migrate` brings a store to this layout).

Items are never deleted. Each feed keeps an `order_key` index so that reading its
newest N entries costs the same with a thousand items or a million. Feeds and rendered
documents are keyed by their path (`topics/t/types/y`) and also carry the topic, type
and archive page as columns, so queries select them by those, never by matching paths.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
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
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from feedsvc.keys import FeedKey
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
    # Items whose main text could not be had (content = "full"), and the last reason why.
    Column("full_text_failures", Integer, nullable=False, default=0, server_default="0"),
    Column("last_full_text_error", Text),
    Column("last_full_text_error_at", UTCDateTime),
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
    # The image's size and media type, from one HEAD request (feedsvc.ingest.probe; its state is
    # the item's "image-size" task in item_tasks).
    Column("image_length", Integer),
    Column("image_type", String(100)),
    # The main text of the item's own page, sanitised HTML (a source's content = "full"; its
    # state is the item's "full-text" task in item_tasks); NULL: the feeds show the summary.
    Column("full_html", Text),
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

IMAGE_SIZE_TASK = (
    "image-size"  # the item_tasks name of an image's HEAD probe (feedsvc.ingest.probe)
)
FULL_TEXT_TASK = "full-text"  # the item_tasks name of an item's main text (content = "full")
BACKLOG = "backlog"  # a task state: queued for a stored item off the listing (backfilled)

# Once-per-item work done after extraction and retried on later runs (enrichment from the
# item's own page; any other such task, e.g. an image probe, shares it by its `task` name).
item_tasks = Table(
    "item_tasks",
    metadata,
    Column("guid", Text, primary_key=True),
    Column("task", String(40), primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    # pending, failed, off-page, done, refused, backlog
    Column("state", String(20), nullable=False),
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

# The members of each [[custom_feeds]] feed, kept by the write path as items are stored
# (store/custom.py): the same order-key and insertion-order indexes as topic_items.
custom_items = Table(
    "custom_items",
    metadata,
    Column("id", Integer, primary_key=True),  # insertion order: archive pages are cut along it
    Column("feed", String(200), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("order_key", String(40), nullable=False),
    Column("history", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("feed", "item_id"),
    Index("ix_custom_items_order", "feed", "order_key"),
    Index("ix_custom_items_insertion", "feed", "id"),
    Index("ix_custom_items_item", "item_id"),
)

# Each custom feed's definition as last applied: a different one re-filters every item.
custom_feeds = Table(
    "custom_feeds",
    metadata,
    Column("slug", String(200), primary_key=True),
    Column("definition", String(64), nullable=False),
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

# What operators did to the store (hide, unhide, repairs), newest last: `feedsvc history`.
operator_actions = Table(
    "operator_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False),
)

# A source's repaired selectors (feedsvc repair, [ingest] auto_repair): proposed, or in
# force in place of the config's until the config's block changes (`config_fingerprint`).
source_repairs = Table(
    "source_repairs",
    metadata,
    Column("source_id", ForeignKey("sources.id"), primary_key=True),
    Column("state", String(20), nullable=False),  # proposed, applied
    Column("since", UTCDateTime, nullable=False),
    Column("config_fingerprint", String(64), nullable=False),
    Column("block", Text, nullable=False),  # the [topics.sources.selectors] keys, TOML
    Column("recognised", Integer, nullable=False),
    Column("visible", Integer, nullable=False),
    Column("note", Text, nullable=False),
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
    Index("ix_feeds_dirty", "dirty"),  # a publish reads only the changed feeds
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
    Index("ix_rendered_stale", "kind", "stale_at"),  # digests whose week closed
)


# Who leads the scheduling across hosts, and since when: written by the leader, read by
# /healthz and `feedsvc status`.
leadership = Table(
    "leadership",
    metadata,
    Column("role", String(40), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid
    Column("since", UTCDateTime, nullable=False),
)

# The shared ingest on PostgreSQL (store/queue.py): when each source is next due, whether
# it waits in the queue, and which host holds it (host:pid) until when.
source_schedule = Table(
    "source_schedule",
    metadata,
    Column("source_id", ForeignKey("sources.id"), primary_key=True, autoincrement=False),
    Column("due_at", UTCDateTime),  # NULL: not configured, never queued
    Column("queued_at", UTCDateTime),  # NULL: not waiting
    Column("leased_by", String(200)),
    Column("leased_until", UTCDateTime),
    Index("ix_source_schedule_due", "due_at"),
    Index("ix_source_schedule_queued", "queued_at"),
)

# One row: bumped by every publish, so the web workers of every host know their cache is old.
publications = Table(
    "publications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
)


def membership(key: FeedKey) -> tuple[Select, ColumnElement, ColumnElement]:
    """The ids of a feed's items as a query, with its insertion-order and order-key columns."""
    if key.custom:
        members = (
            select(custom_items.c.item_id.label("id"))
            .join(items, items.c.id == custom_items.c.item_id)
            .where(custom_items.c.feed == key.custom, items.c.hidden == false())
        )
        return members, custom_items.c.id, custom_items.c.order_key
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
    flags = custom_items if key.custom else topic_items if key.topic else items
    return members.where(flags.c.history == false())


def count_members(conn: Connection, key: FeedKey) -> int:
    """Count a feed's members from scratch: only for upgrades and the rare change of type."""
    members, _, _ = membership(key)
    return conn.scalar(select(func.count()).select_from(members.subquery())) or 0
