"""`Store`: every part of the store behind one SQLAlchemy engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

from feedsvc.model import SchemaChange
from feedsvc.store.actions import ActionStore
from feedsvc.store.backfills import BackfillStore
from feedsvc.store.cluster import ClusterStore
from feedsvc.store.custom import CustomFeedStore
from feedsvc.store.documents import FeedStore
from feedsvc.store.hiding import HidingStore
from feedsvc.store.items import ItemStore
from feedsvc.store.migrate import BUSY_TIMEOUT_MS, upgrade
from feedsvc.store.queue import QueueStore
from feedsvc.store.reads import Reads
from feedsvc.store.repairs import RepairStore
from feedsvc.store.runs import RunStore
from feedsvc.store.sources import SourceStore
from feedsvc.store.tasks import TaskStore

if TYPE_CHECKING:
    from feedsvc.config import ServiceConfig


class Store(
    ItemStore,
    SourceStore,
    FeedStore,
    RunStore,
    TaskStore,
    HidingStore,
    ActionStore,
    BackfillStore,
    ClusterStore,
    CustomFeedStore,
    QueueStore,
    RepairStore,
    Reads,
):
    """The item store behind one SQLAlchemy engine."""

    def __init__(self, url: str, *, readonly: bool = False, **pool: float) -> None:
        """`readonly`: the web tier's store, which the database itself keeps from writing.
        `pool`: SQLAlchemy's pool settings (pool_size, max_overflow, pool_recycle, ...)."""
        self.engine: Engine = create_engine(
            _readonly_url(url) if readonly else url, pool_pre_ping=True, **pool
        )
        self.dialect = self.engine.dialect.name
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def shared(self) -> bool:
        """A store several hosts share (PostgreSQL): it, not local files, coordinates them."""
        return self.engine.dialect.name == "postgresql"

    def create_schema(self) -> SchemaChange | None:
        """Create or upgrade the tables (Alembic migrations): before serving, never per worker.
        Returns the change made, None when the store was current."""
        return upgrade(self.engine)

    def run(self, statement: str, parameters: Sequence[Any]) -> list[tuple]:
        """Run one of the shared plain-SQL reads (reads.py) through the engine."""
        if self.engine.dialect.name == "postgresql":
            statement = statement.replace("?", "%s")
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(statement, tuple(parameters))]

    def close(self) -> None:
        self.engine.dispose()


def open_store(service: ServiceConfig, *, readonly: bool = False) -> Store:
    """The configured store with the configured pool: a process's own, made after any fork."""
    return Store(
        service.database,
        readonly=readonly,
        pool_size=service.pool_size,
        max_overflow=service.pool_max_overflow,
        pool_recycle=service.pool_recycle_seconds,
        pool_timeout=service.pool_timeout_seconds,
    )


def _readonly_url(url: str) -> URL:
    """The same database opened so that any write fails: SQLite's mode=ro, PostgreSQL's
    read-only transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return parsed.set(
            database=f"file:{parsed.database}", query={**parsed.query, "mode": "ro", "uri": "true"}
        )
    if parsed.get_backend_name() == "postgresql":
        options = "-c default_transaction_read_only=on"
        return parsed.update_query_dict({"options": options})
    return parsed


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL lets readers go on during an ingest; the busy timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: the next one may wait
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
