"""Copy a whole store into another database: SQLite to PostgreSQL (`feedsvc import-db` /
`export-db`), row for row, ids included, so every guid, date and archive page stays.

Both stores are first brought to the same revision. The search index is made again from
the copied items. Rendered bytes are a cache and are not copied: every feed is marked to
render again, and the target's first publish (its `feedsvc migrate`) renders the same
documents from the same rows.
"""

from __future__ import annotations

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.engine import Connection

from feedsvc.store import Store
from feedsvc.store.schema import feeds, leadership, metadata, rendered
from feedsvc.store.search_index import rebuild_search_index

BATCH = 1000
NOT_COPIED = {rendered.name, leadership.name}  # a cache, and a label of a running process


class TargetNotEmpty(Exception):
    """The target store already holds items: copying would mix two stores."""


def copy_store(source: Store, target: Store) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; the row count of each table."""
    source.create_schema()
    target.create_schema()
    counts: dict[str, int] = {}
    with source.engine.connect() as reading, target.engine.begin() as writing:
        held = writing.scalar(select(func.count()).select_from(metadata.tables["items"]))
        if held:
            raise TargetNotEmpty(f"the target store already holds {held} items")
        copied = [t for t in metadata.sorted_tables if t.name not in NOT_COPIED]
        for table in reversed(copied):  # what `migrate` wrote, e.g. source rows: children first
            writing.execute(table.delete())
        for table in copied:  # parents before children
            counts[table.name] = 0
            rows = reading.execution_options(yield_per=BATCH).execute(
                select(table).order_by(*table.primary_key)
            )
            for batch in rows.partitions():
                writing.execute(table.insert(), [row._asdict() for row in batch])
                counts[table.name] += len(batch)
        writing.execute(update(feeds).values(dirty=True, final_pages=0))
        rebuild_search_index(writing)  # its own DDL per database: made, not copied
        if writing.dialect.name == "postgresql":
            _advance_sequences(writing, copied)
    return counts


def _advance_sequences(conn: Connection, tables: list[Table]) -> None:
    """Rows came with their ids: PostgreSQL's id sequences must continue after the largest."""
    for table in tables:
        column = table.autoincrement_column
        if column is not None:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
                )
            )
