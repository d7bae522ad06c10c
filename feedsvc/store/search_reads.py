"""Search reads: one indexed query per search, as plain SQL the web tier runs without
SQLAlchemy (like reads.py). SQLite answers from the FTS5 table `item_search`, PostgreSQL
from a `tsvector` column with a GIN index; search_index.py keeps both as items are stored.
Hidden items are never found; backfilled history is.

The answer is exact, the newest matches by order key, and its cost follows the answer, not
the store. SQLite walks the matches by their search key, newest minute first, and stops at
`limit` (then reads the rest of the last minute, whose keys follow ids, and sorts by order
key). PostgreSQL's planner chooses between the GIN index and the order-key index. A `type:`
or `topic:` filter, which a match may fail, looks among the newest
CANDIDATES_PER_RESULT x limit matches only (hidden ones counted), on both databases, so no
filter makes a query walk the whole index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from feedsvc.model import CONTENT_FIELDS, StoredItem
from feedsvc.query import Query
from feedsvc.store.search_keys import ID_MASK, MINUTE_MASK

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
    )
)
# Each row's topics as one space-separated text (slugs hold no space), read in the same query.
_TOPICS_OF_ROW = {
    "sqlite": "(SELECT group_concat(t.topic, ' ') FROM topic_items t WHERE t.item_id = i.id)",
    "postgresql": "(SELECT string_agg(t.topic, ' ') FROM topic_items t WHERE t.item_id = i.id)",
}
CANDIDATES_PER_RESULT = 20
_LOWEST_KEY = -(1 << 63)
_TOPIC_FILTER = " AND EXISTS (SELECT 1 FROM topic_items t WHERE t.item_id = i.id AND t.topic = ?)"
# SQLite: the newest `limit` matches by key, then the rest of the last one's minute.
_SQLITE_CHOSEN = f"""newest AS (
    SELECT s.rowid AS key, i.id, i.order_key {{matches}} ORDER BY s.rowid DESC LIMIT ?
), last AS (SELECT min(key) AS key FROM newest), same_minute AS (
    SELECT s.rowid, i.id, i.order_key {{matches}}
    AND s.rowid >= (SELECT key & {MINUTE_MASK} FROM last) AND s.rowid < (SELECT key FROM last)
), chosen AS (
    SELECT id FROM (SELECT * FROM newest UNION ALL SELECT * FROM same_minute)
    ORDER BY order_key DESC LIMIT ?
)"""
# The lowest key a filtered search looks at: that of its CANDIDATES_PER_RESULT x limit-th match.
_SQLITE_FLOOR = (
    " AND s.rowid >= coalesce((SELECT rowid FROM item_search WHERE item_search MATCH ?"
    f" ORDER BY rowid DESC LIMIT 1 OFFSET ?), {_LOWEST_KEY})"
)
_POSTGRES_MATCHES = (
    "FROM items i JOIN item_search s ON s.item_id = i.id "
    "WHERE s.document @@ to_tsquery('simple', ?)"
)
_POSTGRES_CHOSEN = (
    f"chosen AS (SELECT i.id {_POSTGRES_MATCHES} AND NOT i.hidden ORDER BY i.order_key DESC "
    "LIMIT ?)"
)
# A filtered search: its filters among the newest CANDIDATES_PER_RESULT x limit matches.
_POSTGRES_FILTERED = f"""candidates AS (
    SELECT i.id, i.order_key {_POSTGRES_MATCHES} ORDER BY i.order_key DESC LIMIT ?
), chosen AS (
    SELECT c.id FROM candidates c JOIN items i ON i.id = c.id WHERE NOT i.hidden{{filters}}
    ORDER BY c.order_key DESC LIMIT ?
)"""


def search_statement(query: Query, dialect: str, limit: int) -> tuple[str, list[Any]]:
    """The statement and parameters that read a query's newest `limit` items whole: the
    matches are chosen by key and order key alone, and only the chosen rows are read whole."""
    choose = _postgres_chosen if dialect == "postgresql" else _sqlite_chosen
    chosen, parameters = choose(query, limit)
    statement = (
        f"WITH {chosen} SELECT {_ITEM_COLUMNS}, {_TOPICS_OF_ROW[dialect]} FROM items i "
        "WHERE i.id IN (SELECT id FROM chosen) ORDER BY i.order_key DESC"
    )
    return statement, parameters


def _sqlite_chosen(query: Query, limit: int) -> tuple[str, list[Any]]:
    """The `chosen` ids walked from SQLite's index by search key."""
    filters, filter_parameters = _filters(query)
    match = query.fts5()
    matches = (
        f"FROM item_search s JOIN items i ON i.id = s.rowid & {ID_MASK} WHERE s.item_search MATCH ?"
    )
    walked = [match]
    if query.filters:
        matches += _SQLITE_FLOOR
        walked += [match, CANDIDATES_PER_RESULT * limit - 1]
    matches += f" AND NOT i.hidden{filters}"
    walked += filter_parameters
    return _SQLITE_CHOSEN.format(matches=matches), [*walked, limit, *walked, limit]


def _postgres_chosen(query: Query, limit: int) -> tuple[str, list[Any]]:
    """The `chosen` ids PostgreSQL's planner finds by order key."""
    if not query.filters:
        return _POSTGRES_CHOSEN, [query.tsquery(), limit]
    filters, filter_parameters = _filters(query)
    window = CANDIDATES_PER_RESULT * limit
    return _POSTGRES_FILTERED.format(filters=filters), [
        query.tsquery(),
        window,
        *filter_parameters,
        limit,
    ]


def _filters(query: Query) -> tuple[str, list[Any]]:
    """The `type:` and `topic:` conditions on an item `i`, and their parameters."""
    conditions, parameters = "", []
    if query.type:
        conditions += " AND i.type_slug = ?"
        parameters.append(query.type)
    if query.topic:
        conditions += _TOPIC_FILTER
        parameters.append(query.topic)
    return conditions, parameters


class SearchReads:
    """Searches over any way of running a statement (the web tier's Reader, the Store)."""

    run: Callable[[str, Sequence[Any]], list[tuple]]
    dialect: str

    def run_search(self, statement: str, parameters: Sequence[Any]) -> list[tuple]:
        """Run a search's statement (the web tier's Reader has a connection for them)."""
        return self.run(statement, parameters)

    def search(self, query: Query, limit: int) -> list[StoredItem]:
        """The newest `limit` items matching the query, each with its topics: one query."""
        rows = self.run_search(*search_statement(query, self.dialect, limit))
        return [_item(row) for row in rows]


def _item(row: tuple) -> StoredItem:
    count = len(CONTENT_FIELDS)
    published, updated, first_seen, order, length, media_type, full, topics = row[count + 1 :]
    return StoredItem(
        **dict(zip(CONTENT_FIELDS, row[:count], strict=True)),
        guid=row[count],
        published=_utc(published),
        updated=_utc(updated),
        first_seen=_utc(first_seen),
        order_key=order,
        topics=tuple(sorted(topics.split())) if topics else (),
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
