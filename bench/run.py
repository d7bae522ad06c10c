"""`make bench`: the whole suite on 127.0.0.1, one table, docs/benchmarks.md rewritten.

Every figure stands beside a baseline measured in the same run (these machines are noisy):
nginx serving the same file is the ceiling of the static tier, a constant-bytes Flask view
under the same gunicorn the floor of the app; latency at 100 thousand and 1 million items
is compared with 1 thousand; 500-entry renders with ten 50-entry renders; and so on.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import requests

from bench.generate import TOPICS, TYPES, grow, listing_page, write_config
from bench.measure import Load, children, median, percentile, rows_written, rss_mb, timed, wrk
from bench.servers import (
    REPO,
    free_port,
    gunicorn,
    missing_nginx,
    nginx,
    site_config,
    static_site,
)
from feedsvc.config import Config, load
from feedsvc.cycle import publish_and_export, run_cycle, targets
from feedsvc.documents import feed_doc
from feedsvc.export import bump_generation
from feedsvc.feeds import FeedKey
from feedsvc.ingest import make_fetcher
from feedsvc.render import RENDERERS
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.conftest import PageServer

DOC = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- bench:begin: `make bench` rewrites everything from here to bench:end -->"
END = "<!-- bench:end -->"
SIZES = (1_000, 100_000, 1_000_000)
KINDS = {
    "topic": FeedKey(topic=TOPICS[0]),
    "type": FeedKey(type=next(iter(TYPES))),
    "topicxtype": FeedKey(topic=TOPICS[0], type=next(iter(TYPES))),
}
MISS_LIMIT = 60
SERVED_SAMPLES, MISS_SAMPLES, ROUNDS, INGEST_RUNS = 300, 100, 3, 7


@dataclass(frozen=True)
class Row:
    """One figure of the table, with its baseline from the same run and its target."""

    section: str
    what: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline_value if self.baseline_value else None

    def cells(self) -> list[str]:
        base = f"{self.baseline}: {_num(self.baseline_value)} {self.unit}" if self.baseline else ""
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[self.met]
        value = f"{_num(self.value)} {self.unit}"
        return [self.section, self.what, value, base, ratio, self.target, met]


class Report:
    """The rows measured so far, printed as one Markdown table."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.plans = ""

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(" | ".join(row.cells()), flush=True)

    def at_least(self, section: str, what: str, value: float, unit: str, base, floor: float):
        """A row whose ratio to its baseline must be `floor` or more."""
        name, base_value = base
        ratio = value / base_value
        self.add(Row(section, what, value, unit, name, base_value, f"≥ {floor}x", ratio >= floor))

    def at_most(self, section: str, what: str, value: float, unit: str, base, ceiling: float):
        """A row whose ratio to its baseline must be `ceiling` or less."""
        name, base_value = base
        ratio = value / base_value
        self.add(
            Row(section, what, value, unit, name, base_value, f"≤ {ceiling}x", ratio <= ceiling)
        )

    def table(self) -> str:
        head = ["Part", "Measure", "Value", "Baseline (same run)", "Ratio", "Target", "Met"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.rows]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every part, print the table and rewrite the generated part of docs/benchmarks.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--seconds", type=int, default=6, help="length of each wrk run")
    parser.add_argument("--max-items", type=int, default=SIZES[-1], help="largest store size")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    reason = missing_nginx() or (None if shutil.which("wrk") else "wrk is not installed")
    if reason:
        print(f"bench: {reason}; run `make bench` as root to install it", file=sys.stderr)
        return 2
    started = time.monotonic()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="feedsvc-bench-") as work:
        ingest_part(report, Path(work) / "ingest")
        store_part(report, Path(work) / "store", args.seconds, args.max_items)
    minutes = (time.monotonic() - started) / 60
    print(f"\n{report.table()}\n\nbench: done in {minutes:.1f} min")
    if not args.no_doc:
        write_doc(report, minutes, args)
    return 0


# -- ingest ------------------------------------------------------------------------------


def ingest_part(report: Report, folder: Path) -> None:
    """A 100-item page ingested changed (100 new items) and unchanged; time and rows written."""
    folder.mkdir(parents=True)
    page = PageServer()
    config = load(write_config(folder, page.url("/topic.html")))
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


def store_part(report: Report, folder: Path, seconds: int, max_items: int) -> None:
    """Grow one store to each size; measure feed latency at each, the rest at 100 thousand."""
    folder.mkdir(parents=True)
    config = load(write_config(folder))
    store = Store(config.service.database)
    store.create_schema()
    sizes = [size for size in SIZES if size <= max_items]
    latencies: dict[tuple[str, str, int], tuple[float, float]] = {}
    stored = 0
    for size in sizes:
        now = datetime.now(UTC).replace(microsecond=0)
        started = time.monotonic()
        grow(store, stored, size, now)
        # Archive pages are not measured here: a million items would take minutes to page.
        publish_and_export(store, config, archive_budget=0)
        print(f"bench: {size:,} items stored in {time.monotonic() - started:.0f} s", flush=True)
        stored = size
        latencies.update(feed_latencies(config, store, size))
        if size == 100_000 or size == sizes[-1] < 100_000:
            render_part(report, config, store)
            serving_part(report, config, folder, seconds)
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
    report.plans = _plans(store)
    store.close()


def _path_name(path: str) -> str:
    return {"stored": "from the store", "miss": f"?limit={MISS_LIMIT} rendered"}[path]


def _plans(store: Store) -> str:
    """Which index each feed's newest-entries query uses (a SCAN would grow with history)."""
    return "\n".join(
        f"- {kind}: `{' → '.join(store.entries_plan(key, 50))}`" for kind, key in KINDS.items()
    )


def feed_latencies(config: Config, store: Store, size: int) -> dict:
    """p50 and p99 of a feed request through the app (Flask, in process) for each feed kind.

    "stored": what a worker does just after a publish (its memory dropped): one query for
    the kept bytes. "miss": a `?limit=` the publisher does not keep: the newest entries are
    read and rendered in memory, never kept. Each is measured in ROUNDS rounds and the
    quietest round kept, so another process's burst does not pass for a cost of the
    store's size.
    """
    app = create_app(config)
    client = app.test_client()
    found = {}
    for kind, key in KINDS.items():
        url = f"/{key.path}/feed.atom"

        for _ in range(20):
            client.get(url)
        rounds: dict[str, list[tuple[float, float]]] = {"stored": [], "miss": []}
        for _ in range(ROUNDS):
            served = [
                timed(lambda url=url: client.get(url), before=lambda: bump_generation(config))
                for _ in range(SERVED_SAMPLES)
            ]
            missed = [
                timed(
                    lambda url=url: client.get(f"{url}?limit={MISS_LIMIT}"),
                    before=lambda: bump_generation(config),
                )
                for _ in range(MISS_SAMPLES)
            ]
            for path, samples in (("stored", served), ("miss", missed)):
                rounds[path].append((percentile(samples, 0.5), percentile(samples, 0.99)))
        for path, measured in rounds.items():
            found[(kind, path, size)] = min(measured, key=lambda pair: pair[1])
    app.extensions["feedsvc"].store.close()
    return found


def render_part(report: Report, config: Config, store: Store) -> None:
    """Rendering 50 and 500 entries in each format: linear, bounded by the limit."""
    key = KINDS["topic"]
    for fmt, render in RENDERERS.items():
        times = {}
        for count, runs in ((50, 50), (500, 10)):
            doc = feed_doc(store, config, key, count)
            samples = [timed(lambda doc=doc, render=render: render(doc)) for _ in range(runs)]
            times[count] = min(samples)  # the undisturbed run: timeit's rule
        report.add(Row("Render", f"{fmt}, 50 entries", times[50], "ms"))
        report.at_most(
            "Render",
            f"{fmt}, 500 entries",
            times[500],
            "ms",
            ("10 x 50 entries", 10 * times[50]),
            1.2,
        )


def serving_part(report: Report, config: Config, folder: Path, seconds: int) -> None:
    """Requests per second (wrk -t2 -c50) of the app and the static tier beside their baselines."""
    key = KINDS["topic"]
    path = f"/{key.path}/feed.atom"
    public = config.publish.directory
    ceiling = folder / "ceiling"
    (ceiling / key.path).mkdir(parents=True)
    shutil.copy2(public / key.path / "feed.atom", ceiling / key.path / "feed.atom")
    app_port, floor_port, tier_port, ceiling_port = (free_port() for _ in range(4))
    sites = site_config(public, app_port, tier_port) + static_site(ceiling, ceiling_port)
    app_env = {"FEEDSVC_CONFIG": str(config.path)}
    floor_env = {"BENCH_BODY": str(ceiling / key.path / "feed.atom")}
    with (
        gunicorn("feedsvc.web:create_app()", app_port, env=app_env) as app,
        gunicorn("bench.constant_app:create_app()", floor_port, env=floor_env) as floor,
        nginx(folder / "nginx", sites, [tier_port, ceiling_port], workers=2),
    ):
        url = {
            name: f"http://127.0.0.1:{port}{path}"
            for name, port in (
                ("app", app_port),
                ("floor", floor_port),
                ("tier", tier_port),
                ("ceiling", ceiling_port),
            )
        }
        plain = {"Accept-Encoding": "identity"}  # wrk asks for no encoding either
        etag = requests.get(url["app"], headers=plain, timeout=10).headers["ETag"]
        nginx_etag = requests.get(url["ceiling"], headers=plain, timeout=10).headers["ETag"]
        for target, tag in (
            ("app", etag),
            ("tier", etag),
            ("ceiling", nginx_etag),
            ("floor", etag),
        ):
            asked = {**plain, "If-None-Match": tag}
            status = requests.get(url[target], headers=asked, timeout=10).status_code
            assert status == 304, f"bench: {target} answered {status} to its own ETag"
        pairs = [
            ("App", "feedsvc app, cached feed, 200", (url["app"], {}),
             "constant-bytes Flask view", (url["floor"], {}), 0.9),
            ("App", "feedsvc app, 304", (url["app"], {"If-None-Match": etag}),
             "constant Flask 304", (url["floor"], {"If-None-Match": '"x"'}), 0.9),
            ("Static", "feedsvc static tier (nginx + Lua), 200", (url["tier"], {}),
             "nginx, same file", (url["ceiling"], {}), 0.8),
            ("Static", "feedsvc static tier (nginx + Lua), 304",
             (url["tier"], {"If-None-Match": etag}),
             "nginx 304, same file", (url["ceiling"], {"If-None-Match": nginx_etag}), 0.8),
        ]  # fmt: skip
        best: dict[tuple[str, tuple], Load] = {}
        for _ in range(2):  # best of two, alternating, so a noisy moment hurts neither side alone
            for _, _, subject, _, baseline, _ in pairs:
                for target, headers in (baseline, subject):
                    load = wrk(target, seconds, headers)
                    slot = (target, tuple(headers.items()))
                    if slot not in best or load.rps > best[slot].rps:
                        best[slot] = load
        for section, what, subject, base_name, baseline, minimum in pairs:
            got = best[(subject[0], tuple(subject[1].items()))]
            base = best[(baseline[0], tuple(baseline[1].items()))]
            if got.bad or base.bad:
                raise RuntimeError(f"bench: non-2xx/3xx answers or socket errors in {what}")
            report.at_least(section, what, got.rps, "req/s", (base_name, base.rps), minimum)
        ceiling_rps = best[(url["ceiling"], ())].rps
        app_rps = best[(url["app"], ())].rps
        report.add(Row("App", "feedsvc app, 200, against nginx", app_rps, "req/s",
                       "nginx, same file", ceiling_rps))  # fmt: skip
        memory_part(report, config, app.pid, floor.pid, url["app"].split("/topics")[0])


def memory_part(report: Report, config: Config, app_pid: int, floor_pid: int, base: str) -> None:
    """Worker RSS after every feed was served in every format, plain and gzip, on fresh
    connections (so both workers serve them); the idle constant-bytes worker is the baseline."""
    store = Store(config.service.database)
    keys = [FeedKey.from_path(p) for p in _feed_paths(config, store)]
    store.close()
    for _ in range(3):
        for key in keys:
            for fmt in RENDERERS:
                for encoding in ("identity", "gzip"):
                    requests.get(
                        f"{base}/{key.path}/feed.{fmt}",
                        headers={"Accept-Encoding": encoding},
                        timeout=30,
                    )
    requests.get(f"{base}/healthz", timeout=30)
    requests.get(f"{base}/", timeout=30)
    app_rss = max(rss_mb(pid) for pid in children(app_pid))
    floor_rss = max(rss_mb(pid) for pid in children(floor_pid))
    what = f"worker RSS, 100,000 items stored, after serving all {len(keys)} feeds x 3 formats"
    report.add(
        Row("Memory", what, app_rss, "MB", "constant-bytes Flask worker", floor_rss, "≤ 60 MB",
            app_rss <= 60)
    )  # fmt: skip


def _feed_paths(config: Config, store: Store) -> list[str]:
    return sorted({key.path for key, _, _ in store.rendered_feeds(config.feeds.default_limit)})


# -- the document ------------------------------------------------------------------------


def write_doc(report: Report, minutes: float, args: argparse.Namespace) -> None:
    """Replace the generated part of docs/benchmarks.md, keeping everything around it."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        raise RuntimeError(f"{DOC}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    missed = [row for row in report.rows if row.met is False]
    verdict = (
        "Every target met."
        if not missed
        else "Targets missed: " + "; ".join(f"{r.what} ({r.ratio or r.value:.2f})" for r in missed)
    )
    body = f"""
Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {minutes:.1f} minutes. {verdict}

{report.table()}

SQLite's plan for each feed's newest entries at the largest size (a search through an
index, then rows by primary key; the only sort is of the `limit` rows found):

{report.plans}

**Machine.** {_machine()}

**Versions.** {_versions()}

**Commands.** `make bench` (= `.venv/bin/python -m bench.run --seconds {args.seconds}`), which runs:
- `wrk -t2 -c50 -d{args.seconds}s --latency [-H 'If-None-Match: <etag>'] <url>`, each pair
  baseline-then-subject, twice, best of two;
- `python -m gunicorn --workers 2 --worker-class gthread --threads 8 'feedsvc.web:create_app()'`
  and the same for `'bench.constant_app:create_app()'`;
- `nginx` with `deploy/nginx.conf` (ADJUST lines pointed at the bench folders, 2 workers,
  `access_log off`) plus a bare `server {{ root ...; }}` serving a copy of the same file.
"""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(head + BEGIN + "\n" + body + "\n" + END + tail, encoding="utf-8")
    print(f"bench: wrote {DOC.relative_to(REPO)}")


def _machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{cpu}, {os.cpu_count()} CPUs, {memory:.0f} GB RAM, {platform.platform()}"


def _versions() -> str:
    packages = ", ".join(
        f"{name} {version(name)}"
        for name in ("Flask", "Werkzeug", "gunicorn", "SQLAlchemy", "feedgen")
    )
    tools = [_tool_version(["nginx", "-v"]), _tool_version(["wrk", "-v"])]
    return (
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {packages}, "
        + ", ".join(tools)
    )


def _tool_version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stderr + done.stdout).strip().splitlines()[0].replace("nginx version: ", "")


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
