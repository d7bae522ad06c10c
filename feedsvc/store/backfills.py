"""Backfilled history: a source's older listing pages, stored page by page with where the walk
stands, so a killed backfill goes on from the page after the last one stored.

Backfilled items join their feeds last (archive pages are cut by joining order, so no final
page changes) and are flagged `history`: the archives hold them, current feeds never do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from feedsvc.config.custom_feeds import CustomFeed, searchable_text
from feedsvc.config.settings import FeedsConfig
from feedsvc.keys import FeedKey, affected_feeds
from feedsvc.model import Item, order_key
from feedsvc.store.custom import Candidate, join_custom_feeds
from feedsvc.store.documents import mark_dirty
from feedsvc.store.items import joined_feeds, new_item_row, upsert_type
from feedsvc.store.schema import backfills, items, sources, topic_items
from feedsvc.store.search_index import index_items
from feedsvc.store.sql import source_id, upsert
from feedsvc.store.tasks import queue_backlog

HISTORY_RUN = 0  # order keys of backfilled items sort after every real run's at the same second


@dataclass(frozen=True)
class BackfillState:
    """Where a source's backfill stands: the next page to read and what was found so far."""

    next_page: int
    next_url: str | None
    pages_read: int = 0
    items_new: int = 0
    items_known: int = 0
    oldest_at: datetime | None = None
    done: bool = False


class BackfillStore:
    """Reads and writes of the `backfills` table and the history items it stores."""

    engine: Engine

    def backfill_state(self, topic: str, url: str) -> BackfillState | None:
        """The source's backfill so far, or None when none was started."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*[backfills.c[name] for name in BackfillState.__dataclass_fields__])
                .join(sources, sources.c.id == backfills.c.source_id)
                .where(sources.c.topic == topic, sources.c.url == url)
            ).first()
        return BackfillState(*row) if row else None

    def oldest_published(self, topic: str, url: str) -> datetime | None:
        """The oldest date among the source's stored items: where backfilled undated ones go."""
        with self.engine.connect() as conn:
            return conn.scalar(
                select(func.min(items.c.published_at))
                .join(sources, sources.c.id == items.c.source_id)
                .where(sources.c.topic == topic, sources.c.url == url)
            )

    def record_backfill_page(
        self,
        topic: str,
        url: str,
        found: Sequence[Item],
        placed: dict[str, datetime],
        state: BackfillState,
        now: datetime,
        full_text: bool = False,
        custom: Sequence[CustomFeed] = (),
        page_size: int = FeedsConfig.archive_page_size,
    ) -> tuple[int, int]:
        """Store one page's items not stored yet as history, with the walk's new state, in one
        transaction; `placed` dates the undated items; with `full_text` their main text is
        queued (a few per run). Returns (new, known)."""
        with self.engine.begin() as conn:
            source = source_id(conn, topic, url)
            known = set(
                conn.scalars(select(items.c.guid).where(items.c.guid.in_([i.guid for i in found])))
            )
            fresh = [item for item in found if item.guid not in known]
            joined: Counter[FeedKey] = Counter()
            candidates = []
            for item in fresh:
                at = placed.get(item.guid)
                item_id, key = _insert_history(conn, topic, item, source, at, now)
                text = searchable_text(item.title, item.summary_text, None, item.author)
                member = Candidate(item_id, topic, item.type_slug, text, key, history=True)
                candidates.append(member)
                upsert_type(conn, item.type_slug, item.type_label)
                joined.update(joined_feeds(topic, item.type_slug, new_item=True))
            join_custom_feeds(conn, custom, candidates, now, page_size)
            index_items(conn, [(c.item_id, c.order_key, c.text) for c in candidates])
            if full_text and fresh:
                queue_backlog(conn, source, [item.guid for item in fresh], now)
            for key in affected_feeds(topic, {i.type_slug for i in fresh}) if fresh else ():
                mark_dirty(conn, key, now, joined[key])
            values = {**state.__dict__, "updated_at": now}
            values["items_new"] += len(fresh)
            values["items_known"] += len(found) - len(fresh)
            conn.execute(upsert(conn, backfills, {"source_id": source, **values}, ["source_id"]))
        return len(fresh), len(found) - len(fresh)


def _insert_history(
    conn: Connection, topic: str, item: Item, source: int, placed: datetime | None, now: datetime
) -> tuple[int, str]:
    """A backfilled item: dated by the page or placed by its listing position, flagged history."""
    row = new_item_row(item, source, HISTORY_RUN, now)
    if placed is not None:  # never dated "now": older than the pages before it
        row |= dict(
            published_at=placed,
            updated_at=placed,
            order_key=order_key(placed, HISTORY_RUN, item.position),
        )
    item_id = conn.execute(insert(items).values(**row, history=True)).inserted_primary_key[0]
    conn.execute(
        insert(topic_items).values(
            topic=topic,
            item_id=item_id,
            type_slug=item.type_slug,
            order_key=row["order_key"],
            history=True,
        )
    )
    return item_id, row["order_key"]
