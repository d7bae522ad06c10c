"""Repaired sources: the selectors a repair found for a redesigned page, kept in the store so
every host reads the source with them at once and they survive restarts; and the stored
items a repair compares the page with.

Putting a repair in force, undoing it and dropping it (the config's block changed) are
operator actions, logged in the transaction that makes them.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from feedsvc.model import KnownItem, SourceRepair
from feedsvc.store.actions import record_action
from feedsvc.store.schema import items, source_repairs, sources
from feedsvc.store.sql import source_id, upsert

_COLUMNS = ("state", "since", "config_fingerprint", "block", "recognised", "visible", "note")


class RepairStore:
    """Reads and writes of the `source_repairs` table."""

    engine: Engine

    def source_repair(self, topic: str, url: str) -> SourceRepair | None:
        """The source's repair, proposed or applied, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*(source_repairs.c[name] for name in _COLUMNS))
                .join(sources, sources.c.id == source_repairs.c.source_id)
                .where(sources.c.topic == topic, sources.c.url == url)
            ).first()
        return SourceRepair(topic, url, *row) if row else None

    def keep_repair(self, repair: SourceRepair, action: str | None = None) -> None:
        """Keep a repair in place of the source's last one; `action` logs it (e.g.
        "repair-apply") in the same transaction."""
        values = {name: value for name, value in asdict(repair).items() if name in _COLUMNS}
        with self.engine.begin() as conn:
            values["source_id"] = source_id(conn, repair.topic, repair.url)
            conn.execute(upsert(conn, source_repairs, values, ["source_id"]))
            if action:
                detail = f"{repair.topic} {repair.url}: {repair.note}"
                record_action(conn, repair.since, action, detail)

    def drop_repair(self, topic: str, url: str, now: datetime, action: str, why: str) -> bool:
        """Remove the source's repair and log why; False when it had none."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(source_repairs).where(
                    source_repairs.c.source_id == source_id(conn, topic, url)
                )
            ).rowcount
            if gone:
                record_action(conn, now, action, f"{topic} {url}: {why}")
        return bool(gone)

    def known_items(self, topic: str, url: str, limit: int) -> list[KnownItem]:
        """The source's visible items, last seen first: what a repair looks for on the page."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.guid, items.c.link, items.c.title, items.c.published_at,
                       items.c.date_missing)
                .join(sources, sources.c.id == items.c.source_id)
                .where(sources.c.topic == topic, sources.c.url == url, ~items.c.hidden)
                .order_by(items.c.last_seen_at.desc(), items.c.id)
                .limit(limit)
            )  # fmt: skip
            return [
                KnownItem(guid, link, title, None if missing else published)
                for guid, link, title, published, missing in rows
            ]
