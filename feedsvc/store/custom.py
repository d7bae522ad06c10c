"""[[custom_feeds]] in the store: each filtered feed's members, kept by the one write path.

An item joins a custom feed when it is stored (new, edited, first seen in another topic,
or given its main text later) and matches the feed's definition; an edited member that no
longer matches (its include no longer, or its exclude now) leaves it. A feed whose
definition changed (or is new) is filtered again over every stored item, oldest first so
its archive pages stay in order; a feed gone from the config loses its members and
documents.
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
from feedsvc.store.hiding import custom_page, recut_archives
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
        longer configured; returns the slugs dropped or filtered again."""
        with self.engine.begin() as conn:
            query = select(custom_feeds.c.slug, custom_feeds.c.definition)
            stored: dict[str, str] = {slug: value for slug, value in conn.execute(query)}
            dropped = sorted(set(stored) - {feed.slug for feed in wanted})
            for slug in dropped:
                _drop(conn, slug)
                conn.execute(delete(feeds).where(feeds.c.key == FeedKey(custom=slug).path))
                conn.execute(delete(custom_feeds).where(custom_feeds.c.slug == slug))
            changed = [feed for feed in wanted if stored.get(feed.slug) != feed.definition]
            for feed in changed:
                _refilter(conn, feed, now)
                values = {"slug": feed.slug, "definition": feed.definition}
                conn.execute(upsert(conn, custom_feeds, values, ["slug"]))
        return [*dropped, *(feed.slug for feed in changed)]


def join_custom_feeds(
    conn: Connection,
    wanted: Sequence[CustomFeed],
    candidates: Sequence[Candidate],
    now: datetime,
    page_size: int,
) -> None:
    """The candidates that match a feed join it (once); an edited member that matches no
    longer (its new text, type or a later main text) leaves it, re-cutting the feed's archive
    pages from the one it sat on (`page_size` items each). A feed that gained, lost or holds
    an edited member is marked changed. An item matches through any topic it is in."""
    if not wanted or not candidates:
        return
    latest = {c.item_id: c for c in candidates}  # one per item: its text and type as now stored
    ids = list(latest)
    members = {
        (feed, item_id): joined
        for feed, item_id, joined in conn.execute(
            select(custom_items.c.feed, custom_items.c.item_id, custom_items.c.id).where(
                custom_items.c.item_id.in_(ids)
            )
        )
    }
    topics: dict[int, set[str]] = {}
    for item_id, topic in conn.execute(
        select(topic_items.c.item_id, topic_items.c.topic).where(topic_items.c.item_id.in_(ids))
    ):
        topics.setdefault(item_id, set()).add(topic)
    for feed in wanted:
        joining: list[Candidate] = []
        leaving: list[int] = []  # custom_items ids of members that no longer match
        touched = False
        for item_id, c in latest.items():
            joined = members.get((feed.slug, item_id))
            if joined is not None and not c.edited:
                continue
            belongs = any(
                feed.matches(topic, c.type_slug, c.text) for topic in topics.get(item_id, {c.topic})
            )
            if joined is None and belongs:
                joining.append(c)
            elif joined is not None and belongs:
                touched = True
            elif joined is not None:
                leaving.append(joined)
        if joining:
            conn.execute(insert(custom_items), [_member_row(feed.slug, c) for c in joining])
        if leaving:
            _leave(conn, feed.slug, leaving, now, page_size)
        elif joining or touched:
            mark_dirty(conn, FeedKey(custom=feed.slug), now, len(joining))


def _leave(conn: Connection, slug: str, leaving: list[int], now: datetime, page_size: int) -> None:
    """Members (custom_items ids) out of a feed: its archive pages are cut again from the
    first page one of them sat on, as hiding an item does."""
    first = min(custom_page(conn, slug, joined, page_size) for joined in leaving)
    conn.execute(delete(custom_items).where(custom_items.c.id.in_(leaving)))
    recut_archives(conn, FeedKey(custom=slug), first, page_size, now)


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
