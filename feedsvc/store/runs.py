"""The run log: each ingest's outcome and duration, and the counts operators read
(/status, /metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Engine

from feedsvc.store.schema import ingest_runs, items, sources, topic_items
from feedsvc.store.sql import source_id

FETCHED = "fetched"  # the outcome of a run that stored items (its row is record_items')
STORED = (FETCHED, "reextracted")  # outcomes whose row record_items made (a new config's run)


@dataclass(frozen=True)
class Run:
    """One ingest of one source as an operator reads it."""

    started_at: datetime
    outcome: str
    items_on_page: int | None
    new_items: int | None
    duration_seconds: float | None


@dataclass(frozen=True)
class RunTotal:
    """How many runs of one source ended one way."""

    topic: str
    url: str
    outcome: str
    runs: int


@dataclass(frozen=True)
class Durations:
    """Every timed run: cumulative counts at each bucket bound, the count and the sum."""

    buckets: list[tuple[float, int]]
    count: int
    total: float


class RunStore:
    """Reads and writes of the run log (`ingest_runs`) and the per-source counts."""

    engine: Engine

    def record_run(
        self,
        topic: str,
        url: str,
        started_at: datetime,
        outcome: str,
        duration: float,
        new_items: int = 0,
    ) -> None:
        """Keep a run's outcome and duration: on record_items' row if it stored, else a new row."""
        values = dict(outcome=outcome, duration_seconds=round(duration, 3), new_items=new_items)
        with self.engine.begin() as conn:
            source = source_id(conn, topic, url)
            stored = None
            if outcome in STORED:
                stored = conn.scalar(
                    select(func.max(ingest_runs.c.id)).where(
                        ingest_runs.c.source_id == source, ingest_runs.c.started_at == started_at
                    )
                )
            if stored is not None:
                conn.execute(update(ingest_runs).where(ingest_runs.c.id == stored).values(**values))
            else:
                conn.execute(
                    insert(ingest_runs).values(source_id=source, started_at=started_at, **values)
                )

    def recent_runs(self, topic: str, url: str, limit: int = 20) -> list[Run]:
        """The source's last `limit` runs, newest first."""
        query = (
            select(
                ingest_runs.c.started_at,
                func.coalesce(ingest_runs.c.outcome, FETCHED),
                ingest_runs.c.items_on_page,
                ingest_runs.c.new_items,
                ingest_runs.c.duration_seconds,
            )
            .join(sources, sources.c.id == ingest_runs.c.source_id)
            .where(sources.c.topic == topic, sources.c.url == url)
            .order_by(ingest_runs.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Run(*row) for row in conn.execute(query)]

    def run_totals(self) -> list[RunTotal]:
        """Runs per source and outcome, ever (a run from before outcomes were kept stored items)."""
        outcome = func.coalesce(ingest_runs.c.outcome, FETCHED)
        query = (
            select(sources.c.topic, sources.c.url, outcome, func.count())
            .join(sources, sources.c.id == ingest_runs.c.source_id)
            .group_by(sources.c.topic, sources.c.url, outcome)
        )
        with self.engine.connect() as conn:
            return [RunTotal(*row) for row in conn.execute(query)]

    def durations(self, bounds: tuple[float, ...]) -> Durations:
        """Histogram counts of every timed run's duration, counted by the database."""
        seconds = ingest_runs.c.duration_seconds
        columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in bounds]
        query = select(func.count(seconds), func.coalesce(func.sum(seconds), 0.0), *columns)
        with self.engine.connect() as conn:
            count, total, *cumulative = conn.execute(query).one()
        return Durations(list(zip(bounds, (c or 0 for c in cumulative), strict=True)), count, total)

    def items_per_topic(self) -> dict[str, int]:
        """Items stored per topic."""
        query = select(topic_items.c.topic, func.count()).group_by(topic_items.c.topic)
        with self.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def items_per_source(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Per source: items stored, and how many of them the page showed no date for."""
        query = (
            select(
                sources.c.topic,
                sources.c.url,
                func.count(items.c.id),
                func.sum(case((items.c.date_missing, 1), else_=0)),
            )
            .join(items, items.c.source_id == sources.c.id)
            .group_by(sources.c.topic, sources.c.url)
        )
        with self.engine.connect() as conn:
            return {(t, u): (n, undated or 0) for t, u, n, undated in conn.execute(query)}
