"""Feeds and rendered documents carry their topic, type and page as columns; feeds keep
how many archive pages are final.

`rendered` (a cache) is made again under its new key, and every feed renders again.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedsvc.keys import FeedKey
from feedsvc.store.migrate import add_missing_columns, create_missing_index, remake_rendered

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_missing_columns(
        "feeds",
        sa.Column("topic", sa.String(200)),
        sa.Column("type_slug", sa.String(100)),
        sa.Column("final_pages", sa.Integer, nullable=False, server_default="0"),
    )
    conn = op.get_bind()
    for path in conn.scalars(sa.text("SELECT key FROM feeds")).all():
        key = FeedKey.from_path(path)
        conn.execute(
            sa.text("UPDATE feeds SET topic = :topic, type_slug = :type WHERE key = :key"),
            {"topic": key.topic, "type": key.type, "key": path},
        )
    create_missing_index("ix_feeds_type", "feeds", ["type_slug"])
    remake_rendered(
        sa.Column("doc", sa.String(400), primary_key=True),
        sa.Column("format", sa.String(20), primary_key=True),
        sa.Column("limit", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("topic", sa.String(200)),
        sa.Column("type_slug", sa.String(100)),
        sa.Column("page", sa.Integer),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("gzip_body", sa.LargeBinary, nullable=False),
        sa.Column("etag", sa.String(80), nullable=False),
        sa.Column("last_modified", sa.DateTime, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("stale_at", sa.DateTime),
    )
    op.create_index("ix_rendered_type", "rendered", ["type_slug", "kind"])
