"""Feed change tracking and rendered documents: what changed, and the bytes kept for it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from feedsvc.keys import ArchiveKey, DigestKey, DocumentKey, FeedKey
from feedsvc.model import EPOCH, Rendered
from feedsvc.store.schema import count_members, feeds, rendered
from feedsvc.store.sql import dialect_insert, upsert

# The columns that make a Rendered, in its field order.
_RENDERED_FIELDS = tuple(rendered.c[name] for name in Rendered.__dataclass_fields__)


def document_columns(key: DocumentKey) -> dict[str, object]:
    """The columns that say what a rendered document is, so queries never parse its path."""
    if isinstance(key, ArchiveKey):
        return dict(kind="archive", topic=key.feed.topic, type_slug=key.feed.type, page=key.page)
    if isinstance(key, DigestKey):
        return dict(kind="digest", topic=key.topic, type_slug=None, page=None)
    return dict(kind="feed", topic=key.topic, type_slug=key.type, page=None)


def _feed_key(topic: str | None, type_slug: str | None) -> FeedKey:
    return FeedKey(topic=topic, type=type_slug)


def _keys(paths: Iterable[str]) -> list[FeedKey]:
    """Feed keys from the paths the store keys feeds and documents by (a custom feed has no
    topic or type column to rebuild it from)."""
    return [FeedKey.from_path(path) for path in paths]


class FeedStore:
    """Reads and writes of the `feeds` and `rendered` tables."""

    engine: Engine

    def dirty_feeds(self) -> list[FeedKey]:
        """Feeds whose items changed since they were last rendered."""
        with self.engine.connect() as conn:
            return _keys(
                conn.scalars(select(feeds.c.key).where(feeds.c.dirty).order_by(feeds.c.key))
            )

    def known_feeds(self) -> list[FeedKey]:
        """Every feed that ever had an item."""
        with self.engine.connect() as conn:
            return _keys(conn.scalars(select(feeds.c.key).order_by(feeds.c.key)))

    def feed_changed_at(self, key: FeedKey) -> datetime:
        """When the feed's items last changed; the epoch for a feed that never had any."""
        with self.engine.connect() as conn:
            value = conn.scalar(select(feeds.c.changed_at).where(feeds.c.key == key.path))
        return value or EPOCH

    def feed_version(self, key: FeedKey) -> int:
        """How many times the feed has changed; read before rendering, passed to mark_rendered."""
        with self.engine.connect() as conn:
            return conn.scalar(select(feeds.c.version).where(feeds.c.key == key.path)) or 0

    def final_pages(self, key: FeedKey) -> int:
        """How many of the feed's archive pages are rendered for good."""
        with self.engine.connect() as conn:
            return conn.scalar(select(feeds.c.final_pages).where(feeds.c.key == key.path)) or 0

    def mark_rendered(self, key: FeedKey, version: int, final_pages: int, done: bool) -> None:
        """The feed is rendered as of `version`, with archive pages 1..final_pages for good.

        The dirty mark is cleared only when the render was complete (`done`: no archive
        pages left for a later publish) and the feed is still at `version`: a change that
        landed while the render ran leaves the feed dirty for the next publish.
        """
        with self.engine.begin() as conn:
            conn.execute(
                update(feeds).where(feeds.c.key == key.path).values(final_pages=final_pages)
            )
            if not done:
                return
            conn.execute(
                update(feeds)
                .where(feeds.c.key == key.path, feeds.c.version == version)
                .values(dirty=False)
            )

    def save_rendered(self, outputs: Mapping[tuple[DocumentKey, str, int], Rendered]) -> None:
        """Keep rendered documents, each replacing what was kept for it, in one transaction."""
        with self.engine.begin() as conn:
            for (key, fmt, limit), out in outputs.items():
                values = dict(
                    doc=key.path,
                    format=fmt,
                    limit=limit,
                    **document_columns(key),
                    **{column.name: getattr(out, column.name) for column in _RENDERED_FIELDS},
                )
                conn.execute(upsert(conn, rendered, values, ["doc", "format", "limit"]))

    def rendered_feeds(self, limit: int) -> list[tuple[FeedKey, str, Rendered]]:
        """Every feed (no archive page, no digest) rendered at `limit`: what an export writes."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rendered.c.doc, rendered.c.format, *_RENDERED_FIELDS)
                .where(rendered.c.limit == limit, rendered.c.kind == "feed")
                .order_by(rendered.c.doc, rendered.c.format)
            )
            return [(FeedKey.from_path(doc), fmt, Rendered(*rest)) for doc, fmt, *rest in rows]

    def rendered_feed_keys(self, limit: int) -> set[FeedKey]:
        """The feeds that have bytes kept at `limit` (read once, at start-up)."""
        with self.engine.connect() as conn:
            query = select(rendered.c.doc).distinct()
            query = query.where(rendered.c.limit == limit, rendered.c.kind == "feed")
            return set(_keys(conn.scalars(query)))

    def redo_unrendered(self, limit: int) -> int:
        """Mark dirty every feed that had items but has no bytes kept at `limit` (a new
        default limit, a store restored without its documents); how many. Once, at start-up:
        publishes then only look at dirty feeds."""
        kept = select(rendered.c.doc).where(rendered.c.kind == "feed", rendered.c.limit == limit)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(feeds)
                .where(feeds.c.dirty.is_(False), feeds.c.key.not_in(kept))
                .values(dirty=True)
            )
            return result.rowcount

    def expired_digests(self, now: datetime) -> set[str]:
        """Topics whose kept digest went stale (its week closed)."""
        with self.engine.connect() as conn:
            return set(
                conn.scalars(
                    select(rendered.c.topic)
                    .distinct()
                    .where(rendered.c.kind == "digest", rendered.c.stale_at <= now)
                )
            )


def mark_dirty(conn: Connection, key: FeedKey, now: datetime, joined: int = 0) -> None:
    """The feed changed now, and `joined` items became its members."""
    mark_many_dirty(conn, {key: joined}, now)


def mark_many_dirty(conn: Connection, joined: Mapping[FeedKey, int], now: datetime) -> None:
    """These feeds changed now, each with how many items became its members: one statement."""
    if not joined:
        return
    statement = dialect_insert(conn, feeds)
    statement = statement.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "changed_at": statement.excluded.changed_at,
            "dirty": True,
            "version": feeds.c.version + 1,
            "member_count": feeds.c.member_count + statement.excluded.member_count,
        },
    )
    rows = [
        {
            "key": key.path,
            "topic": key.topic,
            "type_slug": key.type,
            "changed_at": now,
            "dirty": True,
            "version": 1,
            "member_count": count,
        }
        for key, count in joined.items()
    ]
    conn.execute(statement, rows)


def retyped(conn: Connection, type_slugs: set[str]) -> None:
    """Items moved between these types' feeds mid-sequence: recount them, redo their archives."""
    if not type_slugs:
        return
    conn.execute(
        rendered.delete().where(rendered.c.type_slug.in_(type_slugs), rendered.c.kind == "archive")
    )
    rows = conn.execute(
        select(feeds.c.key, feeds.c.topic, feeds.c.type_slug).where(
            feeds.c.type_slug.in_(type_slugs)
        )
    ).all()
    for path, topic, type_slug in rows:
        conn.execute(
            update(feeds)
            .where(feeds.c.key == path)
            .values(final_pages=0, member_count=count_members(conn, _feed_key(topic, type_slug)))
        )
