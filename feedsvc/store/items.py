"""Items: the one write path that stores what an ingest found, and the reads feeds are made of."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.sql import Select

from feedsvc.config.custom_feeds import CustomFeed, searchable_text
from feedsvc.config.settings import FeedsConfig
from feedsvc.keys import FeedKey, affected_feeds
from feedsvc.model import Changes, Item, StoredItem, TaskOutcome, content_of, order_key
from feedsvc.store.custom import Candidate, join_custom_feeds
from feedsvc.store.documents import mark_dirty, mark_many_dirty, retyped
from feedsvc.store.schema import (
    current_only,
    ingest_runs,
    items,
    membership,
    sources,
    topic_items,
    types,
)
from feedsvc.store.search_index import index_items
from feedsvc.store.sql import source_id, upsert
from feedsvc.store.tasks import queue_image_probe, record_tasks, requeue_full_text


class ItemStore:
    """Reads and writes of the `items`, `topic_items` and `types` tables."""

    engine: Engine

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
        undated_text: str | None = None,
        tasks: Sequence[TaskOutcome] = (),
        custom: Sequence[CustomFeed] = (),
        page_size: int = FeedsConfig.archive_page_size,
    ) -> Changes:
        """Store the items of one successful fetch in one transaction and mark changed feeds
        (the `custom` feeds new, edited and newly linked items match included; an edited
        member that matches no longer leaves one, its archive pages of `page_size` re-cut)."""
        with self.engine.begin() as conn:
            source = source_id(conn, topic, url)
            record_tasks(conn, source, tasks, [item.guid for item in found], now)
            fetched = {outcome.guid for outcome in tasks if outcome.tried}
            if undated_text:
                conn.execute(
                    update(sources)
                    .where(sources.c.id == source)
                    .values(last_undated_text=undated_text, last_undated_at=now)
                )
            run_id = _new_run(conn, source, now, len(found))
            existing = {
                row.guid: row
                for row in conn.execute(
                    select(
                        items.c.id,
                        items.c.guid,
                        items.c.content_hash,
                        items.c.date_missing,
                        items.c.image_url,
                        items.c.type_slug,
                        items.c.order_key,
                        items.c.hidden,
                        items.c.full_html,
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
            moved: set[str] = set()
            joined: Counter[FeedKey] = Counter()  # members each feed gains
            unchanged_ids: list[int] = []
            candidates: list[Candidate] = []
            hidden_edits: list[Candidate] = []
            for item in found:
                row = existing.get(item.guid)
                same = False  # stored and unchanged
                if row is None:
                    item_id, key = _insert_item(conn, item, source, run_id, now)
                    if item.image_url:
                        queue_image_probe(conn, source, item.guid, now)
                    new += 1
                elif _edited(row, item):
                    item_id, key = row.id, row.order_key
                    _update_item(conn, item_id, item, now, row.date_missing)
                    if item.guid not in fetched:  # edited on the page: its text is due again
                        requeue_full_text(conn, item.guid, now)
                    if item.image_url != row.image_url:
                        _forget_image_size(conn, item_id)
                        if item.image_url:
                            queue_image_probe(conn, source, item.guid, now)
                    updated += 1
                    touched_types |= {item.type_slug, row.type_slug}
                    if item.type_slug != row.type_slug:
                        moved |= {item.type_slug, row.type_slug}
                else:
                    item_id, key, same = row.id, row.order_key, True
                    unchanged_ids.append(item_id)
                if not (same and item_id in linked):
                    candidate = _candidate(item, row, item_id, topic, key, not same)
                    # a hidden item is no feed's member, but its index follows its edits
                    (hidden_edits if row and row.hidden else candidates).append(candidate)
                if item_id not in linked:  # new, or first seen in this topic
                    hidden = row is not None and row.hidden  # hidden stays hidden anywhere
                    _link(conn, topic, item_id, item.type_slug, key, hidden)
                    touched_types.add(item.type_slug)
                    if not hidden:  # a hidden item is no feed's member
                        joined.update(joined_feeds(topic, item.type_slug, new_item=row is None))
            if unchanged_ids:
                conn.execute(
                    update(items).where(items.c.id.in_(unchanged_ids)).values(last_seen_at=now)
                )
            # One statement per type, the last label seen winning, as one per item did.
            for slug, label in {item.type_slug: item.type_label for item in found}.items():
                upsert_type(conn, slug, label)
            for key in affected_feeds(topic, touched_types) if touched_types else ():
                mark_dirty(conn, key, now, joined[key])
            retyped(conn, moved)
            join_custom_feeds(conn, custom, candidates, now, page_size)
            index_items(conn, [(c.item_id, c.order_key, c.text) for c in candidates + hidden_edits])
            conn.execute(
                update(sources)
                .where(sources.c.id == source)
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
        return Changes(new, updated, len(found) - new - updated)

    def bulk_insert(
        self, batches: Sequence[tuple[str, str, Sequence[Item]]], now: datetime
    ) -> None:
        """Insert items known to be new, (topic, source url, items) for many sources, in one
        transaction with one executemany per table: imports and benchmarks.

        Nothing is compared, unlike record_items: a guid already stored fails the whole
        transaction. Items get the ids after the largest one, so run it with no other writer.
        """
        with self.engine.begin() as conn, _large_cache(conn):
            last_id = conn.scalar(select(func.max(items.c.id))) or 0
            rows, topics = [], []
            for topic, url, new in batches:
                source = source_id(conn, topic, url)
                run_id = _new_run(conn, source, now, None)
                rows += [new_item_row(item, source, run_id, now) for item in new]
                topics += [topic] * len(new)
            if not rows:
                return
            conn.execute(insert(items), rows)
            inserted = conn.execute(
                select(items.c.id, items.c.type_slug, items.c.order_key)
                .where(items.c.id > last_id)
                .order_by(items.c.id)
            ).all()
            found = [item for _, _, new in batches for item in new]
            texts = [searchable_text(i.title, i.summary_text, i.full_html, i.author) for i in found]
            index_items(
                conn,
                [(row.id, row.order_key, body) for row, body in zip(inserted, texts, strict=True)],
            )
            conn.execute(
                insert(topic_items),
                [
                    dict(topic=topic, item_id=i, type_slug=t, order_key=k)
                    for topic, (i, t, k) in zip(topics, inserted, strict=True)
                ],
            )
            for slug, label in {(item.type_slug, item.type_label) for item in found}:
                upsert_type(conn, slug, label)
            joined: Counter[FeedKey] = Counter()
            for topic, item in zip(topics, found, strict=True):
                joined.update(joined_feeds(topic, item.type_slug, True))
            mark_many_dirty(conn, joined, now)

    def entries(self, key: FeedKey, limit: int, before: str | None = None) -> list[StoredItem]:
        """The newest `limit` items of a feed (older than order key `before`), through an index."""
        members, _, order = membership(key)
        members = current_only(key, members)  # backfilled history is reached by the archives
        if before is not None:
            members = members.where(order < before)
        return self._load(members.order_by(order.desc()).limit(limit))

    def archive_entries(self, key: FeedKey, page: int, size: int) -> list[StoredItem]:
        """Archive page `page`: the feed's members `size` at a time in the order they joined it."""
        members, joined, _ = membership(key)
        return self._load(members.order_by(joined).limit(size).offset((page - 1) * size))

    def entries_plan(self, key: FeedKey, limit: int) -> list[str]:
        """SQLite's plan for a feed's entries: benchmarks show it seeks an index, never scans."""
        members, _, order = membership(key)
        query = _items_of(members.order_by(order.desc()).limit(limit)).compile(
            self.engine, compile_kwargs={"literal_binds": True}
        )
        with self.engine.connect() as conn:
            return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}")]

    def _load(self, members: Select) -> list[StoredItem]:
        """The items whose ids `members` selects, newest first, each with its topics."""
        with self.engine.connect() as conn:
            rows = conn.execute(_items_of(members)).all()
            memberships: dict[int, list[str]] = {}
            for item_id, topic in conn.execute(
                select(topic_items.c.item_id, topic_items.c.topic)
                .where(topic_items.c.item_id.in_([row.id for row in rows]))
                .order_by(topic_items.c.topic)
            ):
                memberships.setdefault(item_id, []).append(topic)
        return [_stored_item(row, memberships.get(row.id, [])) for row in rows]


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


def _new_run(conn: Connection, source: int, now: datetime, on_page: int | None) -> int:
    """Record an ingest run; its id orders items found by later runs first."""
    return conn.execute(
        insert(ingest_runs).values(source_id=source, started_at=now, items_on_page=on_page)
    ).inserted_primary_key[0]


def joined_feeds(topic: str, type_slug: str, new_item: bool) -> list[FeedKey]:
    """The feeds an item joins in a topic: a new item also joins its type's feed."""
    return [key for key in FeedKey.of_item(topic, type_slug) if new_item or key.topic]


def _item_values(item: Item) -> dict:
    """The columns an item's content fills, with the hash that tells an edit; its main text
    only when this run fetched it (else the stored one stays)."""
    text = {"full_html": item.full_html} if item.full_html is not None else {}
    return {**content_of(item), "content_hash": item.content_hash(), **text}


def _candidate(
    item: Item, row: Row | None, item_id: int, topic: str, key: str, changed: bool
) -> Candidate:
    """A new, edited or newly linked item as the custom feeds' filters read it."""
    text = item.full_html or (row.full_html if row is not None else None)
    searchable = searchable_text(item.title, item.summary_text, text, item.author)
    return Candidate(item_id, topic, item.type_slug, searchable, key, row is not None and changed)


def _edited(row: Row, item: Item) -> bool:
    """What a reader sees changed: the listing's fields, a date found at last, a new text."""
    return (
        row.content_hash != item.content_hash()
        or (row.date_missing and item.published is not None)
        or (item.full_html is not None and item.full_html != row.full_html)
    )


def _insert_item(
    conn: Connection, item: Item, source: int, run_id: int, now: datetime
) -> tuple[int, str]:
    """Insert a new item; returns its id and order key."""
    row = new_item_row(item, source, run_id, now)
    return conn.execute(insert(items).values(**row)).inserted_primary_key[0], row["order_key"]


def new_item_row(item: Item, source: int, run_id: int, now: datetime) -> dict:
    """The columns of an item seen for the first time. A missing date becomes first-seen, once."""
    published = item.published or now
    return dict(
        guid=item.guid,
        published_at=published,
        date_missing=item.published is None,
        updated_at=published,
        first_seen_at=now,
        last_seen_at=now,
        source_id=source,
        order_key=order_key(published, run_id, item.position),
        **_item_values(item),
    )


def _update_item(
    conn: Connection, item_id: int, item: Item, now: datetime, date_missing: bool = False
) -> None:
    """An edited item keeps its id, guid, date and place; only its content and `updated` move.

    The one date that changes: an item stored undated gets the date found later (enriched
    from its own page); it keeps its place in the feeds."""
    dated = {"published_at": item.published, "date_missing": False}
    conn.execute(
        update(items)
        .where(items.c.id == item_id)
        .values(
            updated_at=now,
            last_seen_at=now,
            **_item_values(item),
            **(dated if date_missing and item.published else {}),
        )
    )
    conn.execute(
        update(topic_items).where(topic_items.c.item_id == item_id).values(type_slug=item.type_slug)
    )


def _forget_image_size(conn: Connection, item_id: int) -> None:
    """An item's image changed: the size its old image had no longer holds."""
    conn.execute(
        update(items).where(items.c.id == item_id).values(image_length=None, image_type=None)
    )


def _items_of(members: Select) -> Select:
    """The items `members` selects, newest first: `limit` index entries, then rows by id."""
    page = members.subquery()
    return select(items).join(page, page.c.id == items.c.id).order_by(items.c.order_key.desc())


def _link(
    conn: Connection, topic: str, item_id: int, type_slug: str, key: str, hidden: bool = False
) -> None:
    conn.execute(
        insert(topic_items).values(
            topic=topic, item_id=item_id, type_slug=type_slug, order_key=key, hidden=hidden
        )
    )


def upsert_type(conn: Connection, slug: str, label: str) -> None:
    conn.execute(upsert(conn, types, {"slug": slug, "label": label}, ["slug"]))


def _stored_item(row: Row, topics: list[str]) -> StoredItem:
    """A stored item from its row: content by field name, dates from their columns."""
    return StoredItem(
        **content_of(row),
        guid=row.guid,
        published=row.published_at,
        updated=row.updated_at,
        first_seen=row.first_seen_at,
        order_key=row.order_key,
        topics=tuple(topics),
        image_length=row.image_length,
        image_type=row.image_type,
        full_html=row.full_html,
    )
