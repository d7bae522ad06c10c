"""`fetch = "browser"` and `kind = "json"` measured on 127.0.0.1, each beside a baseline from
the same run: a browser render against an HTTP fetch of the same app-shell page, the
browser's memory (proportional set size of its processes, sampled while it renders)
against this Python process, and an ingest of 100 new items from a JSON document against
the same items in the institute's HTML.

The per-host delay on what a page loads: a page whose scripts make ten requests to its own
host, rendered at `host_delay_seconds = 1` as built (the page's requests share one turn per
host) against the same page when every request waits its own turn.

`python -m bench.run --only browser` prints the rows; `make bench` includes them.
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import threading
from pathlib import Path

from bench.generate import item, listing_page
from bench.measure import median, rss_mb, timed
from bench.report import Report, Row
from feedsvc.config import Config, IngestConfig, load
from feedsvc.fetch import browser
from feedsvc.fetch.browser import BROWSERS, CHROMIUM, render
from feedsvc.fetch.client import Fetcher, make_fetcher, user_agent
from feedsvc.fetch.guard import source_guard
from feedsvc.fetch.politeness import Hosts
from feedsvc.jobs.cycle import run_cycle, targets
from feedsvc.store import Store
from tests.support.config import FAST_INGEST
from tests.support.pages import PageServer

RENDERS = 7
INGEST_RUNS = 5
ITEMS = 100
RENDER_SCRIPT = """
var posts = JSON.parse(document.getElementById("__NEXT_DATA__").textContent).props.pageProps.posts;
document.getElementById("__next").innerHTML = "<ul class='teasers list organic'>" + posts.map(
  function (p) { return "<li><div class='text'><p class='type'>" + p.type + "</p>" +
    "<h3 class='title'><a href='" + p.link + "'>" + p.title + "</a></h3>" +
    "<p class='desc'>" + p.summary + "</p><p class='date'>" + p.date + "</p></div></li>"; }
).join("") + "</ul>";
"""


def browser_part(report: Report, folder: Path) -> None:
    """Every row of this part; skipped with a note when chromium or Playwright is missing."""
    folder.mkdir(parents=True)
    if not CHROMIUM.exists():
        print(f"bench: browser rows skipped: {CHROMIUM} is missing (make browser)", flush=True)
    else:
        render_rows(report)
        delay_rows(report)
    json_rows(report, folder)


def items_of(first: int, count: int = ITEMS) -> list[dict]:
    """The items `bench.generate.listing_page(first, count)` shows, as a JSON API lists them."""
    rng = random.Random(first)
    found = []
    for number in range(first, first + count):
        fake = item(number, rng, 0)
        found.append(
            {
                "title": fake.title,
                "link": fake.link,
                "type": fake.type_label,
                "date": fake.published.isoformat() if fake.published else None,
                "summary": fake.summary_text,
                "image": {"src": fake.image_url, "alt": fake.image_caption},
            }
        )
    return found


def app_shell(posts: list[dict]) -> bytes:
    """A Next.js-style page: an empty root, the posts in __NEXT_DATA__, a script renders them."""
    escaped = [{k: html.escape(str(v)) for k, v in p.items() if k != "image"} for p in posts]
    data = json.dumps({"props": {"pageProps": {"posts": escaped}}}).replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html><head><title>Topic</title></head><body><div id='__next'></div>"
        f"<script id='__NEXT_DATA__' type='application/json'>{data}</script>"
        f"<script>{RENDER_SCRIPT}</script></body></html>"
    ).encode()


def render_rows(report: Report) -> None:
    server = PageServer()
    server.serve("/topic", app_shell(items_of(0)))
    url = server.url("/topic")
    fetcher = Fetcher(
        IngestConfig(timeout_seconds=10, host_delay_seconds=0), agent=user_agent("http://bench")
    )
    BROWSERS.close()
    wait = "ul.teasers li"
    try:
        cold = timed(lambda: render(fetcher, url, wait_for=wait))
        peak = PeakMemory()
        with peak:
            warm = [timed(lambda: render(fetcher, url, wait_for=wait)) for _ in range(RENDERS)]
        plain = [timed(lambda: fetcher.fetch(url, guard=source_guard(url))) for _ in range(RENDERS)]
    finally:
        fetcher.close()
        server.close()
        BROWSERS.close()
    what = f"app-shell page of {ITEMS} items, rendered (DOM after scripts), median of {RENDERS}"
    report.add(Row("Browser", what, median(warm), "ms", "HTTP fetch of it", median(plain)))
    report.add(Row("Browser", "first render, browser started for it", cold, "ms"))
    report.add(
        Row(
            "Browser",
            "browser processes while rendering: peak PSS (summed over its processes)",
            peak.peak_mb,
            "MB",
            "this Python process RSS",
            rss_mb(os.getpid()),
        )
    )


DELAY_SECONDS = 1.0
DELAY_RENDERS = 3
SCRIPTS = 8
BUSY_PAGE = (
    "<html><body>"
    + "".join(f"<script src='/chunk-{n}.js'></script>" for n in range(SCRIPTS))
    + "<script>Promise.all([fetch('/api/a.json'), fetch('/api/b.json')]).then(function () {"
    " document.body.innerHTML = '<article class=done>done</article>'; });</script></body></html>"
).encode()


class EveryRequestWaits:
    """The policy measured against: each request of a page waits its host's own turn."""

    def __init__(self, hosts: Hosts, visited: object = ()) -> None:
        self.wait_turn = hosts.wait_turn


def delay_rows(report: Report) -> None:
    """A page with ten same-host requests at a one-second host delay: one turn per host per
    render against every request waiting its turn (a render includes its document's turn)."""
    server = PageServer()
    server.serve("/busy", BUSY_PAGE)
    for n in range(SCRIPTS):
        server.serve(f"/chunk-{n}.js", b"window.n = (window.n || 0) + 1;")
    for name in ("a", "b"):
        server.serve(f"/api/{name}.json", b"[]", headers={"Content-Type": "application/json"})
    url = server.url("/busy")
    settings = IngestConfig(timeout_seconds=10, host_delay_seconds=DELAY_SECONDS)
    fetcher = Fetcher(settings, agent=user_agent("http://bench"), hosts=Hosts())
    shared_turns = browser.PageTurns
    times: dict[str, float] = {}
    try:
        render(fetcher, url, wait_for="article.done")  # robots.txt read, browser started
        for name, turns in (("shared", shared_turns), ("each", EveryRequestWaits)):
            browser.PageTurns = turns  # type: ignore[misc, assignment]
            runs = [
                timed(lambda: render(fetcher, url, wait_for="article.done"))
                for _ in range(DELAY_RENDERS)
            ]
            times[name] = median(runs)
    finally:
        browser.PageTurns = shared_turns  # type: ignore[misc]
        fetcher.close()
        server.close()
        BROWSERS.close()
    report.add(
        Row(
            "Browser",
            f"render of a page making {SCRIPTS + 2} requests to its host at host_delay_seconds "
            f"= {DELAY_SECONDS:g}: one turn per host per render, median of {DELAY_RENDERS}",
            times["shared"],
            "ms",
            "every request waiting its turn",
            times["each"],
        )
    )


class PeakMemory:
    """Samples the browser's processes every 50 ms in a thread; keeps the largest sum."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, sum(pss_mb(pid) for pid in BROWSERS.pids()))


def pss_mb(pid: int) -> float:
    """Proportional set size of a process in MB (shared pages split among their users)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # the process ended between listing and reading
        return 0.0
    found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def json_rows(report: Report, folder: Path) -> None:
    """Ingest of 100 new items: a kind = "json" source against the institute's HTML."""
    server = PageServer()
    times = {}
    for kind in ("html", "json"):
        config = _config(folder / kind, server.url(f"/{kind}"), kind)
        store = Store(config.service.database)
        store.create_schema()
        fetcher = make_fetcher(config)
        runs = []
        for n in range(INGEST_RUNS + 1):
            first = ITEMS * n
            if kind == "html":
                server.serve("/html", listing_page(first, ITEMS))
            else:
                body = json.dumps(items_of(first)).encode()
                server.serve("/json", body, headers={"Content-Type": "application/json"})
            runs.append(timed(lambda c=config, s=store, f=fetcher: run_cycle(s, f, c, targets(c))))
        fetcher.close()
        store.close()
        times[kind] = median(runs[1:])  # the first run also creates the feeds
    server.close()
    report.at_most(
        "JSON",
        f'ingest of {ITEMS} new items from a kind = "json" document, median of {INGEST_RUNS}',
        times["json"],
        "ms",
        ("the same items in HTML", times["html"]),
        1.2,
    )


def _config(folder: Path, url: str, kind: str) -> Config:
    folder.mkdir(parents=True)
    if kind == "html":
        source = 'preset = "rand-topic"'
    else:
        source = (
            'kind = "json"\n  [topics.sources.selectors]\n  item = "@"\n  title = "title"\n'
            '  link = "link"\n  date = "date"\n  type = "type"\n  summary = "summary"\n'
            '  image = "image.src"'
        )
    path = folder / "config.toml"
    path.write_text(
        f'[service]\ndatabase = "sqlite:///var/feedsvc.sqlite3"\nbase_url = "http://bench"\n'
        f"[ingest]\n{FAST_INGEST}max_incomplete_ratio = 1\n"
        f'[[topics]]\nslug = "bench-{kind}"\ntitle = "Bench"\n\n  [[topics.sources]]\n'
        f'  url = "{url}"\n  robots = false\n  {source}\n',
        encoding="utf-8",
    )
    return load(path)
