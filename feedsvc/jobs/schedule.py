"""One scheduler per deployment: every source ingested at start-up and then every interval.

On SQLite (one host) a file lock beside the database turns a second scheduler away, and
the scheduler runs a job per source. On PostgreSQL every host's scheduler takes part in
an election (feedsvc.jobs.leader); the leader only queues due sources in the store, and
every host, the leader too, ingests what it claims from that queue (feedsvc.jobs.worker).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from feedsvc.config import Config, SourceConfig, TopicConfig, sqlite_file
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, publish_and_export, run_cycle
from feedsvc.jobs.leader import holder_name, lead_when_elected
from feedsvc.jobs.worker import QueueTiming, scheduled_ids, work_queue
from feedsvc.store import Store, open_store

log = logging.getLogger(__name__)


class SchedulerLocked(Exception):
    """Another scheduler already runs for this store."""


def lock_path(config: Config) -> Path:
    """The lock file beside the SQLite database (or beside the config for a server database)."""
    database = sqlite_file(config.service.database)
    if database is not None:
        return database.with_name(database.name + ".scheduler.lock")
    return config.path.parent / ".feedsvc-scheduler.lock"


@contextmanager
def scheduler_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive file lock for as long as this scheduler runs; refuse a second one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SchedulerLocked(f"another scheduler holds {path}") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


# How often the scheduler publishes without an ingest: a digest whose week closed is
# rendered again within this many minutes, whatever the ingest interval.
PUBLISH_MINUTES = 10


def ingest_job(store: Store, config: Config, topic: TopicConfig, source: SourceConfig) -> None:
    """The scheduled job of one source: the whole cycle for it (ingest, publish, announce)."""
    fetcher = make_fetcher(config)
    try:
        run_cycle(store, fetcher, config, [(topic, source)])
    finally:
        fetcher.close()


def publish_job(store: Store, config: Config) -> None:
    """Render what is due without an ingest: digests whose week has closed."""
    publish_and_export(store, config)


def enqueue_job(store: Store, timing: QueueTiming) -> None:
    """The leader's scheduling on PostgreSQL: queue the sources whose time has come."""
    store.enqueue_due(timing.interval_seconds)


def build_scheduler(
    config: Config, store: Store, timing: QueueTiming | None = None
) -> BackgroundScheduler:
    """A scheduler (not started): on SQLite one job per source, the first run due now; on
    PostgreSQL one job that queues due sources for every host, from now on."""
    scheduler = BackgroundScheduler(
        # A source's job fetches on its own thread, `concurrency` at once; the publish job
        # never waits for one of them.
        executors={"default": ThreadPoolExecutor(max_workers=config.ingest.concurrency + 1)},
        timezone=UTC,
    )
    scheduler.add_job(
        publish_job,
        IntervalTrigger(minutes=PUBLISH_MINUTES, timezone=UTC),
        args=(store, config),
        id="publish",
        name="publish what is due",
        max_instances=1,
        coalesce=True,
    )
    if store.shared:
        timing = timing or QueueTiming.of(config)
        store.schedule_sources(scheduled_ids(store, config))
        scheduler.add_job(
            enqueue_job,
            IntervalTrigger(seconds=timing.poll_seconds, timezone=UTC),
            args=(store, timing),
            id="enqueue",
            name="queue due sources",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        return scheduler
    for topic in config.topics:
        for source in topic.sources:
            scheduler.add_job(
                ingest_job,
                IntervalTrigger(minutes=config.ingest.interval_minutes, timezone=UTC),
                args=(store, config, topic, source),
                id=f"{topic.slug} {source.url}",
                name=f"ingest {topic.slug} {source.url}",
                next_run_time=datetime.now(UTC),
                max_instances=1,  # never two ingests of one source at once
                coalesce=True,  # runs missed while busy or asleep collapse into one
                misfire_grace_time=None,
            )
    return scheduler


def run_scheduler(
    config: Config, stop: threading.Event | None = None, timing: QueueTiming | None = None
) -> None:
    """Run the scheduler in this process until stopped: on SQLite if no other holds the
    file lock; on PostgreSQL ingest from the shared queue, and schedule whenever this
    process is the elected leader. `timing`: the shared queue's pace (tests shorten it)."""
    prepare(config)
    store = open_store(config.service)
    stop = stop or threading.Event()
    timing = timing or QueueTiming.of(config)

    def start() -> BackgroundScheduler:
        scheduler = build_scheduler(config, store, timing)
        scheduler.start()
        log.info(
            "scheduler started: %d sources every %d min",
            sum(len(t.sources) for t in config.topics),
            config.ingest.interval_minutes,
        )
        return scheduler

    try:
        if store.shared:
            worker = threading.Thread(
                target=work_queue, args=(store, config, timing, stop), name="shared-ingest"
            )
            worker.start()
            try:
                lead_when_elected(store, start, stop)
            finally:
                stop.set()
                worker.join()
            return
        with scheduler_lock(lock_path(config)):
            store.record_leader(holder_name())
            scheduler = start()
            try:
                stop.wait()
            finally:
                scheduler.shutdown(wait=False)
    except SchedulerLocked as exc:
        log.warning("not scheduling: %s", exc)
    finally:
        store.close()
