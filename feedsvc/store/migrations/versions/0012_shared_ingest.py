"""Every host shares the ingest: sources wait in a queue in the store, leased to one host.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_schedule",
        sa.Column(
            "source_id",
            sa.Integer,
            sa.ForeignKey("sources.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("due_at", sa.DateTime),
        sa.Column("queued_at", sa.DateTime),
        sa.Column("leased_by", sa.String(200)),
        sa.Column("leased_until", sa.DateTime),
    )
    op.create_index("ix_source_schedule_due", "source_schedule", ["due_at"])
    op.create_index("ix_source_schedule_queued", "source_schedule", ["queued_at"])
