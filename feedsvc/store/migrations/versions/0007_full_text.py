"""Full text: the main text of an item's own page, for sources with `content = "full"`.

Items stored before have none: the feeds show their summary, as before.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: no table is rebuilt, which the foreign keys into items would refuse.
    op.add_column("items", sa.Column("full_html", sa.Text))
    op.add_column(
        "sources",
        sa.Column("full_text_failures", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column("sources", sa.Column("last_full_text_error", sa.Text))
    op.add_column("sources", sa.Column("last_full_text_error_at", sa.DateTime))
