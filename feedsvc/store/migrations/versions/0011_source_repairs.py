"""Repaired sources: the selectors a repair found for a redesigned page, proposed or in force.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_repairs",
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("config_fingerprint", sa.String(64), nullable=False),
        sa.Column("block", sa.Text, nullable=False),
        sa.Column("recognised", sa.Integer, nullable=False),
        sa.Column("visible", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
