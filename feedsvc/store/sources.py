"""Source status: the last attempt, success and error of each configured source."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from feedsvc.store.schema import ingest_runs, sources
from feedsvc.store.sql import source_id


class SourceStore:
    """Reads and writes of the `sources` and `ingest_runs` tables."""

    engine: Engine

    def record_unchanged(self, topic: str, url: str, now: datetime) -> None:
        """The page was as before (304 or same bytes): only the source row changes."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.id == source_id(conn, topic, url))
                .values(
                    last_attempt_at=now, last_success_at=now, last_error=None, failing_since=None
                )
            )

    def record_failure(self, topic: str, url: str, error: str, now: datetime) -> None:
        """A failed ingest: the source is marked failing; no item is touched."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.id == source_id(conn, topic, url))
                .values(
                    last_attempt_at=now,
                    last_error=error,
                    failing_since=func.coalesce(sources.c.failing_since, now),
                )
            )

    def extraction_fingerprint(self, topic: str, url: str) -> str | None:
        """The fingerprint of the config that shaped the source's last stored extraction."""
        with self.engine.connect() as conn:
            return conn.scalar(
                select(sources.c.extraction_fingerprint).where(
                    sources.c.topic == topic, sources.c.url == url
                )
            )

    def record_fingerprint(self, topic: str, url: str, fingerprint: str) -> None:
        """The source's items were stored as this config extracts them."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.id == source_id(conn, topic, url))
                .values(extraction_fingerprint=fingerprint)
            )

    def ensure_sources(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Create a status row for every configured (topic, url)."""
        with self.engine.begin() as conn:
            for topic, url in pairs:
                source_id(conn, topic, url)

    def recent_item_counts(self, topic: str, url: str, runs: int) -> list[int]:
        """Items found on the page by the source's last `runs` stored ingests, newest first."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(ingest_runs.c.items_on_page)
                    .join(sources, sources.c.id == ingest_runs.c.source_id)
                    .where(
                        sources.c.topic == topic,
                        sources.c.url == url,
                        ingest_runs.c.items_on_page.is_not(None),
                    )
                    .order_by(ingest_runs.c.id.desc())
                    .limit(runs)
                )
            )
