"""What an item becomes after it joined: a main text fetched later, or an edit on the page,
reaches the filtered feeds and the search index through the write path, on both databases,
read back by feedparser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from conftest import FIXTURES, PageServer, write_config
from test_fulltext import SOURCE, serve_site

from feedsvc.config import load
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.backfill import backfill
from feedsvc.jobs.cycle import prepare
from feedsvc.store import Store
from feedsvc.web import create_app
from tests.support.custom import PAGES, cycle, two_topics

pytestmark = pytest.mark.both_databases

ODESA = """
[[custom_feeds]]
slug = "odesa"
title = "Odesa, in the text"
include = ["Odesa"]
"""
UKRAINE = """
[[custom_feeds]]
slug = "ukraine"
title = "Ukraine"
include = ["Ukraine", "Kyiv"]
exclude = ["podcast"]
"""
GRIDS = "/research/2024/baltic-grids.html"  # an item of the europe page
ARTICLE = (FIXTURES / "fulltext" / "article.html").read_bytes()  # an institute's article page
SURVEY = b"Our survey of forty-one ports"


def site(tmp_path: Path, server: PageServer, database_url: str, feeds: str, full: bool) -> Path:
    """The two topics with `feeds`; with `full`, each item's main text is fetched."""
    path = two_topics(tmp_path, server, database=database_url)
    text = path.read_text()
    if full:
        text = text.replace(
            "[topics.sources.selectors]",
            'content = "full"\n  enrich_per_run = 10\n  [topics.sources.selectors]',
        )
    path.write_text(text + feeds)
    prepare(load(path))
    return path


def feed_titles(path: Path, url: str) -> list[str]:
    answer = create_app(load(path)).test_client().get(url)
    assert answer.status_code == 200, answer.text
    if url.endswith(".json"):
        return [item["title"] for item in json.loads(answer.data)["items"]]
    parsed = feedparser.parse(answer.data)
    assert not parsed.bozo, parsed.bozo_exception
    return [entry.title for entry in parsed.entries]


def found(path: Path, query: str) -> list[str]:
    return feed_titles(path, f"/search/feed.atom?q={query}")


def test_a_late_main_text_joins_a_filtered_feed_and_an_edit_fetches_it_again(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    path = site(tmp_path, server, database_url, ODESA, full=True)
    cycle(load(path))  # the item's page is not there yet: it keeps its summary, its text is due
    assert feed_titles(path, "/feeds/odesa/feed.atom") == []
    assert found(path, "odesa") == []

    server.serve(GRIDS, ARTICLE.replace(SURVEY, SURVEY + b" from Odesa to Gdansk"))
    cycle(load(path))
    assert feed_titles(path, "/feeds/odesa/feed.atom") == ["Baltic Grids"]
    assert feed_titles(path, "/feeds/odesa/feed.rss") == ["Baltic Grids"]
    assert feed_titles(path, "/feeds/odesa/archive/1.json") == ["Baltic Grids"]
    assert found(path, "odesa") == ["Baltic Grids"]
    assert found(path, '"odesa to gdansk"') == ["Baltic Grids"]
    parsed = feedparser.parse(
        create_app(load(path)).test_client().get("/feeds/odesa/feed.atom").data
    )
    assert "from Odesa to Gdansk" in parsed.entries[0].content[0].value
    assert parsed.entries[0].summary == "Synchronising with the continent."

    # Edited on the listing, and its page no longer names the city: the edit makes the text
    # due again, and the new text takes the item out of the feed and out of the index.
    europe = (PAGES / "europe.html").read_bytes()
    server.serve(
        "/europe.html", europe.replace(b"with the continent.", b"with the continent, at last.")
    )
    server.serve(GRIDS, ARTICLE.replace(SURVEY, SURVEY + b" from Tallinn to Gdansk"))
    cycle(load(path))  # the edit is stored; the text it had stays until the new one is read
    assert found(path, '"at last"') == ["Baltic Grids"]
    cycle(load(path))
    assert feed_titles(path, "/feeds/odesa/feed.atom") == []
    gone = create_app(load(path)).test_client().get("/feeds/odesa/archive/1.json")
    assert gone.status_code == 404  # an empty feed has no archive page
    assert found(path, "odesa") == []
    assert found(path, "tallinn") == ["Baltic Grids"]
    topic = feedparser.parse(
        create_app(load(path)).test_client().get("/topics/europe/feed.atom").data
    )
    grids = next(entry for entry in topic.entries if entry.title == "Baltic Grids")
    assert "from Tallinn to Gdansk" in grids.content[0].value


def test_an_edit_that_no_longer_matches_leaves_the_filtered_feed(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    path = site(tmp_path, server, database_url, UKRAINE, full=False)
    cycle(load(path))
    before = ["Air Defence for Ukraine", "A Long Winter in Kyiv", "Ukraine Aid Tracker"]
    assert feed_titles(path, "/feeds/ukraine/feed.atom") == before

    page = (PAGES / "security.html").read_text()
    edits = {
        # the include no longer matches: the title was its only "Ukraine"
        ">Ukraine Aid Tracker<": ">Aid Tracker<",
        # the exclude now matches
        "kept its power on, mostly.": "kept its power on, mostly. A podcast episode.",
        # and an item that matches now joins
        "Whether and when a vote can be held.": "Whether Ukraine can hold a vote.",
    }
    for old, new in edits.items():
        assert old in page
        page = page.replace(old, new)
    server.serve("/security.html", page.encode())
    cycle(load(path))

    after = ["Air Defence for Ukraine", "Ukrainian Elections in Wartime"]
    for fmt in ("atom", "rss", "json"):
        assert feed_titles(path, f"/feeds/ukraine/feed.{fmt}") == after
    assert sorted(feed_titles(path, "/feeds/ukraine/archive/1.json")) == sorted(after)
    # The search index holds what the page says now.
    assert found(path, "tracker") == ["Aid Tracker"]
    assert found(path, "ukraine tracker") == []
    assert found(path, "kyiv podcast") == ["A Long Winter in Kyiv"]
    assert found(path, "ukraine vote") == ["Ukrainian Elections in Wartime"]


def test_a_backfilled_items_text_from_the_backlog_joins_a_filtered_feed(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    serve_site(server)  # the research listing and its item pages (test_fulltext)
    listing = (FIXTURES / "fulltext" / "listing.html").read_text()
    first, _, rest = listing.partition('<li class="result">\n    <h3><a href="/blog')
    older = "<a class='older' href='/older.html'>Older</a>"
    server.serve("/listing.html", (first + "</ul>" + older).encode())
    server.serve(
        "/older.html",
        (first.split("<ul")[0] + '<ul><li class="result">\n    <h3><a href="/blog' + rest).encode(),
    )
    path = write_config(tmp_path, server.url("/listing.html"), database=database_url)
    source = SOURCE.replace("enrich_per_run = 3", "enrich_per_run = 2")
    feeds = (
        '[[custom_feeds]]\nslug = "households"\ntitle = "Households"\ninclude = ["households"]\n'
    )
    path.write_text(path.read_text().replace('preset = "rand-topic"', source) + feeds)
    config = load(path)
    prepare(config)
    cycle(load(path))
    store = Store(config.service.database)
    fetcher = make_fetcher(config)
    try:
        backfill(store, fetcher, config, "security-cooperation", config.topics[0].sources[0])
    finally:
        fetcher.close()
        store.close()
    assert found(path, "households") == []  # the listing does not say it; the page does

    cycle(
        load(path)
    )  # the backlog's newest two pages: the winter-grid post's text names households
    winter = "Keeping the Lights On in a Hard Winter"
    assert feed_titles(path, "/feeds/households/archive/1.json") == [winter]
    assert feed_titles(path, "/feeds/households/feed.atom") == []  # history: archives only
    assert found(path, "households") == [winter]


def test_a_hidden_item_edited_on_the_page_is_found_by_its_new_words_once_shown(
    tmp_path: Path, server: PageServer, database_url: str
) -> None:
    """Hidden, it is in no feed, but the index still follows its edits: shown again, a search
    finds what the page says now, not what it said when it was hidden."""
    path = site(tmp_path, server, database_url, UKRAINE, full=False)
    cycle(load(path))
    link = server.url("/tools/ukraine-aid-tracker.html")
    store = Store(load(path).service.database)
    try:
        assert store.set_hidden([link], True, datetime.now(UTC), 50, "hide")[0] == [link]
        page = (PAGES / "security.html").read_text()
        server.serve(
            "/security.html", page.replace("Every pledge, by donor.", "By lender.").encode()
        )
        cycle(load(path))
        assert found(path, "lender") == []  # hidden: never found
        assert store.set_hidden([link], False, datetime.now(UTC), 50, "unhide")[0] == [link]
    finally:
        store.close()
    cycle(load(path))
    assert found(path, "lender") == ["Ukraine Aid Tracker"]
    assert found(path, "pledge") == []
