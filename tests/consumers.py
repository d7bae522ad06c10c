"""The site the consumer matrix reads: a real store filled from fixture captures, served over HTTP.

One store per test module: the 2015 and 2024 captures of the RAND topic page and a
Drupal-style page with bylines are ingested for real (fetch over HTTP from a PageServer
on 127.0.0.1, with each image answering the HEAD probe), and the real Flask app serves
the feeds on 127.0.0.1 to rss2email, newsboat, sfeed and feedparser.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from conftest import PageServer, Reply, page
from werkzeug.serving import make_server

from feedsvc.config import Config, load
from feedsvc.extract.listing import extract
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.probe import MAX_ATTEMPTS
from feedsvc.ingest.source import SourceReport
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.model import StoredItem
from feedsvc.store import Store
from feedsvc.web import create_app

RAND_PATH = "/topics/security-cooperation.html"
BYLINE_PATH = "/news/"
SERVICE_TITLE = "Feeds & Digests"  # an ampersand in every channel author and mail From
RAND_AUTHOR = "RAND Security Cooperation desk"
# The feeds every consumer reads: the topic feed, a type feed across both topics, a topic and
# type feed, the weekly digest, and a topic whose page gives bylines. Paths without `.<fmt>`.
FEEDS = {
    "topic": "topics/security-cooperation/feed",
    "type": "types/report/feed",
    "topic-type": "topics/security-cooperation/types/commentary/feed",
    "digest": "topics/security-cooperation/digest/weekly",
    "bylines": "topics/arctic/feed",
}
XML_FORMATS = ("rss", "atom")


def skip_reason(*binaries: str) -> str | None:
    """Why a consumer test cannot run here, or None: `make consumers` installs them as root."""
    missing = [name for name in binaries if shutil.which(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed (make consumers installs Debian's packages)"
    return None


def config_text(site: str, port: int) -> str:
    """Two topics: the RAND topic page with its preset, and a page with bylines."""
    return f"""
[service]
database = "sqlite:///var/feedsvc.sqlite3"
base_url = "http://127.0.0.1:{port}"
title = "{SERVICE_TITLE}"

[ingest]
host_delay_seconds = 0
backoff_seconds = 0.01
image_probes_per_run = 100

[[topics]]
slug = "security-cooperation"
title = "Security Cooperation"
author = "{RAND_AUTHOR}"
  [[topics.sources]]
  url = "{site}{RAND_PATH}"
  preset = "rand-topic"

[[topics]]
slug = "arctic"
title = "Arctic"
  [[topics.sources]]
  url = "{site}{BYLINE_PATH}"
  timezone = "Europe/Berlin"
  [topics.sources.selectors]
  item = "article.teaser"
  title = "h2"
  link = "h2 a"
  type = ".kind"
  date = "time"
  summary = ".teaser-text"
  image = "img"
  author = ".byline"
  [[topics.sources.type_rules]]
  path_prefix = "/reports/"
  type = "report"
"""


@dataclass(frozen=True)
class Expected:
    """One entry as every consumer must show it."""

    guid: str
    title: str
    link: str
    published: datetime
    summary: str  # the entry's summary as plain text
    texts: tuple[str, ...]  # plain text its body must hold: the summary (a digest: each item's)
    image_url: str | None
    image_length: int | None
    image_type: str | None
    author: str
    labels: tuple[str, ...]  # its categories as readers show them: type, then topics
    terms: tuple[str, ...]  # the same categories' slugs


@dataclass
class Site:
    """The filled store, the page server and the app serving the feeds on 127.0.0.1."""

    pages: PageServer
    config: Config
    store: Store
    base: str
    folder: Path
    reingests: int = 0

    def url(self, name: str, fmt: str) -> str:
        return f"{self.base}/{FEEDS[name]}.{fmt}"

    def expected(self, name: str) -> list[Expected]:
        """The entries of a feed, newest first, from the store (a digest: from its weeks)."""
        if name == "digest":
            return self._digest_weeks()
        key = FeedKey.from_path(FEEDS[name].removesuffix("/feed"))
        return [self._entry(item) for item in self.store.entries(key, 50)]

    def _entry(self, item: StoredItem) -> Expected:
        author = item.author or (RAND_AUTHOR if "security-cooperation" in item.topics else None)
        titles = {topic.slug: topic.title for topic in self.config.topics}
        return Expected(
            guid=item.guid,
            title=item.title,
            link=item.link,
            published=item.published,
            summary=item.summary_text,
            texts=(item.summary_text,),
            image_url=item.image_url,
            image_length=item.image_length,
            image_type=item.image_type,
            author=author or SERVICE_TITLE,
            labels=(item.type_label, *(titles[slug] for slug in item.topics)),
            terms=(item.type_slug, *item.topics),
        )

    def _digest_weeks(self) -> list[Expected]:
        """Each closed week of the RAND topic with items, as the digest must show it."""
        items = self.store.entries(FeedKey(topic="security-cooperation"), 1000)
        weeks: dict[datetime, list[StoredItem]] = {}
        zone = self.config.topics[0].sources[0].timezone
        for item in items:
            local = item.published.astimezone(zone)
            monday = (local - timedelta(days=local.weekday())).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            weeks.setdefault(monday, []).append(item)
        found = []
        for monday, members in sorted(weeks.items(), reverse=True)[:50]:
            pictured = next((item for item in members if item.image_url), None)
            count = f"{len(members)} item" + ("s" if len(members) != 1 else "")
            found.append(
                Expected(
                    guid=f"{self.base}/{FEEDS['digest']}/{monday:%G-W%V}",
                    title=f"Security Cooperation: week of {monday.day} {monday:%B %Y} ({count})",
                    link=self.config.topics[0].sources[0].url,
                    published=(monday + timedelta(days=7)).replace(tzinfo=zone),
                    summary=f"{count}: " + "; ".join(item.title for item in members),
                    texts=tuple(item.summary_text for item in members),
                    image_url=pictured.image_url if pictured else None,
                    image_length=pictured.image_length if pictured else None,
                    image_type=pictured.image_type if pictured else None,
                    author=RAND_AUTHOR,
                    labels=("Weekly digest", "Security Cooperation"),
                    terms=("weekly-digest", "security-cooperation"),
                )
            )
        return found

    def reingest(self) -> list[SourceReport]:
        """Ingest both pages again with the same items (other bytes, so they are read again)."""
        self.reingests += 1
        serve_pages(self.pages, f"<!-- read again: {self.reingests} -->")
        return run_ingest(self.store, self.config)


def serve_pages(pages: PageServer, trailer: str = "", capture: str = "rand-2024.html") -> None:
    """Serve the RAND capture and the byline page; images of other hosts are moved to ours."""
    byline = page("other-site.html").replace(b"//cdn.example.org/", b"/cdn.example.org/")
    pages.serve(RAND_PATH, page(capture) + trailer.encode())
    pages.serve(BYLINE_PATH, byline + trailer.encode())


def serve_images(pages: PageServer, config: Config) -> None:
    """Every image the served pages show answers GET and HEAD with a size of its own and a type."""
    for source in (s for t in config.topics for s in t.sources):
        reply = pages.routes[urlsplit(source.url).path]
        assert isinstance(reply, Reply)
        for raw in extract(reply.body, source.selectors):
            if raw.image_src:
                path = urlsplit(urljoin(source.url, raw.image_src)).path
                size = 2_000 + 37 * len(pages.routes)
                kind = "image/png" if path.endswith(".png") else "image/jpeg"
                pages.serve(path, b"\xff" * size, headers={"Content-Type": kind})


def run_ingest(store: Store, config: Config) -> list[SourceReport]:
    fetcher = make_fetcher(config)
    try:
        return run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()


@contextmanager
def serving_app(config: Config, port: int) -> Iterator[None]:
    """The real Flask app on 127.0.0.1 in a thread (werkzeug's threaded server)."""
    server = make_server("127.0.0.1", port, create_app(config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def build_site(folder: Path, port: int) -> Iterator[Site]:
    """Fill a store from the 2015 capture, then the 2024 one, and serve its feeds."""
    pages = PageServer()
    try:
        path = folder / "config.toml"
        path.write_text(config_text(pages.base, port), encoding="utf-8")
        config = load(path)
        prepare(config)
        store = Store(config.service.database)
        try:
            for capture in ("rand-2015.html", "rand-2024.html"):
                serve_pages(pages, capture=capture)
                serve_images(pages, config)
                reports = run_ingest(store, config)
                assert all(report.ok for report in reports), reports
            assert not store.pending_image_probes(100, MAX_ATTEMPTS), "every image was probed"
            with serving_app(config, port):
                yield Site(pages, config, store, f"http://127.0.0.1:{port}", folder)
        finally:
            store.close()
    finally:
        pages.close()


def plain(text: str) -> str:
    """Text with white space collapsed, for comparing."""
    return " ".join(text.split())


def markdown_text(body: str) -> str:
    """What a person reads in html2text's Markdown (rss2email's plain-text mail): the words."""
    body = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", body)  # links and images: their text
    body = re.sub(r"(?<!\w)(\*\*|\*|__|_)(\S(?:.*?\S)?)\1(?!\w)", r"\2", body)  # emphasis
    return plain(re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", body))  # escapes


def newsboat_items(folder: Path, url: str) -> list[dict]:
    """`newsboat -x reload` of one feed into its own cache (newsboat keys items by guid across
    feeds, #898), then the cache's rows."""
    folder.mkdir(exist_ok=True)
    (folder / "urls").write_text(url + "\n")
    (folder / "config").write_text("")
    subprocess.run(
        ["newsboat", "-x", "reload", "-u", "urls", "-c", "cache.db", "-C", "config"],
        cwd=folder,
        env={**os.environ, "HOME": str(folder)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    with sqlite3.connect(folder / "cache.db") as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM rss_item ORDER BY id")]
        db.execute("UPDATE rss_feed SET etag = '', lastmodified = 0")  # next reload: in full
    return rows


SFEED_FIELDS = (
    "timestamp",
    "title",
    "link",
    "content",
    "content_type",
    "id",
    "author",
    "enclosure",
    "category",
)


def sfeed_rows(body: bytes) -> list[dict[str, str]]:
    """sfeed's TSV lines for a feed, as dicts (its content field escapes \\n, \\t and \\\\)."""
    out = subprocess.run(["sfeed"], input=body, capture_output=True, check=True, timeout=30)
    return [
        dict(zip(SFEED_FIELDS, line.split("\t"), strict=False))
        for line in out.stdout.decode().splitlines()
    ]
