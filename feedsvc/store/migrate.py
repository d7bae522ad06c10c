"""Schema migrations with Alembic: create a store or bring one up to date, one host at a time.

The revisions live in `migrations/versions`, one file each. A store made before feedsvc
used Alembic has no version table: it is stamped with the revision whose layout it has
(found by the columns that set the layouts apart), then upgraded like any other.
`upgrade` holds a lock while it runs, so hosts and processes that start together take
turns: a PostgreSQL advisory lock, SQLite's write lock (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, Engine

from feedsvc.model import SchemaChange

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant shared by every feedsvc process: the key of the schema's advisory lock.
SCHEMA_LOCK = 5005
BUSY_TIMEOUT_MS = 10_000  # a SQLite write waits this long for another writer's commit
MIGRATION_WAIT_MS = 600_000  # hosts starting together wait for the first one's migration


def upgrade(engine: Engine) -> SchemaChange | None:
    """Create missing tables and apply every revision not yet applied; safe at every start.
    Returns the change made, None when the store was current."""
    if engine.dialect.name == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        _lock(conn)
        settings = alembic_config(conn)
        before = current_revision(conn)
        if before is None and (before := _layout(conn)) is not None:
            command.stamp(settings, before)
        command.upgrade(settings, "head")
        after = current_revision(conn)
        conn.commit()
        if conn.dialect.name == "sqlite":  # the pooled connection waits as writes do again
            conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return SchemaChange(before, after) if after != before else None


def alembic_config(conn: Connection) -> AlembicConfig:
    """Alembic's settings in code (no alembic.ini at run time), on this connection."""
    settings = AlembicConfig()
    settings.set_main_option("script_location", str(MIGRATIONS))
    settings.attributes["connection"] = conn
    return settings


def current_revision(conn: Connection) -> str | None:
    """The revision a store is at, None when it never met Alembic."""
    return MigrationContext.configure(conn).get_current_revision()


def _lock(conn: Connection) -> None:
    """Wait for any other process migrating this store; held until the commit."""
    if conn.dialect.name == "sqlite":
        # A first migration of a big store outlasts a write's busy timeout: wait for it.
        conn.exec_driver_sql(f"PRAGMA busy_timeout={MIGRATION_WAIT_MS}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits for the other's commit
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def _layout(conn: Connection) -> str | None:
    """The revision an unversioned store's tables match; None for an empty database."""
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    if "items" not in tables:
        return None
    if "id" not in {c["name"] for c in inspector.get_columns("topic_items")}:
        return "0001"  # before archives
    if "final_pages" not in {c["name"] for c in inspector.get_columns("feeds")}:
        return "0002"  # archives, before feeds kept their topic and type
    return "0003"  # the last layout made without Alembic


# Helpers for revision files: the layouts in the wild differ in a column here and there.


def add_missing_columns(table: str, *columns: sa.Column) -> None:
    """Add the columns a table lacks (a column with a server default fills existing rows)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    for column in columns:
        if column.name not in present:
            op.add_column(table, column)


def create_missing_index(name: str, table: str, columns: list[str]) -> None:
    """Create an index unless the table has it already."""
    if name not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns)


def remake_rendered(*columns: sa.Column) -> None:
    """Make the rendered-bytes cache again in a new layout; every feed renders again."""
    op.drop_table("rendered")
    op.create_table("rendered", *columns)
    op.execute("UPDATE feeds SET dirty = true")
    if "final_pages" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("feeds")}:
        op.execute("UPDATE feeds SET final_pages = 0")
