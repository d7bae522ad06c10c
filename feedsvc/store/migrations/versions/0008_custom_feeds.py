"""Filtered feeds ([[custom_feeds]]): each one's members, and the definition last applied.

A store from before has none: `feedsvc migrate` (and every cycle) filters the stored items
into each configured feed once.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("feed", sa.String(200), nullable=False),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("order_key", sa.String(40), nullable=False),
        sa.Column("history", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("feed", "item_id"),
    )
    op.create_index("ix_custom_items_order", "custom_items", ["feed", "order_key"])
    op.create_index("ix_custom_items_insertion", "custom_items", ["feed", "id"])
    op.create_index("ix_custom_items_item", "custom_items", ["item_id"])
    op.create_table(
        "custom_feeds",
        sa.Column("slug", sa.String(200), primary_key=True),
        sa.Column("definition", sa.String(64), nullable=False),
    )
