"""Operators, extraction and consumers: each run's outcome and duration, the last date text
that was no date per source, once-per-item tasks (enrichment, image probes), image sizes.

Every image stored before gets its probe, pending.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_runs") as runs:
        runs.add_column(sa.Column("outcome", sa.String(20)))
        runs.add_column(sa.Column("duration_seconds", sa.Float))
        runs.add_column(sa.Column("new_items", sa.Integer))
    with op.batch_alter_table("sources") as sources:
        sources.add_column(sa.Column("last_undated_text", sa.Text))
        sources.add_column(sa.Column("last_undated_at", sa.DateTime))
    with op.batch_alter_table("items") as items:
        items.add_column(sa.Column("image_length", sa.Integer))
        items.add_column(sa.Column("image_type", sa.String(100)))
    op.create_table(
        "item_tasks",
        sa.Column("guid", sa.Text, primary_key=True),
        sa.Column("task", sa.String(40), primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_item_tasks_source", "item_tasks", ["source_id", "task", "state"])
    op.execute(
        sa.text(
            "INSERT INTO item_tasks (guid, task, source_id, state, attempts, updated_at) "
            "SELECT guid, 'image-size', source_id, 'pending', 0, :now FROM items "
            "WHERE image_url IS NOT NULL"
        ).bindparams(now=datetime.now(UTC).replace(tzinfo=None))
    )
