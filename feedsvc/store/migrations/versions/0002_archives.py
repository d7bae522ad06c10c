"""Archives (the layout of 4e03631): topic_items gains its insertion order, feeds a version
and a member count, items an author, ingest runs the items they saw.

topic_items is rebuilt in the order items were first stored (item id), so the archive
pages of an upgraded store are cut as if it had always had the column. `rendered` is a
cache: it is made again and every feed renders again.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from feedsvc.keys import FeedKey
from feedsvc.store.migrate import add_missing_columns, create_missing_index, remake_rendered

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_missing_columns("items", sa.Column("author", sa.Text))
    add_missing_columns("ingest_runs", sa.Column("items_on_page", sa.Integer))
    add_missing_columns(
        "feeds",
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("member_count", sa.Integer, nullable=False, server_default="0"),
    )
    create_missing_index("ix_items_type_insertion", "items", ["type_slug", "id"])
    _rebuild_topic_items()
    _count_members()
    remake_rendered(
        sa.Column("feed_key", sa.String(400), primary_key=True),
        sa.Column("format", sa.String(20), primary_key=True),
        sa.Column("limit", sa.Integer, primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("gzip_body", sa.LargeBinary, nullable=False),
        sa.Column("etag", sa.String(80), nullable=False),
        sa.Column("last_modified", sa.DateTime, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("stale_at", sa.DateTime),
    )


def _rebuild_topic_items() -> None:
    op.create_table(
        "topic_items_with_order",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("type_slug", sa.String(100), nullable=False),
        sa.Column("order_key", sa.String(40), nullable=False),
        sa.UniqueConstraint("topic", "item_id"),
    )
    op.execute(
        "INSERT INTO topic_items_with_order (topic, item_id, type_slug, order_key) "
        "SELECT topic, item_id, type_slug, order_key FROM topic_items ORDER BY item_id, topic"
    )
    op.drop_table("topic_items")
    op.rename_table("topic_items_with_order", "topic_items")
    for name, columns in (
        ("ix_topic_items_order", ["topic", "order_key"]),
        ("ix_topic_items_type_order", ["topic", "type_slug", "order_key"]),
        ("ix_topic_items_insertion", ["topic", "id"]),
        ("ix_topic_items_type_insertion", ["topic", "type_slug", "id"]),
        ("ix_topic_items_item", ["item_id"]),
    ):
        op.create_index(name, "topic_items", columns)


def _count_members() -> None:
    """Each feed's member count, counted once from scratch."""
    conn = op.get_bind()
    for path in conn.scalars(sa.text("SELECT key FROM feeds")).all():
        key = FeedKey.from_path(path)
        if key.topic:
            members = "SELECT count(*) FROM topic_items WHERE topic = :topic"
            if key.type:
                members += " AND type_slug = :type"
        else:
            members = "SELECT count(*) FROM items WHERE type_slug = :type"
        count = conn.scalar(sa.text(members), {"topic": key.topic, "type": key.type})
        conn.execute(
            sa.text("UPDATE feeds SET member_count = :count WHERE key = :key"),
            {"count": count, "key": path},
        )
