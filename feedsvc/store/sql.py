"""Statements every part of the store shares: the dialect's upsert and a source's row id."""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from feedsvc.store.schema import sources


def upsert(
    conn: Connection, table: Table, values: dict, keys: list[str], set_: dict | None = None
) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE (with `set_`, else `values`) in SQLite or PostgreSQL."""
    statement = dialect_insert(conn, table).values(**values)
    changes = set_ or {k: v for k, v in values.items() if k not in keys}
    if not changes:
        return statement.on_conflict_do_nothing(index_elements=keys)
    return statement.on_conflict_do_update(index_elements=keys, set_=changes)


def dialect_insert(conn: Connection, table: Table) -> Insert:
    """The dialect's INSERT, which has ON CONFLICT (SQLite or PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    return sqlite_insert(table)


def source_id(conn: Connection, topic: str, url: str) -> int:
    """The id of a source's row, made on first use."""
    conn.execute(upsert(conn, sources, {"topic": topic, "url": url}, ["topic", "url"]))
    return conn.scalar(select(sources.c.id).where(sources.c.topic == topic, sources.c.url == url))
