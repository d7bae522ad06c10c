"""Ingest whose cost follows what changed: a publish finds the changed feeds and the digests
whose week closed through an index, instead of reading every feed and rendered document.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_feeds_dirty", "feeds", ["dirty"])
    op.create_index("ix_rendered_stale", "rendered", ["kind", "stale_at"])
