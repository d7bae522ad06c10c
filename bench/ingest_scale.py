"""`make bench-ingest`: what one source's cycle costs as sources grow, a whole interval's wall
time on one host, and the disk each stored item takes; writes its section of
docs/benchmarks.md (between the bench-ingest markers).

- Per-source cycle: N topics of one source each (20 items a page, 10 types), the store
  filled in bulk and every source left as if ingested before (its page's hash and the
  config's fingerprint recorded), then a few sources' whole cycles timed: unchanged (same
  bytes) and changed (5 new items of 20). Ratios against N = 10, same run.
- Interval: every source once, the scheduler's job function on `[ingest] concurrency`
  threads, pages answering after 50 ms from one local host; against one thread, same run.
- Shared interval (bench/shared_ingest.py): the same on PostgreSQL with 200 ms pages, one
  "host" against three working the store's queue, and three with one killed.
- Disk: a real all-new ingest of each source, then the store file and the published
  directory divided by the items stored.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from bench.generate import listing_page
from bench.ingest_store import COMMON, ITEMS, KINDS, fill
from bench.report import write_section
from bench.shared_ingest import Interval, measure
from feedsvc.config import Config, IngestConfig, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import Target, prepare, run_cycle, targets
from feedsvc.jobs.schedule import ingest_job
from feedsvc.store import Store
from tests.support.config import write_config
from tests.support.pages import PageServer, Reply, send

NEW = 5  # new items on a changed page
MEASURED, RUNS = 3, 3  # sources timed per size, runs of each
TARGETS = {"unchanged": 1.3, "changed": 1.5}  # at the largest size, against 10
SHARED_TARGET = 0.45  # three hosts' interval against one host's


def sized_config(folder: Path, count: int, server: PageServer, extra: str = "") -> Config:
    """`count` topics t0..t<count-1>, each one source /t<n>.html on `server` (which has no
    robots.txt: read once, then kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = {f"t{n}": server.url(f"/t{n}.html") for n in range(count)}
    return load(write_config(folder, sources, extra))


def page_numbers(topic: int) -> int:
    """The first item number of a measured topic's page (its own items, far from others')."""
    return COMMON + 10**6 * (topic + 1)


def per_source(folder: Path, count: int) -> dict[str, float]:
    """Median seconds of one source's whole cycle, unchanged and changed, at `count` sources."""
    server = PageServer()
    common = listing_page(COMMON, ITEMS, KINDS)
    server.routes.update({f"/t{n}.html": Reply(common) for n in range(count)})
    config = sized_config(folder, count, server)
    store = Store(config.service.database)
    store.create_schema()
    fill(store, config, common)
    fetcher = make_fetcher(config)
    chosen = targets(config)[:: max(1, count // MEASURED)][:MEASURED]
    times: dict[str, list[float]] = {"unchanged": [], "changed": []}

    def cycle(target: Target, body: bytes) -> float:
        server.serve(f"/{target[0].slug}.html", body)
        started = time.perf_counter()
        [report] = run_cycle(store, fetcher, config, [target])
        assert report.ok, report.error
        return time.perf_counter() - started

    for number, target in enumerate(chosen):
        first = page_numbers(number)
        cycle(target, listing_page(first, ITEMS, KINDS))  # its own items, stored once
        for run in range(1, RUNS + 1):
            times["unchanged"].append(
                cycle(target, listing_page(first - NEW * (run - 1), ITEMS, KINDS))
            )
            times["changed"].append(cycle(target, listing_page(first - NEW * run, ITEMS, KINDS)))
    fetcher.close()
    store.close()
    server.close()
    return {kind: statistics.median(values) for kind, values in times.items()}


def slow_page(body: bytes, seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        send(handler, Reply(body))

    return answer


def interval(folder: Path, count: int, page_seconds: float, concurrency: int) -> float:
    """Wall seconds of one interval: every source's scheduled job once, `concurrency` at a
    time (as the scheduler's executor runs them), every page unchanged after `page_seconds`."""
    server = PageServer()
    common = listing_page(COMMON, ITEMS, KINDS)
    route = slow_page(common, page_seconds)
    server.routes.update({f"/t{n}.html": route for n in range(count)})
    extra = f"concurrency = {concurrency}\n"
    config = sized_config(folder, count, server, extra)
    store = Store(config.service.database)
    store.create_schema()
    fill(store, config, common)
    started = time.perf_counter()
    with ThreadPoolExecutor(config.ingest.concurrency) as pool:
        jobs = [pool.submit(ingest_job, store, config, *target) for target in targets(config)]
        for job in jobs:
            job.result()
    elapsed = time.perf_counter() - started
    fetched = len(server.requests)
    store.close()
    server.close()
    if fetched != count:
        raise RuntimeError(f"interval: {fetched} page requests for {count} sources")
    return elapsed


def disk_per_item(folder: Path, count: int) -> dict[str, float]:
    """Bytes per stored item of the store file and the published directory after an all-new
    ingest of `count` sources of 20 items each (only APIs every release has, so the same
    function measures an older checkout: `--disk-only`)."""
    server = PageServer()
    for n in range(count):
        server.serve(f"/t{n}.html", listing_page(n * ITEMS, ITEMS, KINDS))
    config = sized_config(folder, count, server)
    prepare(config)
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    for target in targets(config):
        run_cycle(store, fetcher, config, [target])
    fetcher.close()
    store.close()
    server.close()
    database = Path(str(config.service.database).removeprefix("sqlite:///"))
    database = database if database.is_absolute() else folder / database
    stored = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    published = sum(p.stat().st_size for p in config.publish.directory.rglob("*") if p.is_file())
    items = count * ITEMS
    return {"store": stored / items, "published": published / items}


def shared_rows(runs: list[Interval], count: int, kill_count: int) -> list[str]:
    """The shared ingest's rows: one host, three, three with one killed."""
    one, three, killed = runs
    ratio = three.seconds / one.seconds
    met = "yes" if ratio <= SHARED_TARGET and three.overlapping == three.lost == 0 else "**no**"
    kill_met = "yes" if killed.lost == killed.overlapping == 0 and killed.killed else "**no**"
    return [
        f"| interval, {count:,} unchanged sources, 200 ms pages, one host on PostgreSQL | "
        f"{one.seconds:.1f} s ({count / one.seconds:.0f} sources/s) | | | | |",
        f"| the same interval over three hosts on one PostgreSQL | {three.seconds:.1f} s "
        f"({count / three.seconds:.0f} sources/s); lost {three.lost}, twice at once "
        f"{three.overlapping} | one host: {one.seconds:.1f} s | {ratio:.2f}x | "
        f"≤ {SHARED_TARGET}x | {met} |",
        f"| three hosts, one killed (kill -9) after 30 % of {kill_count:,} sources | "
        f"{killed.seconds:.1f} s; lost {killed.lost}, twice at once {killed.overlapping}, "
        f"run again after the lease {killed.repeated} | | | none lost, none twice at once "
        f"| {kill_met} |",
    ]


def table(
    cycles: dict[int, dict[str, float]], runs: dict[str, float], count: int, shared: list[str]
) -> str:
    base = min(cycles)
    lines = [
        "| Measure | Value | Baseline (same run) | Ratio | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for size, values in sorted(cycles.items()):
        for kind, seconds in values.items():
            ratio = seconds / cycles[base][kind]
            target = TARGETS[kind] if size == max(cycles) and size != base else None
            met = "" if target is None else ("yes" if ratio <= target else "**no**")
            lines.append(
                f"| one source's cycle, {kind}, {size:,} sources | {seconds * 1000:.1f} ms | "
                f"{base:,} sources: {cycles[base][kind] * 1000:.1f} ms | {ratio:.2f}x | "
                f"{'' if target is None else f'≤ {target}x'} | {met} |"
            )
    one, many = runs["one"], runs["many"]
    lines.append(
        f"| interval, {count:,} unchanged sources, 50 ms pages, one host, concurrency "
        f"{int(runs['concurrency'])} | {many:.1f} s ({count / many:.0f} sources/s) | "
        f"concurrency 1: {one:.1f} s ({count / one:.0f} sources/s) | {many / one:.2f}x | | |"
    )
    return "\n".join([*lines, *shared])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_scale", description=__doc__)
    parser.add_argument("--sizes", default="10,1000,10000", help="source counts, smallest first")
    parser.add_argument("--interval-sources", type=int, default=10_000)
    parser.add_argument("--baseline-sources", type=int, default=1_000, help="for concurrency 1")
    parser.add_argument("--disk-sources", type=int, default=100)
    parser.add_argument("--shared-sources", type=int, default=10_000, help="three hosts")
    parser.add_argument("--kill-sources", type=int, default=1_000, help="three, one killed")
    parser.add_argument("--disk-only", action="store_true", help="print disk per item as JSON")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="feedsvc-bench-ingest-") as temp:
        work = Path(temp)
        disk = disk_per_item(work / "disk", args.disk_sources)
        if args.disk_only:
            print(json.dumps(disk))
            return 0
        sizes = [int(size) for size in args.sizes.split(",")]
        cycles = {size: per_source(work / f"cycle-{size}", size) for size in sizes}
        concurrency = IngestConfig().concurrency
        many = interval(work / "interval", args.interval_sources, 0.05, concurrency)
        one = interval(work / "interval-1", args.baseline_sources, 0.05, 1)
        one *= args.interval_sources / args.baseline_sources  # sources/s scale linearly at 1
        shared = measure(work / "shared", args.shared_sources, args.kill_sources)
    runs = {"one": one, "many": many, "concurrency": concurrency}
    minutes = (time.monotonic() - started) / 60
    rows = shared_rows(shared, args.shared_sources, args.kill_sources)
    text = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {minutes:.1f} minutes "
        f"(`python -m bench.ingest_scale {' '.join(sys.argv[1:] if argv is None else argv)}`).\n\n"
        f"{table(cycles, runs, args.interval_sources, rows)}\n\n"
        f"Disk per stored item after an all-new ingest of {args.disk_sources} sources: store "
        f"{disk['store'] / 1024:.1f} KB, published directory {disk['published'] / 1024:.1f} KB.\n"
    )
    print(text)
    if not args.no_doc:
        write_section("bench-ingest", "Ingest at scale (`make bench-ingest`)", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
