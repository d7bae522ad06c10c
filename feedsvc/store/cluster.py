"""What several hosts share through the store: who leads the scheduling, and the publish version.

Leadership is a PostgreSQL session advisory lock held by one connection made for it alone
(never from a pool, whose recycling would drop the lock), with TCP keepalives so that a
leader whose host vanished loses the lock within seconds. The leader records itself in
`leadership` for /healthz and `feedsvc status`; that row is only a label, the lock decides.

Each publish bumps `publications.version` and, on PostgreSQL, sends NOTIFY in the same
transaction, so a listener hears of it after the commit, never before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from feedsvc.keys import FeedKey
from feedsvc.store.schema import leadership, publications, rendered
from feedsvc.store.sql import upsert

# Advisory lock key of the scheduler (any constant all feedsvc processes share).
SCHEDULER_LOCK = 5006
SCHEDULER = "scheduler"
CHANNEL = "feedsvc_publish"
# A dead peer is noticed after about idle + interval x count seconds.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "connect_timeout": 5,
}


class ClusterStore:
    """Leadership records and the publish version (mixed into Store)."""

    engine: Engine

    def record_leader(self, holder: str) -> None:
        """Write this process as the leader, from now (SQLite: under the scheduler's file lock)."""
        with self.engine.begin() as conn:
            _record_leader(conn, holder)

    def rendered_feed_etags(self, limit: int) -> dict[tuple[FeedKey, str], str]:
        """The ETag of every feed format rendered at `limit`: what `export --follow` compares."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rendered.c.doc, rendered.c.format, rendered.c.etag).where(
                    rendered.c.limit == limit, rendered.c.kind == "feed"
                )
            )
            return {(FeedKey.from_path(doc), fmt): etag for doc, fmt, etag in rows}

    def publication_version(self) -> int:
        """The version of the last publish: a worker's cache is current while it is unchanged."""
        with self.engine.connect() as conn:
            return conn.scalar(select(publications.c.version).where(publications.c.id == 1)) or 0

    def bump_publication(self) -> int:
        """A publish happened: bump the version and tell every listening host (after commit)."""
        now = datetime.now(UTC)
        first = {"id": 1, "version": 1, "published_at": now}
        bumped = {"version": publications.c.version + 1, "published_at": now}
        with self.engine.begin() as conn:
            conn.execute(upsert(conn, publications, first, ["id"], bumped))
            version = conn.scalar(select(publications.c.version).where(publications.c.id == 1))
            if conn.dialect.name == "postgresql":
                notify = text("SELECT pg_notify(:channel, :payload)")
                conn.execute(notify, {"channel": CHANNEL, "payload": str(version)})
        return version


def _record_leader(conn: Connection, holder: str) -> None:
    now = datetime.now(UTC)
    conn.execute(
        upsert(conn, leadership, {"role": SCHEDULER, "holder": holder, "since": now}, ["role"])
    )


class LeaderLock:
    """The scheduler's advisory lock on a dedicated PostgreSQL connection (see module doc)."""

    def __init__(self, url: str | URL, holder: str) -> None:
        self.holder = holder
        self._engine = create_engine(url, poolclass=NullPool, connect_args=KEEPALIVES)
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lead if no other process holds it; on success, record this process."""
        try:
            conn = self._connection()
            if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK}):
                return False
            _record_leader(conn, self.holder)
            return True
        except Exception:
            self._drop()
            raise

    def held(self) -> bool:
        """Whether this connection still holds the lock; False as soon as it is lost."""
        if self._conn is None:
            return False
        try:
            return bool(
                self._conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND objid = :k AND pid = pg_backend_pid() AND granted"
                    ),
                    {"k": SCHEDULER_LOCK},
                )
            )
        except Exception:
            self._drop()
            return False

    def release(self) -> None:
        """Give up the lead: closing the session frees the lock."""
        self._drop()
        self._engine.dispose()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def listen(url: str | URL, timeout: float) -> Iterator[None]:
    """Yield once LISTEN is set up, then at every NOTIFY of a publish and after `timeout` s of
    silence: each time, the caller reads the version again.

    One connection of its own (psycopg 3, autocommit); ends with an exception when the
    connection is lost, and the caller reconnects and resyncs (NOTIFY is not durable).
    """
    engine = create_engine(url, poolclass=NullPool, connect_args=KEEPALIVES)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        conn.autocommit = True  # type: ignore[union-attr]
        conn.execute(f"LISTEN {CHANNEL}")  # type: ignore[union-attr]
        yield
        while True:
            for _ in conn.notifies(timeout=timeout, stop_after=1):  # type: ignore[union-attr]
                pass
            yield
    finally:
        raw.invalidate()  # closed without a reset: the connection may be gone already
        engine.dispose()
