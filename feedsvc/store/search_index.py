"""The full-text index the write path keeps beside the items: an SQLite FTS5 table, or a
PostgreSQL table of `tsvector`s with a GIN index (migration 0009 makes them). It indexes
what filters read (config.custom_feeds.searchable_text): title, summary, full text, author.

SQLite's rows there are keyed by each item's search key (search_keys.py), so a search walks
its matches newest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from feedsvc.config.custom_feeds import searchable_text
from feedsvc.store.search_keys import search_key

REINDEX_BATCH = 2_000

_DELETE_SQLITE = "DELETE FROM item_search WHERE rowid = :id"
_INSERT_SQLITE = "INSERT INTO item_search (rowid, body) VALUES (:id, :body)"
_UPSERT_POSTGRES = (
    "INSERT INTO item_search (item_id, document) VALUES (:id, to_tsvector('simple', :body)) "
    "ON CONFLICT (item_id) DO UPDATE SET document = excluded.document"
)


def index_items(conn: Connection, entries: Sequence[tuple[int, str, str]]) -> None:
    """(item id, order key, searchable text) of new or changed items, replacing what was
    indexed."""
    if not entries:
        return
    latest = {item_id: (key, body) for item_id, key, body in entries}
    if conn.dialect.name == "postgresql":
        rows = [{"id": item_id, "body": body} for item_id, (_, body) in latest.items()]
        conn.execute(text(_UPSERT_POSTGRES), rows)
        return
    rows = [{"id": search_key(i, key), "body": body} for i, (key, body) in latest.items()]
    conn.execute(text(_DELETE_SQLITE), [{"id": row["id"]} for row in rows])
    conn.execute(text(_INSERT_SQLITE), rows)


def rebuild_search_index(conn: Connection) -> None:
    """Index every stored item again, a batch at a time (a new index, a copied store)."""
    conn.execute(text("DELETE FROM item_search"))
    last = 0
    while True:
        rows = conn.execute(
            text(
                "SELECT id, order_key, title, summary_text, full_html, author FROM items "
                "WHERE id > :last ORDER BY id LIMIT :batch"
            ),
            {"last": last, "batch": REINDEX_BATCH},
        ).all()
        if not rows:
            return
        index_items(conn, [(row[0], row[1], searchable_text(*row[2:])) for row in rows])
        last = rows[-1][0]


def create_search_index(conn: Connection) -> None:
    """The index's table in this database's own form (not in schema.metadata: SQLAlchemy
    has no FTS5 table, and PostgreSQL's tsvector would tie the metadata to one database)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "CREATE TABLE item_search (item_id INTEGER PRIMARY KEY REFERENCES items (id), "
                "document TSVECTOR NOT NULL)"
            )
        )
        conn.execute(text("CREATE INDEX ix_item_search ON item_search USING gin (document)"))
    else:
        conn.execute(text("CREATE VIRTUAL TABLE item_search USING fts5 (body)"))


def is_search_table(name: str) -> bool:
    """Whether a table is the index or one of FTS5's shadow tables (item_search_data, ...)."""
    return name == "item_search" or name.startswith("item_search_")
