"""Search feeds: /search/feed.{rss,atom,json}?q= and /search?q=, answered by one indexed query
(SQLite FTS5, PostgreSQL tsvector), on both databases, read back by feedparser."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import feedparser
import pytest
from conftest import PageServer
from flask.testing import FlaskClient

from feedsvc.config import Config, load
from feedsvc.jobs.cycle import prepare
from feedsvc.query import MAX_QUERY_CHARS, parse_query
from feedsvc.store.reads import SEARCH_CACHE_KIB, Reader
from feedsvc.web import create_app
from tests.support.custom import PAGES, cycle, two_topics

pytestmark = pytest.mark.both_databases

ODESA = (
    '<ul class="results">\n  <li class="result"><p class="type">Commentary</p>'
    '<h3><a href="/commentary/2024/03/odesa.html">Odesa Rebuilds</a></h3>'
    '<p class="date">Mar 10, 2024</p><p class="summary">Ukraine\'s port city, a year on.</p></li>'
)


@pytest.fixture
def site(tmp_path: Path, server: PageServer, database_url: str) -> Config:
    path = two_topics(tmp_path, server, database=database_url)
    config = load(path)
    prepare(config)
    cycle(config)
    return config


def titles(client: FlaskClient, query: str, fmt: str = "atom") -> list[str]:
    answer = client.get(f"/search/feed.{fmt}", query_string={"q": query})
    assert answer.status_code == 200, answer.text
    if fmt == "json":
        return [item["title"] for item in json.loads(answer.data)["items"]]
    parsed = feedparser.parse(answer.data)
    assert not parsed.bozo, parsed.bozo_exception
    return [entry.title for entry in parsed.entries]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "ukraine",
            ["Air Defence for Ukraine", "Ukraine Weekly, Episode 12", "Ukraine Aid Tracker"],
        ),
        ("UKRAINE air", ["Air Defence for Ukraine"]),  # words ANDed, any case
        ("ukraine -podcast", ["Air Defence for Ukraine", "Ukraine Aid Tracker"]),
        ("ukraine type:report", ["Air Defence for Ukraine", "Ukraine Weekly, Episode 12"]),
        ('"grain corridor"', ["Black Sea Ports Under Pressure"]),
        ('"corridor grain"', []),  # a phrase keeps its order
        ("zelensky topic:europe", ["A Visit to Brussels"]),
        ("zelensky topic:security-cooperation", []),
        ("duarte", ["A Visit to Brussels"]),  # the author
        (
            "ukrain*",
            [
                "Air Defence for Ukraine",
                "Ukraine Weekly, Episode 12",
                "Ukraine Aid Tracker",
                "Ukrainian Elections in Wartime",
            ],
        ),
    ],
)
def test_the_query_language(site: Config, query: str, expected: list[str]) -> None:
    client = create_app(site).test_client()
    for fmt in ("rss", "atom", "json"):
        assert titles(client, query, fmt) == expected


def test_validators_limit_the_page_and_a_publish_that_changes_the_answer(
    site: Config, server: PageServer
) -> None:
    client = create_app(site).test_client()
    first = client.get("/search/feed.rss", query_string={"q": "ukraine"})
    again = client.get(
        "/search/feed.rss",
        query_string={"q": "ukraine"},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304 and again.data == b""
    assert first.headers["Last-Modified"]
    # The gzip copy, made by the first request that takes it: the same document, its own ETag.
    packed = client.get(
        "/search/feed.rss", query_string={"q": "ukraine"}, headers={"Accept-Encoding": "gzip"}
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == first.data
    assert packed.headers["ETag"] == first.headers["ETag"][:-1] + '-gz"'
    revalidated = client.get(
        "/search/feed.rss",
        query_string={"q": "ukraine"},
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert revalidated.status_code == 304 and revalidated.data == b""
    limited = client.get("/search/feed.json", query_string={"q": "ukraine", "limit": "1"})
    assert len(json.loads(limited.data)["items"]) == 1
    assert (
        client.get("/search/feed.json", query_string={"q": "ukraine", "limit": "0"}).status_code
        == 400
    )

    page = client.get("/search", query_string={"q": 'ukraine "air defence"'})
    assert page.status_code == 200
    assert "Air Defence for Ukraine" in page.text
    assert "http://feeds.test/search/feed.atom?q=ukraine+%22air+defence%22" in page.text

    europe = (PAGES / "europe.html").read_text().replace('<ul class="results">', ODESA)
    server.serve("/europe.html", europe.encode())
    cycle(site)
    assert titles(client, "ukraine")[0] == "Odesa Rebuilds"  # the next publish is seen at once
    changed = client.get(
        "/search/feed.rss",
        query_string={"q": "ukraine"},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert changed.status_code == 200


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "at least one word"),
        ("-podcast", "at least one word"),
        ('"grain corridor', "quote is not closed"),
        ("x" * (MAX_QUERY_CHARS + 1), "longer than"),
        (" ".join(f"w{n}" for n in range(9)), "more than 8"),
        ("ab*", "needs 3 letters"),
        ("abc* def* ghi*", "at most 2 words"),
        ("a*b", "may only end a word"),
        ("author:duarte", "unknown filter"),
        ("type:Not_A_Slug x", "needs a slug"),
        ("&&", "no letters or digits"),
    ],
)
def test_a_malformed_query_is_a_400_that_says_why(site: Config, query: str, reason: str) -> None:
    client = create_app(site).test_client()
    answer = client.get("/search/feed.atom", query_string={"q": query})
    assert answer.status_code == 400
    assert reason in answer.text
    if query:
        page = client.get("/search", query_string={"q": query})
        assert page.status_code == 400 and reason in page.text


def test_searches_keep_their_own_page_cache_and_feed_reads_keep_sqlites(site: Config) -> None:
    reader = Reader(site.service.database)
    try:
        found = reader.search(parse_query("ukraine"), 10)
        assert [item.title for item in found][:1] == ["Air Defence for Ukraine"]
        search, feeds = reader.connection("search"), reader.connection()
        if reader.dialect == "postgresql":
            assert search is feeds  # the server's shared buffers are the cache
            return
        assert search is not feeds
        assert search.execute("PRAGMA cache_size").fetchone() == (-SEARCH_CACHE_KIB,)
        default = sqlite3.connect(":memory:").execute("PRAGMA cache_size").fetchone()
        assert feeds.execute("PRAGMA cache_size").fetchone() == default != (-SEARCH_CACHE_KIB,)
    finally:
        reader.close()
