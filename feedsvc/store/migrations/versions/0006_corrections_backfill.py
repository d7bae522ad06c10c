"""Operators' corrections and full history: the fingerprint of what shapes a source's
extraction, hidden and backfilled (history) items, the log of operator actions, and where
each source's backfill stands.

A store from before has no fingerprint: each source re-extracts once, on its next ingest.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _flags() -> list[sa.Column]:
    return [
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("history", sa.Boolean, nullable=False, server_default=sa.false()),
    ]


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite takes a NOT NULL column with a default): no table is rebuilt,
    # which the foreign keys into items would refuse.
    op.add_column("sources", sa.Column("extraction_fingerprint", sa.String(64)))
    for table in ("items", "topic_items"):
        for column in _flags():
            op.add_column(table, column)
    op.create_table(
        "backfills",
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), primary_key=True),
        sa.Column("next_page", sa.Integer, nullable=False),
        sa.Column("next_url", sa.Text),
        sa.Column("pages_read", sa.Integer, nullable=False),
        sa.Column("items_new", sa.Integer, nullable=False),
        sa.Column("items_known", sa.Integer, nullable=False),
        sa.Column("oldest_at", sa.DateTime),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
