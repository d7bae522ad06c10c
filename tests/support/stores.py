"""Stores as older releases of feedsvc left them, made from a current one, for upgrade tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# What migrations 0012 (the shared ingest's queue), 0011 (repaired sources), 0010 (the
# indexes a publish reads changes through), 0009 (search index), 0008 (custom feeds), 0007
# (full text), 0006 (corrections, backfill) and 0005 (run outcomes and durations, undated
# text per source, once-per-item tasks, image sizes) added: without it, a store is one that
# revision 0004 made.
BEFORE_0005 = """
DROP TABLE source_schedule;
DROP TABLE source_repairs;
DROP INDEX ix_feeds_dirty;
DROP INDEX ix_rendered_stale;
DROP TABLE item_search;
DROP TABLE custom_items;
DROP TABLE custom_feeds;
ALTER TABLE items DROP COLUMN full_html;
ALTER TABLE sources DROP COLUMN full_text_failures;
ALTER TABLE sources DROP COLUMN last_full_text_error;
ALTER TABLE sources DROP COLUMN last_full_text_error_at;
DROP TABLE backfills;
DROP TABLE operator_actions;
ALTER TABLE sources DROP COLUMN extraction_fingerprint;
ALTER TABLE items DROP COLUMN hidden;
ALTER TABLE items DROP COLUMN history;
ALTER TABLE topic_items DROP COLUMN hidden;
ALTER TABLE topic_items DROP COLUMN history;
DROP TABLE item_tasks;
ALTER TABLE ingest_runs DROP COLUMN outcome;
ALTER TABLE ingest_runs DROP COLUMN duration_seconds;
ALTER TABLE ingest_runs DROP COLUMN new_items;
ALTER TABLE sources DROP COLUMN last_undated_text;
ALTER TABLE sources DROP COLUMN last_undated_at;
ALTER TABLE items DROP COLUMN image_length;
ALTER TABLE items DROP COLUMN image_type;
"""


def as_revision_0004(database: Path | str) -> None:
    """Turn a current SQLite store into one revision 0004 made (items, runs and feeds kept)."""
    with sqlite3.connect(database) as db:
        db.executescript(BEFORE_0005 + "UPDATE alembic_version SET version_num = '0004';")


def as_revision_0012(database: Path | str) -> None:
    """Turn a current SQLite store into one revision 0012 made: its search index keyed by
    item id, as before search keys."""
    with sqlite3.connect(database) as db:
        db.executescript(
            "DELETE FROM item_search; INSERT INTO item_search (rowid, body) "
            "SELECT id, title || ' ' || summary_text FROM items; "
            "UPDATE alembic_version SET version_num = '0012';"
        )


def as_first_release(database: Path | str, old_layout: str) -> None:
    """Turn a current SQLite store into one that never met Alembic, in `old_layout`."""
    with sqlite3.connect(database) as db:
        db.executescript(BEFORE_0005 + old_layout)
