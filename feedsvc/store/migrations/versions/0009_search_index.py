"""Search: a full-text index of every item (SQLite FTS5; PostgreSQL tsvector with GIN),
filled here from the items a store already holds; the write path keeps it from then on.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

from feedsvc.store.search_index import create_search_index, rebuild_search_index

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    create_search_index(conn)
    rebuild_search_index(conn)
