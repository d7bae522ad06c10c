"""Hidden items: out of every feed, kept in the store so they never come back as new.

Archive pages are cut by the order items joined a feed, so hiding (or restoring) an item
shifts every page from the one it sits on: those pages stop being final and are rendered
again, the pages before it stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, false, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from feedsvc.archive import page_count
from feedsvc.keys import FeedKey
from feedsvc.store.actions import record_action
from feedsvc.store.documents import mark_dirty
from feedsvc.store.schema import (
    count_members,
    custom_items,
    feeds,
    items,
    rendered,
    sources,
    topic_items,
)


@dataclass(frozen=True)
class ListedItem:
    """A stored item as `feedsvc items` lists it."""

    guid: str
    link: str
    title: str
    type_slug: str
    source: str
    first_seen: datetime
    last_seen: datetime
    hidden: bool


class HidingStore:
    """Hide and restore items, and list what a topic holds."""

    engine: Engine

    def set_hidden(
        self, links: Sequence[str], hidden: bool, now: datetime, page_size: int, action: str
    ) -> tuple[list[str], list[str]]:
        """Hide (or restore) the items with these links or guids in one transaction, re-cut
        the archives they sat in and log the action; returns (changed, unknown) links."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(items.c.id, items.c.guid, items.c.link, items.c.type_slug, items.c.hidden)
                .where(or_(items.c.link.in_(links), items.c.guid.in_(links)))
                .order_by(items.c.id)
            ).all()
            known = {row.link for row in rows} | {row.guid for row in rows}
            changing = [row for row in rows if row.hidden != hidden]
            first_page: dict[FeedKey, int] = {}
            for row in changing:
                for key, page in _pages_of(conn, row.id, row.type_slug, page_size).items():
                    first_page[key] = min(page, first_page.get(key, page))
            ids = [row.id for row in changing]
            conn.execute(update(items).where(items.c.id.in_(ids)).values(hidden=hidden))
            conn.execute(
                update(topic_items).where(topic_items.c.item_id.in_(ids)).values(hidden=hidden)
            )
            for key, page in first_page.items():
                recut_archives(conn, key, page, page_size, now)
            changed = [row.link for row in changing]
            if changed:
                record_action(conn, now, action, f"{len(changed)} items: " + " ".join(changed))
        return changed, [link for link in links if link not in known]

    def listed_items(self, topic: str, url: str | None = None) -> list[ListedItem]:
        """A topic's stored items (or one source's), newest first, hidden ones included."""
        query = (
            select(
                items.c.guid,
                items.c.link,
                items.c.title,
                items.c.type_slug,
                sources.c.url,
                items.c.first_seen_at,
                items.c.last_seen_at,
                items.c.hidden,
            )
            .join(topic_items, topic_items.c.item_id == items.c.id)
            .join(sources, sources.c.id == items.c.source_id)
            .where(topic_items.c.topic == topic)
            .order_by(topic_items.c.order_key.desc())
        )
        if url is not None:
            query = query.where(sources.c.url == url)
        with self.engine.connect() as conn:
            return [ListedItem(*row) for row in conn.execute(query)]


def _pages_of(conn: Connection, item_id: int, type_slug: str, size: int) -> dict[FeedKey, int]:
    """The archive page the item sits on (or would, restored) in each feed it belongs to."""
    pages = {}
    ahead = select(func.count()).select_from(items).where(items.c.type_slug == type_slug)
    ahead = ahead.where(items.c.hidden == false(), items.c.id < item_id)
    pages[FeedKey(type=type_slug)] = (conn.scalar(ahead) or 0) // size + 1
    for topic, joined, in_type in conn.execute(
        select(topic_items.c.topic, topic_items.c.id, topic_items.c.type_slug).where(
            topic_items.c.item_id == item_id
        )
    ):
        for key in (FeedKey(topic=topic), FeedKey(topic=topic, type=in_type)):
            before = select(func.count()).select_from(topic_items)
            before = before.where(
                topic_items.c.topic == topic,
                topic_items.c.hidden == false(),
                topic_items.c.id < joined,
            )
            if key.type:
                before = before.where(topic_items.c.type_slug == in_type)
            pages[key] = (conn.scalar(before) or 0) // size + 1
    for feed, joined in conn.execute(
        select(custom_items.c.feed, custom_items.c.id).where(custom_items.c.item_id == item_id)
    ):
        pages[FeedKey(custom=feed)] = custom_page(conn, feed, joined, size)
    return pages


def custom_page(conn: Connection, feed: str, joined: int, size: int) -> int:
    """The archive page of a custom feed that its member `joined` (custom_items.id) sits on."""
    before = (
        select(func.count())
        .select_from(custom_items.join(items, items.c.id == custom_items.c.item_id))
        .where(custom_items.c.feed == feed, items.c.hidden == false())
        .where(custom_items.c.id < joined)
    )
    return (conn.scalar(before) or 0) // size + 1


def recut_archives(conn: Connection, key: FeedKey, page: int, size: int, now: datetime) -> None:
    """Pages from `page` on are rendered again; pages past the new last one are dropped."""
    mark_dirty(conn, key, now)
    members = count_members(conn, key)
    kept = case((feeds.c.final_pages > page - 1, page - 1), else_=feeds.c.final_pages)
    conn.execute(
        update(feeds).where(feeds.c.key == key.path).values(member_count=members, final_pages=kept)
    )
    this_feed = (
        rendered.c.doc.like(f"{key.path}/archive/%")  # a custom feed has no topic or type
        if key.custom
        else _same(rendered.c.topic, key.topic) & _same(rendered.c.type_slug, key.type)
    )
    conn.execute(
        rendered.delete().where(
            rendered.c.kind == "archive",
            this_feed,
            rendered.c.page > page_count(members, size),  # an empty feed has no page 1
        )
    )


def _same(column: ColumnElement, value: str | None) -> ColumnElement:
    return column.is_(None) if value is None else column == value
