"""`make bench`: the whole suite on 127.0.0.1, one table, docs/benchmarks.md rewritten.

Every figure stands beside a baseline measured in the same run (these machines are noisy):
nginx serving the same file is the ceiling of the static tier, a constant-bytes Flask view
under the same gunicorn the floor of the app; latency at 100 thousand and 1 million items
is compared with 1 thousand; 500-entry renders with ten 50-entry renders; and so on.
`--only static,memory` (any of bench.report.SECTIONS) runs some parts and only prints.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from flask.testing import FlaskClient

from bench.browser import browser_part
from bench.generate import listing_page, published_store
from bench.measure import median, percentile, rows_written, timed
from bench.report import SECTIONS, Report, Row, write_doc
from bench.serving import serving_part
from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.publish.export import bump_generation
from feedsvc.publish.gather import feed_doc
from feedsvc.publish.render import RENDERERS
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.config import write_config
from tests.support.items import TOPICS, TYPES, source_url
from tests.support.pages import PageServer
from tests.support.servers import missing_nginx

SIZES = (1_000, 100_000, 1_000_000)
KINDS = {
    "topic": FeedKey(topic=TOPICS[0]),
    "type": FeedKey(type=next(iter(TYPES))),
    "topicxtype": FeedKey(topic=TOPICS[0], type=next(iter(TYPES))),
}
MISS_LIMIT = 60
SERVED_SAMPLES, MISS_SAMPLES, ROUNDS, INGEST_RUNS = 300, 100, 3, 7
RENDER_ROUNDS = 20
BENCH_BASE_URL = "http://127.0.0.1:8000"


def main(argv: list[str] | None = None) -> int:
    """Run every part (or those --only names), print the table and, for a whole run,
    rewrite the generated part of docs/benchmarks.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--seconds", type=int, default=6, help="length of each wrk run")
    parser.add_argument("--max-items", type=int, default=SIZES[-1], help="largest store size")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    parser.add_argument(
        "--only", type=_sections, default=set(SECTIONS),
        help=f"comma-separated parts to run, of: {','.join(SECTIONS)} (then prints only)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    reason = missing_nginx() or (None if shutil.which("wrk") else "wrk is not installed")
    if reason and args.only & {"app", "static", "memory"}:
        print(f"bench: {reason}; run `make bench` as root to install it", file=sys.stderr)
        return 2
    started = time.monotonic()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="feedsvc-bench-") as work:
        if "ingest" in args.only:
            ingest_part(report, Path(work) / "ingest")
        if "browser" in args.only:
            browser_part(report, Path(work) / "browser")
        if args.only - {"ingest", "browser"}:
            store_part(report, Path(work) / "store", args.seconds, args.max_items, args.only)
    minutes = (time.monotonic() - started) / 60
    print(f"\n{report.table()}\n\nbench: done in {minutes:.1f} min")
    if not args.no_doc and args.only == set(SECTIONS):
        write_doc(report, minutes, args)
    return 0


def _sections(text: str) -> set[str]:
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(SECTIONS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(SECTIONS)}, got {text!r}")
    return chosen


def bench_config(folder: Path, page_url: str | None = None) -> Config:
    """The benchmark store's config (its topics), or one page's to ingest."""
    topics = {"bench-ingest": page_url} if page_url else {t: source_url(t) for t in TOPICS}
    return load(write_config(folder, topics, "", "robots = false", base_url=BENCH_BASE_URL))


# -- ingest ------------------------------------------------------------------------------


def ingest_part(report: Report, folder: Path) -> None:
    """A 100-item page ingested changed (100 new items) and unchanged; time and rows written."""
    folder.mkdir(parents=True)
    page = PageServer()
    config = bench_config(folder, page.url("/topic.html"))
    store = Store(config.service.database)
    store.create_schema()
    fetcher = make_fetcher(config)

    def run(body: bytes) -> tuple[float, dict]:
        page.serve("/topic.html", body)
        with rows_written(store.engine) as counts:
            elapsed = timed(lambda: run_cycle(store, fetcher, config, targets(config)))
        return elapsed, dict(counts)

    run(listing_page(0))
    changed = [run(listing_page(100 * n)) for n in range(1, INGEST_RUNS + 1)]
    same = [run(listing_page(100 * INGEST_RUNS)) for _ in range(INGEST_RUNS)]
    rebytes = [run(listing_page(100 * INGEST_RUNS) + f"<!-- {n} -->".encode()) for n in range(3)]
    fetcher.close()
    store.close()
    page.close()
    changed_ms = median([t for t, _ in changed])
    report.add(Row("Ingest", "100-item page, all new (fetch → store → render)", changed_ms, "ms"))
    report.at_most(
        "Ingest",
        "same page again (same bytes)",
        median([t for t, _ in same]),
        "ms",
        ("all new", changed_ms),
        0.2,
    )
    written = _rows(changed[-1][1])
    report.add(
        Row("Ingest", f"rows written, all new: {written}", sum(changed[-1][1].values()), "rows")
    )
    for label, runs in (("same bytes", same), ("same items, other bytes", rebytes)):
        counts = runs[-1][1]
        items = counts.get("items", 0) + counts.get("topic_items", 0)
        report.add(
            Row(
                "Ingest",
                f"item rows written, {label} ({_rows(counts) or 'none'})",
                items,
                "rows",
                target="0" if label == "same bytes" else "",
                met=(items == 0) if label == "same bytes" else None,
            )
        )


def _rows(counts: dict) -> str:
    return ", ".join(f"{table} {n}" for table, n in sorted(counts.items()))


# -- store sizes, rendering, serving -----------------------------------------------------


def store_part(report: Report, folder: Path, seconds: int, max_items: int, parts: set) -> None:
    """One store per size; feed latency at each, the rest at 100 thousand items (or the
    largest size, when smaller). Without "latency", only that one store is made."""
    sizes = [size for size in SIZES if size <= max_items]
    if "latency" not in parts:
        sizes = [min(max_items, 100_000)]
    stores: dict[int, tuple[Config, Store]] = {}
    try:
        for size in sizes:
            config, store = grown_store(folder / f"{size}", size)
            stores[size] = (config, store)
            if size == 100_000 or size == sizes[-1] < 100_000:
                if "render" in parts:
                    render_part(report, config, store)
                if served := parts & {"app", "static", "memory"}:
                    serving_part(report, config, folder / f"{size}", seconds, served, size)
        if "latency" in parts:
            latencies = feed_latencies({size: config for size, (config, _) in stores.items()})
            latency_rows(report, latencies, sizes)
            report.plans = _plans(stores[sizes[-1]][1])
    finally:
        for _, store in stores.values():
            store.close()


def grown_store(folder: Path, size: int) -> tuple[Config, Store]:
    """The config and published store of `size` synthetic items in a folder of their own."""
    folder.mkdir(parents=True)
    config = bench_config(folder)
    return config, published_store(config, size)


def latency_rows(report: Report, latencies: dict, sizes: list[int]) -> None:
    """p99 at each size against the p99 at the smallest, for the stored and ?limit= paths."""
    for path in ("stored", "miss"):
        for kind in KINDS:
            base = latencies[(kind, path, sizes[0])]
            for size in sizes:
                p50, p99 = latencies[(kind, path, size)]
                what = f"{kind} feed, {_path_name(path)}, {size:,} items: p99 (p50 {p50:.2f} ms)"
                if size == sizes[0]:
                    report.add(Row("Latency", what, p99, "ms"))
                else:
                    report.at_most(
                        "Latency", what, p99, "ms", (f"p99 at {sizes[0]:,}", base[1]), 1.2
                    )


def _path_name(path: str) -> str:
    return {"stored": "from the store", "miss": f"?limit={MISS_LIMIT} rendered"}[path]


def _plans(store: Store) -> str:
    """Which index each feed's newest-entries query uses (a SCAN would grow with history)."""
    return "\n".join(
        f"- {kind}: `{' → '.join(store.entries_plan(key, 50))}`" for kind, key in KINDS.items()
    )


def feed_latencies(configs: dict[int, Config]) -> dict:
    """p50 and p99 of a feed request through the app (Flask, in process) for each feed kind
    at each store size.

    "stored": what a worker does just after a publish (its memory dropped): one query for
    the kept bytes. "miss": a `?limit=` the publisher does not keep: the newest entries are
    read and rendered in memory, never kept. ROUNDS rounds are taken in turn over the sizes
    and the quietest round of each kept, so a busy moment of the machine falls on every size
    alike instead of passing for a cost of one store's size.
    """
    clients = {size: create_app(config).test_client() for size, config in configs.items()}
    for client in clients.values():
        for key in KINDS.values():
            for _ in range(20):
                client.get(f"/{key.path}/feed.atom")
    rounds: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    for _ in range(ROUNDS):
        for size, client in clients.items():
            for kind, key in KINDS.items():
                for path, pair in _one_round(client, configs[size], key).items():
                    rounds.setdefault((kind, path, size), []).append(pair)
    for client in clients.values():
        client.application.extensions["feedsvc"].store.close()
    return {key: min(measured, key=lambda pair: pair[1]) for key, measured in rounds.items()}


def _one_round(client: FlaskClient, config: Config, key: FeedKey) -> dict[str, tuple]:
    """(p50, p99) ms of one feed's "stored" and "miss" requests, each after a publish."""
    url = f"/{key.path}/feed.atom"
    asked = {"stored": (url, SERVED_SAMPLES), "miss": (f"{url}?limit={MISS_LIMIT}", MISS_SAMPLES)}
    found = {}
    for path, (target, samples) in asked.items():
        times = [
            timed(lambda t=target: client.get(t), before=lambda: bump_generation(config))
            for _ in range(samples)
        ]
        found[path] = (percentile(times, 0.5), percentile(times, 0.99))
    return found


def render_part(report: Report, config: Config, store: Store) -> None:
    """Rendering 50 and 500 entries in each format: linear, bounded by the limit. The two
    sizes are rendered in turn (five 50-entry renders per 500-entry one), so a busy moment
    of the machine falls on both alike; each keeps its undisturbed run (timeit's rule)."""
    key = KINDS["topic"]
    docs = {count: feed_doc(store, config, key, count) for count in (50, 500)}
    for fmt, render in RENDERERS.items():
        samples: dict[int, list[float]] = {50: [], 500: []}
        for _ in range(RENDER_ROUNDS):
            samples[500].append(timed(lambda r=render: r(docs[500])))
            samples[50] += [timed(lambda r=render: r(docs[50])) for _ in range(5)]
        times = {count: min(runs) for count, runs in samples.items()}
        report.add(Row("Render", f"{fmt}, 50 entries", times[50], "ms"))
        report.at_most(
            "Render",
            f"{fmt}, 500 entries",
            times[500],
            "ms",
            ("10 x 50 entries", 10 * times[50]),
            1.2,
        )


if __name__ == "__main__":
    sys.exit(main())
