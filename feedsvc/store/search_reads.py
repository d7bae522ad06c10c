"""Search reads: one indexed query per search, as plain SQL the web tier runs without
SQLAlchemy (like reads.py). SQLite answers from the FTS5 table `item_search`, PostgreSQL
from a `tsvector` column with a GIN index; search_index.py keeps both as items are stored.
Hidden items are never found; backfilled history is. Cost is bounded: the newest-first
sort reads at most CANDIDATES_PER_RESULT matches per result asked for, whatever the query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from feedsvc.model import CONTENT_FIELDS, StoredItem
from feedsvc.query import Query

_ITEM_COLUMNS = ", ".join(
    f"i.{name}"
    for name in (
        *CONTENT_FIELDS,
        "guid",
        "published_at",
        "updated_at",
        "first_seen_at",
        "order_key",
        "image_length",
        "image_type",
        "full_html",
        "id",
    )
)
# A word in most items must not cost a sort of most of the store: a search ranks at most the
# CANDIDATES_PER_RESULT x limit matches stored last (new items are stored last; a backfill's
# old ones too), so its cost follows the answer asked for, not the size of the store.
CANDIDATES_PER_RESULT = 20
_MATCHES = {
    "sqlite": (
        "i.id IN (SELECT rowid FROM item_search WHERE item_search MATCH ? "
        "ORDER BY rowid DESC LIMIT ?)"
    ),
    "postgresql": (
        "i.id IN (SELECT item_id FROM item_search WHERE document @@ to_tsquery('simple', ?) "
        "ORDER BY item_id DESC LIMIT ?)"
    ),
}
_TOPIC_FILTER = " AND EXISTS (SELECT 1 FROM topic_items t WHERE t.item_id = i.id AND t.topic = ?)"
_TOPICS = "SELECT item_id, topic FROM topic_items WHERE item_id IN ({}) ORDER BY topic"


def search_statement(query: Query, dialect: str, limit: int) -> tuple[str, list[Any]]:
    """The statement and parameters that find a query's newest `limit` items: the matches are
    ranked by (id, order key) alone, and only the `limit` chosen rows are read whole (sorting
    whole rows would copy every candidate's text)."""
    match = query.tsquery() if dialect == "postgresql" else query.fts5()
    chosen = f"SELECT i.id FROM items i WHERE {_MATCHES[dialect]} AND NOT i.hidden"
    parameters: list[Any] = [match, CANDIDATES_PER_RESULT * limit]
    if query.type:
        chosen += " AND i.type_slug = ?"
        parameters.append(query.type)
    if query.topic:
        chosen += _TOPIC_FILTER
        parameters.append(query.topic)
    chosen += " ORDER BY i.order_key DESC LIMIT ?"
    statement = (
        f"SELECT {_ITEM_COLUMNS} FROM items i WHERE i.id IN ({chosen}) ORDER BY i.order_key DESC"
    )
    return statement, [*parameters, limit]


class SearchReads:
    """Searches over any way of running a statement (the web tier's Reader, the Store)."""

    run: Callable[[str, Sequence[Any]], list[tuple]]
    dialect: str

    def run_search(self, statement: str, parameters: Sequence[Any]) -> list[tuple]:
        """Run a search's statement (the web tier's Reader has a connection for them)."""
        return self.run(statement, parameters)

    def search(self, query: Query, limit: int) -> list[StoredItem]:
        """The newest `limit` items matching the query, each with its topics."""
        rows = self.run_search(*search_statement(query, self.dialect, limit))
        if not rows:
            return []
        ids = [row[-1] for row in rows]
        topics: dict[int, list[str]] = {}
        for item_id, topic in self.run_search(_TOPICS.format(", ".join("?" * len(ids))), ids):
            topics.setdefault(item_id, []).append(topic)
        return [_item(row, topics.get(row[-1], [])) for row in rows]


def _item(row: tuple, topics: list[str]) -> StoredItem:
    count = len(CONTENT_FIELDS)
    published, updated, first_seen, order, length, media_type, full = row[count + 1 : -1]
    return StoredItem(
        **dict(zip(CONTENT_FIELDS, row[:count], strict=True)),
        guid=row[count],
        published=_utc(published),
        updated=_utc(updated),
        first_seen=_utc(first_seen),
        order_key=order,
        topics=tuple(topics),
        image_length=length,
        image_type=media_type,
        full_html=full,
    )


def _utc(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime. SQLite keeps naive UTC text: it is read with its
    offset added, as datetime.replace costs several times the parse (three per result row);
    PostgreSQL gives naive UTC datetimes."""
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC)
