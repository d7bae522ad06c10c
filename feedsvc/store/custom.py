"""[[custom_feeds]] in the store: each filtered feed's members, kept by the one write path.

An item joins a custom feed when it is stored (new, edited, or first seen in another
topic) and matches the feed's definition; a feed whose definition changed (or is new) is
filtered again over every stored item, oldest first so its archive pages stay in order;
a feed gone from the config loses its members and documents. An edit never takes an item
out of a feed it joined (readers already have it): only a new definition does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection, Engine

from feedsvc.config.custom_feeds import CustomFeed, searchable_text
from feedsvc.keys import FeedKey
from feedsvc.store.documents import mark_dirty
from feedsvc.store.schema import (
    count_members,
    custom_feeds,
    custom_items,
    feeds,
    items,
    rendered,
    topic_items,
)
from feedsvc.store.sql import upsert

REFILTER_BATCH = 2_000  # items read at a time while a feed is filtered again


@dataclass(frozen=True)
class Candidate:
    """A stored item that may join custom feeds: new, edited or newly in a topic."""

    item_id: int
    topic: str
    type_slug: str
    text: str  # title, summary, full text and author (searchable_text)
    order_key: str
    edited: bool = False  # already stored: a feed it is in changed
    history: bool = False


class CustomFeedStore:
    """Keeps `custom_items` in step with the configured [[custom_feeds]]."""

    engine: Engine

    def sync_custom_feeds(self, wanted: Sequence[CustomFeed], now: datetime) -> list[str]:
        """Filter again the feeds whose definition changed or that are new, and drop those no
        longer configured; returns the slugs filtered again."""
        with self.engine.begin() as conn:
            query = select(custom_feeds.c.slug, custom_feeds.c.definition)
            stored: dict[str, str] = {slug: value for slug, value in conn.execute(query)}
            for slug in set(stored) - {feed.slug for feed in wanted}:
                _drop(conn, slug)
                conn.execute(delete(feeds).where(feeds.c.key == FeedKey(custom=slug).path))
                conn.execute(delete(custom_feeds).where(custom_feeds.c.slug == slug))
            changed = [feed for feed in wanted if stored.get(feed.slug) != feed.definition]
            for feed in changed:
                _refilter(conn, feed, now)
                values = {"slug": feed.slug, "definition": feed.definition}
                conn.execute(upsert(conn, custom_feeds, values, ["slug"]))
        return [feed.slug for feed in changed]


def join_custom_feeds(
    conn: Connection, wanted: Sequence[CustomFeed], candidates: Sequence[Candidate], now: datetime
) -> None:
    """The candidates that match a feed join it (once); a feed that gained members or holds
    an edited one is marked changed."""
    if not wanted or not candidates:
        return
    ids = [c.item_id for c in candidates]
    members = {
        (feed, item_id)
        for feed, item_id in conn.execute(
            select(custom_items.c.feed, custom_items.c.item_id).where(
                custom_items.c.item_id.in_(ids)
            )
        )
    }
    for feed in wanted:
        joining: dict[int, Candidate] = {}
        touched = False
        for c in candidates:
            if (feed.slug, c.item_id) in members:
                touched |= c.edited
            elif c.item_id not in joining and feed.matches(c.topic, c.type_slug, c.text):
                joining[c.item_id] = c
        rows = [_member_row(feed.slug, c) for c in joining.values()]
        if rows:
            conn.execute(insert(custom_items), rows)
        if rows or touched:
            mark_dirty(conn, FeedKey(custom=feed.slug), now, len(rows))


def _member_row(slug: str, candidate: Candidate) -> dict:
    return {
        "feed": slug,
        "item_id": candidate.item_id,
        "order_key": candidate.order_key,
        "history": candidate.history,
    }


def _drop(conn: Connection, slug: str) -> None:
    """A feed's members and every document rendered for it."""
    path = FeedKey(custom=slug).path
    conn.execute(delete(custom_items).where(custom_items.c.feed == slug))
    conn.execute(
        delete(rendered).where(or_(rendered.c.doc == path, rendered.c.doc.like(f"{path}/%")))
    )


def _refilter(conn: Connection, feed: CustomFeed, now: datetime) -> None:
    """Every stored item, oldest first, through the feed's definition."""
    _drop(conn, feed.slug)
    after: tuple[str, int] = ("", 0)
    while True:
        batch = conn.execute(
            select(
                items.c.id,
                items.c.order_key,
                items.c.type_slug,
                items.c.title,
                items.c.summary_text,
                items.c.full_html,
                items.c.author,
                items.c.history,
            )
            .where(tuple_(items.c.order_key, items.c.id) > tuple_(*after))
            .order_by(items.c.order_key, items.c.id)
            .limit(REFILTER_BATCH)
        ).all()
        if not batch:
            break
        topics: dict[int, list[str]] = {}
        for item_id, topic in conn.execute(
            select(topic_items.c.item_id, topic_items.c.topic).where(
                topic_items.c.item_id.in_([row.id for row in batch])
            )
        ):
            topics.setdefault(item_id, []).append(topic)
        candidates = [
            Candidate(
                row.id,
                topic,
                row.type_slug,
                searchable_text(row.title, row.summary_text, row.full_html, row.author),
                row.order_key,
                history=row.history,
            )
            for row in batch
            for topic in sorted(topics.get(row.id, []))
        ]
        rows = {
            c.item_id: _member_row(feed.slug, c)
            for c in candidates
            if feed.matches(c.topic, c.type_slug, c.text)
        }
        if rows:
            conn.execute(insert(custom_items), list(rows.values()))
        after = (batch[-1].order_key, batch[-1].id)
    key = FeedKey(custom=feed.slug)
    mark_dirty(conn, key, now)
    conn.execute(
        update(feeds)
        .where(feeds.c.key == key.path)
        .values(member_count=count_members(conn, key), final_pages=0)
    )
