"""The shared ingest on PostgreSQL: a queue of due sources, leased to one host at a time.

`source_schedule` holds a row per source. The leader only schedules (`enqueue_due`): a
source whose `due_at` has come is marked queued and its next `due_at` set one interval on.
Every host takes queued sources with `FOR UPDATE SKIP LOCKED` (`claim_sources`), each
leased to it (host:pid) until `leased_until`, renewed while it runs (`renew_leases`); a
finished source leaves the queue (`finish_source`). A host killed mid-run renews nothing:
its leases run out and another host claims those sources again. A source that comes due
while it still waits or runs stays queued once (runs coalesce).

Rendering takes turns too (`render_turn`, `feed_render_turn`): a transaction-scoped
advisory lock per document, so two hosts never render one feed at once and the later
reads what the earlier stored. Times are the database's clock (UTC), never a host's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from feedsvc.keys import FeedKey
from feedsvc.store.schema import feeds
from feedsvc.store.sql import source_id

# The database's now in UTC, as the store's UTCDateTime columns keep it.
_NOW = "timezone('utc', clock_timestamp())"
# First key of every render lock (the second is the document's hashed path).
RENDER_LOCKS = 5007


class QueueStore:
    """The shared ingest's queue and the render turns (mixed into Store)."""

    engine: Engine

    def source_ids(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The row id of every configured (topic, url), made on first use."""
        with self.engine.begin() as conn:
            return {pair: source_id(conn, *pair) for pair in pairs}

    def schedule_sources(self, ids: Iterable[int]) -> None:
        """The leader's start: these sources are scheduled (a new one is due at once, the
        others keep their time), every other source is not (dropped from the config)."""
        chosen = list(ids)
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO source_schedule (source_id) SELECT id FROM sources "
                    "WHERE id = ANY(:ids) ON CONFLICT (source_id) DO NOTHING"
                ),
                {"ids": chosen},
            )
            conn.execute(
                text(
                    f"UPDATE source_schedule SET due_at = COALESCE(due_at, {_NOW}) "
                    "WHERE source_id = ANY(:ids)"
                ),
                {"ids": chosen},
            )
            conn.execute(
                text(
                    "UPDATE source_schedule SET due_at = NULL, queued_at = NULL "
                    "WHERE NOT source_id = ANY(:ids)"
                ),
                {"ids": chosen},
            )

    def enqueue_due(self, interval_seconds: float) -> int:
        """Queue every source whose time has come, and set its next time one interval on,
        but at least half an interval from now (a source that fell behind catches up without
        running twice in a row); how many came due."""
        with self.engine.begin() as conn:
            result = conn.execute(
                text(
                    f"UPDATE source_schedule SET queued_at = COALESCE(queued_at, {_NOW}), "
                    "due_at = GREATEST(due_at + make_interval(secs => :every), "
                    f"{_NOW} + make_interval(secs => :every) / 2) "
                    f"WHERE due_at <= {_NOW}"
                ),
                {"every": interval_seconds},
            )
            return result.rowcount

    def claim_sources(self, holder: str, limit: int, lease_seconds: float) -> list[int]:
        """Take up to `limit` queued sources no live lease holds, oldest first, leased to
        `holder`; other hosts skip the rows this claim locks instead of waiting for them."""
        with self.engine.begin() as conn:
            return list(
                conn.scalars(
                    text(
                        "UPDATE source_schedule SET leased_by = :holder, "
                        f"leased_until = {_NOW} + make_interval(secs => :lease) "
                        "WHERE source_id IN (SELECT source_id FROM source_schedule "
                        "WHERE queued_at IS NOT NULL "
                        f"AND (leased_until IS NULL OR leased_until < {_NOW}) "
                        "ORDER BY queued_at, source_id LIMIT :limit FOR UPDATE SKIP LOCKED) "
                        "RETURNING source_id"
                    ),
                    {"holder": holder, "lease": lease_seconds, "limit": limit},
                )
            )

    def renew_leases(self, holder: str, lease_seconds: float) -> int:
        """Extend every lease `holder` still has; how many it has."""
        with self.engine.begin() as conn:
            result = conn.execute(
                text(
                    "UPDATE source_schedule "
                    f"SET leased_until = {_NOW} + make_interval(secs => :lease) "
                    "WHERE leased_by = :holder"
                ),
                {"holder": holder, "lease": lease_seconds},
            )
            return result.rowcount

    def finish_source(self, source: int, holder: str) -> None:
        """The source ran: it leaves the queue, if `holder` still held it."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE source_schedule SET queued_at = NULL, leased_by = NULL, "
                    "leased_until = NULL WHERE source_id = :id AND leased_by = :holder"
                ),
                {"id": source, "holder": holder},
            )

    def render_turn(self, path: str) -> AbstractContextManager[bool]:
        """Hold the document's render lock until the block ends (PostgreSQL: other hosts
        wait for it; SQLite has one host, whose write path already takes turns)."""
        if self.engine.dialect.name != "postgresql":
            return nullcontext(True)
        return _advisory_turn(self.engine, path, None)

    def feed_render_turn(self, key: FeedKey) -> AbstractContextManager[bool]:
        """The feed's render turn (as `render_turn`), giving whether the feed is still dirty
        once it is this host's (another host may just have rendered it): one round trip."""
        if self.engine.dialect.name != "postgresql":
            with self.engine.connect() as conn:
                return nullcontext(_dirty(conn, key))
        return _advisory_turn(self.engine, key.path, key)


@contextmanager
def _advisory_turn(engine: Engine, path: str, feed: FeedKey | None) -> Iterator[bool]:
    with engine.begin() as conn:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:path))"),
            {"space": RENDER_LOCKS, "path": path},
        )
        yield True if feed is None else _dirty(conn, feed)


def _dirty(conn: Connection, key: FeedKey) -> bool:
    """Whether the feed waits for a render."""
    return bool(conn.scalar(select(feeds.c.dirty).where(feeds.c.key == key.path)))
