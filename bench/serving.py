"""Serving under wrk (-t2 -c50): `feedsvc serve` and the static tier beside their baselines,
then the memory a web worker holds after serving every feed.

`feedsvc serve` runs with the bench's config as written (the default `[service]`, so no
access log), against the constant-bytes Flask view under gunicorn with the settings
`feedsvc serve` gives it; a second `feedsvc serve` with `access_log = "-"` prices the log.
The static tier (deploy/nginx.conf) runs beside a bare nginx serving a copy of the file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import requests

from bench.measure import Load, children, rss_mb, wrk
from bench.report import Report, Row
from feedsvc.config import Config
from feedsvc.formats import FORMATS
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from tests.support.net import free_port
from tests.support.servers import feedsvc_serve, gunicorn, nginx, site_config, static_site

PLAIN = {"Accept-Encoding": "identity"}  # wrk asks for no encoding either
ACCESS_LOG = 'access_log = "-"'
MEMORY_LIMIT_MB, MEMORY_RATIO = 60, 1.6


def serving_part(
    report: Report, config: Config, folder: Path, seconds: int, parts: set[str], items: int
) -> None:
    """The app and static rows (requests per second, p50 and p99) and the memory rows."""
    key = FeedKey(topic=sorted(t.slug for t in config.topics)[0])
    path = f"/{key.path}/feed.atom"
    ceiling = folder / "ceiling"
    (ceiling / key.path).mkdir(parents=True, exist_ok=True)
    shutil.copy2(config.publish.directory / key.path / "feed.atom", ceiling / key.path)
    with ExitStack() as stack:
        url, pids = {}, {}
        if parts & {"app", "memory"}:
            for name, port, process in _apps(stack, config, folder, ceiling / key.path):
                url[name], pids[name] = f"http://127.0.0.1:{port}{path}", process.pid
        if "static" in parts:
            tier, bare = free_port(), free_port()
            public = config.publish.directory
            sites = site_config(public, free_port(), tier) + static_site(ceiling, bare)
            stack.enter_context(nginx(folder / "nginx", sites, [tier, bare], workers=2))
            url["tier"], url["ceiling"] = (f"http://127.0.0.1:{p}{path}" for p in (tier, bare))
        if parts & {"app", "static"}:
            _load_rows(report, url, seconds, parts)
        if "memory" in parts:
            memory_part(report, config, pids["app"], pids["floor"], url["app"], items)


def _apps(stack: ExitStack, config: Config, folder: Path, body: Path) -> Iterator[tuple]:
    """`feedsvc serve` as configured, again with the access log on, and the constant floor."""
    logged = folder / "config-access-log.toml"  # same folder: same store, same files
    text = config.path.read_text(encoding="utf-8")
    logged.write_text(text.replace("[service]\n", f"[service]\n{ACCESS_LOG}\n", 1), "utf-8")
    for name, path in (("app", config.path), ("logged", logged)):
        port = free_port()
        log = folder / f"serve-{name}.log"
        yield name, port, stack.enter_context(feedsvc_serve(path, port, log, scheduler=False))
    port = free_port()
    env = {"BENCH_BODY": str(body / "feed.atom")}
    yield (
        "floor",
        port,
        stack.enter_context(gunicorn("bench.constant_app:create_app()", port, env=env)),
    )


def _etag(url: str) -> str:
    return requests.get(url, headers=PLAIN, timeout=10).headers["ETag"]


def _load_rows(report: Report, url: dict[str, str], seconds: int, parts: set[str]) -> None:
    """Each pair baseline-then-subject, twice; rows from the run with more requests per second,
    the p99 rows from the lower p99 of the two runs on each side."""
    pairs = []
    if "app" in parts:
        etag = _etag(url["app"])
        pairs += [
            ("App", "feedsvc serve (default config), cached feed, 200", (url["app"], {}),
             "constant-bytes Flask view", (url["floor"], {}), 0.9),
            ("App", "feedsvc serve (default config), 304", (url["app"], {"If-None-Match": etag}),
             "constant Flask 304", (url["floor"], {"If-None-Match": '"x"'}), 0.9),
            ("App", f"feedsvc serve with {ACCESS_LOG}, cached feed, 200", (url["logged"], {}),
             "feedsvc serve (default config)", (url["app"], {}), None),
        ]  # fmt: skip
    if "static" in parts:
        etag, nginx_etag = _etag(url["tier"]), _etag(url["ceiling"])
        pairs += [
            ("Static", "feedsvc static tier (nginx + Lua), 200", (url["tier"], {}),
             "nginx, same file", (url["ceiling"], {}), 0.8),
            ("Static", "feedsvc static tier (nginx + Lua), 304",
             (url["tier"], {"If-None-Match": etag}),
             "nginx 304, same file", (url["ceiling"], {"If-None-Match": nginx_etag}), 0.8),
        ]  # fmt: skip
    for _, what, (target, headers), *_ in pairs:
        if "If-None-Match" in headers:
            status = requests.get(target, headers={**PLAIN, **headers}, timeout=10).status_code
            assert status == 304, f"bench: {what} answered {status} to its ETag"
    runs: dict[tuple[str, tuple], list[Load]] = {}
    for _ in range(2):  # alternating, so a noisy moment hurts neither side alone
        for _, _, subject, _, baseline, _ in pairs:
            for target, headers in (baseline, subject):
                load = wrk(target, seconds, headers)
                if load.bad:
                    raise RuntimeError(f"bench: non-2xx/3xx answers or socket errors from {target}")
                runs.setdefault((target, tuple(headers.items())), []).append(load)

    def best(side: tuple[str, dict]) -> Load:
        return max(runs[(side[0], tuple(side[1].items()))], key=lambda load: load.rps)

    def lowest_p99(side: tuple[str, dict]) -> float:
        return min(load.p99_ms for load in runs[(side[0], tuple(side[1].items()))])

    for section, what, subject, base_name, baseline, floor in pairs:
        got, base = best(subject), best(baseline)
        if floor is None:
            report.add(Row(section, what, got.rps, "req/s", base_name, base.rps,
                           load=got, baseline_load=base))  # fmt: skip
        else:
            report.at_least(section, what, got.rps, "req/s", (base_name, base.rps), floor,
                            load=got, baseline_load=base)  # fmt: skip
    if "static" in parts:
        tier, bare = pairs[-2][2], pairs[-2][4]
        report.at_most("Static", "feedsvc static tier, 200: p99 latency", lowest_p99(tier), "ms",
                       ("nginx, same file", lowest_p99(bare)), 1.2)  # fmt: skip
    if {"app", "static"} <= parts:
        app, ceiling = best(pairs[0][2]), best(pairs[-2][4])
        what = "feedsvc serve, 200, against nginx"
        report.add(Row("App", what, app.rps, "req/s", "nginx, same file", ceiling.rps,
                       load=app, baseline_load=ceiling))  # fmt: skip


def memory_part(
    report: Report, config: Config, app_pid: int, floor_pid: int, feed_url: str, items: int
) -> None:
    """Worker RSS after every feed was served in every format, plain and gzip, on fresh
    connections (so both workers serve them), against the constant-bytes worker measured
    now, in the same run: at most 60 MB, and at most 1.6 times that worker."""
    base = feed_url.split("/topics/")[0]
    store = Store(config.service.database)
    paths = sorted({key.path for key, _, _ in store.rendered_feeds(config.feeds.default_limit)})
    store.close()
    for _ in range(3):
        for path in paths:
            for fmt in FORMATS:
                for encoding in ("identity", "gzip"):
                    url = f"{base}/{path}/feed.{fmt}"
                    answer = requests.get(url, headers={"Accept-Encoding": encoding}, timeout=30)
                    answer.raise_for_status()
    requests.get(f"{base}/healthz", timeout=30).raise_for_status()
    requests.get(f"{base}/", timeout=30).raise_for_status()
    app_rss = max(rss_mb(pid) for pid in children(app_pid))
    floor_rss = max(rss_mb(pid) for pid in children(floor_pid))
    what = f"web worker RSS, {items:,} items, after {len(paths)} feeds x 3 formats, plain+gzip"
    floor = ("constant-bytes Flask worker", floor_rss)
    limit = f"≤ {MEMORY_LIMIT_MB} MB"
    report.add(Row("Memory", what, app_rss, "MB", target=limit, met=app_rss <= MEMORY_LIMIT_MB))
    report.at_most("Memory", f"{what}, against the constant worker", app_rss, "MB", floor,
                   MEMORY_RATIO)  # fmt: skip
