"""Search in feed order: SQLite's index rows are keyed by each item's search key (the minute
of its order key, then its id) instead of its id, so a search walks its matches newest first
and stops at the answer. The index is built again from the items; PostgreSQL's is unchanged.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

from feedsvc.store.search_index import rebuild_search_index

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        rebuild_search_index(conn)
