"""`make bench-cluster`: several hosts on one PostgreSQL, measured; writes its own section of
docs/benchmarks.md (between the bench-cluster markers).

- Failover: two hosts (bench/cluster.py), readers on both all along; each round grows
  the listing page, kill -9's the leader's scheduler group as the source comes due again
  and times its ingest (from the kill: the new leader queues it, a host claims it) and both
  hosts' answers and files carrying the new feed (from the ingest's page fetch).
- Ingest: 100 new items through the whole cycle, PostgreSQL against SQLite, same run.
- Serving: a cached feed from `feedsvc serve` (wrk), PostgreSQL against SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from bench.measure import wrk
from bench.report import write_section
from feedsvc.config import load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.store import open_store
from tests.support.cluster import (
    CLI,
    FEED,
    Host,
    Readers,
    fail_over,
    get,
    leading,
    serving_everywhere,
    wait_for,
)
from tests.support.load import GrowingSite
from tests.support.pgcluster import PostgresCluster


def failover_rounds(folder: Path, database: str, rounds: int) -> tuple[list, Readers, int]:
    """`rounds` failovers under load; the rounds, the readers and the page requests seen."""
    site = GrowingSite()
    hosts = [Host(name, folder / name, database, site.url) for name in ("a", "b")]
    try:
        for host in hosts:
            host.start("web")
            host.start("follow")
        empty = wait_for(lambda: serving_everywhere(hosts, None), 30)
        for host in hosts:
            host.start("scheduler")
        wait_for(lambda: leading(hosts), 30)
        wait_for(lambda: serving_everywhere(hosts, empty), 30)  # the first ingest, everywhere
        with Readers(hosts) as readers:
            results = [fail_over(hosts, site, new_items=5) for _ in range(rounds)]
        overlapping = sum(1 for (_, end), (start, _) in pairwise(site.requests) if start < end)
        if overlapping or len(site.requests) != rounds + 1:
            raise RuntimeError(f"bench: ingests overlapped or repeated: {site.requests}")
        return results, readers, len(site.requests)
    finally:
        for host in hosts:
            host.stop()
        site.close()


def ingest_ms(folder: Path, database: str, rounds: int) -> float:
    """Median ms of one cycle (fetch, store, render, export) storing 100 new items."""
    site = GrowingSite()
    host = Host("ingest", folder, database, site.url)
    config = load(host.config)
    prepare(config)
    store = open_store(config.service)
    fetcher = make_fetcher(config)
    try:
        run_cycle(store, fetcher, config, targets(config))  # the base page
        times = []
        for _ in range(rounds):
            site.grow(100)
            started = time.perf_counter()
            [report] = run_cycle(store, fetcher, config, targets(config))
            times.append((time.perf_counter() - started) * 1e3)
            assert report.new == 100, report.line()
        return statistics.median(times)
    finally:
        fetcher.close()
        store.close()
        site.close()


def cached_rps(folder: Path, databases: dict[str, str], seconds: int) -> dict[str, float]:
    """Requests/s of a cached feed from `feedsvc serve`, each store, best of two alternating."""
    site = GrowingSite()
    hosts = {kind: Host(kind, folder / kind, url, site.url) for kind, url in databases.items()}
    try:
        for host in hosts.values():
            done = subprocess.run(
                [*CLI, "--config", str(host.config), "ingest"], capture_output=True, timeout=120
            )
            assert done.returncode == 0, done.stderr
            host.start("web")
        best = dict.fromkeys(hosts, 0.0)
        for _ in range(2):
            for kind, host in hosts.items():
                get(host.port, FEED)  # warm every worker's cache a little
                load = wrk(f"http://127.0.0.1:{host.port}{FEED}", seconds)
                if load.bad:
                    raise RuntimeError(f"bench: {load.bad} bad answers from {kind}")
                best[kind] = max(best[kind], load.rps)
        return best
    finally:
        for host in hosts.values():
            host.stop()
        site.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="failovers to measure")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run")
    args = parser.parse_args(argv)
    started = time.monotonic()
    cluster = PostgresCluster()
    try:
        with tempfile.TemporaryDirectory(prefix="feedsvc-bench-cluster-") as temp:
            folder = Path(temp)
            rounds, readers, ingests = failover_rounds(
                folder / "failover", cluster.create_database(), args.rounds
            )
            sqlite = f"sqlite:///{folder}/ingest-sqlite/store.sqlite3"
            ingest = {
                "sqlite": ingest_ms(folder / "ingest-sqlite", sqlite, 5),
                "postgresql": ingest_ms(folder / "ingest-pg", cluster.create_database(), 5),
            }
            serving = cached_rps(
                folder / "serving",
                {
                    "sqlite": f"sqlite:///{folder}/serving-sqlite.sqlite3",
                    "postgresql": cluster.create_database(),
                },
                args.seconds,
            )
    finally:
        cluster.stop()
    text = report(rounds, readers, ingests, ingest, serving, time.monotonic() - started)
    print(text)
    write_section("bench-cluster", "Several hosts (`make bench-cluster`)", text)
    return 1 if readers.failures else 0


def report(rounds, readers, ingests, ingest, serving, seconds) -> str:
    """The markdown the section holds."""
    to_ingest = [r.seconds_to_ingest for r in rounds]
    to_serve = [r.seconds_to_serve for r in rounds]
    rps_ratio = serving["postgresql"] / serving["sqlite"]
    ingest_ratio = ingest["postgresql"] / ingest["sqlite"]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""Measured {when} in {seconds / 60:.1f} minutes on the 2-vCPU machine (shared).

| Measure | PostgreSQL | Baseline (same run) | Ratio | Target | Met |
|---|---|---|---|---|---|
| cached feed, `feedsvc serve` (2 workers), wrk -t2 -c50 | {serving["postgresql"]:,.0f} req/s | SQLite: {serving["sqlite"]:,.0f} req/s | {rps_ratio:.2f}x | ≥ 0.9x | {"yes" if rps_ratio >= 0.9 else "**no**"} |
| ingest of 100 new items (fetch → store → render → export), median of 5 | {ingest["postgresql"]:,.0f} ms | SQLite: {ingest["sqlite"]:,.0f} ms | {ingest_ratio:.2f}x | | |
| failover: kill -9 of the leader's scheduler as the source comes due to its ingest (new leader queues, a host claims), {len(rounds)} rounds | median {statistics.median(to_ingest):.2f} s, max {max(to_ingest):.2f} s | | | ≤ 30 s | {"yes" if max(to_ingest) <= 30 else "**no**"} |
| cross-host invalidation: the ingest's page fetch to both hosts' answers and files on the new ETag | median {statistics.median(to_serve):.2f} s, max {max(to_serve):.2f} s | | | ≤ 5 s | {"yes" if max(to_serve) <= 5 else "**no**"} |
| readers on both hosts during the failovers | {readers.answers:,} answers, {len(readers.failures)} failed | | | 0 failed | {"yes" if not readers.failures else "**no**"} |
| page requests (one ingest per round, none overlapping) | {ingests} | | | {len(rounds) + 1} | {"yes" if ingests == len(rounds) + 1 else "**no**"} |
"""  # noqa: E501


if __name__ == "__main__":
    raise SystemExit(main())
