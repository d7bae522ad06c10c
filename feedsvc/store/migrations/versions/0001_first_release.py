"""The tables as the first release of feedsvc created them.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("last_attempt_at", sa.DateTime),
        sa.Column("last_success_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("failing_since", sa.DateTime),
        sa.Column("items_on_page", sa.Integer, nullable=False),
        sa.Column("items_found", sa.Integer, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("body_hash", sa.String(64)),
        sa.UniqueConstraint("topic", "url"),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("guid", sa.Text, nullable=False, unique=True),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary_html", sa.Text, nullable=False),
        sa.Column("summary_text", sa.Text, nullable=False),
        sa.Column("type_slug", sa.String(100), nullable=False),
        sa.Column("type_label", sa.String(200), nullable=False),
        sa.Column("image_url", sa.Text),
        sa.Column("image_caption", sa.Text),
        sa.Column("image_credit", sa.Text),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.Column("date_missing", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("order_key", sa.String(40), nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
    )
    op.create_index("ix_items_type_order", "items", ["type_slug", "order_key"])
    op.create_index("ix_items_order", "items", ["order_key"])
    op.create_table(
        "topic_items",
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), primary_key=True),
        sa.Column("type_slug", sa.String(100), nullable=False),
        sa.Column("order_key", sa.String(40), nullable=False),
    )
    op.create_index("ix_topic_items_order", "topic_items", ["topic", "order_key"])
    op.create_index("ix_topic_items_type_order", "topic_items", ["topic", "type_slug", "order_key"])
    op.create_table(
        "types",
        sa.Column("slug", sa.String(100), primary_key=True),
        sa.Column("label", sa.String(200), nullable=False),
    )
    op.create_table(
        "feeds",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("dirty", sa.Boolean, nullable=False),
    )
    op.create_table(
        "rendered",
        sa.Column("feed_key", sa.String(400), primary_key=True),
        sa.Column("format", sa.String(20), primary_key=True),
        sa.Column("limit", sa.Integer, primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("gzip_body", sa.LargeBinary, nullable=False),
        sa.Column("etag", sa.String(80), nullable=False),
        sa.Column("last_modified", sa.DateTime, nullable=False),
    )
