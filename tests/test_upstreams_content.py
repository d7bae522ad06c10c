"""Hostile content, read safely and bounded (docs/operations.md, "Hostile upstreams"): XML
entity bombs and external entities in a site feed, JSON-LD nested 100,000 deep on an item
page, and markup in titles and errors shown on the index, topic and status pages.
Each keeps what was stored before."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import upstreams
from conftest import FIXTURES, TOPIC_PATH, PageServer, Reply, page, write_config

from feedsvc.config import Config, load
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.source import SourceReport
from feedsvc.jobs.cycle import prepare, run_cycle, targets
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from feedsvc.web import create_app

TOPIC = FeedKey(topic="security-cooperation")
ATOM = {"Content-Type": "application/atom+xml; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}
SCRIPT = "<script>alert(1)</script>"


def ingest(config: Config, store: Store) -> SourceReport:
    fetcher = make_fetcher(config)
    try:
        [report] = run_cycle(store, fetcher, config, targets(config))
    finally:
        fetcher.close()
    return report


def feed_source(tmp_path: Path, url: str) -> tuple[Config, Store]:
    """A `kind = "feed"` source that has stored the articles-1 Atom feed already."""
    path = write_config(tmp_path, url)
    path.write_text(path.read_text().replace('preset = "rand-topic"', 'kind = "feed"'))
    config = load(path)
    prepare(config)
    return config, Store(config.service.database)


def stored(store: Store) -> dict[str, tuple]:
    """Every item of the topic by guid, with the fields a reader sees."""
    return {
        i.guid: (i.title, i.link, i.published, i.summary_html) for i in store.entries(TOPIC, 500)
    }


@pytest.mark.parametrize("bomb", ["entity expansion", "external entities"])
def test_a_hostile_site_feed_is_read_safely_and_keeps_what_was_stored(
    tmp_path: Path, server: PageServer, bomb: str
) -> None:
    trap = PageServer()  # an external entity's URL points here: it must hear nothing
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-MARKER")
    server.serve("/feed.xml", (FIXTURES / "feeds" / "articles-1.atom").read_bytes(), headers=ATOM)
    config, store = feed_source(tmp_path, server.url("/feed.xml"))
    assert ingest(config, store).ok
    before = stored(store)
    body = (
        upstreams.entity_bomb()
        if bomb == "entity expansion"
        else upstreams.external_entities(f"file://{secret}", trap.url("/secret"))
    )
    server.serve("/feed.xml", body, headers=RSS)

    started = time.monotonic()
    report = ingest(config, store)

    assert time.monotonic() - started < 5
    after = stored(store)
    assert {guid: after[guid] for guid in before} == before  # nothing stored was lost
    text = repr(after)
    assert "SECRET-MARKER" not in text and "lollollol" not in text
    assert max(len(title) for title, *_ in after.values()) < 200
    assert trap.requests == [] and trap.robots_requests == []
    if bomb == "entity expansion":  # expat refuses the entity; one empty entry is left
        assert report.error.startswith("extract: only 1 items on the page, fewer than 60% ")
    else:  # the references stay text: nothing is read from the file or the URL
        assert (report.outcome, report.new) == ("fetched", 2)
        assert {"Title &x0; end", "Title &x1; end"} <= {title for title, *_ in after.values()}
    trap.close()
    store.close()


def test_json_ld_nested_100000_deep_is_skipped_and_the_item_kept(
    tmp_path: Path, server: PageServer
) -> None:
    listing = b"""<ul><li class="result"><h3><a href="/deep.html">Deep</a></h3>
    <p class="summary">From the listing.</p></li></ul>"""
    deep = "[" * 100_000 + "]" * 100_000
    item_page = (
        '<html><head><meta property="og:description" content="From the page.">'
        f'<script type="application/ld+json">{deep}</script></head><body></body></html>'
    ).encode()
    server.serve("/listing.html", listing)
    server.serve("/deep.html", item_page)
    path = write_config(tmp_path, server.url("/listing.html"))
    source = """enrich = true
  [topics.sources.selectors]
  item = "li.result"
  title = "h3"
  link = "h3 a"
  summary = ".summary\""""
    path.write_text(path.read_text().replace('preset = "rand-topic"', source))
    config = load(path)
    prepare(config)
    store = Store(config.service.database)

    report = ingest(config, store)

    assert report.ok and report.new == 1, report.error
    assert "/deep.html" in [p for p, _ in server.requests]
    [item] = store.entries(TOPIC, 5)
    assert (item.title, item.summary_text) == ("Deep", "From the listing.")
    assert not store.due_tasks("enrich", [item.guid], 3)  # done: the page was read
    store.close()


def test_markup_in_a_title_and_an_error_is_escaped_on_every_page(
    tmp_path: Path, server: PageServer
) -> None:
    escaped = SCRIPT.replace("<", "&lt;").replace(">", "&gt;").encode()
    body = page("rand-2015.html").replace(b"Salvaging Iraq", escaped, 1)
    server.serve(TOPIC_PATH, body)
    config = load(write_config(tmp_path, server.url(TOPIC_PATH)))
    prepare(config)
    store = Store(config.service.database)
    assert ingest(config, store).ok
    assert any(SCRIPT in i.title for i in store.entries(TOPIC, 50))
    server.routes[TOPIC_PATH] = Reply(b"x", 200, {"Content-Type": f"text/{SCRIPT}"})
    assert SCRIPT in ingest(config, store).error  # shown on /status as the last error

    client = create_app(config).test_client()
    for path in ("/", f"/{TOPIC.path}/", "/status"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"<script" not in response.data.lower(), path
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.data, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy, path
    store.close()
