"""The shared ingest's interval (part of `make bench-ingest`): N unchanged sources whose
pages answer after 200 ms, queued at once in one PostgreSQL store and worked by one
"host" or by three (each a process of bench/queue_worker.py with its own config and
published directory, `[ingest] concurrency` threads each), then three again with one
killed by SIGKILL part-way. The page server logs the start and end of every request: a
source fetched twice at once, or never, would show there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.generate import listing_page
from bench.ingest_store import COMMON, ITEMS, KINDS, fill
from feedsvc.config import load
from feedsvc.jobs.worker import scheduled_ids
from feedsvc.store import Store
from tests.support.config import write_config
from tests.support.pgcluster import PostgresCluster
from tests.support.shared_ingest import Sites, kill_host, queued_holders, stop_host

LEASE = 10.0  # seconds: a killed host's sources run again this long after its last renewal
WAIT = 1800.0  # the longest an interval may take before its missing sources count as lost


@dataclass
class Interval:
    """One interval's outcome: wall seconds, sources never fetched, sources fetched twice
    at once, sources fetched more than once (the killed host's, run again)."""

    hosts: int
    seconds: float
    lost: int
    overlapping: int
    repeated: int
    killed: bool


class SharedStore:
    """One PostgreSQL store filled with `count` unchanged sources, and their pages."""

    def __init__(self, folder: Path, cluster: PostgresCluster, count: int, delay: float) -> None:
        self.folder = folder
        self.count = count
        self.delay = delay
        self.database = cluster.create_database("bench_shared")
        self.common = listing_page(COMMON, ITEMS, KINDS)
        self.sites = Sites(count, 0, delay, same=self.common)
        self.configs = [self._host_config(n) for n in range(3)]
        self.store = Store(self.database)
        self.store.create_schema()
        config = load(self.configs[0])
        fill(self.store, config, self.common)
        self.ids = list(scheduled_ids(self.store, config))
        self.store.schedule_sources(self.ids)

    def interval(self, hosts: int, kill_at: float | None = None) -> Interval:
        """Queue every source at once and time `hosts` working it until every page was
        fetched and the queue is empty; `kill_at`: SIGKILL host 0 once that share is done."""
        self.sites.fetches.clear()
        processes = [self._start(n) for n in range(hosts)]
        time.sleep(3)  # the processes import feedsvc before the clock starts
        with self.store.engine.begin() as conn:  # every source due now, as at start-up
            conn.exec_driver_sql("UPDATE source_schedule SET due_at = now() - interval '1 s'")
        started = time.monotonic()
        self.store.enqueue_due(3600.0)
        killed = False
        try:
            while time.monotonic() - started < WAIT:
                done = len(self.sites.fetches)
                if kill_at is not None and not killed and done >= kill_at * self.count:
                    kill_host(processes[0])
                    killed = True
                if done == self.count and not queued_holders(self.store):
                    break
                time.sleep(0.05)
            seconds = time.monotonic() - started
        finally:
            for process in processes:
                if process.poll() is None:
                    stop_host(process)
        fetched = self.sites.fetches
        return Interval(
            hosts=hosts,
            seconds=seconds,
            lost=self.count - len(fetched),
            overlapping=len(self.sites.overlapping()),
            repeated=sum(1 for spans in fetched.values() if len(spans) > 1),
            killed=killed,
        )

    def close(self) -> None:
        self.store.close()
        self.sites.close()

    def _host_config(self, number: int) -> Path:
        folder = self.folder / f"host-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        return write_config(folder, self.sites.urls(), database=self.database)

    def _start(self, number: int) -> subprocess.Popen:
        log = open(self.configs[number].parent / "worker.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.queue_worker", str(self.configs[number]), str(LEASE)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        log.close()
        return process


def measure(folder: Path, count: int, kill_count: int) -> list[Interval]:
    """One host, three hosts, and three with one killed (on `kill_count` sources)."""
    cluster = PostgresCluster()
    try:
        shared = SharedStore(folder / "shared", cluster, count, 0.2)
        try:
            runs = [shared.interval(1), shared.interval(3)]
        finally:
            shared.close()
        killing = SharedStore(folder / "killed", cluster, kill_count, 0.2)
        try:
            runs.append(killing.interval(3, kill_at=0.3))
        finally:
            killing.close()
    finally:
        cluster.stop()
    return runs
